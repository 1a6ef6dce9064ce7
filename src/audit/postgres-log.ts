import type pg from 'pg';
import { databaseError, prepared, type PostgresStore } from '../store/postgres-store.js';
import {
  ChainChecker,
  GENESIS,
  prepareEntry,
  type AuditEntry,
  type AuditHead,
  type AuditLog,
  type AuditQuery,
  type PreparedEntry,
  type StoredAuditEntry,
  type VerifyReport,
} from './log.js';

/**
 * The audit log in PostgreSQL, shared by every instance (ARCHITECTURE §6, §9): one row per stored line,
 * the same bytes the file log would hold (wxops_audit; its other columns are generated from the line),
 * and the chain head in wxops_audit_head.
 *
 * One chain across instances: the chain step is one statement, wxops_audit_append (migrations.ts). It
 * locks the head row, gives each entry the next seq and the previous hash, inserts the lines and moves
 * the head; it commits whole or not at all, so a failed append leaves no gap and no half chain. One
 * round trip per step, and the head is locked only while that statement runs and commits.
 *
 * Group commit within a process: appends that arrive while a step is in flight wait and go together into
 * the next one, so one commit (one WAL flush) covers many appends.
 */
const MAX_BATCH = 1000;
const PAGE = 10_000;

/** One append or appendAll: its entries stay together in one step. */
interface Pending {
  prepared: PreparedEntry[];
  resolve(stored: StoredAuditEntry[]): void;
  reject(err: Error): void;
}

export class PostgresAuditLog implements AuditLog {
  readonly kind = 'postgres' as const;
  readonly file = undefined;
  private queue: Pending[] = [];
  private flushing?: Promise<void>;

  constructor(private readonly store: PostgresStore) {}

  async append(entry: AuditEntry, now = new Date()): Promise<StoredAuditEntry> {
    return (await this.appendAll([entry], now))[0]!;
  }

