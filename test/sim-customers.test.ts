import { decrypt, getSignature } from '@wecom/crypto';
import { XMLParser } from 'fast-xml-parser';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { receiver as makeReceiver, type Arrival, type Receiver } from './support/receiver.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../src/sim/index.js';
import { seedCompany } from '../src/sim/seed.js';

/**
 * 客户联系 in the simulator over real HTTP (wecom.md §4, §5.1, §8), as a client that knows nothing of
 * our code would see it — plus a tiny callback URL checking the events' signatures and decrypting them
 * with @wecom/crypto (ReceiveId = corpid).
 */
let dir: string;
let sim: SimulatorHandle;
let customerToken: string;
let appToken: string;
let contactsToken: string;

const DAY = 86_400_000;
const xml = new XMLParser({ parseTagValue: false });

async function token(secret: string, s: SimulatorHandle = sim): Promise<string> {
  const r = await (await fetch(`${s.baseUrl}/cgi-bin/gettoken?corpid=${s.credentials.corp_id}&corpsecret=${secret}`)).json();
  return r.access_token;
}
async function refreshTokens(): Promise<void> {
  customerToken = await token(sim.credentials.customer_secret);
  appToken = await token(sim.credentials.app_secret);
  contactsToken = await token(sim.credentials.contacts_secret);
}
async function get(api: string, query: Record<string, string> = {}, t = customerToken, s: SimulatorHandle = sim): Promise<any> {
  const qs = new URLSearchParams({ access_token: t, ...query });
  return (await fetch(`${s.baseUrl}/cgi-bin/${api}?${qs}`)).json();
}
async function post(api: string, body: unknown, t = customerToken, s: SimulatorHandle = sim): Promise<any> {
  return (await fetch(`${s.baseUrl}/cgi-bin/${api}?access_token=${t}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
}
async function control(method: string, path: string, body?: unknown): Promise<any> {
  return (await fetch(`${sim.controlUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json();
}
/** Moves the simulated clock (tokens expire with it, so they are fetched again). */
async function advance(ms: number): Promise<void> {
  await control('POST', '/clock', { advance_ms: ms });
  await refreshTokens();
}
async function simNow(): Promise<number> {
  return (await control('GET', '/clock')).now_ms;
}
async function customersOf(userid: string): Promise<string[]> {
  const r = await get('externalcontact/list', { userid });
  return r.errcode === 0 ? r.external_userid : [];
}

const receiver = () => makeReceiver('/wecom/callback', '');

/** Checks an event as a server must (msg_signature over Encrypt, decryption, receive id = corpid); returns its fields. */
function open(a: Arrival): Record<string, string> {
  const { callback_token: tk, encoding_aes_key: key, corp_id: corp } = sim.credentials;
  const q = a.query;
  const outer = xml.parse(a.body).xml;
  expect(Object.keys(outer).sort()).toEqual(['AgentID', 'Encrypt', 'ToUserName']);
  expect(outer.ToUserName).toBe(corp);
  expect(q.get('msg_signature')).toBe(getSignature(tk, q.get('timestamp')!, q.get('nonce')!, outer.Encrypt));
  const { message, id } = decrypt(key, outer.Encrypt);
  expect(id).toBe(corp);
  return xml.parse(message).xml;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wxops-sim-customers-test-'));
  sim = await startSimulator({ dataDir: dir, port: 0 });
  await refreshTokens();
});
afterEach(async () => {
  await control('DELETE', '/faults');
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('permissions and the seeded customers', () => {
  it('lets the customer secret and the app call external-contact APIs, not the contacts secret (48002)', async () => {
    expect((await get('externalcontact/get_follow_user_list', {}, contactsToken)).errcode).toBe(48002);
    expect((await post('externalcontact/get_corp_tag_list', {}, contactsToken)).errcode).toBe(48002);
    const viaCustomer = await get('externalcontact/get_follow_user_list');
    const viaApp = await get('externalcontact/get_follow_user_list', {}, appToken);
    expect(viaCustomer.errcode).toBe(0);
    expect(viaApp.follow_user).toEqual(viaCustomer.follow_user);
  });

  it('has the demo facts: named follow users, customer counts, a customer shared by wangfang and zhouqiang', async () => {
    const follow: string[] = (await get('externalcontact/get_follow_user_list')).follow_user;
    for (const id of ['zhangwei', 'sunli', 'lina', 'wangfang', 'zhouqiang', 'liuyang', 'chenjing', 'zhaolei']) expect(follow).toContain(id);
    const wang = await customersOf('wangfang');
    const zhou = await customersOf('zhouqiang');
    expect(wang.length).toBeGreaterThanOrEqual(5);
    expect(zhou.length).toBeGreaterThanOrEqual(5);
    expect((await customersOf('liuyang')).length).toBeGreaterThanOrEqual(3);
    for (const id of [...wang, ...zhou]) expect(id).toMatch(/^wm[A-Za-z0-9]{30}$/);
    const shared = wang.filter((id) => zhou.includes(id));
    expect(shared.length).toBeGreaterThanOrEqual(1);
    const detail = await get('externalcontact/get', { external_userid: shared[0]! });
    expect(detail.errcode).toBe(0);
    expect(detail.external_contact.name).toMatch(/[\u4e00-\u9fff]/);
    expect(detail.follow_user.map((f: any) => f.userid).sort()).toEqual(['wangfang', 'zhouqiang']);
    expect(detail.next_cursor).toBe('');

    const groups = (await post('externalcontact/get_corp_tag_list', {})).tag_group;
    const byName = Object.fromEntries(groups.map((g: any) => [g.group_name, g.tag.map((t: any) => t.name)]));
    expect(byName['客户等级']).toEqual(['高潜力客户', '已成交客户', '潜在客户']);
    expect(byName['地区']).toEqual(['华东', '华南', '华北']);
    for (const g of groups) expect(g.group_id).toMatch(/^et/);
  });

  it('leaves a member out of 客户联系 and answers the documented codes', async () => {
    const follow: string[] = (await get('externalcontact/get_follow_user_list')).follow_user;
    const users = (await get('user/list', { department_id: '1', fetch_child: '1' }, contactsToken)).userlist as any[];
    const outside = users.filter((u) => u.status === 1 && !follow.includes(u.userid));
    expect(outside.length).toBeGreaterThanOrEqual(1);
    expect((await get('externalcontact/list', { userid: outside[0].userid })).errcode).toBe(84074);
    expect((await get('externalcontact/list', { userid: 'nobody' })).errcode).toBe(40003);
    const none = await get('externalcontact/get', { external_userid: 'wmNoSuchCustomer0000000000000000' });
    expect(none.errcode).toBe(40096);
    expect(none.errmsg).toMatch(/more info at https:\/\/open\.work\.weixin\.qq\.com\/devtool\/query\?e=40096/);
  });
});

describe('batch/get_by_user', () => {
  it('pages every relation of the members to the end, once each, with tag ids only', async () => {
    const follow: string[] = (await get('externalcontact/get_follow_user_list')).follow_user;
    const summary = await control('GET', '/customers/summary');
    const seen = new Set<string>();
    let calls = 0;
    for (let k = 0; k < follow.length; k += 100) {
      let cursor = '';
      do {
        const r = await post('externalcontact/batch/get_by_user', { userid_list: follow.slice(k, k + 100), cursor, limit: 7 });
        expect(r.errcode).toBe(0);
        calls++;
        expect(r.external_contact_list.length).toBeLessThanOrEqual(7);
        for (const row of r.external_contact_list) {
          const key = `${row.external_contact.external_userid}/${row.follow_info.userid}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
          expect(row.follow_info.tags).toBeUndefined();
          expect(Array.isArray(row.follow_info.tag_id)).toBe(true);
        }
        if (r.next_cursor) expect(r.external_contact_list.length).toBe(7);
        cursor = r.next_cursor;
      } while (cursor);
    }
    expect(seen.size).toBe(summary.relations);
    expect(calls).toBeGreaterThan(summary.relations / 7);
  });

  it('defaults to 50 per page and checks its limits', async () => {
    const r = await post('externalcontact/batch/get_by_user', { userid_list: ['wangfang', 'zhouqiang', 'wangfang'] });
    expect(r.errcode).toBe(0);
    const wang = await customersOf('wangfang');
    const zhou = await customersOf('zhouqiang');
    expect(r.external_contact_list.length).toBe(wang.length + zhou.length);
    expect(r.next_cursor).toBe('');
    expect((await post('externalcontact/batch/get_by_user', { userid_list: ['wangfang'], limit: 101 })).errcode).toBe(40058);
    const many = Array.from({ length: 101 }, (_, i) => `u${i}`);
    expect((await post('externalcontact/batch/get_by_user', { userid_list: many })).errcode).toBe(40032);
    expect((await post('externalcontact/batch/get_by_user', { userid_list: ['wangfang'], cursor: '!!' })).errcode).toBe(50100);
  });
});

describe('corp tags, mark_tag and remarks', () => {
  it('adds, edits and deletes tags with the platform rules', async () => {
    const added = await post('externalcontact/add_corp_tag', { group_name: '来源', tag: [{ name: '展会' }, { name: '官网', order: 5 }] });
    expect(added.errcode).toBe(0);
    expect(added.tag_group.group_name).toBe('来源');
    expect(added.tag_group.group_id).toMatch(/^et/);
    expect(added.tag_group.tag.map((t: any) => t.name)).toEqual(['官网', '展会']);
    const groupId = added.tag_group.group_id;
    // An existing group name adds into that group.
    const more = await post('externalcontact/add_corp_tag', { group_name: '来源', tag: [{ name: '转介绍' }] });
    expect(more.tag_group.group_id).toBe(groupId);
    expect((await post('externalcontact/add_corp_tag', { group_id: groupId, tag: [{ name: '展会' }] })).errcode).toBe(40071);
    expect((await post('externalcontact/add_corp_tag', { group_id: groupId, tag: [{ name: '长'.repeat(31) }] })).errcode).toBe(40072);
    expect((await post('externalcontact/add_corp_tag', { group_id: 'etNoSuchGroup', tag: [{ name: 'x' }] })).errcode).toBe(40068);
    expect((await post('externalcontact/add_corp_tag', { group_id: groupId, tag: [] })).errcode).toBe(40058);

    const expo = added.tag_group.tag.find((t: any) => t.name === '展会').id;
    expect((await post('externalcontact/edit_corp_tag', { id: expo, name: '线下展会' })).errcode).toBe(0);
    expect((await post('externalcontact/edit_corp_tag', { id: expo, name: '官网' })).errcode).toBe(40071);
    const listed = await post('externalcontact/get_corp_tag_list', { tag_id: [expo] });
    expect(listed.tag_group).toHaveLength(1);
    expect(listed.tag_group[0].tag).toEqual([expect.objectContaining({ id: expo, name: '线下展会', deleted: false })]);

    // Deleting every tag of a group deletes the group.
    const ids = (await post('externalcontact/get_corp_tag_list', { group_id: [groupId] })).tag_group[0].tag.map((t: any) => t.id);
    expect((await post('externalcontact/del_corp_tag', { tag_id: ids })).errcode).toBe(0);
    expect((await post('externalcontact/get_corp_tag_list', {})).tag_group.some((g: any) => g.group_id === groupId)).toBe(false);
    expect((await post('externalcontact/del_corp_tag', {})).errcode).toBe(40058);
  });

  it('lets a self-built app change only the tags it created (81011)', async () => {
    const groups = (await post('externalcontact/get_corp_tag_list', {}, appToken)).tag_group;
    const seeded = groups.find((g: any) => g.group_name === '客户等级').tag[0].id;
    expect((await post('externalcontact/edit_corp_tag', { id: seeded, name: '改名' }, appToken)).errcode).toBe(81011);
    expect((await post('externalcontact/del_corp_tag', { tag_id: [seeded] }, appToken)).errcode).toBe(81011);
    const own = await post('externalcontact/add_corp_tag', { group_name: '应用标签', tag: [{ name: '试用' }] }, appToken);
    const ownId = own.tag_group.tag[0].id;
    expect((await post('externalcontact/edit_corp_tag', { id: ownId, name: '试用中' }, appToken)).errcode).toBe(0);
    // The 客户联系 secret may change every tag.
    expect((await post('externalcontact/edit_corp_tag', { id: ownId, order: 3 })).errcode).toBe(0);
    expect((await post('externalcontact/del_corp_tag', { group_id: [own.tag_group.group_id] }, appToken)).errcode).toBe(0);
  });

  it('stops at 3000 corp tags (40126)', async () => {
    const count = (await post('externalcontact/get_corp_tag_list', {})).tag_group.reduce((n: number, g: any) => n + g.tag.length, 0);
    const fill = await post('externalcontact/add_corp_tag', { group_name: '批量', tag: Array.from({ length: 3000 - count }, (_, i) => ({ name: `标签${i}` })) });
    expect(fill.errcode).toBe(0);
    expect((await post('externalcontact/add_corp_tag', { group_name: '批量', tag: [{ name: '再多一个' }] })).errcode).toBe(40126);
    expect((await post('externalcontact/del_corp_tag', { group_id: [fill.tag_group.group_id] })).errcode).toBe(0);
    expect((await post('externalcontact/add_corp_tag', { group_name: '批量', tag: [{ name: '再多一个' }] })).errcode).toBe(0);
  });

  it('marks tags on a relation and keeps remarks within their limits', async () => {
    const wang = await customersOf('wangfang');
    const liu = await customersOf('liuyang');
    const ext = wang.find((id) => !liu.includes(id))!;
    const tags = (await post('externalcontact/get_corp_tag_list', {})).tag_group;
    const high = tags.find((g: any) => g.group_name === '客户等级').tag.find((t: any) => t.name === '高潜力客户').id;
    expect((await post('externalcontact/mark_tag', { userid: 'wangfang', external_userid: ext, add_tag: ['etNoSuchTag'] })).errcode).toBe(40068);
    expect((await post('externalcontact/mark_tag', { userid: 'liuyang', external_userid: ext, add_tag: [high] })).errcode).toBe(84061);
    expect((await post('externalcontact/mark_tag', { userid: 'wangfang', external_userid: ext })).errcode).toBe(40058);
    expect((await post('externalcontact/mark_tag', { userid: 'wangfang', external_userid: ext, add_tag: [high] })).errcode).toBe(0);
    let detail = await get('externalcontact/get', { external_userid: ext });
    const mine = detail.follow_user.find((f: any) => f.userid === 'wangfang');
    expect(mine.tags).toContainEqual({ group_name: '客户等级', tag_name: '高潜力客户', tag_id: high, type: 1 });

    expect((await post('externalcontact/remark', { userid: 'wangfang', external_userid: ext, remark: '一'.repeat(21) })).errcode).toBe(40058);
    expect((await post('externalcontact/remark', { userid: 'wangfang', external_userid: ext, description: 'd'.repeat(151) })).errcode).toBe(40058);
    expect((await post('externalcontact/remark', { userid: 'wangfang', external_userid: ext })).errcode).toBe(40058);
    expect((await post('externalcontact/remark', { userid: 'liuyang', external_userid: ext, remark: '张总' })).errcode).toBe(84061);
    const ok = await post('externalcontact/remark', { userid: 'wangfang', external_userid: ext, remark: '一'.repeat(20), description: '重点跟进', remark_mobiles: ['13800000000'] });
    expect(ok.errcode).toBe(0);
    detail = await get('externalcontact/get', { external_userid: ext });
    expect(detail.follow_user.find((f: any) => f.userid === 'wangfang')).toMatchObject({ remark: '一'.repeat(20), description: '重点跟进', remark_mobiles: ['13800000000'] });
  });
});

describe('contact ways', () => {
  it('validates members, type, scene and lengths', async () => {
    const follow: string[] = (await get('externalcontact/get_follow_user_list')).follow_user;
    const users = (await get('user/list', { department_id: '1', fetch_child: '1' }, contactsToken)).userlist as any[];
    const outside = users.find((u) => u.status === 1 && !follow.includes(u.userid)).userid;
    const add = (body: Record<string, unknown>) => post('externalcontact/add_contact_way', body);
    expect((await add({ scene: 2, user: ['wangfang'] })).errcode).toBe(41037);
    expect((await add({ type: 1, user: ['wangfang'] })).errcode).toBe(41038);
    expect((await add({ type: 3, scene: 2, user: ['wangfang'] })).errcode).toBe(41039);
    expect((await add({ type: 1, scene: 3, user: ['wangfang'] })).errcode).toBe(41040);
    expect((await add({ type: 1, scene: 2, user: ['wangfang', 'zhouqiang'] })).errcode).toBe(41041);
    expect((await add({ type: 1, scene: 2, user: [] })).errcode).toBe(40058);
    expect((await add({ type: 1, scene: 2, user: [outside] })).errcode).toBe(84074);
    expect((await add({ type: 1, scene: 2, user: ['nobody'] })).errcode).toBe(40003);
    expect((await add({ type: 1, scene: 2, user: ['wangfang'], state: 's'.repeat(31) })).errcode).toBe(40058);
    expect((await add({ type: 1, scene: 2, user: ['wangfang'], remark: 'r'.repeat(31) })).errcode).toBe(40058);
    expect((await add({ type: 1, scene: 2, user: ['wangfang'], is_temp: true, expires_in: 15 * 86400 })).errcode).toBe(40058);
    expect((await add({ type: 2, scene: 2, user: ['wangfang'], is_temp: true })).errcode).toBe(40058);
    expect((await add({ type: 1, scene: 2, user: ['wangfang'], state: 's'.repeat(30) })).errcode).toBe(0);
  });

  it('creates, reads, lists, updates and deletes a way; the QR code is a PNG', async () => {
    const created = await post('externalcontact/add_contact_way', { type: 2, scene: 2, user: ['wangfang', 'zhouqiang'], remark: '展会', state: 'expo2026' });
    expect(created.errcode).toBe(0);
    expect(created.config_id).toMatch(/^[0-9a-f]{32}$/);
    const png = await fetch(created.qr_code);
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await png.arrayBuffer()).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const got = await post('externalcontact/get_contact_way', { config_id: created.config_id });
    expect(got.contact_way).toMatchObject({ type: 2, scene: 2, state: 'expo2026', remark: '展会', user: ['wangfang', 'zhouqiang'], skip_verify: true, qr_code: created.qr_code });
    const listed = await post('externalcontact/list_contact_way', { limit: 1000 });
    expect(listed.contact_way.map((w: any) => w.config_id)).toContain(created.config_id);
    expect((await post('externalcontact/update_contact_way', { config_id: created.config_id, state: 'expo2027', user: ['lina'] })).errcode).toBe(0);
    expect((await post('externalcontact/get_contact_way', { config_id: created.config_id })).contact_way).toMatchObject({ state: 'expo2027', user: ['lina'] });
    expect((await post('externalcontact/update_contact_way', { config_id: created.config_id, state: 'x'.repeat(31) })).errcode).toBe(40058);
    expect((await post('externalcontact/del_contact_way', { config_id: created.config_id })).errcode).toBe(0);
    expect((await post('externalcontact/get_contact_way', { config_id: created.config_id })).errcode).toBe(41044);
    expect((await post('externalcontact/get_contact_way', {})).errcode).toBe(41043);
    expect((await fetch(created.qr_code)).status).toBe(404);
  });
});

describe('add events and welcome messages', () => {
  let rx: Receiver;
  beforeAll(async () => {
    rx = await receiver();
    const set = await control('POST', '/wecom/callback', { url: rx.url });
    expect(set).toMatchObject({ ok: true, configured: true });
  });
  afterAll(async () => {
    await control('DELETE', '/wecom/callback');
    await rx.close();
  });

  it('shows the callback without secrets and verifies the URL', async () => {
    const shown = await control('GET', '/wecom/callback');
    expect(shown).toMatchObject({ configured: true, url: rx.url, receive_id: sim.credentials.corp_id });
    expect(JSON.stringify(shown)).not.toContain(sim.credentials.encoding_aes_key);
    rx.reply = (a, res) => {
      const { callback_token: tk, encoding_aes_key: key } = sim.credentials;
      const q = a.query;
      expect(q.get('msg_signature')).toBe(getSignature(tk, q.get('timestamp')!, q.get('nonce')!, q.get('echostr')!));
      res.end(decrypt(key, q.get('echostr')!).message);
    };
    expect(await control('POST', '/wecom/callback/verify')).toMatchObject({ ok: true, status: 200 });
    rx.reply = (_a, res) => res.end('');
  });

  it('delivers add_external_contact encrypted; the welcome code works once (41051 after)', async () => {
    const way = await post('externalcontact/add_contact_way', { type: 2, scene: 2, user: ['wangfang', 'zhouqiang'], state: 'expo' });
    const before = rx.arrivals.length;
    const first = await control('POST', '/customers/add', { config_id: way.config_id, name: '郑先生' });
    expect(first).toMatchObject({ ok: true, state: 'expo', delivered: true, attempts: 1, status: 200 });
    expect(first.external_userid).toMatch(/^wm/);
    const second = await control('POST', '/customers/add', { config_id: way.config_id });
    expect([first.userid, second.userid].sort()).toEqual(['wangfang', 'zhouqiang']);
    expect(rx.arrivals.length).toBe(before + 2);

    const a = rx.arrivals[before]!;
    expect(a.method).toBe('POST');
    const event = open(a);
    expect(event).toMatchObject({
      ToUserName: sim.credentials.corp_id,
      FromUserName: 'sys',
      MsgType: 'event',
      Event: 'change_external_contact',
      ChangeType: 'add_external_contact',
      UserID: first.userid,
      ExternalUserID: first.external_userid,
      State: 'expo',
      WelcomeCode: first.welcome_code,
    });
    expect(Number(event.CreateTime)).toBeGreaterThan(0);

    const detail = await get('externalcontact/get', { external_userid: first.external_userid });
    expect(detail.external_contact.name).toBe('郑先生');
    expect(detail.follow_user[0]).toMatchObject({ userid: first.userid, state: 'expo', add_way: 1 });

    const msg = { welcome_code: first.welcome_code, text: { content: '您好，我是示例科技的客户经理' }, attachments: [{ msgtype: 'link', link: { title: '产品手册', url: 'https://example.com/p' } }] };
    expect((await post('externalcontact/send_welcome_msg', msg)).errcode).toBe(0);
    expect((await post('externalcontact/send_welcome_msg', msg)).errcode).toBe(41051);
    const outbox = await control('GET', `/customers/outbox?external_userid=${first.external_userid}`);
    expect(outbox.messages.map((m: any) => [m.via, m.msgtype])).toEqual([
      ['welcome', 'text'],
      ['welcome', 'link'],
    ]);
    expect(outbox.messages[0].content).toBe('您好，我是示例科技的客户经理');
  });

  it('expires welcome codes after 20 s of simulated time; refuses long text and too many attachments', async () => {
    const added = await control('POST', '/customers/add', { userid: 'liuyang' });
    expect(added.delivered).toBe(true);
    const code = added.welcome_code;
    expect((await post('externalcontact/send_welcome_msg', { welcome_code: code, text: { content: 'a'.repeat(4001) } })).errcode).toBe(45002);
    const tooMany = Array.from({ length: 10 }, () => ({ msgtype: 'image', image: { pic_url: 'https://example.com/a.png' } }));
    expect((await post('externalcontact/send_welcome_msg', { welcome_code: code, attachments: tooMany })).errcode).toBe(40058);
    expect((await post('externalcontact/send_welcome_msg', { welcome_code: code, attachments: [{ msgtype: 'voice', voice: {} }] })).errcode).toBe(41065);
    expect((await post('externalcontact/send_welcome_msg', { welcome_code: code })).errcode).toBe(40058);
    expect((await post('externalcontact/send_welcome_msg', { welcome_code: 'nope', text: { content: 'hi' } })).errcode).toBe(41050);
    await advance(21_000);
    expect((await post('externalcontact/send_welcome_msg', { welcome_code: code, text: { content: 'a'.repeat(4000) } })).errcode).toBe(41051);

    // Within 20 s, 4000 bytes is fine; a started chat closes the window.
    const again = await control('POST', '/customers/add', { userid: 'liuyang', name: '回头客', external_userid: (await control('POST', '/customers/add', { userid: 'lina' })).external_userid });
    expect(again.ok).toBe(true);
    expect((await post('externalcontact/send_welcome_msg', { welcome_code: again.welcome_code, text: { content: '好'.repeat(1333) } })).errcode).toBe(0);
    const third = await control('POST', '/customers/add', { userid: 'chenjing' });
    expect((await control('POST', '/customers/chat', { userid: 'chenjing', external_userid: third.external_userid })).ok).toBe(true);
    expect((await post('externalcontact/send_welcome_msg', { welcome_code: third.welcome_code, text: { content: 'hi' } })).errcode).toBe(41051);
  });

  it('retries a failing or stalled callback URL, 3 attempts in all', async () => {
    rx.reply = (_a, res) => {
      res.statusCode = 500;
      res.end('no');
    };
    const failed = await control('POST', '/customers/add', { userid: 'zhaolei' });
    expect(failed).toMatchObject({ ok: true, delivered: false, attempts: 3, status: 500 });
    await control('POST', '/wecom/callback', { url: rx.url, reply_timeout_ms: 150 });
    const before = rx.arrivals.length;
    rx.reply = () => undefined; // never answers
    const stalled = await control('POST', '/customers/add', { userid: 'zhaolei' });
    expect(stalled).toMatchObject({ delivered: false, attempts: 3 });
    const arrivals = rx.arrivals.slice(before);
    expect(arrivals).toHaveLength(3);
    // The same message each time.
    expect(new Set(arrivals.map((a) => open(a).ExternalUserID)).size).toBe(1);
    expect(new Set(arrivals.map((a) => open(a).CreateTime)).size).toBe(1);
    rx.reply = (_a, res) => res.end('');
    await control('POST', '/wecom/callback', { url: rx.url });
  });
});

describe('transfer', () => {
  it('on-job: waiting, done after 24 h, at most twice in 90 days (40128)', async () => {
    const wang = await customersOf('wangfang');
    const zhou = await customersOf('zhouqiang');
    const ext = wang.find((id) => !zhou.includes(id))!;
    const liuOnly = (await customersOf('liuyang')).find((id) => !wang.includes(id))!;
    const t = (body: Record<string, unknown>) => post('externalcontact/transfer_customer', body);
    expect((await t({ handover_userid: 'wangfang', takeover_userid: 'wangfang', external_userid: [ext] })).errcode).toBe(40130);
    expect((await t({ handover_userid: 'wangfang', takeover_userid: 'zhouqiang', external_userid: [] })).errcode).toBe(40058);
    expect((await t({ handover_userid: 'wangfang', takeover_userid: 'zhouqiang', external_userid: Array.from({ length: 101 }, (_, i) => `wm${i}`) })).errcode).toBe(40058);
    const started = await t({ handover_userid: 'wangfang', takeover_userid: 'zhouqiang', external_userid: [ext, liuOnly, 'wmUnknown'], transfer_success_msg: '您好，后续由周强为您服务' });
    expect(started.errcode).toBe(0);
    expect(started.customer).toEqual([
      { external_userid: ext, errcode: 0 },
      { external_userid: liuOnly, errcode: 40131 },
      { external_userid: 'wmUnknown', errcode: 40096 },
    ]);
    expect((await t({ handover_userid: 'wangfang', takeover_userid: 'zhouqiang', external_userid: [ext] })).customer[0].errcode).toBe(40129);
    let result = await post('externalcontact/transfer_result', { handover_userid: 'wangfang', takeover_userid: 'zhouqiang' });
    expect(result.customer).toEqual([{ external_userid: ext, status: 2, takeover_time: expect.any(Number) }]);
    expect(await customersOf('wangfang')).toContain(ext);

    await advance(DAY + 1000);
    result = await post('externalcontact/transfer_result', { handover_userid: 'wangfang', takeover_userid: 'zhouqiang' });
    expect(result.customer[0].status).toBe(1);
    expect(result.next_cursor).toBe('');
    expect(await customersOf('wangfang')).not.toContain(ext);
    expect(await customersOf('zhouqiang')).toContain(ext);
    const notice = await control('GET', `/customers/outbox?external_userid=${ext}&via=transfer`);
    expect(notice.messages[0]).toMatchObject({ userid: 'zhouqiang', content: '您好，后续由周强为您服务' });

    expect((await t({ handover_userid: 'zhouqiang', takeover_userid: 'wangfang', external_userid: [ext] })).customer[0].errcode).toBe(0);
    await advance(DAY + 1000);
    expect(await customersOf('wangfang')).toContain(ext);
    expect((await t({ handover_userid: 'wangfang', takeover_userid: 'zhouqiang', external_userid: [ext] })).customer[0].errcode).toBe(40128);
  });

  it('resigned: a member who left has unassigned customers that can be handed over', async () => {
    const follow: string[] = (await get('externalcontact/get_follow_user_list')).follow_user;
    const named = ['zhangwei', 'sunli', 'lina', 'wangfang', 'zhouqiang', 'liuyang', 'chenjing', 'zhaolei'];
    let leaver = '';
    let theirs: string[] = [];
    for (const u of follow.filter((x) => !named.includes(x))) {
      theirs = await customersOf(u);
      if (theirs.length > 0) {
        leaver = u;
        break;
      }
    }
    expect(leaver).not.toBe('');
    // Still on the job: not a resigned transfer (40097).
    expect((await post('externalcontact/resigned/transfer_customer', { handover_userid: leaver, takeover_userid: 'lina', external_userid: theirs })).errcode).toBe(40097);
    expect(await control('POST', '/members/leave', { userid: leaver })).toMatchObject({ ok: true, customers: theirs.length });
    expect((await get('user/get', { userid: leaver }, contactsToken)).errcode).toBe(60111);
    expect((await get('externalcontact/get_follow_user_list')).follow_user).not.toContain(leaver);

    const unassigned = await post('externalcontact/get_unassigned_list', { page_size: 1000 });
    expect(unassigned.errcode).toBe(0);
    expect(unassigned.is_last).toBe(true);
    const mine = unassigned.info.filter((i: any) => i.handover_userid === leaver);
    expect(mine.map((i: any) => i.external_userid).sort()).toEqual([...theirs].sort());
    expect(mine[0].dimission_time).toBeGreaterThan(0);

    const moved = await post('externalcontact/resigned/transfer_customer', { handover_userid: leaver, takeover_userid: 'lina', external_userid: theirs });
    expect(moved.customer.every((c: any) => c.errcode === 0)).toBe(true);
    expect((await post('externalcontact/resigned/transfer_result', { handover_userid: leaver, takeover_userid: 'lina' })).customer.every((c: any) => c.status === 2)).toBe(true);
    await advance(DAY + 1000);
    expect((await post('externalcontact/resigned/transfer_result', { handover_userid: leaver, takeover_userid: 'lina' })).customer.every((c: any) => c.status === 1)).toBe(true);
    const lina = await customersOf('lina');
    for (const id of theirs) expect(lina).toContain(id);
    expect((await post('externalcontact/get_unassigned_list', {})).info.some((i: any) => i.handover_userid === leaver)).toBe(false);
  });
});

describe('behaviour data', () => {
  it('aggregates per day over the members, deterministically, from second timestamps', async () => {
    const now = Math.floor((await simNow()) / 1000);
    const body = { userid: ['wangfang', 'zhouqiang'], start_time: now - 7 * 86400, end_time: now - 86400 };
    const r = await post('externalcontact/get_user_behavior_data', body);
    expect(r.errcode).toBe(0);
    expect(r.behavior_data).toHaveLength(7);
    for (const d of r.behavior_data) {
      expect((d.stat_time + 8 * 3600) % 86400).toBe(0);
      expect(d.new_contact_cnt).toBeLessThanOrEqual(d.new_apply_cnt);
      if (d.chat_cnt > 0) expect(d.reply_percentage).toBeGreaterThan(0);
      else expect(d.reply_percentage).toBeUndefined();
    }
    expect(r.behavior_data.reduce((n: number, d: any) => n + d.chat_cnt, 0)).toBeGreaterThan(0);
    expect((await post('externalcontact/get_user_behavior_data', body)).behavior_data).toEqual(r.behavior_data);
    // Totals over members: the sum of each alone.
    const one = await post('externalcontact/get_user_behavior_data', { ...body, userid: ['wangfang'] });
    const other = await post('externalcontact/get_user_behavior_data', { ...body, userid: ['zhouqiang'] });
    expect(r.behavior_data.map((d: any) => d.message_cnt)).toEqual(one.behavior_data.map((d: any, i: number) => d.message_cnt + other.behavior_data[i].message_cnt));
  });

  it('counts the adds it saw today and refuses bad ranges with 600018', async () => {
    const now = Math.floor((await simNow()) / 1000);
    const today = { userid: ['sunli'], start_time: now, end_time: now };
    const before = (await post('externalcontact/get_user_behavior_data', today)).behavior_data[0].new_contact_cnt;
    await control('POST', '/customers/add', { userid: 'sunli' });
    expect((await post('externalcontact/get_user_behavior_data', today)).behavior_data[0].new_contact_cnt).toBe(before + 1);

    const call = (start: number, end: number) => post('externalcontact/get_user_behavior_data', { userid: ['wangfang'], start_time: start, end_time: end });
    expect((await call(now * 1000 - 86400_000, now * 1000)).errcode).toBe(600018);
    expect((await call(now - 31 * 86400, now)).errcode).toBe(600018);
    expect((await call(now - 30 * 86400, now)).errcode).toBe(0);
    expect((await call(now - 181 * 86400, now - 170 * 86400)).errcode).toBe(600018);
    expect((await call(now, now - 86400)).errcode).toBe(600018);
    expect((await post('externalcontact/get_user_behavior_data', { start_time: now, end_time: now })).errcode).toBe(40058);
    expect((await post('externalcontact/get_user_behavior_data', { userid: Array.from({ length: 101 }, () => 'wangfang'), start_time: now, end_time: now })).errcode).toBe(40032);
    const byParty = await post('externalcontact/get_user_behavior_data', { partyid: [3], start_time: now - 86400, end_time: now - 86400 });
    expect(byParty.errcode).toBe(0);
  });
});

describe('concurrency', () => {
  it('answers 45033 above 10 external-contact calls in flight per API', async () => {
    await control('POST', '/faults', { latency_ms: 150 });
    const burst = await Promise.all(Array.from({ length: 14 }, () => get('externalcontact/get_follow_user_list')));
    const codes = burst.map((r) => r.errcode);
    expect(codes.filter((c) => c === 0)).toHaveLength(10);
    expect(codes.filter((c) => c === 45033)).toHaveLength(4);
    // Another API has its own count; contacts APIs keep the general limit.
    const contacts = await Promise.all(Array.from({ length: 14 }, () => get('department/list', {}, contactsToken)));
    expect(contacts.every((r) => r.errcode === 0)).toBe(true);
    // Configurable per API.
    await control('POST', '/faults', { concurrency_limit_per_api: { 'externalcontact/get_follow_user_list': 3 } });
    const narrow = await Promise.all(Array.from({ length: 6 }, () => get('externalcontact/get_follow_user_list')));
    expect(narrow.filter((r) => r.errcode === 0)).toHaveLength(3);
  });
});

describe('reset', () => {
  it('re-seeds the customers with the company', async () => {
    await control('POST', '/reset');
    await refreshTokens();
    const summary = await control('GET', '/customers/summary');
    expect(summary).toMatchObject({ contact_ways: 0, transfers_waiting: 0, departed: [], tag_groups: 2, tags: 6 });
    const wang = await customersOf('wangfang');
    const zhou = await customersOf('zhouqiang');
    expect(wang.filter((id) => zhou.includes(id)).length).toBeGreaterThanOrEqual(1);
  });
});

describe('scale', () => {
  it('generates 200 members × 100,000 customers quickly and lists them all through batch/get_by_user', async () => {
    const scale = { members: 200, customers: 100_000 };
    const g0 = performance.now();
    const seeded = seedCompany(undefined, scale);
    expect(performance.now() - g0).toBeLessThan(2000);
    expect(seeded.customers.customers.length).toBeGreaterThan(100_000);
    const big = mkdtempSync(join(tmpdir(), 'wxops-sim-customers-scale-'));
    const t0 = performance.now();
    // Generating, writing the state file (~30 MB) and listening.
    const s = await startSimulator({ dataDir: big, port: 0, scale });
    const startup = performance.now() - t0;
    try {
      expect(startup).toBeLessThan(5000);
      const t = await token(s.credentials.customer_secret, s);
      const follow: string[] = (await get('externalcontact/get_follow_user_list', {}, t, s)).follow_user;
      expect(follow.filter((u) => u.startsWith('emp'))).toHaveLength(200);
      // The demo facts still hold.
      const wang = (await get('externalcontact/list', { userid: 'wangfang' }, t, s)).external_userid;
      const zhou = (await get('externalcontact/list', { userid: 'zhouqiang' }, t, s)).external_userid;
      expect(wang.filter((id: string) => zhou.includes(id)).length).toBeGreaterThanOrEqual(1);

      const summary = await (await fetch(`${s.controlUrl}/customers/summary`)).json();
      expect(summary.customers).toBeGreaterThan(100_000);
      const seen = new Set<string>();
      const customers = new Set<string>();
      const t1 = performance.now();
      await Promise.all(
        Array.from({ length: Math.ceil(follow.length / 100) }, async (_, k) => {
          let cursor = '';
          do {
            const r = await post('externalcontact/batch/get_by_user', { userid_list: follow.slice(k * 100, k * 100 + 100), cursor, limit: 100 }, t, s);
            expect(r.errcode).toBe(0);
            for (const row of r.external_contact_list) {
              const key = `${row.external_contact.external_userid}/${row.follow_info.userid}`;
              if (seen.has(key)) throw new Error(`duplicate ${key}`);
              seen.add(key);
              customers.add(row.external_contact.external_userid);
            }
            cursor = r.next_cursor;
          } while (cursor);
        }),
      );
      const listing = performance.now() - t1;
      expect(seen.size).toBe(summary.relations);
      expect(customers.size).toBe(summary.customers);
      expect(listing).toBeLessThan(20_000);
    } finally {
      await s.close();
      rmSync(big, { recursive: true, force: true });
    }
  }, 60_000);
});
