import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { XMLParser } from 'fast-xml-parser';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { receiver as makeReceiver, type Arrival, type Receiver } from './support/receiver.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../src/sim/index.js';

/**
 * The Official Account part of the simulator over real HTTP (mp.md), as a client that knows nothing of
 * our code would see it — plus a tiny server URL receiving the platform's callbacks, checking their
 * signatures and decrypting them with @wecom/crypto.
 */
let dir: string;
let sim: SimulatorHandle;
let token: string;

const DAY = 86_400_000;
const xml = new XMLParser({ parseTagValue: false });

async function call(path: string, init?: RequestInit, query: Record<string, string> = {}, t = token): Promise<any> {
  const qs = new URLSearchParams({ access_token: t, ...query });
  return (await fetch(`${sim.mpBaseUrl}/${path}?${qs}`, init)).json();
}
const get = (api: string, query: Record<string, string> = {}, t = token) => call(`cgi-bin/${api}`, undefined, query, t);
const post = (api: string, body: unknown, t = token) => call(`cgi-bin/${api}`, { method: 'POST', body: JSON.stringify(body) }, {}, t);
const cube = (name: string, body: unknown) => call(`datacube/${name}`, { method: 'POST', body: JSON.stringify(body) });

async function control(method: string, path: string, body?: unknown): Promise<any> {
  return (await fetch(`${sim.controlUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json();
}
async function classicToken(): Promise<string> {
  const c = sim.credentials;
  const r = await (await fetch(`${sim.mpBaseUrl}/cgi-bin/token?grant_type=client_credential&appid=${c.mp_appid}&secret=${c.mp_secret}`)).json();
  return r.access_token;
}
const advance = (ms: number) => control('POST', '/clock', { advance_ms: ms });
async function simNow(): Promise<number> {
  return (await control('GET', '/clock')).now_ms;
}
/** A Beijing date `k` days before the simulated today. */
async function daysAgo(k: number): Promise<string> {
  return new Date((await simNow()) + 8 * 3600_000 - k * DAY).toISOString().slice(0, 10);
}
async function until<T>(probe: () => Promise<T | undefined> | T | undefined, ms = 4000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
async function subscribe(): Promise<string> {
  const r = await control('POST', '/mp/events', { type: 'subscribe' });
  expect(r.ok).toBe(true);
  return r.openid;
}

const receiver = () => makeReceiver('/mp/callback', 'success');

/** Checks a delivery as a server must (signature, msg_signature, decryption, receive id) and returns the message fields. */
function open(a: Arrival, mode: 'plain' | 'compat' | 'safe'): Record<string, string> {
  const { mp_token: tk, mp_aes_key: key, mp_appid: appid } = sim.credentials;
  const q = a.query;
  expect(q.get('signature')).toBe(getSignature(tk, q.get('timestamp')!, q.get('nonce')!, ''));
  const outer = xml.parse(a.body).xml;
  if (mode === 'plain') {
    expect(q.get('encrypt_type')).toBeNull();
    return outer;
  }
  expect(q.get('encrypt_type')).toBe('aes');
  expect(q.get('msg_signature')).toBe(getSignature(tk, q.get('timestamp')!, q.get('nonce')!, outer.Encrypt));
  const { message, id } = decrypt(key, outer.Encrypt);
  expect(id).toBe(appid);
  const inner = xml.parse(message).xml;
  if (mode === 'safe') expect(Object.keys(outer).sort()).toEqual(['Encrypt', 'ToUserName']);
  else expect(outer.FromUserName).toBe(inner.FromUserName);
  return inner;
}

function textReply(to: string, content: string): string {
  return `<xml><ToUserName><![CDATA[${to}]]></ToUserName><FromUserName><![CDATA[${sim.credentials.mp_original_id}]]></FromUserName><CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${content}]]></Content></xml>`;
}
function encryptedReply(inner: string, signature?: string): string {
  const { mp_token: tk, mp_aes_key: key, mp_appid: appid } = sim.credentials;
  const enc = encrypt(key, inner, appid);
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = '1372623149';
  return `<xml><Encrypt><![CDATA[${enc}]]></Encrypt><MsgSignature><![CDATA[${signature ?? getSignature(tk, ts, nonce, enc)}]]></MsgSignature><TimeStamp>${ts}</TimeStamp><Nonce><![CDATA[${nonce}]]></Nonce></xml>`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wxops-sim-mp-test-'));
  sim = await startSimulator({ dataDir: dir, port: 0 });
});
beforeEach(async () => {
  token = await classicToken();
});
afterEach(async () => {
  await control('DELETE', '/faults');
  await control('DELETE', '/mp/server');
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('statistics (datacube)', () => {
  // First, while no follower has acted: yesterday's cumulate_user is exactly who user/get lists.
  it('counts followers from what happened, consistent with user/get', async () => {
    const list = await get('user/get');
    expect(list.total).toBeGreaterThanOrEqual(200);
    const cumulate = await cube('getusercumulate', { begin_date: await daysAgo(7), end_date: await daysAgo(1) });
    expect(cumulate).not.toHaveProperty('errcode');
    expect(cumulate.list).toHaveLength(7);
    expect(cumulate.list.at(-1)).toEqual({ ref_date: await daysAgo(1), user_source: 0, cumulate_user: list.total });
    const summary = await cube('getusersummary', { begin_date: await daysAgo(6), end_date: await daysAgo(1) });
    for (let i = 1; i < 7; i++) {
      const date = cumulate.list[i].ref_date;
      const rows = summary.list.filter((r: any) => r.ref_date === date);
      expect(rows.length).toBeGreaterThan(0);
      const net = rows.reduce((n: number, r: any) => n + r.new_user - r.cancel_user, 0);
      expect(cumulate.list[i].cumulate_user - cumulate.list[i - 1].cumulate_user).toBe(net);
    }
    // 60 days of history.
    const old = await cube('getusersummary', { begin_date: await daysAgo(60), end_date: await daysAgo(54) });
    expect(old.list.length).toBeGreaterThanOrEqual(7);
  });

  it('enforces spans, formats and T+1 with 61501 / 61500', async () => {
    const span = async (name: string, days: number) => cube(name, { begin_date: await daysAgo(days), end_date: await daysAgo(1) });
    for (const [name, max] of [['getusersummary', 7], ['getusercumulate', 7], ['getarticlesummary', 1], ['getarticletotal', 1], ['getuserread', 3], ['getupstreammsg', 7], ['getinterfacesummary', 30]] as const) {
      expect((await span(name, max)).list).toBeInstanceOf(Array);
      expect((await span(name, max + 1)).errcode).toBe(61501);
    }
    expect((await cube('getusersummary', { begin_date: await daysAgo(1), end_date: await daysAgo(0) })).errcode).toBe(61501);
    expect((await cube('getusersummary', { begin_date: await daysAgo(1), end_date: await daysAgo(2) })).errcode).toBe(61501);
    expect((await cube('getusersummary', { begin_date: '2026-13-01', end_date: '2026-13-02' })).errcode).toBe(61500);
    expect((await cube('getusersummary', { begin_date: '20261101', end_date: '20261102' })).errcode).toBe(61500);
  });

  it('reports articles by their msg_data_id and title, scaled to the audience, the same on every call', async () => {
    const { articles } = await control('GET', '/mp/articles');
    expect(articles.length).toBeGreaterThanOrEqual(3);
    const a = articles[0];
    const body = { begin_date: a.published_date, end_date: a.published_date };
    const total = await cube('getarticletotal', body);
    expect(total.list).toHaveLength(1);
    const row = total.list[0];
    expect(row).toMatchObject({ ref_date: a.published_date, msgid: `${a.msg_data_id}_1`, title: a.title });
    expect(row.details[0].stat_date).toBe(a.published_date);
    expect(row.details[0].int_page_read_user).toBeGreaterThan(0);
    expect(row.details[0].int_page_read_user).toBeLessThanOrEqual(row.details[0].target_user);
    expect(row.details[0]).toHaveProperty('int_page_from_session_read_user');
    expect(row.details[0]).toHaveProperty('feed_share_from_feed_cnt');
    const summary = await cube('getarticlesummary', body);
    expect(summary.list.find((r: any) => r.msgid === row.msgid)).toMatchObject({ title: a.title, int_page_read_user: row.details[0].int_page_read_user });
    expect(await cube('getarticlesummary', body)).toEqual(summary);
    const read = await cube('getuserread', body);
    expect(read.list.find((r: any) => r.user_source === 99999999).int_page_read_user).toBeGreaterThanOrEqual(row.details[0].int_page_read_user);
    const up = await cube('getupstreammsg', { begin_date: await daysAgo(7), end_date: await daysAgo(1) });
    expect(up.list[0]).toHaveProperty('msg_type');
    expect(up.list[0]).toHaveProperty('msg_user');
  });
});

describe('access tokens', () => {
  it('issues tokens with the platform codes and rid errmsgs', async () => {
    const c = sim.credentials;
    const t = async (q: string) => (await fetch(`${sim.mpBaseUrl}/cgi-bin/token?${q}`)).json();
    const ok = await t(`grant_type=client_credential&appid=${c.mp_appid}&secret=${c.mp_secret}`);
    expect(Object.keys(ok).sort()).toEqual(['access_token', 'expires_in']);
    expect(ok.expires_in).toBe(7200);
    const badAppid = await t(`grant_type=client_credential&appid=wx0000000000000000&secret=${c.mp_secret}`);
    expect(badAppid.errcode).toBe(40013);
    expect(badAppid.errmsg).toMatch(/^invalid appid rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
    expect((await t(`grant_type=client_credential&appid=${c.mp_appid}&secret=wrong`)).errcode).toBe(40001);
    expect((await t(`grant_type=password&appid=${c.mp_appid}&secret=${c.mp_secret}`)).errcode).toBe(40002);
    expect((await get('menu/get', {}, '')).errcode).toBe(41001);
    expect((await get('menu/get', {}, 'forged')).errcode).toBe(40014);
    // MP tokens are not WeCom tokens, and the other way round.
    const wecom = await (await fetch(`${sim.baseUrl}/cgi-bin/gettoken?corpid=${c.corp_id}&corpsecret=${c.contacts_secret}`)).json();
    expect((await get('menu/get', {}, wecom.access_token)).errcode).toBe(40014);
    expect((await (await fetch(`${sim.baseUrl}/cgi-bin/user/get?access_token=${token}&userid=lina`)).json()).errcode).toBe(40014);
  });

  it('keeps the previous token working for 5 minutes after a new one is issued, then 40001; 42001 when expired', async () => {
    const first = await classicToken();
    const second = await classicToken();
    expect(second).not.toBe(first);
    expect((await get('menu/get', {}, first)).menu).toBeDefined();
    await advance(4 * 60_000);
    expect((await get('menu/get', {}, first)).menu).toBeDefined();
    await advance(61_000);
    expect((await get('menu/get', {}, first)).errcode).toBe(40001);
    expect((await get('menu/get', {}, second)).menu).toBeDefined();
    await advance(7200_000);
    expect((await get('menu/get', {}, second)).errcode).toBe(42001);
    await control('POST', '/faults', { expired_token_errcode: 40014 });
    expect((await get('menu/get', {}, second)).errcode).toBe(40014);
  });

  it('gives the same stable_token while valid; force_refresh replaces it with 5 minutes of overlap', async () => {
    const c = sim.credentials;
    const stable = async (force?: boolean) => (await fetch(`${sim.mpBaseUrl}/cgi-bin/stable_token`, { method: 'POST', body: JSON.stringify({ grant_type: 'client_credential', appid: c.mp_appid, secret: c.mp_secret, force_refresh: force }) })).json();
    const a = await stable();
    const b = await stable();
    expect(b.access_token).toBe(a.access_token);
    expect(b.expires_in).toBeLessThanOrEqual(7200);
    expect((await get('menu/get', {}, a.access_token)).menu).toBeDefined();
    const forced = await stable(true);
    expect(forced.access_token).not.toBe(a.access_token);
    expect((await get('menu/get', {}, a.access_token)).menu).toBeDefined();
    await advance(5 * 60_000 + 1000);
    expect((await get('menu/get', {}, a.access_token)).errcode).toBe(40001);
    expect((await stable()).access_token).toBe(forced.access_token);
    // Inside the last 5 minutes the platform rotates it: a new token, and the old one still works.
    await advance(7200_000 - 6 * 60_000);
    const rotated = await stable();
    expect(rotated.access_token).not.toBe(forced.access_token);
    expect((await get('menu/get', {}, forced.access_token)).menu).toBeDefined();
    expect((await (await fetch(`${sim.mpBaseUrl}/cgi-bin/stable_token`, { method: 'POST', body: '' })).json()).errcode).toBe(44002);
    expect((await (await fetch(`${sim.mpBaseUrl}/cgi-bin/stable_token`)).json()).errcode).toBe(43002);
  });
});

describe('custom menu', () => {
  const click = (name = '产品价格', key = 'PRICE_LIST') => ({ type: 'click', name, key });
  const create = (button: unknown) => post('menu/create', { button });

  it('serves the seeded menu: 3 buttons, one opening the linked mini program 商城', async () => {
    const r = await get('menu/get');
    expect(r).not.toHaveProperty('errcode');
    expect(r.menu.button).toHaveLength(3);
    expect(r.menu.menuid).toBeGreaterThan(0);
    const shop = r.menu.button.find((b: any) => b.type === 'miniprogram');
    expect(shop).toMatchObject({ name: '商城', appid: expect.stringMatching(/^wx[0-9a-f]{16}$/), pagepath: expect.any(String), url: expect.stringMatching(/^https:\/\//) });
    const self = await get('get_current_selfmenu_info');
    expect(self.is_menu_open).toBe(1);
    expect(self.selfmenu_info.button[0].sub_button.list.length).toBeGreaterThan(0);
  });

  it('rejects bad menus with the exact errcodes of mp.md §2.6', async () => {
    const cases: [unknown, number][] = [
      [[], 40016],
      [[click(), click('b', 'B'), click('c', 'C'), click('d', 'D')], 40016],
      [[click('一二三四五六')], 40018], // 18 bytes
      [[click('abcdefghijklmnopq')], 40018], // 17 bytes
      [[click('')], 40018],
      [[{ type: 'text', name: 'x', key: 'k' }], 40017],
      [[{ type: 'click', name: 'x' }], 40019],
      [[{ type: 'click', name: 'x', key: 'k'.repeat(129) }], 40019],
      [[{ type: 'view', name: 'x' }], 40020],
      [[{ type: 'view', name: 'x', url: `https://e.com/${'a'.repeat(1011)}` }], 40020],
      [[{ type: 'view', name: 'x', url: 'www.example.com' }], 40055],
      [[{ name: 'p', sub_button: Array.from({ length: 6 }, (_, i) => click(`s${i}`, `K${i}`)) }], 40023],
      [[{ name: 'p', sub_button: [] }], 40023],
      [[{ name: 'p', sub_button: [click('一'.repeat(21))] }], 40025],
      [[{ name: 'p', sub_button: [{ type: 'text', name: 's' }] }], 40024],
      [[{ name: 'p', sub_button: [{ type: 'click', name: 's' }] }], 40026],
      [[{ name: 'p', sub_button: [{ type: 'view', name: 's', key: 'K' }] }], 40027],
      [[{ name: 'p', sub_button: [{ type: 'view', name: 's', url: 'example.com/x' }] }], 40054],
      [[{ type: 'miniprogram', name: 'm', url: 'https://e.com', appid: 'wx0000000000000000', pagepath: 'pages/a' }], 40166],
      [[{ type: 'media_id', name: 'm' }], 40007],
      [[{ type: 'article_id', name: 'm', article_id: 'nope' }], 40007],
    ];
    for (const [button, errcode] of cases) expect({ button, r: (await create(button)).errcode }).toEqual({ button, r: errcode });
    // menu/get's own output posted back: no top-level `button`.
    const current = await get('menu/get');
    expect((await post('menu/create', current)).errcode).toBe(40016);
    expect((await get('menu/get')).menu.menuid).toBe(current.menu.menuid);
    // Limits are bytes: 5 Chinese characters (15 bytes) fit a top name, 20 (60 bytes) a sub name.
    expect((await create([click('一二三四五'), { name: '服务', sub_button: [click('二'.repeat(20), 'LONG')] }])).errcode).toBe(0);
  });

  it('accepts miniprogram buttons only for a linked mini program', async () => {
    const { miniprograms } = await control('GET', '/mp/miniprograms');
    const shop = miniprograms.find((m: any) => m.nickname === '示例商城');
    const member = miniprograms.find((m: any) => m.nickname === '示例会员中心');
    expect(shop).toMatchObject({ appid: expect.stringMatching(/^wx[0-9a-f]{16}$/), status: 1 });
    expect(member).toMatchObject({ appid: expect.stringMatching(/^wx[0-9a-f]{16}$/), status: null });
    const button = (appid: string, pagepath = 'pages/member/index') => [{ type: 'miniprogram', name: '会员', url: 'https://www.example.com/member', appid, pagepath }];
    expect((await create(button(shop.appid))).errcode).toBe(0);
    expect((await create(button(shop.appid, ''))).errcode).toBe(40165);
    // 示例会员中心 exists but is not linked: 85005 "appid not bind weapp" (40166 with the fault).
    expect((await create(button(member.appid))).errcode).toBe(85005);
    await control('POST', '/faults', { mp_unlinked_weapp_errcode: 40166 });
    expect((await create(button(member.appid))).errcode).toBe(40166);
  });

  it('shows the console auto-replies (read-only)', async () => {
    const r = await get('get_current_autoreply_info');
    expect(r).not.toHaveProperty('errcode');
    expect(r).toMatchObject({ is_add_friend_reply_open: 1, is_autoreply_open: 1, add_friend_autoreply_info: { type: 'text' } });
    const rules = r.keyword_autoreply_info.list;
    expect(rules.map((x: any) => x.reply_list_info[0].type)).toEqual(['text', 'text', 'img', 'news']);
    expect(rules[1].keyword_list_info[0]).toEqual({ type: 'text', match_mode: 'equal', content: '客服' });
  });

  it('creates, gets, deletes; menu/get without a menu is 46003', async () => {
    const before = (await get('menu/get')).menu.menuid;
    const button = [click(), { name: '更多', sub_button: [{ type: 'view', name: '官网', url: 'https://www.example.com/' }] }];
    expect(await create(button)).toEqual({ errcode: 0, errmsg: 'ok' });
    const got = await get('menu/get');
    expect(got.menu.menuid).toBeGreaterThan(before);
    expect(got.menu.button).toEqual([
      { ...click(), sub_button: [] },
      { name: '更多', sub_button: [{ type: 'view', name: '官网', url: 'https://www.example.com/', sub_button: [] }] },
    ]);
    // menu/get's buttons (with their empty sub_button lists) can be posted back as they are.
    expect((await create(got.menu.button)).errcode).toBe(0);
    expect((await get('menu/delete')).errcode).toBe(0);
    expect((await get('menu/get')).errcode).toBe(46003);
    expect((await get('get_current_selfmenu_info')).is_menu_open).toBe(0);
    expect((await post('menu/get', {})).errcode).toBe(43001);
    expect((await get('menu/create')).errcode).toBe(43002);
    expect((await call('cgi-bin/menu/create', { method: 'POST', body: '{"button":' })).errcode).toBe(47001);
  });
});

