import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { okData, startWxops, type TestWxops } from './support/sandbox.js';

let w: TestWxops;
beforeAll(async () => {
  w = await startWxops();
});
afterAll(async () => {
  await w.close();
});

/** Removals need approval (policies/approvals.yaml): request, then the two approvers in turn. */
async function approved(line: string, approvers: string[], requester = 'zhangwei') {
  const o = await w.run(line, requester);
  expect(o.exitCode, `${line}: ${o.error?.text.zh}`).toBe(4);
  const id = (o.error!.details as any).request_id as string;
  let last;
  for (const who of approvers) last = okData(await w.run(`approval approve ${id}`, who));
  return last;
}

const err = async (line: string, actor?: string) => {
  const o = await w.run(line, actor);
  expect(o.ok, `${line} should fail`).toBe(false);
  return { code: o.error!.code, zh: o.error!.text.zh, en: o.error!.text.en, exit: o.exitCode };
};

describe('departments', () => {
  it('lists the tree with paths and member counts', async () => {
    const o = await w.run('dept list');
    const depts = okData(o).department as any[];
    const east = depts.find((d) => d.path === '销售部/华东区');
    expect(east).toMatchObject({ id: 3, parentid: 2 });
    expect(east.member_count).toBeGreaterThan(0);
    const sales = depts.find((d) => d.id === 2);
    expect(sales.total_member_count).toBeGreaterThanOrEqual(east.member_count + 1);
    expect(o.result!.view.type).toBe('tree');
  });

  it('adds, renames, moves and removes a department', async () => {
    const added = okData(await w.run('dept add 华北区 --parent 销售部'));
    expect(added.parentid).toBe(2);
    expect(okData(await w.run('部门 重命名 销售部/华北区 华北大区')).name).toBe('华北大区');
    expect(okData(await w.run('dept move 华北大区 --to 市场部')).parentid).toBe(5);
    const list = okData(await w.run('dept list')).department as any[];
    expect(list.find((d) => d.id === added.id).path).toBe('市场部/华北大区');
    expect((await approved(`dept remove ${added.id}`, ['chenjing', 'sunli'])).complete).toBe(true);
    expect((okData(await w.run('dept list')).department as any[]).some((d) => d.id === added.id)).toBe(false);
  });

  it('refuses duplicates, cycles and the root, changing nothing', async () => {
    expect(await err('dept add 华东区 --parent 销售部')).toMatchObject({ code: 'DEPARTMENT_EXISTS', exit: 2 });
    expect(await err('dept move 销售部 --to 销售部/华东区')).toMatchObject({ code: 'DEPARTMENT_CYCLE', exit: 2 });
    expect(await err('dept remove 1')).toMatchObject({ code: 'ROOT_DEPARTMENT', exit: 2 });
    expect(await err('dept add 新部门 --parent 不存在的部门')).toMatchObject({ code: 'UNKNOWN_DEPARTMENT', exit: 2 });
  });

  it('refuses to remove a department that has members or sub-departments, saying which', async () => {
    const e = await err('dept remove 销售部');
    expect(e.code).toBe('DEPARTMENT_NOT_EMPTY');
    expect(e.zh).toContain('华东区');
    expect(e.zh).toContain('lina');
  });

  it('treats an ambiguous name as an error listing every candidate', async () => {
    const extra = okData(await w.run('dept add 华东区 --parent 市场部'));
    const e = await err('dept remove 华东区');
    expect(e.code).toBe('AMBIGUOUS_DEPARTMENT');
    expect(e.zh).toContain('销售部/华东区（id 3）');
    expect(e.zh).toContain(`市场部/华东区（id ${extra.id}）`);
    await approved('dept remove 市场部/华东区', ['chenjing', 'sunli']);
  });

  it('shows a plan and changes nothing with --dry-run', async () => {
    const o = await w.run('dept add 试运行部 --dry-run');
    expect(o.dryRun).toBe(true);
    const plan = okData(o).plan;
    expect(plan.steps[0]).toMatchObject({ api: 'department/create', method: 'POST', body: { name: '试运行部', parentid: 1 } });
    expect((okData(await w.run('dept list')).department as any[]).some((d) => d.name === '试运行部')).toBe(false);
  });
});

