import { ApiError } from '../errors.js';
import type { FaultConfig } from '../faults.js';
import type { MpRequest, MpRoute } from './router.js';
import type { MpState } from './types.js';
import { shanghaiDate, shanghaiMonth } from './util.js';

/**
 * Daily API quotas (mp.md §10): counted per API on the Beijing calendar day of the simulated clock;
 * past the limit 45009 until the next day. APIs mp.md lists no quota for (tags, datacube …) have none.
 * `mp_quota` in the faults overrides or adds limits.
 */
export const DEFAULT_QUOTA: Record<string, number> = {
  token: 2000,
  stable_token: 500_000,
  'menu/create': 1000,
  'menu/get': 10_000,
  'menu/delete': 1000,
  'menu/addconditional': 2000,
  'menu/delconditional': 2000,
  'menu/trymatch': 20_000,
  'message/custom/send': 500_000,
  'message/mass/sendall': 100,
  'message/mass/send': 100,
  'message/mass/preview': 100,
  'user/get': 500,
  'user/info': 5_000_000,
  'user/info/batchget': 5_000_000,
  'user/info/updateremark': 10_000,
};
const CLEARS_PER_MONTH = 10;

export function quotaLimit(api: string, faults: FaultConfig): number | undefined {
  return faults.mp_quota?.[api] ?? DEFAULT_QUOTA[api];
}

function today(mp: MpState, now: number): Record<string, number> {
  const day = shanghaiDate(now);
  if (mp.quota.day !== day) mp.quota = { day, used: {} };
  return mp.quota.used;
}

/** Counts one call of `api`, or throws 45009 when today's quota is used up. */
export function takeQuota(mp: MpState, api: string, now: number, faults: FaultConfig): void {
  const limit = quotaLimit(api, faults);
  if (limit === undefined) return;
  const used = today(mp, now);
  if ((used[api] ?? 0) >= limit) throw new ApiError(45009);
  used[api] = (used[api] ?? 0) + 1;
}

/** `/cgi-bin/menu/create` → `menu/create`, or 76021 for a path without a quota. */
function apiOfPath(req: MpRequest): string {
  const path = req.body.cgi_path;
  if (typeof path !== 'string' || !path.startsWith('/cgi-bin/')) throw new ApiError(76021);
  const api = path.slice('/cgi-bin/'.length);
  if (quotaLimit(api, req.faults) === undefined) throw new ApiError(76021);
  return api;
}

export const quotaRoutes: Record<string, MpRoute> = {
  'openapi/quota/get': {
    method: 'POST',
    handler(req) {
      const api = apiOfPath(req);
      const daily_limit = quotaLimit(api, req.faults)!;
      const used = today(req.mp, req.now)[api] ?? 0;
      return { quota: { daily_limit, used, remain: Math.max(0, daily_limit - used) } };
    },
  },
  'openapi/quota/clear': {
    method: 'POST',
    handler(req) {
      const api = apiOfPath(req);
      delete today(req.mp, req.now)[api];
      req.changed();
      return {};
    },
  },
  clear_quota: {
    method: 'POST',
    handler(req) {
      if (req.body.appid !== req.creds.mp_appid) throw new ApiError(40013);
      const month = shanghaiMonth(req.now);
      if (req.mp.clear_quota.month !== month) req.mp.clear_quota = { month, count: 0 };
      if (req.mp.clear_quota.count >= CLEARS_PER_MONTH) throw new ApiError(48006);
      req.mp.clear_quota.count++;
      req.mp.quota = { day: shanghaiDate(req.now), used: {} };
      req.changed();
      return {};
    },
  },
};
