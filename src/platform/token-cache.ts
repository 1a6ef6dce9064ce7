/**
 * Access tokens, one per (corp or appid, secret) — never shared between secrets, because a token of
 * one app fails on another's calls (wecom.md §1.1, §11 item 2). Refreshed a few minutes before expiry,
 * and single-flight: however many calls need a token at once, one fetch happens.
 */
export interface FetchedToken {
  token: string;
  expiresInS: number;
}

interface Cached {
  token: string;
  expiresAt: number;
}

export class TokenCache {
  private readonly cached = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly earlyRefreshMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string, fetch: () => Promise<FetchedToken>): Promise<string> {
    const hit = this.cached.get(key);
    if (hit && hit.expiresAt - this.earlyRefreshMs > this.now()) return hit.token;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = fetch()
        .then(({ token, expiresInS }) => {
          this.cached.set(key, { token, expiresAt: this.now() + expiresInS * 1000 });
          return token;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /** Drops the token only if it is still the one that failed, so a fresher token fetched meanwhile survives. */
  invalidate(key: string, token: string): void {
    if (this.cached.get(key)?.token === token) this.cached.delete(key);
  }
}
