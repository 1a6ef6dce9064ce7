import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../src/sim/index.js';
import { jsonPieces, StateFile, type SimState } from '../src/sim/state.js';

/** The simulator over real HTTP, as a client that knows nothing of our code would see it. */
let dir: string;
let sim: SimulatorHandle;
let contactsToken: string;
let appToken: string;

async function get(path: string, token = contactsToken, query: Record<string, string | number> = {}): Promise<any> {
  const qs = new URLSearchParams({ access_token: token, ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) });
  return (await fetch(`${sim.baseUrl}/cgi-bin/${path}?${qs}`)).json();
}
async function post(path: string, body: unknown, token = contactsToken): Promise<any> {
  return (await fetch(`${sim.baseUrl}/cgi-bin/${path}?access_token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
}
async function control(method: string, path: string, body?: unknown): Promise<any> {
  return (await fetch(`${sim.controlUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json();
}
async function token(secret: string): Promise<string> {
  const r = await (await fetch(`${sim.baseUrl}/cgi-bin/gettoken?corpid=${sim.credentials.corp_id}&corpsecret=${secret}`)).json();
  return r.access_token;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wxops-sim-test-'));
  sim = await startSimulator({ dataDir: dir, port: 0 });
  contactsToken = await token(sim.credentials.contacts_secret);
  appToken = await token(sim.credentials.app_secret);
});
afterEach(async () => {
  await control('DELETE', '/faults');
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tokens and secrets', () => {
  it('issues tokens per secret and refuses bad credentials with the platform codes', async () => {
    const ok = await (await fetch(`${sim.baseUrl}/cgi-bin/gettoken?corpid=${sim.credentials.corp_id}&corpsecret=${sim.credentials.contacts_secret}`)).json();
    expect(ok).toMatchObject({ errcode: 0, errmsg: 'ok', expires_in: 7200 });
    const badSecret = await (await fetch(`${sim.baseUrl}/cgi-bin/gettoken?corpid=${sim.credentials.corp_id}&corpsecret=nope`)).json();
    expect(badSecret.errcode).toBe(40001);
    expect(badSecret.errmsg).toMatch(/hint: \[.+\], from ip: 127\.0\.0\.1, more info at https:\/\/open\.work\.weixin\.qq\.com\/devtool\/query\?e=40001/);
    expect((await (await fetch(`${sim.baseUrl}/cgi-bin/gettoken?corpid=wwnope&corpsecret=x`)).json()).errcode).toBe(40013);
    expect((await get('user/get', '', { userid: 'lina' })).errcode).toBe(41001);
    expect((await get('user/get', 'forged', { userid: 'lina' })).errcode).toBe(40014);
  });

  it('allows contacts writes only with the contacts-sync secret (48002)', async () => {
    const r = await post('department/create', { name: '无权部门', parentid: 1 }, appToken);
    expect(r.errcode).toBe(48002);
    expect((await get('user/get', appToken, { userid: 'lina' })).errcode).toBe(0);
  });

  it('answers expired tokens with 40014 by default, 42001 when configured', async () => {
    const t = await token(sim.credentials.contacts_secret);
    await control('POST', '/faults', { expire_tokens: true });
    expect((await get('user/get', t, { userid: 'lina' })).errcode).toBe(40014);
    const t2 = await token(sim.credentials.contacts_secret);
    await control('POST', '/clock', { advance_ms: 7201_000 });
    await control('POST', '/faults', { expired_token_errcode: 42001 });
    expect((await get('user/get', t2, { userid: 'lina' })).errcode).toBe(42001);
    contactsToken = await token(sim.credentials.contacts_secret);
    appToken = await token(sim.credentials.app_secret);
  });
});

describe('departments', () => {
  it('creates with the platform rules and codes', async () => {
    const created = await post('department/create', { name: '测试部', parentid: 1 });
    expect(created).toMatchObject({ errcode: 0, errmsg: 'created' });
    expect(created.id).toBeGreaterThan(7);
    expect((await post('department/create', { name: '测试部', parentid: 1 })).errcode).toBe(60008);
    expect((await post('department/create', { name: 'a:b', parentid: 1 })).errcode).toBe(60009);
    expect((await post('department/create', { name: '', parentid: 1 })).errcode).toBe(60001);
    expect((await post('department/create', { name: 'x', parentid: 999 })).errcode).toBe(60004);
    expect((await post('department/update', { id: 2, parentid: 3 })).errcode).toBe(60010);
    expect((await get('department/delete', contactsToken, { id: 1 })).errcode).toBe(60007);
    expect((await get('department/delete', contactsToken, { id: 2 })).errcode).toBe(60006);
    expect((await get('department/delete', contactsToken, { id: 3 })).errcode).toBe(60005);
    expect((await get('department/delete', contactsToken, { id: created.id })).errmsg).toBe('deleted');
  });

  it('enforces the 15-level depth limit', async () => {
    let parent = 1;
    for (let i = 0; i < 14; i++) parent = (await post('department/create', { name: `层${i}`, parentid: parent })).id;
    expect((await post('department/create', { name: '太深', parentid: parent })).errcode).toBe(81002);
  });

  it('lists leaders from the members marked leader', async () => {
    const r = await get('department/get', contactsToken, { id: 2 });
    expect(r.department).toMatchObject({ id: 2, name: '销售部', parentid: 1, department_leader: ['lina'] });
  });
});

describe('users', () => {
  it('validates fields with their codes', async () => {
    const base = { name: '测试', department: [1], mobile: '13911112222' };
    expect((await post('user/create', { ...base, userid: '张三' })).errcode).toBe(40003);
    expect((await post('user/create', { ...base, userid: 'a'.repeat(65) })).errcode).toBe(40003);
    expect((await post('user/create', { ...base, userid: 'u1', name: '名'.repeat(65) })).errcode).toBe(60112);
    expect((await post('user/create', { ...base, userid: 'u1', mobile: 'abc' })).errcode).toBe(60103);
    expect((await post('user/create', { userid: 'u1', name: 'x', department: [1] })).errcode).toBe(60129);
    expect((await post('user/create', { ...base, userid: 'u1', department: [999] })).errcode).toBe(60003);
    await control('POST', '/faults', { unknown_department_errcode: 60123 });
    expect((await post('user/create', { ...base, userid: 'u1', department: [999] })).errcode).toBe(60123);
    expect((await post('user/create', { ...base, userid: 'u1', email: 'bad' })).errcode).toBe(60105);
    expect((await post('user/create', { userid: 'u1', name: 'x' })).errcode).toBe(60127);
  });

  it('treats userids case-insensitively and keeps mobiles and emails unique', async () => {
    expect(await post('user/create', { userid: 'CaseUser', name: '大小写', department: [7], mobile: '13911113333', email: 'case@example.com' })).toMatchObject({ errcode: 0, errmsg: 'created' });
    expect((await post('user/create', { userid: 'caseuser', name: 'x', department: [7], mobile: '13911114444' })).errcode).toBe(60102);
    expect((await post('user/create', { userid: 'other1', name: 'x', department: [7], mobile: '+86 139-1111-3333' })).errcode).toBe(60104);
    expect((await post('user/create', { userid: 'other1', name: 'x', department: [7], email: 'CASE@example.com' })).errcode).toBe(60106);
    expect((await get('user/get', contactsToken, { userid: 'CASEUSER' })).userid).toBe('CaseUser');
    expect(await post('user/update', { userid: 'caseuser', enable: 0 })).toMatchObject({ errcode: 0, errmsg: 'updated' });
    expect((await get('user/get', contactsToken, { userid: 'CaseUser' })).status).toBe(2);
    expect((await get('user/delete', contactsToken, { userid: 'zhangwei' })).errcode).toBe(301005);
    expect((await get('user/delete', contactsToken, { userid: 'nobody' })).errcode).toBe(60111);
  });

  it('pages user/list_id with one row per (user, department) pair', async () => {
    await post('user/create', { userid: 'twodepts', name: '双部门', department: [5, 6], mobile: '13911115555' });
    const rows: { userid: string; department: number }[] = [];
    const cursors = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = await post('user/list_id', { cursor, limit: 7 });
      expect(r.errcode).toBe(0);
      expect(r.dept_user.length).toBeLessThanOrEqual(7);
      rows.push(...r.dept_user);
      if (!r.next_cursor) break;
      expect(cursors.has(r.next_cursor)).toBe(false);
      cursors.add(r.next_cursor);
      cursor = r.next_cursor;
    }
    expect(rows.filter((r) => r.userid === 'twodepts').map((r) => r.department).sort()).toEqual([5, 6]);
    const all = await get('user/list', contactsToken, { department_id: 1, fetch_child: 1 });
    const pairs = all.userlist.reduce((n: number, u: any) => n + u.department.length, 0);
    expect(rows).toHaveLength(pairs);
    expect((await post('user/list_id', { limit: 0 })).errcode).toBe(40058);
  });

  it('runs batch/syncuser as a job that progresses with the clock', async () => {
    const form = new FormData();
    form.append('media', new Blob(['姓名,帐号,手机,所在部门,职务\n批量甲,batcha,13911116666,7,工程师\n批量乙,batchb,13911117777,6;7,会计\n']), 'sync.csv');
    const up = await (await fetch(`${sim.baseUrl}/cgi-bin/media/upload?access_token=${contactsToken}&type=file`, { method: 'POST', body: form })).json();
    expect(up).toMatchObject({ errcode: 0, type: 'file' });
    const job = await post('batch/syncuser', { media_id: up.media_id });
    expect(job.jobid).toBeTruthy();
    const early = await get('batch/getresult', contactsToken, { jobid: job.jobid });
    expect(early.status).toBeLessThan(3);
    expect((await get('user/get', contactsToken, { userid: 'batcha' })).errcode).toBe(60111);
    await control('POST', '/clock', { advance_ms: 5000 });
    const done = await get('batch/getresult', contactsToken, { jobid: job.jobid });
    expect(done).toMatchObject({ status: 3, type: 'sync_user', total: 2, percentage: 100 });
    expect(done.result.every((r: any) => r.errcode === 0)).toBe(true);
    expect((await get('user/get', contactsToken, { userid: 'batchb' })).department).toEqual([6, 7]);
    expect((await post('batch/syncuser', { media_id: 'nope' })).errcode).toBe(40007);
  });
});

describe('contact tags', () => {
  it('reports partial invalid lists and 40070 when all are invalid', async () => {
    const created = await post('tag/create', { tagname: '模拟标签' });
    expect(created).toMatchObject({ errcode: 0, errmsg: 'created' });
    const partial = await post('tag/addtagusers', { tagid: created.tagid, userlist: ['lina', 'Ghost1', 'ghost2'], partylist: [3, 999] });
    expect(partial).toMatchObject({ errcode: 0, invalidlist: 'ghost1|ghost2', invalidparty: [999] });
    expect((await post('tag/addtagusers', { tagid: created.tagid, userlist: ['ghost'] })).errcode).toBe(40070);
    expect((await post('tag/addtagusers', { tagid: created.tagid })).errcode).toBe(40031);
    const detail = await get('tag/get', contactsToken, { tagid: created.tagid });
    expect(detail).toMatchObject({ tagname: '模拟标签', userlist: [{ userid: 'lina', name: '李娜' }], partylist: [3] });
    expect((await post('tag/create', { tagname: '模拟标签' })).errcode).toBe(40071);
    expect((await post('tag/create', { tagname: '标'.repeat(33) })).errcode).toBe(40072);
    expect((await get('tag/get', contactsToken, { tagid: 9999 })).errcode).toBe(40068);
  });

  it('lets only the creating app change a tag (81011)', async () => {
    const mine = await post('tag/create', { tagname: '应用标签' }, appToken);
    expect(mine.errcode).toBe(0);
    expect((await post('tag/update', { tagid: mine.tagid, tagname: '改名' })).errcode).toBe(81011);
    expect((await post('tag/update', { tagid: mine.tagid, tagname: '改名' }, appToken)).errcode).toBe(0);
  });
});

describe('envelope, limits and faults', () => {
  it('answers malformed requests like the platform', async () => {
    const bad = await (await fetch(`${sim.baseUrl}/cgi-bin/department/create?access_token=${contactsToken}`, { method: 'POST', body: '{not json' })).json();
    expect(bad.errcode).toBe(47001);
    const empty = await (await fetch(`${sim.baseUrl}/cgi-bin/department/create?access_token=${contactsToken}`, { method: 'POST' })).json();
    expect(empty.errcode).toBe(44002);
    expect((await get('department/create')).errcode).toBe(43002);
    const unknown = await fetch(`${sim.baseUrl}/cgi-bin/no/such/api?access_token=${contactsToken}`);
    expect(unknown.status).toBe(404);
  });

  it('injects errcodes a number of times, then recovers', async () => {
    await control('POST', '/faults', { fail: [{ api: 'user/get', errcode: -1, times: 2 }] });
    expect((await get('user/get', contactsToken, { userid: 'lina' })).errcode).toBe(-1);
    expect((await get('user/get', contactsToken, { userid: 'lina' })).errcode).toBe(-1);
    expect((await get('user/get', contactsToken, { userid: 'lina' })).errcode).toBe(0);
  });

  it('drops connections without an answer', async () => {
    await control('POST', '/faults', { drop: [{ api: 'user/get', times: 1 }] });
    await expect(fetch(`${sim.baseUrl}/cgi-bin/user/get?access_token=${contactsToken}&userid=lina`)).rejects.toThrow();
    expect((await get('user/get', contactsToken, { userid: 'lina' })).errcode).toBe(0);
  });

  it('adds latency and enforces per-minute limits (45009) and concurrency (45033)', async () => {
    await control('POST', '/faults', { latency_ms: 150 });
    const t0 = Date.now();
    await get('user/get', contactsToken, { userid: 'lina' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    await control('DELETE', '/faults');

    await control('POST', '/faults', { rate_limit_per_min: { 'tag/list': 3 } });
    await control('POST', '/clock', { advance_ms: 60_000 });
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await get('tag/list')).errcode);
    expect(codes).toEqual([0, 0, 0, 45009, 45009]);
    await control('POST', '/clock', { advance_ms: 60_000 });
    expect((await get('tag/list')).errcode).toBe(0);

    await control('POST', '/faults', { concurrency_limit: 2, latency_ms: 100 });
    const many = await Promise.all(Array.from({ length: 6 }, () => get('department/list')));
    expect(many.filter((r) => r.errcode === 45033).length).toBeGreaterThan(0);
    expect(many.filter((r) => r.errcode === 0).length).toBeGreaterThanOrEqual(2);
  });

  it('counts calls per API', async () => {
    const stats = await control('GET', '/stats');
    expect(stats.calls['gettoken']).toBeGreaterThan(0);
    expect(stats.calls['user/get']).toBeGreaterThan(0);
  });
});

describe('persistence', () => {
  it('keeps state across restarts and picks up what another instance wrote', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'wxops-sim-persist-'));
    try {
      const a = await startSimulator({ dataDir: shared, port: 0 });
      const b = await startSimulator({ dataDir: shared, port: 0 });
      const ta = await (await fetch(`${a.baseUrl}/cgi-bin/gettoken?corpid=${a.credentials.corp_id}&corpsecret=${a.credentials.contacts_secret}`)).json();
      const tb = await (await fetch(`${b.baseUrl}/cgi-bin/gettoken?corpid=${b.credentials.corp_id}&corpsecret=${b.credentials.contacts_secret}`)).json();
      await fetch(`${a.baseUrl}/cgi-bin/department/create?access_token=${ta.access_token}`, { method: 'POST', body: JSON.stringify({ name: '持久部', parentid: 1 }) });
      await a.flush();
      const seen = await (await fetch(`${b.baseUrl}/cgi-bin/department/list?access_token=${tb.access_token}`)).json();
      expect(seen.department.some((d: any) => d.name === '持久部')).toBe(true);
      await a.close();
      await b.close();
      const c = await startSimulator({ dataDir: shared, port: 0 });
      const tc = await (await fetch(`${c.baseUrl}/cgi-bin/gettoken?corpid=${c.credentials.corp_id}&corpsecret=${c.credentials.contacts_secret}`)).json();
      const again = await (await fetch(`${c.baseUrl}/cgi-bin/department/list?access_token=${tc.access_token}`)).json();
      expect(again.department.some((d: any) => d.name === '持久部')).toBe(true);
      await c.close();
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });

  it('writes in slices what JSON.stringify would write, and keeps what changed meanwhile dirty', async () => {
    const values: unknown[] = [
      { a: 1, skipped: undefined, f: () => 1, list: Array.from({ length: 1234 }, (_, i) => ({ i, x: i % 3 ? undefined : 'y' })), d: new Date(0), nested: { deep: [[1], [2, undefined]] } },
      Array.from({ length: 450 }, (_, i) => `客户${i}`),
      {},
      [],
      'text',
      null,
    ];
    for (const v of values) expect([...jsonPieces(v)].join('')).toBe(JSON.stringify(v));

    const data = mkdtempSync(join(tmpdir(), 'wxops-sim-slices-'));
    try {
      const state = { version: 1, users: Array.from({ length: 3000 }, (_, i) => ({ userid: `u${i}` })) } as unknown as SimState;
      const file = new StateFile(data, () => state, 10);
      file.load();
      file.state.users.push({ userid: 'first' } as never);
      file.markDirty();
      // Changed while the write is under way: written by the next one.
      setTimeout(() => {
        file.state.users.push({ userid: 'second' } as never);
        file.markDirty();
      }, 12);
      const onDisk = () => (JSON.parse(readFileSync(join(data, 'state.json'), 'utf8')) as { users: { userid: string }[] }).users.map((u) => u.userid);
      for (let i = 0; i < 100 && !onDisk().includes('second'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(onDisk().slice(-2)).toEqual(['first', 'second']);
      expect(readdirSync(data).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      file.flush();
      expect(existsSync(join(data, 'state.json'))).toBe(true);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('seeds the demo company', async () => {
    const users = (await get('user/list', contactsToken, { department_id: 1, fetch_child: 1 })).userlist as any[];
    for (const id of ['zhangwei', 'sunli', 'lina', 'wangfang', 'zhouqiang', 'liuyang', 'chenjing', 'zhaolei']) expect(users.some((u) => u.userid === id)).toBe(true);
    expect(users.length).toBeGreaterThanOrEqual(58);
    expect(users.some((u) => u.status === 2)).toBe(true);
    expect(users.some((u) => u.status === 4)).toBe(true);
  });
});

describe('long answers', () => {
  it('answers a whole company of 2,500 members and every follow user in full, with the right content-length', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxops-sim-long-'));
    const big = await startSimulator({ dataDir: dir, port: 0, scale: { members: 2500, customers: 100 } });
    try {
      const ask = async (path: string, secret: string, init: { query?: string; body?: string } = {}) => {
        const t = (await (await fetch(`${big.baseUrl}/cgi-bin/gettoken?corpid=${big.credentials.corp_id}&corpsecret=${secret}`)).json()).access_token;
        const res = await fetch(`${big.baseUrl}/cgi-bin/${path}?access_token=${t}${init.query ?? ''}`, init.body ? { method: 'POST', body: init.body } : {});
        const text = await res.text();
        expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
        return JSON.parse(text);
      };
      const contacts = big.credentials.contacts_secret;
      const list = await ask('user/list', contacts, { query: '&department_id=1&fetch_child=1' });
      expect(Object.keys(list)).toEqual(['errcode', 'errmsg', 'userlist']);
      const expected = new Set((await ask('user/list_id', contacts, { body: '{}' })).dept_user.map((r: { userid: string }) => r.userid));
      expect(list.userlist.length).toBeGreaterThan(2500);
      expect(list.userlist.length).toBe(expected.size);
      expect(new Set(list.userlist.map((u: { userid: string }) => u.userid))).toEqual(expected);
      expect(list.userlist[1500]).toEqual(expect.objectContaining({ userid: expect.any(String), name: expect.any(String), department: expect.any(Array), enable: expect.any(Number) }));
      const follow = await ask('externalcontact/get_follow_user_list', big.credentials.customer_secret);
      expect(follow.errcode).toBe(0);
      expect(follow.follow_user.length).toBeGreaterThan(2500);
      expect(new Set(follow.follow_user).size).toBe(follow.follow_user.length);
    } finally {
      await big.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
