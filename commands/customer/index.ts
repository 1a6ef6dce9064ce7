import { z } from 'zod';
import { arg, defineCommand, flag, option, type CommandSpec } from '../../src/core/command.js';
import type { CommandContext } from '../../src/core/context.js';
import { InputError } from '../../src/core/errors.js';
import { executePlan } from '../../src/core/execute-plan.js';
import { formatTime, t, type Text } from '../../src/core/i18n.js';
import type { PlanStep } from '../../src/core/plan.js';
import { message } from '../../src/core/result.js';
import { addRecord, findRecords, MAX_NOTE_CHARS } from '../../src/customers/records.js';
import { recentTransfers, recordTransfers, TRANSFERS_PER_90_DAYS } from '../../src/customers/transfers.js';
import type { Customer } from '../../src/platform/wecom/customers.js';
import { resolveMember } from '../member/resolve.js';
import { customerResource, ownerDepartments, resolveCorpTags, resolveCustomer, scope, scopeParams, tagsOf } from './resolve.js';
import { customerExport } from './export.js';

/**
 * Customers (客户联系, wecom.md §4). Every command names the customer's owners to the policy, so the
 * shipped rules can let a member touch only the customers they follow and a department admin those of
 * their department.
 */
const customerRef = arg(z.string().min(1), t('客户：external_userid（wm…）或名称', 'customer: external_userid (wm…) or name'), { placeholder: 'customer' });
const ADD_WAY: Record<number, Text> = {
  0: t('未知', 'unknown'),
  1: t('扫描二维码', 'scanned a QR code'),
  2: t('搜索手机号', 'searched a mobile number'),
  3: t('名片分享', 'shared card'),
  4: t('群聊', 'group chat'),
  5: t('手机通讯录', 'phone contacts'),
  6: t('微信联系人', 'WeChat contact'),
  9: t('邮件名片', 'email card'),
  10: t('视频号', 'Channels'),
  201: t('内部成员共享', 'shared by a colleague'),
  202: t('管理员分配', 'assigned by an admin'),
};

export const customerList = defineCommand({
  name: 'customer list',
  alias: '客户 列表',
  summary: t('列出客户（默认是自己的；可按成员、部门、标签）', 'List customers (your own by default; by member, department or tag)'),
  examples: ['customer list', 'customer list --tag 高潜力客户', 'customer list --dept 销售部', 'customer list --all'],
  params: { ...scopeParams, tag: option(z.string().optional(), t('只看带这个客户标签的', 'only customers with this tag'), { placeholder: 'tag' }) },
  action: 'customer.list',
  attributes: ['owners', 'departments'],
  mutates: false,
  readOnly: true,
  async resolve(ctx, a) {
    const s = await scope(ctx, a);
    return { owners: s.owners, departments: s.departments };
  },
  async run(ctx, a, _plan, r) {
    const api = await ctx.customers();
    const owners = r.owners as string[];
    const groups = await api.corpTags();
    const tagFilter = a.tag ? resolveCorpTags(groups, [a.tag])[0]!.id : undefined;
    const tagName = new Map(groups.flatMap((g) => g.tag.map((x) => [x.id, x.name] as const)));
    let customers = await api.customersOf(owners);
    if (tagFilter) customers = customers.filter((c) => c.follow_user.some((f) => tagsOf(f).includes(tagFilter)));
    customers.sort((x, y) => x.external_contact.name.localeCompare(y.external_contact.name, 'zh'));
    return {
      data: { total: customers.length, customers },
      view: {
        type: 'table',
        columns: [
          { key: 'name', title: t('客户', 'customer') },
          { key: 'id', title: t('external_userid', 'external_userid') },
          { key: 'owners', title: t('跟进成员', 'owners') },
          { key: 'tags', title: t('标签', 'tags') },
          { key: 'corp', title: t('企业', 'company') },
        ],
        rows: customers.map((c) => ({
          name: c.external_contact.name,
          id: c.external_contact.external_userid,
          owners: c.follow_user.map((f) => f.userid).join('、'),
          tags: [...new Set(c.follow_user.flatMap((f) => tagsOf(f)))].map((id) => tagName.get(id) ?? id).join('、'),
          corp: c.external_contact.corp_name ?? '',
        })),
        footer: t('共 {n} 位客户', '{n} customers', { n: customers.length }),
      },
    };
  },
});


