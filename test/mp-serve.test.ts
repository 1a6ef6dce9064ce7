import { encrypt, getSignature } from '@wecom/crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../commands/index.js';
import type { RunningServer } from '../src/cli/serve.js';
import { Session } from '../src/core/pipeline.js';
import type { Runtime } from '../src/core/runtime.js';
import { startServe, type TestServe } from './support/serve.js';
import { DEMO_CREDENTIALS } from '../src/sim/index.js';
import { okData } from './support/sandbox.js';

/**
 * `wxops serve` in sandbox mode: the embedded simulator calls `/mp/callback` exactly as the platform
 * does (signed, encrypted, retried), and followers see wxops's auto-replies.
 */
let serve: TestServe;
let runtime: Runtime;
let server: RunningServer;
let session: Session;

beforeAll(async () => {
  serve = await startServe();
  ({ runtime, server } = serve);
  session = new Session({ runtime, registry: createRegistry(), channel: 'repl', actor: 'zhangwei' });
  okData(await session.execute('autoreply subscribe "欢迎关注示例科技！"'));
  okData(await session.execute('autoreply keyword add 产品价格 价格表 --type link --url https://shop.example.com/prices'));
  okData(await session.execute('autoreply click CONTACT_US "客服电话 400-000-0000"'));
  okData(await session.execute('autoreply keyword add 商城 示例商城 --type miniprogram --appid wx6531f9dee418a519 --pagepath pages/index/index --thumb THUMB_MEDIA_1'));
});
afterAll(async () => {
  await serve.close();
});

const sim = (method: string, path: string, body?: unknown) => serve.sim(method, path, body);

async function follower(): Promise<string> {
  return (await sim('POST', '/mp/events', { type: 'subscribe' })).openid;
}

describe('followers talk to the account through wxops serve', () => {
  it('points the sandbox simulator at /mp/callback in safe mode, and passes URL verification', async () => {
    const cfg = await sim('GET', '/mp/server');
    expect(cfg).toMatchObject({ configured: true, url: `${server.url}/mp/callback`, mode: 'safe' });
    expect(JSON.stringify(cfg)).not.toContain(DEMO_CREDENTIALS.mp_aes_key);
    expect((await sim('POST', '/mp/server/verify', {})).ok).toBe(true);
  });

  it('greets a new follower, answers keywords and menu keys, and stays silent without a rule', async () => {
    const greet = await sim('POST', '/mp/events', { type: 'subscribe' });
    expect(greet.reply).toMatchObject({ MsgType: 'text', Content: '欢迎关注示例科技！' });
    const openid = greet.openid;
    const price = await sim('POST', '/mp/events', { type: 'text', openid, content: '产品价格' });
    expect(price.reply.Content).toBe('<a href="https://shop.example.com/prices">价格表</a>');
    const contact = await sim('POST', '/mp/events', { type: 'click', openid, key: 'CONTACT_US' });
    expect(contact.reply.Content).toBe('客服电话 400-000-0000');
    const nothing = await sim('POST', '/mp/events', { type: 'text', openid, content: '在吗' });
    expect(nothing).toMatchObject({ ok: true, reply: null });
    okData(await session.execute('autoreply default "您好，我们会尽快回复。"'));
    await new Promise((r) => setTimeout(r, 1100)); // serve picks up rule edits within a second
    expect((await sim('POST', '/mp/events', { type: 'text', openid, content: '在吗' })).reply.Content).toBe('您好，我们会尽快回复。');
  });

  it('sends a mini program card as a customer-service message right after an empty answer', async () => {
    const openid = await follower();
    const r = await sim('POST', '/mp/events', { type: 'text', openid, content: '商城' });
    expect(r).toMatchObject({ ok: true, reply: null });
    let card: any;
    for (let i = 0; i < 50 && !card; i++) {
      card = (await sim('GET', `/mp/outbox?openid=${openid}`)).messages.find((m: any) => m.msgtype === 'miniprogrampage');
      if (!card) await new Promise((res) => setTimeout(res, 50));
    }
    expect(card).toBeDefined();
  });

  it('works in plain mode too', async () => {
    await sim('POST', '/mp/server', { url: `${server.url}/mp/callback`, mode: 'plain' });
    const openid = await follower();
    expect((await sim('POST', '/mp/events', { type: 'text', openid, content: '产品价格' })).reply.Content).toContain('价格表');
    await sim('POST', '/mp/server', { url: `${server.url}/mp/callback`, mode: 'safe' });
  });

  it('counts menu clicks and link opens for stats menu', async () => {
    const before = okData(await session.execute('stats menu --days 1')).buttons.find((b: any) => b.button === '产品 / 产品价格').clicks;
    const a = await follower();
    const b = await follower();
    // Two presses by one follower in the same second look like a platform retry (same sender, same
    // CreateTime) and count once, as the platform's de-duplication rule says: space them out.
    for (const openid of [a, a, b]) {
      await sim('POST', '/mp/events', { type: 'click', openid, key: 'PRICE_LIST' });
      await sim('POST', '/clock', { advance_ms: 1000 });
    }
    await sim('POST', '/mp/events', { type: 'view', openid: a, url: 'https://www.example.com/products' });
    await server.flush();
    const stats = okData(await session.execute('stats menu --days 1'));
    const price = stats.buttons.find((x: any) => x.button === '产品 / 产品价格');
    expect(price.clicks).toBe(before + 3);
    expect(price.users).toBeGreaterThanOrEqual(2);
    expect(stats.buttons.find((x: any) => x.button === '产品 / 产品介绍').clicks).toBeGreaterThanOrEqual(1);
  });

  it('shows today’s follows and unfollows, which the platform reports only tomorrow', async () => {
    const before = okData(await session.execute('stats mp --days 1')).today ?? { new_user: 0, cancel_user: 0 };
    const openid = await follower();
    await sim('POST', '/mp/events', { type: 'unsubscribe', openid });
    await server.flush();
    const today = okData(await session.execute('stats mp --days 1')).today;
    expect(today.new_user).toBe(before.new_user + 1);
    expect(today.cancel_user).toBe(before.cancel_user + 1);
  });

  it('records the final counts of a push from MASSSENDJOBFINISH', async () => {
    const o = await session.execute('push send --tag VIP客户 --text 会员日');
    const id = (o.error!.details as any).request_id;
    const approver = new Session({ runtime, registry: createRegistry(), channel: 'repl', actor: 'sunli' });
    const done = okData(await approver.execute(`approval approve ${id}`)).result;
    let status: any;
    for (let i = 0; i < 40 && !status?.result; i++) {
      status = okData(await session.execute(`push status ${done.msg_id}`));
      if (!status.result) await new Promise((res) => setTimeout(res, 100));
    }
    expect(status.result).toMatchObject({ status: 'send success' });
    expect(status.result.total).toBeGreaterThan(0);
  });
});

