import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { distance } from 'fastest-levenshtein';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { WxopsError } from '../core/errors.js';
import { t, type Text } from '../core/i18n.js';
import { OPERATORS, matchesAction, type ApprovalChain, type Channel, type Condition, type PolicySet, type Role, type Rule, type Source } from './model.js';

/**
 * Reads every *.yaml in the policy directory (tests.yaml aside) and checks it: each problem is one
 * sentence with the file and line, so an admin can fix a policy without reading code.
 */
export interface PolicyProblem {
  file: string;
  line: number;
  text: Text;
}

export class PolicyLoadError extends WxopsError {
  constructor(readonly problems: PolicyProblem[]) {
    super(
      'POLICY_INVALID',
      'input',
      {
        zh: `策略有 ${problems.length} 处错误，未生效：\n${problems.map((p) => `${p.file}:${p.line}: ${p.text.zh}`).join('\n')}`,
        en: `The policy has ${problems.length} error(s) and was not applied:\n${problems.map((p) => `${p.file}:${p.line}: ${p.text.en}`).join('\n')}`,
      },
      { problems: problems.map((p) => ({ file: p.file, line: p.line, message: p.text.en })) },
    );
  }
}

const ATTRIBUTE = /^(actor|resource|context)\.[a-z_][a-z0-9_.]*$/;
const DURATION = /^(\d+)\s*(m|h|d)$/;

const roleSchema = z
  .object({
    description: z.string().optional(),
    members: z.array(z.string().min(1)).optional(),
    derived: z.literal('department-leaders').optional(),
    manages: z.record(z.string(), z.array(z.union([z.string(), z.number()]))).optional(),
    inherits: z.array(z.string()).optional(),
  })
  .strict();

const ruleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'rule ids use lower-case letters, digits and -' }),
    description: z.string().optional(),
    effect: z.enum(['permit', 'forbid']),
    roles: z.array(z.string()).min(1),
    actions: z.array(z.string()).min(1),
    when: z.array(z.record(z.string(), z.unknown())).optional(),
  })
  .strict();

const approvalSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    description: z.string().optional(),
    actions: z.array(z.string()).min(1),
    steps: z.array(z.object({ role: z.string(), of: z.enum(['resource', 'requester']).optional() }).strict()).min(1),
    expires: z.string().regex(DURATION, { message: 'expires is a duration such as 24h, 30m or 7d' }).optional(),
  })
  .strict();

const fileSchema = z
  .object({
    roles: z.record(z.string(), roleSchema).optional(),
    rules: z.array(ruleSchema).optional(),
    approvals: z.array(approvalSchema).optional(),
    identities: z.partialRecord(z.enum(['slack', 'wechaty', 'wecom']), z.record(z.string(), z.string())).optional(),
  })
  .strict();

interface ParsedFile {
  file: string;
  doc: Document;
  lines: LineCounter;
  data: z.infer<typeof fileSchema>;
}

export function loadPolicySet(dir: string, knownActions?: string[]): PolicySet {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && !/^tests?\.ya?ml$/.test(f)).sort();
  } catch {
    throw new PolicyLoadError([{ file: dir, line: 0, text: t('策略目录不存在。', 'The policy directory does not exist.') }]);
  }
  const problems: PolicyProblem[] = [];
  const files: ParsedFile[] = [];
  for (const name of names) {
    const parsed = parseFile(join(dir, name), problems);
    if (parsed) files.push(parsed);
  }
  if (problems.length) throw new PolicyLoadError(problems);

  const set: PolicySet = { roles: {}, rules: [], approvals: [], identities: { slack: {}, wechaty: {}, wecom: {} }, files: names };
  for (const f of files) {
    const at = (path: (string | number)[]): Source => ({ file: f.file, line: lineOf(f, path) });
    for (const [name, r] of Object.entries(f.data.roles ?? {})) {
      if (set.roles[name]) problems.push({ ...at(['roles', name]), text: t('角色 {r} 重复定义。', 'The role {r} is defined twice.', { r: name }) });
      set.roles[name] = { name, description: r.description, members: r.members ?? [], derived: r.derived, manages: r.manages ?? {}, inherits: r.inherits ?? [], source: at(['roles', name]) };
    }
    (f.data.rules ?? []).forEach((r, i) => {
      const when = (r.when ?? []).map((clause, j) => checkClause(clause, (p) => at(['rules', i, 'when', j, ...p]), problems));
      set.rules.push({ id: r.id, description: r.description, effect: r.effect, roles: r.roles, actions: r.actions, when, source: at(['rules', i]) });
    });
    (f.data.approvals ?? []).forEach((a, i) => {
      const m = DURATION.exec(a.expires ?? '24h')!;
      const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
      set.approvals.push({ id: a.id, description: a.description, actions: a.actions, steps: a.steps, expiresMs: Number(m[1]) * unit, source: at(['approvals', i]) });
    });
    for (const [channel, map] of Object.entries(f.data.identities ?? {})) Object.assign(set.identities[channel as Channel], map);
  }
  checkReferences(set, knownActions, problems);
  if (problems.length) throw new PolicyLoadError(problems);
  return set;
}

