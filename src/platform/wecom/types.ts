/** Platform objects with the platform's own field names (wecom.md §2–3). */
export interface Department {
  id: number;
  name: string;
  name_en?: string;
  parentid: number;
  order?: number;
  department_leader?: string[];
}

export interface User {
  userid: string;
  name: string;
  department: number[];
  order?: number[];
  is_leader_in_dept?: number[];
  position?: string;
  mobile?: string;
  gender?: string;
  email?: string;
  alias?: string;
  telephone?: string;
  address?: string;
  status?: number;
  main_department?: number;
  direct_leader?: string[];
  enable?: number;
}

/** What user/create and user/update take: the writable fields of a User, plus the write-only flags. */
export type UserWrite = { userid: string; enable?: number; to_invite?: boolean } & Partial<
  Pick<User, 'name' | 'department' | 'is_leader_in_dept' | 'position' | 'mobile' | 'gender' | 'email' | 'alias' | 'telephone' | 'address'>
>;

export interface Tag {
  tagid: number;
  tagname: string;
}

export interface TagDetail {
  tagname: string;
  userlist: { userid: string; name: string }[];
  partylist: number[];
}

export interface DeptUser {
  userid: string;
  department: number;
}

export interface BatchResult {
  status: number;
  type: string;
  total: number;
  percentage: number;
  result?: { userid?: string; errcode: number; errmsg: string }[];
}
