import type { OrgTree } from '../core/org.js';
import type { Store } from '../store/store.js';

/**
 * Assignment rules: a customer who arrives through a shared contact way is handed to the member the
 * first matching rule chooses — by the way's `state`, by a corp tag the customer already carries
 * (a region, say), or by the receiving member's department — either one member or the members of a
 * department in turn. Rule ids and turns are taken atomically, so several instances never hand out the
 * same id or the same turn.
 */
export const ASSIGN_RULES = 'assign-rules';

export interface AssignRule {
  id: number;
  when: { state?: string; tag?: string; dept?: number };
  to: { userid?: string; dept?: number };
  created_by: string;
  created_at: string;
}

export async function loadRules(store: Store): Promise<AssignRule[]> {
  return (await store.list<AssignRule>(ASSIGN_RULES)).sort((a, b) => a.id - b.id);
}

export function ruleMatches(rule: AssignRule, arrival: { state?: string; tags: string[]; receiverDepartments: number[] }, org: OrgTree): boolean {
  const w = rule.when;
  if (w.state !== undefined && w.state !== arrival.state) return false;
  if (w.tag !== undefined && !arrival.tags.includes(w.tag)) return false;
  if (w.dept !== undefined && !arrival.receiverDepartments.some((d) => org.isWithin(d, w.dept!))) return false;
  return true;
}

/**
 * The member a rule hands the customer to. For a department, its follow users take turns (the turn is
 * kept in the store so several arrivals spread out).
 */
export async function chooseTaker(store: Store, rule: AssignRule, org: OrgTree, followUsers: Set<string>): Promise<string | undefined> {
  if (rule.to.userid) return rule.to.userid;
  const dept = rule.to.dept!;
  const members = org
    .subtree(dept)
    .flatMap((d) => org.directMemberIds(d))
    .filter((u, i, all) => all.indexOf(u) === i && followUsers.has(u))
    .sort();
  if (members.length === 0) return undefined;
  const taken = await store.update<{ next: number }>('assign-turns', String(rule.id), (cur) => ({ next: (cur?.next ?? 0) + 1 }));
  return members[(taken!.next - 1) % members.length];
}

/** Stores a new rule under the next free id (another instance may take an id at the same moment); returns it. */
export async function addRule(store: Store, rule: Omit<AssignRule, 'id'> & { id?: number }): Promise<AssignRule> {
  let id = rule.id ?? ((await loadRules(store)).at(-1)?.id ?? 0) + 1;
  for (;;) {
    const candidate = { ...rule, id };
    if (await store.create(ASSIGN_RULES, String(id), candidate)) return candidate;
    id++;
  }
}