describe('user tags', () => {
  it('lists system and seeded tags with follower counts; creates with the limits', async () => {
    const { tags } = await get('tags/get');
    expect(tags.find((t: any) => t.id === 2)).toMatchObject({ name: '星标组' });
    expect(tags.find((t: any) => t.name === '潜在客户').count).toBeGreaterThan(0);
    expect(tags.find((t: any) => t.name === 'VIP客户').count).toBeGreaterThan(0);
    const created = await post('tags/create', { tag: { name: '广东' } });
    expect(created).toEqual({ tag: { id: expect.any(Number), name: '广东' } });
    expect(created.tag.id).toBeGreaterThanOrEqual(100);
    expect((await post('tags/create', { tag: { name: '广东' } })).errcode).toBe(45157);
    expect((await post('tags/create', { tag: { name: '星标组' } })).errcode).toBe(45157);
    expect((await post('tags/create', { tag: { name: '一'.repeat(11) } })).errcode).toBe(45158); // 33 bytes
    expect((await post('tags/create', { tag: { name: '一'.repeat(10) } })).tag.name).toBe('一'.repeat(10));
    expect((await post('tags/update', { tag: { id: 2, name: 'x' } })).errcode).toBe(45058);
    expect((await post('tags/delete', { tag: { id: 1 } })).errcode).toBe(45058);
    expect((await post('tags/update', { tag: { id: 99999, name: 'x' } })).errcode).toBe(45159);
    expect(await post('tags/update', { tag: { id: created.tag.id, name: '广东人' } })).toEqual({ errcode: 0, errmsg: 'ok' });
  });

  it('tags followers (≤ 50 a call, ≤ 20 tags each) and pages a tag by next_openid', async () => {
    const { data } = await get('user/get');
    const some = data.openid.slice(0, 5);
    const tag = (await post('tags/create', { tag: { name: '批量' } })).tag;
    expect((await post('tags/members/batchtagging', { tagid: tag.id, openid_list: data.openid.slice(0, 51) })).errcode).toBe(40032);
    expect((await post('tags/members/batchtagging', { tagid: tag.id, openid_list: [] })).errcode).toBe(40032);
    expect((await post('tags/members/batchtagging', { tagid: tag.id, openid_list: [...some, 'oLVPpjNOTAFOLLOWER000000000x'] })).errcode).toBe(40003);
    expect((await post('tags/members/batchtagging', { tagid: 77777, openid_list: some })).errcode).toBe(45159);
    expect((await post('tags/members/batchtagging', { tagid: tag.id, openid_list: some })).errcode).toBe(0);
    expect((await get('tags/get')).tags.find((t: any) => t.id === tag.id).count).toBe(5);
    await control('POST', '/faults', { mp_page_size: 2 });
    const seen: string[] = [];
    let next = '';
    for (let i = 0; i < 10; i++) {
      const page = await post('user/tag/get', { tagid: tag.id, next_openid: next });
      if (page.count === 0) {
        expect(page.next_openid).toBe('');
        break;
      }
      seen.push(...page.data.openid);
      next = page.next_openid;
    }
    expect(seen.sort()).toEqual([...some].sort());
    expect((await post('tags/getidlist', { openid: some[0] })).tagid_list).toContain(tag.id);
    expect((await post('tags/members/batchuntagging', { tagid: tag.id, openid_list: some.slice(0, 2) })).errcode).toBe(0);
    expect((await get('tags/get')).tags.find((t: any) => t.id === tag.id).count).toBe(3);
    // 20 tags per follower.
    const who = some[4];
    const have = (await post('tags/getidlist', { openid: who })).tagid_list.length;
    for (let i = have; i < 20; i++) {
      const t = (await post('tags/create', { tag: { name: `满${i}` } })).tag;
      expect((await post('tags/members/batchtagging', { tagid: t.id, openid_list: [who] })).errcode).toBe(0);
    }
    const extra = (await post('tags/create', { tag: { name: '第二十一' } })).tag;
    expect((await post('tags/members/batchtagging', { tagid: extra.id, openid_list: [who] })).errcode).toBe(45059);
    // Deleting a tag takes it off its followers.
    expect((await post('tags/delete', { tag: { id: tag.id } })).errcode).toBe(0);
    expect((await post('tags/getidlist', { openid: some[4] })).tagid_list).not.toContain(tag.id);
  });

  it('allows at most 100 user tags (45056)', async () => {
    let n = (await get('tags/get')).tags.filter((t: any) => t.id >= 100).length;
    for (; n < 100; n++) expect((await post('tags/create', { tag: { name: `标签${n}` } })).tag).toBeDefined();
    expect((await post('tags/create', { tag: { name: '一百零一' } })).errcode).toBe(45056);
    await control('POST', '/reset');
    expect((await get('tags/get')).tags).toHaveLength(3);
  });
});

