import { z } from 'zod';
import { arg, defineCommand, flag, option, type CommandSpec } from '../src/core/command.js';
import type { CommandContext } from '../src/core/context.js';
import { WxopsError } from '../src/core/errors.js';
import { formatTime, t, type Text } from '../src/core/i18n.js';
import { message, type View } from '../src/core/result.js';
import { describeStep, SUPER_ADMIN_ROLE, type ApprovalRequest } from '../src/approval/service.js';

/** Approval requests: list, inspect, approve, reject, cancel (the approval gate of ARCHITECTURE §3). */
const idArg = arg(z.string().regex(/^#?\d+$/, { message: '审批编号是数字 / an approval id is a number' }), t('审批请求编号', 'approval request id'), { placeholder: 'id' });

const STATUS: Record<string, Text> = {
  pending: t('待审批', 'pending'),
  approved: t('已批准', 'approved'),
  rejected: t('已驳回', 'rejected'),
  cancelled: t('已撤销', 'cancelled'),
  expired: t('已过期', 'expired'),
  done: t('已执行', 'done'),
  failed: t('执行失败', 'failed'),
};

function progress(r: ApprovalRequest, lang: 'zh' | 'en'): string {
  return r.steps.map((s, i) => `${i + 1}.${describeStep(s, lang)}${s.approvedBy ? ` ✓${s.approvedBy}` : ''}`).join(' → ');
}

/** Each approval step and closing goes to the audit log, next to the decisions it concerns. */
async function record(ctx: CommandContext, r: ApprovalRequest, outcome: string, detail: Record<string, unknown>): Promise<void> {
  await (await ctx.session.runtime.audit()).append({ kind: 'approval', actor: ctx.actor.userid, channel: ctx.channel, command: r.command, action: r.action, outcome, detail: { request: r.id, ...detail } });
}

async function services(ctx: CommandContext) {
  const [approvals, dir] = await Promise.all([ctx.session.runtime.approvals(), ctx.directory()]);
  return { approvals, dir };
}

export const approvalList = defineCommand({
  name: 'approval list',
  alias: '审批 列表',
  summary: t('列出审批请求（默认只列待审批的）', 'List approval requests (pending ones unless --all)'),
  params: { all: flag(z.boolean(), t('包括已结束的请求', 'include closed requests')) },
  action: 'approval.list',
  mutates: false,
  async run(ctx, a) {
    const { approvals, dir } = await services(ctx);
    const me = ctx.actor.userid;
    const isSuper = dir.policy.rolesOf(dir.actor(me)).includes(SUPER_ADMIN_ROLE);
    // Members see their own requests and those they may approve; super admins see all.
    const visible = (await approvals.list()).filter(
      (r) => (a.all || r.status === 'pending') && (isSuper || r.requester === me || r.steps.some((s) => s.eligible.includes(me) || s.approvedBy === me)),
    );
    return {
      data: { requests: visible },
      view: {
        type: 'table',
        columns: [
          { key: 'id', title: t('编号', 'id'), align: 'right' },
          { key: 'requester', title: t('发起人', 'requester') },
          { key: 'command', title: t('命令', 'command') },
          { key: 'steps', title: t('审批步骤', 'steps') },
          { key: 'status', title: t('状态', 'status') },
          { key: 'expires', title: t('过期时间', 'expires') },
        ],
        rows: visible.map((r) => ({
          id: r.id,
          requester: r.requester,
          command: r.command,
          steps: progress(r, ctx.lang),
          status: STATUS[r.status]![ctx.lang],
          expires: formatTime(r.expiresAt),
        })),
      },
    };
  },
});

export const approvalShow = defineCommand({
  name: 'approval show',
  alias: '审批 查看',
  summary: t('查看审批请求的计划和进度', 'Show a request with its plan and progress'),
  params: { id: idArg },
  action: 'approval.show',
  mutates: false,
  async run(ctx, a) {
    const { approvals } = await services(ctx);
    const r = await approvals.get(a.id);
    const fields: View = {
      type: 'fields',
      caption: t('审批请求 {id}', 'Approval request {id}', { id: r.id }),
      fields: [
        { label: t('发起人', 'requester'), value: `${r.requester}（${r.channel}${r.room ? ` / ${r.room}` : ''}）` },
        { label: t('命令', 'command'), value: r.command },
        { label: t('状态', 'status'), value: STATUS[r.status]![ctx.lang] },
        { label: t('审批流程', 'chain'), value: r.chain },
        ...r.steps.map((s, i) => ({
          label: t('第 {n} 步', 'step {n}', { n: i + 1 }),
          value: `${describeStep(s, ctx.lang)}: ${s.approvedBy ? `✓ ${s.approvedBy} ${formatTime(s.at!)}` : `${ctx.lang === 'zh' ? '可审批' : 'can approve'}: ${s.eligible.join(', ')}`}`,
        })),
        { label: t('创建', 'created'), value: formatTime(r.createdAt) },
        { label: t('过期', 'expires'), value: formatTime(r.expiresAt) },
        ...(r.result ? [{ label: t('执行结果', 'result'), value: r.result.message }] : []),
        ...(r.reason ? [{ label: t('原因', 'reason'), value: r.reason }] : []),
      ],
    };
    return { data: r, view: { type: 'sections', sections: [fields, { type: 'plan', plan: r.plan, dryRun: false }] } };
  },
});

export const approvalApprove = defineCommand({
  name: 'approval approve',
  alias: '审批 同意',
  summary: t('同意审批请求的当前步骤；最后一步通过后立即执行', 'Approve the current step; the command runs when the last step is approved'),
  params: { id: idArg },
  action: 'approval.approve',
  mutates: true,
  async plan(ctx, a) {
    const { approvals } = await services(ctx);
    const r = await approvals.get(a.id);
    const next = r.steps.findIndex((s) => !s.approvedBy);
    const last = next === r.steps.length - 1;
    return {
      summary: last
        ? t('同意请求 {id} 的最后一步，并以 {u} 的身份执行：{p}', 'Approve the last step of request {id} and run, as {u}: {p}', { id: r.id, u: r.requester, p: r.plan.summary.zh })
        : t('同意请求 {id} 的第 {n} 步（共 {m} 步）', 'Approve step {n} of {m} of request {id}', { id: r.id, n: next + 1, m: r.steps.length }),
      steps: last ? r.plan.steps : [],
    };
  },
  async run(ctx, a) {
    const { approvals, dir } = await services(ctx);
    const { request, complete, step } = await approvals.approve(a.id, ctx.actor.userid, dir);
    await record(ctx, request, 'approved', { step });
    if (!complete) {
      const next = request.steps[step]!;
      const who = next.eligible.join(', ');
      return message(
        {
          zh: `已同意请求 ${request.id} 的第 ${step} 步；下一步（${describeStep(next, 'zh')}）由 ${who} 审批。`,
          en: `Approved step ${step} of request ${request.id}; the next step (${describeStep(next, 'en')}) is for ${who}.`,
        },
        { request: request.id, step, complete: false },
      );
    }
    const outcome = await ctx.session.runApproved(request);
    await approvals.finish(request, { ok: outcome.ok, message: outcome.ok ? 'done' : outcome.error!.text.en });
    if (!outcome.ok) {
      const e = outcome.error!;
      throw new WxopsError(e.code, e.category === 'approval' ? 'failed' : e.category, {
        zh: `请求 ${request.id} 已获全部批准，但执行失败：${e.text.zh}`,
        en: `Request ${request.id} was fully approved, but running it failed: ${e.text.en}`,
      });
    }
    return {
      data: { request: request.id, step, complete: true, result: outcome.result!.data },
      view: {
        type: 'sections',
        sections: [
          { type: 'message', text: t('请求 {id} 已获全部批准并已执行：', 'Request {id} is fully approved and was run:', { id: request.id }) },
          outcome.result!.view,
        ],
      },
    };
  },
});

export const approvalReject = defineCommand({
  name: 'approval reject',
  alias: '审批 驳回',
  summary: t('驳回审批请求', 'Reject a request'),
  params: { id: idArg, reason: option(z.string().max(500).optional(), t('驳回原因', 'reason')) },
  action: 'approval.reject',
  mutates: true,
  async plan(_ctx, a) {
    return { summary: t('驳回请求 {id}', 'Reject request {id}', { id: a.id }), steps: [] };
  },
  async run(ctx, a) {
    const { approvals, dir } = await services(ctx);
    const r = await approvals.reject(a.id, ctx.actor.userid, a.reason, dir);
    await record(ctx, r, 'rejected', { reason: a.reason });
    return message(t('已驳回请求 {id}。', 'Rejected request {id}.', { id: r.id }), { request: r.id, status: r.status });
  },
});

export const approvalCancel = defineCommand({
  name: 'approval cancel',
  alias: '审批 撤销',
  summary: t('撤销自己发起的审批请求', 'Cancel a request you made'),
  params: { id: idArg },
  action: 'approval.cancel',
  mutates: true,
  async plan(_ctx, a) {
    return { summary: t('撤销请求 {id}', 'Cancel request {id}', { id: a.id }), steps: [] };
  },
  async run(ctx, a) {
    const { approvals, dir } = await services(ctx);
    const r = await approvals.cancel(a.id, ctx.actor.userid, dir);
    await record(ctx, r, 'cancelled', {});
    return message(t('已撤销请求 {id}。', 'Cancelled request {id}.', { id: r.id }), { request: r.id, status: r.status });
  },
});

export const approvalCommands: CommandSpec<any>[] = [approvalList, approvalShow, approvalApprove, approvalReject, approvalCancel];
