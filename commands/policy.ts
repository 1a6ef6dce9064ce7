import { z } from 'zod';
import { arg, defineCommand, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError, WxopsError } from '../src/core/errors.js';
import { t, type Text } from '../src/core/i18n.js';
import { Session } from '../src/core/pipeline.js';
import type { View } from '../src/core/result.js';
import { whoCan } from '../src/policy/directory.js';
import { lintPolicy } from '../src/policy/lint.js';
import { matchesAction, type Condition } from '../src/policy/model.js';
import { resolveMember } from './member/resolve.js';

/** The policy tooling of ARCHITECTURE §5: show, lint, test, explain, who-can, unused. */
function describeCondition(c: Condition): string {
  if ('not' in c) return `not ${describeCondition(c.not)}`;
  const [op, v] = Object.entries(c)[0]!;
  return `${op} ${typeof v === 'string' ? v : JSON.stringify(v)}`;
}

function sessionAs(ctx: CommandContext, userid: string, channel?: string, room?: string): Session {
  return new Session({
    runtime: ctx.session.runtime,
    registry: ctx.registry,
    channel: (channel ?? ctx.channel) as never,
    room: room ?? ctx.room,
    actor: userid,
    lang: ctx.lang,
  });
}

export const policyShow = defineCommand({
  name: 'policy show',
  alias: '策略 查看',
  summary: t('显示生效中的角色、规则、审批流程和身份映射', 'Show the roles, rules, approval chains and identities in force'),
  params: {},
  action: 'policy.show',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const dir = await ctx.directory();
    const set = dir.policy.set;
    const users = [...new Set(dir.org.all.flatMap((d) => dir.org.directMemberIds(d.id)))];
    const holders = (role: string) => users.filter((u) => dir.policy.rolesOf(dir.actor(u)).includes(role));
    const sections: View[] = [
      {
        type: 'table',
        caption: t('角色', 'Roles'),
        columns: [
          { key: 'role', title: t('角色', 'role') },
          { key: 'how', title: t('来源', 'held by') },
          { key: 'holders', title: t('当前成员', 'current holders') },
        ],
        rows: Object.values(set.roles).map((r) => {
          const h = holders(r.name);
          const how = [
            r.members.length ? r.members.join(', ') : '',
            r.derived ? (ctx.lang === 'zh' ? '部门负责人（管辖其下级部门）' : 'department leaders (over their subtree)') : '',
            Object.keys(r.manages).length ? Object.entries(r.manages).map(([u, d]) => `${u}→${d.join('/')}`).join(', ') : '',
            r.inherits.length ? `inherits ${r.inherits.join(', ')}` : '',
          ].filter(Boolean);
          return { role: r.name, how: how.join('; '), holders: h.length > 8 ? `${h.slice(0, 8).join(', ')} …(${h.length})` : h.join(', ') };
        }),
      },
      {
        type: 'table',
        caption: t('规则（默认拒绝；匹配的禁止规则优先）', 'Rules (default deny; a matching forbid wins)'),
        columns: [
          { key: 'id', title: t('规则', 'rule') },
          { key: 'effect', title: t('效果', 'effect') },
          { key: 'roles', title: t('角色', 'roles') },
          { key: 'actions', title: t('动作', 'actions') },
          { key: 'when', title: t('条件', 'conditions') },
          { key: 'at', title: t('位置', 'where') },
        ],
        rows: set.rules.map((r) => ({
          id: r.id,
          effect: r.effect,
          roles: r.roles.join(', '),
          actions: r.actions.join(', '),
          when: r.when.map((c) => Object.entries(c).map(([a, cond]) => `${a} ${describeCondition(cond)}`).join(' & ')).join('; '),
          at: `${r.source.file}:${r.source.line}`,
        })),
      },
      {
        type: 'table',
        caption: t('审批流程', 'Approval chains'),
        columns: [
          { key: 'id', title: t('流程', 'chain') },
          { key: 'actions', title: t('动作', 'actions') },
          { key: 'steps', title: t('步骤', 'steps') },
          { key: 'expires', title: t('有效期', 'expires') },
        ],
        rows: set.approvals.map((a) => ({
          id: a.id,
          actions: a.actions.join(', '),
          steps: a.steps.map((s, i) => `${i + 1}. ${s.role}${s.of ? ` of ${s.of}` : ''}`).join(' → '),
          expires: `${a.expiresMs / 3_600_000}h`,
        })),
      },
    ];
    const identities = Object.entries(set.identities).map(([ch, m]) => `${ch}: ${Object.keys(m).length}`).join(', ');
    sections.push({ type: 'message', tone: 'info', text: t('身份映射：{i}。策略目录：{d}', 'Identity mappings: {i}. Policy directory: {d}', { i: identities, d: ctx.session.runtime.policyDir }) });
    return { data: { roles: set.roles, rules: set.rules, approvals: set.approvals, identities: set.identities }, view: { type: 'sections', sections } };
  },
});

