import { ApiError } from '../errors.js';
import { dayStart, daysBetween, parseDate, shanghaiDate } from '../mp/util.js';
import { prng } from '../random.js';
import { CONTACTS_READ, type ApiRoute } from '../router.js';
import type { SimState } from '../state.js';

/**
 * `user/get_active_stat` (wecom.md §5.3): `{date:"YYYY-MM-DD"}` → `{active_cnt}`, members active that
 * day (Beijing calendar), for the last 30 days only. The platform's errcode for an older or future date
 * is not documented; the simulator answers 40058. The count is derived from the number of enabled
 * members and a PRNG seeded by the date, so one date answers the same on every call and machine —
 * weekdays most members, weekends few. Today's figure is incomplete: the share of the day gone by.
 */
export const ACTIVE_STAT_DAYS = 30;
const DAY_MS = 86_400_000;

function invalid(text: string): never {
  throw new ApiError(40058, {}, 200, `${text}. invalid Request Parameter`);
}

/** Members active on `date` (a whole day): deterministic per date and company size. */
export function activeCount(state: SimState, date: string): number {
  const enabled = state.users.filter((u) => u.status === 1).length;
  const rand = prng(Number(date.replaceAll('-', '')) ^ 0x5a17);
  rand();
  const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
  const share = weekday === 0 || weekday === 6 ? 0.08 + rand() * 0.17 : 0.7 + rand() * 0.25;
  return Math.min(enabled, Math.round(enabled * share));
}

export const activeRoutes: Record<string, ApiRoute> = {
  'user/get_active_stat': {
    method: 'POST',
    allow: CONTACTS_READ,
    handler(req) {
      const date = parseDate(req.body.date);
      if (!date) invalid('date must be YYYY-MM-DD');
      const today = shanghaiDate(req.now);
      const back = daysBetween(date, today);
      if (back < 0) invalid('date is in the future');
      if (back > ACTIVE_STAT_DAYS) invalid(`date out of range, only the last ${ACTIVE_STAT_DAYS} days`);
      const full = activeCount(req.state, date);
      if (back > 0) return { active_cnt: full };
      const gone = Math.min(1, Math.max(0, (req.now - dayStart(today)) / DAY_MS));
      return { active_cnt: Math.floor(full * gone) };
    },
  },
};
