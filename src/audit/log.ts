import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { InputError, RuntimeFailure } from '../core/errors.js';
import { t, type Text } from '../core/i18n.js';
import { canonicalJson } from '../core/plan.js';

/**
 * Append-only JSON Lines where each entry carries the SHA-256 of the previous one (ARCHITECTURE §6).
 * Two back-ends keep the same lines byte for byte: a file in the data directory (the embedded default)
 * and a table in PostgreSQL shared by several instances (postgres-log.ts). Both check their chain with
 * one ChainChecker, so `audit verify` reports a break the same way whichever holds the log.
 */
export interface AuditEntry {
  kind: 'decision' | 'result' | 'approval';
  actor: string;
  channel: string;
  command: string;
  action?: string;
  resource?: unknown;
  rule?: string;
  outcome: string;
  error?: { code: string; message: string };
  detail?: unknown;
}

export interface StoredAuditEntry extends AuditEntry {
  seq: number;
  ts: string;
  prev: string;
  hash: string;
}

/** The last entry's sequence number and hash, kept beside the log so that a cut-off tail is detected. */
export interface AuditHead {
  seq: number;
  hash: string;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  since?: Date;
  result?: string;
  limit?: number;
}

export interface AuditLog {
  readonly kind: 'file' | 'postgres';
  /** The JSON Lines file (file back-end only). */
  readonly file?: string;
  /** Hashes `entry` onto the chain and stores it durably; rejects (nothing stored) when it cannot. */
  append(entry: AuditEntry, now?: Date): Promise<StoredAuditEntry>;
  /** The same for several entries, consecutive on the chain and stored in one step: all of them or none. */
  appendAll(entries: AuditEntry[], now?: Date): Promise<StoredAuditEntry[]>;
  head(): Promise<AuditHead>;
  /** Walks the whole chain and reports the first entry that breaks it (see ChainChecker). */
  verify(): Promise<VerifyReport>;
  /** The newest entries that match, oldest first. */
  query(q: AuditQuery): Promise<StoredAuditEntry[]>;
  /** Every stored line, byte for byte, in sequence order (for `wxops db export`). */
  lines(): AsyncIterable<string>;
  /**
   * Appends lines that are already hashed (another log's `lines()`), verbatim: they must continue this
   * log's chain from its head, or nothing is stored. Returns how many were added and the new head.
   */
  importLines(lines: Iterable<string> | AsyncIterable<string>): Promise<{ count: number; head: AuditHead }>;
  /** Waits for appends in flight. */
  close(): Promise<void>;
}

export const GENESIS = '0'.repeat(64);
const EMPTY_HEAD: AuditHead = { seq: 0, hash: GENESIS };

/**
 * An entry is stored as one JSON line with its fields in a fixed order, and its hash is the SHA-256 of
 * exactly those bytes (without the hash field). Verifying then needs no parsing or re-serialising —
 * a slice and a hash per line — and any change to a stored byte breaks the chain.
 */
const FIELD_ORDER = ['seq', 'ts', 'kind', 'actor', 'channel', 'command', 'action', 'resource', 'rule', 'outcome', 'error', 'detail', 'prev'] as const;

export function serializeEntry(body: Omit<StoredAuditEntry, 'hash'>): string {
  const ordered: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) if ((body as unknown as Record<string, unknown>)[key] !== undefined) ordered[key] = (body as unknown as Record<string, unknown>)[key];
  return JSON.stringify(ordered);
}

/** The hash covers the stored bytes from `{` up to the end of `"prev":"…"` — everything before the hash. */
export function hashEntry(body: Omit<StoredAuditEntry, 'hash'>): string {
  return sha256(serializeEntry(body).slice(0, -1));
}

/**
 * An entry ready to go on the chain: its time and its fields from `kind` to `detail` serialised in the
 * stored order. Preparing happens when the entry is handed in (a value that cannot be stored fails its
 * own append, not a batch); `chainEntries` then only adds seq and prev and hashes.
 */
