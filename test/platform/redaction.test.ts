import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redact, redactingLogger, redactObject, registerSecret, type Logger } from '../../src/platform/redact.js';
import { ContactsApi } from '../../src/platform/wecom/contacts.js';
import { startPlatformSim, type PlatformSim } from './helpers.js';

let p: PlatformSim;
beforeAll(async () => {
  p = await startPlatformSim();
});
afterEach(() => p.resetFaults());
afterAll(() => p.close());

describe('redaction of platform call logs', () => {
  it('writes no secret or token into any log line, through retries, refreshes, drops and errors', async () => {
    p.lines.length = 0;
    const tokens: string[] = [];
    // collect the tokens the simulator hands out, to check they never reach the log
    const c = p.client({ timeoutMs: 300 });
    const api = new ContactsApi(c);
    const grab = async (secret: string) => {
      const r = await fetch(`${p.sim.baseUrl}/cgi-bin/gettoken?corpid=${p.sim.credentials.corp_id}&corpsecret=${secret}`);
      return ((await r.json()) as { access_token: string }).access_token;
    };
    await api.getUser('lina');
    await p.faults({
      fail: [
        { api: 'user/get', errcode: 40014, times: 1 },
        { api: 'tag/list', errcode: -1, times: 1 },
      ],
      drop: [{ api: 'department/list', times: 1 }, { api: 'user/update', times: 1 }],
    });
    await api.getUser('lina');
    await api.listTags();
    await api.listDepartments();
    await api.updateUser({ userid: 'lina', position: '总监' }).catch(() => undefined);
    await c.call('user/get', { secret: 'app', query: { userid: 'lina' } });
    await c.call('department/create', { secret: 'app', body: { name: 'x', parentid: 1 } }).catch(() => undefined);
    tokens.push(await grab(p.sim.credentials.contacts_secret), await grab(p.sim.credentials.app_secret));

    expect(p.lines.length).toBeGreaterThan(8);
    const all = p.lines.join('\n');
    for (const secret of [p.sim.credentials.contacts_secret, p.sim.credentials.app_secret, p.sim.credentials.customer_secret, ...tokens]) {
      expect(all).not.toContain(secret);
    }
    expect(all).not.toMatch(/access_token=|corpsecret=|\/cgi-bin\//);
    // every request line carries api, method, attempt, duration and (when answered) errcode
    const requestLines = p.lines.filter((l) => l.includes('"api"'));
    for (const line of requestLines) expect(line).toMatch(/"api":"[^"]+".*"method":"(GET|POST)".*"attempt":\d+.*"durationMs":\d+/);
    expect(requestLines.some((l) => l.includes('"errcode":40014'))).toBe(true);
    expect(requestLines.some((l) => l.includes('"transport":"network"'))).toBe(true);
  });
});

describe('redact()', () => {
  it('masks credentials by name and known secrets by value', () => {
    registerSecret('super-secret-value-123');
    const out = redact(
      'GET /cgi-bin/gettoken?corpid=ww1&corpsecret=abc123&access_token=tok456 webhook/send?key=webhookkey {"EncodingAESKey":"k43","token":"t1","encoding_aeskey":"zz9"} then super-secret-value-123',
    );
    expect(out).not.toMatch(/abc123|tok456|webhookkey|k43|"t1"|zz9|super-secret-value-123/);
    expect(out).toContain('corpid=ww1');
  });

  it('masks the longest registered secret whole when one contains another', () => {
    registerSecret('abcdef');
    registerSecret('abcdefghijkl-longer');
    expect(redact('x abcdefghijkl-longer y')).toBe('x *** y');
  });

  it('masks mobiles and emails only when asked', () => {
    expect(redact('call 13812345678 or a.b@example.com')).toBe('call 13812345678 or a.b@example.com');
    expect(redact('call 13812345678 or a.b@example.com', { personal: true })).toBe('call 138****5678 or a***@example.com');
  });

  it('masks sensitive keys and the strings inside objects and errors', () => {
    registerSecret('Registered-Token-0001');
    const out = redactObject({
      secret: 'plain',
      nested: { access_token: 'zzz', note: 'saw Registered-Token-0001 here' },
      list: ['?corpsecret=abc'],
      err: new Error('failed with Registered-Token-0001'),
    });
    const text = JSON.stringify(out);
    expect(text).not.toMatch(/plain|zzz|Registered-Token-0001|corpsecret=abc/);
    expect(text).toContain('failed with ***');
  });

  it('wraps a pino-style logger', () => {
    const got: unknown[] = [];
    const inner: Logger = { debug: (o, m) => got.push(o, m), info: (o, m) => got.push(o, m), warn: (o, m) => got.push(o, m), error: (o, m) => got.push(o, m) };
    redactingLogger(inner, { personal: true }).info({ mobile: '13812345678', corpsecret: 'x' }, 'for a@b.cn');
    expect(JSON.stringify(got)).toBe(JSON.stringify([{ mobile: '138****5678', corpsecret: '***' }, 'for a***@b.cn']));
  });
});
