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

/** A rule ready for the hot path: attribute paths split and literal/attribute values resolved once. */
interface CompiledRule {
  rule: Rule;
  checks: Check[];
}

interface Check {
  attr: string;
  read: (req: PolicyRequest) => unknown;
  cond: Condition;
  test: (actual: unknown, req: PolicyRequest) => boolean;
}

export class PolicyEngine {
  private readonly byAction = new Map<string, CompiledRule[]>();
  private readonly approvalByAction = new Map<string, ApprovalChain | null>();
  private readonly roleClosure = new Map<string, string[]>();
  private readonly compiled: CompiledRule[];
  /** Roles per userid, as [when leading nothing, when leading something]: all membership depends on. */
  private readonly roleCache = new Map<string, [string[] | undefined, string[] | undefined]>();

  constructor(readonly set: PolicySet) {
    for (const name of Object.keys(set.roles)) this.roleClosure.set(name, this.closure(name, new Set()));
    this.compiled = set.rules.map((rule) => ({ rule, checks: rule.when.flatMap((clause) => Object.entries(clause).map(([attr, cond]) => compileCheck(attr, cond))) }));
  }

  static load(dir: string, knownActions?: string[]): PolicyEngine {
    return new PolicyEngine(loadPolicySet(dir, knownActions));
  }

  /** Roles an actor holds, with the roles those inherit. */
  rolesOf(actor: PolicyActor): string[] {
    let entry = this.roleCache.get(actor.userid);
    if (!entry) this.roleCache.set(actor.userid, (entry = [undefined, undefined]));
    const leads = actor.managed_departments.length > 0 ? 1 : 0;
    return (entry[leads] ??= this.computeRoles(actor));
  }

  private computeRoles(actor: PolicyActor): string[] {
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
    return this.compiledFor(action).map((c) => c.rule);
  }