export interface PreparedEntry {
  ts: string;
  body: string;
}

export function prepareEntry(entry: AuditEntry, now: Date): PreparedEntry {
  const ordered: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) {
    if (key === 'seq' || key === 'ts' || key === 'prev') continue;
    if ((entry as unknown as Record<string, unknown>)[key] !== undefined) ordered[key] = (entry as unknown as Record<string, unknown>)[key];
  }
  return { ts: now.toISOString(), body: JSON.stringify(ordered).slice(1, -1) };
}

/**
 * The next entries of a chain that ends at `head`: their stored lines (with hash) and what `append`
 * hands back — the same bytes as `serializeEntry` of the whole entry. The file log chains here; the
 * database does the same step in SQL, where its lock is (wxops_audit_append, tested to agree byte for byte).
 */
export function chainEntries(head: AuditHead, entries: PreparedEntry[]): { lines: string[]; stored: StoredAuditEntry[]; head: AuditHead } {
  let { seq, hash: prev } = head;
  const lines: string[] = [];
  const stored: StoredAuditEntry[] = [];
  for (const { ts, body } of entries) {
    // wxops_audit_append (store/migrations.ts) builds the same bytes in PostgreSQL: change both or neither.
    const text = `{"seq":${++seq},"ts":"${ts}",${body},"prev":"${prev}"}`;
    const hash = sha256(text.slice(0, -1));
    lines.push(withHash(text, hash));
    stored.push({ ...(JSON.parse(text) as Omit<StoredAuditEntry, 'hash'>), hash });
    prev = hash;
  }
  return { lines, stored, head: { seq, hash: prev } };
}

