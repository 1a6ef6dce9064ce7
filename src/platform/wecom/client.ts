import type { Dispatcher, FormData } from 'undici';
import { PlatformError, RuntimeFailure } from '../../core/errors.js';
import { t } from '../../core/i18n.js';
import { createAgent, resolveTimeouts, sendJson, TransportError, type HttpTimeouts } from '../http.js';
import { KeyedLimiter, sleep, WindowBudget } from '../limiter.js';
import { redactingLogger, registerSecret, silentLogger, type Logger } from '../redact.js';
import {
  decideOnErrcode,
  decideOnTransport,
  isIdempotent,
  localErrcodeFor,
  newRetryState,
  resolveRetry,
  transportFailure,
  type RetryConfig,
  type RetryPolicy,
} from '../retry.js';
import { TokenCache, tokenKey } from '../token-cache.js';
import { describeErrcode, shortMessage } from './errcodes.js';

export type SecretKind = 'contacts' | 'app' | 'customer';
export type { RetryConfig } from '../retry.js';

export interface RateLimitConfig {
  /** Calls allowed per window, per API path (e.g. `{ 'user/create': 600 }`); a number applies to every API. */
  perMinute: Record<string, number> | number;
  /** The window length. Default 60 000 ms (tests use a short one). */
  windowMs?: number;
}

export interface WecomClientConfig {
  /** `https://qyapi.weixin.qq.com` in live mode, the simulator's base URL in sandbox mode; APIs live under `/cgi-bin/`. */
  baseUrl: string;
  corpId: string;
  secrets: Partial<Record<SecretKind, string>>;
  agentId?: number;
  /** Timeout of each request: the whole exchange, and each of connect, headers and body. Default 10 000 ms. */
  timeoutMs?: number;
  /** Per-phase overrides of `timeoutMs`. */
  timeouts?: Partial<HttpTimeouts>;
  /** Calls of one API in flight at once. Default 12 (the platform answers 45033 above roughly 10–20). */
  maxConcurrencyPerApi?: number;
  /** Optional per-API budget of calls per minute, to stay under 45009. Off by default. */
  rateLimit?: RateLimitConfig;
  retry?: RetryConfig;
  /** pino-compatible; every line it gets is redacted. Default: no logging. */
  logger?: Logger;
  /** An undici dispatcher to send through (benchmarks, proxies). Default: a keep-alive Agent owned by the client. */
  dispatcher?: Dispatcher;
}

export interface CallOptions {
  secret: SecretKind;
  /** Default: POST when there is a body or form, else GET. */
  method?: 'GET' | 'POST';
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** A multipart body (media/upload). */
  form?: FormData;
  /** Safe to send twice. Default: GETs that only read, and POST reads such as user/list_id (see retry.ts). */
  idempotent?: boolean;
  signal?: AbortSignal;
}

export const SECRET_ENV: Record<SecretKind, string> = {
  contacts: 'WXOPS_CONTACTS_SECRET',
  app: 'WXOPS_APP_SECRET',
  customer: 'WXOPS_CUSTOMER_SECRET',
};

const SECRET_NAME: Record<SecretKind, { zh: string; en: string }> = {
  contacts: { zh: '通讯录同步 Secret', en: 'contacts-sync secret' },
  app: { zh: '自建应用 Secret', en: 'app secret' },
  customer: { zh: '客户联系 Secret', en: 'customer-contact secret' },
};

/**
 * The WeCom server API client (ARCHITECTURE §7, wecom.md §10). One token per (corp, secret), refreshed
 * early and single-flight; one retry after a token error; backoff on −1 and 45033; one wait on 45009;
 * transport failures retried only where safe; a cap on calls in flight per API and an optional budget
 * per minute; timeouts; errcode-based errors naming what to fix; redacted logs.
 *
 * Every request logs one line: `{api, method, attempt, durationMs, errcode}` (plus `transport` for
 * transport failures) — never the URL, whose query holds the token.
 */
export class WecomClient {
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly tokens = new TokenCache();
  private readonly limiter: KeyedLimiter;
  private readonly budget?: WindowBudget;
  private readonly policy: RetryPolicy;
  private readonly timeouts: HttpTimeouts;
  private readonly log: Logger;
  private readonly base: string;

  constructor(private readonly cfg: WecomClientConfig) {
    this.base = cfg.baseUrl.replace(/\/+$/, '');
    this.timeouts = resolveTimeouts(cfg.timeoutMs, cfg.timeouts);
    this.policy = resolveRetry(cfg.retry);
    this.ownsDispatcher = !cfg.dispatcher;
    this.dispatcher = cfg.dispatcher ?? createAgent({ connectTimeoutMs: this.timeouts.connectMs });
    this.limiter = new KeyedLimiter(cfg.maxConcurrencyPerApi ?? 12);
    if (cfg.rateLimit) {
      const per = cfg.rateLimit.perMinute;
      this.budget = new WindowBudget((api) => (typeof per === 'number' ? per : per[api]), cfg.rateLimit.windowMs ?? 60_000);
    }
    this.log = redactingLogger(cfg.logger ?? silentLogger);
    for (const s of Object.values(cfg.secrets)) registerSecret(s);
  }

  get agentId(): number | undefined {
    return this.cfg.agentId;
  }

  get corpId(): string {
    return this.cfg.corpId;
  }

  /** Whether a secret of this kind is configured. */
  has(kind: SecretKind): boolean {
    return !!this.cfg.secrets[kind];
  }

