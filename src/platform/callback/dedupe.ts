import { createHash } from 'node:crypto';

/**
 * The platforms retry a callback that has not been answered within 5 s, 3 attempts in total (mp.md §6.4,
 * wecom.md §8.3). A retry often arrives while the first attempt is still being worked on, so remembering
 * "seen" is not enough: each message key maps to the PROMISE of its reply, and a retry gets that same
 * promise — same reply, and the work (a command, a database write) runs once.
 *
 * - TTL from the first arrival (default 5 min: the retries come within ~15 s); bounded (default 10 000
 *   keys, oldest dropped first). Map keeps insertion order, and with one TTL for all entries that is also
 *   expiry order, so expiry and eviction take the oldest entry: O(1) per call, amortised.
 * - A reply that fails is forgotten as soon as it fails, so a retry after a crash runs the work again.
 */
export interface DedupeOptions {
  ttlMs?: number;
  maxEntries?: number;
  /** Milliseconds, like Date.now. */
  now?: () => number;
}

interface Entry {
  at: number;
  reply: Promise<string>;
}

export class CallbackDedupe {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: DedupeOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 5 * 60_000;
    this.maxEntries = Math.max(1, opts.maxEntries ?? 10_000);
    this.now = opts.now ?? Date.now;
  }

  /**
   * The reply for `key`: the one already under way or done (within the TTL), else `work()`'s.
   * Without a key (a message that cannot be told apart from others) the work just runs.
   */
  run(key: string | undefined, work: () => Promise<string>): Promise<string> {
    if (key === undefined) return start(work);
    const now = this.now();
    this.expire(now);
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.reply;
    if (hit) this.entries.delete(key);

    const reply = start(work);
    this.entries.set(key, { at: now, reply });
    // Forget a failure (only if the entry is still this one), without swallowing it for the caller.
    reply.then(undefined, () => {
      if (this.entries.get(key)?.reply === reply) this.entries.delete(key);
    });
    while (this.entries.size > this.maxEntries) this.dropOldest();
    return reply;
  }

  has(key: string): boolean {
    const hit = this.entries.get(key);
    return hit !== undefined && this.now() - hit.at < this.ttlMs;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  /** Drops expired entries from the old end; stops at the first live one. */
  private expire(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.at < this.ttlMs) return;
      this.entries.delete(key);
    }
  }

  private dropOldest(): void {
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}

function start(work: () => Promise<string>): Promise<string> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err);
  }
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The de-duplication key of a callback message, or undefined when it has nothing to tell it apart.
 *
 * - Messages: `MsgId` (`MsgID` in MP mass/template job events, `msgid` in 智能机器人 JSON), scoped by the
 *   receiving account/corp (`ToUserName`).
 * - Events: the platforms say FromUserName + CreateTime. That alone would merge distinct events of one
 *   second — a contacts import makes WeCom send many `sys` change_contact events with the same
 *   CreateTime — so a digest of the whole message is added: a retry is the same message, field for field.
 */
export function dedupeKey(message: Record<string, unknown>): string | undefined {
  const scope = text(message.ToUserName) ?? text(message.aibotid) ?? '';
  const id = text(message.MsgId) ?? text(message.MsgID) ?? text(message.msgid);
  if (id !== undefined) return `m\u0000${scope}\u0000${id}`;
  const from = text(message.FromUserName);
  const at = text(message.CreateTime);
  if (from === undefined || at === undefined) return undefined;
  const digest = createHash('sha1').update(JSON.stringify(message)).digest('base64url');
  return `e\u0000${scope}\u0000${from}\u0000${at}\u0000${text(message.Event) ?? ''}\u0000${digest}`;
}

/**
 * `reply`, or `fallback` if it is not ready within `ms` — the platforms give up after 5 s and retry. The
 * default fallback "" (an empty 200) tells them not to retry; send a late answer through the
 * customer-service / message API instead. The work itself goes on, and its result stays in the dedupe.
 */
export function replyWithin(reply: Promise<string>, ms = 4_500, fallback = ''): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
    timer.unref?.();
  });
  return Promise.race([reply, late]).finally(() => clearTimeout(timer));
}
