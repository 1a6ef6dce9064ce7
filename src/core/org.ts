import { distance } from 'fastest-levenshtein';
import { InputError } from './errors.js';
import { t } from './i18n.js';

/**
 * The company's department tree as the platform reports it, with the lookups every command needs:
 * paths (`销售部/华东区`), subtrees (for `--recursive` and the policy's `within`), member counts, and
 * resolving what a person typed — an id, a name or a path — to exactly one department.
 */
export interface DepartmentInfo {
  id: number;
  name: string;
  parentid: number;
  order?: number;
  department_leader?: string[];
}

export interface Membership {
  userid: string;
  department: number;
}

export const ROOT_DEPARTMENT = 1;

export class OrgTree {
  private readonly byId = new Map<number, DepartmentInfo>();
  private readonly childrenOf = new Map<number, DepartmentInfo[]>();
  private readonly directMembers = new Map<number, Set<string>>();

  constructor(departments: DepartmentInfo[], memberships: Membership[] = []) {
    for (const d of departments) this.byId.set(d.id, d);
    for (const d of departments) {
      if (d.id === ROOT_DEPARTMENT || !this.byId.has(d.parentid)) continue;
      const list = this.childrenOf.get(d.parentid) ?? [];
      list.push(d);
      this.childrenOf.set(d.parentid, list);
    }
    // The platform orders siblings by `order` descending ("bigger = earlier"), then by id.
    for (const list of this.childrenOf.values()) list.sort((a, b) => (b.order ?? 0) - (a.order ?? 0) || a.id - b.id);
    for (const m of memberships) {
      const set = this.directMembers.get(m.department) ?? new Set<string>();
      set.add(m.userid);
      this.directMembers.set(m.department, set);
    }
  }

  get all(): DepartmentInfo[] {
    return [...this.byId.values()];
  }

  get root(): DepartmentInfo | undefined {
    return this.byId.get(ROOT_DEPARTMENT) ?? this.all.find((d) => !this.byId.has(d.parentid));
  }

  get(id: number): DepartmentInfo | undefined {
    return this.byId.get(id);
  }

  children(id: number): DepartmentInfo[] {
    return this.childrenOf.get(id) ?? [];
  }

  /** Ids of the department and every department below it. */
  subtree(id: number): number[] {
    const out: number[] = [];
    const stack = [id];
    while (stack.length) {
      const cur = stack.pop()!;
      out.push(cur);
      for (const c of this.children(cur)) stack.push(c.id);
    }
    return out;
  }

  isWithin(id: number, ancestor: number): boolean {
    for (let cur: DepartmentInfo | undefined = this.byId.get(id); cur; cur = this.byId.get(cur.parentid)) {
      if (cur.id === ancestor) return true;
      if (cur.id === ROOT_DEPARTMENT) break;
    }
    return false;
  }

  /** `销售部/华东区`; the root department is shown by its own name. */
  path(id: number): string {
    const names: string[] = [];
    for (let cur = this.byId.get(id); cur; cur = this.byId.get(cur.parentid)) {
      if (cur.id === ROOT_DEPARTMENT && names.length) break;
      names.unshift(cur.name);
      if (cur.id === ROOT_DEPARTMENT) break;
    }
    return names.join('/');
  }

  directMemberIds(id: number): string[] {
    return [...(this.directMembers.get(id) ?? [])];
  }

  /** Distinct members in the department and below (a member in two sub-departments counts once). */
  totalMemberCount(id: number): number {
    const seen = new Set<string>();
    for (const d of this.subtree(id)) for (const u of this.directMembers.get(d) ?? []) seen.add(u);
    return seen.size;
  }

  /** Departments a member of `userid`'s leadership manages: the subtrees of the departments they lead. */
  managedBy(userid: string): number[] {
    const lead = this.all.filter((d) => d.department_leader?.includes(userid)).map((d) => d.id);
    return [...new Set(lead.flatMap((id) => this.subtree(id)))];
  }

  /**
   * Resolve what a person typed. Ambiguity is an error that lists every candidate with its path and
   * id — never a guess.
   */
  resolve(ref: string): DepartmentInfo {
    const typed = ref.trim().replace(/^\/+|\/+$/g, '');
    if (/^\d+$/.test(typed)) {
      const d = this.byId.get(Number(typed));
      if (d) return d;
      throw unknownDepartment(ref, []);
    }
    const candidates = typed.includes('/') ? this.byPath(typed) : this.all.filter((d) => d.name === typed);
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length > 1) {
      const list = candidates.map((d) => `${this.path(d.id)}（id ${d.id}）`).join('、');
      const listEn = candidates.map((d) => `${this.path(d.id)} (id ${d.id})`).join(', ');
      throw new InputError(
        'AMBIGUOUS_DEPARTMENT',
        {
          zh: `有 ${candidates.length} 个部门叫 “${ref}”：${list}。请写完整路径或 id。`,
          en: `${candidates.length} departments are called “${ref}”: ${listEn}. Give the full path or the id.`,
        },
        { candidates: candidates.map((d) => ({ id: d.id, path: this.path(d.id) })) },
      );
    }
    throw unknownDepartment(ref, this.closest(typed));
  }

  private byPath(typed: string): DepartmentInfo[] {
    const parts = typed.split('/').map((p) => p.trim()).filter(Boolean);
    const root = this.root;
    if (root && parts[0] === root.name) parts.shift();
    if (parts.length === 0) return root ? [root] : [];
    // Full path from the root first; otherwise the path may start below the top level.
    const full = this.all.filter((d) => this.path(d.id) === parts.join('/'));
    if (full.length) return full;
    const suffix = parts.join('/');
    return this.all.filter((d) => d.id !== ROOT_DEPARTMENT && this.path(d.id).endsWith(`/${suffix}`));
  }

  private closest(typed: string): string[] {
    const last = typed.split('/').pop() ?? typed;
    return this.all
      .filter((d) => d.name.includes(last) || last.includes(d.name) || distance(d.name, last) <= Math.max(1, Math.floor(last.length / 3)))
      .slice(0, 3)
      .map((d) => this.path(d.id));
  }
}

function unknownDepartment(ref: string, suggestions: string[]): InputError {
  const hint = suggestions.length
    ? t('你是不是想写：{s}？', 'Did you mean: {s}?', { s: suggestions.join('、') })
    : t('用 dept list 查看所有部门。', 'Use `dept list` to see every department.');
  return new InputError(
    'UNKNOWN_DEPARTMENT',
    { zh: `找不到部门 “${ref}”。${hint.zh}`, en: `There is no department “${ref}”. ${hint.en}` },
    { suggestions },
  );
}
