import { findUser } from '../contacts/users.js';
import { ApiError } from '../errors.js';
import { customer, externalContactView, followInfoView, followUser, followUserView, member, relation } from './common.js';
import type { CustomerRoute } from './index.js';
import { firstAfter, indexOf } from './relations.js';
import type { SimRelation } from './state.js';
import { chars, cursorInt, decodeCursor, encodeCursor, optString } from './util.js';

/**
 * Customers (wecom.md §4.1): follow users, a member's customers, one customer with their followers,
 * the batch read per member (one row per relation, cursor pages of ≤ 100), and remarks.
 */
const BATCH_USERS = 100;
const BATCH_LIMIT = 100;
const BATCH_DEFAULT = 50;
const GET_PAGE = 500;

export const customerRoutes: Record<string, CustomerRoute> = {
  'externalcontact/get_follow_user_list': {
    method: 'GET',
    handler: (req, cs) => ({ follow_user: cs.follow_users.filter((u) => findUser(req.state, u) !== undefined) }),
  },

  'externalcontact/list': {
    method: 'GET',
    handler(req, cs) {
      const u = followUser(req.state, cs, req.query.get('userid'));
      const rels = indexOf(cs).relationsOf(u.userid);
      if (rels.length === 0) throw new ApiError(84061, { external_userid: [] });
      return { external_userid: rels.map((r) => r.external_userid) };
    },
  },

  'externalcontact/get': {
    method: 'GET',
    handler(req, cs) {
      const c = customer(cs, req.query.get('external_userid'));
      const rels = (indexOf(cs).byCustomer.get(c.external_userid) ?? []).filter((r) => findUser(req.state, r.userid) !== undefined);
      if (rels.length === 0) throw new ApiError(84061, { follow_user: [] });
      const parts = decodeCursor(req.query.get('cursor'), 1);
      const from = parts ? cursorInt(parts[0]) : 0;
      const page = rels.slice(from, from + GET_PAGE);
      const next = from + GET_PAGE < rels.length ? encodeCursor([from + GET_PAGE]) : '';
      return { external_contact: externalContactView(c), follow_user: page.map((r) => followUserView(cs, r)), next_cursor: next };
    },
  },

  'externalcontact/batch/get_by_user': {
    method: 'POST',
    handler(req, cs) {
      const b = req.body;
      const list: unknown = b.userid_list;
      if (!Array.isArray(list) || list.length === 0) throw new ApiError(40058, { external_contact_list: [] });
      if (list.length > BATCH_USERS) throw new ApiError(40032, { external_contact_list: [] });
      const limit = b.limit === undefined || b.limit === null ? BATCH_DEFAULT : Number(b.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > BATCH_LIMIT) throw new ApiError(40058, { external_contact_list: [] });
      // Members not in the company or not enabled for 客户联系 contribute nothing; duplicates count once.
      const index = indexOf(cs);
      const seen = new Set<string>();
      const users: string[] = [];
      for (const id of list) {
        if (typeof id !== 'string') throw new ApiError(40003, { external_contact_list: [] });
        const key = id.toLowerCase();
        if (seen.has(key)) continue;
        seen.add(key);
        if (index.follow.has(key) && findUser(req.state, id)) users.push(key);
      }
      // Cursor: position in the list, seq of the last relation given, and where it was (O(1) resume).
      const parts = decodeCursor(b.cursor, 3);
      let pos = parts ? cursorInt(parts[0]) : 0;
      let i = parts ? firstAfter(index.relationsOf(users[pos] ?? ''), cursorInt(parts[1]), cursorInt(parts[2])) : 0;
      const rows: Record<string, unknown>[] = [];
      let last: SimRelation | undefined;
      for (; pos < users.length; pos++, i = 0) {
        const rels = index.relationsOf(users[pos]!);
        while (i < rels.length && rows.length < limit) {
          const r = rels[i++]!;
          const c = index.customers.get(r.external_userid);
          if (!c) continue;
          rows.push({ external_contact: externalContactView(c), follow_info: followInfoView(r) });
          last = r;
        }
        if (rows.length === limit) break;
      }
      let next = '';
      if (rows.length === limit && last) {
        // More to come only if this member or a later one has relations left.
        let more = i < index.relationsOf(users[pos]!).length;
        for (let p = pos + 1; !more && p < users.length; p++) more = index.relationsOf(users[p]!).length > 0;
        if (more) next = encodeCursor([pos, last.seq, i]);
      }
      return { external_contact_list: rows, next_cursor: next };
    },
  },

  'externalcontact/remark': {
    method: 'POST',
    handler(req, cs) {
      const b = req.body;
      member(req.state, b.userid);
      const r = relation(req.state, cs, b.userid, b.external_userid);
      const c = customer(cs, b.external_userid);
      const fields = ['remark', 'description', 'remark_company', 'remark_mobiles', 'remark_pic_mediaid'];
      if (fields.every((k) => b[k] === undefined || b[k] === null)) throw new ApiError(40058);
      const remark = optString(b.remark, 20);
      const description = optString(b.description, 150);
      const company = optString(b.remark_company, 20);
      optString(b.remark_pic_mediaid, 256, 40007);
      let mobiles: string[] | undefined;
      if (b.remark_mobiles !== undefined && b.remark_mobiles !== null) {
        if (!Array.isArray(b.remark_mobiles) || b.remark_mobiles.length > 5) throw new ApiError(40058);
        for (const m of b.remark_mobiles) if (typeof m !== 'string' || chars(m) > 32 || !/^[\d+\- ]*$/.test(m)) throw new ApiError(40058);
        mobiles = (b.remark_mobiles as string[]).filter((m) => m !== '');
      }
      if (remark !== undefined) r.remark = remark;
      if (description !== undefined) r.description = description;
      // The company remark only applies to WeChat users (wecom.md §4.1).
      if (company !== undefined && c.type === 1) r.remark_corp_name = company;
      if (mobiles !== undefined) r.remark_mobiles = mobiles;
      req.changed();
      return {};
    },
  },
};