describe('followers', () => {
  it('pages user/get by next_openid; the page after the last is empty', async () => {
    await control('POST', '/faults', { mp_page_size: 40 });
    const all: string[] = [];
    let next = '';
    let total = 0;
    for (let i = 0; i < 20; i++) {
      const page = await get('user/get', { next_openid: next });
      expect(page).not.toHaveProperty('errcode');
      total = page.total;
      if (page.count === 0) {
        expect(page.next_openid).toBe('');
        expect(page.data).toBeUndefined();
        break;
      }
      expect(page.count).toBeLessThanOrEqual(40);
      all.push(...page.data.openid);
      next = page.next_openid;
    }
    expect(total).toBeGreaterThanOrEqual(200);
    expect(all).toHaveLength(total);
    expect(new Set(all).size).toBe(total);
    for (const o of all) expect(o).toMatch(/^oLVPpj[A-Za-z0-9_-]{22}$/);
    expect((await get('user/get', { next_openid: 'oLVPpjNOTAFOLLOWER000000000x' })).errcode).toBe(40003);
  });

  it('gives user/info without nickname; an unfollowed openid shows only subscribe:0', async () => {
    const openid = await subscribe();
    const info = await get('user/info', { openid, lang: 'zh_CN' });
    expect(info).toMatchObject({ subscribe: 1, openid, language: 'zh_CN', subscribe_scene: 'ADD_SCENE_SEARCH', tagid_list: [] });
    expect(info).not.toHaveProperty('nickname');
    expect(info).not.toHaveProperty('headimgurl');
    expect(Math.abs(info.subscribe_time * 1000 - (await simNow()))).toBeLessThan(5000);
    expect((await post('user/info/updateremark', { openid, remark: '展会客户' })).errcode).toBe(0);
    expect((await get('user/info', { openid })).remark).toBe('展会客户');
    await control('POST', '/mp/events', { type: 'unsubscribe', openid });
    expect(await get('user/info', { openid })).toEqual({ subscribe: 0, openid });
    const batch = await post('user/info/batchget', { user_list: [{ openid, lang: 'zh_CN' }, { openid: (await get('user/get')).data.openid[0] }] });
    expect(batch.user_info_list).toHaveLength(2);
    expect(batch.user_info_list[0]).toEqual({ subscribe: 0, openid });
    expect((await post('user/info/batchget', { user_list: Array.from({ length: 101 }, () => ({ openid })) })).errcode).toBe(40032);
    expect((await get('user/info', { openid: 'nobody' })).errcode).toBe(40003);
    // A returning follower keeps the openid.
    expect((await control('POST', '/mp/events', { type: 'subscribe', openid })).openid).toBe(openid);
    expect((await get('user/info', { openid })).subscribe).toBe(1);
  });
});

