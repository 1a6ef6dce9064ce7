import Table from 'cli-table3';
import pc from 'picocolors';
import { localize, type Lang } from '../core/i18n.js';
import type { Outcome } from '../core/pipeline.js';
import type { TreeNode, View } from '../core/result.js';
import type { Plan } from '../core/plan.js';

/**
 * Renders an outcome for a terminal: coloured tables and trees in the REPL, the same layout without
 * colour when output is piped. (Chat channels have their own renderers; `--json` prints data only.)
 */
const PLAN_STEPS_SHOWN = 20;

export interface TextRenderOptions {
  lang: Lang;
  color: boolean;
}

export function renderOutcome(outcome: Outcome, opts: TextRenderOptions): string {
  const c = pc.createColors(opts.color);
  if (!outcome.ok) {
    const err = outcome.error!;
    if (err.category === 'approval') {
      const details = err.details as { plan?: Plan } | undefined;
      const plan = details?.plan ? `\n${renderView({ type: 'plan', plan: details.plan, dryRun: false }, opts)}` : '';
      return `${c.yellow(`⏳ ${localize(err.text, opts.lang)}`)}${plan}`;
    }
    const label = err.category === 'denied' ? '⛔' : '✗';
    return c.red(`${label} ${localize(err.text, opts.lang)}`);
  }
  return renderView(outcome.result!.view, opts);
}

export function renderView(view: View, opts: TextRenderOptions): string {
  const c = pc.createColors(opts.color);
  const L = (x: Parameters<typeof localize>[0]) => localize(x, opts.lang);
  switch (view.type) {
    case 'message': {
      const mark = view.tone === 'warning' ? c.yellow('!') : view.tone === 'info' ? c.cyan('i') : c.green('✓');
      return `${mark} ${L(view.text)}`;
    }
    case 'fields': {
      const labels = view.fields.map((f) => L(f.label));
      const width = Math.max(...labels.map(displayWidth));
      const lines = view.fields.map((f, i) => `${c.dim(pad(labels[i]!, width))}  ${f.value}`);
      return [view.caption ? c.bold(L(view.caption)) : undefined, ...lines].filter(Boolean).join('\n');
    }
    case 'table': {
      if (view.rows.length === 0) {
        return [view.caption ? c.bold(L(view.caption)) : undefined, c.dim(opts.lang === 'zh' ? '（没有记录）' : '(nothing to show)')]
          .filter(Boolean)
          .join('\n');
      }
      const table = new Table({
        head: view.columns.map((col) => L(col.title)),
        style: { head: opts.color ? ['cyan'] : [], border: opts.color ? ['grey'] : [] },
        colAligns: view.columns.map((col) => col.align ?? 'left'),
        wordWrap: false,
      });
      for (const row of view.rows) table.push(view.columns.map((col) => cell(row[col.key])));
      return [view.caption ? c.bold(L(view.caption)) : undefined, table.toString(), view.footer ? c.dim(L(view.footer)) : undefined]
        .filter(Boolean)
        .join('\n');
    }
    case 'tree': {
      const lines: string[] = [];
      if (view.caption) lines.push(c.bold(L(view.caption)));
      const walk = (node: TreeNode, prefix: string, last: boolean, top: boolean): void => {
        const branch = top ? '' : last ? '└─ ' : '├─ ';
        lines.push(`${c.dim(prefix + branch)}${node.label}${node.note ? ` ${c.dim(node.note)}` : ''}`);
        const next = top ? '' : prefix + (last ? '   ' : '│  ');
        node.children.forEach((child, i) => walk(child, next, i === node.children.length - 1, false));
      };
      view.roots.forEach((r) => walk(r, '', true, true));
      if (view.footer) lines.push(c.dim(L(view.footer)));
      return lines.join('\n');
    }
    case 'plan': {
      const head = view.dryRun
        ? c.yellow(opts.lang === 'zh' ? '计划（--dry-run：以下操作均未执行）' : 'Plan (--dry-run: nothing below was done)')
        : c.bold(opts.lang === 'zh' ? '计划' : 'Plan');
      const lines = [head, L(view.plan.summary)];
      for (const note of view.plan.notes ?? []) lines.push(c.dim(L(note)));
      // A bulk plan can have thousands of steps: show the first ones; --json carries them all.
      const shown = view.plan.steps.length > PLAN_STEPS_SHOWN + 5 ? PLAN_STEPS_SHOWN : view.plan.steps.length;
      view.plan.steps.slice(0, shown).forEach((s, i) => lines.push(`  ${i + 1}. ${L(s.describe)} ${c.dim(`(${s.method} ${s.api})`)}`));
      const rest = view.plan.steps.length - shown;
      if (rest > 0) lines.push(c.dim(opts.lang === 'zh' ? `  …另有 ${rest} 步（用 --json 查看全部）` : `  … and ${rest} more steps (--json shows them all)`));
      if (view.plan.steps.length === 0) lines.push(c.dim(opts.lang === 'zh' ? '  无需任何调用。' : '  No calls are needed.'));
      return lines.join('\n');
    }
    case 'sections':
      return view.sections.map((s) => renderView(s, opts)).join('\n\n');
  }
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}

/** Terminal columns: CJK and full-width characters take two. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}

function pad(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - displayWidth(s)));
}
