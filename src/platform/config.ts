import { z } from 'zod';
import { RuntimeFailure } from '../core/errors.js';
import { t } from '../core/i18n.js';
import type { WecomClientConfig } from './wecom/client.js';
import type { MpClientConfig } from './mp/client.js';

/**
 * Platform settings from the environment, checked at start. Errors name the variable and the rule,
 * never the value (it may be a secret).
 */
/** Rule messages are keys into this table, so the error reads well in both languages. */
const RULES = {
  secret_short: t('太短，不像是 Secret', 'is too short to be a secret'),
  secret_long: t('太长，不像是 Secret', 'is too long to be a secret'),
  url: t('必须是 http(s) 地址，如 https://qyapi.weixin.qq.com', 'must be an http(s) URL such as https://qyapi.weixin.qq.com'),
  corp_missing: t('没有设置（企业 ID，见管理后台“我的企业 → 企业ID”）', 'is not set (the corp id, from the admin console: My Company → Corp ID)'),
  corp: t('必须是企业 ID：字母和数字，如 ww0123456789abcdef', 'must be the corp id: letters and digits, e.g. ww0123456789abcdef'),
  agent: t('必须是应用的 AgentId，一个整数，如 1000002', 'must be the app agent id, a whole number such as 1000002'),
  cb_token: t('必须是 1–32 个字母或数字', 'must be 1–32 letters or digits'),
  aes: t('必须正好是 43 个字母或数字（EncodingAESKey）', 'must be exactly 43 letters or digits (the EncodingAESKey)'),
  timeout: t('必须是 100 到 120000 之间的毫秒数', 'must be a whole number of milliseconds from 100 to 120000'),
  text: t('必须是文本', 'must be text'),
  mp_appid: t('必须是公众号 AppID：wx 加 16 位十六进制，如 wx0123456789abcdef', 'must be the Official Account AppID: wx and 16 hex digits, e.g. wx0123456789abcdef'),
  mp_url: t('必须是 http(s) 地址，如 https://api.weixin.qq.com', 'must be an http(s) URL such as https://api.weixin.qq.com'),
  webhook: t('必须是群机器人 Webhook 地址里的 key（字母、数字和 -）', 'must be the key from the group robot webhook URL (letters, digits and -)'),
  mp_token: t('必须是 3–32 个字母或数字（公众号“服务器配置”的 Token）', 'must be 3–32 letters or digits (the Token of the account’s server configuration)'),
} as const;
type Rule = keyof typeof RULES;

const optionalSecret = z.string().min(6, { message: 'secret_short' }).max(256, { message: 'secret_long' }).optional();
const schema = z.object({
  WXOPS_WECOM_BASE_URL: z.url({ protocol: /^https?$/, message: 'url' }).default('https://qyapi.weixin.qq.com'),
  WXOPS_CORP_ID: z
    .string({ error: (iss) => (iss.input === undefined ? 'corp_missing' : 'text') })
    .regex(/^[A-Za-z0-9]{6,64}$/, { message: 'corp' }),
  WXOPS_CONTACTS_SECRET: optionalSecret,
  WXOPS_APP_SECRET: optionalSecret,
  WXOPS_CUSTOMER_SECRET: optionalSecret,
  WXOPS_AGENT_ID: z.string().regex(/^\d{1,10}$/, { message: 'agent' }).transform(Number).optional(),
  WXOPS_CALLBACK_TOKEN: z.string().regex(/^[A-Za-z0-9]{1,32}$/, { message: 'cb_token' }).optional(),
  WXOPS_CALLBACK_AES_KEY: z.string().regex(/^[A-Za-z0-9]{43}$/, { message: 'aes' }).optional(),
  WXOPS_MP_BASE_URL: z.url({ protocol: /^https?$/, message: 'mp_url' }).default('https://api.weixin.qq.com'),
  WXOPS_MP_APPID: z.string().regex(/^wx[0-9a-f]{16}$/, { message: 'mp_appid' }).optional(),
  WXOPS_MP_SECRET: optionalSecret,
  WXOPS_MP_TOKEN: z.string().regex(/^[A-Za-z0-9]{3,32}$/, { message: 'mp_token' }).optional(),
  WXOPS_MP_AES_KEY: z.string().regex(/^[A-Za-z0-9]{43}$/, { message: 'aes' }).optional(),
  WXOPS_BOT_TOKEN: z.string().regex(/^[A-Za-z0-9]{1,32}$/, { message: 'cb_token' }).optional(),
  WXOPS_BOT_AES_KEY: z.string().regex(/^[A-Za-z0-9]{43}$/, { message: 'aes' }).optional(),
  WXOPS_WEBHOOK_KEY: z.string().regex(/^[A-Za-z0-9-]{8,64}$/, { message: 'webhook' }).optional(),
  WXOPS_HTTP_TIMEOUT_MS: z
    .string()
    .regex(/^\d+$/, { message: 'timeout' })
    .transform(Number)
    .pipe(z.number().min(100, { message: 'timeout' }).max(120_000, { message: 'timeout' }))
    .optional(),
});