describe('daily quotas', () => {
  it('answers 45009 past the quota until the next day; openapi/quota/get shows it', async () => {
    await control('POST', '/faults', { mp_quota: { 'menu/get': 2 } });
    expect((await get('menu/get')).menu).toBeDefined();
    expect((await get('menu/get')).menu).toBeDefined();
    const over = await get('menu/get');
    expect(over.errcode).toBe(45009);
    expect(over.errmsg).toMatch(/^reach max api daily quota limit rid: /);
    expect(await post('openapi/quota/get', { cgi_path: '/cgi-bin/menu/get' })).toEqual({ errcode: 0, errmsg: 'ok', quota: { daily_limit: 2, used: 2, remain: 0 } });
    expect((await post('openapi/quota/get', { cgi_path: '/cgi-bin/menu/create' })).quota.daily_limit).toBe(1000);
    expect((await post('openapi/quota/get', { cgi_path: '/cgi-bin/nope' })).errcode).toBe(76021);
    expect((await post('openapi/quota/clear', { cgi_path: '/cgi-bin/menu/get' })).errcode).toBe(0);
    expect((await get('menu/get')).menu).toBeDefined();
    expect((await get('menu/get')).menu).toBeDefined();
    expect((await get('menu/get')).errcode).toBe(45009);
    await advance(DAY);
    token = await classicToken();
    expect((await get('menu/get')).menu).toBeDefined();
  });
});