function parseFile(path: string, problems: PolicyProblem[]): ParsedFile | undefined {
  const file = basename(path);
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(path, 'utf8'), { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    for (const e of doc.errors.slice(0, 3)) {
      problems.push({ file, line: e.linePos?.[0]?.line ?? 1, text: t('YAML 语法错误：{m}', 'YAML syntax error: {m}', { m: e.message.split('\n')[0] }) });
    }
    return undefined;
  }
  const r = fileSchema.safeParse(doc.toJS() ?? {});
  if (!r.success) {
    for (const issue of r.error.issues.slice(0, 10)) {
      const f = { file, doc, lines, data: {} };
      problems.push({ file, line: lineOf(f, issue.path as (string | number)[]), text: describeIssue(issue) });
    }
    return undefined;
  }
  return { file, doc, lines, data: r.data };
}

function describeIssue(issue: z.core.$ZodIssue): Text {
  const where = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    return t('{w} 下有不认识的字段 {k}。', 'Unknown field {k} under {w}.', { w: where || '(top level)', k: issue.keys.join(', ') });
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return t('{w} 只能是 {v} 之一。', '{w} must be one of {v}.', { w: where, v: (issue.values as unknown[]).join(', ') });
  }
  return t('{w}：{m}', '{w}: {m}', { w: where, m: issue.message });
}

/** The line of the YAML node at `path`, or of its nearest ancestor that exists. */
function lineOf(f: { doc: Document; lines: LineCounter }, path: (string | number)[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = f.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return f.lines.linePos(node.range[0]).line;
    if (n === 0 && (isMap(f.doc.contents) || isSeq(f.doc.contents))) return 1;
  }
  return 1;
}

function checkClause(clause: Record<string, unknown>, at: (p: (string | number)[]) => Source, problems: PolicyProblem[]): Record<string, Condition> {
  const out: Record<string, Condition> = {};
  for (const [attr, cond] of Object.entries(clause)) {
    if (!ATTRIBUTE.test(attr)) {
      problems.push({ ...at([attr]), text: t('条件里的属性 “{a}” 必须以 actor.、resource. 或 context. 开头。', 'The attribute “{a}” in a condition must start with actor., resource. or context.', { a: attr }) });
      continue;
    }
    const checked = checkCondition(cond, () => at([attr]), problems);
    if (checked) out[attr] = checked;
  }
  return out;
}

