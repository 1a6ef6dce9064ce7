import { ApiError } from '../errors.js';
import type { MpRequest, MpRoute } from './router.js';
import type { MpArticle, MpState } from './types.js';
import { addDays, dayStart, daysBetween, parseDate, prngFor, shanghaiDate } from './util.js';

/**
 * Statistics (`/datacube/*`, mp.md §8): `{"begin_date","end_date"}` inclusive, at most a per-API span,
 * ending yesterday at the latest (T+1); 61500 for a malformed date, 61501 for a bad range.
 *
 * Where the numbers come from, so they stay consistent as simulated days pass:
 * - followers (getusersummary, getusercumulate): counted from the follow/unfollow log, seed and live
 *   events alike, so `cumulate_user` of yesterday is the number of followers user/get lists;
 * - articles (getarticlesummary, getarticletotal, getuserread): per article and day from a PRNG seeded
 *   by both, scaled to the followers the account had when the article went out;
 * - upstream messages and callbacks (getupstreammsg, getinterfacesummary): before the simulator first
 *   served this account, from a PRNG seeded by the date; since then, what really happened.
 */
const SPANS: Record<string, number> = {
  getusersummary: 7,
  getusercumulate: 7,
  getarticlesummary: 1,
  getarticletotal: 1,
  getuserread: 3,
  getupstreammsg: 7,
  getinterfacesummary: 30,
};
const DAY = 86_400_000;
const ALL_SOURCES = 99999999;
/** Article read sources (user_source for getuserread) and their shares. */
const READ_SOURCES: [number, string, number][] = [
  [0, 'session', 0.55],
  [1, 'friends', 0.12],
  [2, 'feed', 0.15],
  [4, 'hist_msg', 0.08],
  [5, 'other', 0.04],
  [6, 'kanyikan', 0.03],
  [7, 'souyisou', 0.03],
];

interface Reads {
  int_page_read_user: number;
  int_page_read_count: number;
  ori_page_read_user: number;
  ori_page_read_count: number;
  share_user: number;
  share_count: number;
  add_to_fav_user: number;
  add_to_fav_count: number;
}
const READ_KEYS: (keyof Reads)[] = [
  'int_page_read_user',
  'int_page_read_count',
  'ori_page_read_user',
  'ori_page_read_count',
  'share_user',
  'share_count',
  'add_to_fav_user',
  'add_to_fav_count',
];

function dates(req: MpRequest, max: number): string[] {
  const begin = parseDate(req.body.begin_date);
  const end = parseDate(req.body.end_date);
  if (!begin || !end) throw new ApiError(61500);
  const span = daysBetween(begin, end) + 1;
  const yesterday = addDays(shanghaiDate(req.now), -1);
  if (span < 1 || span > max || end > yesterday) throw new ApiError(61501);
  return Array.from({ length: span }, (_, i) => addDays(begin, i));
}

/** Followers at the end of `date`. */
export function cumulate(mp: MpState, date: string): number {
  const end = dayStart(date) + DAY;
  let n = 0;
  for (const e of mp.follow_log) if (e.at < end) n += e.kind === 'subscribe' ? 1 : -1;
  return n;
}

function userSummary(mp: MpState, date: string): Record<string, unknown>[] {
  const from = dayStart(date);
  const bySource = new Map<number, number>();
  let cancel = 0;
  for (const e of mp.follow_log) {
    if (e.at < from || e.at >= from + DAY) continue;
    if (e.kind === 'subscribe') bySource.set(e.source, (bySource.get(e.source) ?? 0) + 1);
    else cancel++;
  }
  // Unfollows are not attributed to a source: they go with source 0, which every day shows.
  if (!bySource.has(0)) bySource.set(0, 0);
  return [...bySource.entries()]
    .sort(([a], [b]) => a - b)
    .map(([user_source, new_user]) => ({ ref_date: date, user_source, new_user, cancel_user: user_source === 0 ? cancel : 0 }));
}

/** One article's reads on one day (zeros before it went out). */
function articleDay(mp: MpState, a: MpArticle, date: string, audience: Map<MpArticle, number>): Reads {
  const age = daysBetween(shanghaiDate(a.published_at), date);
  if (age < 0) return noReads();
  if (!audience.has(a)) audience.set(a, cumulate(mp, shanghaiDate(a.published_at)));
  const r = prngFor(`mp-article:${a.msg_data_id}:${date}`);
  const reach = age === 0 ? 0.18 + r() * 0.1 : age <= 6 ? 0.1 * 0.45 ** (age - 1) * (0.8 + r() * 0.4) : 0.006 * r();
  const users = Math.round(audience.get(a)! * reach);
  const ori = Math.floor(users * (0.03 + r() * 0.05));
  const share = Math.floor(users * (0.05 + r() * 0.06));
  const fav = Math.floor(users * (0.02 + r() * 0.03));
  return {
    int_page_read_user: users,
    int_page_read_count: users + Math.floor(users * (0.1 + r() * 0.3)),
    ori_page_read_user: ori,
    ori_page_read_count: ori + Math.floor(ori * 0.2),
    share_user: share,
    share_count: share + Math.floor(share * r() * 0.3),
    add_to_fav_user: fav,
    add_to_fav_count: fav,
  };
}

function noReads(): Reads {
  return Object.fromEntries(READ_KEYS.map((k) => [k, 0])) as unknown as Reads;
}

function add(a: Reads, b: Reads): Reads {
  return Object.fromEntries(READ_KEYS.map((k) => [k, a[k] + b[k]])) as unknown as Reads;
}