export const PLATFORM_ENV_VARS = Object.keys(schema.shape);

export interface PlatformConfig extends WecomClientConfig {
  callbackToken?: string;
  callbackAesKey?: string;
  /** The 智能机器人 (robot) callback's Token and EncodingAESKey (receive id ""). */
  botToken?: string;
  botAesKey?: string;
  /** The ops group's robot webhook key, for digests and notifications (a secret: it is the whole credential). */
  webhookKey?: string;
  /** The Official Account: API access, and the server-URL token and EncodingAESKey its callbacks are signed with. */
  mp: MpClientConfig & { callbackToken?: string; callbackAesKey?: string };
}

/** Reads and checks the platform variables. Empty values count as unset. */
export function loadPlatformConfig(env: NodeJS.ProcessEnv): PlatformConfig {
  const present: Record<string, string> = {};
  for (const key of PLATFORM_ENV_VARS) {
    const v = env[key]?.trim();
    if (v) present[key] = v;
  }
  const r = schema.safeParse(present);
  if (!r.success) {
    const seen = new Set<string>();
    const zh: string[] = [];
    const en: string[] = [];
    for (const issue of r.error.issues) {
      const variable = String(issue.path[0] ?? 'WXOPS_*');
      if (seen.has(variable)) continue;
      seen.add(variable);
      // Only our own rule keys reach the user: zod's default texts may quote the (secret) input.
      const rule = RULES[issue.message as Rule] ?? RULES.text;
      zh.push(`${variable} ${rule.zh}`);
      en.push(`${variable} ${rule.en}`);
    }
    throw new RuntimeFailure(
      'CONFIG_INVALID',
      t('平台配置有误：{zh}。', 'The platform configuration is not valid: {en}.', { zh: zh.join('；'), en: en.join('; ') }),
      { variables: [...seen] },
    );
  }
  const c = r.data;
  return {
    baseUrl: c.WXOPS_WECOM_BASE_URL,
    corpId: c.WXOPS_CORP_ID,
    secrets: { contacts: c.WXOPS_CONTACTS_SECRET, app: c.WXOPS_APP_SECRET, customer: c.WXOPS_CUSTOMER_SECRET },
    agentId: c.WXOPS_AGENT_ID,
    timeoutMs: c.WXOPS_HTTP_TIMEOUT_MS ?? 10_000,
    callbackToken: c.WXOPS_CALLBACK_TOKEN,
    callbackAesKey: c.WXOPS_CALLBACK_AES_KEY,
    botToken: c.WXOPS_BOT_TOKEN,
    botAesKey: c.WXOPS_BOT_AES_KEY,
    webhookKey: c.WXOPS_WEBHOOK_KEY,
    mp: {
      baseUrl: c.WXOPS_MP_BASE_URL,
      appId: c.WXOPS_MP_APPID,
      secret: c.WXOPS_MP_SECRET,
      timeoutMs: c.WXOPS_HTTP_TIMEOUT_MS ?? 10_000,
      callbackToken: c.WXOPS_MP_TOKEN,
      callbackAesKey: c.WXOPS_MP_AES_KEY,
    },
  };
}