export const customerShow = defineCommand({
  name: 'customer show',
  alias: '客户 查看',
  summary: t('查看客户：跟进成员、标签、备注、添加方式', 'Show a customer: owners, tags, remarks, how they were added'),
  params: { customer: customerRef },
  action: 'customer.show',
  attributes: ['external_userid', 'name', 'owners', 'departments'],
  mutates: false,
  readOnly: true,
  async resolve(ctx, a) {
    return customerResource(await ctx.org(), await resolveCustomer(ctx, a.customer));
  },
  async run(ctx, _a, _plan, r) {
    const c = (await (await ctx.customers()).customer(r.external_userid as string))!;
    const groups = await (await ctx.customers()).corpTags();
    const tagName = new Map(groups.flatMap((g) => g.tag.map((x) => [x.id, `${g.group_name}/${x.name}`] as const)));
    const L = (x: Text) => x[ctx.lang];
    const records = await findRecords(await ctx.store(), { external_userid: c.external_contact.external_userid });
    return {
      data: { ...c, records },
      view: {
        type: 'sections',
        sections: [
          {
            type: 'fields',
            caption: t('客户 {n}', 'Customer {n}', { n: c.external_contact.name }),
            fields: [
              { label: t('external_userid', 'external_userid'), value: c.external_contact.external_userid },
              { label: t('类型', 'type'), value: L(c.external_contact.type === 2 ? t('企业微信用户', 'WeCom user') : t('微信用户', 'WeChat user')) },
              { label: t('企业', 'company'), value: c.external_contact.corp_name || '—' },
            ],
          },
          {
            type: 'table',
            caption: t('跟进成员', 'Owners'),
            columns: [
              { key: 'userid', title: t('成员', 'member') },
              { key: 'since', title: t('添加时间', 'added') },
              { key: 'way', title: t('添加方式', 'added by') },
              { key: 'state', title: t('渠道 state', 'state') },
              { key: 'remark', title: t('备注', 'remark') },
              { key: 'tags', title: t('标签', 'tags') },
            ],
            rows: c.follow_user.map((f) => ({
              userid: f.userid,
              since: f.createtime ? formatTime(new Date(f.createtime * 1000)) : '-',
              way: L(ADD_WAY[f.add_way ?? 0] ?? t('方式 {w}', 'way {w}', { w: f.add_way })),
              state: f.state ?? '',
              remark: [f.remark, f.description].filter(Boolean).join(' / '),
              tags: tagsOf(f).map((id) => tagName.get(id) ?? id).join('、'),
            })),
          },
          ...(records.length
            ? [
                {
                  type: 'table' as const,
                  caption: t('跟进记录', 'Follow-up records'),
                  columns: [
                    { key: 'at', title: t('时间', 'time') },
                    { key: 'userid', title: t('成员', 'member') },
                    { key: 'note', title: t('记录', 'note') },
                  ],
                  rows: records.slice(0, 10).map((x) => ({ at: formatTime(x.at), userid: x.userid, note: x.note })),
                },
              ]
            : []),
        ],
      },
    };
  },
});

/** The relations a change applies to: the actor's own if they follow the customer, else every owner's. */
function relationsFor(ctx: CommandContext, c: Customer, owner?: string): string[] {
  const owners = c.follow_user.map((f) => f.userid);
  if (owner) {
    const found = owners.find((u) => u.toLowerCase() === owner.toLowerCase());
    if (!found) throw new InputError('NOT_AN_OWNER', t('{u} 没有跟进客户 {c}（跟进成员：{o}）。', '{u} does not follow {c} (owners: {o}).', { u: owner, c: c.external_contact.name, o: owners.join('、') }));
    return [found];
  }
  const own = owners.find((u) => u.toLowerCase() === ctx.actor.userid.toLowerCase());
  return own ? [own] : owners;
}

