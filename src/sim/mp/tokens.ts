import { randomBytes } from 'node:crypto';
import type { DemoCredentials } from '../auth.js';
import type { SimClock } from '../clock.js';
import { ApiError } from '../errors.js';
import type { Faults } from '../faults.js';
import type { MpRequest, MpRoute } from './router.js';
import { shanghaiDate } from './util.js';

/**
 * Official Account access tokens (mp.md §1), separate from WeCom's.
 *
 * - `token`: every call issues a new token; the previous one keeps working for 5 minutes, then 40001
 *   ("access_token is invalid or not latest").
 * - `stable_token`: the same token while it has more than 5 minutes left; in its last 5 minutes a call
 *   rotates it (the old one runs out on its own). `force_refresh` issues a new one at once (the old one
 *   keeps 5 more minutes), at most 20 a day and 30 s apart. The two token spaces are independent.
 *
 * Past its lifetime a token answers 42001, or the `expired_token_errcode` fault. `token_ttl_s` shortens
 * the lifetime as for WeCom.
 */
export const OVERLAP_MS = 5 * 60_000;
const FORCE_PER_DAY = 20;
const FORCE_GAP_MS = 30_000;

interface Issued {
  expiresAt: number;
  /** When it stops working because a newer one replaced it. */
  revokedAt?: number;
}

export class MpTokens {
  private readonly issued = new Map<string, Issued>();
  private latestClassic?: Issued;
  private latestStable?: { token: string; t: Issued };
  private force = { day: '', count: 0, lastAt: -Infinity };

  constructor(
    private readonly creds: DemoCredentials,
    private readonly clock: SimClock,
    private readonly faults: Faults,
  ) {}

  /** Checks grant_type, appid and secret, in the order the platform does. */
  checkCredentials(grantType: unknown, appid: unknown, secret: unknown): void {
    if (grantType !== 'client_credential') throw new ApiError(40002);
    if (!appid) throw new ApiError(41002);
    if (!secret) throw new ApiError(41004);
    if (appid !== this.creds.mp_appid) throw new ApiError(40013);
    if (secret !== this.creds.mp_secret) throw new ApiError(40001);
  }

  issueClassic(): { access_token: string; expires_in: number } {
    const now = this.clock.now();
    if (this.latestClassic) this.revoke(this.latestClassic, now);
    const { token, t } = this.mint(now);
    this.latestClassic = t;
    return { access_token: token, expires_in: Math.round((t.expiresAt - now) / 1000) };
  }

  issueStable(forceRefresh: boolean): { access_token: string; expires_in: number } {
    const now = this.clock.now();
    const current = this.latestStable;
    if (forceRefresh) {
      const day = shanghaiDate(now);
      if (this.force.day !== day) this.force = { day, count: 0, lastAt: this.force.lastAt };
      if (this.force.count >= FORCE_PER_DAY) throw new ApiError(45009);
      if (now - this.force.lastAt < FORCE_GAP_MS) throw new ApiError(45011);
      this.force.count++;
      this.force.lastAt = now;
    }
    const usable = current && this.working(current.t, now) && current.t.expiresAt - now > OVERLAP_MS;
    if (!forceRefresh && usable) {
      return { access_token: current.token, expires_in: Math.round((current.t.expiresAt - now) / 1000) };
    }
    if (current && forceRefresh) this.revoke(current.t, now);
    const minted = this.mint(now);
    this.latestStable = minted;
    return { access_token: minted.token, expires_in: Math.round((minted.t.expiresAt - now) / 1000) };
  }

  check(token: string | null): void {
    if (!token) throw new ApiError(41001);
    const t = this.issued.get(token);
    if (!t) throw new ApiError(40014);
    const now = this.clock.now();
    if (t.revokedAt !== undefined && t.revokedAt <= now && t.revokedAt < t.expiresAt) throw new ApiError(40001);
    if (t.expiresAt <= now) throw new ApiError(this.faults.config.expired_token_errcode ?? 42001);
  }

  expireAll(): void {
    for (const t of this.issued.values()) t.expiresAt = 0;
  }

  private working(t: Issued, now: number): boolean {
    return t.expiresAt > now && (t.revokedAt === undefined || t.revokedAt > now);
  }

  private revoke(t: Issued, now: number): void {
    t.revokedAt = Math.min(t.revokedAt ?? Infinity, now + OVERLAP_MS);
  }

  private mint(now: number): { token: string; t: Issued } {
    const ttl = this.faults.config.token_ttl_s ?? 7200;
    // Real tokens are long opaque strings (store ≥ 512 chars); 136 is their usual length.
    const token = randomBytes(102).toString('base64url');
    const t: Issued = { expiresAt: now + ttl * 1000 };
    this.issued.set(token, t);
    return { token, t };
  }
}

/** `token` (GET, query) and `stable_token` (POST, JSON): no access_token, their own daily quotas. */
export function tokenRoutes(tokens: MpTokens, take: (api: string, req: MpRequest) => void): Record<string, MpRoute> {
  return {
    token: {
      method: 'GET',
      auth: false,
      bare: true,
      handler(req) {
        const q = req.query;
        tokens.checkCredentials(q.get('grant_type'), q.get('appid'), q.get('secret'));
        take('token', req);
        return tokens.issueClassic();
      },
    },
    stable_token: {
      method: 'POST',
      auth: false,
      bare: true,
      handler(req) {
        const b = req.body;
        tokens.checkCredentials(b.grant_type, b.appid, b.secret);
        if (b.force_refresh !== undefined && typeof b.force_refresh !== 'boolean') throw new ApiError(47001);
        take('stable_token', req);
        return tokens.issueStable(b.force_refresh === true);
      },
    },
  };
}
