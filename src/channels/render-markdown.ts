import { localize, type Lang } from '../core/i18n.js';
import type { Outcome } from '../core/pipeline.js';
import type { Plan } from '../core/plan.js';
import type { TreeNode, View } from '../core/result.js';

/**
 * Renders an outcome as chat markdown — the subset WeCom's robot markdown, Slack's mrkdwn (after
 * `toSlack`) and wechaty text all read: bold, quotes, lists, no tables (they do not render in the group),
 * so a table becomes one line per row. Long answers are split at line ends (`splitByBytes`), since the
 * platforms count bytes (WeCom markdown: 4,096).
 */
const ROWS_SHOWN = 30;
const STEPS_SHOWN = 10;

export function renderMarkdown(outcome: Outcome, lang: Lang): string {
  if (!outcome.ok) {
    const err = outcome.error!;
    if (err.category === 'approval') {
      const plan = (err.details as { plan?: Plan } | undefined)?.plan;
      return [`⏳ ${localize(err.text, lang)}`, plan ? planMarkdown(plan, false, lang) : ''].filter(Boolean).join('\n\n');
    }
    return `${err.category === 'denied' ? '⛔' : '❌'} ${localize(err.text, lang)}`;
  }
  return viewMarkdown(outcome.result!.view, lang);
}

export function viewMarkdown(view: View, lang: Lang): string {
  const L = (x: Parameters<typeof localize>[0]) => localize(x, lang);
  switch (view.type) {
    case 'message':
      return `${view.tone === 'warning' ? '⚠️' : view.tone === 'info' ? 'ℹ️' : '✅'} ${L(view.text)}`;
    case 'fields':
      return [view.caption ? `**${L(view.caption)}**` : '', ...view.fields.map((f) => `> ${L(f.label)}：${f.value}`)].filter(Boolean).join('\n');
    case 'table': {
      const head = view.caption ? `**${L(view.caption)}**` : '';
      if (!view.rows.length) return [head, lang === 'zh' ? '（没有记录）' : '(nothing to show)'].filter(Boolean).join('\n');
      const titles = view.columns.map((c) => L(c.title));
      const rows = view.rows.slice(0, ROWS_SHOWN).map((r) =>
        `- ${view.columns
          .map((c, i) => {
            const v = cell(r[c.key]);
            return v === '' ? '' : i === 0 ? `**${v}**` : titles[i] ? `${titles[i]} ${v}` : v;
          })
          .filter(Boolean)
          .join(' · ')}`,
      );
      const more = view.rows.length - Math.min(view.rows.length, ROWS_SHOWN);
      const tail = more > 0 ? (lang === 'zh' ? `…另有 ${more} 行（在终端用 --json 查看全部）` : `… and ${more} more rows (--json in a terminal shows all)`) : '';
      return [head, ...rows, tail, view.footer ? `> ${L(view.footer)}` : ''].filter(Boolean).join('\n');
    }
    case 'tree': {
      const lines: string[] = view.caption ? [`**${L(view.caption)}**`] : [];
      const walk = (n: TreeNode, depth: number): void => {
        lines.push(`${'  '.repeat(depth)}- ${n.label}${n.note ? ` ${n.note}` : ''}`);
        n.children.forEach((c) => walk(c, depth + 1));
      };
      view.roots.forEach((r) => walk(r, 0));
      if (view.footer) lines.push(`> ${L(view.footer)}`);
      return lines.join('\n');
    }
    case 'plan':
      return planMarkdown(view.plan, view.dryRun, lang);
    case 'sections':
      return view.sections.map((s) => viewMarkdown(s, lang)).join('\n\n');
  }
}

function planMarkdown(plan: Plan, dryRun: boolean, lang: Lang): string {
  const L = (x: Parameters<typeof localize>[0]) => localize(x, lang);
  const head = dryRun ? (lang === 'zh' ? '**计划**（--dry-run：以下操作均未执行）' : '**Plan** (--dry-run: nothing below was done)') : lang === 'zh' ? '**计划**' : '**Plan**';
  const steps = plan.steps.slice(0, STEPS_SHOWN).map((s, i) => `${i + 1}. ${L(s.describe)}`);
  const more = plan.steps.length - steps.length;
  return [
    head,
    L(plan.summary),
    ...(plan.notes ?? []).map((n) => `> ${L(n)}`),
    ...steps,
    more > 0 ? (lang === 'zh' ? `…另有 ${more} 步` : `… and ${more} more steps`) : '',
  ]
    .filter(Boolean)
    .join('\n');
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join('、');
  return String(v);
}

/** Splits text into parts of at most `maxBytes` UTF-8 bytes, at line ends where possible, never inside a character. */
export function splitByBytes(text: string, maxBytes: number): string[] {
  const parts: string[] = [];
  let current = '';
  const size = (s: string) => Buffer.byteLength(s, 'utf8');
  const pushLine = (line: string) => {
    const candidate = current ? `${current}\n${line}` : line;
    if (size(candidate) <= maxBytes) {
      current = candidate;
      return;
    }
    if (current) parts.push(current);
    current = '';
    if (size(line) <= maxBytes) {
      current = line;
      return;
    }
    // A single line longer than the limit: cut it by characters.
    let piece = '';
    for (const ch of line) {
      if (size(piece + ch) > maxBytes) {
        parts.push(piece);
        piece = '';
      }
      piece += ch;
    }
    current = piece;
  };
  for (const line of text.split('\n')) pushLine(line);
  if (current) parts.push(current);
  return parts.length ? parts : [''];
}
