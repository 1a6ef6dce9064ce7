import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { canonicalJson } from '../core/plan.js';

/**
 * Append-only JSON Lines where each entry carries the SHA-256 of the previous one (ARCHITECTURE §6).
 * The chain head (last seq and hash) is kept in a separate file so that a truncated tail is detectable.
 * A lock file serialises writers from several processes (REPL and `wxops run` sharing a data dir).
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

const GENESIS = '0'.repeat(64);

export class AuditLog {
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

  append(entry: AuditEntry, now = new Date()): StoredAuditEntry {
    return this.locked(() => {
      const head = this.head();
      const text = serializeEntry({ seq: head.seq + 1, ts: now.toISOString(), ...entry, prev: head.hash });
      const hash = sha256(text.slice(0, -1));
      const stored = { ...(JSON.parse(text) as Omit<StoredAuditEntry, 'hash'>), hash };
      const fd = openSync(this.file, 'a');
      try {
        writeSync(fd, `${withHash(text, hash)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      const tmp = `${this.headFile}.tmp`;
      writeFileSync(tmp, JSON.stringify({ seq: stored.seq, hash }));
      renameSync(tmp, this.headFile);
      return stored;
    });
  }

  head(): { seq: number; hash: string } {
    try {
      return JSON.parse(readFileSync(this.headFile, 'utf8')) as { seq: number; hash: string };
    } catch {
      return { seq: 0, hash: GENESIS };
    }
  }

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

// One-shot hashing (Node ≥ 20.12) avoids building a Hash object per line: verify hashes a million.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;
function sha256(data: string | Buffer): string {
  return oneShot ? oneShot('sha256', data as string, 'hex') : createHash('sha256').update(data).digest('hex');
}

/** `{…,"prev":"…"}` + hash → `{…,"prev":"…","hash":"…"}`. */
export function withHash(text: string, hash: string): string {
  return `${text.slice(0, -1)},"hash":"${hash}"}`;
}

/** Key-sorted JSON, for hashing things whose key order is not ours to fix. */
export const canonical = canonicalJson;

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

/**
 * Walks the chain: each entry's hash must match its content and its `prev` the previous entry's hash,
 * with sequence numbers counting up by one; the chain head kept beside the log catches a cut-off tail.
 * Reports the first entry that breaks it and how.
 */
export function verifyLog(log: AuditLog): VerifyReport {
  let prev = GENESIS;
  let expected = 1;
  let entries = 0;
  let problem: VerifyProblem | undefined;
  forEachRawLine(log.file, (buf, from, to, line) => {
    if (to === from) return true;
    const parts = splitStored(buf, from, to);
    if (!parts) problem = { kind: 'unreadable', line, seq: expected };
    else if (sha256(buf.subarray(from, to - HASH_TAIL)) !== parts.hash) problem = { kind: 'edited', line, seq: parts.seq };
    else if (parts.prev !== prev || parts.seq !== expected) problem = { kind: breakKind(log, parts.seq, expected), line, seq: parts.seq };
    if (problem) return false;
    prev = parts!.hash;
    expected++;
    entries++;
    return true;
  });
  if (problem) return { ok: false, entries, problem };
  const head = log.head();
  if (head.seq > entries) return { ok: false, entries, problem: { kind: 'truncated', line: entries + 1, seq: entries + 1 } };
  if (head.seq === entries && head.hash !== prev) return { ok: false, entries, problem: { kind: 'edited', line: entries, seq: entries } };
  return { ok: true, entries };
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

/**
 * How the chain broke where an entry does not follow the previous one: a later sequence number means
 * entries are missing — unless the missing one turns up further on (reordered); a repeat of the last
 * number means one was inserted; a smaller number means the order was changed.
 */
function breakKind(log: AuditLog, seq: number, expected: number): VerifyProblem['kind'] {
  if (seq === expected || seq === expected - 1) return 'inserted';
  if (seq < expected) return 'reordered';
  for (const { text } of readLines(log.file)) {
    if (text.includes(`"seq":${expected},`)) return 'reordered';
  }
  return 'deleted';
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  since?: Date;
  result?: string;
  limit?: number;
}

/** The newest entries that match, oldest first. */
export function queryLog(log: AuditLog, q: AuditQuery): StoredAuditEntry[] {
  const limit = q.limit ?? 50;
  const out: StoredAuditEntry[] = [];
  for (const { text } of readLines(log.file)) {
    if (!text.trim()) continue;
    let e: StoredAuditEntry;
    try {
      e = JSON.parse(text) as StoredAuditEntry;
    } catch {
      continue;
    }
    if (q.actor && e.actor.toLowerCase() !== q.actor.toLowerCase()) continue;
    if (q.action && !(q.action.endsWith('*') ? (e.action ?? '').startsWith(q.action.slice(0, -1)) : e.action === q.action)) continue;
    if (q.result && e.outcome !== q.result) continue;
    if (q.since && new Date(e.ts) < q.since) continue;
    out.push(e);
    if (out.length > limit) out.shift();
  }
  return out;
}