export const policyLint = defineCommand({
  name: 'policy lint',
  alias: '策略 检查',
  summary: t('检查策略：未知动作和属性、永不生效或被遮蔽的规则、无人能审批的步骤、通配授权', 'Check the policy: unknown actions and attributes, rules that never apply or are shadowed, unapprovable steps, wildcard grants'),
  params: {},
  action: 'policy.lint',
  mutates: false,
  async run(ctx) {
    const dir = await ctx.directory();
    const findings = lintPolicy(dir.policy.set, ctx.registry.commands);
    const rows = findings.map((f) => ({ severity: f.severity === 'error' ? (ctx.lang === 'zh' ? '错误' : 'error') : ctx.lang === 'zh' ? '警告' : 'warning', at: `${f.source.file}:${f.source.line}`, text: f.text[ctx.lang] }));
    const errors = findings.filter((f) => f.severity === 'error');
    const data = { errors: errors.length, warnings: findings.length - errors.length, findings: findings.map((f) => ({ severity: f.severity, file: f.source.file, line: f.source.line, message: f.text.en })) };
    if (errors.length) {
      throw new WxopsError(
        'POLICY_LINT_ERRORS',
        'input',
        {
          zh: `策略检查发现 ${errors.length} 个错误：\n${errors.map((f) => `${f.source.file}:${f.source.line}: ${f.text.zh}`).join('\n')}`,
          en: `The policy check found ${errors.length} error(s):\n${errors.map((f) => `${f.source.file}:${f.source.line}: ${f.text.en}`).join('\n')}`,
        },
        data,
      );
    }
    const view: View = rows.length
      ? {
          type: 'sections',
          sections: [
            { type: 'table', columns: [{ key: 'severity', title: t('级别', 'level') }, { key: 'at', title: t('位置', 'where') }, { key: 'text', title: t('说明', 'finding') }], rows },
            { type: 'message', tone: 'warning', text: t('没有错误，有 {n} 条警告。', 'No errors; {n} warning(s).', { n: rows.length }) },
          ],
        }
      : { type: 'message', text: t('策略检查通过：没有错误或警告。', 'The policy passes: no errors, no warnings.') };
    return { data, view };
  },
});

export const policyTest = defineCommand({
  name: 'policy test',
  alias: '策略 测试',
  summary: t('运行策略目录中 tests.yaml 的用例', "Run the cases in the policy directory's tests.yaml"),
  params: { file: option(z.string().optional(), t('用例文件（默认 tests.yaml）', 'case file (default tests.yaml)')) },
  action: 'policy.test',
  mutates: false,
  async run(ctx, a) {
    // The test runner parses YAML: loaded only when tests run, not on every start.
    const { readCases, runCases } = await import('../src/policy/test-runner.js');
    const cases = readCases(ctx.session.runtime.policyDir, a.file);
    const sessions = new Map<string, Session>();
    const results = await runCases(cases, (c) => {
      const key = `${c.as}|${c.channel ?? ''}|${c.room ?? ''}`;
      let s = sessions.get(key);
      if (!s) sessions.set(key, (s = sessionAs(ctx, c.as, c.channel ?? 'repl', c.room)));
      return s;
    });
    const failed = results.filter((r) => !r.pass);
    const roles = [...new Set(results.flatMap((r) => r.roles))].sort();
    const groups = [...new Set(results.map((r) => r.group))].sort();
    const covered = new Set(results.flatMap((r) => r.roles.map((role) => `${role}|${r.group}`)));
    const gaps = roles.flatMap((role) => groups.filter((g) => !covered.has(`${role}|${g}`)).map((g) => `${role}×${g}`));
    const rows = results.map((r) => ({
      ok: r.pass ? '✓' : '✗',
      as: r.case.as,
      command: r.case.command,
      expect: r.case.expect,
      got: r.error ? `error: ${r.error}` : `${r.got}${r.rule ? ` (${r.rule})` : ''}`,
    }));
    const data = { passed: results.length - failed.length, failed: failed.length, gaps, results: results.map((r) => ({ ...r.case, got: r.got, rule: r.rule, pass: r.pass, error: r.error })) };
    const table: View = {
      type: 'table',
      columns: [
        { key: 'ok', title: t('', '') },
        { key: 'as', title: t('身份', 'as') },
        { key: 'command', title: t('命令', 'command') },
        { key: 'expect', title: t('期望', 'expected') },
        { key: 'got', title: t('实际', 'got') },
      ],
      rows: failed.length ? rows.filter((r) => r.ok === '✗') : rows,
    };
    if (failed.length) {
      throw new WxopsError('POLICY_TESTS_FAILED', 'failed', {
        zh: `策略测试：${failed.length} 个失败，${results.length - failed.length} 个通过。\n${failed.map((f) => `✗ ${f.case.as}: ${f.case.command} — 期望 ${f.case.expect}，实际 ${f.error ?? f.got}`).join('\n')}`,
        en: `Policy tests: ${failed.length} failed, ${results.length - failed.length} passed.\n${failed.map((f) => `✗ ${f.case.as}: ${f.case.command} — expected ${f.case.expect}, got ${f.error ?? f.got}`).join('\n')}`,
      }, data);
    }
    const summary: Text = gaps.length
      ? t('{n} 个用例全部通过；以下 角色×命令组 还没有用例：{g}', 'All {n} cases pass; no case yet for role × command group: {g}', { n: results.length, g: gaps.join(', ') })
      : t('{n} 个用例全部通过，覆盖 {r} 个角色 × {c} 个命令组。', 'All {n} cases pass, covering {r} roles × {c} command groups.', { n: results.length, r: roles.length, c: groups.length });
    return { data, view: { type: 'sections', sections: [table, { type: 'message', tone: gaps.length ? 'warning' : 'success', text: summary }] } };
  },
});

