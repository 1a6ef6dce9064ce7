import { z } from 'zod';
import { defineCommand, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { t, type Text } from '../src/core/i18n.js';
import { InputError } from '../src/core/errors.js';
import { BEHAVIOR_KEEP_DAYS, memberDays, totals, type MemberDay } from '../src/customers/behavior.js';
import { addDays, chinaDate } from '../src/core/dates.js';
import { countsBetween } from '../src/mp/counters.js';
import { menuTargets } from '../src/mp/menu.js';

/**
 * Statistics. Menu clicks come from wxops's own counters (the API has none, mp.md §8); follower and
 * read figures from datacube, whose reports end yesterday and allow a few days per call.
 */
/** A text bar, so a table shows the shape at a glance in every channel. */
function bar(value: number, max: number, width = 16): string {
  if (max <= 0 || value <= 0) return '';
  return '█'.repeat(Math.max(1, Math.round((value / max) * width)));
}

const percent = (n: number, d: number) => (d > 0 ? `${((n / d) * 100).toFixed(1)}%` : '-');

export const statsMenu = defineCommand({
  name: 'stats menu',
  alias: '统计 菜单',
  summary: t('菜单点击统计：每个按钮的点击数和点击率', 'Menu clicks: presses and click rate per button'),
  details: t('数据来自 wxops serve 收到的菜单事件（平台没有菜单统计接口）。点击率 = 点击过的人数 / 关注者总数。', 'Counted from the menu events `wxops serve` receives (the platform has no menu statistics API). Click rate = people who pressed / followers.'),
  params: { days: option(z.coerce.number().int().min(1).max(90).default(7), t('最近几天（含今天，默认 7）', 'how many days, today included (default 7)'), { placeholder: 'n' }) },
  action: 'stats.menu',
  mutates: false,
  async run(ctx, a) {
    const mp = await ctx.mp();
    const today = chinaDate(ctx.now());
    const from = addDays(today, -(a.days - 1));
    const [menu, followers, days] = await Promise.all([mp.getMenu(), mp.listFollowerIds(), countsBetween(await ctx.store(), from, today)]);
    const totals = new Map<string, { count: number; users: Set<string> }>();
    for (const d of days) {
      for (const [target, c] of Object.entries(d.clicks)) {
        const sum = totals.get(target) ?? { count: 0, users: new Set<string>() };
        sum.count += c.count;
        c.users.forEach((u) => sum.users.add(u));
        totals.set(target, sum);
      }
    }
    const rows = menuTargets(menu)
      .filter((b) => b.type === 'click' || b.type === 'view' || b.type === 'miniprogram')
      .map((b) => {
        const target = b.type === 'click' ? b.key! : b.type === 'view' ? b.url! : b.pagepath!;
        const sum = totals.get(target);
        totals.delete(target);
        return { button: b.parent ? `${b.parent} / ${b.name}` : b.name, type: b.type, clicks: sum?.count ?? 0, users: sum?.users.size ?? 0 };
      });
    for (const [target, sum] of totals) rows.push({ button: `${target} ${ctx.lang === 'zh' ? '（不在当前菜单）' : '(not in the live menu)'}`, type: '-', clicks: sum.count, users: sum.users.size });
    const max = Math.max(0, ...rows.map((r) => r.clicks));
    const clicks = rows.reduce((s, r) => s + r.clicks, 0);
    return {
      data: { from, to: today, followers: followers.length, buttons: rows.map((r) => ({ ...r, click_rate: followers.length ? r.users / followers.length : 0 })) },
      view: {
        type: 'table',
        caption: t('菜单点击 {f} 至 {to}', 'Menu clicks {f} to {to}', { f: from, to: today }),
        columns: [
          { key: 'button', title: t('按钮', 'button') },
          { key: 'type', title: t('类型', 'type') },
          { key: 'clicks', title: t('点击', 'clicks'), align: 'right' },
          { key: 'users', title: t('人数', 'people'), align: 'right' },
          { key: 'rate', title: t('点击率', 'click rate'), align: 'right' },
          { key: 'bar', title: t('', '') },
        ],
        rows: rows.map((r) => ({ ...r, rate: percent(r.users, followers.length), bar: bar(r.clicks, max) })),
        footer: t('共 {c} 次点击，{n} 位关注者', '{c} clicks in all, {n} followers', { c: clicks, n: followers.length }),
      },
    };
  },
});

interface UserSummaryRow {
  ref_date: string;
  user_source: number;
  new_user: number;
  cancel_user: number;
}

/** Runs a datacube report over a long range in the spans it allows, reporting progress. */
async function spanned<T>(ctx: CommandContext, report: string, span: number, from: string, to: string): Promise<T[]> {
  const mp = await ctx.mp();
  const ranges: [string, string][] = [];
  for (let start = from; start <= to; start = addDays(start, span)) {
    const end = addDays(start, span - 1);
    ranges.push([start, end < to ? end : to]);
  }
  const out: T[] = [];
  let done = 0;
  for (const [b, e] of ranges) {
    out.push(...(await mp.datacube<T>(report, b, e)));
    ctx.progress({ done: ++done, total: ranges.length, label: t('读取 {r}', 'reading {r}', { r: report }) });
  }
  return out;
}

export const statsMp = defineCommand({
  name: 'stats mp',
  alias: '统计 公众号',
  summary: t('公众号统计：新增、取消、累计关注者和图文阅读', 'Official Account statistics: new, cancelled and total followers, article reads'),
  details: t('平台数据到昨天为止。', 'Platform figures end yesterday.'),
  params: { days: option(z.coerce.number().int().min(1).max(90).default(30), t('最近几天（到昨天，默认 30）', 'how many days up to yesterday (default 30)'), { placeholder: 'n' }) },
  action: 'stats.mp',
  mutates: false,
  async run(ctx, a) {
    const to = addDays(chinaDate(ctx.now()), -1);
    const from = addDays(to, -(a.days - 1));
    const summary = await spanned<UserSummaryRow>(ctx, 'getusersummary', 7, from, to);
    const cumulate = await spanned<{ ref_date: string; cumulate_user: number }>(ctx, 'getusercumulate', 7, from, to);
    const reads = await spanned<{ ref_date: string; user_source: number; int_page_read_count: number }>(ctx, 'getuserread', 3, from, to);
    const byDate = new Map<string, { date: string; new: number; cancel: number; total: number; reads: number }>();
    const day = (d: string) => byDate.get(d) ?? byDate.set(d, { date: d, new: 0, cancel: 0, total: 0, reads: 0 }).get(d)!;
    for (const r of summary) {
      day(r.ref_date).new += r.new_user;
      day(r.ref_date).cancel += r.cancel_user;
    }
    for (const r of cumulate) day(r.ref_date).total = r.cumulate_user;
    // 99999999 is "all sources" when the report gives it; otherwise the sources add up.
    const allSources = reads.some((r) => r.user_source === 99999999);
    for (const r of reads) if (!allSources || r.user_source === 99999999) day(r.ref_date).reads += r.int_page_read_count;
    const rows = [...byDate.values()].sort((x, y) => x.date.localeCompare(y.date));
    // The platform's figures end yesterday; today's follower changes are the ones `wxops serve` saw.
    const today = chinaDate(ctx.now());
    const [counted] = await countsBetween(await ctx.store(), today, today);
    const todayRow = counted
      ? { date: `${today} *`, new: counted.subscribe, cancel: counted.unsubscribe, total: (rows.at(-1)?.total ?? 0) + counted.subscribe - counted.unsubscribe, reads: 0 }
      : undefined;
    const maxReads = Math.max(0, ...rows.map((r) => r.reads));
    const sum = (k: 'new' | 'cancel' | 'reads') => rows.reduce((s, r) => s + r[k], 0);
    return {
      data: {
        from,
        to,
        days: rows.map((r) => ({ ref_date: r.date, new_user: r.new, cancel_user: r.cancel, cumulate_user: r.total, int_page_read_count: r.reads })),
        today: todayRow ? { ref_date: today, new_user: todayRow.new, cancel_user: todayRow.cancel, source: 'wxops serve' } : null,
      },
      view: {
        type: 'table',
        caption: t('公众号 {f} 至 {to}', 'Official Account {f} to {to}', { f: from, to }),
        columns: [
          { key: 'date', title: t('日期', 'date') },
          { key: 'new', title: t('新增', 'new'), align: 'right' },
          { key: 'cancel', title: t('取消', 'cancelled'), align: 'right' },
          { key: 'net', title: t('净增', 'net'), align: 'right' },
          { key: 'total', title: t('累计', 'total'), align: 'right' },
          { key: 'reads', title: t('阅读', 'reads'), align: 'right' },
          { key: 'bar', title: t('', '') },
        ],
        rows: [...rows, ...(todayRow ? [todayRow] : [])].map((r) => ({ ...r, net: r.new - r.cancel, bar: bar(r.reads, maxReads) })),
        footer: {
          zh: `合计：新增 ${sum('new')}，取消 ${sum('cancel')}，净增 ${sum('new') - sum('cancel')}，阅读 ${sum('reads')}${todayRow ? '\n* 今天的数字来自 wxops serve 收到的关注事件，平台数据明天才有。' : ''}`,
          en: `Totals: new ${sum('new')}, cancelled ${sum('cancel')}, net ${sum('new') - sum('cancel')}, reads ${sum('reads')}${todayRow ? '\n* Today is counted from the follow events wxops serve received; the platform has it tomorrow.' : ''}`,
        },
      },
    };
  },
});

const rangeDays = (max: number, dflt: number) =>
  option(z.coerce.number().int().min(1).max(max).default(dflt), t('最近几天（含今天，默认 {d}）', 'how many days, today included (default {d})', { d: dflt }), { placeholder: 'n' });

/** A date window ending today; the platform keeps customer behaviour for 180 days. */
function window(ctx: CommandContext, days: number): { from: string; to: string; today: string } {
  const today = chinaDate(ctx.now());
  const from = addDays(today, -(days - 1));
  if (days > BEHAVIOR_KEEP_DAYS) throw new InputError('RANGE_TOO_OLD', t('平台只保留最近 {n} 天的数据。', 'The platform keeps only the last {n} days.', { n: BEHAVIOR_KEEP_DAYS }));
  return { from, to: today, today };
}

/** The members whose figures a command covers: a department's (and below) or the whole company, only those enabled for customer contact. */
async function membersOf(ctx: CommandContext, dept: string | undefined): Promise<{ userids: string[]; departments: number[]; label: Text }> {
  const org = await ctx.org();
  const d = dept ? org.resolve(dept) : org.root!;
  const follow = new Set((await (await ctx.customers()).followUsers()).map((u) => u.toLowerCase()));
  const userids = [...new Set(org.subtree(d.id).flatMap((id) => org.directMemberIds(id)))].filter((u) => follow.has(u.toLowerCase())).sort();
  return { userids, departments: [d.id], label: { zh: org.path(d.id), en: org.path(d.id) } };
}

const deptParam = option(z.string().optional(), t('只看这个部门（含下级）', 'only this department (and below)'), { placeholder: 'dept', complete: 'dept' });

/** What the policy reads: the department the figures cover. */
async function departmentsOf(ctx: CommandContext, dept: string | undefined): Promise<{ departments: number[] }> {
  return { departments: (await membersOf(ctx, dept)).departments };
}

const fmt = (n: number | undefined, digits = 1) => (n === undefined ? '-' : n.toFixed(digits));

export const statsMembers = defineCommand({
  name: 'stats members',
  alias: '统计 成员活跃',
  summary: t('每天的活跃成员数', 'Active members per day'),
  params: { days: rangeDays(30, 7) },
  action: 'stats.members',
  mutates: false,
  async run(ctx, a) {
    const { today } = window(ctx, a.days);
    // Today is not over: the platform reports finished days (up to 30 back).
    const dates = Array.from({ length: a.days }, (_, i) => addDays(today, -(a.days - i)));
    const client = (await ctx.platform()).client;
    const counts = await Promise.all(dates.map(async (date) => (await client.call('user/get_active_stat', { secret: 'contacts', body: { date } })).active_cnt as number));
    const max = Math.max(0, ...counts);
    return {
      data: { days: dates.map((date, i) => ({ date, active_cnt: counts[i] })) },
      view: {
        type: 'table',
        caption: t('活跃成员 {f} 至 {to}', 'Active members {f} to {to}', { f: dates[0], to: dates.at(-1) }),
        columns: [
          { key: 'date', title: t('日期', 'date') },
          { key: 'active', title: t('活跃成员', 'active'), align: 'right' },
          { key: 'bar', title: t('', '') },
        ],
        rows: dates.map((date, i) => ({ date, active: counts[i], bar: bar(counts[i]!, max) })),
      },
    };
  },
});

export const statsCustomers = defineCommand({
  name: 'stats customers',
  alias: '统计 客户',
  summary: t('客户联系：新增、流失、聊天、回复率、平均回复时长', 'Customer contact: new and lost contacts, chats, reply rate, average reply time'),
  details: t('按成员或部门汇总；长时间范围按平台的 30 天窗口分段读取并缓存；今天的数据不完整，标 *。', 'By member or department; long ranges are read in the platform’s 30-day windows and cached; today is incomplete and marked *.'),
  params: {
    by: option(z.enum(['member', 'dept', 'day']).default('day'), t('按 member（成员）、dept（部门）或 day（天，默认）汇总', 'group by member, dept or day (default)'), { placeholder: 'by' }),
    dept: deptParam,
    days: rangeDays(BEHAVIOR_KEEP_DAYS, 7),
  },
  action: 'stats.customers',
  attributes: ['departments'],
  mutates: false,
  resolve: (ctx, a) => departmentsOf(ctx, a.dept),
  async run(ctx, a) {
    const { from, to, today } = window(ctx, a.days);
    const scope = await membersOf(ctx, a.dept);
    const days = await memberDays(await ctx.customers(), await ctx.store(), scope.userids, from, to, today);
    const org = await ctx.org();
    const groups = new Map<string, MemberDay[]>();
    const keyOf = (d: MemberDay) => (a.by === 'member' ? d.userid : a.by === 'dept' ? org.path(org.all.find((x) => org.directMemberIds(x.id).includes(d.userid))?.id ?? 1) : `${d.date}${d.partial ? ' *' : ''}`);
    for (const d of days) (groups.get(keyOf(d)) ?? groups.set(keyOf(d), []).get(keyOf(d))!).push(d);
    const rows = [...groups.entries()].map(([key, list]) => ({ key, ...totals(list) }));
    if (a.by !== 'day') rows.sort((x, y) => y.newContacts - x.newContacts);
    const all = totals(days);
    return {
      data: { from, to, by: a.by, rows: rows.map((r) => ({ [a.by]: r.key, new_contact_cnt: r.newContacts, negative_feedback_cnt: r.lost, chat_cnt: r.chats, message_cnt: r.messages, reply_percentage: r.replyRate, avg_reply_time: r.avgReplyMinutes })) },
      view: {
        type: 'table',
        caption: t('客户联系 {s}，{f} 至 {to}', 'Customer contact, {s}, {f} to {to}', { s: scope.label, f: from, to }),
        columns: [
          { key: 'key', title: a.by === 'member' ? t('成员', 'member') : a.by === 'dept' ? t('部门', 'department') : t('日期', 'date') },
          { key: 'newContacts', title: t('新增', 'new'), align: 'right' },
          { key: 'lost', title: t('流失', 'lost'), align: 'right' },
          { key: 'chats', title: t('聊天', 'chats'), align: 'right' },
          { key: 'rate', title: t('回复率', 'reply rate'), align: 'right' },
          { key: 'time', title: t('平均回复(分钟)', 'avg reply (min)'), align: 'right' },
        ],
        rows: rows.map((r) => ({ key: r.key, newContacts: r.newContacts, lost: r.lost, chats: r.chats, rate: r.replyRate === undefined ? '-' : `${fmt(r.replyRate)}%`, time: fmt(r.avgReplyMinutes) })),
        footer: t('合计：新增 {n}，流失 {l}，聊天 {c}，回复率 {r}，平均回复 {m} 分钟{p}', 'Totals: new {n}, lost {l}, chats {c}, reply rate {r}, average reply {m} min{p}', {
          n: all.newContacts,
          l: all.lost,
          c: all.chats,
          r: all.replyRate === undefined ? '-' : `${fmt(all.replyRate)}%`,
          m: fmt(all.avgReplyMinutes),
          p: days.some((d) => d.partial) ? t('（* 今天的数据到明天才完整）', ' (* today is complete only tomorrow)') : '',
        }),
      },
    };
  },
});

export const statsKpi = defineCommand({
  name: 'stats kpi',
  alias: '统计 考核',
  summary: t('考核：每位成员的客户回复时长、回复率、新增客户；公众号文章打开率', 'KPIs: each member’s reply time, reply rate and new customers; article open rate'),
  params: {
    dept: deptParam,
    days: rangeDays(BEHAVIOR_KEEP_DAYS, 30),
  },
  action: 'stats.kpi',
  attributes: ['departments'],
  mutates: false,
  resolve: (ctx, a) => departmentsOf(ctx, a.dept),
  async run(ctx, a) {
    const { from, to, today } = window(ctx, a.days);
    const scope = await membersOf(ctx, a.dept);
    const days = (await memberDays(await ctx.customers(), await ctx.store(), scope.userids, from, to, today)).filter((d) => !d.partial);
    const per = scope.userids.map((userid) => ({ userid, ...totals(days.filter((d) => d.userid === userid)) }));
    per.sort((x, y) => (x.avgReplyMinutes ?? Infinity) - (y.avgReplyMinutes ?? Infinity));
    const openRate = await articleOpenRate(ctx, Math.min(a.days, 30));
    return {
      data: { from, to, members: per.map((p) => ({ userid: p.userid, avg_reply_time: p.avgReplyMinutes, reply_percentage: p.replyRate, new_contact_cnt: p.newContacts })), article_open_rate: openRate },
      view: {
        type: 'table',
        caption: t('考核 {s}，{f} 至 {to}（不含今天）', 'KPIs, {s}, {f} to {to} (today excluded)', { s: scope.label, f: from, to }),
        columns: [
          { key: 'userid', title: t('成员', 'member') },
          { key: 'time', title: t('平均回复(分钟)', 'avg reply (min)'), align: 'right' },
          { key: 'rate', title: t('回复率', 'reply rate'), align: 'right' },
          { key: 'new', title: t('新增客户', 'new customers'), align: 'right' },
        ],
        rows: per.map((p) => ({ userid: p.userid, time: fmt(p.avgReplyMinutes), rate: p.replyRate === undefined ? '-' : `${fmt(p.replyRate)}%`, new: p.newContacts })),
        footer: openRate === undefined ? t('公众号文章打开率：没有数据', 'Article open rate: no data') : t('公众号文章打开率：{r}%（阅读人数 / 关注者）', 'Article open rate: {r}% (readers / followers)', { r: fmt(openRate * 100) }),
      },
    };
  },
});

/** Readers of articles in the chat (int_page_read_user, all sources) over followers, for the last `days` finished days. */
async function articleOpenRate(ctx: CommandContext, days: number): Promise<number | undefined> {
  try {
    const to = addDays(chinaDate(ctx.now()), -1);
    const from = addDays(to, -(days - 1));
    const reads = await spanned<{ user_source: number; int_page_read_user: number }>(ctx, 'getuserread', 3, from, to);
    const cumulate = await (await ctx.mp()).datacube<{ cumulate_user: number }>('getusercumulate', to, to);
    const followers = cumulate.at(-1)?.cumulate_user ?? 0;
    const all = reads.some((r) => r.user_source === 99999999);
    const readers = reads.filter((r) => !all || r.user_source === 99999999).reduce((s, r) => s + r.int_page_read_user, 0);
    return followers ? readers / days / followers : undefined;
  } catch {
    // No Official Account (or no datacube permission): the KPI table stands without it.
    return undefined;
  }
}

export const statsCommands: CommandSpec<any>[] = [statsMenu, statsMp, statsMembers, statsCustomers, statsKpi];
