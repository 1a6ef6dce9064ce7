import type { Dispatcher, FormData } from 'undici';
import { PlatformError } from '../core/errors.js';
import type { Text } from '../core/i18n.js';
import { createAgent, resolveTimeouts, sendJson, TransportError, type HttpTimeouts } from './http.js';
import { KeyedLimiter, sleep, WindowBudget } from './limiter.js';
import { redactingLogger, registerSecret, silentLogger, type Logger } from './redact.js';
import {
  decideOnErrcode,
  decideOnTransport,
  isIdempotent,
  localErrcodeFor,
  newRetryState,
  resolveRetry,
  transportFailure,
  type ErrcodeRules,
  type RetryConfig,
  type RetryPolicy,
} from './retry.js';
import { TokenCache, type SharedTokens } from './token-cache.js';

export type { RetryConfig } from './retry.js';

export interface RateLimitConfig {
  /** Calls allowed per window, per API path (e.g. `{ 'user/create': 600 }`); a number applies to every API. */
  perMinute: Record<string, number> | number;
  /** The window length. Default 60 000 ms (tests use a short one). */
  windowMs?: number;
}

/** What both platform clients share: where, how long, how many at once, how to retry, where to log. */
export interface ApiClientConfig {
  baseUrl: string;
  /** Timeout of each request: the whole exchange, and each of connect, headers and body. Default 10 000 ms. */
  timeoutMs?: number;
  /** Per-phase overrides of `timeoutMs`. */
  timeouts?: Partial<HttpTimeouts>;
  /** Calls of one API in flight at once. Default 12 (WeCom answers 45033 above roughly 10–20). */
  maxConcurrencyPerApi?: number;
  /** Optional per-API budget of calls per minute, to stay under the platform's limits. Off by default. */
  rateLimit?: RateLimitConfig;
  retry?: RetryConfig;
  /** pino-compatible; every line it gets is redacted. Default: no logging. */
  logger?: Logger;
  /** An undici dispatcher to send through (benchmarks, proxies). Default: a keep-alive Agent owned by the client. */
  dispatcher?: Dispatcher;
  /**
   * Where several instances share their tokens (the PostgreSQL store): one refresher at a time across all
   * of them, the others read the shared token. Default: tokens are this process's own.
   */
  sharedTokens?: SharedTokens;
}

export interface CallOptions<K extends string> {
  /** Which credential's token to send. */
  secret: K;
  /** Default: POST when there is a body or form, else GET. */
  method?: 'GET' | 'POST';
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** A multipart body (media/upload). */
  form?: FormData;
  /** Safe to send twice. Default: GETs that only read, and POST reads (see retry.ts). */
  idempotent?: boolean;
  signal?: AbortSignal;
  /** A top-level array of the answer whose elements are wanted as bytes, unparsed (http.ts). */
  rawArray?: string;
}

/** How one platform fetches a token: the request, and its errors explained. */
export interface TokenRequest {
  api: string;
  url: string;
  method: 'GET' | 'POST';
  json?: unknown;
}

/**
 * One platform API client (ARCHITECTURE §7): a token per credential, refreshed early and single-flight;
 * one retry after a token error; backoff on busy/concurrency errcodes; one wait on a per-minute limit;
 * transport failures retried only where safe; a cap on calls in flight per API and an optional budget per
 * minute; timeouts; errcode-based errors naming what to fix; redacted logs. The WeCom and Official Account
 * clients differ only in URLs, how a token is fetched, which errcodes mean what, and the sentences.
 *
 * Every request logs one line: `{api, method, attempt, durationMs, errcode}` (plus `transport` for
 * transport failures) — never the URL, whose query holds the token.
 */
export abstract class ApiClient<K extends string> {
  protected readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  protected readonly tokens: TokenCache;
  private readonly limiter: KeyedLimiter;
  private readonly budget?: WindowBudget;
  protected readonly policy: RetryPolicy;
  protected readonly timeouts: HttpTimeouts;
  protected readonly log: Logger;
  protected readonly base: string;

