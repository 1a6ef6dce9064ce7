import { ApiError } from '../errors.js';
import type { ApiRequest } from '../router.js';
import { relation } from './common.js';
import type { CustomerRoute } from './index.js';
import { indexOf } from './relations.js';
import type { CustomerState, SimCorpTag, SimTagGroup } from './state.js';
import { chars, seconds, tagIdFor } from './util.js';

/**
 * Corp customer tags (wecom.md §4.2): groups of tags with `et…` ids, at most 3000 tags (40126), names
 * ≤ 30 characters (40072) and unique in their group (40071; group names unique too). A self-built app
 * may edit and delete only the tags and groups it created (81011); the 客户联系 secret may change all.
 * mark_tag works on an existing relation only (84061) with known tag ids (40068).
 */
export const MAX_CORP_TAGS = 3000;
const NAME_MAX = 30;

function tagCount(cs: CustomerState): number {
  let n = 0;
  for (const g of cs.tag_groups) n += g.tag.length;
  return n;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '' || chars(name) > NAME_MAX) throw new ApiError(40072);
  return name;
}

function checkOrder(order: unknown): number | undefined {
  if (order === undefined || order === null) return undefined;
  const n = Number(order);
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 32 - 1) throw new ApiError(40058);
  return n;
}

function idList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new ApiError(40058);
  return value as string[];
}

/** A self-built app changes only what it created. */
function mayChange(req: ApiRequest, owner: string): void {
  if (req.secret === 'app' && owner !== 'app') throw new ApiError(81011);
}

/** Larger `order` first (the platform's rule), creation order among equals. */
function sorted<T extends { order: number }>(items: T[]): T[] {
  return items.map((item, i) => ({ item, i })).sort((a, b) => b.item.order - a.item.order || a.i - b.i).map((x) => x.item);
}

function tagView(t: SimCorpTag, withDeleted: boolean): Record<string, unknown> {
  return { id: t.id, name: t.name, create_time: t.create_time, order: t.order, ...(withDeleted ? { deleted: false } : {}) };
}

function groupView(g: SimTagGroup, tags: SimCorpTag[], withDeleted: boolean): Record<string, unknown> {
  return {
    group_id: g.group_id,
    group_name: g.group_name,
    create_time: g.create_time,
    order: g.order,
    ...(withDeleted ? { deleted: false } : {}),
    tag: sorted(tags).map((t) => tagView(t, withDeleted)),
  };
}

