import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

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
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
