import { createHash } from 'node:crypto';

/**
 * Access tokens, one per (corp or appid, secret) — never shared between secrets, because a token of
 * one app fails on another's calls (wecom.md §1.1, §11 item 2).
 *
 * - Refreshed early: a token is used until `earlyRefreshMs` (default 5 min, at most half its lifetime)
 *   before it expires; after that the next caller refreshes it. If that refresh fails while the old token
 *   is still inside its lifetime, the old token is used.
 * - Single-flight: however many callers need a token at once, one fetch runs and they all share it.
 *   The shared fetch is not tied to any one caller's AbortSignal: a caller that gives up stops waiting,
 *   the others still get the token.
 * - Shared across instances (when a `SharedTokens` is given — the PostgreSQL store): one refresher at a
 *   time for all instances, because a new Official Account token invalidates the previous one. A fetch
 *   first reads the shared token (another instance may have refreshed it) and uses it while it is fresh;
 *   otherwise it takes the credential's lock, reads again, and only then asks the platform and stores
 *   what it got. A token the platform refused is dropped from the shared store only if it is still the
 *   one stored, so a fresher one fetched meanwhile by another instance survives.
 */
export interface FetchedToken {
  token: string;
  expiresInS: number;
}

export interface Cached {
  token: string;
  fetchedAt: number;
  expiresAt: number;
}

/** Where instances keep the tokens they share, keyed by `tokenKey` (a hash: the secret never appears). */
export interface SharedTokens {
  get(key: string): Promise<Cached | undefined>;
  put(key: string, token: Cached): Promise<void>;
  /** Drops the stored token only if it is still `token`. */
  invalidate(key: string, token: string): Promise<void>;
  /** Runs `fn` as the only refresher of `key` across all instances. */
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** The cache key for a credential pair; the secret goes in hashed, so the key itself is not a secret. */
export function tokenKey(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

export class TokenCache {
  private readonly cached = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly earlyRefreshMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
    private readonly shared?: SharedTokens,
  ) {}

  async get(key: string, fetch: () => Promise<FetchedToken>, signal?: AbortSignal): Promise<string> {
    const hit = this.cached.get(key);
    const now = this.now();
    if (hit && now < this.refreshAt(hit)) return hit.token;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = (this.shared ? this.fromShared(this.shared, key, fetch) : fetch().then((f) => this.fresh(f)))
        .then((c) => {
          this.cached.set(key, c);
          return c.token;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const shared = hit
      ? pending.catch((err) => {
          // The early refresh failed; the old token is still good for a while.
          const still = this.cached.get(key);
          if (still && this.now() < still.expiresAt) return still.token;
          throw err;
        })
      : pending;
    return signal ? abortable(shared, signal) : shared;
  }

  /**
   * Drops the token only if it is still the one that failed, so a fresher token fetched meanwhile survives
   * — here and, when shared, in the store (resolves once the store has been told).
   */
  async invalidate(key: string, token: string): Promise<void> {
    if (this.cached.get(key)?.token === token) this.cached.delete(key);
    await this.shared?.invalidate(key, token);
  }

  /** The shared token if still fresh; else, as the one refresher across instances, a new one stored for all. */
  private async fromShared(shared: SharedTokens, key: string, fetch: () => Promise<FetchedToken>): Promise<Cached> {
    const usable = (c: Cached | undefined): c is Cached => !!c && this.now() < this.refreshAt(c);
    const seen = await shared.get(key);
    if (usable(seen)) return seen;
    return shared.exclusive(key, async () => {
      // Another instance may have refreshed it while this one waited for the lock.
      const now = await shared.get(key);
      if (usable(now)) return now;
      const got = this.fresh(await fetch());
      await shared.put(key, got);
      return got;
    });
  }

  private fresh({ token, expiresInS }: FetchedToken): Cached {
    const at = this.now();
    return { token, fetchedAt: at, expiresAt: at + Math.max(0, expiresInS) * 1000 };
  }

  clear(): void {
    this.cached.clear();
  }

  private refreshAt(c: Cached): number {
    const lifetime = c.expiresAt - c.fetchedAt;
    return c.expiresAt - Math.min(this.earlyRefreshMs, lifetime / 2);
  }
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Tokens shared through the store (collection `tokens`, kept out of exports and backups). */
export const TOKENS_COLLECTION = 'tokens';

/** `SharedTokens` on a store; `store` is asked for on each use, so a store that reconnects is picked up. */
export function storeTokens(store: () => Promise<import('../store/store.js').Store>): SharedTokens {
  return {
    get: async (key) => (await store()).get<Cached>(TOKENS_COLLECTION, key),
    // Every store write takes the key's lock, so a put never lands inside `invalidate`'s update.
    put: async (key, token) => (await store()).put<Cached>(TOKENS_COLLECTION, key, token),
    invalidate: async (key, token) => {
      const s = await store();
      if ((await s.get<Cached>(TOKENS_COLLECTION, key))?.token !== token) return;
      await s.update<Cached>(TOKENS_COLLECTION, key, (cur) => (cur?.token === token ? undefined : cur));
    },
    exclusive: async (key, fn) => (await store()).exclusive(`token:${key}`, fn),
  };
}
