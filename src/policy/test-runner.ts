import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError, WxopsError } from '../core/errors.js';
import { t } from '../core/i18n.js';
import type { Session } from '../core/pipeline.js';

/**
 * `policy test`: the table of cases in `tests.yaml` — who, which command, from which channel, and the
 * decision expected. Each case is decided exactly as running the command would decide it.
 */
const caseSchema = z
  .object({
    name: z.string().optional(),
    as: z.string().min(1),
    command: z.string().min(1),
    channel: z.enum(['repl', 'cli', 'wecom', 'wechaty', 'slack']).optional(),
    room: z.string().optional(),
    expect: z.enum(['permit', 'deny', 'needs-approval']),
    rule: z.string().optional(),
  })
  .strict();
const fileSchema = z.object({ tests: z.array(caseSchema).min(1) }).strict();

export type PolicyCase = z.infer<typeof caseSchema>;

export interface CaseResult {
  case: PolicyCase;
  pass: boolean;
  got: string;
  rule?: string;
  roles: string[];
  group: string;
  error?: string;
}

export function readCases(dir: string, file = 'tests.yaml'): PolicyCase[] {
  let text: string;
  try {
    text = readFileSync(join(dir, file), 'utf8');
  } catch {
    throw new InputError('NO_POLICY_TESTS', t('找不到策略测试文件 {f}。', 'There is no policy test file {f}.', { f: join(dir, file) }));
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new InputError('POLICY_INVALID', t('{f} 不是合法的 YAML：{m}', '{f} is not valid YAML: {m}', { f: file, m: (err as Error).message.split('\n')[0] }));
  }
  const r = fileSchema.safeParse(data);
  if (!r.success) throw new InputError('POLICY_INVALID', t('{f} 有误：{m}', '{f} is invalid: {m}', { f: file, m: z.prettifyError(r.error) }));
  return r.data.tests;
}

export async function runCases(cases: PolicyCase[], sessionFor: (c: PolicyCase) => Session): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of cases) {
    const group = c.command.trim().split(/\s+/)[0]!;
    try {
      const { decision } = await sessionFor(c).decideOnly(c.command);
      const pass = decision.effect === c.expect && (!c.rule || decision.rule === c.rule);
      results.push({ case: c, pass, got: decision.effect, rule: decision.rule, roles: decision.roles, group });
    } catch (err) {
      const message = err instanceof WxopsError ? err.text.en : (err as Error).message;
      results.push({ case: c, pass: false, got: 'error', roles: [], group, error: message });
    }
  }
  return results;
}
