import { PlatformError } from '../core/errors.js';
import { t } from '../core/i18n.js';
import type { TransportError, TransportErrorKind } from './http.js';

/**
 * When a platform call is tried again, and when it is not (ARCHITECTURE §7, wecom.md §1.1, §9):
 *
 * - 40014 / 42001 / 40001 on a business call: the token went bad — drop it, fetch a new one, try once more
 *   (never twice: a secret that keeps failing must surface, not loop).
 * - −1 (busy) and 45033 (too many concurrent calls): exponential backoff with jitter, at most `maxRetries`.
 * - 45009 (frequency limit): wait for the window once, then one more try; do not hammer.
 * - transport failures: a connection that was never made is safe to retry for any call; a dropped
 *   connection, a timeout or an unreadable answer is retried only for idempotent calls, because a write may
 *   have taken effect (user/create retried can answer 60102). Writes get an "outcome unknown" error instead.
 *
 * Everything here is pure: the client does the sleeping and the calling.
 */
export interface RetryConfig {
  /** First backoff for −1 / 45033 / transport errors; doubles per retry, with jitter. Default 200 ms. */
  baseDelayMs?: number;
  /** Retries after −1 / 45033 / transport errors (not counting the token refresh or the 45009 wait). Default 3. */
  maxRetries?: number;
  /** How long to wait after 45009 before the one more try (the platform's windows are a minute). Default 60 s. */
  rateLimitWaitMs?: number;
  /** Cap on one backoff delay. Default 5 s. */
  maxDelayMs?: number;
}

export type RetryPolicy = Required<RetryConfig>;

export const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 200, maxRetries: 3, rateLimitWaitMs: 60_000, maxDelayMs: 5_000 };

export function resolveRetry(cfg: RetryConfig = {}): RetryPolicy {
  const out = { ...DEFAULT_RETRY };
  for (const k of Object.keys(out) as (keyof RetryPolicy)[]) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[k] = v;
  }
  return out;
}

/**
 * Which errcodes mean what, per platform:
 * - `token`: "this token is no good" (an expired token often answers 40014, not 42001);
 * - `backoff`: worth a backoff and another try;
 * - `wait`: a per-minute limit — wait for the window once, then one more try.
 */
export interface ErrcodeRules {
  token: ReadonlySet<number>;
  backoff: ReadonlySet<number>;
  wait: ReadonlySet<number>;
}

/** WeCom (wecom.md §9): 45009 is the per-minute frequency limit. */
export const WECOM_ERRCODES: ErrcodeRules = {
  token: new Set([40014, 42001, 40001]),
  backoff: new Set([-1, 45033]),
  wait: new Set([45009]),
};

/**
 * Official Account (mp.md §10): 45011 is the per-minute limit; 45009 is the DAILY quota, so waiting a
 * minute cannot help and it fails at once with a sentence saying so.
 */
export const MP_ERRCODES: ErrcodeRules = {
  token: new Set([40014, 42001, 40001]),
  backoff: new Set([-1]),
  wait: new Set([45011]),
};

/** Delay before retry number `retry` (1-based): base × 2^(retry−1), jittered into its upper half, capped. */
export function backoffDelay(policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, retry: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.baseDelayMs * 2 ** Math.max(0, retry - 1), policy.maxDelayMs);
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** GET endpoints that change something. Every other GET only reads. */
const WRITE_GETS = /(^|\/)(delete|batchdelete|authsucc|del_[a-z_]+)$/;
/** POST endpoints that only read, so sending them twice is harmless. */
const READ_POSTS: ReadonlySet<string> = new Set([
  'user/list_id',
  'user/getuserid',
  'user/get_userid_by_email',
  'user/convert_to_openid',
  'department/simplelist',
  'externalcontact/batch/get_by_user',
  'externalcontact/get_corp_tag_list',
  'externalcontact/groupchat/list',
  'externalcontact/groupchat/get',
  'externalcontact/get_user_behavior_data',
  'externalcontact/groupchat/statistic',
  'externalcontact/groupchat/statistic_group_by_day',
  'externalcontact/get_unassigned_list',
  'externalcontact/transfer_result',
  'externalcontact/resigned/transfer_result',
  'externalcontact/list_contact_way',
  'externalcontact/get_contact_way',
  'oa/getapprovalinfo',
  'oa/getapprovaldetail',
  // Official Account reads sent as POST (mp.md).
  'tags/getidlist',
  'user/tag/get',
  'user/info/batchget',
  'message/mass/get',
  'message/mass/speed/get',
  'menu/trymatch',
  'wxopen/wxamplinkget',
  'openapi/quota/get',
]);

