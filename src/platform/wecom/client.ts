import type { Dispatcher, FormData } from 'undici';
import { PlatformError, RuntimeFailure } from '../../core/errors.js';
import { t } from '../../core/i18n.js';
import { createAgent, sendJson, TransportError } from '../http.js';
import { KeyedLimiter, sleep } from '../limiter.js';
import { redactingLogger, registerSecret, silentLogger, type Logger } from '../redact.js';
import { TokenCache } from '../token-cache.js';
import { describeErrcode } from './errcodes.js';

export type SecretKind = 'contacts' | 'app' | 'customer';

export interface RetryConfig {
  /** First backoff for -1 / 45033 / transport errors; doubles per attempt, with jitter. */
  baseDelayMs?: number;
  maxRetries?: number;
  /** How long to wait after 45009 before one more try (the platform's windows are a minute). */
  rateLimitWaitMs?: number;
}

export interface WecomClientConfig {
  baseUrl: string;
  corpId: string;
  secrets: Partial<Record<SecretKind, string>>;
  agentId?: number;
  timeoutMs?: number;
  maxConcurrencyPerApi?: number;
  retry?: RetryConfig;
  logger?: Logger;
  dispatcher?: Dispatcher;
}

export interface CallOptions {
  secret: SecretKind;
  method?: 'GET' | 'POST';
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  form?: FormData;
  /** Safe to send twice. Defaults: GETs that only read, and POST reads such as user/list_id. */
  idempotent?: boolean;
  signal?: AbortSignal;
}

const TOKEN_ERRORS = new Set([40014, 42001, 40001]);
const ENV_FOR: Record<SecretKind, string> = { contacts: 'WXOPS_CONTACTS_SECRET', app: 'WXOPS_APP_SECRET', customer: 'WXOPS_CUSTOMER_SECRET' };
const WRITE_GETS = /(^|\/)(delete|batchdelete)$/;
const READ_POSTS = new Set(['user/list_id', 'batch/getresult', 'user/getuserid', 'user/get_userid_by_email', 'externalcontact/batch/get_by_user', 'externalcontact/get_corp_tag_list']);

/**
 * The WeCom server API client (ARCHITECTURE §7, wecom.md §10). One token per secret, refreshed early
 * and single-flight; one retry after a token error; backoff on -1 and 45033; a wait on 45009; a cap on
 * calls in flight per API; timeouts; errcode-based errors; redacted logs.
 */
export class WecomClient {
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly tokens = new TokenCache();
  private readonly limiter: KeyedLimiter;
  private readonly log: Logger;
  private readonly base: string;

  constructor(private readonly cfg: WecomClientConfig) {
    this.ownsDispatcher = !cfg.dispatcher;
    this.dispatcher = cfg.dispatcher ?? createAgent();
    this.limiter = new KeyedLimiter(cfg.maxConcurrencyPerApi ?? 12);
    this.log = redactingLogger(cfg.logger ?? silentLogger);
    this.base = cfg.baseUrl.replace(/\/+$/, '');
    for (const s of Object.values(cfg.secrets)) registerSecret(s);
  }

  get agentId(): number | undefined {
    return this.cfg.agentId;
  }

