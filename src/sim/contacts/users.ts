import { ApiError } from '../errors.js';
import { CONTACTS_READ, CONTACTS_WRITE, type ApiRequest, type ApiRoute } from '../router.js';
import type { SimState, SimUser } from '../state.js';
import { findDepartment, subtreeIds } from './departments.js';

/** user/* (wecom.md §2.2): field rules, case-insensitive userids, list_id with one row per (user, dept). */
const USERID = /^[A-Za-z0-9][A-Za-z0-9_@.-]*$/;
const MOBILE = /^(\+\d{1,4}[ -]?)?\d[\d-]{4,30}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const chars = (s: string) => [...s].length;

interface UserIndex {
  users: SimUser[];
  size: number;
  byId: Map<string, SimUser>;
  byMobile: Map<string, SimUser>;
  byEmail: Map<string, SimUser>;
}

/**
 * Lookups by userid, mobile and email stay O(1) as the company grows (a 5,000-member import would
 * otherwise scan every member per call). Rebuilt when the user array is replaced or resized, and
 * dropped by every write that changes a user.
 */
let index: UserIndex | undefined;

function userIndex(state: SimState): UserIndex {
  if (index && index.users === state.users && index.size === state.users.length) return index;
  const byId = new Map<string, SimUser>();
  const byMobile = new Map<string, SimUser>();
  const byEmail = new Map<string, SimUser>();
  for (const u of state.users) {
    byId.set(u.userid.toLowerCase(), u);
    if (u.mobile) byMobile.set(normMobile(u.mobile), u);
    if (u.email) byEmail.set(u.email.toLowerCase(), u);
  }
  index = { users: state.users, size: state.users.length, byId, byMobile, byEmail };
  return index;
}

function invalidateIndex(): void {
  index = undefined;
}

/** Keeps a live index in step with one user's keys instead of rebuilding it. */
function reindex(state: SimState, u: SimUser, old?: { mobile: string; email: string }): void {
  if (!index || index.users !== state.users) return;
  if (old?.mobile && index.byMobile.get(normMobile(old.mobile)) === u) index.byMobile.delete(normMobile(old.mobile));
  if (old?.email && index.byEmail.get(old.email.toLowerCase()) === u) index.byEmail.delete(old.email.toLowerCase());
  index.byId.set(u.userid.toLowerCase(), u);
  if (u.mobile) index.byMobile.set(normMobile(u.mobile), u);
  if (u.email) index.byEmail.set(u.email.toLowerCase(), u);
  index.size = state.users.length;
}

export function findUser(state: SimState, userid: unknown): SimUser | undefined {
  if (typeof userid !== 'string') return undefined;
  return userIndex(state).byId.get(userid.toLowerCase());
}

function normMobile(m: string): string {
  const d = m.replace(/[^\d+]/g, '');
  return d.startsWith('+86') ? d.slice(3) : d.replace(/^\+/, '');
}

/** Checks the writable fields of a create or update body; `self` is the member being updated. */
function checkFields(req: ApiRequest, b: Record<string, any>, self?: SimUser): void {
  const s = req.state;
  if (b.name !== undefined && (typeof b.name !== 'string' || chars(b.name) < 1 || chars(b.name) > 64)) throw new ApiError(60112);
  if (b.alias !== undefined && b.alias !== '' && (typeof b.alias !== 'string' || chars(b.alias) > 64)) throw new ApiError(40058);
  if (b.position !== undefined && (typeof b.position !== 'string' || chars(b.position) > 128)) throw new ApiError(40058);
  if (b.gender !== undefined && !['0', '1', '2', 0, 1, 2].includes(b.gender)) throw new ApiError(40058);
  if (b.department !== undefined) {
    if (!Array.isArray(b.department) || b.department.length === 0) throw new ApiError(60127);
    if (b.department.length > 100) throw new ApiError(40058);
    for (const d of b.department) if (!findDepartment(s, Number(d))) throw new ApiError(req.options.unknownDepartmentErrcode);
    for (const key of ['order', 'is_leader_in_dept']) {
      if (b[key] !== undefined && (!Array.isArray(b[key]) || b[key].length !== b.department.length)) throw new ApiError(40058);
    }
  }
  if (b.mobile !== undefined && b.mobile !== '') {
    if (typeof b.mobile !== 'string' || b.mobile.length > 32 || !MOBILE.test(b.mobile.trim())) throw new ApiError(60103);
    const owner = userIndex(s).byMobile.get(normMobile(b.mobile));
    if (owner && owner !== self) throw new ApiError(60104);
  }
  if (b.email !== undefined && b.email !== '') {
    if (typeof b.email !== 'string' || bytes(b.email) < 6 || bytes(b.email) > 64 || !EMAIL.test(b.email)) throw new ApiError(60105);
    const owner = userIndex(s).byEmail.get(b.email.toLowerCase());
    if (owner && owner !== self) throw new ApiError(60106);
  }
  if (b.telephone !== undefined && b.telephone !== '' && (typeof b.telephone !== 'string' || bytes(b.telephone) > 32 || !/^[\d+,-]+$/.test(b.telephone))) {
    throw new ApiError(40058);
  }
  if (b.address !== undefined && (typeof b.address !== 'string' || chars(b.address) > 128)) throw new ApiError(40058);
}