describe('callbacks to the server URL', () => {
  let rx: Receiver;
  beforeEach(async () => {
    rx = await receiver();
  });
  afterEach(async () => {
    await rx.close();
  });
  const event = (body: unknown) => control('POST', '/mp/events', body);

  it('verifies the URL: the echostr must come back verbatim', async () => {
    rx.reply = (a, res) => {
      const q = a.query;
      const good = q.get('signature') === getSignature(sim.credentials.mp_token, q.get('timestamp')!, q.get('nonce')!, '');
      res.end(good ? q.get('echostr') : 'bad');
    };
    await control('POST', '/mp/server', { url: rx.url, mode: 'safe' });
    const shown = await control('GET', '/mp/server');
    expect(shown).toMatchObject({ configured: true, url: rx.url, mode: 'safe', reply_timeout_ms: 5000, aes_key_set: true });
    expect(JSON.stringify(shown)).not.toContain(sim.credentials.mp_aes_key);
    expect((await control('POST', '/mp/server/verify')).ok).toBe(true);
    expect(rx.arrivals[0]!.method).toBe('GET');
    await control('POST', '/mp/server', { url: rx.url, token: 'AnotherToken1' });
    expect((await control('POST', '/mp/server/verify')).ok).toBe(false);
  });

  it('plain mode: signed XML in, the passive reply is what the follower sees (and lands in the outbox)', async () => {
    await control('POST', '/mp/server', { url: rx.url, mode: 'plain' });
    rx.reply = (a, res) => {
      const m = open(a, 'plain');
      res.end(textReply(m.FromUserName!, `收到：${m.Content}`));
    };
    const openid = (await get('user/get')).data.openid[10];
    const r = await event({ type: 'text', openid, content: '价格' });
    expect(r).toMatchObject({ ok: true, openid, attempts: 1, status: 200, reply: { MsgType: 'text', Content: '收到：价格' } });
    const m = open(rx.arrivals[0]!, 'plain');
    expect(m).toMatchObject({ ToUserName: sim.credentials.mp_original_id, FromUserName: openid, MsgType: 'text', Content: '价格' });
    expect(m.MsgId).toMatch(/^\d{17}$/);
    expect(rx.arrivals[0]!.query.get('openid')).toBe(openid);
    expect(rx.arrivals[0]!.body).toContain('<Content><![CDATA[价格]]></Content>');
    const outbox = await control('GET', `/mp/outbox?openid=${openid}`);
    expect(outbox.messages.at(-1)).toMatchObject({ via: 'passive', msgtype: 'text', content: '收到：价格' });
    // Replies nobody sees: empty body and "success".
    rx.reply = (_a, res) => res.end('');
    expect((await event({ type: 'text', openid, content: 'a' })).reply).toBeNull();
    rx.reply = (_a, res) => res.end('success');
    expect(await event({ type: 'text', openid, content: 'b' })).toMatchObject({ ok: true, reply: null });
    const ids = rx.arrivals.slice(-3).map((a) => open(a, 'plain').MsgId);
    expect(new Set(ids).size).toBe(3);
  });

  it('safe mode: only Encrypt in the body, msg_signature over it; an encrypted reply is verified and decrypted', async () => {
    await control('POST', '/mp/server', { url: rx.url });
    rx.reply = (a, res) => {
      const m = open(a, 'safe');
      res.end(encryptedReply(textReply(m.FromUserName!, `事件 ${m.Event} ${m.EventKey}`)));
    };
    const openid = (await get('user/get')).data.openid[11];
    const r = await event({ type: 'click', openid, key: 'PRICE_LIST' });
    expect(r).toMatchObject({ ok: true, attempts: 1, reply: { MsgType: 'text', Content: '事件 CLICK PRICE_LIST' } });
    expect(open(rx.arrivals[0]!, 'safe')).toMatchObject({ MsgType: 'event', Event: 'CLICK', EventKey: 'PRICE_LIST' });
    // A plaintext reply in safe mode, a forged MsgSignature, or something that is not XML: the follower sees the error.
    rx.reply = (a, res) => res.end(textReply(open(a, 'safe').FromUserName!, 'plain'));
    expect(await event({ type: 'text', openid, content: 'x' })).toMatchObject({ ok: false, shown: '该公众号暂时无法提供服务，请稍后再试', attempts: 1 });
    rx.reply = (a, res) => res.end(encryptedReply(textReply(open(a, 'safe').FromUserName!, 'x'), 'f'.repeat(40)));
    expect((await event({ type: 'text', openid, content: 'x' })).ok).toBe(false);
    rx.reply = (_a, res) => res.end('{"reply":"json"}');
    expect(await event({ type: 'text', openid, content: 'x' })).toMatchObject({ ok: false, shown: '该公众号暂时无法提供服务，请稍后再试', attempts: 1 });
    rx.reply = (a, res) => res.end(encryptedReply(textReply('someone-else', 'x')));
    expect((await event({ type: 'text', openid, content: 'x' })).ok).toBe(false);
  });

  it('compat mode: plain fields plus Encrypt; a plaintext reply is fine', async () => {
    await control('POST', '/mp/server', { url: rx.url, mode: 'compat' });
    rx.reply = (a, res) => res.end(textReply(open(a, 'compat').FromUserName!, '你好'));
    const r = await event({ type: 'subscribe' });
    expect(r).toMatchObject({ ok: true, reply: { Content: '你好' } });
    expect(open(rx.arrivals[0]!, 'compat')).toMatchObject({ MsgType: 'event', Event: 'subscribe', FromUserName: r.openid });
    expect((await get('user/info', { openid: r.openid })).subscribe).toBe(1);
  });

  it('retries a stalled server with the same MsgId and CreateTime, 3 attempts in all', async () => {
    await control('POST', '/mp/server', { url: rx.url, mode: 'plain', reply_timeout_ms: 200 });
    const openid = (await get('user/get')).data.openid[12];
    let n = 0;
    rx.reply = (a, res) => {
      if (++n < 3) return; // never answers: the platform gives up on this connection
      res.end(textReply(open(a, 'plain').FromUserName!, '终于'));
    };
    const r = await event({ type: 'text', openid, content: '在吗' });
    expect(r).toMatchObject({ ok: true, attempts: 3, reply: { Content: '终于' } });
    const seen = rx.arrivals.map((a) => open(a, 'plain'));
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((m) => m.MsgId)).size).toBe(1);
    expect(new Set(seen.map((m) => m.CreateTime)).size).toBe(1);
    rx.reply = () => {};
    expect(await event({ type: 'text', openid, content: '还在吗' })).toMatchObject({ ok: false, shown: '该公众号暂时无法提供服务，请稍后再试', attempts: 3 });
    expect(rx.arrivals).toHaveLength(6);
  });

  it('only lets followers use what the menu has; VIEW and view_miniprogram carry the menu id', async () => {
    await control('POST', '/mp/server', { url: rx.url, mode: 'plain' });
    const openid = (await get('user/get')).data.openid[13];
    expect((await event({ type: 'click', openid, key: 'NOT_IN_MENU' })).ok).toBe(false);
    expect((await event({ type: 'view', openid, url: 'https://evil.example.com/' })).ok).toBe(false);
    expect((await event({ type: 'text', openid: 'oLVPpjNOTAFOLLOWER000000000x', content: 'x' })).ok).toBe(false);
    const menu = (await get('menu/get')).menu;
    const view = menu.button.flatMap((b: any) => (b.sub_button.length ? b.sub_button : [b])).find((b: any) => b.type === 'view');
    expect(await event({ type: 'view', openid, url: view.url })).toMatchObject({ ok: true, reply: null });
    expect(open(rx.arrivals.at(-1)!, 'plain')).toMatchObject({ Event: 'VIEW', EventKey: view.url, MenuId: String(menu.menuid) });
    const shop = menu.button.find((b: any) => b.type === 'miniprogram');
    expect((await event({ type: 'view_miniprogram', openid, pagepath: shop.pagepath })).ok).toBe(true);
    expect(open(rx.arrivals.at(-1)!, 'plain')).toMatchObject({ Event: 'view_miniprogram', EventKey: shop.pagepath });
    const qr = await event({ type: 'subscribe', qr_scene_str: 'expo_2026' });
    expect(open(rx.arrivals.at(-1)!, 'plain')).toMatchObject({ Event: 'subscribe', EventKey: 'qrscene_expo_2026' });
    expect((await get('user/info', { openid: qr.openid })).subscribe_scene).toBe('ADD_SCENE_QR_CODE');
    // Callbacks show up in getinterfacesummary once the day is over.
    await advance(DAY);
    token = await classicToken();
    const summary = await cube('getinterfacesummary', { begin_date: await daysAgo(1), end_date: await daysAgo(1) });
    expect(summary.list[0].callback_count).toBeGreaterThanOrEqual(rx.arrivals.length);
  });
});

