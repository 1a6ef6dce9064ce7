import type { OrgTree } from '../core/org.js';
import { t, type Lang, type Text } from '../core/i18n.js';
import { addDays, chinaDate } from '../core/dates.js';
import { BEHAVIOR_KEEP_DAYS, memberDays, totals, type MemberDay, type Totals } from '../customers/behavior.js';
import { countsBetween } from '../mp/counters.js';
import type { MpApi } from '../platform/mp/api.js';
import type { WecomClient } from '../platform/wecom/client.js';
import type { CustomerApi } from '../platform/wecom/customers.js';
import type { Store } from '../store/store.js';

/**
 * The daily digest for the ops group: yesterday against the 7 days before it — customer contact (new,
 * lost, chats, reply rate and time), the fastest and slowest responders, active members, follower growth
 * and the menu click rate — as markdown, with a 7-day trend chart. Each part that cannot be read (no
 * Official Account configured, say) is left out with a line saying so, rather than failing the digest.
 */
export interface DigestSources {
  customers(): Promise<CustomerApi>;
  mp(): Promise<MpApi>;
  platform(): Promise<{ client: WecomClient }>;
  org(): Promise<OrgTree>;
  store(): Promise<Store>;
  now(): Date;
}

export interface Digest {
  date: string;
  markdown: Text;
  chart: { title: string; days: string[]; series: { name: string; values: (number | null)[]; unit?: string; type?: 'line' | 'bar' }[] };
  data: Record<string, unknown>;
}

const TOP = 3;

export async function composeDigest(src: DigestSources, date?: string): Promise<Digest> {
  const today = chinaDate(src.now());
  const day = date ?? addDays(today, -1);
  if (day >= today) throw new DigestRangeError(t('摘要只能是已经过去的日子（最晚昨天 {d}）。', 'A digest is for a finished day (yesterday, {d}, at the latest).', { d: addDays(today, -1) }));
  if (day < addDays(today, -(BEHAVIOR_KEEP_DAYS - 7))) throw new DigestRangeError(t('平台只保留最近 {n} 天的数据，{d} 太早了。', 'The platform keeps only the last {n} days; {d} is too old.', { n: BEHAVIOR_KEEP_DAYS, d: day }));
  const week = Array.from({ length: 7 }, (_, i) => addDays(day, i - 6));
  const before = Array.from({ length: 7 }, (_, i) => addDays(day, i - 7));

  const org = await src.org();
  const api = await src.customers();
  const follow = new Set((await api.followUsers()).map((u) => u.toLowerCase()));
  const members = [...new Set(org.all.flatMap((d) => org.directMemberIds(d.id)))].filter((u) => follow.has(u.toLowerCase()));
  const days = await memberDays(api, await src.store(), members, before[0]!, day, today);
  const on = (d: string) => days.filter((x) => x.date === d);
  const yesterday = totals(on(day));
  const average = averageOf(before.map((d) => totals(on(d))));
  const perMember = members.map((userid) => ({ userid, ...totals(days.filter((d) => d.userid === userid && week.includes(d.date))) })).filter((m) => m.avgReplyMinutes !== undefined);
  perMember.sort((a, b) => a.avgReplyMinutes! - b.avgReplyMinutes!);
  const fastest = perMember.slice(0, TOP);
  const slowest = perMember.slice(-TOP).reverse();

  const active = await activeMembers(src, day);
  const mp = await followerFigures(src, week, day);

  const L = (zh: string, en: string) => ({ zh, en });
  const lines = (lang: Lang) => {
    const x = (zh: string, en: string) => (lang === 'zh' ? zh : en);
    const cmp = (now: number | undefined, avg: number | undefined, unit = '', digits = 0) => {
      if (now === undefined) return '-';
      const value = `${now.toFixed(digits)}${unit}`;
      if (avg === undefined || avg === 0) return value;
      const pct = ((now - avg) / avg) * 100;
      return `${value}（${x('7 日均值', '7-day avg')} ${avg.toFixed(digits)}${unit}，${pct >= 0 ? '+' : ''}${pct.toFixed(0)}%）`;
    };
    const out = [
      `## ${x(`运营日报 ${day}`, `Daily digest ${day}`)}`,
      `**${x('客户联系', 'Customer contact')}**`,
      `> ${x('新增客户', 'New customers')}：${cmp(yesterday.newContacts, average.newContacts)}`,
      `> ${x('流失客户', 'Lost customers')}：${cmp(yesterday.lost, average.lost)}`,
      `> ${x('聊天数', 'Chats')}：${cmp(yesterday.chats, average.chats)}`,
      `> ${x('回复率', 'Reply rate')}：${cmp(yesterday.replyRate, average.replyRate, '%', 1)}`,
      `> ${x('平均回复时长', 'Average reply time')}：${cmp(yesterday.avgReplyMinutes, average.avgReplyMinutes, x(' 分钟', ' min'), 1)}`,
    ];
    if (fastest.length) {
      out.push(`**${x('回复最快（近 7 天）', 'Fastest replies (7 days)')}**：${fastest.map((m) => `${m.userid} ${m.avgReplyMinutes!.toFixed(1)}${x('分钟', ' min')}`).join('，')}`);
      out.push(`**${x('回复最慢（近 7 天）', 'Slowest replies (7 days)')}**：${slowest.map((m) => `${m.userid} ${m.avgReplyMinutes!.toFixed(1)}${x('分钟', ' min')}`).join('，')}`);
    }
    out.push(`**${x('活跃成员', 'Active members')}**：${active ?? x('（无法读取）', '(unavailable)')}`);
    if (mp) {
      out.push(`**${x('公众号', 'Official Account')}**`);
      out.push(`> ${x('新增关注', 'New followers')} ${mp.newFollowers}，${x('取消关注', 'unfollowed')} ${mp.cancelled}，${x('累计', 'total')} ${mp.total}`);
      out.push(`> ${x('菜单点击率', 'Menu click rate')}：${mp.clickRate === undefined ? x('（wxops serve 没有记录到点击）', '(no clicks recorded by wxops serve)') : `${(mp.clickRate * 100).toFixed(1)}%（${mp.clicks} ${x('次点击', 'clicks')}）`}`);
    } else {
      out.push(`> ${x('公众号数据暂不可用', 'Official Account figures are unavailable')}`);
    }
    return out.join('\n');
  };
  const chart = {
    title: '近 7 天运营趋势',
    days: week.map((d) => d.slice(5)),
    series: [
      // Chats run in the hundreds, people in the tens: a second unit gets its own axis on the right.
      { name: '新增客户', values: week.map((d) => sumOrNull(on(d), 'new_contact_cnt')), unit: '人' },
      { name: '聊天数', values: week.map((d) => sumOrNull(on(d), 'chat_cnt')), unit: '次', type: 'bar' as const },
      ...(mp ? [{ name: '新增关注', values: mp.newPerDay, unit: '人' }] : []),
    ],
  };
  return {
    date: day,
    markdown: L(lines('zh'), lines('en')),
    chart,
    data: { date: day, customers: { yesterday, average }, fastest, slowest, active_members: active, official_account: mp ?? null },
  };
}

