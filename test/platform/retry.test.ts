import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError } from '../../src/core/errors.js';
import { backoffDelay, decideOnErrcode, decideOnTransport, isIdempotent, newRetryState, resolveRetry } from '../../src/platform/retry.js';
import { WecomClient } from '../../src/platform/wecom/client.js';
import { ContactsApi } from '../../src/platform/wecom/contacts.js';
import { startPlatformSim, type PlatformSim } from './helpers.js';

let p: PlatformSim;
beforeAll(async () => {
  p = await startPlatformSim();
});
afterEach(() => p.resetFaults());
afterAll(() => p.close());

describe('retries against the simulator', () => {
  it('backs off on -1 twice and then succeeds', async () => {
    const api = new ContactsApi(p.client());
    await api.listDepartments();
    await p.faults({ fail: [{ api: 'department/list', errcode: -1, times: 2 }] });
    const before = await p.calls('department/list');
    expect((await api.listDepartments()).length).toBeGreaterThan(5);
    expect((await p.calls('department/list')) - before).toBe(3);
  });

  it('backs off on 45033 with growing delays and then succeeds', async () => {
    const api = new ContactsApi(p.client({ retry: { baseDelayMs: 40 } }));
    await api.listTags();
    await p.faults({ fail: [{ api: 'tag/list', errcode: 45033, times: 3 }] });
    const t0 = Date.now();
    expect((await api.listTags()).length).toBeGreaterThan(0);
    // 3 retries: at least 20 + 40 + 80 ms (each delay is jittered into the upper half of 40 × 2^n)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('gives up after maxRetries with a sentence, not a loop', async () => {
    const api = new ContactsApi(p.client());
    await api.listDepartments();
    await p.faults({ fail: [{ api: 'department/list', errcode: -1, times: 10 }] });
    const before = await p.calls('department/list');
    const err = await api.listDepartments().catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(-1);
    expect(err.text.zh).toContain('繁忙');
    expect((await p.calls('department/list')) - before).toBe(4); // 1 + 3 retries
  });

  it('waits out 45009 (the configured window) and then succeeds', async () => {
    const api = new ContactsApi(p.client());
    await api.listTags();
    await p.faults({ fail: [{ api: 'tag/list', errcode: 45009, times: 1 }] });
    const t0 = Date.now();
    expect((await api.listTags()).length).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it("waits for the simulator's own minute window after 45009, once", async () => {
    const api = new ContactsApi(p.client({ retry: { rateLimitWaitMs: 300 } }));
    await p.faults({ rate_limit_per_min: { 'tag/get': 2 } });
    await api.getTag(1);
    await api.getTag(1);
    // the third call is over the limit; the minute turns (simulated clock) while the client waits
    setTimeout(() => void p.advanceClock(60_000), 100);
    expect((await api.getTag(1)).tagname).toBe('管理层');
    // the new minute's budget (2) is used up by the retry and this call; no clock change now: one wait, then the error
    await api.getTag(1);
    const err = await api.getTag(1).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(45009);
    expect(err.text.en).toContain('minute');
  });

  it('stops waiting for 45009 when the caller aborts', async () => {
    const c = p.client({ retry: { rateLimitWaitMs: 60_000 } });
    await c.call('tag/list', { secret: 'contacts' });
    await p.faults({ fail: [{ api: 'tag/list', errcode: 45009, times: 1 }] });
    const t0 = Date.now();
    const err = await c.call('tag/list', { secret: 'contacts', signal: AbortSignal.timeout(150) }).catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err.name).toMatch(/TimeoutError|AbortError/);
  });

  it('retries a read whose connection dropped', async () => {
    const api = new ContactsApi(p.client());
    await api.getUser('lina');
    await p.faults({ drop: [{ api: 'user/get', times: 2 }] });
    const before = await p.calls('user/get');
    expect((await api.getUser('lina')).userid).toBe('lina');
    expect((await p.calls('user/get')) - before).toBe(3);
  });

  it('retries a dropped POST read (user/list_id)', async () => {
    const api = new ContactsApi(p.client());
    await p.faults({ drop: [{ api: 'user/list_id', times: 1 }] });
    expect((await api.listUserIds()).length).toBeGreaterThan(10);
  });

  it('does not repeat a create whose connection dropped: outcome unknown', async () => {
    const api = new ContactsApi(p.client());
    await api.getUser('lina');
    await p.faults({ drop: [{ api: 'user/create', times: 1 }] });
    const before = await p.calls('user/create');
    const err = await api.createUser({ userid: 'dropped1', name: '掉线', department: [1], mobile: '13922220001' }).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(-2);
    expect(err.api).toBe('user/create');
    expect(err.text.zh).toContain('是否生效未知');
    expect(err.text.en).toContain('unknown');
    expect(err.text.en).toContain('check');
    expect((await p.calls('user/create')) - before).toBe(1);
  });

  it('does not repeat a delete (a GET write) whose connection dropped', async () => {
    const api = new ContactsApi(p.client());
    await api.getUser('lina');
    await p.faults({ drop: [{ api: 'user/delete', times: 1 }] });
    const err = await api.deleteUser('nobody-here').catch((e) => e);
    expect(err.errcode).toBe(-2);
    expect(err.text.en).toContain('unknown');
  });

  it('times out instead of hanging: a write reports -3, a read is retried then reports -3', async () => {
    const api = new ContactsApi(p.client({ timeoutMs: 120, retry: { baseDelayMs: 5, maxRetries: 1 } }));
    await api.getUser('lina');
    await p.faults({ latency_ms: 400 });
    const t0 = Date.now();
    const write = await api.deleteUser('sunli').catch((e) => e);
    expect(write).toBeInstanceOf(PlatformError);
    expect(write.errcode).toBe(-3);
    expect(write.text.en).toContain('unknown');
    const before = await p.calls('user/get');
    const read = await api.getUser('lina').catch((e) => e);
    expect(read.errcode).toBe(-3);
    expect((await p.calls('user/get')) - before).toBe(2);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('retries even a write when the connection was never made, and says nothing was done', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    const c = new WecomClient({ baseUrl: `http://127.0.0.1:${port}`, corpId: 'wwclosed01', secrets: { contacts: 'closed-port-secret' }, retry: { baseDelayMs: 1 } });
    const err = await c.call('user/create', { secret: 'contacts', body: { userid: 'x' } }).catch((e) => e);
    await c.close();
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(-6);
    expect(err.text.en).toContain('nothing was done');
  });
});

describe('retry policy (pure)', () => {
  const policy = resolveRetry({ baseDelayMs: 200 });

  it('backs off exponentially with jitter in the upper half, capped', () => {
    expect(backoffDelay(policy, 1, () => 0)).toBe(100);
    expect(backoffDelay(policy, 1, () => 1)).toBe(200);
    expect(backoffDelay(policy, 3, () => 1)).toBe(800);
    expect(backoffDelay(policy, 30, () => 1)).toBe(policy.maxDelayMs);
  });

  it('refreshes a token once, retries busy codes maxRetries times, waits for 45009 once', () => {
    const s = newRetryState();
    expect(decideOnErrcode(42001, s, policy).kind).toBe('refresh-token');
    expect(decideOnErrcode(40014, s, policy).kind).toBe('fail');
    const kinds = [1, 2, 3, 4].map(() => decideOnErrcode(-1, s, policy).kind);
    expect(kinds).toEqual(['retry', 'retry', 'retry', 'fail']);
    const s2 = newRetryState();
    expect(decideOnErrcode(45009, s2, policy)).toMatchObject({ kind: 'retry', delayMs: 60_000 });
    expect(decideOnErrcode(45009, s2, policy).kind).toBe('fail');
    expect(decideOnErrcode(60102, newRetryState(), policy).kind).toBe('fail');
    expect(decideOnErrcode(48002, newRetryState(), policy).kind).toBe('fail');
  });

  it('retries transport failures only where it is safe', () => {
    expect(decideOnTransport('network', true, newRetryState(), policy).kind).toBe('retry');
    expect(decideOnTransport('network', false, newRetryState(), policy).kind).toBe('fail');
    expect(decideOnTransport('timeout', false, newRetryState(), policy).kind).toBe('fail');
    expect(decideOnTransport('connect', false, newRetryState(), policy).kind).toBe('retry');
  });

  it('classifies reads and writes', () => {
    expect(isIdempotent('user/get', 'GET')).toBe(true);
    expect(isIdempotent('user/delete', 'GET')).toBe(false);
    expect(isIdempotent('department/delete', 'GET')).toBe(false);
    expect(isIdempotent('user/list_id', 'POST')).toBe(true);
    expect(isIdempotent('user/create', 'POST')).toBe(false);
    expect(isIdempotent('batch/syncuser', 'POST')).toBe(false);
  });
});
