import type { OrgTree } from '../core/org.js';
import type { Directory } from '../approval/service.js';
import type { PolicyActor, PolicyEngine } from './engine.js';

/**
 * The policy's view of every member: their departments, and the departments they manage — the
 * subtrees of the departments they lead (derived from contacts) plus those the policy lists for them
 * explicitly (`manages`).
 */
export function buildDirectory(org: OrgTree, policy: PolicyEngine): Directory {
  const departmentsOf = new Map<string, number[]>();
  for (const d of org.all) {
    for (const u of org.directMemberIds(d.id)) {
      const list = departmentsOf.get(u.toLowerCase()) ?? [];
      list.push(d.id);
      departmentsOf.set(u.toLowerCase(), list);
    }
  }
  const cache = new Map<string, PolicyActor>();
  return {
    org,
    policy,
    actor(userid: string): PolicyActor {
      const key = userid.toLowerCase();
      let a = cache.get(key);
      if (!a) {
        const explicit = policy.explicitlyManaged(userid).flatMap((ref) => {
          try {
            return org.subtree(org.resolve(String(ref)).id);
          } catch {
            return []; // `policy lint` reports departments that do not exist
          }
        });
        a = { userid, departments: departmentsOf.get(key) ?? [], managed_departments: [...new Set([...org.managedBy(userid), ...explicit])] };
        cache.set(key, a);
      }
      return a;
    },
  };
}

/** Members who would be allowed the action on this resource: "who can do it instead". */
export function whoCan(dir: Directory, action: string, resource: Record<string, unknown>, channel: string): string[] {
  const users = [...new Set(dir.org.all.flatMap((d) => dir.org.directMemberIds(d.id)))];
  return users.filter((u) => dir.policy.decide({ actor: dir.actor(u), action, resource, context: { channel } }).effect !== 'deny');
}