export const tagRoutes: Record<string, CustomerRoute> = {
  'externalcontact/get_corp_tag_list': {
    method: 'POST',
    handler(req, cs) {
      const tagIds = new Set(idList(req.body.tag_id));
      const groupIds = new Set(idList(req.body.group_id));
      const groups = sorted(cs.tag_groups);
      if (groupIds.size > 0) return { tag_group: groups.filter((g) => groupIds.has(g.group_id)).map((g) => groupView(g, g.tag, true)) };
      if (tagIds.size > 0) {
        return {
          tag_group: groups.flatMap((g) => {
            const tags = g.tag.filter((t) => tagIds.has(t.id));
            return tags.length ? [groupView(g, tags, true)] : [];
          }),
        };
      }
      return { tag_group: groups.map((g) => groupView(g, g.tag, false)) };
    },
  },

  'externalcontact/add_corp_tag': {
    method: 'POST',
    handler(req, cs) {
      const b = req.body;
      const index = indexOf(cs);
      let group: SimTagGroup | undefined;
      if (b.group_id !== undefined && b.group_id !== null && b.group_id !== '') {
        const found = typeof b.group_id === 'string' ? index.tagOrGroup(b.group_id) : undefined;
        if (!found || found.tag) throw new ApiError(40068);
        group = found.group;
      } else {
        if (b.group_name === undefined || b.group_name === null || b.group_name === '') throw new ApiError(40058);
        const name = checkName(b.group_name);
        group = cs.tag_groups.find((g) => g.group_name === name);
      }
      const tags: unknown = b.tag;
      if (!Array.isArray(tags) || tags.length === 0) throw new ApiError(40058);
      const names = new Set(group?.tag.map((t) => t.name) ?? []);
      const wanted: { name: string; order: number }[] = [];
      for (const t of tags) {
        if (t === null || typeof t !== 'object') throw new ApiError(40058);
        const name = checkName((t as any).name);
        if (names.has(name)) throw new ApiError(40071);
        names.add(name);
        wanted.push({ name, order: checkOrder((t as any).order) ?? 0 });
      }
      if (tagCount(cs) + wanted.length > MAX_CORP_TAGS) throw new ApiError(40126);
      const at = seconds(req.now);
      if (!group) {
        group = { group_id: tagIdFor(cs.next_tag_seq++), group_name: b.group_name, create_time: at, order: checkOrder(b.order) ?? 0, owner: req.secret, tag: [] };
        cs.tag_groups.push(group);
      }
      const created = wanted.map((w) => ({ id: tagIdFor(cs.next_tag_seq++), name: w.name, create_time: at, order: w.order, owner: req.secret }));
      group.tag.push(...created);
      index.tagsChanged();
      req.changed();
      return { tag_group: groupView(group, created, false) };
    },
  },

  'externalcontact/edit_corp_tag': {
    method: 'POST',
    handler(req, cs) {
      const b = req.body;
      const found = typeof b.id === 'string' && b.id !== '' ? indexOf(cs).tagOrGroup(b.id) : undefined;
      if (!found) throw new ApiError(40068);
      const target = found.tag ?? found.group;
      mayChange(req, target.owner);
      const order = checkOrder(b.order);
      if (b.name !== undefined && b.name !== null) {
        const name = checkName(b.name);
        const siblings = found.tag ? found.group.tag.map((t) => ({ id: t.id, name: t.name })) : cs.tag_groups.map((g) => ({ id: g.group_id, name: g.group_name }));
        if (siblings.some((s) => s.name === name && s.id !== b.id)) throw new ApiError(40071);
        if (found.tag) found.tag.name = name;
        else found.group.group_name = name;
      }
      if (order !== undefined) target.order = order;
      req.changed();
      return {};
    },
  },

  'externalcontact/del_corp_tag': {
    method: 'POST',
    handler(req, cs) {
      const tagIds = idList(req.body.tag_id);
      const groupIds = idList(req.body.group_id);
      if (tagIds.length === 0 && groupIds.length === 0) throw new ApiError(40058);
      const index = indexOf(cs);
      const goneTags = new Set<string>();
      const goneGroups = new Set<string>();
      for (const id of groupIds) {
        const found = index.tagOrGroup(id);
        if (!found || found.tag) throw new ApiError(40068);
        mayChange(req, found.group.owner);
        goneGroups.add(id);
        for (const t of found.group.tag) goneTags.add(t.id);
      }
      for (const id of tagIds) {
        const found = index.tagOrGroup(id);
        if (!found?.tag) throw new ApiError(40068);
        mayChange(req, found.tag.owner);
        goneTags.add(id);
      }
      for (const g of cs.tag_groups) g.tag = g.tag.filter((t) => !goneTags.has(t.id));
      // A group goes with its last tag.
      cs.tag_groups = cs.tag_groups.filter((g) => !goneGroups.has(g.group_id) && g.tag.length > 0);
      for (const r of cs.relations) if (r.tags.length && r.tags.some((t) => goneTags.has(t))) r.tags = r.tags.filter((t) => !goneTags.has(t));
      index.tagsChanged();
      req.changed();
      return {};
    },
  },

  'externalcontact/mark_tag': {
    method: 'POST',
    handler(req, cs) {
      const b = req.body;
      const add = idList(b.add_tag);
      const remove = idList(b.remove_tag);
      const r = relation(req.state, cs, b.userid, b.external_userid);
      if (add.length === 0 && remove.length === 0) throw new ApiError(40058);
      const index = indexOf(cs);
      for (const id of [...add, ...remove]) if (!index.tagOrGroup(id)?.tag) throw new ApiError(40068);
      const tags = new Set(r.tags);
      for (const id of add) tags.add(id);
      for (const id of remove) tags.delete(id);
      r.tags = [...tags];
      req.changed();
      return {};
    },
  },
};
