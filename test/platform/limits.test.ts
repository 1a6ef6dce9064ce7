import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KeyedLimiter, WindowBudget } from '../../src/platform/limiter.js';
import { ContactsApi } from '../../src/platform/wecom/contacts.js';
import { startPlatformSim, type PlatformSim } from './helpers.js';

let p: PlatformSim;
beforeAll(async () => {
  p = await startPlatformSim();
});
afterEach(() => p.resetFaults());
afterAll(() => p.close());

describe('limits against the simulator', () => {
  it('keeps calls in flight per API under the cap, so 45033 never happens', async () => {
    const api = new ContactsApi(p.client({ maxConcurrencyPerApi: 4, retry: { maxRetries: 0 } }));
    await api.getUser('lina');
    await p.faults({ concurrency_limit: 4, latency_ms: 20 });
    const before = await p.calls('user/get');
    const users = await Promise.all(Array.from({ length: 40 }, () => api.getUser('wangfang')));
    expect(users).toHaveLength(40);
    // no retries were needed (and none allowed): exactly one platform call per user
    expect((await p.calls('user/get')) - before).toBe(40);
  });

  it('with the default cap (12) stays under the platform limit on a wide fan-out', async () => {
    const api = new ContactsApi(p.client({ retry: { maxRetries: 0 } }));
    await api.getUser('lina');
    await p.faults({ concurrency_limit: 12, latency_ms: 10 });
    const users = await Promise.all(Array.from({ length: 100 }, () => api.getUser('lina')));
    expect(users).toHaveLength(100);
  });

  it('the cap is per API: other APIs are not held up', async () => {
    const api = new ContactsApi(p.client({ maxConcurrencyPerApi: 1 }));
    await api.getUser('lina');
    await p.faults({ latency_ms: 150 });
    const t0 = Date.now();
    await Promise.all([api.getUser('lina'), api.listTags(), api.getDepartment(1)]);
    expect(Date.now() - t0).toBeLessThan(400);
  });

  it('spreads calls over the per-minute budget when one is configured', async () => {
    const api = new ContactsApi(p.client({ rateLimit: { perMinute: { 'tag/get': 3 }, windowMs: 250 } }));
    await api.getTag(1);
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 5 }, () => api.getTag(1)));
    // 1 + 5 = 6 calls at 3 per 250 ms: the last three wait for the second window
    expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
  });
});

describe('KeyedLimiter', () => {
  it('never lets more than the limit run per key, and frees slots on failure', async () => {
    const limiter = new KeyedLimiter(3);
    let running = 0;
    let peak = 0;
    const task = (fail: boolean) => async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (fail) throw new Error('x');
      return 1;
    };
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => limiter.run('a', task(i % 4 === 0))));
    expect(peak).toBe(3);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(15);
    expect(limiter.inFlight('a')).toBe(0);
  });

  it('removes a waiter whose signal aborts', async () => {
    const limiter = new KeyedLimiter(1);
    let release!: () => void;
    const first = limiter.run('a', () => new Promise<void>((r) => (release = r)));
    const ac = new AbortController();
    const second = limiter.run('a', async () => 'ran', ac.signal);
    ac.abort(new Error('cancelled'));
    await expect(second).rejects.toThrow('cancelled');
    const third = limiter.run('a', async () => 'third');
    release();
    await first;
    expect(await third).toBe('third');
    expect(limiter.inFlight('a')).toBe(0);
  });
});

describe('WindowBudget', () => {
  it('allows the limit per window and leaves unlisted keys alone', async () => {
    const budget = new WindowBudget((k) => (k === 'a' ? 2 : undefined), 100);
    const t0 = Date.now();
    for (let i = 0; i < 4; i++) await budget.take('a');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    const t1 = Date.now();
    for (let i = 0; i < 50; i++) await budget.take('b');
    expect(Date.now() - t1).toBeLessThan(50);
  });
});
