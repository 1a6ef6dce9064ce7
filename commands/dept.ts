import { z } from 'zod';
import { arg, defineCommand, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { executePlan } from '../src/core/execute-plan.js';
import { t } from '../src/core/i18n.js';
import { ROOT_DEPARTMENT, type DepartmentInfo, type OrgTree } from '../src/core/org.js';
import { message, type TreeNode } from '../src/core/result.js';

/** Department rules of wecom.md §2.1: 1–32 characters, none of \ : * ? " < > |. */
export const departmentName = z
  .string()
  .refine((s) => [...s.trim()].length >= 1 && [...s.trim()].length <= 32, {
    message: '部门名称为 1–32 个字符 / a department name is 1–32 characters',
  })
  .refine((s) => !/[\\:*?"<>|]/.test(s), {
    message: '部门名称不能包含 \\ : * ? " < > | / a department name cannot contain \\ : * ? " < > |',
  })
  .transform((s) => s.trim());

const deptRef = z.string().min(1);
const deptRefDesc = t('部门：id、名称或路径（如 销售部/华东区）', 'department: id, name or path (e.g. 销售部/华东区)');

function siblingClash(org: OrgTree, parentId: number, name: string, except?: number): DepartmentInfo | undefined {
  return org.children(parentId).find((d) => d.name === name && d.id !== except);
}

function clashError(org: OrgTree, parentId: number, name: string): InputError {
  return new InputError(
    'DEPARTMENT_EXISTS',
    t('{parent} 下已经有名为 “{name}” 的部门。', '{parent} already has a department called “{name}”.', { parent: org.path(parentId), name }),
  );
}

export const deptList = defineCommand({
  name: 'dept list',
  alias: '部门 列表',
  summary: t('以树形列出部门和人数', 'List departments as a tree with member counts'),
  params: {},
  action: 'dept.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const org = await ctx.org();
    const node = (d: DepartmentInfo): TreeNode => ({
      label: `${d.name}`,
      note: ctx.lang === 'zh' ? `(id ${d.id}，${org.totalMemberCount(d.id)} 人)` : `(id ${d.id}, ${org.totalMemberCount(d.id)} members)`,
      children: org.children(d.id).map(node),
    });
    const root = org.root;
    const departments = org.all.map((d) => ({
      id: d.id,
      name: d.name,
      parentid: d.parentid,
      order: d.order,
      department_leader: d.department_leader ?? [],
      path: org.path(d.id),
      member_count: org.directMemberIds(d.id).length,
      total_member_count: org.totalMemberCount(d.id),
    }));
    return { data: { department: departments }, view: { type: 'tree', roots: root ? [node(root)] : [] } };
  },
});

export const deptAdd = defineCommand({
  name: 'dept add',
  alias: '部门 添加',
  summary: t('新建部门', 'Create a department'),
  examples: ['dept add 华北区 --parent 销售部'],
  params: {
    name: arg(departmentName, t('新部门名称', 'name of the new department'), { placeholder: 'name' }),
    parent: option(deptRef.optional(), t('上级部门（默认为公司根部门）', 'parent department (default: the company root)'), { placeholder: 'dept', complete: 'dept' }),
  },
  action: 'dept.add',
  attributes: ['departments', 'parent'],
  mutates: true,
  async resolve(ctx, a) {
    const org = await ctx.org();
    const parent = a.parent ? org.resolve(a.parent) : org.root!;
    return { departments: [parent.id], parent: parent.id };
  },
  async plan(ctx, a, r) {
    const org = await ctx.org();
    const parentid = r.parent as number;
    if (siblingClash(org, parentid, a.name)) throw clashError(org, parentid, a.name);
    return {
      summary: t('在 {p} 下新建部门 “{n}”', 'Create the department “{n}” under {p}', { p: org.path(parentid), n: a.name }),
      steps: [
        {
          api: 'department/create',
          method: 'POST',
          secret: 'contacts',
          body: { name: a.name, parentid },
          describe: t('创建部门 {p}/{n}', 'create department {p}/{n}', { p: org.path(parentid), n: a.name }),
        },
      ],
    };
  },
  async run(ctx, a, plan, r) {
    const [out] = await executePlan(ctx, plan!);
    const org = await ctx.org();
    const id = out!.response.id as number;
    return message(
      t('已创建部门 {p}/{n}（id {id}）。', 'Created the department {p}/{n} (id {id}).', { p: org.path(r.parent as number), n: a.name, id }),
      { id, name: a.name, parentid: r.parent },
    );
  },
});

