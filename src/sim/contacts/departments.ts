import { ApiError } from '../errors.js';
import { CONTACTS_READ, CONTACTS_WRITE, type ApiRequest, type ApiRoute } from '../router.js';
import type { SimDepartment, SimState } from '../state.js';

/** department/* (wecom.md §2.1). */
const MAX_DEPTH = 15;
const FORBIDDEN = /[\\:*?"<>|]/;

export function findDepartment(state: SimState, id: number): SimDepartment | undefined {
  return state.departments.find((d) => d.id === id);
}

export function subtreeIds(state: SimState, id: number): number[] {
  const out = [id];
  for (let i = 0; i < out.length; i++) for (const d of state.departments) if (d.parentid === out[i] && d.id !== d.parentid) out.push(d.id);
  return out;
}

function depth(state: SimState, id: number): number {
  let n = 0;
  for (let cur = findDepartment(state, id); cur && cur.id !== 1; cur = findDepartment(state, cur.parentid)) n++;
  return n + 1;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || [...name].length < 1 || [...name].length > 32) throw new ApiError(60001);
  if (FORBIDDEN.test(name)) throw new ApiError(60009);
  return name;
}

function leaders(state: SimState, id: number): string[] {
  return state.users.filter((u) => u.department.some((d, i) => d === id && u.is_leader_in_dept[i] === 1)).map((u) => u.userid);
}

function view(state: SimState, d: SimDepartment) {
  return { id: d.id, name: d.name, name_en: d.name_en, department_leader: leaders(state, d.id), parentid: d.parentid, order: d.order };
}

function intParam(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ApiError(40058);
  return n;
}

function siblingHasName(state: SimState, parentid: number, name: string, except?: number): boolean {
  return state.departments.some((d) => d.parentid === parentid && d.name === name && d.id !== except && d.id !== 1);
}

/** The whole tree, or the subtree of `?id=`; an unknown id is 60003 with the list field present and empty. */
function selected(req: ApiRequest, listField: string): SimDepartment[] {
  const s = req.state;
  const id = intParam(req.query.get('id'));
  if (id === undefined) return s.departments;
  if (!findDepartment(s, id)) throw new ApiError(60003, { [listField]: [] });
  const ids = new Set(subtreeIds(s, id));
  return s.departments.filter((d) => ids.has(d.id));
}

export const departmentRoutes: Record<string, ApiRoute> = {
  'department/create': {
    method: 'POST',
    allow: CONTACTS_WRITE,
    ok: 'created',
    handler(req: ApiRequest) {
      const s = req.state;
      const name = checkName(req.body.name);
      const parentid = intParam(req.body.parentid);
      if (parentid === undefined || !findDepartment(s, parentid)) throw new ApiError(60004);
      if (siblingHasName(s, parentid, name)) throw new ApiError(60008);
      if (depth(s, parentid) + 1 > MAX_DEPTH) throw new ApiError(81002);
      let id = intParam(req.body.id);
      if (id !== undefined) {
        if (id <= 1) throw new ApiError(60123);
        if (findDepartment(s, id)) throw new ApiError(60008);
      } else {
        while (findDepartment(s, s.next_department_id)) s.next_department_id++;
        id = s.next_department_id++;
      }
      const order = intParam(req.body.order) ?? 0;
      s.departments.push({ id, name, name_en: req.body.name_en, parentid, order });
      req.changed();
      return { id };
    },
  },
  'department/update': {
    method: 'POST',
    allow: CONTACTS_WRITE,
    ok: 'updated',
    handler(req) {
      const s = req.state;
      const d = findDepartment(s, intParam(req.body.id) ?? -1);
      if (!d) throw new ApiError(60003);
      const name = req.body.name !== undefined ? checkName(req.body.name) : d.name;
      const parentid = intParam(req.body.parentid) ?? d.parentid;
      if (parentid !== d.parentid) {
        if (d.id === 1) throw new ApiError(60010);
        if (!findDepartment(s, parentid)) throw new ApiError(60004);
        if (subtreeIds(s, d.id).includes(parentid)) throw new ApiError(60010);
        const height = Math.max(...subtreeIds(s, d.id).map((id) => depth(s, id))) - depth(s, d.id) + 1;
        if (depth(s, parentid) + height > MAX_DEPTH) throw new ApiError(81002);
      }
      if ((name !== d.name || parentid !== d.parentid) && siblingHasName(s, parentid, name, d.id)) throw new ApiError(60008);
      d.name = name;
      d.parentid = parentid;
      if (req.body.order !== undefined) d.order = intParam(req.body.order)!;
      if (req.body.name_en !== undefined) d.name_en = req.body.name_en;
      req.changed();
      return {};
    },
  },
  'department/delete': {
    method: 'GET',
    allow: CONTACTS_WRITE,
    ok: 'deleted',
    handler(req) {
      const s = req.state;
      const id = intParam(req.query.get('id'));
      if (id === 1) throw new ApiError(60007);
      const d = findDepartment(s, id ?? -1);
      if (!d) throw new ApiError(60003);
      if (s.departments.some((c) => c.parentid === d.id && c.id !== d.id)) throw new ApiError(60006);
      if (s.users.some((u) => u.department.includes(d.id))) throw new ApiError(60005);
      s.departments = s.departments.filter((x) => x.id !== d.id);
      req.changed();
      return {};
    },
  },
  'department/list': {
    method: 'GET',
    allow: CONTACTS_READ,
    handler(req) {
      return { department: selected(req, 'department').map((d) => view(req.state, d)) };
    },
  },
  'department/simplelist': {
    method: 'GET',
    allow: CONTACTS_READ,
    handler(req) {
      return { department_id: selected(req, 'department_id').map((d) => ({ id: d.id, parentid: d.parentid, order: d.order })) };
    },
  },
  'department/get': {
    method: 'GET',
    allow: CONTACTS_READ,
    handler(req) {
      const d = findDepartment(req.state, intParam(req.query.get('id')) ?? -1);
      if (!d) throw new ApiError(60003);
      return { department: view(req.state, d) };
    },
  },
};