  /** `wecom` or `mp`, for log lines and messages. */
  protected abstract readonly platform: 'wecom' | 'mp';
  protected abstract readonly errcodeRules: ErrcodeRules;

  constructor(cfg: ApiClientConfig, secrets: (string | undefined)[]) {
    this.base = cfg.baseUrl.replace(/\/+$/, '');
    this.tokens = new TokenCache(undefined, undefined, cfg.sharedTokens);
    this.timeouts = resolveTimeouts(cfg.timeoutMs, cfg.timeouts);
    this.policy = resolveRetry(cfg.retry);
    this.ownsDispatcher = !cfg.dispatcher;
    this.dispatcher = cfg.dispatcher ?? createAgent({ connectTimeoutMs: this.timeouts.connectMs });
    this.limiter = new KeyedLimiter(cfg.maxConcurrencyPerApi ?? 12, (api) => this.platformConcurrency(api));
    if (cfg.rateLimit) {
      const per = cfg.rateLimit.perMinute;
      this.budget = new WindowBudget((api) => (typeof per === 'number' ? per : per[api]), cfg.rateLimit.windowMs ?? 60_000);
    }
    this.log = redactingLogger(cfg.logger ?? silentLogger);
    for (const s of secrets) if (s) registerSecret(s);
  }

  /** Calls of one API the platform takes at once, where it allows fewer than the configured cap. */
  protected platformConcurrency(_api: string): number | undefined {
    return undefined;
  }

  /** Calls of `api` this client keeps in flight at most: bulk readers size their parallel chains by it. */
  concurrencyFor(api: string): number {
    return this.limiter.limitOf(api);
  }

  /** The URL of a business call; the token is already in `query`. */
  protected abstract url(api: string, query: Record<string, string | number | undefined>): string;
  /** The key of a credential's token in the cache; throws (RuntimeFailure) when it is not configured. */
  protected abstract tokenKey(kind: K): string;
  protected abstract tokenRequest(kind: K): TokenRequest;
  /** The sentence for an errcode, naming what to fix. */
  protected abstract describe(errcode: number, api: string, errmsg: string, kind: K): Text;
  protected abstract shortMessage(errmsg: string): string;

