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
 */
export interface FetchedToken {
  token: string;
  expiresInS: number;
}

interface Cached {
  token: string;
  fetchedAt: number;
  expiresAt: number;
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
  ) {}

  async get(key: string, fetch: () => Promise<FetchedToken>, signal?: AbortSignal): Promise<string> {
    const hit = this.cached.get(key);
    const now = this.now();
    if (hit && now < this.refreshAt(hit)) return hit.token;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = fetch()
        .then(({ token, expiresInS }) => {
          const at = this.now();
          this.cached.set(key, { token, fetchedAt: at, expiresAt: at + Math.max(0, expiresInS) * 1000 });
          return token;
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

  /** Drops the token only if it is still the one that failed, so a fresher token fetched meanwhile survives. */
  invalidate(key: string, token: string): void {
    if (this.cached.get(key)?.token === token) this.cached.delete(key);
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
