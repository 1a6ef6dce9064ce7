import { t, type Text } from '../core/i18n.js';
import { loadPolicySet } from './loader.js';
import { matchesAction, type ApprovalChain, type Condition, type PolicySet, type Rule } from './model.js';

/**
 * Least-privilege decisions (ARCHITECTURE §5). Default deny; any matching forbid beats every permit;
 * a permitted action that an approval chain covers becomes `needs-approval`. Rules are indexed by
 * action once, so a decision is a few lookups, no I/O, and does not slow down as the policy grows.
 */
export interface PolicyActor {
  userid: string;
  departments: number[];
  managed_departments: number[];
}

export interface PolicyRequest {
  actor: PolicyActor;
  action: string;
  resource: Record<string, unknown>;
  context: { channel: string; room?: string };
}

export interface RuleTrace {
  rule: Rule;
  applied: boolean;
  why: Text;
}

export interface Decision {
  effect: 'permit' | 'deny' | 'needs-approval';
  /** The rule that decided: the permit that allowed, or the forbid that denied. */
  rule?: string;
  roles: string[];
  reason: Text;
  approval?: ApprovalChain;
  trace?: RuleTrace[];
}

export class PolicyEngine {
  private readonly byAction = new Map<string, Rule[]>();
  private readonly approvalByAction = new Map<string, ApprovalChain | null>();
  private readonly roleClosure = new Map<string, string[]>();

  constructor(readonly set: PolicySet) {
    for (const name of Object.keys(set.roles)) this.roleClosure.set(name, this.closure(name, new Set()));
  }

  static load(dir: string, knownActions?: string[]): PolicyEngine {
    return new PolicyEngine(loadPolicySet(dir, knownActions));
  }

  /** Roles an actor holds, with the roles those inherit. */
  rolesOf(actor: PolicyActor): string[] {
    const held = new Set<string>();
    for (const role of Object.values(this.set.roles)) {
      const direct =
        role.members.includes(actor.userid) ||
        role.members.includes('*') ||
        (role.derived === 'department-leaders' && actor.managed_departments.length > 0) ||
        actor.userid in role.manages;
      if (direct) for (const r of this.roleClosure.get(role.name)!) held.add(r);
    }
    return [...held];
  }

  /**
   * The WeCom userid a chat identity maps to (identities.yaml). WeCom senders are userids already;
   * anyone unmapped on another channel gets undefined, and the channel refuses them politely.
   */
  identity(channel: 'wecom' | 'wechaty' | 'slack', chatId: string): string | undefined {
    const mapped = this.set.identities[channel]?.[chatId];
    return mapped ?? (channel === 'wecom' ? chatId : undefined);
  }

  /** Departments (id or path) an explicit department admin was given in `manages`. */
  explicitlyManaged(userid: string): (string | number)[] {
    return Object.values(this.set.roles).flatMap((r) => r.manages[userid] ?? []);
  }

  rulesFor(action: string): Rule[] {
    let rules = this.byAction.get(action);
    if (!rules) {
      rules = this.set.rules.filter((r) => r.actions.some((a) => matchesAction(a, action)));
      this.byAction.set(action, rules);
    }
    return rules;
  }

  approvalFor(action: string): ApprovalChain | undefined {
    let chain = this.approvalByAction.get(action);
    if (chain === undefined) {
      chain = this.set.approvals.find((a) => a.actions.some((p) => matchesAction(p, action))) ?? null;
      this.approvalByAction.set(action, chain);
    }
    return chain ?? undefined;
  }

  /**
   * Whether an actor may run an action at all, before any resource is known: `yes` (a permit without
   * conditions), `maybe` (a permit whose conditions depend on the resource), `no`. `help` lists by it.
   */
  mayRun(actor: PolicyActor, action: string): 'yes' | 'maybe' | 'no' {
    const roles = this.rolesOf(actor);
    let best: 'yes' | 'maybe' | 'no' = 'no';
    for (const rule of this.rulesFor(action)) {
      if (!rule.roles.some((r) => roles.includes(r))) continue;
      if (rule.effect === 'forbid') {
        if (rule.when.length === 0) return 'no';
        continue;
      }
      if (rule.when.length === 0) best = 'yes';
      else if (best === 'no') best = 'maybe';
    }
    return best;
  }

  decide(req: PolicyRequest): Decision {
    return this.evaluate(req, false);
  }

  /** The same decision, with every rule that was considered and why it applied or not. */
  explain(req: PolicyRequest): Decision {
    return this.evaluate(req, true);
  }