  /**
   * Calls `api` and returns the JSON answer when its errcode is absent or 0; otherwise throws a
   * `PlatformError` (or a `RuntimeFailure` when the credential is not configured).
   */
  call<T = any>(api: string, opts: CallOptions<K>): Promise<T> {
    return this.limiter.run(api, () => this.callWithRetries<T>(api, opts), opts.signal);
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async callWithRetries<T>(api: string, opts: CallOptions<K>): Promise<T> {
    const method = opts.method ?? (opts.body !== undefined || opts.form ? 'POST' : 'GET');
    const idempotent = opts.idempotent ?? isIdempotent(api, method);
    const state = newRetryState();
    for (let attempt = 1; ; attempt++) {
      const token = await this.token(opts.secret, opts.signal);
      if (this.budget) await this.budget.take(api, opts.signal);
      const started = performance.now();
      let body: any;
      try {
        body = await sendJson(this.dispatcher, {
          url: this.url(api, { ...opts.query, access_token: token }),
          method,
          json: method === 'POST' && !opts.form ? (opts.body ?? {}) : undefined,
          form: opts.form,
          timeouts: this.timeouts,
          signal: opts.signal,
          rawArray: opts.rawArray,
        });
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        const decision = decideOnTransport(err.kind, idempotent, state, this.policy);
        this.log.warn(
          { api, method, attempt, durationMs: ms(started), errcode: localErrcodeFor(err.kind), transport: err.kind, reason: err.message, next: decision.kind === 'retry' ? `retry in ${decision.delayMs} ms` : 'give up' },
          `${this.platform} call failed in transport`,
        );
        if (decision.kind === 'retry') {
          await sleep(decision.delayMs, opts.signal);
          continue;
        }
        throw transportFailure(api, err, idempotent, this.platform);
      }
      const errcode: number = typeof body.errcode === 'number' ? body.errcode : 0;
      if (errcode === 0) {
        this.log.debug({ api, method, attempt, durationMs: ms(started), errcode }, `${this.platform} call`);
        return body as T;
      }
      const errmsg = String(body.errmsg ?? '');
      const decision = decideOnErrcode(errcode, state, this.policy, this.errcodeRules);
      const next = decision.kind === 'refresh-token' ? 'refresh token and retry' : decision.kind === 'retry' ? `retry in ${decision.delayMs} ms` : 'give up';
      (decision.kind === 'fail' ? this.log.info : this.log.warn).call(this.log, { api, method, attempt, durationMs: ms(started), errcode, errmsg, next }, `${this.platform} call answered an error`);
      if (decision.kind === 'refresh-token') {
        await this.tokens.invalidate(this.tokenKey(opts.secret), token);
        continue;
      }
      if (decision.kind === 'retry') {
        await sleep(decision.delayMs, opts.signal);
        continue;
      }
      throw new PlatformError(api, errcode, this.shortMessage(errmsg), this.describe(errcode, api, errmsg, opts.secret));
    }
  }

  private async token(kind: K, signal?: AbortSignal): Promise<string> {
    const key = this.tokenKey(kind);
    return this.tokens.get(key, () => this.fetchToken(kind), signal);
  }

  /** The token call, retried on busy errcodes and transport failures (it is a read); never tied to one caller's signal. */
  private async fetchToken(kind: K): Promise<{ token: string; expiresInS: number }> {
    const req = this.tokenRequest(kind);
    const state = newRetryState();
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let body: any;
      try {
        body = await sendJson(this.dispatcher, { url: req.url, method: req.method, json: req.json, timeouts: this.timeouts });
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        const decision = decideOnTransport(err.kind, true, state, this.policy);
        this.log.warn({ api: req.api, method: req.method, cred: kind, attempt, durationMs: ms(started), errcode: localErrcodeFor(err.kind), transport: err.kind, reason: err.message }, `${this.platform} token call failed in transport`);
        if (decision.kind === 'retry') {
          await sleep(decision.delayMs);
          continue;
        }
        throw transportFailure(req.api, err, true, this.platform);
      }
      const errcode = typeof body.errcode === 'number' ? body.errcode : 0;
      this.log.debug({ api: req.api, method: req.method, cred: kind, attempt, durationMs: ms(started), errcode }, `${this.platform} token`);
      if (errcode === 0 && typeof body.access_token === 'string' && body.access_token) {
        registerSecret(body.access_token);
        const expiresInS = Number(body.expires_in);
        return { token: body.access_token, expiresInS: Number.isFinite(expiresInS) && expiresInS > 0 ? expiresInS : 7200 };
      }
      // Token errcodes on the token call itself are configuration errors: no refresh-and-retry here.
      if (this.errcodeRules.backoff.has(errcode)) {
        const decision = decideOnErrcode(errcode, state, this.policy, this.errcodeRules);
        if (decision.kind === 'retry') {
          await sleep(decision.delayMs);
          continue;
        }
      }
      if (errcode === 0) {
        throw transportFailure(req.api, new TransportError('bad-response', 'the token call answered without an access_token'), true, this.platform);
      }
      const errmsg = String(body.errmsg ?? '');
      throw new PlatformError(req.api, errcode, this.shortMessage(errmsg), this.describe(errcode, req.api, errmsg, kind));
    }
  }
}

export function queryString(query: Record<string, string | number | undefined>): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
  return qs.toString();
}

function ms(started: number): number {
  return Math.round(performance.now() - started);
}
