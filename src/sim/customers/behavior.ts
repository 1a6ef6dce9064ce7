import { findDepartment, subtreeIds } from '../contacts/departments.js';
import { ApiError } from '../errors.js';
import { prng } from '../random.js';
import type { SimState } from '../state.js';
import { isFollowUser, member } from './common.js';
import type { CustomerRoute } from './index.js';
import type { CustomerState } from './state.js';
import { beijingDate, beijingMidnight, DAY_MS, seconds, seedOf } from './util.js';

/**
 * Behaviour data (wecom.md §5.1): per Beijing day, totals over the members asked for (no per-member
 * breakdown). Times are Unix seconds (a millisecond value is 600018), floored to Beijing midnight, at
 * most 30 days apart and not older than 180 days (600018 both). The history is 60 days of figures per
 * (member, day), deterministic, ending the day the data was first asked for; on top of it, the adds and
 * chats the simulator itself saw.
 */
const HISTORY_DAYS = 60;
const MAX_SPAN_DAYS = 30;
const KEEP_DAYS = 180;
const MAX_USERS = 100;
const MAX_PARTIES = 100;

interface Day {
  new_apply_cnt: number;
  new_contact_cnt: number;
  chat_cnt: number;
  message_cnt: number;
  negative_feedback_cnt: number;
  /** Sums weighted by chats, for the averages. */
  reply_weighted: number;
  time_weighted: number;
}

function synthetic(userid: string, date: string, weekday: number): Day {
  const rand = prng(seedOf(`behavior:${userid}:${date}`));
  const busy = weekday === 0 || weekday === 6 ? 0.3 : 1;
  const applies = Math.floor(rand() * 4 * busy);
  const contacts = Math.min(applies, Math.floor(rand() * (applies + 1)));
  const chats = Math.floor(rand() * 9 * busy);
  const messages = chats * (2 + Math.floor(rand() * 5));
  const reply = 60 + Math.floor(rand() * 41);
  const time = 1 + Math.floor(rand() * 30);
  return {
    new_apply_cnt: applies,
    new_contact_cnt: contacts,
    chat_cnt: chats,
    message_cnt: messages,
    negative_feedback_cnt: rand() < 0.04 ? 1 : 0,
    reply_weighted: chats * reply,
    time_weighted: chats * time,
  };
}

function time(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new ApiError(600018);
  // Milliseconds (13 digits) are not seconds.
  if (value >= 1e11) throw new ApiError(600018);
  return value * 1000;
}

function members(state: SimState, cs: CustomerState, body: Record<string, any>, unknownDept: number): string[] {
  const users = body.userid ?? [];
  const parties = body.partyid ?? [];
  if (!Array.isArray(users) || !Array.isArray(parties)) throw new ApiError(40058);
  if (users.length === 0 && parties.length === 0) throw new ApiError(40058);
  if (users.length > MAX_USERS) throw new ApiError(40032);
  if (parties.length > MAX_PARTIES) throw new ApiError(82002);
  const out = new Set<string>();
  for (const u of users) out.add(member(state, u).userid);
  for (const p of parties) {
    const id = Number(p);
    if (!Number.isInteger(id) || !findDepartment(state, id)) throw new ApiError(unknownDept);
    const depts = new Set(subtreeIds(state, id));
    for (const u of state.users) if (u.department.some((d) => depts.has(d))) out.add(u.userid);
  }
  // Members not enabled for 客户联系 have nothing to count.
  return [...out].filter((u) => isFollowUser(state, cs, u));
}

export const behaviorRoutes: Record<string, CustomerRoute> = {
  'externalcontact/get_user_behavior_data': {
    method: 'POST',
    handler(req, cs) {
      const b = req.body;
      const users = members(req.state, cs, b, req.options.unknownDepartmentErrcode);
      const start = beijingMidnight(time(b.start_time));
      const end = beijingMidnight(time(b.end_time));
      const today = beijingMidnight(req.now);
      if (end < start) throw new ApiError(600018);
      if (end - start > MAX_SPAN_DAYS * DAY_MS) throw new ApiError(600018);
      if (start < today - KEEP_DAYS * DAY_MS) throw new ApiError(600018);
      if (cs.behavior_anchor === null) {
        cs.behavior_anchor = today;
        req.changed();
      }
      const anchor = cs.behavior_anchor;
      const rows: Record<string, unknown>[] = [];
      for (let day = start; day <= end; day += DAY_MS) {
        const date = beijingDate(day);
        const weekday = new Date(day + 8 * 3600_000).getUTCDay();
        const total: Day = { new_apply_cnt: 0, new_contact_cnt: 0, chat_cnt: 0, message_cnt: 0, negative_feedback_cnt: 0, reply_weighted: 0, time_weighted: 0 };
        const historic = day < anchor && day >= anchor - HISTORY_DAYS * DAY_MS && day <= today;
        const seen = cs.activity[date] ?? {};
        for (const u of users) {
          if (historic) {
            const d = synthetic(u, date, weekday);
            for (const k of Object.keys(total) as (keyof Day)[]) total[k] += d[k];
          }
          const a = seen[u];
          if (a) {
            total.new_apply_cnt += a.new_apply;
            total.new_contact_cnt += a.new_contact;
            total.chat_cnt += a.chats;
            total.message_cnt += a.messages;
            // The simulator's own chats: every message answered, within two minutes.
            total.reply_weighted += a.chats * 100;
            total.time_weighted += a.chats * 2;
          }
        }
        const row: Record<string, unknown> = {
          stat_time: seconds(day),
          chat_cnt: total.chat_cnt,
          message_cnt: total.message_cnt,
          negative_feedback_cnt: total.negative_feedback_cnt,
          new_apply_cnt: total.new_apply_cnt,
          new_contact_cnt: total.new_contact_cnt,
        };
        if (total.chat_cnt > 0) {
          row.reply_percentage = Math.round((total.reply_weighted / total.chat_cnt) * 100) / 100;
          row.avg_reply_time = Math.round(total.time_weighted / total.chat_cnt);
        }
        rows.push(row);
      }
      return { behavior_data: rows };
    },
  },
};

/** Counts something the simulator saw for a member today (adds, chats). */
export function recordActivity(cs: CustomerState, userid: string, now: number, what: Partial<Record<'new_apply' | 'new_contact' | 'chats' | 'messages', number>>): void {
  const date = beijingDate(now);
  const day = (cs.activity[date] ??= {});
  const a = (day[userid] ??= { new_apply: 0, new_contact: 0, chats: 0, messages: 0 });
  for (const [k, v] of Object.entries(what)) a[k as keyof typeof a] += v ?? 0;
}
