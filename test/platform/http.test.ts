import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { PlatformError } from '../../src/core/errors.js';
import { WecomClient } from '../../src/platform/wecom/client.js';

/**
 * Transport details the simulator cannot produce (a gateway's HTML error page, a 5xx without an errcode,
 * success bodies without errcode), and the injected-dispatcher seam the benchmarks use.
 */
const BASE = 'http://wecom.test';
let agent: MockAgent;

function client(): WecomClient {
  agent = new MockAgent();
  agent.disableNetConnect();
  agent
    .get(BASE)
    .intercept({ path: (p) => p.startsWith('/cgi-bin/gettoken?'), method: 'GET' })
    .reply(200, { errcode: 0, errmsg: 'ok', access_token: 'mock-token-0001', expires_in: 7200 })
    .persist();
  return new WecomClient({ baseUrl: BASE, corpId: 'wwmock0001', secrets: { contacts: 'mock-contacts-secret' }, retry: { baseDelayMs: 1 }, dispatcher: agent });
}

afterEach(async () => {
  await agent.close();
});

describe('HTTP transport details', () => {
  it('sends through the injected dispatcher: token in the query, JSON body, and no errcode means success', async () => {
    const c = client();
    let seen: { path: string; body: string; type: string } | undefined;
    agent
      .get(BASE)
      .intercept({ path: (p) => p.startsWith('/cgi-bin/user/list_id?'), method: 'POST' })
      .reply(200, (opts) => {
        seen = { path: opts.path, body: String(opts.body), type: String((opts.headers as Record<string, string>)['content-type']) };
        return { dept_user: [{ userid: 'a', department: 1 }] };
      });
    const r = await c.call('user/list_id', { secret: 'contacts', body: { limit: 5 } });
    expect(r.dept_user).toHaveLength(1);
    expect(seen?.path).toContain('access_token=mock-token-0001');
    expect(JSON.parse(seen!.body)).toEqual({ limit: 5 });
    expect(seen?.type).toContain('application/json');
  });

  it('retries a read that got a gateway error page, then reports -4', async () => {
    const c = client();
    agent.get(BASE).intercept({ path: (p) => p.startsWith('/cgi-bin/user/get?') }).reply(502, '<html>Bad Gateway</html>').times(2);
    agent.get(BASE).intercept({ path: (p) => p.startsWith('/cgi-bin/user/get?') }).reply(200, { errcode: 0, userid: 'lina' });
    expect((await c.call('user/get', { secret: 'contacts', query: { userid: 'lina' } })).userid).toBe('lina');

    agent.get(BASE).intercept({ path: (p) => p.startsWith('/cgi-bin/user/get?') }).reply(502, '<html>Bad Gateway</html>').times(4);
    const err = await c.call('user/get', { secret: 'contacts', query: { userid: 'lina' } }).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(-4);
  });

  it('does not take a 5xx without errcode for success, and does not repeat a write after one', async () => {
    const c = client();
    agent.get(BASE).intercept({ path: (p) => p.startsWith('/cgi-bin/user/create?'), method: 'POST' }).reply(503, {});
    const err = await c.call('user/create', { secret: 'contacts', body: { userid: 'x' } }).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(-4);
    expect(err.text.en).toContain('unknown');
  });

  it('reads errcode even when the status is not 200', async () => {
    const c = client();
    agent.get(BASE).intercept({ path: (p) => p.startsWith('/cgi-bin/nope?') }).reply(404, { errcode: 40066, errmsg: 'invalid url' });
    const err = await c.call('nope', { secret: 'contacts' }).catch((e) => e);
    expect(err.errcode).toBe(40066);
  });
});