function tagCommand(untag: boolean) {
  return defineCommand({
    name: untag ? 'customer untag' : 'customer tag',
    alias: untag ? '客户 去标签' : '客户 打标签',
    summary: untag ? t('去掉客户的标签', 'Remove tags from a customer') : t('给客户打标签（只能是自己跟进的客户）', 'Tag a customer (one you follow)'),
    examples: [untag ? 'customer untag 李先生 潜在客户' : 'customer tag 李先生 高潜力客户 华东'],
    params: {
      items: arg(z.array(z.string().min(1)).min(2, { message: '先写客户，再写一个或多个标签 / give the customer, then one or more tags' }), t('客户，然后是一个或多个标签（名称、id 或 分组/标签）', 'the customer, then one or more tags (name, id or group/tag)'), {
        many: true,
        placeholder: 'customer> <tag…',
      }),
      owner: option(z.string().optional(), t('改哪位跟进成员名下的标签（默认：自己的，管理员则是全部）', 'whose relation to change (default: your own; for admins every owner’s)'), { placeholder: 'userid' }),
    },
    action: untag ? 'customer.untag' : 'customer.tag',
    attributes: ['external_userid', 'name', 'owners', 'departments', 'tags'],
    mutates: true,
    async resolve(ctx, a) {
      const c = await resolveCustomer(ctx, a.items[0]!);
      const tags = resolveCorpTags(await (await ctx.customers()).corpTags(), a.items.slice(1));
      return { ...customerResource(await ctx.org(), c), tags: tags.map((x) => x.id) };
    },
    async plan(ctx, a, r) {
      const c = (await (await ctx.customers()).customer(r.external_userid as string))!;
      const tags = resolveCorpTags(await (await ctx.customers()).corpTags(), a.items.slice(1));
      const steps: PlanStep[] = [];
      for (const userid of relationsFor(ctx, c, a.owner)) {
        const have = tagsOf(c.follow_user.find((f) => f.userid === userid)!);
        const change = tags.filter((x) => (untag ? have.includes(x.id) : !have.includes(x.id)));
        if (!change.length) continue;
        steps.push({
          api: 'externalcontact/mark_tag',
          method: 'POST',
          secret: 'customer',
          body: { userid, external_userid: c.external_contact.external_userid, [untag ? 'remove_tag' : 'add_tag']: change.map((x) => x.id) },
          describe: untag
            ? t('去掉 {u} 名下的 {t}', 'remove {t} on {u}’s relation', { u: userid, t: change.map((x) => x.name).join('、') })
            : t('在 {u} 名下打上 {t}', 'add {t} on {u}’s relation', { u: userid, t: change.map((x) => x.name).join('、') }),
        });
      }
      if (!steps.length) throw new InputError('NOTHING_TO_DO', untag ? t('客户 {c} 没有这些标签。', 'The customer {c} has none of these tags.', { c: r.name }) : t('客户 {c} 已经有这些标签。', 'The customer {c} already has these tags.', { c: r.name }));
      return { summary: untag ? t('去掉客户 {c} 的标签 {t}', 'Remove {t} from the customer {c}', { c: r.name, t: tags.map((x) => x.name).join('、') }) : t('给客户 {c} 打上 {t}', 'Tag the customer {c} with {t}', { c: r.name, t: tags.map((x) => x.name).join('、') }), steps };
    },
    async run(ctx, _a, plan, r) {
      await executePlan(ctx, plan!);
      return message(untag ? t('已去掉客户 {c} 的标签。', 'Removed the tags from {c}.', { c: r.name }) : t('已给客户 {c} 打上标签。', 'Tagged {c}.', { c: r.name }), { external_userid: r.external_userid, tags: r.tags });
    },
  });
}

export const customerTag = tagCommand(false);
export const customerUntag = tagCommand(true);

const chars = (s: string) => [...s].length;

