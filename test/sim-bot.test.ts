import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../src/sim/index.js';
import { receiver, type Arrival, type Receiver } from './support/receiver.js';

/**
 * The group robot webhook, user/get_active_stat and the 智能机器人 (URL callback mode) over real HTTP
 * (wecom.md §5.3, §6.3, §8.4, §8.6). The robot's URL is a tiny server here that checks signatures and
 * decrypts with @wecom/crypto (receive id ""), as our serve command has to.
 */
let dir: string;
let sim: SimulatorHandle;
const receivers: Receiver[] = [];

async function token(secret: string): Promise<string> {
  const r = await (await fetch(`${sim.baseUrl}/cgi-bin/gettoken?corpid=${sim.credentials.corp_id}&corpsecret=${secret}`)).json();
  return r.access_token;
}
async function post(api: string, body: unknown, t: string): Promise<any> {
  return (await fetch(`${sim.baseUrl}/cgi-bin/${api}?access_token=${t}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
}
async function control(method: string, path: string, body?: unknown): Promise<any> {
  return (await fetch(`${sim.controlUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json();
}
async function webhook(body: unknown, key = sim.credentials.webhook_key): Promise<any> {
  return (await fetch(`${sim.baseUrl}/cgi-bin/webhook/send?key=${encodeURIComponent(key)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
}
async function simNow(): Promise<number> {
  return (await control('GET', '/clock')).now_ms;
}
/** The Beijing calendar date `days` before the simulated now. */
async function beijingDate(daysBack: number): Promise<string> {
  return new Date((await simNow()) + 8 * 3600_000 - daysBack * 86_400_000).toISOString().slice(0, 10);
}

/** A 2×2 PNG (a real one, so a person can open the served file). */
function png(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const rows = Buffer.from([0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

// ---- the robot's URL -------------------------------------------------------------------------------

interface Opened {
  query: URLSearchParams;
  message: Record<string, any>;
}

/** Checks a callback as the robot's server must (msg_signature over encrypt, receive id "") and opens it. */
function open(a: Arrival, tk = sim.credentials.bot_token, key = sim.credentials.bot_aes_key): Opened {
  const q = a.query;
  const outer = JSON.parse(a.body);
  expect(Object.keys(outer)).toEqual(['encrypt']);
  expect(q.get('msg_signature')).toBe(getSignature(tk, q.get('timestamp')!, q.get('nonce')!, outer.encrypt));
  const { message, id } = decrypt(key, outer.encrypt);
  expect(id).toBe('');
  return { query: q, message: JSON.parse(message) };
}

/** An encrypted passive reply, as the robot's server sends it. */
function answer(res: ServerResponse, reply: unknown, opts: { receiveId?: string; badSignature?: boolean } = {}): void {
  const enc = encrypt(sim.credentials.bot_aes_key, JSON.stringify(reply), opts.receiveId ?? '');
  const timestamp = Math.floor(Date.now() / 1000);
  const nonce = randomBytes(6).toString('hex');
  const msgsignature = opts.badSignature ? '0'.repeat(40) : getSignature(sim.credentials.bot_token, timestamp, nonce, enc);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ encrypt: enc, msgsignature, timestamp, nonce }));
}

async function botUrl(onMessage: (m: Record<string, any>, res: ServerResponse) => void): Promise<Receiver> {
  const r = await receiver('/bot/callback', '');
  r.reply = (a, res) => onMessage(open(a).message, res);
  receivers.push(r);
  return r;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wxops-sim-bot-test-'));
  sim = await startSimulator({ dataDir: dir, port: 0 });
});
afterEach(async () => {
  await control('DELETE', '/faults');
});
afterAll(async () => {
  await sim.close();
  for (const r of receivers) await r.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('credentials', () => {
  it('names the webhook key and the bot settings in the env map', () => {
    expect(sim.env.WXOPS_WEBHOOK_KEY).toBe(sim.credentials.webhook_key);
    expect(sim.env.WXOPS_BOT_TOKEN).toBe(sim.credentials.bot_token);
    expect(sim.env.WXOPS_BOT_AES_KEY).toMatch(/^[A-Za-z0-9]{43}$/);
  });
});

describe('group robot webhook (wecom.md §6.3)', () => {
  it('accepts markdown with no access token and records it', async () => {
    const content = '## 告警\n> 服务 **api** 延迟升高 <@zhangwei>';
    expect(await webhook({ msgtype: 'markdown', markdown: { content } })).toEqual({ errcode: 0, errmsg: 'ok' });
    const list = await control('GET', `/webhook/messages?key=${sim.credentials.webhook_key}`);
    expect(list.messages.at(-1)).toMatchObject({ key: sim.credentials.webhook_key, msgtype: 'markdown', content });
    // Exactly 4096 bytes is fine, one more is not (counted in UTF-8 bytes: 中 is 3).
    expect((await webhook({ msgtype: 'markdown', markdown: { content: 'a'.repeat(4096) } })).errcode).toBe(0);
    const long = await webhook({ msgtype: 'markdown', markdown: { content: 'a'.repeat(4097) } });
    expect(long.errcode).toBe(40058);
    expect(long.errmsg).toMatch(/^markdown\.content exceed max length 4096/);
    expect((await webhook({ msgtype: 'markdown', markdown: { content: '中'.repeat(1366) } })).errcode).toBe(40058);
    expect((await control('GET', `/webhook/messages?key=${sim.credentials.webhook_key}`)).messages).toHaveLength(2);
  });

  it('checks text, msgtype and the key', async () => {
    const ok = await webhook({ msgtype: 'text', text: { content: '发布完成', mentioned_list: ['lina', '@all'] } });
    expect(ok.errcode).toBe(0);
    const last = (await control('GET', `/webhook/messages?key=${sim.credentials.webhook_key}`)).messages.at(-1);
    expect(last).toMatchObject({ msgtype: 'text', content: '发布完成', mentioned_list: ['lina', '@all'] });
    expect((await webhook({ msgtype: 'text', text: { content: 'x'.repeat(2049) } })).errcode).toBe(40058);
    expect((await webhook({ msgtype: 'text', text: { content: '' } })).errcode).toBe(44004);
    expect((await webhook({ msgtype: 'sticker' })).errcode).toBe(40008);
    const bad = await webhook({ msgtype: 'text', text: { content: 'hi' } }, 'no-such-robot-key');
    expect(bad.errcode).toBe(93000);
    expect(bad.errmsg).toMatch(/^invalid webhook url, hint: /);
    const none = await (await fetch(`${sim.baseUrl}/cgi-bin/webhook/send`, { method: 'POST', body: '{"msgtype":"text","text":{"content":"x"}}' })).json();
    expect(none.errcode).toBe(93000);
  });

  it('takes an image whose md5 matches its bytes and serves it back', async () => {
    const img = png();
    const md5 = createHash('md5').update(img).digest('hex');
    const wrong = await webhook({ msgtype: 'image', image: { base64: img.toString('base64'), md5: createHash('md5').update('other').digest('hex') } });
    expect(wrong.errcode).toBe(301019);
    expect((await webhook({ msgtype: 'image', image: { base64: Buffer.from('GIF89a....').toString('base64'), md5: createHash('md5').update('GIF89a....').digest('hex') } })).errcode).toBe(40005);
    expect(await webhook({ msgtype: 'image', image: { base64: img.toString('base64'), md5 } })).toEqual({ errcode: 0, errmsg: 'ok' });
    const last = (await control('GET', `/webhook/messages?key=${sim.credentials.webhook_key}`)).messages.at(-1);
    expect(last).toMatchObject({ msgtype: 'image', image: { bytes: img.length, md5, type: 'png' } });
    expect(last.image.url).toBe(`${sim.baseUrl}/_sim/webhook/images/${last.n}.png`);
    const served = await fetch(last.image.url);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await served.arrayBuffer()).equals(img)).toBe(true);
  });

  it('allows 20 messages a minute per robot, then 45009 until the minute has passed', async () => {
    const robot = await control('POST', '/webhook/robots', { name: '限流测试' });
    expect(robot).toMatchObject({ ok: true, name: '限流测试' });
    expect(robot.url).toBe(`${sim.baseUrl}/cgi-bin/webhook/send?key=${robot.key}`);
    for (let i = 1; i <= 20; i++) expect((await webhook({ msgtype: 'text', text: { content: `第${i}条` } }, robot.key)).errcode).toBe(0);
    expect((await webhook({ msgtype: 'text', text: { content: '第21条' } }, robot.key)).errcode).toBe(45009);
    // Another robot has its own window.
    expect((await webhook({ msgtype: 'text', text: { content: '别的群' } })).errcode).toBe(0);
    await control('POST', '/clock', { advance_ms: 61_000 });
    expect((await webhook({ msgtype: 'text', text: { content: '又可以了' } }, robot.key)).errcode).toBe(0);
    expect((await control('GET', `/webhook/messages?key=${robot.key}`)).messages).toHaveLength(21);
  });
});

describe('user/get_active_stat (wecom.md §5.3)', () => {
  it('answers the last 30 days, the same count for the same date, and refuses older dates', async () => {
    const contacts = await token(sim.credentials.contacts_secret);
    const app = await token(sim.credentials.app_secret);
    const yesterday = await beijingDate(1);
    const a = await post('user/get_active_stat', { date: yesterday }, contacts);
    expect(a.errcode).toBe(0);
    expect(Number.isInteger(a.active_cnt)).toBe(true);
    expect(a.active_cnt).toBeGreaterThanOrEqual(0);
    expect(a.active_cnt).toBeLessThanOrEqual(60);
    expect((await post('user/get_active_stat', { date: yesterday }, app)).active_cnt).toBe(a.active_cnt);
    expect((await post('user/get_active_stat', { date: await beijingDate(30) }, contacts)).errcode).toBe(0);
    const old = await post('user/get_active_stat', { date: await beijingDate(31) }, contacts);
    expect(old.errcode).toBe(40058);
    expect(old.errmsg).toMatch(/last 30 days/);
    expect((await post('user/get_active_stat', { date: await beijingDate(-1) }, contacts)).errcode).toBe(40058);
    expect((await post('user/get_active_stat', { date: '2026/01/01' }, contacts)).errcode).toBe(40058);
    expect((await post('user/get_active_stat', { date: yesterday }, await token(sim.credentials.customer_secret))).errcode).toBe(48002);
  });
});

describe('智能机器人 in URL callback mode (wecom.md §8.6 A)', () => {
  it('delivers an encrypted @-mention and follows the stream until it finishes', async () => {
    const seen: Record<string, any>[] = [];
    const url = await botUrl((m, res) => {
      seen.push(m);
      if (m.msgtype === 'text') return answer(res, { msgtype: 'stream', stream: { id: `s-${m.msgid}`, finish: false, content: '正在查询…' } });
      if (m.msgtype === 'stream') return answer(res, { msgtype: 'stream', stream: { id: m.stream.id, finish: true, content: '**李娜**：销售部 · 销售总监' } });
      res.end('');
    });
    const cfg = await control('POST', '/bot/config', { url: url.url, refresh_interval_ms: 50 });
    expect(cfg).toMatchObject({ ok: true, receive_id: '', aibotid: sim.credentials.bot_id, stream_limit_ms: 360_000 });
    expect(JSON.stringify(await control('GET', '/bot/config'))).not.toContain(sim.credentials.bot_aes_key);

    const r = await control('POST', '/bot/mention', { userid: 'zhangwei', text: '查 李娜' });
    expect(r).toMatchObject({ ok: true, delivered: true, refreshes: 1, answer: { msgtype: 'stream', content: '**李娜**：销售部 · 销售总监', finished: true } });
    expect(r.response_url).toMatch(/\/cgi-bin\/aibot\/response\?response_code=/);

    const [msg, refresh] = seen;
    expect(msg).toMatchObject({
      msgid: r.msgid,
      aibotid: sim.credentials.bot_id,
      chatid: r.chatid,
      chattype: 'group',
      from: { userid: 'zhangwei' },
      response_url: r.response_url,
      msgtype: 'text',
      text: { content: '@wxops 查 李娜' },
    });
    expect(r.chatid).toMatch(/^wr/);
    expect(refresh).toMatchObject({ aibotid: sim.credentials.bot_id, chatid: r.chatid, chattype: 'group', from: { userid: 'zhangwei' }, msgtype: 'stream', stream: { id: `s-${r.msgid}` } });
    expect(refresh.msgid).not.toBe(r.msgid);

    const chat = await control('GET', `/bot/messages?chatid=${r.chatid}`);
    expect(chat.messages.map((l: any) => [l.from, l.content])).toEqual([
      ['user', '@wxops 查 李娜'],
      ['bot', '**李娜**：销售部 · 销售总监'],
    ]);
    expect(chat.messages[1]).toMatchObject({ via: 'reply', finished: true, reply_to: r.msgid });

    // The response_url: once, within the hour; other msgtypes 40008 without using it up.
    const send = async (body: unknown) => (await fetch(r.response_url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
    expect((await send({ msgtype: 'text', text: { content: 'x' } })).errcode).toBe(40008);
    expect(await send({ msgtype: 'markdown', markdown: { content: '补充：李娜本周在外出差' } })).toEqual({ errcode: 0, errmsg: 'ok' });
    const again = await send({ msgtype: 'markdown', markdown: { content: '再来一次' } });
    expect(again.errcode).toBe(40058);
    expect(again.errmsg).toMatch(/response_code/);
    const after = (await control('GET', `/bot/messages?chatid=${r.chatid}`)).messages;
    expect(after.at(-1)).toMatchObject({ from: 'bot', via: 'response_url', msgtype: 'markdown', content: '补充：李娜本周在外出差', reply_to: r.msgid });

    // A response_url an hour old is no longer usable.
    const later = await control('POST', '/bot/mention', { userid: 'sunli', text: '你好', chattype: 'single' });
    expect(later).toMatchObject({ ok: true, chatid: 'sunli' });
    expect(seen.at(-2)).toMatchObject({ chattype: 'single', text: { content: '你好' } });
    expect(seen.at(-2)!.chatid).toBeUndefined();
    await control('POST', '/clock', { advance_ms: 3600_001 });
    expect((await (await fetch(later.response_url, { method: 'POST', body: JSON.stringify({ msgtype: 'markdown', markdown: { content: '晚了' } }) })).json()).errcode).toBe(40058);
  });

  it('refuses replies it cannot trust or may not show', async () => {
    let mode: 'badsig' | 'corpid' | 'markdown' | 'plain' = 'badsig';
    const url = await botUrl((m, res) => {
      if (mode === 'plain') return res.end(JSON.stringify({ msgtype: 'stream', stream: { id: 'x', finish: true, content: 'hi' } }));
      if (mode === 'markdown') return answer(res, { msgtype: 'markdown', markdown: { content: 'hi' } });
      answer(res, { msgtype: 'stream', stream: { id: 'x', finish: true, content: 'hi' } }, mode === 'corpid' ? { receiveId: sim.credentials.corp_id } : { badSignature: true });
    });
    await control('POST', '/bot/config', { url: url.url });
    const bad = await control('POST', '/bot/mention', { userid: 'lina', text: 'ping' });
    expect(bad).toMatchObject({ ok: false, delivered: true, answer: null });
    expect(bad.error).toMatch(/msgsignature/);
    mode = 'corpid';
    expect((await control('POST', '/bot/mention', { userid: 'lina', text: 'ping' })).error).toMatch(/receive id/);
    mode = 'markdown';
    expect((await control('POST', '/bot/mention', { userid: 'lina', text: 'ping' })).error).toMatch(/not allowed/);
    mode = 'plain';
    expect((await control('POST', '/bot/mention', { userid: 'lina', text: 'ping' })).error).toMatch(/encrypt/);
  });

  it('answers enter_chat with a welcome text', async () => {
    const url = await botUrl((m, res) => {
      expect(m).toMatchObject({ msgtype: 'event', chattype: 'single', from: { userid: 'chenjing' }, event: { eventtype: 'enter_chat' } });
      answer(res, { msgtype: 'text', text: { content: '你好，我是 wxops' } });
    });
    await control('POST', '/bot/config', { url: url.url });
    expect(await control('POST', '/bot/enter_chat', { userid: 'chenjing' })).toMatchObject({ ok: true, answer: { msgtype: 'text', content: '你好，我是 wxops' } });
    expect((await control('GET', '/bot/messages?chatid=chenjing')).messages.at(-1)).toMatchObject({ from: 'bot', via: 'welcome' });
  });

  it('keeps at most 3 messages in flight per member and gives up on a stream after the time limit', async () => {
    const url = await botUrl((m, res) => {
      const id = m.msgtype === 'stream' ? m.stream.id : `never-${m.msgid}`;
      answer(res, { msgtype: 'stream', stream: { id, finish: false, content: '思考中…' } });
    });
    // 6 simulated minutes shortened to 3 s: refreshes every 200 ms, each standing for 1 s.
    await control('POST', '/bot/config', { url: url.url, refresh_interval_ms: 200, refresh_step_ms: 1000, stream_limit_ms: 3000 });
    const pending = [];
    for (let i = 1; i <= 3; i++) pending.push(await control('POST', '/bot/mention', { userid: 'wangfang', text: `问题${i}`, wait: false }));
    for (const p of pending) expect(p).toMatchObject({ ok: true, pending: true });
    expect((await control('GET', '/bot/inflight')).users.wangfang).toHaveLength(3);

    const fourth = await control('POST', '/bot/mention', { userid: 'wangfang', text: '问题4' });
    expect(fourth).toMatchObject({ ok: false, delivered: false, answer: null });
    expect(fourth.error).toMatch(/3 messages in flight/);
    expect(url.arrivals.filter((a) => open(a).message.msgtype === 'text')).toHaveLength(3);
    // Someone else is not held up.
    const other = await control('POST', '/bot/mention', { userid: 'zhouqiang', text: '我的问题', wait: false });
    expect(other.pending).toBe(true);

    for (let i = 0; i < 100 && Object.keys((await control('GET', '/bot/inflight')).users).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await control('GET', '/bot/inflight')).users).toEqual({});
    const chat = (await control('GET', '/bot/messages')).messages;
    expect(chat.find((l: any) => l.content === '@wxops 问题4')).toMatchObject({ delivered: false });
    const answers = chat.filter((l: any) => l.from === 'bot' && pending.some((p) => p.msgid === l.reply_to));
    expect(answers).toHaveLength(3);
    for (const a of answers) expect(a).toMatchObject({ content: '思考中…', finished: false });

    // Once they are over, the member can ask again; this one also runs out of time.
    const fifth = await control('POST', '/bot/mention', { userid: 'wangfang', text: '问题5' });
    expect(fifth).toMatchObject({ ok: false, delivered: true, answer: { content: '思考中…', finished: false } });
    expect(fifth.refreshes).toBeGreaterThanOrEqual(1);
    expect(fifth.refreshes).toBeLessThanOrEqual(2);
    expect(fifth.elapsed_ms).toBeLessThanOrEqual(3000);
    expect(fifth.error).toMatch(/did not finish/);
  });
});
