import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../commands/index.js';
import { loadPolicySet, PolicyLoadError } from '../src/policy/loader.js';
import { PolicyEngine } from '../src/policy/engine.js';
import { freePort } from './support/ports.js';
import { REPO, cleanEnv, okData, startWxops, type TestWxops } from './support/sandbox.js';

const actions = createRegistry().actions();
const scratch = mkdtempSync(join(tmpdir(), 'wxops-policy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the shipped policies with one file replaced. */
function policyDir(file: string, content: string): string {
  const dir = mkdtempSync(join(scratch, 'p-'));
  cpSync(join(REPO, 'policies'), dir, { recursive: true });
  writeFileSync(join(dir, file), content);
  return dir;
}

function problems(dir: string) {
  try {
    loadPolicySet(dir, actions);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyLoadError);
    return (err as PolicyLoadError).problems;
  }
  throw new Error('expected the policy to be refused');
}

const rules = readFileSync(join(REPO, 'policies/rules.yaml'), 'utf8');

describe('policy files are checked on load, with file and line', () => {
  it('loads the shipped set', () => {
    const set = loadPolicySet(join(REPO, 'policies'), actions);
    expect(Object.keys(set.roles)).toEqual(['super-admin', 'dept-admin', 'member', 'content-team', 'content-lead']);
    expect(set.approvals[0]!.expiresMs).toBe(24 * 3_600_000);
  });

  it('names an unknown operator', () => {
    const p = problems(policyDir('rules.yaml', rules.replace('{ within: actor.managed_departments }', '{ between: [1, 2] }')));
    const line = rules.split('\n').findIndex((l) => l.includes('{ within: actor.managed_departments }')) + 1;
    expect(p[0]).toMatchObject({ file: 'rules.yaml', line });
    expect(p[0]!.text.en).toContain('Unknown condition operator “between”');
  });

  it('names a typo in an action with a suggestion', () => {
    const p = problems(policyDir('rules.yaml', rules.replace('member.update,', 'member.updte,')));
    expect(p[0]!.file).toBe('rules.yaml');
    expect(p[0]!.text.en).toContain('“member.updte”');
    expect(p[0]!.text.en).toContain('member.update');
  });

  it('names a role that does not exist', () => {
    const p = problems(policyDir('rules.yaml', rules.replace('roles: [dept-admin]\n    actions: [member.add', 'roles: [dept-admn]\n    actions: [member.add')));
    expect(p[0]!.text.en).toMatch(/“dept-admn”.*did you mean dept-admin/);
    expect(p[0]!.line).toBeGreaterThan(1);
  });

  it('reports a YAML syntax error with its line', () => {
    const p = problems(policyDir('approvals.yaml', 'approvals:\n  - id: x\n    actions: [member.remove\n    steps: []\n'));
    expect(p[0]).toMatchObject({ file: 'approvals.yaml' });
    expect(p[0]!.text.en).toContain('YAML syntax error');
  });

  it('finds a cycle in role inheritance', () => {
    const roles = readFileSync(join(REPO, 'policies/roles.yaml'), 'utf8').replace('members: ["*"]', 'members: ["*"]\n    inherits: [dept-admin]');
    const p = problems(policyDir('roles.yaml', roles));
    expect(p.some((x) => x.text.en.includes('cycle'))).toBe(true);
  });

  it('refuses unknown fields and bad values', () => {
    const p = problems(policyDir('approvals.yaml', 'approvals:\n  - id: x\n    actions: [member.remove]\n    steps: [{ role: super-admin }]\n    expires: tomorrow\n    colour: red\n'));
    expect(p.map((x) => x.text.en).join(' ')).toMatch(/colour|expires/);
  });

  it('turns a broken policy into exit 2 with file:line from wxops run', () => {
    const dir = policyDir('rules.yaml', rules.replace('effect: forbid', 'effect: deny'));
    const r = spawnSync(process.execPath, [join(REPO, 'bin/wxops.js'), 'run', '--json', 'dept list'], {
      cwd: REPO,
      env: cleanEnv({ WXOPS_DATA_DIR: mkdtempSync(join(scratch, 'd-')), WXOPS_POLICY_DIR: dir }),
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    const body = JSON.parse(r.stdout);
    expect(body.error.code).toBe('POLICY_INVALID');
    expect(body.error.message).toMatch(/rules\.yaml:\d+:/);
  });
});

describe('policy commands against the demo company', () => {
  let w: TestWxops;
  beforeAll(async () => {
    w = await startWxops();
  });
  afterAll(async () => {
    await w.close();
  });

  it('policy test passes the shipped cases, covering every role and command group', async () => {
    const data = okData(await w.run('policy test'));
    expect(data.failed).toBe(0);
    expect(data.passed).toBeGreaterThanOrEqual(40);
    expect(data.gaps).toEqual([]);
  });

  it('policy lint passes the shipped set and finds problems in a bad one', async () => {
    expect(okData(await w.run('policy lint')).errors).toBe(0);
    const bad = policyDir(
      'rules.yaml',
      `${rules}
  - id: members-everything
    effect: permit
    roles: [member]
    actions: ["tag.*"]
  - id: reads-nothing
    effect: permit
    roles: [member]
    actions: [tag.add]
    when:
      - resource.owner: { equals: actor.userid }
  - id: nobody
    effect: forbid
    roles: [member]
    actions: [tag.remove]
  - id: shadowed
    effect: permit
    roles: [member]
    actions: [tag.remove]
`,
    );
    const other = await startWxops();
    try {
      const { Runtime } = await import('../src/core/runtime.js');
      const rt = new Runtime(cleanEnv({ WXOPS_DATA_DIR: other.dataDir, WXOPS_POLICY_DIR: bad }), REPO);
      const { Session } = await import('../src/core/pipeline.js');
      const o = await new Session({ runtime: rt, registry: createRegistry(), channel: 'cli', actor: 'zhangwei' }).execute('policy lint');
      expect(o.exitCode).toBe(2);
      const findings = (o.error!.details as any).findings.map((f: any) => `${f.severity}:${f.message}`).join('\n');
      expect(findings).toMatch(/error:Rule reads-nothing reads resource\.owner/);
      expect(findings).toMatch(/warning:Rule members-everything grants the wildcard tag\.\*/);
      expect(findings).toMatch(/warning:Rule shadowed has no effect for member: rule nobody forbids/);
      await rt.close();
    } finally {
      await other.close();
    }
  });

  it('policy explain gives the decision and every rule considered', async () => {
    const data = okData(await w.run('policy explain --as lina "member add x --name 某 --dept 市场部 --mobile 13800000009"'));
    expect(data).toMatchObject({ as: 'lina', decision: 'deny', action: 'member.add' });
    expect(data.who_can).toEqual(expect.arrayContaining(['chenjing', 'zhangwei', 'sunli']));
    const rule = data.rules.find((r: any) => r.id === 'dept-admin-manages-own-members');
    expect(rule).toMatchObject({ applied: false });
    expect(rule.why).toContain('resource.departments');
    const ok = okData(await w.run('policy explain --as lina "member add x --name 某 --dept 华东区 --mobile 13800000009"'));
    expect(ok).toMatchObject({ decision: 'permit', rule: 'dept-admin-manages-own-members' });
  });

  it('policy who-can lists the members allowed for a resource', async () => {
    const east = okData(await w.run('policy who-can member.add --resource departments=销售部/华东区')).members.map((m: any) => m.userid);
    expect(east).toEqual(expect.arrayContaining(['lina', 'zhangwei', 'sunli']));
    expect(east).not.toContain('chenjing');
    expect(east).not.toContain('wangfang');
    expect((await w.run('policy who-can member.ad')).error!.code).toBe('UNKNOWN_ACTION');
  });

  it('help lists only what the asking member may run, --all marks the rest', async () => {
    const mine = okData(await w.run('help', 'wangfang'));
    const names = mine.commands.map((c: any) => c.name);
    expect(names).toContain('dept list');
    expect(names).not.toContain('member add');
    expect(mine.hidden).toBeGreaterThan(10);
    const all = okData(await w.run('help --all', 'wangfang'));
    expect(all.commands.find((c: any) => c.name === 'member add').allowed).toBe(false);
    expect(okData(await w.run('help', 'zhangwei')).hidden).toBe(0);
  });

  it('a denial names who can do it instead', async () => {
    const o = await w.run('member add x9 --name 某 --dept 华东区 --mobile 13800000019', 'wangfang');
    expect(o.exitCode).toBe(3);
    expect(o.error!.text.zh).toContain('可以执行的人');
    expect(o.error!.text.zh).toContain('lina');
    expect((o.error!.details as any).who_can).toContain('lina');
  });

  it('--as an unknown member is refused', async () => {
    expect((await w.run('policy explain --as ghost "dept list"')).error!.code).toBe('UNKNOWN_MEMBER');
  });

  it('policy unused reports grants the audit log never saw used', async () => {
    await w.run('dept list', 'wangfang');
    const rows = okData(await w.run('policy unused --days 30')).unused as any[];
    const reads = rows.find((r) => r.rule === 'everyone-reads-organisation');
    expect(reads?.unused ?? '').not.toContain('dept.list');
    expect(rows.find((r) => r.rule === 'dept-admin-manages-own-departments').unused).toContain('dept.rename');
  });
});

describe('context conditions and identities', () => {
  it('lets a rule depend on the channel and the chat group a command came from', async () => {
    const dir = policyDir(
      'rules.yaml',
      `${rules}
  - id: tags-from-ops-group-only
    effect: permit
    roles: [dept-admin]
    actions: [tag.add]
    when:
      - context.channel: { equals: wecom }
      - context.room: { equals: 运维群 }
`,
    );
    const w = await startWxops();
    try {
      const { Runtime } = await import('../src/core/runtime.js');
      const { Session } = await import('../src/core/pipeline.js');
      const rt = new Runtime(cleanEnv({ WXOPS_DATA_DIR: w.dataDir, WXOPS_POLICY_DIR: dir }), REPO);
      const as = (channel: 'repl' | 'wecom', room?: string) => new Session({ runtime: rt, registry: createRegistry(), channel, room, actor: 'lina' });
      expect((await as('wecom', '运维群').decideOnly('tag add 群里建的')).decision).toMatchObject({ effect: 'permit', rule: 'tags-from-ops-group-only' });
      expect((await as('wecom', '闲聊群').decideOnly('tag add 群里建的')).decision.effect).toBe('deny');
      expect((await as('repl').decideOnly('tag add 群里建的')).decision.effect).toBe('deny');
      const explained = okData(await as('repl').execute('policy explain --channel wecom --room 运维群 "tag add 群里建的"'));
      expect(explained.decision).toBe('permit');
      await rt.close();
    } finally {
      await w.close();
    }
  });

  it('treats members listed under manages as department admins of those subtrees', async () => {
    const roles = readFileSync(join(REPO, 'policies/roles.yaml'), 'utf8').replace('manages: {}', 'manages: { zhouqiang: [销售部/华东区] }');
    const dir = policyDir('roles.yaml', roles);
    const w = await startWxops();
    try {
      const { Runtime } = await import('../src/core/runtime.js');
      const { Session } = await import('../src/core/pipeline.js');
      const rt = new Runtime(cleanEnv({ WXOPS_DATA_DIR: w.dataDir, WXOPS_POLICY_DIR: dir }), REPO);
      const s = new Session({ runtime: rt, registry: createRegistry(), channel: 'repl', actor: 'zhouqiang' });
      expect((await s.decideOnly('member add x --name 某 --dept 销售部/华东区 --mobile 13800000901')).decision.effect).toBe('permit');
      expect((await s.decideOnly('member add x --name 某 --dept 销售部/华南区 --mobile 13800000901')).decision.effect).toBe('deny');
      await rt.close();
    } finally {
      await w.close();
    }
  });

  it('maps chat identities to WeCom userids', () => {
    const set = loadPolicySet(join(REPO, 'policies'), actions);
    const engine = new PolicyEngine(set);
    expect(engine.identity('slack', 'U0WXOPS003')).toBe('lina');
    expect(engine.identity('wechaty', 'wxid_zhangwei')).toBe('zhangwei');
    expect(engine.identity('slack', 'U-unknown')).toBeUndefined();
    expect(engine.identity('wecom', 'wangfang')).toBe('wangfang');
  });
});

describe('wxops serve reloads the policy', () => {
  it('applies a good edit and keeps the previous policy on a broken one, telling the super admins', async () => {
    const dir = policyDir('rules.yaml', rules);
    const data = mkdtempSync(join(scratch, 's-'));
    const port = await freePort();
    const child = spawn(process.execPath, [join(REPO, 'bin/wxops.js'), 'serve', '--port', String(port)], { cwd: REPO, env: cleanEnv({ WXOPS_DATA_DIR: data, WXOPS_POLICY_DIR: dir }) });
    try {
      for (let i = 0; i < 100; i++) {
        if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      writeFileSync(join(dir, 'rules.yaml'), rules.replace('effect: forbid', 'effect: nonsense'));
      let log = '';
      for (let i = 0; i < 50 && !log.includes('policy edit rejected'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        log = readFileSync(join(data, 'logs', 'wxops.log'), 'utf8');
      }
      expect(log).toContain('policy edit rejected');
      expect(log).toMatch(/rules\.yaml:\d+/);
      const store = JSON.parse(readFileSync(join(data, 'store.json'), 'utf8'));
      const note = Object.values(store.notifications as Record<string, any>)[0];
      expect(note.to).toEqual(['zhangwei', 'sunli']);
      writeFileSync(join(dir, 'rules.yaml'), rules);
      for (let i = 0; i < 50 && !log.includes('policy reloaded'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        log = readFileSync(join(data, 'logs', 'wxops.log'), 'utf8');
      }
      expect(log).toContain('policy reloaded');
    } finally {
      child.kill('SIGTERM');
    }
  });
});
