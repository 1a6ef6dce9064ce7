import { createHash } from 'node:crypto';
import type { Text } from './i18n.js';
import type { SecretKind } from '../platform/wecom/client.js';

/**
 * A mutating command first says what it will do: the platform calls, in order, each with a
 * sentence a person can check. `--dry-run` prints this and stops; approvers approve exactly this
 * (its hash); execution runs exactly these steps.
 */
/** Which credential a step's token comes from: a WeCom secret, or the Official Account's AppSecret. */
export type Credential = SecretKind | 'mp';

export interface PlanStep {
  api: string;
  method: 'GET' | 'POST';
  secret: Credential;
  query?: Record<string, string | number>;
  body?: unknown;
  describe: Text;
  /** Groups steps that belong to one row of a bulk command, for the per-row report. */
  row?: number;
  /** Steps with the same wave run after every step of earlier waves finished (e.g. create before tag). */
  wave?: number;
}

export interface Plan {
  summary: Text;
  steps: PlanStep[];
  /** Extra lines shown above the steps (diffs, warnings, counts). */
  notes?: Text[];
}

/**
 * What approvers approve: the summary, notes and calls. If any of them would come out differently when
 * the command finally runs (the member moved, the department was renamed), the hash differs and the
 * approved request is refused instead of doing something nobody saw.
 */
export function planHash(plan: Plan): string {
  return createHash('sha256').update(canonicalJson({ summary: plan.summary, notes: plan.notes ?? [], steps: plan.steps })).digest('hex');
}

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