function apply(u: SimUser, b: Record<string, any>): void {
  for (const key of ['name', 'position', 'mobile', 'email', 'alias', 'telephone', 'address'] as const) if (typeof b[key] === 'string') u[key] = b[key];
  if (b.gender !== undefined) u.gender = String(b.gender);
  if (Array.isArray(b.department)) {
    u.department = b.department.map(Number);
    u.order = Array.isArray(b.order) ? b.order.map(Number) : u.department.map(() => 0);
    u.is_leader_in_dept = Array.isArray(b.is_leader_in_dept) ? b.is_leader_in_dept.map(Number) : u.department.map(() => 0);
    if (!u.department.includes(u.main_department)) u.main_department = u.department[0]!;
  } else if (Array.isArray(b.is_leader_in_dept) && b.is_leader_in_dept.length === u.department.length) {
    u.is_leader_in_dept = b.is_leader_in_dept.map(Number);
  }
  if (b.main_department !== undefined && u.department.includes(Number(b.main_department))) u.main_department = Number(b.main_department);
  if (Array.isArray(b.direct_leader)) u.direct_leader = b.direct_leader.slice(0, 5);
  if (b.enable !== undefined) u.status = Number(b.enable) === 0 ? 2 : u.status === 2 ? 1 : u.status;
}

export function publicUser(u: SimUser): Record<string, unknown> {
  // Spelled out: copying all-but-one key generically cost tens of milliseconds for a 10,000-member
  // user/list, during which the simulator answered nothing else.
  return {
    userid: u.userid,
    name: u.name,
    department: u.department,
    order: u.order,
    is_leader_in_dept: u.is_leader_in_dept,
    position: u.position,
    mobile: u.mobile,
    gender: u.gender,
    email: u.email,
    alias: u.alias,
    telephone: u.telephone,
    address: u.address,
    status: u.status,
    main_department: u.main_department,
    direct_leader: u.direct_leader,
    enable: u.status === 2 ? 0 : 1,
  };
}

export function createUser(req: ApiRequest, b: Record<string, any>): SimUser {
  const s = req.state;
  if (typeof b.userid !== 'string' || bytes(b.userid) < 1 || bytes(b.userid) > 64 || !USERID.test(b.userid)) throw new ApiError(40003);
  if (b.name === undefined) throw new ApiError(60112);
  if (b.department === undefined) throw new ApiError(60127);
  checkFields(req, b);
  if (!b.mobile && !b.email) throw new ApiError(60129);
  if (findUser(s, b.userid)) throw new ApiError(60102);
  const u: SimUser = {
    userid: b.userid,
    name: '',
    department: [],
    order: [],
    is_leader_in_dept: [],
    position: '',
    mobile: '',
    gender: '0',
    email: '',
    alias: '',
    telephone: '',
    address: '',
    status: 4,
    main_department: 0,
    direct_leader: [],
    created_at: req.now,
  };
  apply(u, b);
  if (Number(b.enable) === 0) u.status = 2;
  s.users.push(u);
  reindex(s, u);
  req.changed();
  return u;
}

export function updateUser(req: ApiRequest, b: Record<string, any>): SimUser {
  const u = findUser(req.state, b.userid);
  if (!u) throw new ApiError(60111);
  checkFields(req, b, u);
  const old = { mobile: u.mobile, email: u.email };
  apply(u, b);
  reindex(req.state, u, old);
  req.changed();
  return u;
}

function usersIn(s: SimState, deptId: number, fetchChild: boolean): SimUser[] {
  const ids = new Set(fetchChild ? subtreeIds(s, deptId) : [deptId]);
  return s.users.filter((u) => u.department.some((d) => ids.has(d)));
}

