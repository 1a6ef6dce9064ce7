import { z } from 'zod';
import { RuntimeFailure } from '../core/errors.js';
import { t } from '../core/i18n.js';
import type { WecomClientConfig } from './wecom/client.js';

/**
 * Platform settings from the environment, checked at start. Errors name the variable and the rule,
 * never the value (it may be a secret).
 */
const optionalSecret = z.string().min(1).optional();
const schema = z.object({
  WXOPS_WECOM_BASE_URL: z.url({ message: 'must be an http(s) URL' }).default('https://qyapi.weixin.qq.com'),
  WXOPS_CORP_ID: z.string().regex(/^[A-Za-z0-9]{6,64}$/, { message: 'must be the corp id, e.g. ww0123456789abcdef' }),
  WXOPS_CONTACTS_SECRET: optionalSecret,
  WXOPS_APP_SECRET: optionalSecret,
  WXOPS_CUSTOMER_SECRET: optionalSecret,
  WXOPS_AGENT_ID: z.coerce.number().int().positive({ message: 'must be the app agent id, a positive integer' }).optional(),
  WXOPS_CALLBACK_TOKEN: z.string().regex(/^[A-Za-z0-9]{1,32}$/, { message: 'must be 1–32 letters or digits' }).optional(),
  WXOPS_CALLBACK_AES_KEY: z.string().regex(/^[A-Za-z0-9]{43}$/, { message: 'must be 43 letters or digits' }).optional(),
  WXOPS_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
});

export interface PlatformConfig extends WecomClientConfig {
  callbackToken?: string;
  callbackAesKey?: string;
}

export function loadPlatformConfig(env: NodeJS.ProcessEnv): PlatformConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('WXOPS_') && v !== ''));
  const r = schema.safeParse(present);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'WXOPS_*');
    throw new RuntimeFailure(
      'CONFIG_INVALID',
      t('环境变量 {v} 设置有误：{m}。', 'The environment variable {v} is not valid: {m}.', { v: variable, m: issue.message }),
    );
  }
  const c = r.data;
  return {
    baseUrl: c.WXOPS_WECOM_BASE_URL,
    corpId: c.WXOPS_CORP_ID,
    secrets: { contacts: c.WXOPS_CONTACTS_SECRET, app: c.WXOPS_APP_SECRET, customer: c.WXOPS_CUSTOMER_SECRET },
    agentId: c.WXOPS_AGENT_ID,
    timeoutMs: c.WXOPS_HTTP_TIMEOUT_MS,
    callbackToken: c.WXOPS_CALLBACK_TOKEN,
    callbackAesKey: c.WXOPS_CALLBACK_AES_KEY,
  };
}