/** Whether sending this call twice is harmless (reads). Writes are never silently repeated after a transport failure. */
export function isIdempotent(api: string, method: 'GET' | 'POST'): boolean {
  return method === 'GET' ? !WRITE_GETS.test(api) : READ_POSTS.has(api) || api.startsWith('datacube/');
}

/** What happened so far in one call; the client keeps one per call. */
export interface RetryState {
  /** Backoff retries used (−1, 45033, transport). */
  retries: number;
  tokenRefreshed: boolean;
  rateLimitWaited: boolean;
}

export function newRetryState(): RetryState {
  return { retries: 0, tokenRefreshed: false, rateLimitWaited: false };
}

export type Decision =
  | { kind: 'refresh-token' }
  | { kind: 'retry'; delayMs: number; reason: 'busy' | 'concurrency' | 'rate-limit' | 'transport' }
  | { kind: 'fail' };

/** What to do after the platform answered with a non-zero errcode. Updates `state` when it says retry. */
export function decideOnErrcode(errcode: number, state: RetryState, policy: RetryPolicy, rules: ErrcodeRules = WECOM_ERRCODES): Decision {
  if (rules.token.has(errcode)) {
    if (state.tokenRefreshed) return { kind: 'fail' };
    state.tokenRefreshed = true;
    return { kind: 'refresh-token' };
  }
  if (rules.backoff.has(errcode)) {
    if (state.retries >= policy.maxRetries) return { kind: 'fail' };
    state.retries++;
    return { kind: 'retry', delayMs: backoffDelay(policy, state.retries), reason: errcode === -1 ? 'busy' : 'concurrency' };
  }
  if (rules.wait.has(errcode)) {
    if (state.rateLimitWaited) return { kind: 'fail' };
    state.rateLimitWaited = true;
    return { kind: 'retry', delayMs: policy.rateLimitWaitMs, reason: 'rate-limit' };
  }
  return { kind: 'fail' };
}

/** What to do after a transport failure. A connection never made is safe to retry for any call. */
export function decideOnTransport(kind: TransportErrorKind, idempotent: boolean, state: RetryState, policy: RetryPolicy): Decision {
  if (!idempotent && kind !== 'connect') return { kind: 'fail' };
  if (state.retries >= policy.maxRetries) return { kind: 'fail' };
  state.retries++;
  return { kind: 'retry', delayMs: backoffDelay(policy, state.retries), reason: 'transport' };
}

/** Local (negative) errcodes for failures that never got a platform answer. */
export const LOCAL_ERRCODES = { network: -2, timeout: -3, badResponse: -4, repeatedCursor: -5, connect: -6 } as const;

export function localErrcodeFor(kind: TransportErrorKind): number {
  return kind === 'timeout' ? LOCAL_ERRCODES.timeout : kind === 'bad-response' ? LOCAL_ERRCODES.badResponse : kind === 'connect' ? LOCAL_ERRCODES.connect : LOCAL_ERRCODES.network;
}

/**
 * The error for a call that got no usable answer. For a write that may have reached the platform, says
 * the outcome is unknown and to check before retrying; for reads and unmade connections, to check the network.
 */
export function transportFailure(api: string, err: TransportError, idempotent: boolean, platform: 'wecom' | 'mp' = 'wecom'): PlatformError {
  const code = localErrcodeFor(err.kind);
  const what = {
    timeout: ['超时没有应答', 'did not answer in time'],
    network: ['连接中断', 'dropped the connection'],
    'bad-response': ['返回了无法识别的应答', 'sent an answer that is not JSON'],
    connect: ['无法连接', 'could not be reached'],
  }[err.kind];
  const params = {
    api,
    zh: what[0],
    en: what[1],
    pzh: platform === 'mp' ? '公众号' : '企业微信',
    pen: platform === 'mp' ? 'Official Account' : 'WeCom',
    env: platform === 'mp' ? 'WXOPS_MP_BASE_URL' : 'WXOPS_WECOM_BASE_URL',
  };
  let text;
  if (err.kind === 'connect') {
    text = t(
      '{pzh}接口 {api} {zh}（重试后仍失败），本次操作没有执行：请检查网络和 {env} 后再试。',
      'The {pen} API {api} {en} (retries did not help), so nothing was done: check the network and {env}, then try again.',
      params,
    );
  } else if (idempotent) {
    text = t(
      '{pzh}接口 {api} {zh}，重试后仍失败：请检查网络后再试。',
      'The {pen} API {api} {en} and retries did not help: check the network and try again.',
      params,
    );
  } else {
    text = t(
      '{pzh}接口 {api} {zh}，这次写入是否生效未知：请先查看当前数据，确认没有生效后再重试。',
      'The {pen} API {api} {en}, so whether this write took effect is unknown: check the current data before trying again.',
      params,
    );
  }
  return new PlatformError(api, code, err.message, text);
}