  /**
   * Calls `/cgi-bin/{api}` and returns the JSON answer when its errcode is absent or 0; otherwise throws a
   * `PlatformError` (or a `RuntimeFailure` when the secret of that kind is not configured).
   */
  call<T = any>(api: string, opts: CallOptions): Promise<T> {
    return this.limiter.run(api, () => this.callWithRetries<T>(api, opts), opts.signal);
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async callWithRetries<T>(api: string, opts: CallOptions): Promise<T> {
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
        });
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        const decision = decideOnTransport(err.kind, idempotent, state, this.policy);
        this.log.warn(
          { api, method, attempt, durationMs: ms(started), errcode: localErrcodeFor(err.kind), transport: err.kind, reason: err.message, next: decision.kind === 'retry' ? `retry in ${decision.delayMs} ms` : 'give up' },
          'wecom call failed in transport',
        );
        if (decision.kind === 'retry') {
          await sleep(decision.delayMs, opts.signal);
          continue;
        }
        throw transportFailure(api, err, idempotent);
      }
      const errcode: number = typeof body.errcode === 'number' ? body.errcode : 0;
      if (errcode === 0) {
        this.log.debug({ api, method, attempt, durationMs: ms(started), errcode }, 'wecom call');
        return body as T;
      }
      const errmsg = String(body.errmsg ?? '');
      const decision = decideOnErrcode(errcode, state, this.policy);
      const next = decision.kind === 'refresh-token' ? 'refresh token and retry' : decision.kind === 'retry' ? `retry in ${decision.delayMs} ms` : 'give up';
      (decision.kind === 'fail' ? this.log.info : this.log.warn).call(this.log, { api, method, attempt, durationMs: ms(started), errcode, errmsg, next }, 'wecom call answered an error');
      if (decision.kind === 'refresh-token') {
        this.tokens.invalidate(this.tokenKey(opts.secret), token);
        continue;
      }
      if (decision.kind === 'retry') {
        await sleep(decision.delayMs, opts.signal);
        continue;
      }
      throw new PlatformError(api, errcode, shortMessage(errmsg), describeErrcode(errcode, api, errmsg, { secretEnv: SECRET_ENV[opts.secret] }));
    }
  }

  private tokenKey(kind: SecretKind): string {
    return tokenKey(this.base, this.cfg.corpId, this.cfg.secrets[kind] ?? '');
  }

  private async token(kind: SecretKind, signal?: AbortSignal): Promise<string> {
    const secret = this.cfg.secrets[kind];
    if (!secret) {
      const v = SECRET_ENV[kind];
      throw new RuntimeFailure(
        'SECRET_MISSING',
        t('此操作需要{zh}：请设置环境变量 {v}。', 'This needs the {en}: set the environment variable {v}.', { v, zh: SECRET_NAME[kind].zh, en: SECRET_NAME[kind].en }),
        { secret: kind, env: v },
      );
    }
    return this.tokens.get(this.tokenKey(kind), () => this.fetchToken(kind, secret), signal);
  }

  /** gettoken, retried on −1 and transport failures (it is a read); never tied to one caller's signal. */
  private async fetchToken(kind: SecretKind, secret: string): Promise<{ token: string; expiresInS: number }> {
    const state = newRetryState();
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let body: any;
      try {
        body = await sendJson(this.dispatcher, {
          url: this.url('gettoken', { corpid: this.cfg.corpId, corpsecret: secret }),
          method: 'GET',
          timeouts: this.timeouts,
        });
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        const decision = decideOnTransport(err.kind, true, state, this.policy);
        this.log.warn({ api: 'gettoken', method: 'GET', cred: kind, attempt, durationMs: ms(started), errcode: localErrcodeFor(err.kind), transport: err.kind, reason: err.message }, 'wecom gettoken failed in transport');
        if (decision.kind === 'retry') {
          await sleep(decision.delayMs);
          continue;
        }
        throw transportFailure('gettoken', err, true);
      }
      const errcode = typeof body.errcode === 'number' ? body.errcode : 0;
      this.log.debug({ api: 'gettoken', method: 'GET', cred: kind, attempt, durationMs: ms(started), errcode }, 'wecom gettoken');
      if (errcode === 0 && typeof body.access_token === 'string' && body.access_token) {
        registerSecret(body.access_token);
        const expiresInS = Number(body.expires_in);
        return { token: body.access_token, expiresInS: Number.isFinite(expiresInS) && expiresInS > 0 ? expiresInS : 7200 };
      }
      // Token errcodes on gettoken itself are configuration errors: no refresh-and-retry here.
      if (errcode === -1 || errcode === 45033) {
        const decision = decideOnErrcode(errcode, state, this.policy);
        if (decision.kind === 'retry') {
          await sleep(decision.delayMs);
          continue;
        }
      }
      if (errcode === 0) {
        throw transportFailure('gettoken', new TransportError('bad-response', 'gettoken answered without an access_token'), true);
      }
      const errmsg = String(body.errmsg ?? '');
      throw new PlatformError('gettoken', errcode, shortMessage(errmsg), describeErrcode(errcode, 'gettoken', errmsg, { secretEnv: SECRET_ENV[kind] }));
    }
  }

  private url(api: string, query: Record<string, string | number | undefined>): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    return `${this.base}/cgi-bin/${api}?${qs}`;
  }
}

function ms(started: number): number {
  return Math.round(performance.now() - started);
}
