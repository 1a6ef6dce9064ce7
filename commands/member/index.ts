import { z } from 'zod';
import { arg, defineCommand, flag, option, type CommandSpec } from '../../src/core/command.js';
import { InputError } from '../../src/core/errors.js';
import { executePlan } from '../../src/core/execute-plan.js';
import { t, type Text } from '../../src/core/i18n.js';
import { ROOT_DEPARTMENT, type OrgTree } from '../../src/core/org.js';
import type { PlanStep } from '../../src/core/plan.js';
import { message } from '../../src/core/result.js';
import * as F from './fields.js';
import { memberExists, resolveMember } from './resolve.js';
import { memberImport, memberTemplate } from './import.js';
import { memberExport } from './export.js';

const STATUS: Record<number, Text> = {
  1: t('已激活', 'active'),
  2: t('已禁用', 'disabled'),
  4: t('未激活', 'not activated'),
  5: t('已退出', 'left'),
};

const useridArg = arg(F.userid, t('成员帐号（userid）', 'member userid'), { placeholder: 'userid', complete: 'member' });
const deptsRequired = option(z.array(z.string().min(1)).min(1), t('部门（id、名称或路径；可重复给出）', 'department (id, name or path; may be repeated)'), {
  many: true,
  required: true,
  placeholder: 'dept',
  complete: 'dept',
});

const profileParams = {
  mobile: option(F.mobile.optional(), t('手机号', 'mobile number')),
  email: option(F.email.optional(), t('邮箱', 'email')),
  position: option(F.position.optional(), t('职务', 'position')),
  gender: option(F.gender.optional(), t('性别：男 或 女', 'gender: 男 (male) or 女 (female)')),
  alias: option(F.alias.optional(), t('别名', 'alias')),
  telephone: option(F.telephone.optional(), t('座机', 'telephone')),
  address: option(F.address.optional(), t('地址', 'address')),
};

function resolveDepartments(org: OrgTree, refs: string[]): number[] {
  const ids = refs.map((r) => org.resolve(r).id);
  return [...new Set(ids)];
}

function deptPaths(org: OrgTree, ids: number[]): string {
  return ids.map((id) => org.path(id)).join('、');
}

export const memberList = defineCommand({
  name: 'member list',
  alias: '成员 列表',
  summary: t('列出部门成员', 'List the members of a department'),
  examples: ['member list --dept 销售部 --recursive'],
  params: {
    dept: option(z.string().min(1).optional(), t('部门（默认整个公司）', 'department (default: the whole company)'), { placeholder: 'dept', complete: 'dept' }),
    recursive: flag(z.boolean(), t('包括下级部门的成员', 'include members of sub-departments'), { short: 'r' }),
  },
  action: 'member.list',
  attributes: ['departments', 'id'],
  mutates: false,
  readOnly: true,
  async resolve(ctx, a) {
    const org = await ctx.org();
    const dept = a.dept ? org.resolve(a.dept) : org.root!;
    return { departments: [dept.id], id: dept.id };
  },
  async run(ctx, a, _plan, r) {
    const org = await ctx.org();
    const contacts = await ctx.contacts();
    const id = r.id as number;
    const recursive = a.recursive || !a.dept;
    const users = await contacts.listUsers(id, { fetchChild: recursive });
    const rows = users.map((u) => ({
      userid: u.userid,
      name: u.name,
      department: deptPaths(org, u.department ?? []),
      position: u.position ?? '',
      mobile: u.mobile ?? '',
      status: STATUS[u.status ?? 0]?.[ctx.lang] ?? String(u.status ?? ''),
    }));
    return {
      data: { userlist: users },
      view: {
        type: 'table',
        caption: t('{p} 的成员{r}', 'Members of {p}{r}', { p: org.path(id), r: recursive ? (ctx.lang === 'zh' ? '（含下级部门）' : ' (with sub-departments)') : '' }),
        columns: [
          { key: 'userid', title: t('帐号', 'userid') },
          { key: 'name', title: t('姓名', 'name') },
          { key: 'department', title: t('部门', 'department') },
          { key: 'position', title: t('职务', 'position') },
          { key: 'mobile', title: t('手机', 'mobile') },
          { key: 'status', title: t('状态', 'status') },
        ],
        rows,
        footer: t('共 {n} 人', '{n} members', { n: users.length }),
      },
    };
  },
});

