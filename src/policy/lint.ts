import { t, type Text } from '../core/i18n.js';
import type { AnyCommand } from '../core/command.js';
import { SUPER_ADMIN_ROLE } from '../approval/service.js';
import { matchesAction, type Condition, type PolicySet, type Rule, type Source } from './model.js';

/**
 * `policy lint`: what the loader accepts but an admin should still hear about. Errors make the
 * command fail; warnings are advice.
 */
export interface Finding {
  severity: 'error' | 'warning';
  source: Source;
  text: Text;
}

const ACTOR_ATTRIBUTES = ['userid', 'departments', 'managed_departments'];
const CONTEXT_ATTRIBUTES = ['channel', 'room'];
const CHANNELS = ['repl', 'cli', 'wecom', 'wechaty', 'slack'];

export function lintPolicy(set: PolicySet, commands: AnyCommand[]): Finding[] {
  const findings: Finding[] = [];
  const add = (severity: Finding['severity'], source: Source, text: Text) => findings.push({ severity, source, text });
  const actions = [...new Set(commands.map((c) => c.action))];
  const holdable = (role: string, seen = new Set<string>()): boolean => {
    const r = set.roles[role];
    if (!r || seen.has(role)) return false;
    seen.add(role);
    if (r.members.length || r.derived || Object.keys(r.manages).length) return true;
    // A role nobody holds directly is still held through roles that inherit it.
    return Object.values(set.roles).some((other) => other.inherits.includes(role) && holdable(other.name, seen));
  };

  for (const rule of set.rules) {
    for (const pattern of rule.actions) {
      if (pattern.includes('*') && !actions.some((a) => matchesAction(pattern, a))) {
        add('warning', rule.source, t('规则 {id} 的 {p} 目前不匹配任何命令。', 'Rule {id}: {p} matches no command yet.', { id: rule.id, p: pattern }));
      }
      if (rule.effect === 'permit' && pattern.includes('*') && !rule.roles.every((r) => r === SUPER_ADMIN_ROLE)) {
        add('warning', rule.source, t('规则 {id} 把通配动作 {p} 授予了非管理员角色 {r}，违背最小权限。', 'Rule {id} grants the wildcard {p} to the non-admin role(s) {r}, against least privilege.', { id: rule.id, p: pattern, r: rule.roles.filter((r) => r !== SUPER_ADMIN_ROLE).join(', ') }));
      }
    }
    for (const role of rule.roles) {
      if (!holdable(role)) add('warning', rule.source, t('规则 {id} 永远不会生效：角色 {r} 没有任何成员。', 'Rule {id} can never apply: nobody holds the role {r}.', { id: rule.id, r: role }));
    }
    const covered = commands.filter((c) => rule.actions.some((p) => matchesAction(p, c.action)));
    for (const clause of rule.when) {
      for (const [attr, cond] of Object.entries(clause)) {
        const [scope, name] = [attr.split('.')[0]!, attr.split('.').slice(1).join('.')];
        const known =
          scope === 'actor' ? ACTOR_ATTRIBUTES.includes(name) : scope === 'context' ? CONTEXT_ATTRIBUTES.includes(name) : covered.length > 0 && covered.every((c) => (c.attributes ?? []).includes(name));
        if (!known) {
          const missing = covered.filter((c) => !(c.attributes ?? []).includes(name)).map((c) => c.name);
          add(
            'error',
            rule.source,
            scope === 'resource' && missing.length
              ? t('规则 {id} 读取 {a}，但命令 {c} 不提供这个属性。', 'Rule {id} reads {a}, which the command(s) {c} do not provide.', { id: rule.id, a: attr, c: missing.join(', ') })
              : t('规则 {id} 读取未知属性 {a}。', 'Rule {id} reads the unknown attribute {a}.', { id: rule.id, a: attr }),
          );
        }
        if (neverHolds(cond)) add('warning', rule.source, t('规则 {id} 的条件 {a} 永远不成立（空列表）。', 'Rule {id}: the condition on {a} can never hold (empty list).', { id: rule.id, a: attr }));
        if (attr === 'context.channel') {
          for (const v of literalValues(cond)) {
            if (!CHANNELS.includes(String(v))) add('warning', rule.source, t('规则 {id}：渠道 {v} 不存在（可用：{all}）。', 'Rule {id}: there is no channel {v} (channels: {all}).', { id: rule.id, v: String(v), all: CHANNELS.join(', ') }));
          }
        }
      }
    }
  }
  shadowed(set.rules, add);

  for (const chain of set.approvals) {
    chain.steps.forEach((step, i) => {
      if (!holdable(step.role) && !holdable(SUPER_ADMIN_ROLE)) {
        add('error', chain.source, t('审批流程 {id} 的第 {n} 步没有任何人能审批（角色 {r} 和超级管理员都没有成员）。', 'Nobody can approve step {n} of the chain {id}: neither {r} nor the super admins have members.', { id: chain.id, n: i + 1, r: step.role }));
      }
    });
    const supers = set.roles[SUPER_ADMIN_ROLE]?.members.filter((m) => m !== '*') ?? [];
    const superSteps = chain.steps.filter((s) => s.role === SUPER_ADMIN_ROLE).length;
    if (superSteps && supers.length < superSteps + 1) {
      add('error', chain.source, t('审批流程 {id} 有 {n} 个超级管理员步骤，但只有 {m} 名超级管理员：超级管理员自己发起的请求无法完成。', 'The chain {id} has {n} super-admin step(s) but only {m} super admin(s): a request made by a super admin could never complete.', { id: chain.id, n: superSteps, m: supers.length }));
    }
    if (!chain.actions.some((p) => actions.some((a) => matchesAction(p, a)))) {
      add('warning', chain.source, t('审批流程 {id} 目前不匹配任何命令。', 'The chain {id} matches no command yet.', { id: chain.id }));
    }
  }
  return findings;
}

