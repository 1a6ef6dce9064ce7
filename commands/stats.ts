import { z } from 'zod';
import { defineCommand, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { t } from '../src/core/i18n.js';
import { chinaDate, countsBetween } from '../src/mp/counters.js';
import { menuTargets } from '../src/mp/menu.js';

/**
 * Statistics. Menu clicks come from wxops's own counters (the API has none, mp.md §8); follower and
 * read figures from datacube, whose reports end yesterday and allow a few days per call.
 */
const DAY_MS = 86_400_000;

function daysBack(end: string, n: number): string {
  return new Date(Date.parse(`${end}T00:00:00Z`) - n * DAY_MS).toISOString().slice(0, 10);
}

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
    const from = daysBack(today, a.days - 1);
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
  for (let start = from; start <= to; start = daysBack(start, -span)) {
    const end = daysBack(start, -(span - 1));
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
    const to = daysBack(chinaDate(ctx.now()), 1);
    const from = daysBack(to, a.days - 1);
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

export const statsCommands: CommandSpec<any>[] = [statsMenu, statsMp];
