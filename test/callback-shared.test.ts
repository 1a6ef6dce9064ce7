import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WecomBot, BOT_STREAMS } from '../src/channels/wecom-bot.js';
import type { ChatAnswer } from '../src/channels/chat.js';
import { OrgTree } from '../src/core/org.js';
import { WecomCallback } from '../src/customers/callback.js';
import { WELCOME } from '../src/customers/welcome.js';
import { MpCallback } from '../src/mp/callback.js';
import { COUNTS_COLLECTION, EventCounters, type DayCounts } from '../src/mp/counters.js';
import { CallbackDedupe, CallbackVerifier, DEDUPE_COLLECTION } from '../src/platform/callback/index.js';
import { silentLogger } from '../src/platform/redact.js';
import { DEMO_CREDENTIALS } from '../src/sim/index.js';
import type { PostgresStore } from '../src/store/postgres-store.js';
import { openPostgresStore, testDatabase } from './support/postgres.js';

/**
 * A platform retry of one callback reaching two `wxops serve` instances on one database (issue 9): the
 * work runs once, and both answer the same. Each "instance" is a handler with its own pool.
 */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function twoInstances(): Promise<[PostgresStore, PostgresStore]> {
  const url = await testDatabase();
  const make = () => openPostgresStore(url, cleanups);
  return [await make(), await make()];
}

