import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockAgent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError, RuntimeFailure } from '../src/core/errors.js';
import { loadPlatformConfig } from '../src/platform/config.js';
import type { Logger } from '../src/platform/redact.js';
import { WecomClient } from '../src/platform/wecom/client.js';
import { ContactsApi } from '../src/platform/wecom/contacts.js';
import { startSimulator, type SimulatorHandle } from '../src/sim/index.js';

let dir: string;
let sim: SimulatorHandle;
const lines: string[] = [];
const capture: Logger = {
  debug: (o, m) => lines.push(JSON.stringify(o) + (m ?? '')),
  info: (o, m) => lines.push(JSON.stringify(o) + (m ?? '')),
  warn: (o, m) => lines.push(JSON.stringify(o) + (m ?? '')),
  error: (o, m) => lines.push(JSON.stringify(o) + (m ?? '')),
};
const clients: WecomClient[] = [];

function client(extra: Partial<ConstructorParameters<typeof WecomClient>[0]> = {}): WecomClient {
  const c = new WecomClient({ ...loadPlatformConfig(sim.env), retry: { baseDelayMs: 5, rateLimitWaitMs: 200 }, logger: capture, ...extra });
  clients.push(c);
  return c;
}
async function faults(body: unknown): Promise<void> {
  await fetch(`${sim.controlUrl}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
async function calls(api: string): Promise<number> {
  return ((await (await fetch(`${sim.controlUrl}/stats`)).json()).calls[api] ?? 0) as number;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wxops-client-'));
  sim = await startSimulator({ dataDir: dir, port: 0 });
});
afterEach(async () => {
  await fetch(`${sim.controlUrl}/faults`, { method: 'DELETE' });
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tokens', () => {
  it('fetches one token for many concurrent calls (single flight)', async () => {
    const before = await calls('gettoken');
    const api = new ContactsApi(client());
    const users = await Promise.all(Array.from({ length: 20 }, () => api.getUser('lina')));
    expect(users.every((u) => u.name === '李娜')).toBe(true);
    expect((await calls('gettoken')) - before).toBe(1);
  });

  it('keeps one token per secret', async () => {
    const c = client();
    const before = await calls('gettoken');
    await c.call('user/get', { secret: 'contacts', query: { userid: 'lina' } });
    await c.call('user/get', { secret: 'app', query: { userid: 'lina' } });
    await c.call('user/get', { secret: 'contacts', query: { userid: 'lina' } });
    expect((await calls('gettoken')) - before).toBe(2);
  });

  it.each([40014, 42001])('refetches the token once and retries after an expired token answered %i', async (code) => {
    const api = new ContactsApi(client());
    await api.getUser('lina');
    await faults({ expire_tokens: true, expired_token_errcode: code });
    const before = await calls('gettoken');
    expect((await api.getUser('wangfang')).name).toBe('王芳');
    expect((await calls('gettoken')) - before).toBe(1);
  });

  it('does not loop when the token error persists', async () => {
    const api = new ContactsApi(client());
    await api.getUser('lina');
    await faults({ fail: [{ api: 'user/get', errcode: 40014, times: 5 }] });
    const before = await calls('user/get');
    await expect(api.getUser('lina')).rejects.toMatchObject({ errcode: 40014 });
    expect((await calls('user/get')) - before).toBe(2);
  });

  it('says which variable to set when a secret is missing', async () => {
    const c = client({ secrets: { contacts: sim.credentials.contacts_secret } });
    const err = await c.call('user/get', { secret: 'customer', query: { userid: 'lina' } }).catch((e) => e);
    expect(err).toBeInstanceOf(RuntimeFailure);
    expect(err.text.en).toContain('WXOPS_CUSTOMER_SECRET');
  });
});

describe('retries and limits', () => {
  it('backs off on -1 and 45033 and then succeeds', async () => {
    const api = new ContactsApi(client());
    await faults({ fail: [{ api: 'department/list', errcode: -1, times: 2 }, { api: 'tag/list', errcode: 45033, times: 2 }] });
    expect((await api.listDepartments()).length).toBeGreaterThan(5);
    expect((await api.listTags()).length).toBeGreaterThan(0);
  });

  it('gives up after the retries with a sentence, not a loop', async () => {
    const api = new ContactsApi(client());
    await faults({ fail: [{ api: 'department/list', errcode: -1, times: 10 }] });
    const err = await api.listDepartments().catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(-1);
    expect(err.text.zh).toContain('繁忙');
  });

  it('waits out 45009 and then succeeds', async () => {
    const api = new ContactsApi(client());
    await faults({ fail: [{ api: 'tag/list', errcode: 45009, times: 1 }] });
    const t0 = Date.now();
    expect((await api.listTags()).length).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('retries a read whose connection dropped, but reports an unknown outcome for a write', async () => {
    const api = new ContactsApi(client());
    await faults({ drop: [{ api: 'user/get', times: 2 }] });
    expect((await api.getUser('lina')).userid).toBe('lina');
    await faults({ drop: [{ api: 'user/create', times: 1 }] });
    const err = await api.createUser({ userid: 'dropped1', name: '掉线', department: [1], mobile: '13922220001' }).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(-2);
    expect(err.text.zh).toContain('是否生效未知');
    expect(err.text.en).toContain('unknown');
  });

  it('times out instead of hanging', async () => {
    const api = new ContactsApi(client({ timeoutMs: 150 }));
    await api.getUser('lina');
    await faults({ latency_ms: 400 });
    const err = await api.deleteUser('sunli').catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(-3);
  });

  it('keeps calls in flight per API under the cap, so 45033 never surfaces', async () => {
    await faults({ concurrency_limit: 4, latency_ms: 30 });
    const api = new ContactsApi(client({ maxConcurrencyPerApi: 4 }));
    const users = await Promise.all(Array.from({ length: 24 }, () => api.getUser('wangfang')));
    expect(users).toHaveLength(24);
  });

  it('turns errcodes into one sentence naming what to fix', async () => {
    const c = client();
    const err = await c.call('department/create', { secret: 'app', body: { name: 'x', parentid: 1 } }).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(48002);
    expect(err.text.zh).toContain('WXOPS_CONTACTS_SECRET');
    expect(err.text.en).toContain('contacts-sync secret');
    expect(err.text.en).not.toContain('hint:');
  });
});

describe('paging', () => {
  it('reads every user-department pair', async () => {
    const pairs = await new ContactsApi(client()).listUserIds();
    expect(pairs.length).toBeGreaterThanOrEqual(60);
  });

  it('stops on a repeated cursor instead of looping (a platform bug the simulator does not have)', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('http://fake.invalid');
    pool.intercept({ path: /gettoken/ }).reply(200, { errcode: 0, access_token: 'tok-abcdef', expires_in: 7200 }).persist();
    pool.intercept({ path: /user\/list_id/, method: 'POST' }).reply(200, { errcode: 0, dept_user: [{ userid: 'a', department: 1 }], next_cursor: 'SAME' }).persist();
    const c = new WecomClient({ baseUrl: 'http://fake.invalid', corpId: 'wwfake', secrets: { contacts: 'secret-xyz' }, dispatcher: agent });
    const err = await new ContactsApi(c).listUserIds().catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.text.en).toContain('cursor');
    await agent.close();
  });
});

describe('redaction', () => {
  it('never writes a secret or token into a log line', async () => {
    const api = new ContactsApi(client());
    await faults({ fail: [{ api: 'user/get', errcode: 40014, times: 1 }], drop: [{ api: 'department/list', times: 1 }] });
    await api.getUser('lina');
    await api.listDepartments();
    await api.createUser({ userid: 'x', name: 'x', department: [1] }).catch(() => undefined);
    expect(lines.length).toBeGreaterThan(0);
    const all = lines.join('\n');
    for (const secret of [sim.credentials.contacts_secret, sim.credentials.app_secret, sim.credentials.customer_secret]) expect(all).not.toContain(secret);
    expect(all).not.toMatch(/access_token=[A-Za-z0-9_-]{10,}/);
  });
});

describe('redact()', () => {
  it('masks credentials by name and known secrets by value', async () => {
    const { redact, registerSecret } = await import('../src/platform/redact.js');
    registerSecret('super-secret-value-123');
    const out = redact(
      'GET /cgi-bin/gettoken?corpid=ww1&corpsecret=abc123&access_token=tok456&key=webhookkey {"EncodingAESKey":"k43","token":"t1"} then super-secret-value-123',
    );
    expect(out).not.toMatch(/abc123|tok456|webhookkey|k43|"t1"|super-secret-value-123/);
    expect(out).toContain('corpid=ww1');
    expect(redact('call 13812345678 or a.b@example.com', { personal: true })).toBe('call 138****5678 or a***@example.com');
  });
});