export const deptRename = defineCommand({
  name: 'dept rename',
  alias: '部门 重命名',
  summary: t('重命名部门', 'Rename a department'),
  examples: ['dept rename 销售部/华东区 华东大区'],
  params: {
    dept: arg(deptRef, deptRefDesc, { placeholder: 'dept', complete: 'dept' }),
    name: arg(departmentName, t('新名称', 'new name'), { placeholder: 'new-name' }),
  },
  action: 'dept.rename',
  attributes: ['departments', 'id'],
  mutates: true,
  async resolve(ctx, a) {
    const d = (await ctx.org()).resolve(a.dept);
    return { departments: [d.id], id: d.id };
  },
  async plan(ctx, a, r) {
    const org = await ctx.org();
    const d = org.get(r.id as number)!;
    if (d.name === a.name) throw new InputError('NO_CHANGE', t('部门已经叫 “{n}”。', 'The department is already called “{n}”.', { n: a.name }));
    if (siblingClash(org, d.parentid, a.name, d.id)) throw clashError(org, d.parentid, a.name);
    return {
      summary: t('把 {p} 重命名为 “{n}”', 'Rename {p} to “{n}”', { p: org.path(d.id), n: a.name }),
      steps: [
        {
          api: 'department/update',
          method: 'POST',
          secret: 'contacts',
          body: { id: d.id, name: a.name },
          describe: t('部门 {id} 改名为 {n}', 'rename department {id} to {n}', { id: d.id, n: a.name }),
        },
      ],
    };
  },
  async run(ctx, a, plan, r) {
    await executePlan(ctx, plan!);
    return message(t('已把部门 {id} 重命名为 “{n}”。', 'Renamed department {id} to “{n}”.', { id: r.id, n: a.name }), { id: r.id, name: a.name });
  },
});

export const deptMove = defineCommand({
  name: 'dept move',
  alias: '部门 移动',
  summary: t('把部门移到另一个上级部门下', 'Move a department under another parent'),
  examples: ['dept move 华南区 --to 市场部'],
  params: {
    dept: arg(deptRef, deptRefDesc, { placeholder: 'dept', complete: 'dept' }),
    to: option(deptRef, t('新的上级部门', 'new parent department'), { required: true, placeholder: 'dept', complete: 'dept' }),
  },
  action: 'dept.move',
  attributes: ['departments', 'id', 'to'],
  mutates: true,
  async resolve(ctx, a) {
    const org = await ctx.org();
    const d = org.resolve(a.dept);
    const to = org.resolve(a.to);
    return { departments: [d.id, to.id], id: d.id, to: to.id };
  },
  async plan(ctx, _a, r) {
    const org = await ctx.org();
    const d = org.get(r.id as number)!;
    const to = org.get(r.to as number)!;
    if (d.id === ROOT_DEPARTMENT) throw new InputError('ROOT_DEPARTMENT', t('根部门不能移动。', 'The root department cannot be moved.'));
    if (org.isWithin(to.id, d.id)) {
      throw new InputError(
        'DEPARTMENT_CYCLE',
        t('不能把 {d} 移到它自己或它的下级部门 {to} 下。', 'Cannot move {d} under itself or its own sub-department {to}.', { d: org.path(d.id), to: org.path(to.id) }),
      );
    }
    if (d.parentid === to.id) throw new InputError('NO_CHANGE', t('{d} 已经在 {to} 下。', '{d} is already under {to}.', { d: org.path(d.id), to: org.path(to.id) }));
    if (siblingClash(org, to.id, d.name)) throw clashError(org, to.id, d.name);
    return {
      summary: t('把 {d} 移到 {to} 下', 'Move {d} under {to}', { d: org.path(d.id), to: org.path(to.id) }),
      steps: [
        {
          api: 'department/update',
          method: 'POST',
          secret: 'contacts',
          body: { id: d.id, parentid: to.id },
          describe: t('部门 {id} 的上级改为 {to}', 'set the parent of department {id} to {to}', { id: d.id, to: to.id }),
        },
      ],
    };
  },
  async run(ctx, _a, plan, r) {
    await executePlan(ctx, plan!);
    return message(t('已把部门 {id} 移到部门 {to} 下。', 'Moved department {id} under department {to}.', { id: r.id, to: r.to }), { id: r.id, parentid: r.to });
  },
});

