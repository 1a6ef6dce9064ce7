import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { okData, startWxops, type TestWxops } from './support/sandbox.js';

/** Customer contact through the pipeline and the shipped policy, over HTTP against the simulator. */
let w: TestWxops;
beforeAll(async () => {
  w = await startWxops({ withSimulator: true });
});
afterEach(async () => {
  await fetch(`${w.sim!.controlUrl}/faults`, { method: 'DELETE' });
});
afterAll(async () => {
  await w.close();
});

async function control(method: string, path: string, body?: unknown): Promise<any> {
  return (await fetch(`${w.sim!.controlUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json();
}
async function calls(api: string): Promise<number> {
  return (await control('GET', '/stats')).calls[api] ?? 0;
}
async function mine(userid: string): Promise<any[]> {
  return okData(await w.run('customer list', userid)).customers;
}
/** Asks as `as`, then approves every step with the given approvers; returns the last outcome. */
async function approved(line: string, as: string, approvers: string[]) {
  const o = await w.run(line, as);
  expect(o.exitCode, o.error?.text.zh).toBe(4);
  const id = (o.error!.details as any).request_id;
  let last = o;
  for (const a of approvers) last = await w.run(`approval approve ${id}`, a);
  return last;
}

describe('whose customers', () => {
  it('a member lists their own customers; the whole list is for admins', async () => {
    const own = await mine('wangfang');
    expect(own.length).toBeGreaterThanOrEqual(5);
    for (const c of own) expect(c.follow_user.map((f: any) => f.userid)).toContain('wangfang');
    expect((await w.run('customer list --all', 'wangfang')).exitCode).toBe(3);
    const dept = okData(await w.run('customer list --dept 销售部', 'lina')).customers;
    expect(dept.length).toBeGreaterThan(own.length);
    expect((await w.run('customer list --dept 市场部', 'lina')).exitCode).toBe(3);
    expect(okData(await w.run('customer list --all')).total).toBeGreaterThanOrEqual(dept.length);
  });

  it('wangfang may tag her own customer but not one only zhouqiang follows; a shared one changes only her relation', async () => {
    const hers = await mine('wangfang');
    const his = await mine('zhouqiang');
    const own = hers.find((c) => !his.some((h) => h.external_contact.external_userid === c.external_contact.external_userid))!;
    const foreign = his.find((c) => !c.follow_user.some((f: any) => f.userid === 'wangfang'))!;
    // A list shows each customer with the listed members' relations; the shared one is on both lists.
    const hisIds = new Set(his.map((c) => c.external_contact.external_userid));
    const shared = hers.find((c) => hisIds.has(c.external_contact.external_userid))!;
    expect(shared).toBeDefined();
    okData(await w.run(`customer tag ${own.external_contact.external_userid} 高潜力客户`, 'wangfang'));
    const marks = await calls('externalcontact/mark_tag');
    const denied = await w.run(`customer tag ${foreign.external_contact.external_userid} 高潜力客户`, 'wangfang');
    expect(denied.exitCode).toBe(3);
    expect(await calls('externalcontact/mark_tag')).toBe(marks);

    const sid = shared.external_contact.external_userid;
    const tags = okData(await w.run('ctag list')).tag_group.flatMap((g: any) => g.tag);
    const relation = (c: any, u: string) => c.follow_user.find((f: any) => f.userid === u);
    const tagIds = (f: any) => [...(f.tag_id ?? []), ...(f.tags ?? []).map((x: any) => x.tag_id)];
    const before = okData(await w.run(`customer show ${sid}`));
    const fresh = tags.find((x: any) => !tagIds(relation(before, 'wangfang')).includes(x.id));
    const plan = okData(await w.run(`customer tag ${sid} ${fresh.id} --dry-run`, 'wangfang')).plan;
    expect(plan.steps.map((s: any) => s.body.userid)).toEqual(['wangfang']);
    okData(await w.run(`customer tag ${sid} ${fresh.id}`, 'wangfang'));
    const after = okData(await w.run(`customer show ${sid}`));
    expect(tagIds(relation(after, 'wangfang'))).toContain(fresh.id);
    expect(tagIds(relation(after, 'zhouqiang')).sort()).toEqual(tagIds(relation(before, 'zhouqiang')).sort());
  });

  it('refuses an unknown tag, an unknown or ambiguous customer, and a 21-character remark, changing nothing', async () => {
    const own = (await mine('wangfang'))[0];
    const id = own.external_contact.external_userid;
    const before = await calls('externalcontact/mark_tag');
    const unknown = await w.run(`customer tag ${id} 不存在的标签`, 'wangfang');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.error!.code).toBe('UNKNOWN_CORP_TAG');
    expect((await w.run('customer show 没有这个人', 'wangfang')).error!.code).toBe('UNKNOWN_CUSTOMER');
    const remark = await w.run(`customer remark ${id} --remark ${'长'.repeat(21)}`, 'wangfang');
    expect(remark.exitCode).toBe(2);
    expect(await calls('externalcontact/mark_tag')).toBe(before);
    okData(await w.run(`customer remark ${id} --remark 李总 --description 关注价格`, 'wangfang'));
    expect(okData(await w.run(`customer show ${id}`, 'wangfang')).follow_user.find((f: any) => f.userid === 'wangfang').remark).toBe('李总');
  });
});

describe('follow-up records', () => {
  it('members write their own; department admins review their department', async () => {
    const own = (await mine('wangfang'))[0];
    okData(await w.run(`customer log ${own.external_contact.external_userid} "电话沟通，月底前报价"`, 'wangfang'));
    const foreign = (await mine('zhouqiang')).find((c) => !c.follow_user.some((f: any) => f.userid === 'wangfang'))!;
    expect((await w.run(`customer log ${foreign.external_contact.external_userid} 偷看`, 'wangfang')).exitCode).toBe(3);
    expect(okData(await w.run('customer records', 'wangfang')).records.map((r: any) => r.note)).toContain('电话沟通，月底前报价');
    expect(okData(await w.run('customer records --dept 销售部', 'lina')).records.some((r: any) => r.userid === 'wangfang')).toBe(true);
    expect((await w.run('customer records --dept 销售部', 'liuyang')).exitCode).toBe(3);
    expect((await w.run('customer records --member wangfang', 'zhouqiang')).exitCode).toBe(3);
  });
});

describe('corp tags', () => {
  it('adds, renames and removes tags; refuses 31 characters and duplicates', async () => {
    okData(await w.run('ctag add 行业 制造业 零售'));
    expect(okData(await w.run('ctag list')).tag_group.find((g: any) => g.group_name === '行业').tag.map((x: any) => x.name)).toEqual(['制造业', '零售']);
    const long = await w.run(`ctag add 行业 ${'长'.repeat(31)}`);
    expect(long.exitCode).toBe(2);
    expect((await w.run('ctag add 行业 零售')).error!.code).toBe('CORP_TAG_EXISTS');
    okData(await w.run('ctag rename 行业/零售 零售业'));
    okData(await w.run('ctag remove 行业'));
    expect(okData(await w.run('ctag list')).tag_group.some((g: any) => g.group_name === '行业')).toBe(false);
    expect((await w.run('ctag add 行业 新标签', 'wangfang')).exitCode).toBe(3);
  });
});

describe('welcome messages, quick replies, contact ways', () => {
  it('refuses a welcome text over 4,000 bytes, and picks member > department > default', async () => {
    const long = await w.run(`welcome set --default ${'欢'.repeat(1334)}`);
    expect(long.exitCode).toBe(2);
    expect(long.error!.text.zh).toContain('4000 字节');
    okData(await w.run('welcome set --default "您好，我是示例科技的客户经理。"'));
    okData(await w.run('welcome set --dept 销售部 "您好！销售部欢迎您。" --link https://www.example.com/products --link-title 产品介绍', 'lina'));
    expect((await w.run('welcome set --dept 市场部 "你好"', 'lina')).exitCode).toBe(3);
    expect(okData(await w.run('welcome preview --member wangfang')).key).toBe('dept:2');
    expect(okData(await w.run('welcome preview --member liuyang')).key).toBe('default');
  });

  it('keeps the team’s quick replies', async () => {
    okData(await w.run('quickreply add 发票 "开票请提供抬头和税号。"', 'lina'));
    expect((await w.run('quickreply add 发票 别的', 'lina')).error!.code).toBe('QUICKREPLY_EXISTS');
    expect(okData(await w.run('quickreply find 开票', 'wangfang')).quickreplies[0].keyword).toBe('发票');
    expect((await w.run('quickreply remove 发票', 'wangfang')).exitCode).toBe(3);
    okData(await w.run('quickreply remove 发票', 'lina'));
  });

  it('makes a contact-me code for a member enabled for customer contact, not for one who is not', async () => {
    const follow = new Set(await (await w.runtime.customers()).followUsers());
    const org = await w.runtime.org();
    const notEnabled = [...new Set(org.all.flatMap((d) => org.directMemberIds(d.id)))].find((u) => !follow.has(u));
    expect(notEnabled, 'the seed has members not enabled for customer contact').toBeDefined();
    const o = await w.run(`contactway add --member ${notEnabled}`);
    expect(o.exitCode).toBe(2);
    expect(o.error!.code).toBe('NOT_FOLLOW_USER');

    const made = okData(await w.run('contactway add --member wangfang --state 展会2026 --png ' + join(w.dataDir, 'qr.png'), 'wangfang'));
    expect(made.qr_code).toMatch(/^https?:\/\//);
    expect(existsSync(join(w.dataDir, 'qr.png'))).toBe(true);
    expect(readFileSync(join(w.dataDir, 'qr.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(okData(await w.run('contactway list')).contact_way.map((x: any) => x.config_id)).toContain(made.config_id);
    expect((await w.run('contactway add --member zhouqiang', 'wangfang')).exitCode).toBe(3);
    const long = await w.run(`contactway add --member wangfang --state ${'长'.repeat(31)}`, 'wangfang');
    expect(long.exitCode).toBe(2);
    okData(await w.run(`contactway remove ${made.config_id}`, 'wangfang'));
  });
});

describe('transfers and export', () => {
  it('hands a customer over after the department admin and a super admin approve, and refuses a third transfer within 90 days', async () => {
    const his = new Set((await mine('zhouqiang')).map((c) => c.external_contact.external_userid));
    const c = (await mine('wangfang')).find((x) => !his.has(x.external_contact.external_userid))!;
    const id = c.external_contact.external_userid;
    const first = okData(await approved(`customer transfer ${id} --to zhouqiang`, 'zhangwei', ['lina', 'sunli'])).result;
    expect(first).toMatchObject({ started: 1, failed: 0 });
    // The platform completes a transfer after 24 hours; then zhouqiang is the owner.
    await control('POST', '/clock', { advance_ms: 25 * 3_600_000 });
    expect(okData(await w.run(`customer show ${id}`)).follow_user.map((f: any) => f.userid)).toEqual(['zhouqiang']);
    const second = okData(await approved(`customer transfer ${id} --to liuyang`, 'zhangwei', ['lina', 'sunli'])).result;
    expect(second.started).toBe(1);
    await control('POST', '/clock', { advance_ms: 25 * 3_600_000 });
    const third = await w.run(`customer transfer ${id} --to zhaolei`, 'zhangwei');
    expect(third.exitCode).toBe(2);
    expect(third.error!.text.zh).toContain('90 天内已转接 2 次');
  });

  it('gives a departed member’s customers to someone else', async () => {
    const his = await mine('zhouqiang');
    await control('POST', '/members/leave', { userid: 'zhouqiang' });
    const done = okData(await approved('customer reassign --from zhouqiang --to wangfang', 'zhangwei', ['lina', 'sunli'])).result;
    expect(done.started + done.failed).toBeGreaterThanOrEqual(his.filter((c) => c.follow_user.length >= 1).length - 2);
  });

  it('lets only zhangwei export, and the file says who exported it', async () => {
    const file = join(w.dataDir, '客户.xlsx');
    expect((await w.run(`customer export ${file} --all`, 'sunli')).exitCode).toBe(3);
    expect((await w.run(`customer export ${file} --dept 销售部`, 'lina')).exitCode).toBe(3);
    const done = okData(await w.run(`customer export ${file} --all`));
    expect(done.rows).toBeGreaterThan(10);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    expect(String(wb.worksheets[0]!.getRow(1).getCell(1).value)).toContain('zhangwei');
    const csv = join(w.dataDir, 'tagged.csv');
    okData(await w.run(`customer export ${csv} --all --tag 高潜力客户`));
    const text = readFileSync(csv, 'utf8');
    expect(text.split('\r\n')[0]).toContain('zhangwei');
    expect(text).toContain('高潜力客户');
  });
});
