import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
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
      const body = { seq: head.seq + 1, ts: now.toISOString(), ...entry, prev: head.hash };
      const hash = hashEntry(body);
      const stored: StoredAuditEntry = { ...body, hash };
      const fd = openSync(this.file, 'a');
      try {
        writeSync(fd, `${JSON.stringify(stored)}\n`);
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

export function hashEntry(body: Omit<StoredAuditEntry, 'hash'>): string {
  return createHash('sha256').update(canonical(body)).digest('hex');
}

/** Key-sorted JSON so that the hash does not depend on property order. */
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
  for (const { line, text } of readLines(log.file)) {
    if (!text.trim()) continue;
    let e: StoredAuditEntry;
    try {
      e = JSON.parse(text) as StoredAuditEntry;
    } catch {
      return { ok: false, entries, problem: { kind: 'unreadable', line, seq: expected } };
    }
    const { hash, ...body } = e;
    if (hashEntry(body) !== hash) return { ok: false, entries, problem: { kind: 'edited', line, seq: e.seq } };
    if (e.prev !== prev || e.seq !== expected) return { ok: false, entries, problem: { kind: breakKind(log, e.seq, expected), line, seq: e.seq } };
    prev = hash;
    expected++;
    entries++;
  }
  const head = log.head();
  if (head.seq > entries) return { ok: false, entries, problem: { kind: 'truncated', line: entries + 1, seq: entries + 1 } };
  if (head.seq === entries && head.hash !== prev) return { ok: false, entries, problem: { kind: 'edited', line: entries, seq: entries } };
  return { ok: true, entries };
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