/** An HTTP server in front of one handler's route, as `wxops serve` mounts it. */
async function serveRoute(route: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<string> {
  const server: Server = createServer((req, res) => void route(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

const post = async (url: string, body: string) => {
  const res = await fetch(url, { method: 'POST', body });
  return { status: res.status, text: await res.text() };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('callback de-duplication shared through PostgreSQL', () => {
  it('runs the work once for the same key on two instances, and both get its reply', async () => {
    const [a, b] = await twoInstances();
    const dedupes = [new CallbackDedupe({ store: a, namespace: 't' }), new CallbackDedupe({ store: b, namespace: 't' })];
    let runs = 0;
    const work = async () => {
      runs++;
      await sleep(150);
      return `<xml>reply ${runs}</xml>`;
    };
    const replies = await Promise.all([0, 1, 0, 1, 1].map((i) => dedupes[i]!.run('m\u0000gh_1\u0000990001', work)));
    expect(runs).toBe(1);
    expect(new Set(replies)).toEqual(new Set(['<xml>reply 1</xml>']));
    // Stored under a hash (the key holds NUL characters and ids), with the reply.
    const rows = (await a.query<{ id: string; value: { state: string } }>(`SELECT id, value FROM wxops_store WHERE collection = $1`, [DEDUPE_COLLECTION])).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.value.state).toBe('done');
  });

  it('a failed work releases its key: the retry on the other instance runs it again', async () => {
    const [a, b] = await twoInstances();
    const first = new CallbackDedupe({ store: a });
    const second = new CallbackDedupe({ store: b });
    await expect(first.run('k', async () => Promise.reject(new Error('platform busy')))).rejects.toThrow('platform busy');
    expect(await a.list(DEDUPE_COLLECTION)).toEqual([]);
    expect(await second.run('k', async () => 'ran again')).toBe('ran again');
  });

  it('a retry that cannot wait for the other instance answers the fallback, and a later retry gets the reply', async () => {
    const [a, b] = await twoInstances();
    const slow = new CallbackDedupe({ store: a });
    const impatient = new CallbackDedupe({ store: b, waitMs: 200, pollMs: 20, fallback: 'success' });
    let release!: () => void;
    const working = slow.run('k', () => new Promise<string>((r) => (release = () => r('<xml>late</xml>'))));
    await sleep(50);
    let ranHere = false;
    expect(await impatient.run('k', async () => ((ranHere = true), 'x'))).toBe('success');
    release();
    expect(await working).toBe('<xml>late</xml>');
    // Not kept in memory: this instance looks in the store again.
    expect(await impatient.run('k', async () => ((ranHere = true), 'x'))).toBe('<xml>late</xml>');
    expect(ranHere).toBe(false);
  });

  it('takes over a key whose instance died mid-work once it is older than the TTL, and purges old keys', async () => {
    const [a, b] = await twoInstances();
    const old = Date.now() - 5 * 60_000 - 1000;
    // A claim left by an instance that died while working on it, and an old finished key.
    const dead = createHash('sha256').update('\u0000dead-key').digest('hex');
    await a.update(DEDUPE_COLLECTION, dead, () => ({ id: dead, state: 'working', at: old, claim: 'gone' }));
    const done = 'd'.repeat(64);
    await a.update(DEDUPE_COLLECTION, done, () => ({ id: done, state: 'done', at: old, claim: 'gone', reply: 'old' }));
    const other = new CallbackDedupe({ store: b });
    expect(await other.run('dead-key', async () => 'taken over')).toBe('taken over');
    for (let i = 0; i < 50 && (await b.get(DEDUPE_COLLECTION, done)); i++) await sleep(20);
    expect(await b.get(DEDUPE_COLLECTION, done)).toBeUndefined();
    expect(await b.get(DEDUPE_COLLECTION, dead)).toMatchObject({ state: 'done', reply: 'taken over' });
  });
});

describe('the Official Account callback on two instances', () => {
  const { mp_token: token, mp_aes_key: aesKey, mp_appid: appid } = DEMO_CREDENTIALS;

  it('counts a menu press once and both instances answer with the same reply', async () => {
    const stores = await twoInstances();
    await stores[0].update('mp', 'autoreply', () => ({ keywords: [], clicks: { CONTACT_US: { type: 'text', content: '客服电话 400-000-0000' } } }));
    const counters = stores.map((s) => new EventCounters(s, 10));
    const urls = await Promise.all(
      stores.map((store, i) => {
        const handler = new MpCallback({ verifier: new CallbackVerifier({ platform: 'mp', token, aesKey, receiveId: appid }), store, counters: counters[i]!, logger: silentLogger });
        return serveRoute((req, res) => handler.route(req, res));
      }),
    );
    const at = Math.floor(Date.now() / 1000);
    const inner = `<xml><ToUserName><![CDATA[gh_5a1b2c3d4e5f]]></ToUserName><FromUserName><![CDATA[oLVPpjSHAREDDEDUPE]]></FromUserName><CreateTime>${at}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[CONTACT_US]]></EventKey></xml>`;
    const enc = encrypt(aesKey, inner, appid);
    const ts = String(at);
    const q = new URLSearchParams({ signature: getSignature(token, ts, '7', ''), timestamp: ts, nonce: '7', openid: 'oLVPpjSHAREDDEDUPE', encrypt_type: 'aes', msg_signature: getSignature(token, ts, '7', enc) });
    const body = `<xml><ToUserName><![CDATA[gh_5a1b2c3d4e5f]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`;
    const answers = await Promise.all(urls.map((u) => post(`${u}/mp/callback?${q}`, body)));
    expect(answers.map((x) => x.status)).toEqual([200, 200]);
    expect(answers[0]!.text).toContain('<Encrypt>');
    expect(answers[1]!.text).toBe(answers[0]!.text);
    const reply = decrypt(aesKey, /<Encrypt><!\[CDATA\[(.*?)\]\]>/.exec(answers[0]!.text)![1]!).message;
    expect(reply).toContain('客服电话 400-000-0000');
    await Promise.all(counters.map((c) => c.flush()));
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(at * 1000));
    expect((await stores[1].get<DayCounts>(COUNTS_COLLECTION, day))!.clicks.CONTACT_US).toEqual({ count: 1, users: ['oLVPpjSHAREDDEDUPE'] });
  });

  it('adds counts from two instances instead of overwriting them', async () => {
    const stores = await twoInstances();
    const counters = stores.map((s) => new EventCounters(s, 5));
    const at = new Date();
    for (let i = 0; i < 30; i++) counters[i % 2]!.click('PRICE_LIST', `o${i % 7}`, at);
    for (let i = 0; i < 10; i++) counters[i % 2]!.follower('subscribe', `n${i}`, at);
    await Promise.all(counters.map((c) => c.flush()));
    const day = await stores[0].list<DayCounts>(COUNTS_COLLECTION);
    expect(day).toHaveLength(1);
    expect(day[0]!.clicks.PRICE_LIST!.count).toBe(30);
    expect(day[0]!.clicks.PRICE_LIST!.users).toHaveLength(7);
    expect(day[0]!.subscribe).toBe(10);
  });
});

describe('menu counts when the store cannot be written', () => {
  it('keeps the events and adds them on the next write', async () => {
    const [store] = await twoInstances();
    let down = true;
    const flaky = new Proxy(store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (prop !== 'update' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
        return (...args: unknown[]) => (down ? Promise.reject(new Error('Connection terminated unexpectedly')) : v.apply(target, args));
      },
    });
    const counters = new EventCounters(flaky, 10_000);
    for (let i = 0; i < 3; i++) counters.click('PRICE_LIST', `o${i}`, new Date());
    await counters.flush();
    expect(await store.list(COUNTS_COLLECTION)).toEqual([]);
    down = false;
    await counters.flush();
    expect((await store.list<DayCounts>(COUNTS_COLLECTION))[0]!.clicks.PRICE_LIST!.count).toBe(3);
  });
});

describe('the customer-contact callback on two instances', () => {
  const { callback_token: token, encoding_aes_key: aesKey, corp_id: corpId } = DEMO_CREDENTIALS;

  it('sends the welcome message once when the platform’s retry reaches the other instance', async () => {
    const stores = await twoInstances();
    await stores[0].put(WELCOME, 'default', { key: 'default', text: '您好', attachments: [], set_by: 'zhangwei', set_at: new Date().toISOString() });
    const sent: unknown[] = [];
    const audited: string[] = [];
    const org = new OrgTree([{ id: 1, name: '示例科技', parentid: 0, order: 1 }] as never, [{ userid: 'wangfang', department: 1 }]);
    const urls = await Promise.all(
      stores.map((store) => {
        const handler = new WecomCallback({
          verifier: new CallbackVerifier({ platform: 'wecom', token, aesKey, receiveId: corpId }),
          client: {
            call: async (api: string, opts: { body: unknown }) => {
              sent.push({ api, body: opts.body });
              await sleep(200);
              return { errcode: 0 };
            },
          } as never,
          customers: {} as never,
          store,
          audit: { append: async (e: { action: string }) => void audited.push(e.action) } as never,
          org: async () => org,
          logger: silentLogger,
        });
        return serveRoute((req, res) => handler.route(req, res));
      }),
    );
    const at = Math.floor(Date.now() / 1000);
    const inner = `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>${at}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[wangfang]]></UserID><ExternalUserID><![CDATA[wmSHAREDTEST]]></ExternalUserID><WelcomeCode><![CDATA[WELCOMECODE1]]></WelcomeCode></xml>`;
    const enc = encrypt(aesKey, inner, corpId);
    const ts = String(at);
    const q = new URLSearchParams({ msg_signature: getSignature(token, ts, '9', enc), timestamp: ts, nonce: '9' });
    const body = `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`;
    const answers = await Promise.all(urls.map((u) => post(`${u}/wecom/callback?${q}`, body)));
    expect(answers).toEqual([
      { status: 200, text: '' },
      { status: 200, text: '' },
    ]);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ api: 'externalcontact/send_welcome_msg', body: { welcome_code: 'WELCOMECODE1' } });
    expect(audited).toEqual(['welcome.send']);
  });
});