function listTarget(req: ApiRequest): { dept: number; child: boolean } {
  const dept = Number(req.query.get('department_id'));
  if (!Number.isInteger(dept) || !findDepartment(req.state, dept)) throw new ApiError(60003, { userlist: [] });
  return { dept, child: req.query.get('fetch_child') === '1' };
}

/** Cursors are opaque to clients; here they encode an offset into the (user, dept) rows. */
const encodeCursor = (offset: number) => Buffer.from(`lid:${offset}`).toString('base64url');
function decodeCursor(c: unknown): number {
  if (c === undefined || c === null || c === '') return 0;
  const m = /^lid:(\d+)$/.exec(Buffer.from(String(c), 'base64url').toString());
  if (!m) throw new ApiError(40058);
  return Number(m[1]);
}

export const userRoutes: Record<string, ApiRoute> = {
  'user/create': { method: 'POST', allow: CONTACTS_WRITE, ok: 'created', handler: (req) => (createUser(req, req.body), {}) },
  'user/update': { method: 'POST', allow: CONTACTS_WRITE, ok: 'updated', handler: (req) => (updateUser(req, req.body), {}) },
  'user/delete': {
    method: 'GET',
    allow: CONTACTS_WRITE,
    ok: 'deleted',
    handler(req) {
      const u = findUser(req.state, req.query.get('userid'));
      if (!u) throw new ApiError(60111);
      if (u.userid.toLowerCase() === req.state.creator.toLowerCase()) throw new ApiError(301005);
      req.state.users = req.state.users.filter((x) => x !== u);
      invalidateIndex();
      for (const tag of req.state.tags) tag.userlist = tag.userlist.filter((x) => x.toLowerCase() !== u.userid.toLowerCase());
      req.changed();
      return {};
    },
  },
  'user/batchdelete': {
    method: 'POST',
    allow: CONTACTS_WRITE,
    ok: 'deleted',
    handler(req) {
      const list = req.body.useridlist;
      if (!Array.isArray(list) || list.length === 0 || list.length > 200) throw new ApiError(40032);
      const found: (SimUser | undefined)[] = list.map((id: unknown) => findUser(req.state, id));
      // Any invalid userid fails the whole call (wecom.md §2.2).
      if (found.some((u) => !u)) throw new ApiError(60111);
      const users = found as SimUser[];
      if (users.some((u) => u.userid.toLowerCase() === req.state.creator.toLowerCase())) throw new ApiError(301005);
      req.state.users = req.state.users.filter((u) => !users.includes(u));
      invalidateIndex();
      req.changed();
      return {};
    },
  },
  'user/get': {
    method: 'GET',
    allow: CONTACTS_READ,
    handler(req) {
      const u = findUser(req.state, req.query.get('userid'));
      if (!u) throw new ApiError(60111);
      return publicUser(u);
    },
  },
  'user/simplelist': {
    method: 'GET',
    allow: CONTACTS_READ,
    handler(req) {
      const { dept, child } = listTarget(req);
      return { userlist: usersIn(req.state, dept, child).map((u) => ({ userid: u.userid, name: u.name, department: u.department })) };
    },
  },
  'user/list': {
    method: 'GET',
    allow: CONTACTS_READ,
    handler(req) {
      const { dept, child } = listTarget(req);
      return { userlist: usersIn(req.state, dept, child).map(publicUser) };
    },
  },
  'user/list_id': {
    method: 'POST',
    allow: CONTACTS_WRITE,
    handler(req) {
      const limit = req.body.limit === undefined ? 10000 : Number(req.body.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10000) throw new ApiError(40058, { dept_user: [] });
      const offset = decodeCursor(req.body.cursor);
      const rows = req.state.users.flatMap((u) => u.department.map((department) => ({ userid: u.userid, department })));
      const page = rows.slice(offset, offset + limit);
      const next = offset + limit < rows.length ? encodeCursor(offset + limit) : '';
      return { next_cursor: next, dept_user: page };
    },
  },
  'user/getuserid': {
    method: 'POST',
    allow: CONTACTS_READ,
    handler(req) {
      const u = typeof req.body.mobile === 'string' ? userIndex(req.state).byMobile.get(normMobile(req.body.mobile)) : undefined;
      if (!u) throw new ApiError(46004);
      return { userid: u.userid };
    },
  },
  'user/get_userid_by_email': {
    method: 'POST',
    allow: CONTACTS_READ,
    handler(req) {
      const u = userIndex(req.state).byEmail.get(String(req.body.email ?? '').toLowerCase());
      if (!u) throw new ApiError(46004);
      return { userid: u.userid };
    },
  },
};
