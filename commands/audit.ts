import { z } from 'zod';
import { defineCommand, option, type CommandSpec } from '../src/core/command.js';
import { InputError, WxopsError } from '../src/core/errors.js';
import { formatTime, t } from '../src/core/i18n.js';
import type { View } from '../src/core/result.js';
import { PROBLEM_TEXT, type StoredAuditEntry } from '../src/audit/log.js';
import type { CommandContext } from '../src/core/context.js';

/** The audit log (ARCHITECTURE §6): recent entries, searches, and the chain check. */
const columns = [
  { key: 'seq', title: t('序号', 'seq'), align: 'right' as const },
  { key: 'ts', title: t('时间', 'time') },
  { key: 'actor', title: t('操作人', 'actor') },
  { key: 'channel', title: t('渠道', 'channel') },
  { key: 'action', title: t('动作', 'action') },
  { key: 'outcome', title: t('结果', 'outcome') },
  { key: 'command', title: t('命令', 'command') },
];

function table(entries: StoredAuditEntry[]): View {
  return {
    type: 'table',
    columns,
    rows: entries.map((e) => ({
      seq: e.seq,
      ts: formatTime(e.ts),
      actor: e.actor,
      channel: e.channel,
      action: e.action ?? '',
      outcome: e.outcome + (e.rule ? ` (${e.rule})` : ''),
      command: e.command.length > 60 ? `${e.command.slice(0, 57)}…` : e.command,
    })),
  };
}

/** `2026-11-01`, `2026-11-01T08:00`, or relative: `30m`, `24h`, `7d`. */
export function parseSince(s: string, now: Date): Date {
  const rel = /^(\d+)\s*(m|h|d)$/.exec(s.trim());
  if (rel) return new Date(now.getTime() - Number(rel[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd']);
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new InputError('BAD_DATE', t('无法识别时间 “{s}”：请写 2026-11-01 或 7d、24h、30m。', 'Cannot read the time “{s}”: write 2026-11-01, or 7d, 24h, 30m.', { s }));
  return d;
}

async function log(ctx: CommandContext) {
  return ctx.session.runtime.audit();
}

export const auditTail = defineCommand({
  name: 'audit tail',
  alias: '审计 最近',
  summary: t('查看最近的审计记录', 'Show the latest audit entries'),
  params: { lines: option(z.coerce.number().int().min(1).max(1000).optional(), t('条数（默认 20）', 'how many (default 20)'), { short: 'n', placeholder: 'n' }) },
  action: 'audit.tail',
  mutates: false,
  readOnly: true,
  async run(ctx, a) {
    const entries = await (await log(ctx)).query({ limit: a.lines ?? 20 });
    return { data: { entries }, view: table(entries) };
  },
});

export const auditSearch = defineCommand({
  name: 'audit search',
  alias: '审计 查询',
  summary: t('按操作人、动作、时间、结果查询审计记录', 'Search the audit log by actor, action, time and outcome'),
  examples: ['audit search --actor lina --since 7d', 'audit search --action member.* --result deny'],
  params: {
    actor: option(z.string().optional(), t('操作人帐号', 'acting userid'), { placeholder: 'userid', complete: 'member' }),
    action: option(z.string().optional(), t('动作，如 member.add 或 member.*', 'action, e.g. member.add or member.*')),
    since: option(z.string().optional(), t('起始时间：2026-11-01 或 7d、24h', 'since: 2026-11-01, or 7d, 24h')),
    result: option(
      z.enum(['permit', 'deny', 'needs-approval', 'done', 'failed', 'dry-run', 'requested', 'approved', 'rejected', 'cancelled']).optional(),
      t('结果：permit、deny、needs-approval、done、failed …', 'outcome: permit, deny, needs-approval, done, failed …'),
    ),
    limit: option(z.coerce.number().int().min(1).max(10000).optional(), t('最多条数（默认 50）', 'at most this many (default 50)')),
  },
  action: 'audit.search',
  mutates: false,
  readOnly: true,
  async run(ctx, a) {
    const entries = await (await log(ctx)).query({ actor: a.actor, action: a.action, result: a.result, since: a.since ? parseSince(a.since, ctx.now()) : undefined, limit: a.limit ?? 50 });
    return { data: { entries }, view: table(entries) };
  },
});

export const auditVerify = defineCommand({
  name: 'audit verify',
  alias: '审计 校验',
  summary: t('校验审计日志的哈希链，报告第一处被篡改的记录', 'Check the hash chain and report the first tampered entry'),
  params: {},
  action: 'audit.verify',
  mutates: false,
  readOnly: true,
  async run(ctx) {
    const audit = await log(ctx);
    const report = await audit.verify();
    if (!report.ok) {
      const p = report.problem!;
      const k = PROBLEM_TEXT[p.kind];
      throw new WxopsError(
        'AUDIT_TAMPERED',
        'failed',
        {
          zh: `审计日志校验失败：第 ${p.line} 行（序号 ${p.seq ?? '?'}）${k.zh}。之前的 ${report.entries} 条记录完好。`,
          en: `The audit log fails verification: line ${p.line} (seq ${p.seq ?? '?'}) ${k.en}. The ${report.entries} entries before it are intact.`,
        },
        { ...report, backend: audit.kind, file: audit.file },
      );
    }
    return {
      data: { ...report, backend: audit.kind, file: audit.file },
      view: { type: 'message', text: t('审计日志完好：{n} 条记录，哈希链连续，与链头一致。', 'The audit log is intact: {n} entries, an unbroken chain matching its head.', { n: report.entries }) },
    };
  },
});

export const auditCommands: CommandSpec<any>[] = [auditTail, auditSearch, auditVerify];
