import { RuntimeFailure } from '../../core/errors.js';
import { t, type Text } from '../../core/i18n.js';
import { ApiClient, queryString, type ApiClientConfig, type CallOptions, type TokenRequest } from '../api-client.js';
import { MP_ERRCODES } from '../retry.js';
import { tokenKey } from '../token-cache.js';
import { describeMpErrcode, shortMpMessage } from './errcodes.js';

export interface MpClientConfig extends ApiClientConfig {
  /** `https://api.weixin.qq.com` in live mode, the simulator's `/mp` base in sandbox mode. */
  baseUrl: string;
  appId?: string;
  secret?: string;
}

/** The Official Account has one credential; the type keeps `call` in the same shape as WeCom's. */
export type MpCredential = 'mp';
export type MpCallOptions = Omit<CallOptions<MpCredential>, 'secret'>;

/**
 * The Official Account server API client (mp.md). Tokens come from `stable_token`: several wxops
 * processes (REPL, serve, jobs) share one AppID, and the classic `token` call would make each new
 * token invalidate the others' after five minutes (mp.md §1). 45009 is the daily quota here: no waiting.
 */
export class MpClient extends ApiClient<MpCredential> {
  protected readonly platform = 'mp' as const;
  protected readonly errcodeRules = MP_ERRCODES;

  constructor(private readonly cfg: MpClientConfig) {
    super(cfg, [cfg.secret]);
  }

  get appId(): string | undefined {
    return this.cfg.appId;
  }

  get configured(): boolean {
    return !!(this.cfg.appId && this.cfg.secret);
  }

  request<T = any>(api: string, opts: MpCallOptions = {}): Promise<T> {
    return this.call<T>(api, { ...opts, secret: 'mp' });
  }

  protected url(api: string, query: Record<string, string | number | undefined>): string {
    // Statistics live beside cgi-bin, not under it (mp.md §8).
    const path = api.startsWith('datacube/') ? api : `cgi-bin/${api}`;
    return `${this.base}/${path}?${queryString(query)}`;
  }

  protected tokenKey(): string {
    const { appId, secret } = this.credentials();
    return tokenKey(this.base, appId, secret);
  }

  protected tokenRequest(): TokenRequest {
    const { appId, secret } = this.credentials();
    return {
      api: 'stable_token',
      method: 'POST',
      url: `${this.base}/cgi-bin/stable_token`,
      json: { grant_type: 'client_credential', appid: appId, secret, force_refresh: false },
    };
  }

  protected describe(errcode: number, api: string, errmsg: string): Text {
    return describeMpErrcode(errcode, api, errmsg);
  }

  protected shortMessage(errmsg: string): string {
    return shortMpMessage(errmsg);
  }

  private credentials(): { appId: string; secret: string } {
    if (this.cfg.appId && this.cfg.secret) return { appId: this.cfg.appId, secret: this.cfg.secret };
    throw new RuntimeFailure(
      'MP_NOT_CONFIGURED',
      t(
        '没有配置公众号：请设置 WXOPS_MP_APPID 和 WXOPS_MP_SECRET（公众号后台“设置与开发 → 基本配置”）。',
        'No Official Account is configured: set WXOPS_MP_APPID and WXOPS_MP_SECRET (from the account console: Settings & Development → Basic Configuration).',
      ),
      { env: ['WXOPS_MP_APPID', 'WXOPS_MP_SECRET'] },
    );
  }
}
