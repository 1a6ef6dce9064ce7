import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { RuntimeFailure } from '../core/errors.js';
import { t, type Text } from '../core/i18n.js';

/**
 * Least-privilege decisions (ARCHITECTURE §5): default deny, any matching forbid beats every permit.
 * Rules are compiled once into an index by action so a decision is a few map lookups and no I/O.
 */
export interface PolicyRequest {
  actor: { userid: string; departments: number[]; managed_departments: number[] };
  action: string;
  resource: Record<string, unknown>;
  context: { channel: string; room?: string };
}

export interface Decision {
  effect: 'permit' | 'deny';
  rule?: string;
  roles: string[];
  reason: Text;
}

const condition: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.object({ equals: z.unknown() }).strict(),
    z.object({ in: z.unknown() }).strict(),
    z.object({ within: z.unknown() }).strict(),
    z.object({ matches: z.string() }).strict(),
    z.object({ not: condition }).strict(),
  ]),
);
type Condition = { equals: unknown } | { in: unknown } | { within: unknown } | { matches: string } | { not: Condition };

const roleSchema = z
  .object({
    members: z.array(z.string()).optional(),
    derived: z.enum(['department-leaders']).optional(),
    description: z.string().optional(),
  })
  .strict();

const ruleSchema = z
  .object({
    id: z.string().min(1),
    effect: z.enum(['permit', 'forbid']),
    roles: z.array(z.string()).min(1),
    actions: z.array(z.string()).min(1),
    when: z.array(z.record(z.string().regex(/^(actor|resource|context)\.[a-z_.]+$/), condition)).optional(),
    description: z.string().optional(),
  })
  .strict();

const fileSchema = z
  .object({
    roles: z.record(z.string(), roleSchema).optional(),
    rules: z.array(ruleSchema).optional(),
  })
  .passthrough();

type Rule = z.infer<typeof ruleSchema>;

export class PolicyEngine {
  private readonly exact = new Map<string, Rule[]>();
  private readonly patterns: { prefix: string; rule: Rule }[] = [];

  private constructor(
    readonly roles: Record<string, z.infer<typeof roleSchema>>,
    readonly rules: Rule[],
  ) {
    for (const rule of rules) {
      for (const action of rule.actions) {
        if (action === '*' || action.endsWith('.*')) this.patterns.push({ prefix: action === '*' ? '' : action.slice(0, -1), rule });
        else (this.exact.get(action) ?? this.exact.set(action, []).get(action)!).push(rule);
      }
    }
  }

  static load(dir: string): PolicyEngine {
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && !/^tests?\.ya?ml$/.test(f)).sort();
    } catch {
      throw new RuntimeFailure('POLICY_DIR_MISSING', t('找不到策略目录 {dir}。', 'The policy directory {dir} does not exist.', { dir }));
    }
    const roles: Record<string, z.infer<typeof roleSchema>> = {};
    const rules: Rule[] = [];
    for (const file of files) {
      let parsed: unknown;
      try {
        parsed = parseYaml(readFileSync(join(dir, file), 'utf8'));
      } catch (err) {
        throw new RuntimeFailure('POLICY_INVALID', t('策略文件 {f} 不是合法的 YAML：{m}', 'The policy file {f} is not valid YAML: {m}', { f: file, m: (err as Error).message }));
      }
      const r = fileSchema.safeParse(parsed ?? {});
      if (!r.success) {
        throw new RuntimeFailure('POLICY_INVALID', t('策略文件 {f} 有错误：{m}', 'The policy file {f} is invalid: {m}', { f: file, m: z.prettifyError(r.error) }));
      }
      Object.assign(roles, r.data.roles ?? {});
      rules.push(...(r.data.rules ?? []));
    }
    for (const rule of rules) {
      for (const role of rule.roles) {
        if (!roles[role]) {
          throw new RuntimeFailure('POLICY_INVALID', t('规则 {id} 引用了不存在的角色 {r}。', 'Rule {id} names the role {r}, which does not exist.', { id: rule.id, r: role }));
        }
      }
    }
    return new PolicyEngine(roles, rules);
  }

  rolesOf(actor: PolicyRequest['actor']): string[] {
    const out: string[] = [];
    for (const [name, role] of Object.entries(this.roles)) {
      if (role.members?.includes(actor.userid) || role.members?.includes('*')) out.push(name);
      else if (role.derived === 'department-leaders' && actor.managed_departments.length > 0) out.push(name);
    }
    return out;
  }

  decide(req: PolicyRequest): Decision {
    const roles = this.rolesOf(req.actor);
    const candidates = [...(this.exact.get(req.action) ?? []), ...this.patterns.filter((p) => req.action.startsWith(p.prefix)).map((p) => p.rule)];
    let permit: Rule | undefined;
    for (const rule of candidates) {
      if (!rule.roles.some((r) => roles.includes(r))) continue;
      if (!this.conditionsHold(rule, req)) continue;
      if (rule.effect === 'forbid') {
        return {
          effect: 'deny',
          rule: rule.id,
          roles,
          reason: t('规则 {id} 禁止 {a}。', 'Rule {id} forbids {a}.', { id: rule.id, a: req.action }),
        };
      }
      permit ??= rule;
    }
    if (permit) return { effect: 'permit', rule: permit.id, roles, reason: t('规则 {id} 允许。', 'Permitted by rule {id}.', { id: permit.id }) };
    return {
      effect: 'deny',
      roles,
      reason: t('没有任何规则允许 {u} 执行 {a}。', 'No rule permits {u} to {a}.', { u: req.actor.userid, a: req.action }),
    };
  }

  private conditionsHold(rule: Rule, req: PolicyRequest): boolean {
    return (rule.when ?? []).every((clause) => Object.entries(clause).every(([attr, cond]) => holds(lookup(req, attr), cond, req)));
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
  return typeof v === 'string' && /^(actor|resource|context)\./.test(v) ? lookup(req, v) : v;
}

function holds(actual: unknown, cond: Condition, req: PolicyRequest): boolean {
  if ('not' in cond) return !holds(actual, cond.not, req);
  if ('equals' in cond) return JSON.stringify(actual) === JSON.stringify(value(req, cond.equals));
  if ('in' in cond) {
    const set = value(req, cond.in);
    return Array.isArray(set) && (Array.isArray(actual) ? actual.length > 0 && actual.every((a) => set.includes(a)) : set.includes(actual));
  }
  if ('within' in cond) {
    // Department subtrees: managed_departments is already expanded to every id below a led department.
    const set = value(req, cond.within);
    const ids = Array.isArray(actual) ? actual : [actual];
    return Array.isArray(set) && ids.length > 0 && ids.every((id) => set.includes(id));
  }
  const re = new RegExp(`^${cond.matches.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return typeof actual === 'string' && re.test(actual);
}
