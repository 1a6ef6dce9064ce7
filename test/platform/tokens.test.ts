import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError, RuntimeFailure } from '../../src/core/errors.js';
import { loadPlatformConfig } from '../../src/platform/config.js';
import { MpClient } from '../../src/platform/mp/client.js';
import { storeTokens, TokenCache } from '../../src/platform/token-cache.js';
import { ContactsApi } from '../../src/platform/wecom/contacts.js';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { testDatabase } from '../support/postgres.js';
import { startPlatformSim, type PlatformSim } from './helpers.js';

let p: PlatformSim;
beforeAll(async () => {
  p = await startPlatformSim();
});
afterEach(() => p.resetFaults());
afterAll(() => p.close());

describe('access tokens against the simulator', () => {
  it('fetches one token for 20 concurrent calls (single flight)', async () => {
    const before = await p.calls('gettoken');
    const api = new ContactsApi(p.client());
    const users = await Promise.all(Array.from({ length: 20 }, () => api.getUser('lina')));
    expect(users.every((u) => u.name === '李娜')).toBe(true);
    expect((await p.calls('gettoken')) - before).toBe(1);
    // and reuses it afterwards
    await api.getUser('wangfang');
    expect((await p.calls('gettoken')) - before).toBe(1);
  });

  it('keeps one token per secret', async () => {
    const c = p.client();
    const before = await p.calls('gettoken');
    await Promise.all([
      c.call('user/get', { secret: 'contacts', query: { userid: 'lina' } }),
      c.call('user/get', { secret: 'app', query: { userid: 'lina' } }),
      c.call('user/get', { secret: 'contacts', query: { userid: 'sunli' } }),
      c.call('user/get', { secret: 'app', query: { userid: 'sunli' } }),
    ]);
    expect((await p.calls('gettoken')) - before).toBe(2);
  });

  it.each([40014, 42001] as const)('after an expired token (%i) refetches once and retries once', async (code) => {
    const api = new ContactsApi(p.client());
    await api.getUser('lina');
    await p.faults({ expire_tokens: true, expired_token_errcode: code });
    const tokensBefore = await p.calls('gettoken');
    const callsBefore = await p.calls('user/get');
    expect((await api.getUser('wangfang')).name).toBe('王芳');
    expect((await p.calls('gettoken')) - tokensBefore).toBe(1);
    expect((await p.calls('user/get')) - callsBefore).toBe(2);
  });

  it('treats 40001 on a business call like an expired token', async () => {
    const api = new ContactsApi(p.client());
    await api.getUser('lina');
    await p.faults({ fail: [{ api: 'user/get', errcode: 40001, times: 1 }] });
    expect((await api.getUser('lina')).userid).toBe('lina');
  });

  it('does not loop when the token error persists: one refresh, one retry, then the error', async () => {
    const api = new ContactsApi(p.client());
    await api.getUser('lina');
    await p.faults({ fail: [{ api: 'user/get', errcode: 40014, times: 10 }] });
    const callsBefore = await p.calls('user/get');
    const tokensBefore = await p.calls('gettoken');
    const err = await api.getUser('lina').catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.errcode).toBe(40014);
    expect((await p.calls('user/get')) - callsBefore).toBe(2);
    expect((await p.calls('gettoken')) - tokensBefore).toBe(1);
  });

  it('refreshes a short-lived token before it expires instead of on every call', async () => {
    await p.faults({ token_ttl_s: 120 });
    const api = new ContactsApi(p.client());
    const before = await p.calls('gettoken');
    for (let i = 0; i < 5; i++) await api.getUser('lina');
    expect((await p.calls('gettoken')) - before).toBe(1);
  });

  it('names the variable to set when a secret is missing, without calling the platform', async () => {
    const c = p.client({ secrets: { contacts: p.sim.credentials.contacts_secret } });
    const before = await p.calls('gettoken');
    const err = await c.call('externalcontact/list', { secret: 'customer', query: { userid: 'lina' } }).catch((e) => e);
    expect(err).toBeInstanceOf(RuntimeFailure);
    expect(err.text.en).toContain('WXOPS_CUSTOMER_SECRET');
    expect(err.text.zh).toContain('WXOPS_CUSTOMER_SECRET');
    expect(await p.calls('gettoken')).toBe(before);
  });

  it('names the secret variable when gettoken refuses it', async () => {
    const c = p.client({ secrets: { app: 'NotTheRightSecret000000000000000000000000' } });
    const err = await c.call('user/get', { secret: 'app', query: { userid: 'lina' } }).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.api).toBe('gettoken');
    expect(err.text.en).toContain('WXOPS_APP_SECRET');
  });
});