describe('the WeCom robot on two instances', () => {
  const { bot_token: token, bot_aes_key: aesKey } = DEMO_CREDENTIALS;

  function request(message: Record<string, unknown>): { query: string; body: string } {
    const enc = encrypt(aesKey, JSON.stringify(message), '');
    const ts = String(Math.floor(Date.now() / 1000));
    return { query: new URLSearchParams({ msg_signature: getSignature(token, ts, '5', enc), timestamp: ts, nonce: '5' }).toString(), body: JSON.stringify({ encrypt: enc }) };
  }
  const opened = (text: string) => JSON.parse(decrypt(aesKey, (JSON.parse(text) as { encrypt: string }).encrypt).message) as { stream: { id: string; finish: boolean; content: string } };

  it('runs a message once, and either instance answers the stream refreshes', async () => {
    const stores = await twoInstances();
    let handled = 0;
    let finish!: () => void;
    const gateway = {
      handle: async (_m: unknown, progress?: (p: string) => void): Promise<ChatAnswer> => {
        handled++;
        progress?.('⏳ 3/10');
        await new Promise<void>((r) => (finish = r));
        return { parts: ['✅ 销售部 12 人'] };
      },
    };
    const bots = stores.map((store) => new WecomBot({ verifier: new CallbackVerifier({ platform: 'wecom', token, aesKey, receiveId: '' }), gateway, logger: silentLogger, store }));
    const urls = await Promise.all(bots.map((bot) => serveRoute((req, res) => bot.route(req, res))));
    const message = { msgid: 'MSG-SHARED-1', aibotid: DEMO_CREDENTIALS.bot_id, chatid: 'ops', chattype: 'group', from: { userid: 'lina' }, msgtype: 'text', text: { content: '@wxops member list' } };
    const r = request(message);
    const answers = await Promise.all(urls.map((u) => post(`${u}/wecom/bot?${r.query}`, r.body)));
    expect(handled).toBe(1);
    const [first, second] = answers.map((x) => opened(x.text).stream);
    // Both answer the same stream, as far as it got within the quick wait.
    expect(second).toEqual(first);
    expect(first).toMatchObject({ finish: false, content: '⏳ 3/10' });
    finish();
    // The refreshes come to whichever instance; both know the stream's result.
    await sleep(100);
    const refresh = request({ msgid: 'REFRESH-1', aibotid: DEMO_CREDENTIALS.bot_id, msgtype: 'stream', stream: { id: first!.id } });
    for (const u of urls) {
      const s = opened((await post(`${u}/wecom/bot?${refresh.query}`, refresh.body)).text).stream;
      expect(s).toEqual({ id: first!.id, finish: true, content: '✅ 销售部 12 人' });
    }
    expect(await stores[0].get(BOT_STREAMS, first!.id)).toMatchObject({ finished: true, userid: 'lina' });
  });
});