describe('customer-service messages', () => {
  it('reach a follower within 48 h of their last interaction, 20 per interaction', async () => {
    const openid = await subscribe();
    const send = (content: string, to = openid) => post('message/custom/send', { touser: to, msgtype: 'text', text: { content } });
    expect(await send('欢迎关注')).toEqual({ errcode: 0, errmsg: 'ok' });
    expect((await control('GET', `/mp/outbox?openid=${openid}&via=custom`)).messages[0]).toMatchObject({ msgtype: 'text', content: '欢迎关注' });
    expect((await send('a'.repeat(2049))).errcode).toBe(45002);
    expect((await send('')).errcode).toBe(44004);
    expect((await send('x', 'oLVPpjNOTAFOLLOWER000000000x')).errcode).toBe(40003);
    expect((await post('message/custom/send', { touser: openid, msgtype: 'bogus', bogus: {} })).errcode).toBe(40008);
    await advance(48 * 3600_000 + 1000);
    token = await classicToken();
    expect((await send('太迟了')).errcode).toBe(45015);
    await control('POST', '/mp/events', { type: 'click', openid, key: 'CONTACT_US' });
    for (let i = 0; i < 20; i++) expect((await send(`第${i}条`)).errcode).toBe(0);
    expect((await send('第21条')).errcode).toBe(45047);
    await control('POST', '/mp/events', { type: 'text', openid, content: '再问一下' });
    expect((await send('回答')).errcode).toBe(0);
    const news = await post('message/custom/send', { touser: openid, msgtype: 'news', news: { articles: [{ title: 'a', url: 'https://e.com' }, { title: 'b', url: 'https://e.com' }] } });
    expect(news.errcode).toBe(45008);
    await control('POST', '/mp/events', { type: 'unsubscribe', openid });
    expect((await send('还在吗')).errcode).toBe(45015);
  });
});