export const customerRemark = defineCommand({
  name: 'customer remark',
  alias: '客户 备注',
  summary: t('修改自己对客户的备注、描述、备注手机号', 'Set your remark, description or remark mobiles for a customer'),
  examples: ['customer remark 李先生 --remark "李总（采购）" --description "关注价格，月底决策"'],
  params: {
    customer: customerRef,
    remark: option(z.string().refine((s) => chars(s) <= 20, { message: '备注最多 20 个字 / a remark is at most 20 characters' }).optional(), t('备注名（≤ 20 字）', 'remark (≤ 20 characters)'), { placeholder: 'text' }),
    description: option(z.string().refine((s) => chars(s) <= 150, { message: '描述最多 150 个字 / a description is at most 150 characters' }).optional(), t('描述（≤ 150 字）', 'description (≤ 150 characters)'), { placeholder: 'text' }),
    company: option(z.string().refine((s) => chars(s) <= 20, { message: '企业名称最多 20 个字 / a company is at most 20 characters' }).optional(), t('备注企业名称（≤ 20 字）', 'remark company (≤ 20 characters)'), { placeholder: 'text' }),
    mobiles: option(z.string().regex(/^[\d+\-, ]*$/, { message: '手机号用逗号分隔 / separate mobiles with commas' }).optional(), t('备注手机号，逗号分隔（空则清除）', 'remark mobiles, comma-separated (empty clears)'), { placeholder: 'list' }),
    owner: option(z.string().optional(), t('改哪位跟进成员的备注（管理员用）', 'whose remark to change (for admins)'), { placeholder: 'userid' }),
  },
  action: 'customer.remark',
  attributes: ['external_userid', 'name', 'owners', 'departments'],
  mutates: true,
  async resolve(ctx, a) {
    return customerResource(await ctx.org(), await resolveCustomer(ctx, a.customer));
  },
  async plan(ctx, a, r) {
    if (a.remark === undefined && a.description === undefined && a.company === undefined && a.mobiles === undefined) {
      throw new InputError('NOTHING_TO_DO', t('请至少给出 --remark、--description、--company 或 --mobiles 之一。', 'Give at least one of --remark, --description, --company or --mobiles.'));
    }
    const c = (await (await ctx.customers()).customer(r.external_userid as string))!;
    const relations = relationsFor(ctx, c, a.owner);
    if (relations.length > 1) throw new InputError('OWNER_REQUIRED', t('客户 {c} 有多位跟进成员（{o}）：用 --owner 指明改谁的备注。', '{c} has several owners ({o}): name whose remark to change with --owner.', { c: r.name, o: relations.join('、') }));
    const body: Record<string, unknown> = { userid: relations[0], external_userid: r.external_userid };
    if (a.remark !== undefined) body.remark = a.remark;
    if (a.description !== undefined) body.description = a.description;
    if (a.company !== undefined) body.remark_company = a.company;
    if (a.mobiles !== undefined) body.remark_mobiles = a.mobiles.trim() ? a.mobiles.split(',').map((m) => m.trim()).filter(Boolean) : [''];
    return { summary: t('修改 {u} 对客户 {c} 的备注', 'Change {u}’s remark for {c}', { u: relations[0], c: r.name }), steps: [{ api: 'externalcontact/remark', method: 'POST', secret: 'customer', body, describe: t('更新备注', 'update the remark') }] };
  },
  async run(ctx, _a, plan, r) {
    await executePlan(ctx, plan!);
    return message(t('已更新客户 {c} 的备注。', 'Updated the remark for {c}.', { c: r.name }), plan!.steps[0]!.body);
  },
});

export const customerLog = defineCommand({
  name: 'customer log',
  alias: '客户 跟进',
  summary: t('写一条客户跟进记录', 'Write a follow-up record for a customer'),
  examples: ['customer log 李先生 "电话沟通，月底前报价"'],
  params: {
    customer: customerRef,
    note: arg(z.string().trim().min(1).refine((s) => chars(s) <= MAX_NOTE_CHARS, { message: `记录最多 ${MAX_NOTE_CHARS} 字 / a note is at most ${MAX_NOTE_CHARS} characters` }), t('跟进内容', 'the note'), { placeholder: 'note' }),
  },
  action: 'customer.log',
  attributes: ['external_userid', 'name', 'owners', 'departments'],
  mutates: true,
  async resolve(ctx, a) {
    return customerResource(await ctx.org(), await resolveCustomer(ctx, a.customer));
  },
  async plan(_ctx, a, r) {
    return { summary: t('记录客户 {c} 的跟进：{n}', 'Record a follow-up for {c}: {n}', { c: r.name, n: a.note }), steps: [] };
  },
  async run(ctx, a, _plan, r) {
    const record = await addRecord(await ctx.store(), { external_userid: r.external_userid as string, customer_name: r.name as string, userid: ctx.actor.userid, note: a.note, at: ctx.now().toISOString() });
    return message(t('已记录客户 {c} 的跟进。', 'Recorded a follow-up for {c}.', { c: r.name }), record);
  },
});