function checkCondition(cond: unknown, at: () => Source, problems: PolicyProblem[]): Condition | undefined {
  if (!cond || typeof cond !== 'object' || Array.isArray(cond) || Object.keys(cond).length !== 1) {
    problems.push({ ...at(), text: t('条件必须是只有一个运算符的映射，如 { in: [..] }。', 'A condition must be a mapping with exactly one operator, such as { in: [..] }.') });
    return undefined;
  }
  const [op, value] = Object.entries(cond)[0]!;
  if (!(OPERATORS as readonly string[]).includes(op)) {
    problems.push({
      ...at(),
      text: t('未知的条件运算符 “{op}”（可用：{all}）。', 'Unknown condition operator “{op}” (use one of {all}).', { op, all: OPERATORS.join(', ') }),
    });
    return undefined;
  }
  if (op === 'not') {
    const inner = checkCondition(value, at, problems);
    return inner ? { not: inner } : undefined;
  }
  if (op === 'matches' && typeof value !== 'string') {
    problems.push({ ...at(), text: t('matches 需要一个通配符字符串，如 "销售*"。', 'matches takes a glob string such as "sales*".') });
    return undefined;
  }
  if ((op === 'in' || op === 'within') && !Array.isArray(value) && !(typeof value === 'string' && ATTRIBUTE.test(value))) {
    problems.push({ ...at(), text: t('{op} 需要一个列表或一个属性（如 actor.managed_departments）。', '{op} takes a list or an attribute such as actor.managed_departments.', { op }) });
    return undefined;
  }
  return { [op]: value } as Condition;
}

function checkReferences(set: PolicySet, knownActions: string[] | undefined, problems: PolicyProblem[]): void {
  const roleNames = Object.keys(set.roles);
  const unknownRole = (role: string, src: Source, what: Text) => {
    const close = roleNames.filter((r) => distance(r, role) <= 3);
    problems.push({
      ...src,
      text: {
        zh: `${what.zh}引用了不存在的角色 “${role}”${close.length ? `，是不是 ${close.join('、')}？` : '。'}`,
        en: `${what.en} names the role “${role}”, which does not exist${close.length ? `; did you mean ${close.join(', ')}?` : '.'}`,
      },
    });
  };
  const checkAction = (action: string, src: Source, what: Text) => {
    if (!knownActions || action === '*') return;
    if (action.endsWith('.*') ? knownActions.some((a) => matchesAction(action, a)) : knownActions.includes(action)) return;
    if (action.endsWith('.*')) return; // wildcards for command groups still to come are a lint warning, not an error
    const close = knownActions.filter((a) => distance(a, action) <= 3).slice(0, 3);
    problems.push({
      ...src,
      text: {
        zh: `${what.zh}中的动作 “${action}” 不存在${close.length ? `，是不是 ${close.join('、')}？` : '（wxops help 列出全部命令及其动作）。'}`,
        en: `${what.en} names the action “${action}”, which does not exist${close.length ? `; did you mean ${close.join(', ')}?` : ' (wxops help lists every command and its action).'}`,
      },
    });
  };
  for (const rule of set.rules) {
    const what = t('规则 {id} ', 'Rule {id}', { id: rule.id });
    for (const r of rule.roles) if (!set.roles[r]) unknownRole(r, rule.source, what);
    for (const a of rule.actions) checkAction(a, rule.source, what);
  }
  const ids = new Set<string>();
  for (const rule of set.rules) {
    if (ids.has(rule.id)) problems.push({ ...rule.source, text: t('规则 id {id} 重复。', 'The rule id {id} is used twice.', { id: rule.id }) });
    ids.add(rule.id);
  }
  for (const a of set.approvals) {
    const what = t('审批流程 {id} ', 'Approval chain {id}', { id: a.id });
    for (const s of a.steps) if (!set.roles[s.role]) unknownRole(s.role, a.source, what);
    for (const act of a.actions) checkAction(act, a.source, what);
  }
  for (const role of Object.values(set.roles)) {
    for (const parent of role.inherits) if (!set.roles[parent]) unknownRole(parent, role.source, t('角色 {r} 的 inherits ', 'The inherits of role {r}', { r: role.name }));
  }
  // Inheritance must not loop: walk from each role and fail on a role seen on the current path.
  const visit = (name: string, path: string[]): void => {
    if (path.includes(name)) {
      problems.push({ ...set.roles[name]!.source, text: t('角色继承出现循环：{c}。', 'Role inheritance forms a cycle: {c}.', { c: [...path, name].join(' → ') }) });
      return;
    }
    for (const parent of set.roles[name]?.inherits ?? []) if (set.roles[parent]) visit(parent, [...path, name]);
  };
  const before = problems.length;
  for (const name of roleNames) {
    visit(name, []);
    if (problems.length > before) break;
  }
}

export type { Role, Rule, ApprovalChain };