describe('members', () => {
  it('lists a department recursively and gets one member', async () => {
    const list = okData(await w.run('member list --dept 销售部 --recursive')).userlist as any[];
    const ids = list.map((u) => u.userid);
    expect(ids).toEqual(expect.arrayContaining(['lina', 'wangfang', 'zhouqiang']));
    const direct = okData(await w.run('member list --dept 销售部')).userlist as any[];
    expect(direct.map((u) => u.userid)).toContain('lina');
    expect(direct.map((u) => u.userid)).not.toContain('wangfang');
    const wf = okData(await w.run('member get wangfang'));
    expect(wf).toMatchObject({ userid: 'wangfang', name: '王芳', department: [3] });
  });

  it('adds, updates, moves, disables, enables and removes a member', async () => {
    okData(await w.run('member add zhaoliu --name 赵六 --dept 销售部/华东区 --mobile 13912340001 --position 销售代表 --gender 男'));
    expect(okData(await w.run('member get zhaoliu'))).toMatchObject({ name: '赵六', department: [3], mobile: '13912340001', gender: '1' });
    okData(await w.run('成员 修改 zhaoliu --position 销售经理 --email zhaoliu@example.com'));
    expect(okData(await w.run('member get zhaoliu'))).toMatchObject({ position: '销售经理', email: 'zhaoliu@example.com' });
    okData(await w.run('member move zhaoliu --dept 华南区 --dept 市场部'));
    expect(okData(await w.run('member get zhaoliu')).department.sort()).toEqual([4, 5]);
    okData(await w.run('member move zhaoliu --dept 华南区'));
    okData(await w.run('member disable zhaoliu'));
    expect(okData(await w.run('member get zhaoliu')).status).toBe(2);
    okData(await w.run('member enable zhaoliu'));
    expect(okData(await w.run('member get zhaoliu')).status).not.toBe(2);
    await approved('member remove zhaoliu', ['lina', 'sunli']);
    expect(await err('member get zhaoliu')).toMatchObject({ code: 'UNKNOWN_MEMBER', exit: 2 });
  });

  it('refuses bad member input with one clear sentence and no change', async () => {
    expect(await err('member add WangFang --name 王 --dept 1 --mobile 13912340002')).toMatchObject({ code: 'MEMBER_EXISTS', exit: 2 });
    expect(await err('member add newbie --name 新人 --dept 1')).toMatchObject({ code: 'MOBILE_OR_EMAIL', exit: 2 });
    expect(await err('member add newbie --name 新人 --dept 不存在 --mobile 13912340003')).toMatchObject({ code: 'UNKNOWN_DEPARTMENT', exit: 2 });
    expect(await err('member update wangfang')).toMatchObject({ code: 'NOTHING_TO_CHANGE', exit: 2 });
    expect(await err('member remove nobody_here')).toMatchObject({ code: 'UNKNOWN_MEMBER', exit: 2 });
    expect((await w.run('member get newbie')).ok).toBe(false);
  });

  it('reports a platform refusal (duplicate mobile) as a failure naming the cause', async () => {
    const wf = okData(await w.run('member get wangfang'));
    const e = await err(`member add dupmobile --name 重复 --dept 1 --mobile ${wf.mobile}`);
    expect(e.exit).toBe(1);
    expect(e.code).toBe('PLATFORM_60104');
    expect(e.zh).toMatch(/手机/);
  });

  it('plans member changes with --dry-run without applying them', async () => {
    const plan = okData(await w.run('member update wangfang --position 总监 --dry-run')).plan;
    expect(plan.steps).toHaveLength(1);
    expect(plan.steps[0].body).toEqual({ userid: 'wangfang', position: '总监' });
    expect(okData(await w.run('member get wangfang')).position).not.toBe('总监');
  });
});

