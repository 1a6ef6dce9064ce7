import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { LowdbStore } from '../src/store/lowdb-store.js';
import { PostgresStore } from '../src/store/postgres-store.js';
import { MIGRATIONS, migrate } from '../src/store/migrations.js';
import type { Store } from '../src/store/store.js';
import { BACKENDS, openPostgresStore, testDatabase, type Backend } from './support/postgres.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function openStore(backend: Backend): Promise<{ store: Store; another(): Promise<Store> }> {
  if (backend === 'embedded') {
    const dir = mkdtempSync(join(tmpdir(), 'wxops-store-'));
    const store = new LowdbStore(dir);
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    return { store, another: async () => store };
  }
  const url = await testDatabase();
  const make = () => openPostgresStore(url, cleanups);
  // "another" is a second instance: its own pool, as a second `wxops serve` process would have.
  return { store: await make(), another: make };
}

describe.each(BACKENDS)('store on %s', (backend) => {
  it('keeps, lists and deletes entries by collection', async () => {
    const { store } = await openStore(backend);
    await store.put('rules', 'a', { keyword: '发票', n: 1 });
    await store.put('rules', 'b', { keyword: '退款', n: 2 });
    await store.put('other', 'a', 'x');
    expect(await store.get('rules', 'a')).toEqual({ keyword: '发票', n: 1 });
    expect((await store.list<{ n: number }>('rules')).map((r) => r.n).sort()).toEqual([1, 2]);
    expect(await store.delete('rules', 'a')).toBe(true);
    expect(await store.delete('rules', 'a')).toBe(false);
    expect(await store.get('rules', 'a')).toBeUndefined();
    expect(await store.list('missing')).toEqual([]);
  });

  it('lists every entry for backups and exports, leaving credentials and instance coordination out', async () => {
    const { store } = await openStore(backend);
    for (let i = 0; i < 1200; i++) await store.put('records', `r${String(i).padStart(4, '0')}`, { i });
    await store.put('tokens', 'abc', { token: 'secret-token' });
    await store.put('callback-dedupe', 'k', { state: 'done' });
    const seen: string[] = [];
    for await (const e of store.entries()) seen.push(`${e.collection}/${e.id}`);
    expect(seen).toHaveLength(1200);
    expect(new Set(seen).size).toBe(1200);
    expect(seen.some((k) => k.startsWith('tokens/') || k.startsWith('callback-dedupe/'))).toBe(false);
  });

  it('update is atomic: concurrent increments from two instances are all counted', async () => {
    const { store, another } = await openStore(backend);
    const other = await another();
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? store : other).update<number>('counters', 'approval', (n) => (n ?? 0) + 1)));
    expect(await store.get('counters', 'approval')).toBe(40);
    expect(await store.update('counters', 'approval', () => undefined)).toBeUndefined();
    expect(await store.get('counters', 'approval')).toBeUndefined();
  });

  it('create stores a key once, whoever asks', async () => {
    const { store, another } = await openStore(backend);
    const other = await another();
    const won = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).create('dedupe', 'msg-1', { by: i })));
    expect(won.filter(Boolean)).toHaveLength(1);
  });

  it('exclusive runs holders one after another; tryExclusive skips while it is held', async () => {
    const { store, another } = await openStore(backend);
    const other = await another();
    const trace: string[] = [];
    let release!: () => void;
    const held = store.exclusive('job', async () => {
      trace.push('a-in');
      await new Promise<void>((r) => (release = r));
      trace.push('a-out');
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(await other.tryExclusive('job', async () => 'ran')).toEqual({ ran: false });
    const waiting = other.exclusive('job', async () => void trace.push('b'));
    await new Promise((r) => setTimeout(r, 100));
    release();
    await Promise.all([held, waiting]);
    expect(trace).toEqual(['a-in', 'a-out', 'b']);
    expect(await other.tryExclusive('job', async () => 'ran')).toEqual({ ran: true, value: 'ran' });
  });
});

describe('store on postgres only', () => {
  it('migrations apply once when several instances start together', async () => {
    const url = await testDatabase();
    const clients = await Promise.all(
      [0, 1, 2].map(async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    );
    const results = await Promise.all(clients.map((c) => migrate(c)));
    expect(results.flatMap((r) => r.applied.map((m) => m.version))).toEqual(MIGRATIONS.map((m) => m.version));
    expect(results.every((r) => r.version === MIGRATIONS.at(-1)!.version)).toBe(true);
    const rows = (await clients[0]!.query('SELECT version FROM wxops_schema')).rows;
    expect(rows).toHaveLength(MIGRATIONS.length);
    await Promise.all(clients.map((c) => c.end()));
  });

  it('a lock held by an instance whose connection died is free for another', async () => {
    const url = await testDatabase();
    const a = new PostgresStore({ url, onIdleError: () => undefined });
    const b = new PostgresStore({ url });
    cleanups.push(() => b.close(), () => a.close().catch(() => undefined));
    await a.open();
    let started!: () => void;
    const inside = new Promise<void>((r) => (started = r));
    const dying = a.tryExclusive('digest:2026-11-26', async (lost) => {
      started();
      await new Promise((r) => lost.addEventListener('abort', r));
      return 'told it lost the lock';
    });
    await inside;
    expect(await b.tryExclusive('digest:2026-11-26', async () => 1)).toEqual({ ran: false });
    // The "dead instance": the server ends every session of a's pool.
    await b.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'wxops' AND pid <> pg_backend_pid() AND datname = current_database()`);
    await new Promise((r) => setTimeout(r, 200));
    expect(await dying).toEqual({ ran: true, value: 'told it lost the lock' });
    expect(await b.tryExclusive('digest:2026-11-26', async () => 2)).toEqual({ ran: true, value: 2 });
  });

  it('a lost connection fails the current call with a clear sentence, then the store reconnects', async () => {
    const url = await testDatabase();
    const a = new PostgresStore({ url, onIdleError: () => undefined });
    const admin = new PostgresStore({ url });
    cleanups.push(() => admin.close(), () => a.close());
    await a.put('rules', 'x', 1);
    await admin.open();
    const slow = a.query('SELECT pg_sleep(5)');
    slow.catch(() => undefined); // it rejects while the test is still cutting the connection; asserted below
    await new Promise((r) => setTimeout(r, 300));
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()`);
    await expect(slow).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE', text: { zh: expect.stringContaining('连接中断') } });
    await expect(slow).rejects.not.toThrow(/postgres:\/\//);
    expect(await a.get('rules', 'x')).toBe(1);
  });

  it('a transaction cut off by a lost connection writes nothing', async () => {
    const url = await testDatabase();
    const a = new PostgresStore({ url, onIdleError: () => undefined });
    const admin = new PostgresStore({ url });
    cleanups.push(() => admin.close(), () => a.close());
    await admin.open();
    const half = a.transaction(async (c) => {
      await c.query(`INSERT INTO wxops_store (collection, id, value) VALUES ('rules', 'half', '1')`);
      await c.query('SELECT pg_sleep(5)');
      await c.query(`INSERT INTO wxops_store (collection, id, value) VALUES ('rules', 'other-half', '1')`);
    });
    half.catch(() => undefined); // asserted below
    await new Promise((r) => setTimeout(r, 300));
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()`);
    await expect(half).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect(await a.list('rules')).toEqual([]);
  });
});
