import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { okData, REPO, startWxops, type TestWxops } from './support/sandbox.js';

/** The Official Account commands, through the pipeline, over HTTP against the simulator. */
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

async function calls(api: string): Promise<number> {
  const stats = await (await fetch(`${w.sim!.controlUrl}/stats`)).json();
  return stats.calls[`mp/${api}`] ?? 0;
}

async function control(method: string, path: string, body?: unknown): Promise<any> {
  return (await fetch(`${w.sim!.controlUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })).json();
}

function file(name: string, text: string): string {
  const p = join(w.dataDir, name);
  writeFileSync(p, text);
  return p;
}

/** Asks as `as`, approves as `approver`; the outcome of the approval (its data carries the command's result). */
async function approve(line: string, as = 'zhangwei', approver = 'sunli') {
  const o = await w.run(line, as);
  expect(o.exitCode, o.error?.text.zh).toBe(4);
  const id = (o.error!.details as any).request_id;
  return w.run(`approval approve ${id}`, approver);
}

describe('menu', () => {
  it('shows the seeded menu with its mini program button', async () => {
    const menu = okData(await w.run('menu show')).menu;
    expect(menu.button).toHaveLength(3);
    expect(menu.button.find((b: any) => b.type === 'miniprogram').name).toBe('商城');
  });

  it('exports, plans a change with a readable diff, publishes it with approval, and rolls back', async () => {
    const exported = join(w.dataDir, 'menu.yaml');
    okData(await w.run(`menu export ${exported}`));
    const menu = parseYaml(readFileSync(exported, 'utf8'));
    expect(menu.button).toHaveLength(3);
    menu.button[0].sub_button.push({ type: 'view', name: '双十二活动', url: 'https://www.example.com/promo/1212' });
    writeFileSync(exported, JSON.stringify(menu));

    const plan = okData(await w.run(`menu plan ${exported}`));
    expect(plan.changed).toBe(true);
    expect(plan.diff).toContain('+ 1.4 双十二活动 · view https://www.example.com/promo/1212');

    const dry = await w.run(`menu apply ${exported} --dry-run`);
    expect(dry.ok).toBe(true);
    const before = await calls('menu/create');
    const applied = okData(await approve(`menu apply ${exported}`)).result;
    expect(await calls('menu/create')).toBe(before + 1);
    expect(okData(await w.run('menu show')).menu.button[0].sub_button.map((b: any) => b.name)).toContain('双十二活动');
    const versions = okData(await w.run('menu versions')).versions;
    expect(versions.map((v: any) => v.source)).toEqual(['live before wxops', exported]);
    expect(JSON.stringify(applied)).toContain('双十二活动');

    const again = await w.run(`menu apply ${exported}`);
    expect(again.exitCode).toBe(2);
    expect(again.error!.code).toBe('MENU_UNCHANGED');

    okData(await approve('menu rollback'));
    expect(okData(await w.run('menu show')).menu.button[0].sub_button.map((b: any) => b.name)).not.toContain('双十二活动');
  });

  it('refuses bad menu files, naming every problem, without calling the platform', async () => {
    const shop = okData(await w.run('menu show')).menu.button[1];
    const sub = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'click', name: `按钮${i}`, key: `K${i}` }));
    const cases: [string, unknown, string][] = [
      ['four-top.json', { button: [shop, shop, shop, shop] }, '一级菜单需要 1–3 个，这里有 4 个'],
      ['six-sub.json', { button: [{ name: '产品', sub_button: sub(6) }] }, '子菜单需要 1–5 个，这里有 6 个'],
      // 6 Chinese characters are 18 bytes: over the 16 bytes of a top-level name (5 fit).
      ['long-name.json', { button: [{ type: 'click', name: '产品价格查询', key: 'K' }] }, '有 18 字节，最多 16 字节'],
      ['view-no-url.json', { button: [{ type: 'view', name: '官网' }] }, 'view 类型的按钮必须有 url'],
      ['unlinked.json', { button: [{ ...shop, appid: 'wxe966eeb2bf838cc2' }] }, '没有关联到本公众号'],
      ['bad-url.json', { button: [{ type: 'view', name: '官网', url: 'www.example.com' }] }, '必须以 http:// 或 https:// 开头'],
      ['get-shape.json', { menu: { button: [shop] } }, 'menu/get 的返回格式'],
    ];
    const before = await calls('menu/create');
    for (const [name, body, expected] of cases) {
      const o = await w.run(`menu apply ${file(name, JSON.stringify(body))}`);
      expect(o.exitCode, name).toBe(2);
      expect(o.error!.text.zh, name).toContain(expected);
    }
    okData(await w.run(`menu plan ${file('five-ok.json', JSON.stringify({ button: [{ type: 'click', name: '产品价格', key: 'K' }] }))}`));
    const yaml = await w.run(`menu plan ${file('broken.yaml', 'button:\n  - name: 产品\n    sub_button: [\n')}`);
    expect(yaml.exitCode).toBe(2);
    expect(yaml.error!.text.zh).toMatch(/第 \d+ 行不是有效的 YAML/);
    const lineOf = await w.run(`menu plan ${file('line.yaml', 'button:\n  - type: click\n    name: 好\n    key: A\n  - type: view\n    name: 坏\n')}`);
    expect(lineOf.error!.text.zh).toContain('（第 5 行）');
    expect(await calls('menu/create')).toBe(before);
  });

  it('refuses menu changes from the content team, and says who may', async () => {
    const o = await w.run(`menu apply ${join(REPO, 'docs/examples/menu.yaml')}`, 'liuyang');
    expect(o.exitCode).toBe(3);
  });

  it('says the daily quota is used up (45009) instead of waiting', async () => {
    const exported = file('quota.json', JSON.stringify({ button: [{ type: 'click', name: '只有一个', key: 'ONLY' }] }));
    await w.faults({ mp_quota: { 'menu/create': 0 } });
    const o = await approve(`menu apply ${exported}`);
    expect(o.ok).toBe(false);
    expect(o.exitCode).toBe(1);
    expect(o.error!.text.zh).toContain('今天的调用次数已用完');
  });
});

describe('auto-replies', () => {
  it('sets subscribe, keyword, click and default replies and tests which rule answers', async () => {
    okData(await w.run('autoreply subscribe "欢迎关注示例科技！回复 产品价格 查看价格表。"', 'liuyang'));
    okData(await w.run('autoreply keyword add 产品价格 价格表 --type link --url https://shop.example.com/prices', 'liuyang'));
    okData(await w.run('autoreply keyword add 发票 "开票请联系财务部" --match contains', 'liuyang'));
    okData(await w.run('autoreply click CONTACT_US "客服电话 400-000-0000"', 'liuyang'));
    okData(await w.run('autoreply default "您好，我们会尽快回复。"', 'liuyang'));
    expect(okData(await w.run('autoreply test 产品价格')).reply).toMatchObject({ type: 'link', url: 'https://shop.example.com/prices' });
    expect(okData(await w.run('autoreply test "我要开发票"')).rule).toContain('发票');
    expect(okData(await w.run('autoreply test 在吗')).rule).toBe('the default reply');
    const list = okData(await w.run('autoreply list'));
    expect(list.keywords.map((k: any) => k.keyword)).toEqual(['产品价格', '发票']);
  });

  it('refuses a keyword that exists, a reply over 2048 bytes, and a link without a URL, changing nothing', async () => {
    const before = okData(await w.run('autoreply list'));
    const dup = await w.run('autoreply keyword add 产品价格 别的');
    expect(dup.exitCode).toBe(2);
    expect(dup.error!.code).toBe('KEYWORD_EXISTS');
    // 683 Chinese characters are 2049 bytes.
    const long = await w.run(`autoreply keyword add 长文 ${'长'.repeat(683)}`);
    expect(long.exitCode).toBe(2);
    expect(long.error!.text.zh).toContain('2048 字节');
    const link = await w.run('autoreply keyword add 官网 官网 --type link');
    expect(link.exitCode).toBe(2);
    expect(link.error!.text.zh).toContain('--url');
    expect(okData(await w.run('autoreply list'))).toEqual(before);
  });

  it('removes keywords and imports what the console had', async () => {
    okData(await w.run('autoreply keyword remove 发票'));
    expect((await w.run('autoreply keyword remove 发票')).error!.code).toBe('UNKNOWN_KEYWORD');
    const imported = okData(await w.run('autoreply import'));
    expect(imported.imported).toBeGreaterThanOrEqual(0);
    expect(okData(await w.run('autoreply list')).keywords[0].keyword).toBe('产品价格');
  });
});

describe('followers and tags', () => {
  it('lists followers by tag and since a date, and shows one', async () => {
    const vip = okData(await w.run('follower list --tag VIP客户 --limit 5'));
    expect(vip.total).toBeGreaterThan(5);
    expect(vip.followers).toHaveLength(5);
    const all = okData(await w.run('follower list --limit 1'));
    expect(all.total).toBeGreaterThanOrEqual(200);
    const one = okData(await w.run(`follower show ${vip.followers[0].openid}`));
    expect(one.subscribe).toBe(1);
    expect(one).not.toHaveProperty('nickname');
  });

  it('pages through followers in small pages without losing any', async () => {
    const whole = okData(await w.run('follower list --limit 1')).total;
    await w.faults({ mp_page_size: 7 });
    expect(okData(await w.run('follower list --limit 1')).total).toBe(whole);
  });

  it('creates, renames and removes follower tags within the platform limits', async () => {
    const added = okData(await w.run('mptag add 新品关注', 'chenjing')).tag;
    expect(added.id).toBeGreaterThanOrEqual(100);
    // 11 Chinese characters are 33 bytes: over 30.
    const long = await w.run('mptag add 一二三四五六七八九十一', 'chenjing');
    expect(long.exitCode).toBe(2);
    expect(long.error!.text.zh).toContain('30 字节');
    expect((await w.run('mptag add 新品关注')).error!.code).toBe('MP_TAG_EXISTS');
    expect((await w.run('mptag rename 星标组 重要')).error!.code).toBe('RESERVED_MP_TAG');
    okData(await w.run('mptag rename 新品关注 新品'));
    expect((await w.run('mptag remove 不存在的标签')).error!.code).toBe('UNKNOWN_MP_TAG');
    okData(await w.run('mptag remove 新品'));
    expect(okData(await w.run('mptag list')).tags.map((x: any) => x.name)).not.toContain('新品');
  });

  it('tags and untags followers, checking every openid first', async () => {
    const [a, b] = okData(await w.run('follower list --limit 2')).followers.map((f: any) => f.openid);
    const tag = okData(await w.run('mptag add 活动报名')).tag;
    const bad = await w.run(`follower tag ${a} oNOTAFOLLOWER00000000000000x 活动报名`);
    expect(bad.exitCode).toBe(2);
    expect(bad.error!.text.zh).toContain('oNOTAFOLLOWER00000000000000x 不是关注者');
    expect(okData(await w.run('mptag list')).tags.find((x: any) => x.id === tag.id).count).toBe(0);
    expect(okData(await w.run(`follower tag ${a} ${b} 活动报名`, 'liuyang')).count).toBe(2);
    expect(okData(await w.run('follower list --tag 活动报名')).total).toBe(2);
    expect((await w.run(`follower tag ${a} 活动报名`)).error!.code).toBe('NOTHING_TO_DO');
    okData(await w.run(`follower untag ${a} 活动报名`));
    expect(okData(await w.run('follower list --tag 活动报名')).total).toBe(1);
  });
});

describe('push', () => {
  it('shows the recipients, needs a super admin’s approval, and follows the job to its end', async () => {
    const dry = okData(await w.run('push send --tag VIP客户 --text 会员日九折 --ad --dry-run', 'chenjing'));
    expect(dry.plan.summary.zh).toMatch(/向标签 “VIP客户” 的 \d+ 位关注者群发（广告）/);
    expect(dry.plan.steps[0].body.text.content).toBe('【广告】会员日九折');
    const done = okData(await approve('push send --tag VIP客户 --text 会员日九折 --ad', 'chenjing', 'zhangwei')).result;
    expect(done.msg_status).toBe('SEND_SUCCESS');
    const status = okData(await w.run(`push status ${done.msg_id}`));
    expect(status.msg_status).toBe('SEND_SUCCESS');
    const outbox = await control('GET', '/mp/outbox?via=mass');
    expect(outbox.messages.some((m: any) => String(m.content ?? JSON.stringify(m)).includes('会员日九折'))).toBe(true);
  });

  it('refuses a push to a tag with no followers, or with no content, before anything is sent', async () => {
    okData(await w.run('mptag add 空标签'));
    const before = await calls('message/mass/sendall');
    const empty = await w.run('push send --tag 空标签 --text 你好');
    expect(empty.exitCode).toBe(2);
    expect(empty.error!.code).toBe('NO_RECIPIENTS');
    expect((await w.run('push send --tag VIP客户')).error!.code).toBe('PUSH_CONTENT');
    expect((await w.run('push send --tag 不存在 --text 你好')).error!.code).toBe('UNKNOWN_MP_TAG');
    expect(await calls('message/mass/sendall')).toBe(before);
  });

  it('previews to one follower', async () => {
    const [a] = okData(await w.run('follower list --limit 1')).followers.map((f: any) => f.openid);
    expect(okData(await w.run(`push preview ${a} --text 预览`, 'liuyang')).count).toBe(1);
  });
});

describe('mini programs', () => {
  it('lists the linked shop, refuses to unlink it while the menu opens it, and links another', async () => {
    const items = okData(await w.run('miniprogram list')).items;
    expect(items.find((m: any) => m.nickname === '示例商城').status).toBe(1);
    const unlink = await w.run('miniprogram unlink wx6531f9dee418a519');
    expect(unlink.exitCode).toBe(2);
    expect(unlink.error!.code).toBe('MINIPROGRAM_IN_MENU');
    okData(await w.run('miniprogram link wxe966eeb2bf838cc2'));
    expect(okData(await w.run('miniprogram list')).items.find((m: any) => m.appid === 'wxe966eeb2bf838cc2').status).not.toBe(1);
    expect((await w.run('miniprogram link wxe966eeb2bf838cc2')).error!.code).toBe('ALREADY_LINKED');
  });
});

describe('statistics', () => {
  it('reads 30 days of followers and reads from datacube in the spans it allows', async () => {
    const s = okData(await w.run('stats mp --days 30'));
    expect(s.days).toHaveLength(30);
    expect(s.days.at(-1).cumulate_user).toBeGreaterThanOrEqual(200);
    expect(await calls('datacube/getusersummary')).toBeGreaterThanOrEqual(5);
  });

  it('lists every button of the live menu with its clicks', async () => {
    const s = okData(await w.run('stats menu --days 7'));
    expect(s.buttons.length).toBeGreaterThanOrEqual(5);
    expect(s.followers).toBeGreaterThanOrEqual(200);
  });
});