export const customerRecords = defineCommand({
  name: 'customer records',
  alias: '客户 跟进记录',
  summary: t('查看跟进记录（默认是自己的；管理员可看部门的）', 'Read follow-up records (your own by default; admins their department’s)'),
  examples: ['customer records', 'customer records --dept 销售部 --since 2026-11-01', 'customer records --member wangfang'],
  params: {
    member: option(z.string().optional(), t('这位成员写的', 'written by this member'), { placeholder: 'userid', complete: 'member' }),
    dept: option(z.string().optional(), t('这个部门（含下级）成员写的', 'written by members of this department (and below)'), { placeholder: 'dept', complete: 'dept' }),
    since: option(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: '日期格式为 YYYY-MM-DD / a date is YYYY-MM-DD' }).optional(), t('从这天起', 'since this day'), { placeholder: 'YYYY-MM-DD' }),
  },
  action: 'customer.records',
  attributes: ['members', 'departments'],
  mutates: false,
  async resolve(ctx, a) {
    const org = await ctx.org();
    if (a.member) {
      const m = resolveMember(org, a.member);
      return { members: [m.userid], departments: m.departments };
    }
    if (a.dept) {
      const d = org.resolve(a.dept);
      return { members: [...new Set(org.subtree(d.id).flatMap((id) => org.directMemberIds(id)))], departments: [d.id] };
    }
    return { members: [ctx.actor.userid], departments: ownerDepartments(org, ctx.actor.userid) };
  },
  async run(ctx, a, _plan, r) {
    const since = a.since ? new Date(`${a.since}T00:00:00+08:00`).toISOString() : undefined;
    const records = await findRecords(await ctx.store(), { userids: r.members as string[], since });
    return {
      data: { records },
      view: {
        type: 'table',
        columns: [
          { key: 'at', title: t('时间', 'time') },
          { key: 'userid', title: t('成员', 'member') },
          { key: 'customer', title: t('客户', 'customer') },
          { key: 'note', title: t('记录', 'note') },
        ],
        rows: records.map((x) => ({ at: formatTime(x.at), userid: x.userid, customer: x.customer_name, note: x.note })),
        footer: t('共 {n} 条', '{n} records', { n: records.length }),
      },
    };
  },
});

const TRANSFER_BATCH = 100;