// One-shot hashing (Node ≥ 20.12) avoids building a Hash object per line: verify hashes a million.
const oneShot = (crypto as { hash?: (alg: string, data: string | Buffer, enc: 'hex') => string }).hash;
function sha256(data: string | Buffer): string {
  return oneShot ? oneShot('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

/** `{…,"prev":"…"}` + hash → `{…,"prev":"…","hash":"…"}`. */
export function withHash(text: string, hash: string): string {
  return `${text.slice(0, -1)},"hash":"${hash}"}`;
}

/** Key-sorted JSON, for hashing things whose key order is not ours to fix. */
export const canonical = canonicalJson;

export interface VerifyProblem {
  kind: 'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'unreadable';
  line: number;
  seq?: number;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  problem?: VerifyProblem;
}

/** How each kind of break reads in `audit verify` and in a refused import. */
export const PROBLEM_TEXT: Record<VerifyProblem['kind'], Text> = {
  edited: t('被修改', 'was edited'),
  deleted: t('之前有记录被删除', 'follows deleted entries'),
  inserted: t('是被插入的', 'was inserted'),
  reordered: t('顺序被调换', 'is out of order'),
  truncated: t('之后的记录被截断（链头记录了更多条目）', 'and what follows were cut off (the chain head records more entries)'),
  unreadable: t('不是合法的 JSON（被修改）', 'is not valid JSON (edited)'),
};

/**
 * Walks a chain one stored line at a time: each entry's hash must match its bytes and its `prev` the
 * previous entry's hash, with sequence numbers counting up by one from where the chain starts; `report`
 * then compares the end with the chain head kept beside the log, which catches a cut-off tail. The
 * first line that breaks the chain is reported, and how. Used by both back-ends' `verify` and imports.
 */
export class ChainChecker {
  /** Entries that checked out so far. */
  entries = 0;
  problem?: VerifyProblem;
  /** Where the chain jumped ahead: the sequence number missing there (reordered if it turns up elsewhere). */
  missing?: number;
  private prev: string;
  private expected: number;

  constructor(start: AuditHead = EMPTY_HEAD) {
    this.prev = start.hash;
    this.expected = start.seq + 1;
  }

  /** The last entry that checked out. */
  get head(): AuditHead {
    return { seq: this.expected - 1, hash: this.prev };
  }

  /** One stored line as the bytes `buf[from, to)` — the file's fast path, no string per line. False once broken. */
  bytes(buf: Buffer, from: number, to: number, line: number): boolean {
    if (this.problem) return false;
    const parts = splitStored(buf, from, to);
    if (!parts) this.problem = { kind: 'unreadable', line, seq: this.expected };
    else if (sha256(buf.subarray(from, to - HASH_TAIL)) !== parts.hash) this.problem = { kind: 'edited', line, seq: parts.seq };
    else if (parts.prev !== this.prev || parts.seq !== this.expected) this.problem = { kind: this.breakKind(parts.seq), line, seq: parts.seq };
    if (this.problem) return false;
    this.prev = parts!.hash;
    this.expected++;
    this.entries++;
    return true;
  }

  /** One stored line as text (a database row, an imported line). */
  text(text: string, line: number): boolean {
    const buf = Buffer.from(text, 'utf8');
    return this.bytes(buf, 0, buf.length, line);
  }

  /**
   * A later sequence number means entries are missing — unless the missing one turns up elsewhere
   * (reordered, settled in `report`); a repeat of the last number means one was inserted; a smaller
   * number means the order was changed.
   */
  private breakKind(seq: number): VerifyProblem['kind'] {
    if (seq === this.expected || seq === this.expected - 1) return 'inserted';
    if (seq < this.expected) return 'reordered';
    this.missing = this.expected;
    return 'deleted';
  }

  /** The verdict once all lines were read: `head` is the chain head kept beside the log. */
  report(head: AuditHead, turnsUp: (seq: number) => boolean = () => false): VerifyReport {
    if (this.problem) {
      const problem = this.missing !== undefined && turnsUp(this.missing) ? { ...this.problem, kind: 'reordered' as const } : this.problem;
      return { ok: false, entries: this.entries, problem };
    }
    const last = this.head;
    if (head.seq > last.seq) return { ok: false, entries: this.entries, problem: { kind: 'truncated', line: this.entries + 1, seq: last.seq + 1 } };
    if (head.seq === last.seq && head.hash !== last.hash) return { ok: false, entries: this.entries, problem: { kind: 'edited', line: this.entries, seq: last.seq } };
    return { ok: true, entries: this.entries };
  }

  /** For imports: the lines do not continue the chain — nothing is stored. */
  refusal(): InputError {
    const p = this.problem!;
    const k = PROBLEM_TEXT[p.kind];
    return new InputError(
      'AUDIT_IMPORT_BROKEN',
      {
        zh: `要导入的审计日志第 ${p.line} 行（序号 ${p.seq ?? '?'}）${k.zh}，与现有的哈希链接不上；没有导入任何审计记录。`,
        en: `The audit lines to import break the hash chain at line ${p.line} (seq ${p.seq ?? '?'}), which ${k.en}; no audit entry was imported.`,
      },
      p,
    );
  }
}

const HASH_TAIL = ',"hash":"'.length + 64 + '"}'.length;
const PREV_TAIL = ',"prev":"'.length + 64 + '"}'.length;

const OPEN = Buffer.from('{"seq":');
const HASH_MARK = Buffer.from(',"hash":"');
const PREV_MARK = Buffer.from(',"prev":"');

/** The seq, prev and hash of a stored line, read at the positions `append` writes them. */
function splitStored(buf: Buffer, from: number, to: number): { hash: string; seq: number; prev: string } | undefined {
  if (to - from < OPEN.length + HASH_TAIL + PREV_TAIL) return undefined;
  if (buf.compare(OPEN, 0, OPEN.length, from, from + OPEN.length) !== 0) return undefined;
  if (buf[to - 1] !== 0x7d || buf[to - 2] !== 0x22) return undefined;
  const hashAt = to - HASH_TAIL;
  if (buf.compare(HASH_MARK, 0, HASH_MARK.length, hashAt, hashAt + HASH_MARK.length) !== 0) return undefined;
  const prevAt = hashAt - (PREV_TAIL - 1);
  if (buf.compare(PREV_MARK, 0, PREV_MARK.length, prevAt, prevAt + PREV_MARK.length) !== 0) return undefined;
  let seq = 0;
  let i = from + OPEN.length;
  for (; i < to && buf[i]! >= 0x30 && buf[i]! <= 0x39; i++) seq = seq * 10 + (buf[i]! - 0x30);
  if (i === from + OPEN.length || buf[i] !== 0x2c) return undefined;
  return { hash: buf.toString('latin1', to - 66, to - 2), seq, prev: buf.toString('latin1', prevAt + PREV_MARK.length, prevAt + PREV_MARK.length + 64) };
}

/** Whether an entry matches a query (the file log filters here; the database log in SQL, alike). */
function matchesQuery(e: StoredAuditEntry, q: AuditQuery): boolean {
  if (q.actor && e.actor.toLowerCase() !== q.actor.toLowerCase()) return false;
  if (q.action && !(q.action.endsWith('*') ? (e.action ?? '').startsWith(q.action.slice(0, -1)) : e.action === q.action)) return false;
  if (q.result && e.outcome !== q.result) return false;
  if (q.since && new Date(e.ts) < q.since) return false;
  return true;
}

/**
 * The embedded default: `$dataDir/audit/audit.jsonl` plus `head.json`. Each append is written and
 * fsync'd before it returns; a lock file serialises writers from several processes (REPL and
 * `wxops run` sharing a data dir).
 */
export class FileAuditLog implements AuditLog {
  readonly kind = 'file' as const;
  readonly file: string;
  private readonly headFile: string;
  private readonly lockFile: string;

  constructor(dataDir: string) {
    const dir = join(dataDir, 'audit');
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'audit.jsonl');
    this.headFile = join(dir, 'head.json');
    this.lockFile = join(dir, '.lock');
  }

  /** Synchronous under the lock file inside, so the chain step never interleaves with another writer's. */
  async append(entry: AuditEntry, now = new Date()): Promise<StoredAuditEntry> {
    return (await this.appendAll([entry], now))[0]!;
  }

  /** One write and one fsync for all of them. */
  async appendAll(entries: AuditEntry[], now = new Date()): Promise<StoredAuditEntry[]> {
    const prepared = entries.map((e) => prepareEntry(e, now));
    return this.locked(() => {
      const next = chainEntries(this.headSync(), prepared);
      this.write(next.lines.map((l) => `${l}\n`).join(''), next.head);
      return next.stored;
    });
  }

  /** Appends `text` (whole lines) durably, then moves the head: a crash between leaves a head behind, never ahead. */
  private write(text: string, head: AuditHead): void {
    const fd = openSync(this.file, 'a');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.writeHead(head);
  }

  private writeHead(head: AuditHead): void {
    const tmp = `${this.headFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(head));
    renameSync(tmp, this.headFile);
  }

  async head(): Promise<AuditHead> {
    return this.headSync();
  }

  private headSync(): AuditHead {
    try {
      return JSON.parse(readFileSync(this.headFile, 'utf8')) as AuditHead;
    } catch {
      return EMPTY_HEAD;
    }
  }

  async verify(): Promise<VerifyReport> {
    const checker = new ChainChecker();
    forEachRawLine(this.file, (buf, from, to, line) => to === from || checker.bytes(buf, from, to, line));
    return checker.report(this.headSync(), (seq) => {
      for (const { text } of readLines(this.file)) if (text.includes(`"seq":${seq},`)) return true;
      return false;
    });
  }

  async query(q: AuditQuery): Promise<StoredAuditEntry[]> {
    const limit = q.limit ?? 50;
    const out: StoredAuditEntry[] = [];
    for (const { text } of readLines(this.file)) {
      if (!text.trim()) continue;
      let e: StoredAuditEntry;
      try {
        e = JSON.parse(text) as StoredAuditEntry;
      } catch {
        continue;
      }
      if (!matchesQuery(e, q)) continue;
      out.push(e);
      if (out.length > limit) out.shift();
    }
    return out;
  }

  async *lines(): AsyncIterable<string> {
    for (const { text } of readLines(this.file)) if (text) yield text;
  }

  /**
   * The lines are checked and written to a side file first, then moved onto the log under the lock —
   * renamed into place when the log is empty — so a broken import leaves the log as it was.
   */
  async importLines(lines: Iterable<string> | AsyncIterable<string>): Promise<{ count: number; head: AuditHead }> {
    const start = this.headSync();
    const checker = new ChainChecker(start);
    const side = `${this.file}.import-${process.pid}`;
    const fd = openSync(side, 'w');
    try {
      let chunk = '';
      let n = 0;
      for await (const text of lines) {
        if (!text) continue;
        if (!checker.text(text, ++n)) throw checker.refusal();
        chunk += `${text}\n`;
        if (chunk.length > 1 << 20) {
          writeSync(fd, chunk);
          chunk = '';
        }
      }
      writeSync(fd, chunk);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(side, { force: true });
      throw err;
    }
    closeSync(fd);
    try {
      if (checker.entries === 0) return { count: 0, head: start };
      this.locked(() => {
        const now = this.headSync();
        if (now.seq !== start.seq || now.hash !== start.hash) {
          throw new RuntimeFailure('AUDIT_IMPORT_RACED', t('导入期间审计日志有新记录写入；没有导入任何审计记录，请重试。', 'The audit log was appended to during the import; no audit entry was imported — try again.'));
        }
        if (!existsSync(this.file) || statSync(this.file).size === 0) {
          renameSync(side, this.file);
          this.writeHead(checker.head);
        } else {
          this.write(readFileSync(side, 'utf8'), checker.head);
        }
      });
      return { count: checker.entries, head: checker.head };
    } finally {
      rmSync(side, { force: true });
    }
  }

  async close(): Promise<void> {}

  private locked<T>(fn: () => T): T {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        closeSync(openSync(this.lockFile, 'wx'));
        break;
      } catch {
        // A writer that died leaves its lock behind; after 10 s it is considered stale.
        try {
          if (Date.now() - statSync(this.lockFile).mtimeMs > 10_000) rmSync(this.lockFile, { force: true });
        } catch {
          /* lock vanished meanwhile */
        }
        if (Date.now() > deadline) throw new Error('audit log is locked by another writer');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
    try {
      return fn();
    } finally {
      rmSync(this.lockFile, { force: true });
    }
  }
}

/** Reads the log line by line in 1 MiB chunks: a million entries never sit in memory at once. */
export function* readLines(file: string): Generator<{ line: number; text: string }> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return;
  }
  const buf = Buffer.alloc(1 << 20);
  let rest = '';
  let line = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const chunk = rest + buf.toString('utf8', 0, n);
      const parts = chunk.split('\n');
      rest = parts.pop()!;
      for (const text of parts) yield { line: ++line, text };
    }
    if (rest) yield { line: ++line, text: rest };
  } finally {
    closeSync(fd);
  }
}

/**
 * Calls `fn` with each line's byte range, straight from 4 MiB reads — no string per line — until it
 * returns false. A line cut by a read boundary is carried into the next read.
 */
function forEachRawLine(file: string, fn: (buf: Buffer, from: number, to: number, line: number) => boolean): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return;
  }
  const size = 4 << 20;
  let carry = Buffer.alloc(0);
  let line = 0;
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(size);
      const n = readSync(fd, chunk, 0, size, null);
      if (n === 0) break;
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let from = 0;
      for (let nl = buf.indexOf(10, from); nl !== -1; nl = buf.indexOf(10, from)) {
        if (!fn(buf, from, nl, ++line)) return;
        from = nl + 1;
      }
      carry = Buffer.from(buf.subarray(from));
    }
    if (carry.length) fn(carry, 0, carry.length, ++line);
  } finally {
    closeSync(fd);
  }
}
