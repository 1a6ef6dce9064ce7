import { z } from 'zod';
import { flag, option } from '../../src/core/command.js';
import type { CommandContext } from '../../src/core/context.js';
import { InputError } from '../../src/core/errors.js';
import { t, type Text } from '../../src/core/i18n.js';
import type { OrgTree } from '../../src/core/org.js';
import type { CorpTagGroup, Customer } from '../../src/platform/wecom/customers.js';
import { resolveMember } from '../member/resolve.js';

/** Customers are named by external_userid (`wm…`) or by name; a name two customers share is an error listing both. */
export async function resolveCustomer(ctx: CommandContext, typed: string): Promise<Customer> {
  const api = await ctx.customers();
  if (/^w[mo][A-Za-z0-9_-]{6,}$/.test(typed)) {
    const found = await api.customer(typed);
    if (found) return found;
    throw new InputError('UNKNOWN_CUSTOMER', t('没有 external_userid 为 {c} 的客户。', 'There is no customer with external_userid {c}.', { c: typed }));
  }
  const all = await api.customersOf(await api.followUsers());
  const named = all.filter((c) => c.external_contact.name === typed.trim());
  if (named.length === 1) return named[0]!;
  if (named.length > 1) {
    const list = named.map((c) => `${c.external_contact.external_userid}（${c.follow_user.map((f) => f.userid).join('、')}）`).join('；');
    throw new InputError(
      'AMBIGUOUS_CUSTOMER',
      t('有 {n} 位客户叫“{name}”，请用 external_userid：{l}', '{n} customers are called “{name}”; use the external_userid: {l}', { n: named.length, name: typed, l: list }),
      { candidates: named.map((c) => c.external_contact.external_userid) },
    );
  }
  const close = all.filter((c) => c.external_contact.name.includes(typed) || typed.includes(c.external_contact.name)).slice(0, 3);
  const hint = close.length
    ? t('你是不是想找：{s}？', 'Did you mean: {s}?', { s: close.map((c) => `${c.external_contact.name}（${c.external_contact.external_userid}）`).join('、') })
    : t('用 customer list 查看客户。', 'Use `customer list` to see the customers.');
  throw new InputError('UNKNOWN_CUSTOMER', { zh: `找不到客户“${typed}”。${hint.zh}`, en: `There is no customer “${typed}”. ${hint.en}` });
}

/** What the policy reads about a customer: who owns them and where those owners sit. */
export function customerResource(org: OrgTree, c: Customer): Record<string, unknown> {
  const owners = c.follow_user.map((f) => f.userid);
  const departments = [...new Set(owners.flatMap((u) => ownerDepartments(org, u)))];
  return { external_userid: c.external_contact.external_userid, name: c.external_contact.name, owners, departments };
}

/** Departments of a member; one who has left has none (the customer then belongs to nobody's subtree). */
export function ownerDepartments(org: OrgTree, userid: string): number[] {
  try {
    return resolveMember(org, userid).departments;
  } catch {
    return [];
  }
}

/** Corp tags are named by id (`et…`), by name, or as `group/name` when a name is in several groups. */
export function resolveCorpTags(groups: CorpTagGroup[], typed: string[]): { id: string; name: string; group: string }[] {
  const all = groups.flatMap((g) => g.tag.map((x) => ({ id: x.id, name: x.name, group: g.group_name })));
  return typed.map((ref) => {
    const byId = all.find((x) => x.id === ref);
    if (byId) return byId;
    const [group, name] = ref.includes('/') ? (ref.split('/', 2) as [string, string]) : [undefined, ref];
    const found = all.filter((x) => x.name === name && (!group || x.group === group));
    if (found.length === 1) return found[0]!;
    if (found.length > 1) {
      throw new InputError('AMBIGUOUS_CORP_TAG', t('标签“{n}”在多个分组里：{g}。请写成 分组/标签。', 'The tag “{n}” is in several groups: {g}. Write group/tag.', { n: ref, g: found.map((x) => `${x.group}/${x.name}`).join('、') }));
    }
    throw new InputError('UNKNOWN_CORP_TAG', t('没有客户标签“{n}”。用 ctag list 查看。', 'There is no customer tag “{n}”. See `ctag list`.', { n: ref }));
  });
}

/** Which members' customers a list or export covers: one member, a department's, everyone's, or (by default) the actor's own. */
export async function scope(ctx: CommandContext, a: { owner?: string; dept?: string; all?: boolean }): Promise<{ owners: string[]; departments: number[]; label: Text }> {
  const org = await ctx.org();
  const follow = new Set((await (await ctx.customers()).followUsers()).map((u) => u.toLowerCase()));
  if (a.owner) {
    const m = resolveMember(org, a.owner);
    return { owners: [m.userid], departments: m.departments, label: t('{u} 的客户', 'customers of {u}', { u: m.userid }) };
  }
  if (a.dept) {
    const d = org.resolve(a.dept);
    const owners = [...new Set(org.subtree(d.id).flatMap((id) => org.directMemberIds(id)))].filter((u) => follow.has(u.toLowerCase()));
    return { owners, departments: [d.id], label: t('{d} 的客户', 'customers of {d}', { d: org.path(d.id) }) };
  }
  if (a.all) {
    const owners = [...new Set(org.all.flatMap((d) => org.directMemberIds(d.id)))].filter((u) => follow.has(u.toLowerCase()));
    return { owners, departments: org.root ? [org.root.id] : [], label: t('全部客户', 'all customers') };
  }
  return { owners: [ctx.actor.userid], departments: ownerDepartments(org, ctx.actor.userid), label: t('我的客户', 'my customers') };
}

export const scopeParams = {
  owner: option(z.string().optional(), t('只看这位成员的客户', 'only this member’s customers'), { placeholder: 'userid', complete: 'member' }),
  dept: option(z.string().optional(), t('只看这个部门（含下级）成员的客户', 'only customers of this department’s members (and below)'), { placeholder: 'dept', complete: 'dept' }),
  all: flag(z.boolean().default(false), t('所有成员的客户（管理员）', 'every member’s customers (admins)')),
};


/** A relation's corp tag ids, whichever shape the answer used (batch rows carry `tag_id`, get carries `tags`). */
export function tagsOf(f: Customer['follow_user'][number]): string[] {
  return [...(f.tag_id ?? []), ...(f.tags ?? []).map((x) => x.tag_id)];
}
