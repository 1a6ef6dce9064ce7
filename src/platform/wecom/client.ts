import { RuntimeFailure } from '../../core/errors.js';
import { t, type Text } from '../../core/i18n.js';
import { ApiClient, queryString, type ApiClientConfig, type CallOptions as BaseCallOptions, type TokenRequest } from '../api-client.js';
import { WECOM_ERRCODES } from '../retry.js';
import { tokenKey } from '../token-cache.js';
import { describeErrcode, shortMessage } from './errcodes.js';

export type SecretKind = 'contacts' | 'app' | 'customer';
export type { RetryConfig } from '../retry.js';
export type { RateLimitConfig } from '../api-client.js';

export interface WecomClientConfig extends ApiClientConfig {
  /** `https://qyapi.weixin.qq.com` in live mode, the simulator's base URL in sandbox mode; APIs live under `/cgi-bin/`. */
  baseUrl: string;
  corpId: string;
  secrets: Partial<Record<SecretKind, string>>;
  agentId?: number;
}

export type CallOptions = BaseCallOptions<SecretKind>;

export const EXTERNAL_CONTACT_CONCURRENCY = 10;

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
 * The WeCom server API client (ARCHITECTURE §7, wecom.md §10): one token per (corp, secret) from
 * `gettoken`; 45009 is WeCom's per-minute limit, so it is waited out once. The rest is `ApiClient`.
 */
export class WecomClient extends ApiClient<SecretKind> {
  protected readonly platform = 'wecom' as const;
  protected readonly errcodeRules = WECOM_ERRCODES;

  constructor(private readonly cfg: WecomClientConfig) {
    super(cfg, Object.values(cfg.secrets));
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

  /** External-contact APIs answer 45033 above about 10 concurrent calls (wecom.md §9). */
  protected override platformConcurrency(api: string): number | undefined {
    return api.startsWith('externalcontact/') ? EXTERNAL_CONTACT_CONCURRENCY : undefined;
  }

  protected url(api: string, query: Record<string, string | number | undefined>): string {
    return `${this.base}/cgi-bin/${api}?${queryString(query)}`;
  }

  protected tokenKey(kind: SecretKind): string {
    return tokenKey(this.base, this.cfg.corpId, this.secret(kind));
  }

  protected tokenRequest(kind: SecretKind): TokenRequest {
    return { api: 'gettoken', method: 'GET', url: this.url('gettoken', { corpid: this.cfg.corpId, corpsecret: this.secret(kind) }) };
  }

  protected describe(errcode: number, api: string, errmsg: string, kind: SecretKind): Text {
    return describeErrcode(errcode, api, errmsg, { secretEnv: SECRET_ENV[kind] });
  }

  protected shortMessage(errmsg: string): string {
    return shortMessage(errmsg);
  }

  private secret(kind: SecretKind): string {
    const secret = this.cfg.secrets[kind];
    if (secret) return secret;
    const v = SECRET_ENV[kind];
    throw new RuntimeFailure(
      'SECRET_MISSING',
      t('此操作需要{zh}：请设置环境变量 {v}。', 'This needs the {en}: set the environment variable {v}.', { v, zh: SECRET_NAME[kind].zh, en: SECRET_NAME[kind].en }),
      { secret: kind, env: v },
    );
  }
}
