import { ApiError } from '../errors.js';
import type { MpRequest, MpRoute } from './router.js';
import type { MpFollower, MpState } from './types.js';

/**
 * Followers (mp.md §4): user/get (cursor by next_openid, 10,000 a page), user/info, user/info/batchget
 * (≤ 100), user/info/updateremark. Since 2021 the platform gives no nickname, avatar, sex or region;
 * someone who unfollowed shows only `subscribe:0` and the openid.
 */
export const PAGE_SIZE = 10_000;
const REMARK_MAX = 30;

let index: { list: MpFollower[]; size: number; byOpenid: Map<string, MpFollower> } | undefined;

export function findFollower(mp: MpState, openid: unknown): MpFollower | undefined {
  if (typeof openid !== 'string') return undefined;
  if (!index || index.list !== mp.followers || index.size !== mp.followers.length) {
    index = { list: mp.followers, size: mp.followers.length, byOpenid: new Map(mp.followers.map((f) => [f.openid, f])) };
  }
  return index.byOpenid.get(openid);
}

/** An openid of this account that still follows, or 40003. */
export function follower(mp: MpState, openid: unknown): MpFollower {
  const f = findFollower(mp, openid);
  if (!f || f.subscribe !== 1) throw new ApiError(40003);
  return f;
}

/**
 * One page of followers after `next_openid` (in follow order) that pass `keep`. Like the platform, a
 * full page names its last openid as the cursor, and the page after the last one is empty with "".
 */
export function pageFollowers(req: MpRequest, next: unknown, keep: (f: MpFollower) => boolean): { count: number; data?: { openid: string[] }; next_openid: string } {
  const list = req.mp.followers;
  let start = 0;
  if (typeof next === 'string' && next !== '') {
    const at = list.findIndex((f) => f.openid === next);
    if (at < 0) throw new ApiError(40003);
    start = at + 1;
  }
  const size = Math.max(1, req.faults.mp_page_size ?? PAGE_SIZE);
  const ids: string[] = [];
  for (let i = start; i < list.length && ids.length < size; i++) if (keep(list[i]!)) ids.push(list[i]!.openid);
  if (ids.length === 0) return { count: 0, next_openid: '' };
  return { count: ids.length, data: { openid: ids }, next_openid: ids[ids.length - 1]! };
}

export function userInfo(f: MpFollower): Record<string, unknown> {
  if (f.subscribe !== 1) return { subscribe: 0, openid: f.openid };
  return {
    subscribe: 1,
    openid: f.openid,
    language: f.language,
    subscribe_time: f.subscribe_time_s,
    remark: f.remark,
    groupid: 0,
    tagid_list: [...f.tagid_list],
    subscribe_scene: f.subscribe_scene,
    qr_scene: f.qr_scene,
    qr_scene_str: f.qr_scene_str,
  };
}

function known(req: MpRequest, openid: unknown): MpFollower {
  const f = findFollower(req.mp, openid);
  if (!f) throw new ApiError(40003);
  return f;
}

export const followerRoutes: Record<string, MpRoute> = {
  'user/get': {
    method: 'GET',
    bare: true,
    handler(req) {
      const total = req.mp.followers.filter((f) => f.subscribe === 1).length;
      return { total, ...pageFollowers(req, req.query.get('next_openid'), (f) => f.subscribe === 1) };
    },
  },
  'user/info': {
    method: 'GET',
    bare: true,
    handler: (req) => userInfo(known(req, req.query.get('openid'))),
  },
  'user/info/batchget': {
    method: 'POST',
    bare: true,
    handler(req) {
      const list = req.body.user_list;
      if (!Array.isArray(list) || list.length === 0 || list.length > 100) throw new ApiError(40032);
      return { user_info_list: list.map((u) => userInfo(known(req, u?.openid))) };
    },
  },
  'user/info/updateremark': {
    method: 'POST',
    handler(req) {
      const f = follower(req.mp, req.body.openid);
      const remark = req.body.remark;
      if (typeof remark !== 'string') throw new ApiError(47001);
      if ([...remark].length > REMARK_MAX) throw new ApiError(45002);
      f.remark = remark;
      req.changed();
      return {};
    },
  },
};
