import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import type { Store } from './store.js';

type Data = Record<string, Record<string, unknown>>;

/**
 * The embedded default: one JSON file in the data directory, written atomically by lowdb. Each call
 * re-reads the file first so that a REPL and a `wxops run` sharing the directory see each other's writes.
 */
export class LowdbStore implements Store {
  private readonly db: Low<Data>;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Low<Data>(new JSONFile<Data>(join(dataDir, 'store.json')), {});
  }

  private async fresh(): Promise<Data> {
    await this.db.read();
    return this.db.data;
  }

  async get<T>(collection: string, id: string): Promise<T | undefined> {
    return (await this.fresh())[collection]?.[id] as T | undefined;
  }

  async put<T>(collection: string, id: string, value: T): Promise<void> {
    const data = await this.fresh();
    (data[collection] ??= {})[id] = value;
    await this.db.write();
  }

  async delete(collection: string, id: string): Promise<boolean> {
    const data = await this.fresh();
    if (!data[collection] || !(id in data[collection])) return false;
    delete data[collection][id];
    await this.db.write();
    return true;
  }

  async list<T>(collection: string): Promise<T[]> {
    return Object.values((await this.fresh())[collection] ?? {}) as T[];
  }

  async close(): Promise<void> {}
}