  appendAll(entries: AuditEntry[], now = new Date()): Promise<StoredAuditEntry[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ prepared: entries.map((e) => prepareEntry(e, now)), resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Drains the queue one step at a time; every append of a failed step rejects, with nothing stored. */
  private async flush(): Promise<void> {
    // Appends made in the same tick as the first one share its step.
    await null;
    try {
      while (this.queue.length) {
        // Whole appends, up to MAX_BATCH entries (but at least one append, however many it has).
        let take = 1;
        for (let n = this.queue[0]!.prepared.length; take < this.queue.length && n + this.queue[take]!.prepared.length <= MAX_BATCH; take++) n += this.queue[take]!.prepared.length;
        const batch = this.queue.splice(0, take);
        const prepared = batch.flatMap((p) => p.prepared);
        try {
          const r = await this.store.query<{ lines: string[] }>(APPEND, [prepared.map((p) => p.ts), prepared.map((p) => p.body)]);
          const stored = r.rows[0]!.lines.map((line) => JSON.parse(line) as StoredAuditEntry);
          let at = 0;
          for (const p of batch) p.resolve(stored.slice(at, (at += p.prepared.length)));
        } catch (err) {
          const failure = databaseError(err);
          for (const p of batch) p.reject(failure);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  async head(): Promise<AuditHead> {
    return asHead((await this.store.query<{ seq: string; hash: string }>(HEAD)).rows[0]);
  }

  /** Rows and head from one snapshot (appends from other instances go on meanwhile), in seq order. */
  verify(): Promise<VerifyReport> {
    return this.store.transaction(async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const head = asHead((await c.query<{ seq: string; hash: string }>(HEAD)).rows[0]);
      const checker = new ChainChecker();
      await c.query('DECLARE audit_rows NO SCROLL CURSOR FOR SELECT line FROM wxops_audit ORDER BY seq');
      let line = 0;
      let intact = true;
      while (intact) {
        const page = await c.query<[string]>({ text: `FETCH ${PAGE} FROM audit_rows`, rowMode: 'array' });
        for (const row of page.rows) if (!(intact = checker.text(row[0], ++line))) break;
        if (page.rows.length < PAGE) break;
      }
      const found = checker.missing !== undefined && ((await c.query('SELECT 1 FROM wxops_audit WHERE seq = $1', [checker.missing])).rowCount ?? 0) > 0;
      return checker.report(head, () => found);
    });
  }

  async query(q: AuditQuery): Promise<StoredAuditEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (v: unknown) => `$${params.push(v)}`;
    if (q.actor) where.push(`lower(actor) = lower(${param(q.actor)})`);
    if (q.action) where.push(q.action.endsWith('*') ? `action LIKE ${param(`${q.action.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`)}` : `action = ${param(q.action)}`);
    if (q.result) where.push(`outcome = ${param(q.result)}`);
    // Stored times are ISO 8601 in UTC (toISOString), so they compare as text — byte by byte.
    if (q.since) where.push(`ts COLLATE "C" >= ${param(q.since.toISOString())}`);
    const sql = `SELECT line FROM wxops_audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${param(q.limit ?? 50)}`;
    const r = await this.store.query<{ line: string }>(sql, params);
    return r.rows.reverse().map((row) => JSON.parse(row.line) as StoredAuditEntry);
  }

  /** A page at a time, by seq: entries appended meanwhile are included up to where the reading stops. */
  async *lines(): AsyncIterable<string> {
    let after = 0;
    for (;;) {
      const page = await this.store.query<{ seq: string; line: string }>('SELECT seq, line FROM wxops_audit WHERE seq > $1 ORDER BY seq LIMIT $2', [after, PAGE]);
      for (const row of page.rows) yield row.line;
      if (page.rows.length < PAGE) return;
      after = Number(page.rows[page.rows.length - 1]!.seq);
    }
  }

  /** One transaction holding the head: appends from every instance wait until it is done. */
  importLines(lines: Iterable<string> | AsyncIterable<string>): Promise<{ count: number; head: AuditHead }> {
    return this.store.transaction(async (c) => {
      const checker = new ChainChecker(await lockHead(c));
      let batch: string[] = [];
      const insert = async () => {
        if (batch.length) await c.query('INSERT INTO wxops_audit (line) SELECT unnest($1::text[])', [batch]);
        batch = [];
      };
      let n = 0;
      for await (const text of lines) {
        if (!text) continue;
        if (!checker.text(text, ++n)) throw checker.refusal();
        batch.push(text);
        if (batch.length >= MAX_BATCH) await insert();
      }
      await insert();
      if (checker.entries) await c.query('UPDATE wxops_audit_head SET seq = $1, hash = $2 WHERE one', [checker.head.seq, checker.head.hash]);
      return { count: checker.entries, head: checker.head };
    });
  }

  async close(): Promise<void> {
    await this.flushing;
  }
}

const HEAD = 'SELECT seq, hash FROM wxops_audit_head WHERE one';
/** The chain step, made by every command: prepared, so the server only binds and runs it. */
const APPEND = prepared('SELECT wxops_audit_append($1, $2) AS lines');

function asHead(row: { seq: string; hash: string } | undefined): AuditHead {
  return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS };
}

/**
 * The chain head, locked until the transaction ends (appends from every instance wait meanwhile). Should
 * the row be missing (deleted by hand), it is rebuilt from the last stored line, as wxops_audit_append does.
 */
async function lockHead(c: pg.ClientBase): Promise<AuditHead> {
  const r = await c.query<{ seq: string; hash: string }>(`${HEAD} FOR UPDATE`);
  if (r.rows[0]) return asHead(r.rows[0]);
  const last = await c.query<{ line: string }>('SELECT line FROM wxops_audit ORDER BY seq DESC LIMIT 1');
  const tail = last.rows[0] ? (JSON.parse(last.rows[0].line) as { seq: number; hash: string }) : { seq: 0, hash: GENESIS };
  await c.query('INSERT INTO wxops_audit_head (one, seq, hash) VALUES (true, $1, $2) ON CONFLICT DO NOTHING', [tail.seq, tail.hash]);
  return lockHead(c);
}