/** Integer parts of `total` in proportion to `weights`, summing to `total`. */
function split(total: number, weights: number[]): number[] {
  const parts = weights.map((w) => Math.floor(total * w));
  parts[0]! += total - parts.reduce((s, p) => s + p, 0);
  return parts;
}

function msgid(a: MpArticle): string {
  return `${a.msg_data_id}_1`;
}

function anchorDate(mp: MpState): string {
  return shanghaiDate(mp.anchored_at ?? 0);
}

function handlers(mp: MpState, audience: Map<MpArticle, number>, yesterday: string): Record<string, (date: string) => Record<string, unknown>[]> {
  return {
    getusersummary: (date) => userSummary(mp, date),
    getusercumulate: (date) => [{ ref_date: date, user_source: 0, cumulate_user: cumulate(mp, date) }],
    getarticlesummary: (date) =>
      mp.articles
        .map((a) => ({ a, reads: articleDay(mp, a, date, audience) }))
        // The platform lists an article on a day only with ≥ 3 reads + shares + favourites.
        .filter(({ reads }) => reads.int_page_read_count + reads.share_count + reads.add_to_fav_count >= 3)
        .map(({ a, reads }) => ({ ref_date: date, msgid: msgid(a), title: a.title, ...reads })),
    getarticletotal: (date) =>
      mp.articles
        .filter((a) => shanghaiDate(a.published_at) === date)
        .map((a) => {
          let total = noReads();
          const details = [];
          for (let d = date; d <= yesterday && daysBetween(date, d) < 7; d = addDays(d, 1)) {
            total = add(total, articleDay(mp, a, d, audience));
            const from: Record<string, number> = {};
            const users = split(total.int_page_read_user, READ_SOURCES.map(([, , w]) => w));
            const counts = split(total.int_page_read_count, READ_SOURCES.map(([, , w]) => w));
            READ_SOURCES.forEach(([, name], i) => {
              from[`int_page_from_${name}_read_user`] = users[i]!;
              from[`int_page_from_${name}_read_count`] = counts[i]!;
            });
            const shareUsers = split(total.share_user, [0.6, 0.3, 0.1]);
            const shareCounts = split(total.share_count, [0.6, 0.3, 0.1]);
            ['session', 'feed', 'other'].forEach((name, i) => {
              from[`feed_share_from_${name}_user`] = shareUsers[i]!;
              from[`feed_share_from_${name}_cnt`] = shareCounts[i]!;
            });
            details.push({ stat_date: d, target_user: audience.get(a) ?? cumulate(mp, date), ...total, ...from });
          }
          return { ref_date: date, msgid: msgid(a), title: a.title, details };
        }),
    getuserread: (date) => {
      const total = mp.articles.reduce((sum, a) => add(sum, articleDay(mp, a, date, audience)), noReads());
      const parts = Object.fromEntries(READ_KEYS.map((k) => [k, split(total[k], READ_SOURCES.map(([, , w]) => w))]));
      return [
        { ref_date: date, user_source: ALL_SOURCES, ...total },
        ...READ_SOURCES.map(([user_source], i) => ({ ref_date: date, user_source, ...Object.fromEntries(READ_KEYS.map((k) => [k, parts[k]![i]])) })),
      ];
    },
    getupstreammsg: (date) => {
      if (date < anchorDate(mp)) {
        const r = prngFor(`mp-upstream:${date}`);
        const textUsers = 2 + Math.floor(r() * 12);
        const rows = [{ ref_date: date, msg_type: 1, msg_user: textUsers, msg_count: textUsers + Math.floor(textUsers * r() * 1.5) }];
        if (r() < 0.4) {
          const imageUsers = 1 + Math.floor(r() * 3);
          rows.push({ ref_date: date, msg_type: 2, msg_user: imageUsers, msg_count: imageUsers });
        }
        return rows;
      }
      const day = mp.days[date];
      return Object.entries(day?.upstream ?? {})
        .map(([type, u]) => ({ ref_date: date, msg_type: Number(type), msg_user: u.users.length, msg_count: u.count }))
        .filter((row) => row.msg_count > 0);
    },
    getinterfacesummary: (date) => {
      if (date < anchorDate(mp)) {
        const r = prngFor(`mp-interface:${date}`);
        const callback_count = 20 + Math.floor(r() * 60);
        return [
          {
            ref_date: date,
            callback_count,
            fail_count: r() < 0.3 ? 1 + Math.floor(r() * 2) : 0,
            total_time_cost: callback_count * (40 + Math.floor(r() * 120)),
            max_time_cost: 200 + Math.floor(r() * 1300),
          },
        ];
      }
      const day = mp.days[date];
      if (!day || day.callback_count === 0) return [];
      const { callback_count, fail_count, total_time_cost, max_time_cost } = day;
      return [{ ref_date: date, callback_count, fail_count, total_time_cost, max_time_cost }];
    },
  };
}

export const datacubeRoutes: Record<string, MpRoute> = Object.fromEntries(
  Object.entries(SPANS).map(([name, span]) => [
    `datacube/${name}`,
    {
      method: 'POST',
      bare: true,
      handler(req: MpRequest) {
        const days = dates(req, span);
        const yesterday = addDays(shanghaiDate(req.now), -1);
        const rows = handlers(req.mp, new Map(), yesterday)[name]!;
        return { list: days.flatMap((d) => rows(d)) };
      },
    } satisfies MpRoute,
  ]),
);