export const customerTransfer = defineCommand({
  name: 'customer transfer',
  alias: '客户 转接',
  summary: t('把客户转给另一位成员（在职继承，按策略审批）', 'Hand customers to another member (on-job transfer; approval per policy)'),
  details: t('每位客户 90 天内最多转接两次；转接在 24 小时后自动完成。', 'Each customer can be transferred at most twice in 90 days; a transfer completes after 24 hours.'),
  examples: ['customer transfer 李先生 王女士 --to zhouqiang', 'customer transfer wmXXXX --from wangfang --to zhouqiang'],
  params: {
    customers: arg(z.array(z.string().min(1)).min(1), t('一位或多位客户', 'one or more customers'), { many: true, placeholder: 'customer' }),
    to: option(z.string().min(1), t('接手的成员', 'the member taking over'), { required: true, placeholder: 'userid', complete: 'member' }),
    from: option(z.string().optional(), t('原跟进成员（客户有多位跟进成员时必填）', 'the current owner (needed when a customer has several)'), { placeholder: 'userid', complete: 'member' }),
  },
  action: 'customer.transfer',
  attributes: ['owners', 'departments', 'to', 'customers'],
  mutates: true,
  async resolve(ctx, a) {
    const org = await ctx.org();
    const resolved = [];
    for (const ref of [...new Set(a.customers)]) resolved.push(await resolveCustomer(ctx, ref));
    const owners = [...new Set(resolved.flatMap((c) => c.follow_user.map((f) => f.userid)))];
    return { customers: resolved.map((c) => c.external_contact.external_userid), owners, departments: [...new Set(owners.flatMap((u) => ownerDepartments(org, u)))], to: resolveMember(org, a.to).userid };
  },
  async plan(ctx, a, r) {
    const api = await ctx.customers();
    const to = r.to as string;
    if (!(await api.followUsers()).some((u) => u.toLowerCase() === to.toLowerCase())) {
      throw new InputError('NOT_FOLLOW_USER', t('{u} 没有开通客户联系，不能接手客户。', '{u} is not enabled for customer contact and cannot take customers over.', { u: to }));
    }
    const recent = await recentTransfers(await ctx.store(), ctx.now());
    const problems: Text[] = [];
    const byHandover = new Map<string, { id: string; name: string }[]>();
    for (const id of r.customers as string[]) {
      const c = (await api.customer(id))!;
      const name = c.external_contact.name;
      const owners = c.follow_user.map((f) => f.userid);
      const from = a.from ? owners.find((u) => u.toLowerCase() === a.from!.toLowerCase()) : owners.length === 1 ? owners[0] : undefined;
      if (a.from && !from) problems.push(t('{c}：{u} 不是跟进成员（{o}）', '{c}: {u} is not an owner ({o})', { c: name, u: a.from, o: owners.join('、') }));
      else if (!from) problems.push(t('{c}：有多位跟进成员（{o}），请用 --from 指明', '{c}: several owners ({o}); name one with --from', { c: name, o: owners.join('、') }));
      else if (owners.some((u) => u.toLowerCase() === to.toLowerCase())) problems.push(t('{c}：{u} 已经在跟进', '{c}: {u} already follows them', { c: name, u: to }));
      else if ((recent.get(id) ?? 0) >= TRANSFERS_PER_90_DAYS) problems.push(t('{c}：90 天内已转接 {n} 次，不能再转', '{c}: already transferred {n} times in 90 days', { c: name, n: recent.get(id) }));
      else (byHandover.get(from) ?? byHandover.set(from, []).get(from)!).push({ id, name });
    }
    if (problems.length) {
      throw new InputError('TRANSFER_INVALID', { zh: `没有转接任何客户：\n${problems.map((p) => `- ${p.zh}`).join('\n')}`, en: `No customer was transferred:\n${problems.map((p) => `- ${p.en}`).join('\n')}` }, { problems: problems.map((p) => p.en) });
    }
    const steps: PlanStep[] = [];
    for (const [from, list] of byHandover) {
      for (let i = 0; i < list.length; i += TRANSFER_BATCH) {
        const chunk = list.slice(i, i + TRANSFER_BATCH);
        steps.push({
          api: 'externalcontact/transfer_customer',
          method: 'POST',
          secret: 'customer',
          body: { handover_userid: from, takeover_userid: to, external_userid: chunk.map((x) => x.id) },
          describe: t('把 {u} 的 {n} 位客户转给 {to}：{c}', 'transfer {n} of {u}’s customers to {to}: {c}', { u: from, n: chunk.length, to, c: chunk.map((x) => x.name).join('、') }),
        });
      }
    }
    return { summary: t('把 {n} 位客户转给 {to}', 'Transfer {n} customers to {to}', { n: (r.customers as string[]).length, to }), notes: [t('转接在 24 小时后自动完成，期间客户可以拒绝。', 'Transfers complete after 24 hours; the customer may refuse meanwhile.')], steps };
  },
  async run(ctx, _a, plan, r) {
    return runTransfer(ctx, plan!.steps, 'onjob', r.to as string);
  },
});

