import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import { PRIVATE_COLLECTIONS, type Store, type StoreEntry } from './store.js';
import { LocalLocks } from './local-locks.js';

type Data = Record<string, Record<string, unknown>>;

const WRITES = 'store.json';

/**
 * The embedded default: one JSON file in the data directory, written atomically by lowdb. Each call
 * re-reads the file first so that a REPL and a `wxops run` sharing the directory see each other's writes;
 * writes from this process are serialised so that two read-modify-writes never interleave.
 */
export class LowdbStore implements Store {
  readonly kind = 'embedded' as const;
  private readonly db: Low<Data>;
  private readonly locks = new LocalLocks();

  constructor(readonly dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    // Compact JSON: an approval holding a 20,000-step restore plan makes the file megabytes, and every
    // call re-reads it; lowdb's indented JSONFile doubled its size and the time of each read and write.
    this.db = new Low<Data>(new DataFile<Data>(join(dataDir, 'store.json'), { parse: JSON.parse, stringify: JSON.stringify }), {});
  }

  private async fresh(): Promise<Data> {
    await this.db.read();
    return this.db.data;
  }

  private write<T>(fn: (data: Data) => T): Promise<T> {
    return this.locks.run(WRITES, async () => {
      const data = await this.fresh();
      const out = fn(data);
      await this.db.write();
      return out;
    });
  }

  async get<T>(collection: string, id: string): Promise<T | undefined> {
    return (await this.fresh())[collection]?.[id] as T | undefined;
  }

  put<T>(collection: string, id: string, value: T): Promise<void> {
    return this.write((data) => {
      (data[collection] ??= {})[id] = value;
    });
  }

  delete(collection: string, id: string): Promise<boolean> {
    return this.write((data) => {
      if (!data[collection] || !(id in data[collection])) return false;
      delete data[collection][id];
      return true;
    });
  }

  async list<T>(collection: string): Promise<T[]> {
    return Object.values((await this.fresh())[collection] ?? {}) as T[];
  }

  update<T>(collection: string, id: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    return this.write((data) => {
      const next = fn(data[collection]?.[id] as T | undefined);
      if (next === undefined) delete data[collection]?.[id];
      else (data[collection] ??= {})[id] = next;
      return next;
    });
  }

  create<T>(collection: string, id: string, value: T): Promise<boolean> {
    return this.write((data) => {
      const c = (data[collection] ??= {});
      if (id in c) return false;
      c[id] = value;
      return true;
    });
  }

  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(`lock:${name}`, fn);
  }

  async tryExclusive<T>(name: string, fn: (lost: AbortSignal) => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.locks.held(`lock:${name}`)) return { ran: false };
    // One process: the lock cannot be lost while it runs.
    return { ran: true, value: await this.locks.run(`lock:${name}`, () => fn(new AbortController().signal)) };
  }

  async *entries(): AsyncIterable<StoreEntry> {
    for (const [collection, items] of Object.entries(await this.fresh())) {
      if (PRIVATE_COLLECTIONS.has(collection) || !items || typeof items !== 'object') continue;
      for (const [id, value] of Object.entries(items)) yield { collection, id, value };
    }
  }

  /** Stores all of `entries` in one write (`wxops db export` into an empty directory); how many. */
  load(entries: AsyncIterable<StoreEntry>): Promise<number> {
    return this.locks.run(WRITES, async () => {
      const data = await this.fresh();
      let n = 0;
      for await (const e of entries) {
        (data[e.collection] ??= {})[e.id] = e.value;
        n++;
      }
      await this.db.write();
      return n;
    });
  }

  async close(): Promise<void> {}
}