  call<T = any>(api: string, opts: CallOptions): Promise<T> {
    return this.limiter.run(api, () => this.callWithRetries<T>(api, opts));
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async callWithRetries<T>(api: string, opts: CallOptions): Promise<T> {
    const retry = { baseDelayMs: 200, maxRetries: 3, rateLimitWaitMs: 60_000, ...this.cfg.retry };
    const method = opts.method ?? (opts.body !== undefined || opts.form ? 'POST' : 'GET');
    const idempotent = opts.idempotent ?? (method === 'GET' ? !WRITE_GETS.test(api) : READ_POSTS.has(api));
    let tokenRetried = false;
    let rateLimited = false;
    for (let attempt = 1; ; attempt++) {
      const token = await this.token(opts.secret, opts.signal);
      const started = Date.now();
      let body: any;
      try {
        body = await sendJson(this.dispatcher, {
          url: this.url(api, { ...opts.query, access_token: token }),
          method,
          json: opts.body,
          form: opts.form,
          timeoutMs: this.cfg.timeoutMs ?? 10_000,
          signal: opts.signal,
        });
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        this.log.warn({ api, method, attempt, ms: Date.now() - started, transport: err.kind }, 'platform call failed in transport');
        if (idempotent && attempt <= retry.maxRetries) {
          await sleep(backoff(retry.baseDelayMs, attempt), opts.signal);
          continue;
        }
        throw transportFailure(api, err, idempotent);
      }
      const errcode: number = typeof body.errcode === 'number' ? body.errcode : 0;
      this.log.debug({ api, method, attempt, ms: Date.now() - started, errcode }, 'platform call');
      if (errcode === 0) return body as T;
      if (TOKEN_ERRORS.has(errcode) && !tokenRetried) {
        // Expired tokens often come back as 40014, not 42001: treat all three alike, once.
        tokenRetried = true;
        this.tokens.invalidate(this.tokenKey(opts.secret), token);
        continue;
      }
      if ((errcode === -1 || errcode === 45033) && attempt <= retry.maxRetries) {
        await sleep(backoff(retry.baseDelayMs, attempt), opts.signal);
        continue;
      }
      if (errcode === 45009 && !rateLimited) {
        rateLimited = true;
        this.log.warn({ api, waitMs: retry.rateLimitWaitMs }, 'rate limited (45009); waiting for the window');
        await sleep(retry.rateLimitWaitMs, opts.signal);
        continue;
      }
      throw new PlatformError(api, errcode, String(body.errmsg ?? ''), describeErrcode(errcode, api, String(body.errmsg ?? '')));
    }
  }

  private tokenKey(kind: SecretKind): string {
    return `${this.cfg.corpId}\u0000${this.cfg.secrets[kind] ?? ''}\u0000${this.base}`;
  }

  private token(kind: SecretKind, signal?: AbortSignal): Promise<string> {
    const secret = this.cfg.secrets[kind];
    if (!secret) {
      throw new RuntimeFailure(
        'SECRET_MISSING',
        t('此操作需要 {v}，但它没有设置。', 'This needs {v}, which is not set.', { v: ENV_FOR[kind] }),
      );
    }
    return this.tokens.get(this.tokenKey(kind), async () => {
      for (let attempt = 1; ; attempt++) {
        let body: any;
        try {
          body = await sendJson(this.dispatcher, {
            url: this.url('gettoken', { corpid: this.cfg.corpId, corpsecret: secret }),
            method: 'GET',
            timeoutMs: this.cfg.timeoutMs ?? 10_000,
            signal,
          });
        } catch (err) {
          if (err instanceof TransportError && attempt <= 3) {
            await sleep(backoff(this.cfg.retry?.baseDelayMs ?? 200, attempt), signal);
            continue;
          }
          throw err instanceof TransportError ? transportFailure('gettoken', err, true) : err;
        }
        const errcode = typeof body.errcode === 'number' ? body.errcode : 0;
        if (errcode === -1 && attempt <= 3) {
          await sleep(backoff(this.cfg.retry?.baseDelayMs ?? 200, attempt), signal);
          continue;
        }
        if (errcode !== 0 || !body.access_token) {
          throw new PlatformError('gettoken', errcode, String(body.errmsg ?? ''), describeErrcode(errcode === 40001 ? 40001 : errcode, 'gettoken', String(body.errmsg ?? '')));
        }
        registerSecret(body.access_token);
        return { token: body.access_token as string, expiresInS: Number(body.expires_in ?? 7200) };
      }
    });
  }

  private url(api: string, query: Record<string, string | number | undefined>): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    return `${this.base}/cgi-bin/${api}?${qs}`;
  }
}

function backoff(base: number, attempt: number): number {
  const exp = base * 2 ** (attempt - 1);
  return exp / 2 + Math.random() * (exp / 2);
}

function transportFailure(api: string, err: TransportError, idempotent: boolean): PlatformError {
  const code = err.kind === 'timeout' ? -3 : err.kind === 'bad-response' ? -4 : -2;
  const what = err.kind === 'timeout' ? t('超时没有应答', 'did not answer in time') : t('连接中断', 'dropped the connection');
  const text = idempotent
    ? t('企业微信接口 {api} {w}，重试后仍失败：请检查网络后再试。', 'The WeCom API {api} {w} and retries did not help: check the network and try again.', { api, w: what.zh })
    : t(
        '企业微信接口 {api} {w}，这次写入是否生效未知：请先查看当前数据，再决定是否重试。',
        'The WeCom API {api} {w}; whether this write took effect is unknown: check the current data before trying again.',
        { api, w: what.zh },
      );
  // The English sentence needs the English reason.
  text.en = text.en.replace(what.zh, what.en);
  return new PlatformError(api, code, err.message, text);
}
