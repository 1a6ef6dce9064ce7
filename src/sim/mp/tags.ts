import { ApiError } from '../errors.js';
import { follower, pageFollowers } from './followers.js';
import type { MpRequest, MpRoute } from './router.js';
import type { MpTag } from './types.js';
import { bytes } from './util.js';
import { STAR_TAG } from './seed.js';

/**
 * User tags (mp.md §3). Ids 0, 1 and 2 are the platform's (2 = 星标组, listed and usable for tagging,
 * never renamed or deleted); user tags start at 100. At most 100 user tags, names ≤ 30 bytes and
 * unique, ≤ 50 openids per (un)tagging call, ≤ 20 tags per follower. `count` is how many current
 * followers carry the tag.
 */
const MAX_TAGS = 100;
const NAME_MAX = 30;
const MAX_BATCH = 50;
const MAX_PER_USER = 20;
const RESERVED = new Set([0, 1, 2]);
const STAR: MpTag = { id: STAR_TAG, name: '星标组' };

function allTags(req: MpRequest): MpTag[] {
  return [STAR, ...req.mp.tags];
}

function userTag(req: MpRequest, id: unknown): MpTag {
  if (RESERVED.has(Number(id))) throw new ApiError(45058);
  const tag = req.mp.tags.find((t) => t.id === Number(id));
  if (!tag) throw new ApiError(45159);
  return tag;
}

/** A tag followers can be given: a user tag or 星标组. */
function taggable(req: MpRequest, id: unknown): MpTag {
  const tag = allTags(req).find((t) => t.id === Number(id));
  if (!tag) throw new ApiError(45159);
  return tag;
}

function checkName(req: MpRequest, name: unknown, except?: number): string {
  if (typeof name !== 'string' || name.trim() === '') throw new ApiError(45157);
  if (bytes(name) > NAME_MAX) throw new ApiError(45158);
  if (allTags(req).some((t) => t.name === name && t.id !== except)) throw new ApiError(45157);
  return name;
}

function tagOf(req: MpRequest): Record<string, any> {
  const tag = req.body.tag;
  if (typeof tag !== 'object' || tag === null) throw new ApiError(47001);
  return tag;
}

function members(add: boolean): MpRoute {
  return {
    method: 'POST',
    handler(req) {
      const list = req.body.openid_list;
      if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCH) throw new ApiError(40032);
      const tag = taggable(req, req.body.tagid);
      // All or nothing: every openid must be a follower, and none may pass 20 tags.
      const people = list.map((o) => follower(req.mp, o));
      if (add && people.some((f) => !f.tagid_list.includes(tag.id) && f.tagid_list.length >= MAX_PER_USER)) throw new ApiError(45059);
      for (const f of people) {
        if (add && !f.tagid_list.includes(tag.id)) f.tagid_list.push(tag.id);
        if (!add) f.tagid_list = f.tagid_list.filter((t) => t !== tag.id);
      }
      req.changed();
      return {};
    },
  };
}

export const tagRoutes: Record<string, MpRoute> = {
  'tags/create': {
    method: 'POST',
    bare: true,
    handler(req) {
      const name = checkName(req, tagOf(req).name);
      if (req.mp.tags.length >= MAX_TAGS) throw new ApiError(45056);
      const tag = { id: req.mp.next_tag_id++, name };
      req.mp.tags.push(tag);
      req.changed();
      return { tag: { ...tag } };
    },
  },
  'tags/get': {
    method: 'GET',
    bare: true,
    handler(req) {
      const counts = new Map<number, number>();
      for (const f of req.mp.followers) if (f.subscribe === 1) for (const t of f.tagid_list) counts.set(t, (counts.get(t) ?? 0) + 1);
      return { tags: allTags(req).map((t) => ({ id: t.id, name: t.name, count: counts.get(t.id) ?? 0 })) };
    },
  },
  'tags/update': {
    method: 'POST',
    handler(req) {
      const body = tagOf(req);
      const tag = userTag(req, body.id);
      tag.name = checkName(req, body.name, tag.id);
      req.changed();
      return {};
    },
  },
  'tags/delete': {
    method: 'POST',
    handler(req) {
      const tag = userTag(req, tagOf(req).id);
      req.mp.tags = req.mp.tags.filter((t) => t !== tag);
      for (const f of req.mp.followers) f.tagid_list = f.tagid_list.filter((t) => t !== tag.id);
      req.changed();
      return {};
    },
  },
  'user/tag/get': {
    method: 'POST',
    bare: true,
    handler(req) {
      const tag = taggable(req, req.body.tagid);
      return pageFollowers(req, req.body.next_openid, (f) => f.subscribe === 1 && f.tagid_list.includes(tag.id));
    },
  },
  'tags/members/batchtagging': members(true),
  'tags/members/batchuntagging': members(false),
  'tags/getidlist': {
    method: 'POST',
    bare: true,
    handler: (req) => ({ tagid_list: [...follower(req.mp, req.body.openid).tagid_list] }),
  },
};