export const memberGet = defineCommand({
  name: 'member get',
  alias: '成员 查看',
  summary: t('查看成员详情', 'Show a member'),
  params: { userid: useridArg },
  action: 'member.get',
  attributes: ['userid', 'departments'],
  mutates: false,
  readOnly: true,
  async resolve(ctx, a) {
    return resolveMember(await ctx.org(), a.userid);
  },
  async run(ctx, _a, _plan, r) {
    const org = await ctx.org();
    const user = await (await ctx.contacts()).getUser(r.userid as string);
    const leaderOf = (user.department ?? []).filter((_d: number, i: number) => user.is_leader_in_dept?.[i] === 1);
    const genderText = user.gender === '1' ? t('男', 'male') : user.gender === '2' ? t('女', 'female') : undefined;
    const fields: { label: Text; value: string }[] = [
      { label: t('帐号', 'userid'), value: user.userid },
      { label: t('姓名', 'name'), value: user.name },
      { label: t('部门', 'department'), value: deptPaths(org, user.department ?? []) },
      { label: t('负责部门', 'leader of'), value: deptPaths(org, leaderOf) },
      { label: t('职务', 'position'), value: user.position ?? '' },
      { label: t('手机', 'mobile'), value: user.mobile ?? '' },
      { label: t('邮箱', 'email'), value: user.email ?? '' },
      { label: t('性别', 'gender'), value: genderText?.[ctx.lang] ?? '' },
      { label: t('别名', 'alias'), value: user.alias ?? '' },
      { label: t('状态', 'status'), value: STATUS[user.status ?? 0]?.[ctx.lang] ?? '' },
    ];
    return { data: user, view: { type: 'fields', fields: fields.filter((f) => f.value !== '') } };
  },
});

export const memberAdd = defineCommand({
  name: 'member add',
  alias: '成员 添加',
  summary: t('添加成员', 'Add a member'),
  examples: ['member add zhaoliu --name 赵六 --dept 销售部/华东区 --mobile 13800000001'],
  params: {
    userid: useridArg,
    name: option(F.memberName, t('姓名', 'name'), { required: true }),
    dept: deptsRequired,
    ...profileParams,
    leader: flag(z.boolean(), t('设为所在部门的负责人', 'make them leader of these departments')),
  },
  action: 'member.add',
  attributes: ['userid', 'departments'],
  mutates: true,
  async resolve(ctx, a) {
    const org = await ctx.org();
    return { userid: a.userid, departments: resolveDepartments(org, a.dept) };
  },
  async plan(ctx, a, r) {
    const org = await ctx.org();
    if (memberExists(org, a.userid)) {
      throw new InputError('MEMBER_EXISTS', t('帐号 {u} 已被使用（帐号不区分大小写）。', 'The userid {u} is already taken (userids are case-insensitive).', { u: a.userid }));
    }
    if (!a.mobile && !a.email) {
      throw new InputError('MOBILE_OR_EMAIL', t('手机号和邮箱至少要填一个。', 'Give at least one of --mobile and --email.'));
    }
    const departments = r.departments as number[];
    const body = {
      userid: a.userid,
      name: a.name,
      department: departments,
      mobile: a.mobile,
      email: a.email,
      position: a.position,
      gender: a.gender,
      alias: a.alias,
      telephone: a.telephone,
      address: a.address,
      ...(a.leader ? { is_leader_in_dept: departments.map(() => 1) } : {}),
    };
    return {
      summary: t('在 {d} 添加成员 {n}（{u}）', 'Add {n} ({u}) to {d}', { d: deptPaths(org, departments), n: a.name, u: a.userid }),
      steps: [{ api: 'user/create', method: 'POST', secret: 'contacts', body: compact(body), describe: t('创建成员 {u}', 'create member {u}', { u: a.userid }) }],
    };
  },
  async run(ctx, a, plan) {
    await executePlan(ctx, plan!);
    const user = (plan!.steps[0]!.body ?? {}) as Record<string, unknown>;
    return message(t('已添加成员 {n}（{u}）。', 'Added {n} ({u}).', { n: a.name, u: a.userid }), user);
  },
});

export const memberUpdate = defineCommand({
  name: 'member update',
  alias: '成员 修改',
  summary: t('修改成员资料', "Change a member's profile"),
  examples: ['member update wangfang --position 销售经理'],
  params: {
    userid: useridArg,
    name: option(F.memberName.optional(), t('姓名', 'name')),
    ...profileParams,
  },
  action: 'member.update',
  attributes: ['userid', 'departments'],
  mutates: true,
  async resolve(ctx, a) {
    return resolveMember(await ctx.org(), a.userid);
  },
  async plan(ctx, a, r) {
    const { userid: _u, ...changes } = a;
    const body = compact(changes as Record<string, unknown>);
    if (Object.keys(body).length === 0) {
      throw new InputError('NOTHING_TO_CHANGE', t('请至少给出一项要修改的资料，如 --name 或 --mobile。', 'Give at least one field to change, such as --name or --mobile.'));
    }
    const current = await (await ctx.contacts()).getUser(r.userid as string);
    const changed = Object.fromEntries(Object.entries(body).filter(([k, v]) => (current as unknown as Record<string, unknown>)[k] !== v));
    const fields = Object.keys(changed).join(', ');
    return {
      summary: t('修改 {u} 的 {f}', 'Change {f} of {u}', { u: r.userid, f: fields || '—' }),
      notes: Object.entries(changed).map(([k, v]) =>
        t('{k}：{old} → {new}', '{k}: {old} → {new}', { k, old: String((current as unknown as Record<string, unknown>)[k] ?? '') || '∅', new: String(v) }),
      ),
      steps: Object.keys(changed).length
        ? [{ api: 'user/update', method: 'POST', secret: 'contacts', body: { userid: r.userid, ...changed }, describe: t('更新成员 {u}', 'update member {u}', { u: r.userid }) }]
        : [],
    };
  },
  async run(ctx, _a, plan, r) {
    if (!plan!.steps.length) return message(t('{u} 的资料没有变化。', 'Nothing changed for {u}.', { u: r.userid }), { userid: r.userid }, 'info');
    await executePlan(ctx, plan!);
    return message(t('已更新 {u}。', 'Updated {u}.', { u: r.userid }), plan!.steps[0]!.body);
  },
});

