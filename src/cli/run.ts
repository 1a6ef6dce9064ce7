import { createRegistry } from '../../commands/index.js';
import { renderOutcome } from '../channels/render-text.js';
import { localize } from '../core/i18n.js';
import { Session, type Outcome } from '../core/pipeline.js';
import { Runtime } from '../core/runtime.js';
import { WxopsError, exitCodeFor } from '../core/errors.js';
import type { ProgressUpdate } from '../core/context.js';

/** `wxops run`: one command, one answer, an exit code scripts can branch on. */
export async function runOnce(text: string, opts: { as?: string; json?: boolean }): Promise<number> {
  const runtime = new Runtime();
  let outcome: Outcome;
  try {
    const session = new Session({
      runtime,
      registry: createRegistry(),
      channel: 'cli',
      actor: opts.as,
      onProgress: opts.json ? undefined : progressPrinter(runtime.lang),
    });
    outcome = await session.execute(text);
  } catch (err) {
    // Only configuration problems (e.g. live mode without an actor) reach here.
    const error = err instanceof WxopsError ? err : undefined;
    outcome = { ok: false, command: text, actor: opts.as ?? '', exitCode: exitCodeFor(err), dryRun: false, error };
    if (!error) throw err;
  } finally {
    await runtime.close();
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(toJson(outcome, runtime.lang))}\n`);
  } else {
    const text = renderOutcome(outcome, { lang: runtime.lang, color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR });
    (outcome.ok ? process.stdout : process.stderr).write(`${text}\n`);
  }
  return outcome.exitCode;
}

export function toJson(outcome: Outcome, lang: 'zh' | 'en'): Record<string, unknown> {
  if (outcome.ok) {
    return { ok: true, command: outcome.command, actor: outcome.actor, ...(outcome.dryRun ? { dry_run: true } : {}), result: outcome.result!.data };
  }
  const err = outcome.error!;
  return {
    ok: false,
    command: outcome.command,
    actor: outcome.actor,
    error: { code: err.code, message: localize(err.text, lang), ...(err.details !== undefined ? { details: err.details } : {}) },
  };
}

/** Outside the REPL, long work reports progress as lines on stderr, at most every 10 % or 2 s. */
function progressPrinter(lang: 'zh' | 'en'): (u: ProgressUpdate) => void {
  let lastShown = 0;
  let lastPct = -10;
  return (u) => {
    if (u.total < 20) return;
    const pct = Math.floor((u.done / u.total) * 100);
    const now = Date.now();
    if (u.done !== u.total && pct - lastPct < 10 && now - lastShown < 2000) return;
    lastShown = now;
    lastPct = pct;
    process.stderr.write(lang === 'zh' ? `进度：${u.done}/${u.total}（${pct}%）\n` : `progress: ${u.done}/${u.total} (${pct}%)\n`);
  };
}
