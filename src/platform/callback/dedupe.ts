import { createHash, randomUUID } from 'node:crypto';
import { errorText } from '../../core/errors.js';
import { PeriodicPurge } from '../../store/purge.js';
import type { Store } from '../../store/store.js';
import type { Logger } from '../redact.js';

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
 *
 * Several instances behind one address (a shared PostgreSQL store): a retry may reach another instance
 * than the first attempt. With `store`, the in-memory promises stay the first layer, and each key is also
 * claimed in the store (collection `callback-dedupe`): the instance that claims it does the work and
 * stores the reply; another instance that gets the same message waits (polling, within the platform's
 * 5 s) for that reply and answers with it — or, when it does not come in time, with the fallback, which
 * it does not keep, so a later retry looks again. A failed work releases its claim, so a later retry runs
 * it again; a claim older than the TTL (its instance died) may be taken over, and old keys are purged.
 * When the store cannot be reached the work runs here anyway (de-duplicated in this instance only): a
 * message is never dropped for want of its de-duplication key.
 */
export interface DedupeOptions {
  ttlMs?: number;
  maxEntries?: number;
  /** Milliseconds, like Date.now. */
  now?: () => number;
  /** Shared with the other instances (the PostgreSQL store); absent: this process only. */
  store?: Store;
  /** Keeps one handler's keys apart from another's in the store (`mp`, `wecom`, `bot`). */
  namespace?: string;
  /** How long an instance waits for the reply another instance is working on (default 4 500 ms). */
  waitMs?: number;
  /** How often it looks (default 75 ms). */
  pollMs?: number;
  /** The answer when the other instance's reply does not come in time (default ""). */
  fallback?: string;
  logger?: Logger;
}

export const DEDUPE_COLLECTION = 'callback-dedupe';

/** A key as the store keeps it: who works on it (claim), since when, and the reply once done. */
interface SharedEntry {
  id: string;
  state: 'working' | 'done';
  at: number;
  claim: string;
  reply?: string;
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
  private readonly purge = new PeriodicPurge<SharedEntry>(DEDUPE_COLLECTION, (e) => this.stale(e));

  constructor(private readonly opts: DedupeOptions = {}) {
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

    const shared = this.opts.store ? start(() => this.viaStore(this.opts.store!, key, work)) : undefined;
    const reply = shared ? shared.then((r) => r.reply) : start(work);
    this.entries.set(key, { at: now, reply });
    const forget = () => {
      if (this.entries.get(key)?.reply === reply) this.entries.delete(key);
    };
    // Forget a failure (only if the entry is still this one), without swallowing it for the caller; and
    // a fallback answered while another instance was still working, so that a later retry looks again.
    reply.then(undefined, forget);
    shared?.then((r) => !r.settled && forget(), () => undefined);
    while (this.entries.size > this.maxEntries) this.dropOldest();
    return reply;
  }

  /** The shared layer: claim the key and work, or wait for the instance that claimed it. */
  private async viaStore(store: Store, key: string, work: () => Promise<string>): Promise<{ reply: string; settled: boolean }> {
    const id = createHash('sha256').update(`${this.opts.namespace ?? ''}\u0000${key}`).digest('hex');
    const deadline = this.now() + (this.opts.waitMs ?? 4_500);
    this.purge.maybe(store, this.now(), this.opts.logger);
    for (;;) {
      let claim: string | undefined;
      try {
        claim = await this.claim(store, id);
      } catch (err) {
        this.opts.logger?.warn({ error: errorText(err) }, 'callback de-duplication store unreachable; handling the message here');
        return { reply: await work(), settled: true };
      }
      if (claim) return { reply: await this.work(store, id, claim, work), settled: true };
      // Another instance has it: its reply, once stored.
      for (;;) {
        let entry: SharedEntry | undefined;
        try {
          entry = await store.get<SharedEntry>(DEDUPE_COLLECTION, id);
        } catch {
          entry = undefined;
          if (this.now() >= deadline) return { reply: this.opts.fallback ?? '', settled: false };
        }
        if (entry?.state === 'done') return { reply: entry.reply ?? '', settled: true };
        if (this.now() >= deadline) return { reply: this.opts.fallback ?? '', settled: false };
        // Its work failed (the claim was released) or went stale: try to claim it here.
        if (!entry || this.stale(entry)) break;
        await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 75));
      }
    }
  }

  /**
   * Claims the key for this instance if nobody holds it (or the holder's claim is stale); the claim, or
   * undefined when another instance holds it. Every write of a key goes through `update`, so that claims,
   * replies and releases of one key never interleave across instances.
   */
  private async claim(store: Store, id: string): Promise<string | undefined> {
    const seen = await store.get<SharedEntry>(DEDUPE_COLLECTION, id);
    if (seen && !this.stale(seen)) return undefined;
    const mine: SharedEntry = { id, state: 'working', at: this.now(), claim: randomUUID() };
    const stored = await store.update<SharedEntry>(DEDUPE_COLLECTION, id, (cur) => (!cur || this.stale(cur) ? mine : cur));
    return stored?.claim === mine.claim ? mine.claim : undefined;
  }

  /** The work, its reply stored for the other instances; a failure releases the claim. */
  private async work(store: Store, id: string, claim: string, work: () => Promise<string>): Promise<string> {
    let reply: string;
    try {
      reply = await work();
    } catch (err) {
      await store.update<SharedEntry>(DEDUPE_COLLECTION, id, (cur) => (cur?.claim === claim ? undefined : cur)).catch(() => undefined);
      throw err;
    }
    try {
      await store.update<SharedEntry>(DEDUPE_COLLECTION, id, (cur) => (cur?.claim === claim ? { ...cur, state: 'done', reply } : cur));
    } catch (err) {
      this.opts.logger?.warn({ error: errorText(err) }, 'callback reply not shared with the other instances');
    }
    return reply;
  }

  private stale(e: SharedEntry): boolean {
    return this.now() - e.at >= this.ttlMs;
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

function start<T>(work: () => Promise<T>): Promise<T> {
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
