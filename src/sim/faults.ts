/**
 * Fault injection, switched on per run through `/_sim/faults`. In memory only: a restarted simulator
 * starts healthy.
 */
export interface FailRule {
  api?: string;
  errcode: number;
  times?: number;
  rate?: number;
}

export interface DropRule {
  api?: string;
  times?: number;
}

export interface FaultConfig {
  latency_ms?: number;
  fail?: FailRule[];
  drop?: DropRule[];
  expired_token_errcode?: 40014 | 42001;
  token_ttl_s?: number;
  rate_limit_per_min?: Record<string, number>;
  concurrency_limit?: number;
  /**
   * Calls in flight per API, by API name or a prefix ending in `*` (`externalcontact/*`); over
   * `concurrency_limit` and the defaults (wecom.md §9: about 10 for external-contact APIs).
   */
  concurrency_limit_per_api?: Record<string, number>;
  unknown_department_errcode?: 60003 | 60123;
  /** Official Account daily quotas per API (`menu/create`: 2), over mp.md §10's defaults. */
  mp_quota?: Record<string, number>;
  /** Page size of MP `user/get` and `user/tag/get` (10,000 on the platform), so tests can page. */
  mp_page_size?: number;
  /** A menu button naming a mini program that exists but is not linked: 85005 (seen) or 40166. */
  mp_unlinked_weapp_errcode?: 85005 | 40166;
  /** Messages per rolling minute per group-robot webhook key (wecom.md §6.3: 20), so tests can hit 45009 sooner. */
  webhook_limit_per_min?: number;
}

export const DEFAULT_RATE_LIMIT_PER_MIN = 10_000;
export const DEFAULT_CONCURRENCY_LIMIT = 20;
/** Per-API defaults: community reports put external-contact APIs at about 10 in flight (wecom.md §9). */
export const DEFAULT_CONCURRENCY_PER_API: Record<string, number> = { 'externalcontact/*': 10 };

export class Faults {
  config: FaultConfig = {};

  merge(patch: FaultConfig): void {
    const { fail, drop, ...rest } = patch;
    this.config = {
      ...this.config,
      ...rest,
      fail: [...(this.config.fail ?? []), ...(fail ?? []).map((r) => ({ ...r, times: r.rate === undefined ? (r.times ?? 1) : r.times }))],
      drop: [...(this.config.drop ?? []), ...(drop ?? []).map((r) => ({ ...r, times: r.times ?? 1 }))],
      rate_limit_per_min: { ...this.config.rate_limit_per_min, ...rest.rate_limit_per_min },
      mp_quota: { ...this.config.mp_quota, ...rest.mp_quota },
      concurrency_limit_per_api: { ...this.config.concurrency_limit_per_api, ...rest.concurrency_limit_per_api },
    };
  }

  reset(): void {
    this.config = {};
  }

  /** An errcode to answer instead of handling the call, if a rule says so (and uses it up). */
  takeFailure(api: string): number | undefined {
    for (const rule of this.config.fail ?? []) {
      if (rule.api && rule.api !== api) continue;
      if (rule.rate !== undefined) {
        if (Math.random() < rule.rate) return rule.errcode;
        continue;
      }
      if ((rule.times ?? 0) > 0) {
        rule.times!--;
        return rule.errcode;
      }
    }
    return undefined;
  }

  takeDrop(api: string): boolean {
    for (const rule of this.config.drop ?? []) {
      if (rule.api && rule.api !== api) continue;
      if ((rule.times ?? 0) > 0) {
        rule.times!--;
        return true;
      }
    }
    return false;
  }

  rateLimit(api: string): number {
    return this.config.rate_limit_per_min?.[api] ?? DEFAULT_RATE_LIMIT_PER_MIN;
  }

  /** A per-API override (exact name, then the longest matching `prefix*`), else `concurrency_limit`, else the defaults. */
  concurrencyLimit(api = ''): number {
    const own = perApi(this.config.concurrency_limit_per_api ?? {}, api);
    if (own !== undefined) return own;
    if (this.config.concurrency_limit !== undefined) return this.config.concurrency_limit;
    return perApi(DEFAULT_CONCURRENCY_PER_API, api) ?? DEFAULT_CONCURRENCY_LIMIT;
  }
}

function perApi(table: Record<string, number>, api: string): number | undefined {
  if (table[api] !== undefined) return table[api];
  let best: [number, number] | undefined;
  for (const [pattern, limit] of Object.entries(table)) {
    if (!pattern.endsWith('*') || !api.startsWith(pattern.slice(0, -1))) continue;
    if (!best || pattern.length > best[0]) best = [pattern.length, limit];
  }
  return best?.[1];
}
