import { createHash } from 'node:crypto';
import pg from 'pg';
import { RuntimeFailure } from '../core/errors.js';
import { t } from '../core/i18n.js';
import { PRIVATE_COLLECTIONS, type Store, type StoreEntry } from './store.js';
import { migrate } from './migrations.js';

/**
 * The shared store for several instances (WXOPS_DATABASE_URL). One pool per process; every write is a
 * single statement or one transaction, so a lost connection leaves nothing half-written; the pool drops
 * a broken connection and opens a new one for the next command.
 */
export interface PostgresStoreOptions {
  url: string;
  /** Connections in the pool (default 10). */
  max?: number;
  /** Told about connections that fail while idle (they would otherwise crash the process). */
  onIdleError?(err: Error): void;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  private ready?: Promise<void>;

  constructor(opts: PostgresStoreOptions) {
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.max ?? 10,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      // A half-open connection (a peer gone without a FIN) must not hang a command, nor the audit's
      // group commit queued behind it: TCP keepalive finds it, and no single query waits past a minute.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      query_timeout: 60_000,
      application_name: 'wxops',
    });
    this.pool.on('error', (err) => opts.onIdleError?.(err));
  }

  /** Applies the schema once per process before the first query (`wxops db migrate` does it by hand). */
  open(): Promise<void> {
    this.ready ??= this.withClient((c) => migrate(c).then(() => undefined)).catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /**
   * A query on any pooled connection, with connection failures turned into one clear sentence. A
   * `prepared` statement is parsed and planned once per connection and then only bound and run: the
   * statements every command or callback makes (the audit append above all) skip the server's parse and
   * plan each time.
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string | PreparedStatement, params?: unknown[]): Promise<pg.QueryResult<R>> {
    await this.open();
    try {
      return await (typeof sql === 'string' ? this.pool.query<R>(sql, params) : this.pool.query<R>({ ...sql, values: params }));
    } catch (err) {
      throw databaseError(err);
    }
  }

  /** One connection for several statements (a transaction, a session lock). */
  async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw databaseError(err);
    }
    let broken: Error | undefined;
    // A checked-out connection that the server ends emits 'error'; unheard, that would crash the process.
    const onError = (err: Error) => (broken = err);
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (err) {
      if (isConnectionError(err)) broken = err as Error;
      throw databaseError(err);
    } finally {
      client.off('error', onError);
      // A connection that failed is destroyed, not handed to the next command.
      client.release(broken);
    }
  }

  /** BEGIN … COMMIT on one connection; any failure rolls back. */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.open();
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        const out = await fn(client);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async get<T>(collection: string, id: string): Promise<T | undefined> {
    const r = await this.query<{ value: T }>(GET, [collection, id]);
    return r.rows[0]?.value;
  }

  async put<T>(collection: string, id: string, value: T): Promise<void> {
    await this.query(PUT, [collection, id, JSON.stringify(value), keyLock(collection, id)]);
  }

  delete(collection: string, id: string): Promise<boolean> {
    // Two statements: the DELETE must read after the lock is held, or it could miss a row just written.
    return this.transaction(async (c) => {
      await c.query({ ...LOCK_KEY, values: [keyLock(collection, id)] });
      const r = await c.query({ ...DELETE, values: [collection, id] });
      return (r.rowCount ?? 0) > 0;
    });
  }

  async list<T>(collection: string): Promise<T[]> {
    const r = await this.query<{ value: T }>(LIST, [collection]);
    return r.rows.map((row) => row.value);
  }

  update<T>(collection: string, id: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined> {
    return this.transaction(async (c) => {
      // A transaction lock on the key, not a row lock: it also covers an entry that does not exist yet.
      await c.query({ ...LOCK_KEY, values: [keyLock(collection, id)] });
      const r = await c.query<{ value: T }>({ ...GET, values: [collection, id] });
      const next = fn(r.rows[0]?.value);
      if (next === undefined) await c.query({ ...DELETE, values: [collection, id] });
      else await c.query({ ...UPSERT, values: [collection, id, JSON.stringify(next)] });
      return next;
    });
  }

  async create<T>(collection: string, id: string, value: T): Promise<boolean> {
    const r = await this.query(CREATE, [collection, id, JSON.stringify(value), keyLock(collection, id)]);
    return (r.rowCount ?? 0) > 0;
  }

  async exclusive<T>(name: string, fn: () => Promise<T>, waitMs = 30_000): Promise<T> {
    await this.open();
    return this.withClient(async (c) => {
      await c.query(`SET lock_timeout = ${Math.max(1, Math.round(waitMs))}`);
      try {
        await c.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [name]);
      } catch (err) {
        if ((err as { code?: string }).code === '55P03') throw lockTimeout(name);
        throw err;
      } finally {
        await c.query('SET lock_timeout = 0');
      }
      try {
        return await fn();
      } finally {
        await c.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [name]);
      }
    });
  }

  async tryExclusive<T>(name: string, fn: (lost: AbortSignal) => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    await this.open();
    return this.withClient(async (c) => {
      const got = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [name]);
      if (!got.rows[0]?.ok) return { ran: false as const };
      // The lock lives as long as this connection: when it drops, another instance may take the work
      // over, and the holder is told so that it does not record an outcome that is no longer its own.
      const lost = new AbortController();
      const onError = () => lost.abort(databaseError(Object.assign(new Error('Connection terminated'), { code: '57P01' })));
      c.on('error', onError);
      try {
        return { ran: true as const, value: await fn(lost.signal) };
      } finally {
        c.off('error', onError);
        if (!lost.signal.aborted) await c.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [name]);
      }
    });
  }

  /** Keyset pages in (collection, id) order: a large store is never read in one piece. */
  async *entries(): AsyncIterable<StoreEntry> {
    let after: [string, string] = ['', ''];
    for (;;) {
      const page = await this.query<StoreEntry>(
        'SELECT collection, id, value FROM wxops_store WHERE (collection, id) > ($1, $2) AND NOT (collection = ANY($3)) ORDER BY collection, id LIMIT 1000',
        [after[0], after[1], [...PRIVATE_COLLECTIONS]],
      );
      yield* page.rows;
      if (page.rows.length < 1000) return;
      const last = page.rows[page.rows.length - 1]!;
      after = [last.collection, last.id];
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** A statement prepared once per connection, under a name derived from its text (so names cannot clash). */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

export function prepared(text: string): PreparedStatement {
  return { name: `wxops_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text };
}

const GET = prepared('SELECT value FROM wxops_store WHERE collection = $1 AND id = $2');
const LIST = prepared('SELECT value FROM wxops_store WHERE collection = $1 ORDER BY id');
const DELETE = prepared('DELETE FROM wxops_store WHERE collection = $1 AND id = $2');
/** The key's transaction lock, for the statements of a transaction that must not interleave with writes. */
const LOCK_KEY = prepared('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))');
/** A write inside a transaction that already holds the key's lock. */
const UPSERT = prepared(`INSERT INTO wxops_store (collection, id, value) VALUES ($1, $2, $3)
  ON CONFLICT (collection, id) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`);
// Every write takes the key's transaction lock, as `update` does, so none lands between its read and write.
const PUT = prepared(`WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended($4, 0)))
  INSERT INTO wxops_store (collection, id, value) SELECT $1, $2, $3 FROM l
  ON CONFLICT (collection, id) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`);
const CREATE = prepared(`WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended($4, 0)))
  INSERT INTO wxops_store (collection, id, value) SELECT $1, $2, $3 FROM l ON CONFLICT DO NOTHING`);

function keyLock(collection: string, id: string): string {
  return `store:${collection}:${id}`;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.code && CONNECTION_CODES.has(e.code)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout/i.test(e.message ?? '');
}

/**
 * What the user reads when the database fails: one sentence, no connection string (it may hold a
 * password). Errors that are ours (a WxopsError from inside a transaction) pass through unchanged.
 */
export function databaseError(err: unknown): Error {
  if (err instanceof RuntimeFailure || (err as { category?: string }).category) return err as Error;
  if (isConnectionError(err)) {
    return new RuntimeFailure(
      'DATABASE_UNAVAILABLE',
      t(
        '与数据库的连接中断，本次命令没有完成，也没有写入任何内容；wxops 会自动重连，请稍后重试。',
        'The connection to the database was lost; this command did not complete and wrote nothing. wxops reconnects by itself — try again shortly.',
      ),
    );
  }
  const e = err as { code?: string; message?: string };
  return new RuntimeFailure(
    'DATABASE_ERROR',
    t('数据库返回错误{code}，本次命令没有完成。', 'The database answered with an error{code}; this command did not complete.', { code: e.code ? ` ${e.code}` : '' }),
  );
}

function lockTimeout(name: string): RuntimeFailure {
  return new RuntimeFailure('LOCK_TIMEOUT', t('另一个实例正在进行同一操作（{name}），请稍后重试。', 'Another instance is doing the same thing ({name}); try again shortly.', { name }));
}