describe('mass messages', () => {
  let rx: Receiver;
  beforeAll(async () => {
    rx = await receiver();
  });
  afterAll(async () => {
    await rx.close();
  });
  /** Keeps the four-a-month cap away from a month boundary. */
  async function midMonth(): Promise<void> {
    const day = new Date((await simNow()) + 8 * 3600_000).getUTCDate();
    if (day > 20) {
      await advance((33 - day) * DAY);
      token = await classicToken();
    }
  }
  async function finished(msgId: number): Promise<Record<string, string>> {
    const arrival = await until(() => rx.arrivals.find((a) => open(a, 'plain').MsgID === String(msgId)));
    return open(arrival, 'plain');
  }

  it('sends by tag as a job: SENDING, then SEND_SUCCESS and MASSSENDJOBFINISH; 4 a month per follower', async () => {
    await midMonth();
    await control('POST', '/mp/server', { url: rx.url, mode: 'plain' });
    const people = [await subscribe(), await subscribe(), await subscribe()];
    const tag = (await post('tags/create', { tag: { name: '群发测试' } })).tag;
    await post('tags/members/batchtagging', { tagid: tag.id, openid_list: people });
    const send = (content: string) => post('message/mass/sendall', { filter: { is_to_all: false, tag_id: tag.id }, msgtype: 'text', text: { content } });
    const first = await send('第一条群发');
    expect(first).toMatchObject({ errcode: 0, errmsg: 'send job submission success', msg_id: expect.any(Number) });
    expect(first).not.toHaveProperty('msg_data_id');
    expect(await post('message/mass/get', { msg_id: String(first.msg_id) })).toEqual({ msg_id: first.msg_id, msg_status: 'SENDING' });
    await advance(2100);
    const done = await finished(first.msg_id);
    expect(done).toMatchObject({ MsgType: 'event', Event: 'MASSSENDJOBFINISH', Status: 'send success', TotalCount: '3', FilterCount: '3', SentCount: '3', ErrorCount: '0' });
    expect(rx.arrivals.some((a) => a.body.includes('<MsgID>'))).toBe(true);
    expect((await post('message/mass/get', { msg_id: first.msg_id })).msg_status).toBe('SEND_SUCCESS');
    expect((await control('GET', `/mp/outbox?openid=${people[0]}&via=mass`)).messages[0]).toMatchObject({ msgtype: 'text', content: '第一条群发', msg_id: first.msg_id });
    for (let i = 2; i <= 4; i++) {
      const r = await send(`第${i}条`);
      await advance(2100);
      expect((await finished(r.msg_id)).SentCount).toBe('3');
    }
    const fifth = await send('第五条');
    await advance(2100);
    expect(await finished(fifth.msg_id)).toMatchObject({ TotalCount: '3', FilterCount: '0', SentCount: '0' });
    expect((await control('GET', `/mp/outbox?openid=${people[1]}&via=mass`)).messages).toHaveLength(4);
    expect((await control('GET', '/mp/deliveries')).deliveries.find((d: any) => d.msg_id === fifth.msg_id)).toMatchObject({ ok: true, attempts: 1 });
  });

  it('submits to an empty tag (the client must notice), dedupes clientmsgid, checks payloads', async () => {
    await control('POST', '/mp/server', { url: rx.url, mode: 'plain' });
    const empty = (await post('tags/create', { tag: { name: '空标签' } })).tag;
    const r = await post('message/mass/sendall', { filter: { is_to_all: false, tag_id: empty.id }, msgtype: 'text', text: { content: '没人收' } });
    expect(r.errcode).toBe(0);
    await advance(2100);
    expect(await finished(r.msg_id)).toMatchObject({ TotalCount: '0', SentCount: '0' });
    expect((await post('message/mass/sendall', { filter: { is_to_all: false, tag_id: 999999 }, msgtype: 'text', text: { content: 'x' } })).errcode).toBe(45159);
    expect((await post('message/mass/sendall', { filter: { is_to_all: true }, msgtype: 'voice', voice: { media_id: 'nope' } })).errcode).toBe(40007);
    expect((await post('message/mass/sendall', { filter: { is_to_all: true }, msgtype: 'bogus' })).errcode).toBe(40008);
    const body = { filter: { is_to_all: false, tag_id: empty.id }, msgtype: 'text', text: { content: 'once' }, clientmsgid: 'campaign-2026-11' };
    const once = await post('message/mass/sendall', body);
    expect(once.errcode).toBe(0);
    expect((await post('message/mass/sendall', body)).errcode).toBe(45066);
    await advance(61_000);
    expect(await post('message/mass/sendall', body)).toMatchObject({ errcode: 45065, msg_id: once.msg_id });
    expect((await post('message/mass/sendall', { ...body, clientmsgid: 'x'.repeat(65) })).errcode).toBe(45067);
    // mpnews of a published article: msg_data_id, and it can be deleted once sent.
    const { articles } = await control('GET', '/mp/articles');
    const people = [await subscribe(), await subscribe()];
    const news = await post('message/mass/send', { touser: people, msgtype: 'mpnews', mpnews: { media_id: articles[0].media_id }, send_ignore_reprint: 0 });
    expect(news).toMatchObject({ errcode: 0, msg_id: expect.any(Number), msg_data_id: expect.any(Number) });
    expect((await post('message/mass/delete', { msg_id: news.msg_id })).errcode).toBe(61451);
    await advance(2100);
    expect(await finished(news.msg_id)).toMatchObject({ TotalCount: '2', SentCount: '2' });
    expect(rx.arrivals.at(-1)!.body).toContain('<ArticleUrl>');
    expect((await post('message/mass/delete', { msg_id: news.msg_id, article_idx: 0 })).errcode).toBe(0);
    expect((await post('message/mass/get', { msg_id: news.msg_id })).msg_status).toBe('DELETE');
    expect((await post('message/mass/send', { touser: [people[0]], msgtype: 'text', text: { content: 'x' } })).errcode).toBe(40130);
    expect((await post('message/mass/send', { touser: [people[0], 'nobody'], msgtype: 'text', text: { content: 'x' } })).errcode).toBe(40003);
    const preview = await post('message/mass/preview', { touser: people[0], msgtype: 'text', text: { content: '预览' } });
    expect(preview).toMatchObject({ errcode: 0, errmsg: 'preview success' });
    expect((await control('GET', `/mp/outbox?openid=${people[0]}&via=preview`)).messages[0].content).toBe('预览');
  });

  it('counts mass sends against the daily quota (45009 via mp_quota)', async () => {
    await control('POST', '/faults', { mp_quota: { 'message/mass/sendall': 0 } });
    expect((await post('message/mass/sendall', { filter: { is_to_all: true }, msgtype: 'text', text: { content: 'x' } })).errcode).toBe(45009);
  });
});