export class DigestRangeError extends Error {
  constructor(readonly text: Text) {
    super(text.en);
  }
}

function averageOf(list: Totals[]): Totals {
  const avg = (f: (x: Totals) => number | undefined) => {
    const v = list.map(f).filter((x): x is number => x !== undefined);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  return { newContacts: avg((x) => x.newContacts) ?? 0, lost: avg((x) => x.lost) ?? 0, chats: avg((x) => x.chats) ?? 0, messages: avg((x) => x.messages) ?? 0, replyRate: avg((x) => x.replyRate), avgReplyMinutes: avg((x) => x.avgReplyMinutes) };
}

function sumOrNull(days: MemberDay[], key: 'new_contact_cnt' | 'chat_cnt'): number | null {
  return days.length ? days.reduce((s, d) => s + d[key], 0) : null;
}

async function activeMembers(src: DigestSources, day: string): Promise<number | undefined> {
  try {
    return (await (await src.platform()).client.call('user/get_active_stat', { secret: 'contacts', body: { date: day } })).active_cnt;
  } catch {
    return undefined;
  }
}

async function followerFigures(src: DigestSources, week: string[], day: string) {
  try {
    const mp = await src.mp();
    const summary = [
      ...(await mp.datacube<{ ref_date: string; new_user: number; cancel_user: number }>('getusersummary', week[0]!, day)),
    ];
    const cumulate = await mp.datacube<{ ref_date: string; cumulate_user: number }>('getusercumulate', day, day);
    const on = (d: string) => summary.filter((r) => r.ref_date === d);
    const counts = (await countsBetween(await src.store(), day, day))[0];
    const total = cumulate.at(-1)?.cumulate_user ?? 0;
    const clicks = counts ? Object.values(counts.clicks).reduce((s, c) => s + c.count, 0) : 0;
    const people = counts ? new Set(Object.values(counts.clicks).flatMap((c) => c.users)).size : 0;
    return {
      newFollowers: on(day).reduce((s, r) => s + r.new_user, 0),
      cancelled: on(day).reduce((s, r) => s + r.cancel_user, 0),
      total,
      clicks,
      clickRate: counts && total ? people / total : undefined,
      newPerDay: week.map((d) => (on(d).length ? on(d).reduce((s, r) => s + r.new_user, 0) : null)),
    };
  } catch {
    return undefined;
  }
}

/** The chart of a digest as PNG (rendered without a browser, Chinese labels included). */
export async function digestChart(d: Digest): Promise<Buffer> {
  const { renderTrendChart } = await import('./chart.js');
  return renderTrendChart({ title: d.chart.title, days: d.chart.days, series: d.chart.series, subtitle: `示例科技 · ${d.date}` });
}

/** Posts a digest to the ops group: the markdown, then the chart. */
export async function sendDigest(d: Digest, robot: { markdown(text: string): Promise<number>; image(png: Buffer): Promise<void> }, lang: Lang): Promise<void> {
  await robot.markdown(d.markdown[lang]);
  await robot.image(await digestChart(d));
}