describe('TokenCache', () => {
  it('refreshes early, shares one fetch, and survives a caller that gives up', async () => {
    let now = 0;
    let fetches = 0;
    const cache = new TokenCache(5 * 60_000, () => now);
    let release!: () => void;
    const fetch = () =>
      new Promise<{ token: string; expiresInS: number }>((resolve) => {
        fetches++;
        release = () => resolve({ token: `t${fetches}`, expiresInS: 7200 });
      });
    const quitter = new AbortController();
    const a = cache.get('k', fetch, quitter.signal);
    const b = cache.get('k', fetch);
    quitter.abort(new Error('gave up'));
    await expect(a).rejects.toThrow('gave up');
    release();
    expect(await b).toBe('t1');
    expect(fetches).toBe(1);

    now = (7200 - 301) * 1000; // more than 5 min before expiry: cached
    expect(await cache.get('k', fetch)).toBe('t1');
    now = (7200 - 299) * 1000; // inside the early-refresh window: refetched
    const c = cache.get('k', fetch);
    release();
    expect(await c).toBe('t2');
    expect(fetches).toBe(2);
  });

  it('keeps using a still-valid token when an early refresh fails', async () => {
    let now = 0;
    const cache = new TokenCache(5 * 60_000, () => now);
    expect(await cache.get('k', async () => ({ token: 'old', expiresInS: 7200 }))).toBe('old');
    now = (7200 - 60) * 1000;
    expect(await cache.get('k', async () => Promise.reject(new Error('busy')))).toBe('old');
    now = 7200 * 1000;
    await expect(cache.get('k', async () => Promise.reject(new Error('busy')))).rejects.toThrow('busy');
  });

  it('invalidates only the token that failed', async () => {
    const cache = new TokenCache();
    await cache.get('k', async () => ({ token: 'a', expiresInS: 7200 }));
    cache.invalidate('k', 'stale');
    expect(await cache.get('k', async () => ({ token: 'b', expiresInS: 7200 }))).toBe('a');
    cache.invalidate('k', 'a');
    expect(await cache.get('k', async () => ({ token: 'b', expiresInS: 7200 }))).toBe('b');
  });
});

describe('access tokens shared by several instances (PostgreSQL store)', () => {
  /** Two instances: each its own pool on the shared database, its own client and in-process cache. */
  async function instances(): Promise<{ stores: PostgresStore[]; close(): Promise<void> }> {
    const url = await testDatabase();
    const stores = [new PostgresStore({ url }), new PostgresStore({ url })];
    await Promise.all(stores.map((s) => s.open()));
    return { stores, close: async () => void (await Promise.all(stores.map((s) => s.close()))) };
  }

  it('fetches one token for concurrent calls on both instances, and one after an early expiry', async () => {
    const { stores, close } = await instances();
    try {
      const clients = stores.map((s) => p.client({ sharedTokens: storeTokens(async () => s) }));
      const apis = clients.map((c) => new ContactsApi(c));
      const before = await p.calls('gettoken');
      const users = await Promise.all(Array.from({ length: 20 }, (_, i) => apis[i % 2]!.getUser(i % 3 ? 'lina' : 'wangfang')));
      expect(users.every((u) => u.userid)).toBe(true);
      expect((await p.calls('gettoken')) - before).toBe(1);

      // The platform ends every token early (40014): each instance drops the token that failed, and only
      // one of them fetches the next; the other reads it from the store.
      await p.faults({ expire_tokens: true });
      const again = await Promise.all(Array.from({ length: 20 }, (_, i) => apis[i % 2]!.getUser('lina')));
      expect(again.every((u) => u.userid === 'lina')).toBe(true);
      expect((await p.calls('gettoken')) - before).toBe(2);

      // A third instance starting now reads the shared token instead of fetching one.
      const late = new ContactsApi(p.client({ sharedTokens: storeTokens(async () => stores[0]!) }));
      await late.getUser('sunli');
      expect((await p.calls('gettoken')) - before).toBe(2);

      // Stored under a hash of the credential: neither the secret nor the corp id appears in the key.
      const rows = (await stores[0]!.query<{ id: string }>(`SELECT id FROM wxops_store WHERE collection = 'tokens'`)).rows;
      expect(rows.length).toBeGreaterThan(0);
      for (const { id } of rows) {
        expect(id).toMatch(/^[0-9a-f]{64}$/);
        expect(id).not.toContain(p.sim.credentials.contacts_secret);
      }
    } finally {
      await close();
    }
  });

  it('the Official Account: one stable_token call across instances, and one refresh when the token is due', async () => {
    const { stores, close } = await instances();
    // A 4 s token is refreshed early, 2 s before it ends (at most half its lifetime).
    await p.faults({ token_ttl_s: 4 });
    const cfg = loadPlatformConfig(p.sim.env).mp;
    const clients = stores.map((s) => new MpClient({ ...cfg, sharedTokens: storeTokens(async () => s), retry: { baseDelayMs: 5 } }));
    try {
      const round = () => Promise.all(Array.from({ length: 10 }, (_, i) => clients[i % 2]!.request('menu/get').catch((e) => e)));
      const before = await p.calls('mp/stable_token');
      await round();
      expect((await p.calls('mp/stable_token')) - before).toBe(1);
      await new Promise((r) => setTimeout(r, 2_200));
      await round();
      expect((await p.calls('mp/stable_token')) - before).toBe(2);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await close();
    }
  });
});