  private evaluate(req: PolicyRequest, withTrace: boolean): Decision {
    const roles = this.rolesOf(req.actor);
    const trace: RuleTrace[] | undefined = withTrace ? [] : undefined;
    let permit: Rule | undefined;
    let forbid: Rule | undefined;
    for (const rule of this.rulesFor(req.action)) {
      if (!rule.roles.some((r) => roles.includes(r))) {
        trace?.push({ rule, applied: false, why: t('{u} 不属于角色 {r}', '{u} does not hold {r}', { u: req.actor.userid, r: rule.roles.join(' / ') }) });
        continue;
      }
      const failed = this.firstFailedCondition(rule, req);
      if (failed) {
        trace?.push({ rule, applied: false, why: failed });
        continue;
      }
      trace?.push({ rule, applied: true, why: rule.effect === 'forbid' ? t('匹配，禁止', 'matches: forbids') : t('匹配，允许', 'matches: permits') });
      if (rule.effect === 'forbid') {
        forbid ??= rule;
        if (!withTrace) break;
      } else permit ??= rule;
    }
    if (forbid) {
      return { effect: 'deny', rule: forbid.id, roles, trace, reason: t('规则 {id} 禁止此操作。', 'Rule {id} forbids this.', { id: forbid.id }) };
    }
    if (!permit) {
      return { effect: 'deny', roles, trace, reason: t('没有任何规则允许 {u} 执行 {a}。', 'No rule permits {u} to {a}.', { u: req.actor.userid, a: req.action }) };
    }
    const approval = this.approvalFor(req.action);
    if (approval) {
      return {
        effect: 'needs-approval',
        rule: permit.id,
        roles,
        trace,
        approval,
        reason: t('规则 {id} 允许，但需经审批流程 {a}。', 'Permitted by rule {id}, subject to the approval chain {a}.', { id: permit.id, a: approval.id }),
      };
    }
    return { effect: 'permit', rule: permit.id, roles, trace, reason: t('规则 {id} 允许。', 'Permitted by rule {id}.', { id: permit.id }) };
  }

  private firstFailedCondition(rule: Rule, req: PolicyRequest): Text | undefined {
    for (const clause of rule.when) {
      for (const attr in clause) {
        const cond = clause[attr]!;
        const actual = lookup(req, attr);
        if (!holds(actual, cond, req)) {
          return t('条件不成立：{a} = {v} 不满足 {c}', 'condition fails: {a} = {v} does not satisfy {c}', {
            a: attr,
            v: JSON.stringify(actual) ?? 'undefined',
            c: describe(cond, req),
          });
        }
      }
    }
    return undefined;
  }

  private closure(name: string, seen: Set<string>): string[] {
    if (seen.has(name)) return [];
    seen.add(name);
    return [name, ...(this.set.roles[name]?.inherits ?? []).flatMap((p) => this.closure(p, seen))];
  }
}

function lookup(req: PolicyRequest, path: string): unknown {
  let cur: unknown = req;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** A string starting with actor./resource./context. names an attribute; anything else is a literal. */
function value(req: PolicyRequest, v: unknown): unknown {
  return typeof v === 'string' && (v.startsWith('actor.') || v.startsWith('resource.') || v.startsWith('context.')) ? lookup(req, v) : v;
}

const globCache = new Map<string, RegExp>();
function glob(pattern: string): RegExp {
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    globCache.set(pattern, re);
  }
  return re;
}

export function holds(actual: unknown, cond: Condition, req: PolicyRequest): boolean {
  if ('not' in cond) return !holds(actual, cond.not, req);
  if ('equals' in cond) {
    const want = value(req, cond.equals);
    return actual === want || (typeof actual === 'object' && JSON.stringify(actual) === JSON.stringify(want));
  }
  if ('in' in cond) {
    const set = value(req, cond.in);
    if (!Array.isArray(set)) return false;
    return Array.isArray(actual) ? actual.length > 0 && actual.every((a) => set.includes(a)) : set.includes(actual);
  }
  if ('within' in cond) {
    // Department subtrees: actor.managed_departments already holds every id below a managed department.
    const set = value(req, cond.within);
    const ids = Array.isArray(actual) ? actual : actual === undefined ? [] : [actual];
    return Array.isArray(set) && ids.length > 0 && ids.every((id) => set.includes(id));
  }
  return typeof actual === 'string' ? glob(cond.matches).test(actual) : Array.isArray(actual) && actual.length > 0 && actual.every((a) => typeof a === 'string' && glob(cond.matches).test(a));
}

function describe(cond: Condition, req: PolicyRequest): string {
  if ('not' in cond) return `not ${describe(cond.not, req)}`;
  const [op, v] = Object.entries(cond)[0]!;
  const resolved = value(req, v);
  return typeof v === 'string' && resolved !== v ? `${op} ${v} (${JSON.stringify(resolved)})` : `${op} ${JSON.stringify(v)}`;
}