export const deptRemove = defineCommand({
  name: 'dept remove',
  alias: '部门 删除',
  summary: t('删除空部门（没有成员和子部门）', 'Remove an empty department (no members, no sub-departments)'),
  params: {
    dept: arg(deptRef, deptRefDesc, { placeholder: 'dept', complete: 'dept' }),
  },
  action: 'dept.remove',
  attributes: ['departments', 'id'],
  mutates: true,
  async resolve(ctx, a) {
    const d = (await ctx.org()).resolve(a.dept);
    return { departments: [d.id], id: d.id };
  },
  async plan(ctx, _a, r) {
    const org = await ctx.org();
    const d = org.get(r.id as number)!;
    if (d.id === ROOT_DEPARTMENT) throw new InputError('ROOT_DEPARTMENT', t('根部门不能删除。', 'The root department cannot be removed.'));
    refuseIfNotEmpty(org, d);
    return {
      summary: t('删除部门 {p}（id {id}）', 'Remove the department {p} (id {id})', { p: org.path(d.id), id: d.id }),
      steps: [
        {
          api: 'department/delete',
          method: 'GET',
          secret: 'contacts',
          query: { id: d.id },
          describe: t('删除部门 {id}', 'delete department {id}', { id: d.id }),
        },
      ],
    };
  },
  async run(ctx, _a, plan, r) {
    await executePlan(ctx, plan!);
    return message(t('已删除部门 {id}。', 'Removed department {id}.', { id: r.id }), { id: r.id });
  },
});

function refuseIfNotEmpty(org: OrgTree, d: DepartmentInfo): void {
  const children = org.children(d.id);
  const members = org.directMemberIds(d.id);
  if (!children.length && !members.length) return;
  const list = (items: string[]) => items.slice(0, 5).join('、') + (items.length > 5 ? ` …（共 ${items.length} 个）` : '');
  const listEn = (items: string[]) => items.slice(0, 5).join(', ') + (items.length > 5 ? ` … (${items.length} in all)` : '');
  const parts = { zh: [] as string[], en: [] as string[] };
  if (children.length) {
    parts.zh.push(`还有子部门 ${list(children.map((c) => c.name))}`);
    parts.en.push(`it still has sub-departments ${listEn(children.map((c) => c.name))}`);
  }
  if (members.length) {
    parts.zh.push(`还有成员 ${list(members)}`);
    parts.en.push(`it still has members ${listEn(members)}`);
  }
  throw new InputError(
    'DEPARTMENT_NOT_EMPTY',
    {
      zh: `不能删除 ${org.path(d.id)}：${parts.zh.join('，')}。请先移走或删除它们。`,
      en: `Cannot remove ${org.path(d.id)}: ${parts.en.join('; ')}. Move or remove them first.`,
    },
    { children: children.map((c) => c.id), members },
  );
}

export const deptCommands: CommandSpec<any>[] = [deptList, deptAdd, deptRename, deptMove, deptRemove];
export type { CommandContext };
