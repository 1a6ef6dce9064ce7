import { z } from 'zod';
import { arg, defineCommand, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { InputError } from '../src/core/errors.js';
import { t, type Text } from '../src/core/i18n.js';
import type { OrgTree } from '../src/core/org.js';
import { message } from '../src/core/result.js';
import { addRule, ASSIGN_RULES, loadRules, type AssignRule } from '../src/customers/assign.js';
import { resolveCorpTags } from './customer/resolve.js';
import { resolveMember } from './member/resolve.js';

/**
 * Assignment rules (分配规则): a customer who arrives through a shared contact way is transferred by
 * `wxops serve` to the member the first matching rule chooses.
 */
function describeRule(r: AssignRule, org: OrgTree): Text {
  const when = r.when.state !== undefined ? t('state = {s}', 'state = {s}', { s: r.when.state }) : r.when.tag !== undefined ? t('客户带标签 {s}', 'the customer carries tag {s}', { s: r.when.tag }) : t('接待成员在 {s}', 'the receiving member is in {s}', { s: org.path(r.when.dept!) });
  const to = r.to.userid ? t('交给 {u}', 'give to {u}', { u: r.to.userid }) : t('在 {d} 的成员中轮流分配', 'rotate among the members of {d}', { d: org.path(r.to.dept!) });
  return t('{w} → {t}', '{w} → {t}', { w: when, t: to });
}

export const assignRuleAdd = defineCommand({
  name: 'assign rule add',
  alias: '分配规则 添加',
  summary: t('添加客户分配规则（按渠道 state、地区标签或部门）', 'Add a customer assignment rule (by channel state, region tag or department)'),
  examples: ['assign rule add --state 展会2026 --to zhouqiang', 'assign rule add --tag 华南 --to-dept 销售部/华南区', 'assign rule add --dept 市场部 --to-dept 销售部/华东区'],
  params: {
    state: option(z.string().min(1).max(30).optional(), t('联系我方式的 state', 'the contact way’s state'), { placeholder: 'state' }),
    tag: option(z.string().optional(), t('客户已带的标签（如地区）', 'a tag the customer carries (a region, say)'), { placeholder: 'tag' }),
    dept: option(z.string().optional(), t('接待成员所在部门', 'the receiving member’s department'), { placeholder: 'dept', complete: 'dept' }),
    to: option(z.string().optional(), t('交给这位成员', 'give to this member'), { placeholder: 'userid', complete: 'member' }),
    toDept: option(z.string().optional(), t('在这个部门的成员中轮流分配', 'rotate among this department’s members'), { placeholder: 'dept', complete: 'dept' }),
  },
  action: 'assign.rule',
  mutates: true,
  async plan(ctx, a) {
    const rule = await build(ctx, a);
    return { summary: t('添加分配规则：{r}', 'Add the assignment rule: {r}', { r: describeRule(rule, await ctx.org()) }), steps: [] };
  },
  async run(ctx, a) {
    // The next free id: another instance may add a rule at the same moment.
    const rule = await addRule(await ctx.store(), await build(ctx, a));
    return message(t('已添加分配规则 {id}：{r}', 'Added assignment rule {id}: {r}', { id: rule.id, r: describeRule(rule, await ctx.org()) }), rule);
  },
});

async function build(ctx: CommandContext, a: { state?: string; tag?: string; dept?: string; to?: string; toDept?: string }): Promise<AssignRule> {
  if ([a.state, a.tag, a.dept].filter((x) => x !== undefined).length !== 1) throw new InputError('ASSIGN_WHEN', t('请给出 --state、--tag 或 --dept 其中之一。', 'Give exactly one of --state, --tag or --dept.'));
  if ((a.to === undefined) === (a.toDept === undefined)) throw new InputError('ASSIGN_TO', t('请给出 --to 或 --to-dept 其中之一。', 'Give exactly one of --to or --to-dept.'));
  const org = await ctx.org();
  const api = await ctx.customers();
  const follow = new Set((await api.followUsers()).map((u) => u.toLowerCase()));
  const when: AssignRule['when'] = {};
  if (a.state !== undefined) when.state = a.state;
  if (a.tag !== undefined) when.tag = resolveCorpTags(await api.corpTags(), [a.tag])[0]!.id;
  if (a.dept !== undefined) when.dept = org.resolve(a.dept).id;
  const to: AssignRule['to'] = {};
  if (a.to) {
    const m = resolveMember(org, a.to);
    if (!follow.has(m.userid.toLowerCase())) throw new InputError('NOT_FOLLOW_USER', t('{u} 没有开通客户联系，不能接收客户。', '{u} is not enabled for customer contact and cannot receive customers.', { u: m.userid }));
    to.userid = m.userid;
  } else {
    const d = org.resolve(a.toDept!);
    const members = org.subtree(d.id).flatMap((id) => org.directMemberIds(id)).filter((u) => follow.has(u.toLowerCase()));
    if (!members.length) throw new InputError('NOT_FOLLOW_USER', t('{d} 里没有开通客户联系的成员。', 'Nobody in {d} is enabled for customer contact.', { d: org.path(d.id) }));
    to.dept = d.id;
  }
  const existing = await loadRules(await ctx.store());
  const same = existing.find((r) => JSON.stringify(r.when) === JSON.stringify(when));
  if (same) throw new InputError('ASSIGN_RULE_EXISTS', t('规则 {id} 已经有同样的条件：{r}', 'Rule {id} already has this condition: {r}', { id: same.id, r: describeRule(same, org) }));
  return { id: (existing.at(-1)?.id ?? 0) + 1, when, to, created_by: ctx.actor.userid, created_at: ctx.now().toISOString() };
}

export const assignRuleList = defineCommand({
  name: 'assign rule list',
  alias: '分配规则 列表',
  summary: t('列出客户分配规则（按顺序，第一条匹配的生效）', 'List the assignment rules (in order; the first match applies)'),
  params: {},
  action: 'assign.list',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const org = await ctx.org();
    const rules = await loadRules(await ctx.store());
    return {
      data: { rules },
      view: {
        type: 'table',
        columns: [
          { key: 'id', title: t('编号', 'id'), align: 'right' },
          { key: 'rule', title: t('规则', 'rule') },
          { key: 'by', title: t('添加人', 'added by') },
        ],
        rows: rules.map((r) => ({ id: r.id, rule: describeRule(r, org)[ctx.lang], by: r.created_by })),
        footer: rules.length ? undefined : t('还没有分配规则：新客户留在接待的成员名下。', 'No rules yet: new customers stay with the member who received them.'),
      },
    };
  },
});

export const assignRuleRemove = defineCommand({
  name: 'assign rule remove',
  alias: '分配规则 删除',
  summary: t('删除一条分配规则', 'Remove an assignment rule'),
  params: { id: arg(z.coerce.number().int().positive(), t('规则编号', 'rule id'), { placeholder: 'id' }) },
  action: 'assign.rule',
  mutates: true,
  async plan(ctx, a) {
    const rule = (await loadRules(await ctx.store())).find((r) => r.id === a.id);
    if (!rule) throw new InputError('UNKNOWN_ASSIGN_RULE', t('没有编号为 {id} 的分配规则。', 'There is no assignment rule {id}.', { id: a.id }));
    return { summary: t('删除分配规则 {id}：{r}', 'Remove assignment rule {id}: {r}', { id: a.id, r: describeRule(rule, await ctx.org()) }), steps: [] };
  },
  async run(ctx, a) {
    await (await ctx.store()).delete(ASSIGN_RULES, String(a.id));
    return message(t('已删除分配规则 {id}。', 'Removed assignment rule {id}.', { id: a.id }), { id: a.id });
  },
});

export const assignCommands: CommandSpec<any>[] = [assignRuleAdd, assignRuleList, assignRuleRemove];
