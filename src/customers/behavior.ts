import { addDays, chinaDate } from '../core/dates.js';
import type { BehaviorDay, CustomerApi } from '../platform/wecom/customers.js';
import type { Store } from '../store/store.js';

/**
 * Customer-contact behaviour per member and day (wecom.md §5.1). The platform answers at most 30 days
 * per call, keeps 180 days, and sums over the members of one call, so wxops asks per member, in 30-day
 * windows, and caches every finished day (today's figures are still moving and are never cached).
 */
export const BEHAVIOR_CACHE = 'behavior-cache';
export const BEHAVIOR_WINDOW_DAYS = 30;
export const BEHAVIOR_KEEP_DAYS = 180;

export interface MemberDay extends BehaviorDay {
  userid: string;
  date: string;
  /** Today: incomplete until tomorrow. */
  partial?: boolean;
}

/** Beijing midnight of a YYYY-MM-DD date, in Unix seconds. */
export function dayStart(date: string): number {
  return Date.parse(`${date}T00:00:00+08:00`) / 1000;
}

/** Every day of [from, to] for each member: from the cache where finished, else from the platform. */
export async function memberDays(api: CustomerApi, store: Store, userids: string[], from: string, to: string, today: string): Promise<MemberDay[]> {
  const out: MemberDay[] = [];
  await Promise.all(
    userids.map(async (userid) => {
      const cached = (await store.get<Record<string, BehaviorDay>>(BEHAVIOR_CACHE, userid)) ?? {};
      const missing: string[] = [];
      for (let d = from; d <= to; d = addDays(d, 1)) if (!cached[d] || d >= today) missing.push(d);
      const fetched: Record<string, BehaviorDay> = {};
      for (let i = 0; i < missing.length; ) {
        // One call per run of consecutive missing days, at most 30 of them.
        const start = missing[i]!;
        let end = start;
        let j = i + 1;
        while (j < missing.length && missing[j] === addDays(end, 1) && j - i < BEHAVIOR_WINDOW_DAYS) end = missing[j++]!;
        i = j;
        for (const row of await api.behavior([userid], dayStart(start), dayStart(end))) {
          const date = chinaDate(new Date(row.stat_time * 1000));
          if (date < today) {
            cached[date] = row;
            fetched[date] = row;
          } else {
            out.push({ ...row, userid, date, partial: true });
          }
        }
      }
      // Merged into what is stored now: days another instance cached meanwhile are kept.
      if (Object.keys(fetched).length) await store.update<Record<string, BehaviorDay>>(BEHAVIOR_CACHE, userid, (cur) => ({ ...cur, ...fetched }));
      for (let d = from; d <= to && d < today; d = addDays(d, 1)) if (cached[d]) out.push({ ...cached[d]!, userid, date: d });
    }),
  );
  return out.sort((a, b) => a.date.localeCompare(b.date) || a.userid.localeCompare(b.userid));
}

export interface Totals {
  newContacts: number;
  lost: number;
  chats: number;
  messages: number;
  /** Mean over days with chats, weighted by chats; undefined when there were none. */
  replyRate?: number;
  avgReplyMinutes?: number;
}

export function totals(days: MemberDay[]): Totals {
  let newContacts = 0;
  let lost = 0;
  let chats = 0;
  let messages = 0;
  let rateWeight = 0;
  let rateSum = 0;
  let timeSum = 0;
  let timeWeight = 0;
  for (const d of days) {
    newContacts += d.new_contact_cnt;
    lost += d.negative_feedback_cnt;
    chats += d.chat_cnt;
    messages += d.message_cnt;
    if (d.reply_percentage !== undefined && d.chat_cnt > 0) {
      rateSum += d.reply_percentage * d.chat_cnt;
      rateWeight += d.chat_cnt;
    }
    if (d.avg_reply_time !== undefined && d.chat_cnt > 0) {
      timeSum += d.avg_reply_time * d.chat_cnt;
      timeWeight += d.chat_cnt;
    }
  }
  return { newContacts, lost, chats, messages, replyRate: rateWeight ? rateSum / rateWeight : undefined, avgReplyMinutes: timeWeight ? timeSum / timeWeight : undefined };
}
