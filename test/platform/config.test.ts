import { describe, expect, it } from 'vitest';
import { RuntimeFailure } from '../../src/core/errors.js';
import { loadPlatformConfig } from '../../src/platform/config.js';

const SECRET = 'ThisIsAVerySecretValue123456';

function fail(env: Record<string, string>): RuntimeFailure {
  try {
    loadPlatformConfig(env);
  } catch (e) {
    return e as RuntimeFailure;
  }
  throw new Error('expected an error');
}

describe('loadPlatformConfig', () => {
  it('reads the variables, with defaults', () => {
    const c = loadPlatformConfig({ WXOPS_CORP_ID: 'ww0123456789abcdef', WXOPS_CONTACTS_SECRET: SECRET, WXOPS_AGENT_ID: '1000002', WXOPS_APP_SECRET: '' });
    expect(c).toMatchObject({
      baseUrl: 'https://qyapi.weixin.qq.com',
      corpId: 'ww0123456789abcdef',
      secrets: { contacts: SECRET, app: undefined },
      agentId: 1000002,
      timeoutMs: 10_000,
    });
  });

  it('names the variable that is missing or wrong, in both languages', () => {
    const missing = fail({});
    expect(missing).toBeInstanceOf(RuntimeFailure);
    expect(missing.text.en).toContain('WXOPS_CORP_ID is not set');
    expect(missing.text.zh).toContain('WXOPS_CORP_ID 没有设置');

    const bad = fail({
      WXOPS_CORP_ID: 'ww0123456789abcdef',
      WXOPS_AGENT_ID: '10.5',
      WXOPS_CALLBACK_AES_KEY: 'short',
      WXOPS_WECOM_BASE_URL: 'ftp://example.com',
      WXOPS_HTTP_TIMEOUT_MS: '5',
    });
    for (const v of ['WXOPS_AGENT_ID', 'WXOPS_CALLBACK_AES_KEY', 'WXOPS_WECOM_BASE_URL', 'WXOPS_HTTP_TIMEOUT_MS']) {
      expect(bad.text.en).toContain(v);
      expect(bad.text.zh).toContain(v);
    }
    expect(bad.text.en).toContain('43');
  });

  it('never echoes a secret value', () => {
    const err = fail({ WXOPS_CORP_ID: `bad id ${SECRET}`, WXOPS_APP_SECRET: 'abc', WXOPS_CALLBACK_AES_KEY: `${SECRET}!` });
    const shown = JSON.stringify([err.text, err.details, err.message]);
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain('abc"');
    expect(shown).toContain('WXOPS_APP_SECRET');
  });
});