/** A permit is shadowed when an unconditional forbid for one of its roles covers every action it grants. */
function shadowed(rules: Rule[], add: (s: Finding['severity'], src: Source, text: Text) => void): void {
  const forbids = rules.filter((r) => r.effect === 'forbid' && r.when.length === 0);
  rules.forEach((rule, i) => {
    if (rule.effect !== 'permit') return;
    for (const role of rule.roles) {
      const blocker = forbids.find((f) => f.roles.includes(role) && rule.actions.every((a) => f.actions.some((p) => matchesAction(p, a))));
      if (blocker) add('warning', rule.source, t('规则 {id} 对角色 {r} 无效：规则 {f} 无条件禁止了它授予的全部动作。', 'Rule {id} has no effect for {r}: rule {f} forbids everything it grants, unconditionally.', { id: rule.id, r: role, f: blocker.id }));
    }
    const twin = rules.slice(0, i).find((r) => r.effect === 'permit' && r.when.length === 0 && rule.roles.every((x) => r.roles.includes(x)) && rule.actions.every((a) => r.actions.some((p) => matchesAction(p, a))));
    if (twin) add('warning', rule.source, t('规则 {id} 是多余的：规则 {t} 已无条件允许了相同的角色和动作。', 'Rule {id} is redundant: rule {t} already permits the same roles and actions unconditionally.', { id: rule.id, t: twin.id }));
  });
}

function neverHolds(cond: Condition): boolean {
  if ('in' in cond || 'within' in cond) {
    const v = 'in' in cond ? cond.in : cond.within;
    return Array.isArray(v) && v.length === 0;
  }
  return false;
}

function literalValues(cond: Condition): unknown[] {
  if ('not' in cond) return literalValues(cond.not);
  if ('equals' in cond) return typeof cond.equals === 'string' && cond.equals.includes('.') ? [] : [cond.equals];
  if ('in' in cond && Array.isArray(cond.in)) return cond.in;
  return [];
}