/** Runs transfer steps and reports each customer's result, keeping the history the 90-day rule needs. */
async function runTransfer(ctx: CommandContext, steps: PlanStep[], kind: 'onjob' | 'resigned', to: string) {
  const outcomes = await executePlan(ctx, { summary: t('', ''), steps });
  const at = ctx.now().toISOString();
  const results = outcomes.flatMap((o) => {
    const body = o.step.body as { handover_userid: string; external_userid: string[] };
    const answered = new Map<string, number>((o.response?.customer ?? []).map((c: { external_userid: string; errcode: number }) => [c.external_userid, c.errcode]));
    return body.external_userid.map((id) => ({ external_userid: id, handover: body.handover_userid, takeover: to, kind, at, errcode: answered.get(id) ?? 0 }));
  });
  await recordTransfers(await ctx.store(), results);
  const failed = results.filter((x) => x.errcode !== 0);
  return {
    data: { customer: results.map((x) => ({ external_userid: x.external_userid, handover_userid: x.handover, errcode: x.errcode })), started: results.length - failed.length, failed: failed.length },
    view: {
      type: 'sections' as const,
      sections: [
        {
          type: 'message' as const,
          tone: failed.length ? ('warning' as const) : ('success' as const),
          text: t('已开始转接 {s} 位客户给 {to}（24 小时后完成）{f}', 'Started transferring {s} customers to {to} (completes in 24 hours){f}', {
            s: results.length - failed.length,
            to,
            f: failed.length ? t('；{n} 位失败', '; {n} failed', { n: failed.length }) : '',
          }),
        },
        ...(failed.length
          ? [
              {
                type: 'table' as const,
                columns: [
                  { key: 'external_userid', title: t('客户', 'customer') },
                  { key: 'errcode', title: t('错误码', 'errcode'), align: 'right' as const },
                ],
                rows: failed.map((x) => ({ external_userid: x.external_userid, errcode: x.errcode })),
              },
            ]
          : []),
      ],
    },
  };
}

export const customerReassign = defineCommand({
  name: 'customer reassign',
  alias: '客户 离职继承',
  summary: t('把离职成员的客户分给在职成员（离职继承，按策略审批）', 'Give a departed member’s customers to someone else (resigned transfer; approval per policy)'),
  examples: ['customer reassign --from zhouqiang --to wangfang'],
  params: {
    from: option(z.string().min(1), t('已离职的成员', 'the member who left'), { required: true, placeholder: 'userid' }),
    to: option(z.string().min(1), t('接手的成员', 'the member taking over'), { required: true, placeholder: 'userid', complete: 'member' }),
  },
  action: 'customer.reassign',
  attributes: ['from', 'to', 'departments'],
  mutates: true,
  async resolve(ctx, a) {
    const org = await ctx.org();
    const to = resolveMember(org, a.to);
    // The member who left has no department any more: the approval goes by the taker's.
    return { from: a.from, to: to.userid, departments: to.departments };
  },
  async plan(ctx, _a, r) {
    const api = await ctx.customers();
    const left = (await api.unassigned()).filter((x) => x.handover_userid.toLowerCase() === String(r.from).toLowerCase());
    if (!left.length) throw new InputError('NO_UNASSIGNED', t('{u} 没有待分配的客户（或还没有离职）。', '{u} has no unassigned customers (or has not left).', { u: r.from }));
    if (!(await api.followUsers()).some((u) => u.toLowerCase() === String(r.to).toLowerCase())) {
      throw new InputError('NOT_FOLLOW_USER', t('{u} 没有开通客户联系，不能接手客户。', '{u} is not enabled for customer contact and cannot take customers over.', { u: r.to }));
    }
    const steps: PlanStep[] = [];
    for (let i = 0; i < left.length; i += TRANSFER_BATCH) {
      const chunk = left.slice(i, i + TRANSFER_BATCH);
      steps.push({
        api: 'externalcontact/resigned/transfer_customer',
        method: 'POST',
        secret: 'customer',
        body: { handover_userid: chunk[0]!.handover_userid, takeover_userid: r.to, external_userid: chunk.map((x) => x.external_userid) },
        describe: t('把 {n} 位客户转给 {to}', 'transfer {n} customers to {to}', { n: chunk.length, to: r.to }),
      });
    }
    return { summary: t('把离职成员 {u} 的 {n} 位客户分给 {to}', 'Give the {n} customers of {u}, who left, to {to}', { u: r.from, n: left.length, to: r.to }), steps };
  },
  async run(ctx, _a, plan, r) {
    return runTransfer(ctx, plan!.steps, 'resigned', r.to as string);
  },
});

export const customerCommands: CommandSpec<any>[] = [customerList, customerShow, customerTag, customerUntag, customerRemark, customerLog, customerRecords, customerTransfer, customerReassign, customerExport];
