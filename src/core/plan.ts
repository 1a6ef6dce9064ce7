import type { Text } from './i18n.js';
import type { SecretKind } from '../platform/wecom/client.js';

/**
 * A mutating command first says what it will do: the platform calls, in order, each with a
 * sentence a person can check. `--dry-run` prints this and stops; approvers approve exactly this
 * (its hash); execution runs exactly these steps.
 */
export interface PlanStep {
  api: string;
  method: 'GET' | 'POST';
  secret: SecretKind;
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