export const memberMove = defineCommand({
  name: 'member move',
  alias: '成员 调动',
  summary: t('把成员调到其他部门', 'Move a member to other departments'),
  examples: ['member move wangfang --dept 华南区'],
  params: { userid: useridArg, dept: deptsRequired },
  action: 'member.move',
  attributes: ['userid', 'departments', 'from', 'to'],
  mutates: true,
  async resolve(ctx, a) {
    const org = await ctx.org();
    const m = resolveMember(org, a.userid);
    const target = resolveDepartments(org, a.dept);
    return { userid: m.userid, departments: [...new Set([...m.departments, ...target])], from: m.departments, to: target };
  },
  async plan(ctx, _a, r) {
    const org = await ctx.org();
    const from = r.from as number[];
    const to = r.to as number[];
    if (from.length === to.length && from.every((d) => to.includes(d))) {
      throw new InputError('NO_CHANGE', t('{u} 已经在 {d}。', '{u} is already in {d}.', { u: r.userid, d: deptPaths(org, to) }));
    }
    return {
      summary: t('把 {u} 从 {from} 调到 {to}', 'Move {u} from {from} to {to}', { u: r.userid, from: deptPaths(org, from), to: deptPaths(org, to) }),
      steps: [
        { api: 'user/update', method: 'POST', secret: 'contacts', body: { userid: r.userid, department: to }, describe: t('更新 {u} 的部门', 'update the departments of {u}', { u: r.userid }) },
      ],
    };
  },
  async run(ctx, _a, plan, r) {
    await executePlan(ctx, plan!);
    const org = await ctx.org();
    return message(t('已把 {u} 调到 {d}。', 'Moved {u} to {d}.', { u: r.userid, d: deptPaths(org, r.to as number[]) }), { userid: r.userid, department: r.to });
  },
});

function enableCommand(enable: boolean) {
  return defineCommand({
    name: enable ? 'member enable' : 'member disable',
    alias: enable ? '成员 启用' : '成员 禁用',
    summary: enable ? t('启用成员帐号', "Enable a member's account") : t('禁用成员帐号（保留资料）', "Disable a member's account (keeps the profile)"),
    params: { userid: useridArg },
    action: enable ? 'member.enable' : 'member.disable',
    attributes: ['userid', 'departments'],
    mutates: true,
    async resolve(ctx, a) {
      return resolveMember(await ctx.org(), a.userid);
    },
    async plan(_ctx, _a, r) {
      return {
        summary: enable ? t('启用 {u}', 'Enable {u}', { u: r.userid }) : t('禁用 {u}', 'Disable {u}', { u: r.userid }),
        steps: [
          {
            api: 'user/update',
            method: 'POST',
            secret: 'contacts',
            body: { userid: r.userid, enable: enable ? 1 : 0 },
            describe: t('设置 {u} 的 enable={e}', 'set enable={e} for {u}', { u: r.userid, e: enable ? 1 : 0 }),
          },
        ],
      };
    },
    async run(ctx, _a, plan, r) {
      await executePlan(ctx, plan!);
      return message(enable ? t('已启用 {u}。', 'Enabled {u}.', { u: r.userid }) : t('已禁用 {u}。', 'Disabled {u}.', { u: r.userid }), {
        userid: r.userid,
        enable: enable ? 1 : 0,
      });
    },
  });
}

export const memberRemove = defineCommand({
  name: 'member remove',
  alias: '成员 删除',
  summary: t('删除成员', 'Remove a member'),
  params: { userid: useridArg },
  action: 'member.remove',
  attributes: ['userid', 'departments'],
  mutates: true,
  async resolve(ctx, a) {
    return resolveMember(await ctx.org(), a.userid);
  },
  async plan(ctx, _a, r) {
    const org = await ctx.org();
    return {
      summary: t('删除 {d} 的成员 {u}', 'Remove {u} from {d}', { u: r.userid, d: deptPaths(org, r.departments as number[]) }),
      steps: [{ api: 'user/delete', method: 'GET', secret: 'contacts', query: { userid: r.userid as string }, describe: t('删除成员 {u}', 'delete member {u}', { u: r.userid }) }],
    };
  },
  async run(ctx, _a, plan, r) {
    await executePlan(ctx, plan!);
    return message(t('已删除成员 {u}。', 'Removed {u}.', { u: r.userid }), { userid: r.userid });
  },
});

function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export const memberCommands: CommandSpec<any>[] = [
  memberList,
  memberGet,
  memberAdd,
  memberUpdate,
  memberMove,
  enableCommand(false),
  enableCommand(true),
  memberRemove,
  memberTemplate,
  memberImport,
  memberExport,
];

export { ROOT_DEPARTMENT };
export type { PlanStep };