export const policyExplain = defineCommand({
  name: 'policy explain',
  alias: '策略 解释',
  summary: t('解释某人执行某条命令会得到什么决定，以及每条规则为何适用或不适用', 'Explain the decision for a command, and why each rule did or did not apply'),
  examples: ['policy explain --as lina "member remove wangfang"'],
  params: {
    command: arg(z.string().min(1), t('要解释的命令（加引号）', 'the command to explain (quoted)'), { placeholder: 'command' }),
    as: option(z.string().optional(), t('以谁的身份（默认自己）', 'as whom (default: yourself)'), { placeholder: 'userid', complete: 'member' }),
    channel: option(z.enum(['repl', 'cli', 'wecom', 'wechaty', 'slack']).optional(), t('假定的渠道', 'channel to assume')),
    room: option(z.string().optional(), t('假定的群', 'chat group to assume')),
  },
  action: 'policy.explain',
  mutates: false,
  readOnly: true,
  async run(ctx, a) {
    const who = a.as ? resolveMember(await ctx.org(), a.as).userid : ctx.actor.userid;
    const { command, resource, decision, actor } = await sessionAs(ctx, who, a.channel, a.room).decideOnly(a.command);
    const dir = await ctx.directory();
    const effectText = { permit: t('允许', 'permit'), deny: t('拒绝', 'deny'), 'needs-approval': t('需要审批', 'needs approval') }[decision.effect];
    const instead = decision.effect === 'deny' ? whoCan(dir, command.action, resource, a.channel ?? ctx.channel) : [];
    const sections: View[] = [
      {
        type: 'fields',
        caption: t('{u} 执行 {c}', '{u} running {c}', { u: who, c: command.name }),
        fields: [
          { label: t('决定', 'decision'), value: `${effectText[ctx.lang]} — ${decision.reason[ctx.lang]}` },
          { label: t('动作', 'action'), value: command.action },
          { label: t('资源', 'resource'), value: JSON.stringify(resource) },
          { label: t('持有角色', 'roles held'), value: decision.roles.join(', ') || '—' },
          { label: t('管辖部门', 'manages'), value: actor.managed_departments.map((d) => dir.org.path(d)).join('、') || '—' },
          ...(decision.approval ? [{ label: t('审批流程', 'approval chain'), value: `${decision.approval.id}: ${decision.approval.steps.map((s) => `${s.role}${s.of ? ` of ${s.of}` : ''}`).join(' → ')}` }] : []),
          ...(instead.length ? [{ label: t('可以执行的人', 'who can instead'), value: instead.join(', ') }] : []),
        ],
      },
      {
        type: 'table',
        caption: t('考虑过的规则', 'Rules considered'),
        columns: [
          { key: 'rule', title: t('规则', 'rule') },
          { key: 'effect', title: t('效果', 'effect') },
          { key: 'applied', title: t('适用', 'applies') },
          { key: 'why', title: t('原因', 'why') },
        ],
        rows: (decision.trace ?? []).map((tr) => ({ rule: `${tr.rule.id} (${tr.rule.source.file}:${tr.rule.source.line})`, effect: tr.rule.effect, applied: tr.applied ? '✓' : '✗', why: tr.why[ctx.lang] })),
      },
    ];
    return {
      data: { as: who, command: command.name, action: command.action, resource, decision: decision.effect, rule: decision.rule, roles: decision.roles, who_can: instead, rules: (decision.trace ?? []).map((tr) => ({ id: tr.rule.id, effect: tr.rule.effect, applied: tr.applied, why: tr.why.en })) },
      view: { type: 'sections', sections },
    };
  },
});