describe('callbacks that are not from the platform are refused before they are read', () => {
  const { mp_token: token, mp_aes_key: aesKey, mp_appid: appid } = DEMO_CREDENTIALS;
  const xml = (content: string, id: number) =>
    `<xml><ToUserName><![CDATA[gh_5a1b2c3d4e5f]]></ToUserName><FromUserName><![CDATA[oLVPpjTESTTESTTESTTESTTESTTE]]></FromUserName><CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${content}]]></Content><MsgId>${id}</MsgId></xml>`;
  function signed(inner: string, opts: { timestamp?: number; tokenUsed?: string } = {}): { url: string; body: string } {
    const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const nonce = '12345';
    const enc = encrypt(aesKey, inner, appid);
    const t = opts.tokenUsed ?? token;
    const q = new URLSearchParams({ signature: getSignature(t, timestamp, nonce, ''), timestamp, nonce, openid: 'x', encrypt_type: 'aes', msg_signature: getSignature(t, timestamp, nonce, enc) });
    return { url: `${server.url}/mp/callback?${q}`, body: `<xml><ToUserName><![CDATA[gh_5a1b2c3d4e5f]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>` };
  }
  const post = async (r: { url: string; body: string }) => {
    const res = await fetch(r.url, { method: 'POST', body: r.body });
    return { status: res.status, text: await res.text() };
  };

  it('answers a properly signed message, and a platform retry gets the same answer', async () => {
    const r = signed(xml('产品价格', 990001));
    const first = await post(r);
    expect(first.status).toBe(200);
    expect(first.text).toContain('<Encrypt>');
    const again = await post(r);
    expect(again.status).toBe(200);
  });

  it('refuses a bad signature, an old timestamp, malformed XML and a body of several megabytes', async () => {
    expect((await post(signed(xml('产品价格', 990002), { tokenUsed: 'NotTheToken' }))).status).toBe(403);
    expect((await post(signed(xml('产品价格', 990003), { timestamp: Math.floor(Date.now() / 1000) - 3600 }))).status).toBe(403);
    expect((await post(signed('<xml><MsgType>text</MsgType><Content>oops'))).status).toBe(400);
    const huge = await fetch(`${server.url}/mp/callback?signature=x&timestamp=1&nonce=1`, { method: 'POST', body: 'x'.repeat(5 * 1024 * 1024) }).then((res) => res.status, () => 413);
    expect(huge).toBe(413);
    const forged = await fetch(`${server.url}/mp/callback?signature=0000&timestamp=${Math.floor(Date.now() / 1000)}&nonce=1&echostr=hello`);
    expect(forged.status).toBe(403);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