describe('mini program linking and the rest of the surface', () => {
  it('links 示例会员中心: waiting (12) until the admin confirms; unlinks', async () => {
    const appOf = async (name: string) => (await post('wxopen/wxamplinkget', {})).wxopens.items.find((m: any) => m.nickname === name);
    const { miniprograms } = await control('GET', '/mp/miniprograms');
    const member = miniprograms.find((m: any) => m.nickname === '示例会员中心');
    const menuWith = (appid: string) => post('menu/create', { button: [{ type: 'miniprogram', name: '会员', url: 'https://www.example.com/member', appid, pagepath: 'pages/member/index' }] });
    // An empty POST body is what the docs show for wxamplinkget.
    const list = await call('cgi-bin/wxopen/wxamplinkget', { method: 'POST' });
    expect(list).toMatchObject({ errcode: 0, errmsg: 'ok' });
    expect(list.wxopens.items.find((m: any) => m.nickname === '示例商城')).toMatchObject({ status: 1, username: expect.stringMatching(/^gh_/), source: 'SOURCE_NORMAL' });
    expect(await appOf('示例会员中心')).toBeUndefined();
    expect((await post('wxopen/wxamplink', { appid: 'wx0000000000000000', notify_users: '1', show_profile: '1' })).errcode).toBe(40166);
    expect((await post('wxopen/wxamplink', { appid: member.appid, notify_users: '1', show_profile: '1' })).errcode).toBe(0);
    expect((await appOf('示例会员中心')).status).toBe(12);
    expect((await post('wxopen/wxamplink', { appid: member.appid })).errcode).toBe(89015);
    expect((await menuWith(member.appid)).errcode).toBe(85005);
    expect(await control('POST', '/mp/miniprogram/confirm', { appid: member.appid })).toMatchObject({ ok: true, status: 1 });
    expect((await appOf('示例会员中心')).status).toBe(1);
    expect((await menuWith(member.appid)).errcode).toBe(0);
    expect((await post('wxopen/wxampunlink', { appid: member.appid })).errcode).toBe(0);
    expect(await appOf('示例会员中心')).toBeUndefined();
    expect((await post('wxopen/wxampunlink', { appid: member.appid })).errcode).toBe(40166);
    expect((await menuWith(member.appid)).errcode).toBe(85005);
    // A refusal shows as status 3.
    await post('wxopen/wxamplink', { appid: member.appid });
    await control('POST', '/mp/miniprogram/confirm', { appid: member.appid, accept: false });
    expect((await appOf('示例会员中心')).status).toBe(3);
  });

  it('injects faults on MP APIs by their mp/ name, counts calls, and resets MP state', async () => {
    await control('POST', '/faults', { fail: [{ api: 'mp/menu/get', errcode: -1 }] });
    const failed = await get('menu/get');
    expect(failed.errcode).toBe(-1);
    expect(failed.errmsg).toMatch(/^system error rid: /);
    expect((await get('menu/get')).menu).toBeDefined();
    expect((await control('GET', '/stats')).calls['mp/menu/get']).toBeGreaterThan(0);
    await get('menu/delete');
    await control('POST', '/reset');
    expect((await get('menu/get')).menu.button).toHaveLength(3);
    expect((await control('GET', '/mp/outbox')).messages).toEqual([]);
    expect((await call('cgi-bin/no/such/api')).errcode).toBe(40066);
  });
});