  private compiledFor(action: string): CompiledRule[] {
    let rules = this.byAction.get(action);
    if (!rules) {
      rules = this.compiled.filter((c) => c.rule.actions.some((a) => matchesAction(a, action)));
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
    for (const { rule, checks } of this.compiledFor(req.action)) {
      if (!holdsAny(rule.roles, roles)) {
        trace?.push({ rule, applied: false, why: t('{u} 不属于角色 {r}', '{u} does not hold {r}', { u: req.actor.userid, r: rule.roles.join(' / ') }) });
        continue;
      }
      const failed = firstFailed(checks, req);
      if (failed) {
        trace?.push({ rule, applied: false, why: failureText(failed, req) });
        continue;
      }
      trace?.push({ rule, applied: true, why: rule.effect === 'forbid' ? t('匹配，禁止', 'matches: forbids') : t('匹配，允许', 'matches: permits') });
      if (rule.effect === 'forbid') {
        forbid ??= rule;
        if (!withTrace) break;
      } else permit ??= rule;
    }
    if (forbid) return decision('deny', roles, req, trace, forbid);
    if (!permit) return decision('deny', roles, req, trace);
    const approval = this.approvalFor(req.action);
    return decision(approval ? 'needs-approval' : 'permit', roles, req, trace, permit, approval);
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

function describe(cond: Condition, req: PolicyRequest): string {
  if ('not' in cond) return `not ${describe(cond.not, req)}`;
  const [op, v] = Object.entries(cond)[0]!;
  const resolved = value(req, v);
  return typeof v === 'string' && resolved !== v ? `${op} ${v} (${JSON.stringify(resolved)})` : `${op} ${JSON.stringify(v)}`;
}

function holdsAny(wanted: string[], held: string[]): boolean {
  for (const r of wanted) if (held.includes(r)) return true;
  return false;
}

function firstFailed(checks: Check[], req: PolicyRequest): Check | undefined {
  for (const c of checks) if (!c.test(c.read(req), req)) return c;
  return undefined;
}

function failureText(c: Check, req: PolicyRequest): Text {
  return t('条件不成立：{a} = {v} 不满足 {c}', 'condition fails: {a} = {v} does not satisfy {c}', {
    a: c.attr,
    v: JSON.stringify(c.read(req)) ?? 'undefined',
    c: describe(c.cond, req),
  });
}

function reader(path: string): (req: PolicyRequest) => unknown {
  const parts = path.split('.');
  return (req) => {
    let cur: unknown = req;
    for (const part of parts) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[part];
    }
    return cur;
  };
}

function isReference(v: unknown): v is string {
  return typeof v === 'string' && (v.startsWith('actor.') || v.startsWith('resource.') || v.startsWith('context.'));
}

/** Turns a condition into a test with its attribute reads and regular expressions prepared. */
function compileTest(cond: Condition): (actual: unknown, req: PolicyRequest) => boolean {
  if ('not' in cond) {
    const inner = compileTest(cond.not);
    return (a, r) => !inner(a, r);
  }
  if ('matches' in cond) {
    const re = glob(cond.matches);
    return (a) => (typeof a === 'string' ? re.test(a) : Array.isArray(a) && a.length > 0 && a.every((x) => typeof x === 'string' && re.test(x)));
  }
  const raw = 'equals' in cond ? cond.equals : 'in' in cond ? cond.in : cond.within;
  const get = isReference(raw) ? reader(raw) : () => raw;
  if ('equals' in cond) {
    return (a, r) => {
      const want = get(r);
      return a === want || (typeof a === 'object' && a !== null && JSON.stringify(a) === JSON.stringify(want));
    };
  }
  if ('in' in cond) {
    return (a, r) => {
      const got = get(r);
      // A single value is a set of one: `resource.owners: { in: actor.userid }` means "only the actor".
      const set = Array.isArray(got) ? got : got === undefined || got === null ? undefined : [got];
      if (!set) return false;
      return Array.isArray(a) ? a.length > 0 && a.every((x) => set.includes(x)) : set.includes(a);
    };
  }
  // within: department subtrees — actor.managed_departments already holds every id below a managed department.
  return (a, r) => {
    const set = get(r);
    if (!Array.isArray(set)) return false;
    if (Array.isArray(a)) {
      if (a.length === 0) return false;
      for (const id of a) if (!set.includes(id)) return false;
      return true;
    }
    return a !== undefined && set.includes(a);
  };
}

function compileCheck(attr: string, cond: Condition): Check {
  return { attr, read: reader(attr), cond, test: compileTest(cond) };
}

/** A decision whose sentence is only built when someone reads it (most decisions are never shown). */
class LazyDecision implements Decision {
  private text?: Text;
  readonly rule?: string;

  constructor(
    readonly effect: Decision['effect'],
    readonly roles: string[],
    private readonly req: PolicyRequest,
    readonly trace: RuleTrace[] | undefined,
    private readonly by?: Rule,
    readonly approval?: ApprovalChain,
  ) {
    this.rule = by?.id;
  }

  get reason(): Text {
    const { by, req, approval } = this;
    this.text ??=
      this.effect === 'deny'
        ? by
          ? t('规则 {id} 禁止此操作。', 'Rule {id} forbids this.', { id: by.id })
          : t('没有任何规则允许 {u} 执行 {a}。', 'No rule permits {u} to {a}.', { u: req.actor.userid, a: req.action })
        : approval
          ? t('规则 {id} 允许，但需经审批流程 {a}。', 'Permitted by rule {id}, subject to the approval chain {a}.', { id: by!.id, a: approval.id })
          : t('规则 {id} 允许。', 'Permitted by rule {id}.', { id: by!.id });
    return this.text;
  }
}

function decision(effect: Decision['effect'], roles: string[], req: PolicyRequest, trace: RuleTrace[] | undefined, rule?: Rule, approval?: ApprovalChain): Decision {
  return new LazyDecision(effect, roles, req, trace, rule, approval);
}