export const policyWhoCan = defineCommand({
  name: 'policy who-can',
  alias: '策略 谁能',
  summary: t('列出可以执行某个动作的成员', 'List the members who may perform an action'),
  examples: ['policy who-can member.add --resource departments=销售部/华东区'],
  params: {
    action: arg(z.string().min(1), t('动作，如 member.add', 'action, e.g. member.add'), { placeholder: 'action' }),
    resource: option(z.array(z.string().regex(/^[a-z_]+=.+$/, { message: '写成 键=值，如 departments=3 / write key=value, e.g. departments=3' })).optional(), t('资源属性 键=值（可重复；departments 可写路径）', 'resource attribute key=value (repeatable; departments may be paths)'), { many: true, placeholder: 'key=value' }),
  },
  action: 'policy.who-can',
  mutates: false,
  readOnly: true,
  async run(ctx, a) {
    if (!ctx.registry.actions().includes(a.action)) {
      const close = ctx.registry.actions().filter((x) => x.startsWith(a.action.split('.')[0]!));
      throw new InputError('UNKNOWN_ACTION', t('没有动作 {a}。{h}', 'There is no action {a}. {h}', { a: a.action, h: close.length ? `${close.join(', ')}` : '' }));
    }
    const dir = await ctx.directory();
    const resource: Record<string, unknown> = {};
    for (const pair of a.resource ?? []) {
      const [key, raw] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
      const values = raw.split(',').map((v) => v.trim());
      resource[key] = key === 'departments' ? values.map((v) => dir.org.resolve(v).id) : values.length > 1 ? values : /^\d+$/.test(values[0]!) ? Number(values[0]) : values[0];
    }
    const users = [...new Set(dir.org.all.flatMap((d) => dir.org.directMemberIds(d.id)))];
    const rows = users.flatMap((u) => {
      const d = dir.policy.decide({ actor: dir.actor(u), action: a.action, resource, context: { channel: ctx.channel } });
      return d.effect === 'deny' ? [] : [{ userid: u, decision: d.effect, rule: d.rule ?? '', roles: d.roles.join(', ') }];
    });
    return {
      data: { action: a.action, resource, members: rows },
      view: { type: 'table', caption: t('可以执行 {a} 的成员', 'Members who may {a}', { a: a.action }), columns: [{ key: 'userid', title: t('成员', 'member') }, { key: 'decision', title: t('决定', 'decision') }, { key: 'rule', title: t('规则', 'rule') }, { key: 'roles', title: t('角色', 'roles') }], rows },
    };
  },
});

export const policyUnused = defineCommand({
  name: 'policy unused',
  alias: '策略 未用',
  summary: t('审计日志显示近 N 天从未用过的授权（最小权限收紧报告）', 'Grants the audit log shows were never used in N days (the least-privilege tightening report)'),
  params: { days: option(z.coerce.number().int().min(1).max(3650).optional(), t('天数（默认 30）', 'days (default 30)'), { placeholder: 'n' }) },
  action: 'policy.unused',
  mutates: false,
  async run(ctx, a) {
    const days = a.days ?? 30;
    const dir = await ctx.directory();
    const since = new Date(ctx.now().getTime() - days * 86_400_000);
    const used = new Map<string, Set<string>>();
    for (const e of await (await ctx.session.runtime.audit()).query({ since, limit: Number.MAX_SAFE_INTEGER })) {
      if (e.kind !== 'decision' || !e.rule || e.outcome === 'deny') continue;
      const set = used.get(e.rule) ?? new Set<string>();
      set.add(e.action ?? '');
      used.set(e.rule, set);
    }
    const rows = dir.policy.set.rules
      .filter((r) => r.effect === 'permit')
      .flatMap((r) => {
        const granted = ctx.registry.actions().filter((act) => r.actions.some((p) => matchesAction(p, act)));
        const unusedActions = granted.filter((act) => !used.get(r.id)?.has(act));
        return unusedActions.length ? [{ rule: r.id, roles: r.roles.join(', '), unused: unusedActions.join(', '), used: used.get(r.id)?.size ?? 0 }] : [];
      });
    return {
      data: { days, unused: rows },
      view: {
        type: 'table',
        caption: t('近 {d} 天未用过的授权', 'Grants unused in the last {d} days', { d: days }),
        columns: [{ key: 'rule', title: t('规则', 'rule') }, { key: 'roles', title: t('角色', 'roles') }, { key: 'unused', title: t('未用过的动作', 'actions never used') }, { key: 'used', title: t('用过的动作数', 'actions used'), align: 'right' }],
        rows,
      },
    };
  },
});

export const policyCommands: CommandSpec<any>[] = [policyShow, policyLint, policyTest, policyExplain, policyWhoCan, policyUnused];