describe('contact tags', () => {
  it('creates, assigns, lists, unassigns, renames and removes a tag', async () => {
    const tag = okData(await w.run('tag add 测试标签'));
    expect(tag.tagid).toBeGreaterThan(0);
    okData(await w.run('tag assign 测试标签 --member wangfang --member zhouqiang --dept 华南区'));
    const members = okData(await w.run('标签 成员 测试标签'));
    expect(members.userlist.map((u: any) => u.userid).sort()).toEqual(['wangfang', 'zhouqiang']);
    expect(members.partylist).toEqual([4]);
    okData(await w.run('tag unassign 测试标签 --member zhouqiang'));
    expect(okData(await w.run('tag members 测试标签')).userlist.map((u: any) => u.userid)).toEqual(['wangfang']);
    okData(await w.run('tag rename 测试标签 试用标签'));
    expect((okData(await w.run('tag list')).taglist as any[]).some((x) => x.tagname === '试用标签')).toBe(true);
    okData(await w.run('tag remove 试用标签'));
    expect(await err('tag members 试用标签')).toMatchObject({ code: 'UNKNOWN_TAG', exit: 2 });
  });

  it('refuses a duplicate tag, an unknown member and an empty assignment', async () => {
    const first = (okData(await w.run('tag list')).taglist as any[])[0];
    expect(await err(`tag add ${first.tagname}`)).toMatchObject({ code: 'TAG_EXISTS', exit: 2 });
    expect(await err(`tag assign ${first.tagid} --member nobody_here`)).toMatchObject({ code: 'UNKNOWN_MEMBER', exit: 2 });
    expect(await err(`tag assign ${first.tagid}`)).toMatchObject({ code: 'NOTHING_TO_TAG', exit: 2 });
    expect(await err(`tag add ${'标'.repeat(33)}`)).toMatchObject({ code: 'INVALID_ARGUMENT', exit: 2 });
  });
});

describe('help and policy step', () => {
  it('help lists commands from the declarations, and help <command> shows usage', async () => {
    const all = okData(await w.run('help')).commands as any[];
    expect(all.map((c) => c.name)).toEqual(expect.arrayContaining(['dept list', 'member import', 'tag assign']));
    expect(okData(await w.run('帮助 成员 添加')).usage).toContain('member add <userid> --name <name> --dept <dept>');
    expect(okData(await w.run('member add --help')).alias).toBe('成员 添加');
    expect(await err('help membr ad')).toMatchObject({ code: 'UNKNOWN_COMMAND', exit: 2 });
  });

  it('denies by default and permits by the shipped rules', async () => {
    expect(okData(await w.run('dept list', 'wangfang')).department.length).toBeGreaterThan(0);
    expect(await err('member add x1 --name 某人 --dept 华东区 --mobile 13912340004', 'wangfang')).toMatchObject({ code: 'DENIED', exit: 3 });
    expect(await err('member add x2 --name 某人 --dept 市场部 --mobile 13912340005', 'lina')).toMatchObject({ code: 'DENIED', exit: 3 });
    okData(await w.run('member add x3 --name 某人 --dept 销售部/华东区 --mobile 13912340006', 'lina'));
    expect(await err('dept list', 'ghost')).toMatchObject({ code: 'UNKNOWN_ACTOR', exit: 2 });
  });

  it('writes decisions and results to the hash-chained audit log', async () => {
    const { readFileSync } = await import('node:fs');
    const audit = await w.runtime.audit();
    const lines = readFileSync(audit.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.some((l) => l.kind === 'decision' && l.outcome === 'deny' && l.actor === 'wangfang')).toBe(true);
    for (let i = 1; i < lines.length; i++) expect(lines[i].prev).toBe(lines[i - 1].hash);
  });
});

describe('secrets', () => {
  it('never appear in anything wxops wrote: audit log, store, logs, sandbox state', async () => {
    const { readdirSync, readFileSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { DEMO_CREDENTIALS } = await import('../src/sim/index.js');
    await w.run('member add x9 --name 泄密测试 --dept 1');
    await w.run('dept add "坏:名字"');
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(w.dataDir);
    expect(files.some((f) => f.endsWith('audit.jsonl'))).toBe(true);
    expect(files.some((f) => f.endsWith('wxops.log'))).toBe(true);
    const secrets = [DEMO_CREDENTIALS.contacts_secret, DEMO_CREDENTIALS.app_secret, DEMO_CREDENTIALS.customer_secret, DEMO_CREDENTIALS.encoding_aes_key];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const s of secrets) expect(text.includes(s), `${s.slice(0, 6)}… found in ${f}`).toBe(false);
      expect(text).not.toMatch(/access_token=[A-Za-z0-9_-]{16,}/);
    }
  });
});
