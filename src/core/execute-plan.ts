import type { CommandContext } from './context.js';
import { PlatformError, RuntimeFailure, WxopsError } from './errors.js';
import { t } from './i18n.js';
import type { Plan, PlanStep } from './plan.js';

export interface StepOutcome {
  step: PlanStep;
  ok: boolean;
  response?: any;
  error?: WxopsError;
}

export interface ExecuteOptions {
  /** Steps of one wave run this many at a time; the client's per-API cap still applies. */
  concurrency?: number;
  /** Bulk commands keep going and report per row; single commands stop at the first failure. */
  continueOnError?: boolean;
  /** Skip the remaining steps of a row once one of its steps failed. */
  rowsFailTogether?: boolean;
}

/**
 * Runs a plan's steps through the platform client, wave by wave (a wave starts when the previous one
 * has finished), reporting progress. This is the one loop every mutating command uses.
 */
export async function executePlan(ctx: CommandContext, plan: Plan, opts: ExecuteOptions = {}): Promise<StepOutcome[]> {
  const { client, mp } = await ctx.platform();
  const outcomes: StepOutcome[] = [];
  const failedRows = new Set<number>();
  const waves = new Map<number, PlanStep[]>();
  for (const step of plan.steps) (waves.get(step.wave ?? 0) ?? waves.set(step.wave ?? 0, []).get(step.wave ?? 0)!).push(step);
  const total = plan.steps.length;
  let done = 0;

  for (const wave of [...waves.keys()].sort((a, b) => a - b)) {
    const queue = waves.get(wave)!;
    // A shared cursor, not shift(): a bulk plan has tens of thousands of steps.
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let step = queue[next++]; step; step = queue[next++]) {
        if (ctx.signal?.aborted) throw new RuntimeFailure('ABORTED', t('操作已取消。', 'The operation was cancelled.'));
        if (opts.rowsFailTogether && step.row !== undefined && failedRows.has(step.row)) {
          done++;
          continue;
        }
        try {
          const call = { method: step.method, query: step.query, body: step.body, signal: ctx.signal };
          const response = step.secret === 'mp' ? await mp.client.request(step.api, call) : await client.call(step.api, { ...call, secret: step.secret });
          outcomes.push({ step, ok: true, response });
        } catch (err) {
          const error = err instanceof WxopsError ? err : new RuntimeFailure('INTERNAL', t('内部错误：{m}', 'Internal error: {m}', { m: (err as Error).message }));
          outcomes.push({ step, ok: false, error });
          if (step.row !== undefined) failedRows.add(step.row);
          if (!opts.continueOnError) {
            next = queue.length;
            throw partialFailure(error, outcomes, total);
          }
        } finally {
          done++;
          ctx.progress({ done, total });
        }
      }
    };
    const workers = Math.max(1, Math.min(opts.concurrency ?? 1, queue.length));
    await Promise.all(Array.from({ length: workers }, worker));
  }
  return outcomes;
}

/** The first failure of a multi-step command, saying how far it got so nothing is left unexplained. */
function partialFailure(error: WxopsError, outcomes: StepOutcome[], total: number): WxopsError {
  const succeeded = outcomes.filter((o) => o.ok).length;
  if (total <= 1 || succeeded === 0) return error;
  const text = {
    zh: `${error.text.zh}（共 ${total} 步，已完成 ${succeeded} 步，其余未执行）`,
    en: `${error.text.en} (${succeeded} of ${total} steps were done; the rest were not run)`,
  };
  return error instanceof PlatformError
    ? new PlatformError(error.api, error.errcode, error.platformMessage, text)
    : new WxopsError(error.code, error.category, text, error.details);
}
