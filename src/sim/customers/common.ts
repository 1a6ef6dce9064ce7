import { findUser } from '../contacts/users.js';
import { ApiError } from '../errors.js';
import type { SecretKind } from '../auth.js';
import { GENERATED_MEMBERS } from '../seed.js';
import type { SimState, SimUser } from '../state.js';
import { indexOf } from './relations.js';
import { seedCustomers } from './seed.js';
import type { CustomerState, SimCustomer, SimRelation } from './state.js';

/** Helpers shared by the 客户联系 routes: state, lookups with the platform's errcodes, and the answer shapes. */

/** Who may call external-contact APIs (wecom.md §1.2): the 客户联系 secret or a self-built app configured for it. */
export const CUSTOMER_API: SecretKind[] = ['customer', 'app'];

/** `state.customers`, seeded for a state file written before 客户联系 existed. */
export function customersOf(state: SimState): { cs: CustomerState; seeded: boolean } {
  if (state.customers) return { cs: state.customers, seeded: false };
  const named = state.users.slice(0, 8);
  const generated = state.users.slice(8, 8 + GENERATED_MEMBERS);
  state.customers = seedCustomers(named, generated, [], Date.UTC(2026, 0, 5));
  return { cs: state.customers, seeded: true };
}

/** A member of the company (40003 otherwise; 41009 when missing). */
export function member(state: SimState, userid: unknown): SimUser {
  if (userid === undefined || userid === null || userid === '') throw new ApiError(41009);
  const u = findUser(state, userid);
  if (!u) throw new ApiError(40003);
  return u;
}

/** A member enabled for 客户联系 (84074 otherwise, wecom.md §4.7). */
export function followUser(state: SimState, cs: CustomerState, userid: unknown): SimUser {
  const u = member(state, userid);
  if (!indexOf(cs).follow.has(u.userid.toLowerCase())) throw new ApiError(84074);
  return u;
}

export function isFollowUser(state: SimState, cs: CustomerState, userid: string): boolean {
  return indexOf(cs).follow.has(userid.toLowerCase()) && findUser(state, userid) !== undefined;
}

/** A customer by external_userid (41035 missing, 40096 unknown). */
export function customer(cs: CustomerState, externalUserid: unknown): SimCustomer {
  if (externalUserid === undefined || externalUserid === null || externalUserid === '') throw new ApiError(41035);
  const c = typeof externalUserid === 'string' ? indexOf(cs).customers.get(externalUserid) : undefined;
  if (!c) throw new ApiError(40096);
  return c;
}

/** The relation between a member and a customer (84061 when there is none). */
export function relation(state: SimState, cs: CustomerState, userid: unknown, externalUserid: unknown): SimRelation {
  const u = member(state, userid);
  const c = customer(cs, externalUserid);
  const r = indexOf(cs).relation(u.userid, c.external_userid);
  if (!r) throw new ApiError(84061);
  return r;
}

export function avatarOf(c: SimCustomer): string {
  return c.type === 1 ? `http://wx.qlogo.cn/mmhead/${c.external_userid.slice(10)}/0` : `https://wework.qpic.cn/wwhead/${c.external_userid.slice(10)}/0`;
}

/** `external_contact` as get and batch/get_by_user answer it. */
export function externalContactView(c: SimCustomer): Record<string, unknown> {
  if (c.type === 1) return { external_userid: c.external_userid, name: c.name, type: 1, avatar: avatarOf(c), gender: c.gender };
  return {
    external_userid: c.external_userid,
    name: c.name,
    type: 2,
    avatar: avatarOf(c),
    gender: c.gender,
    position: c.position ?? '',
    corp_name: c.corp_name ?? '',
    corp_full_name: c.corp_full_name ?? '',
    external_profile: { external_attr: [] },
  };
}

/** The fields every relation view has, in the platform's order, around `tags` (get) or `tag_id` (batch). */
function relationView(r: SimRelation, key: 'tags' | 'tag_id', tags: unknown): Record<string, unknown> {
  const view: Record<string, unknown> = {
    userid: r.userid,
    remark: r.remark ?? '',
    description: r.description ?? '',
    createtime: r.createtime,
    [key]: tags,
  };
  if (r.remark_corp_name) view.remark_corp_name = r.remark_corp_name;
  view.remark_mobiles = r.remark_mobiles ?? [];
  view.oper_userid = r.oper_userid;
  view.add_way = r.add_way;
  if (r.state) view.state = r.state;
  return view;
}

/** `follow_user[]` of externalcontact/get: tags with their names and groups. */
export function followUserView(cs: CustomerState, r: SimRelation): Record<string, unknown> {
  const index = indexOf(cs);
  const tags = r.tags.flatMap((id) => {
    const found = index.tagOrGroup(id);
    return found?.tag ? [{ group_name: found.group.group_name, tag_name: found.tag.name, tag_id: id, type: 1 }] : [];
  });
  return relationView(r, 'tags', tags);
}

/** `follow_info` of batch/get_by_user: tag ids only (wecom.md §4.1). */
export function followInfoView(r: SimRelation): Record<string, unknown> {
  return relationView(r, 'tag_id', r.tags);
}
