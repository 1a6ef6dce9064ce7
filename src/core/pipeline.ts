import { channel } from 'node:diagnostics_channel';
import type { AnyCommand } from './command.js';
import type { Actor, Channel, CommandContext, ProgressUpdate } from './context.js';
import { ApprovalPending, DeniedError, EXIT_CODES, RuntimeFailure, WxopsError, exitCodeFor } from './errors.js';
import { formatTime, t, type Lang } from './i18n.js';
import type { OrgTree } from './org.js';
import type { Registry } from './registry.js';
import type { CommandResult } from './result.js';
import type { Runtime } from './runtime.js';
import { tokenize } from './tokenizer.js';
import type { AuditEntry } from '../audit/log.js';
import { describeStep, type ApprovalRequest, type Directory } from '../approval/service.js';
import type { Decision, PolicyActor } from '../policy/engine.js';
import { buildDirectory, whoCan } from '../policy/directory.js';
import { planHash, type Plan } from './plan.js';

/**
 * The one path every command takes (ARCHITECTURE §3):
 * tokenize → parse → validate → resolve → decide → (approval) → plan → execute → audit → reply.
 * Channels differ only in how they build a Session and render the Outcome.
 */
export interface SessionOptions {
  runtime: Runtime;
  registry: Registry;
  channel: Channel;
  actor?: string;
  room?: string;
  lang?: Lang;
  mentions?: string[];
  stripLeadingMentions?: boolean;
  onProgress?: (update: ProgressUpdate) => void;
}

export interface Outcome {
  ok: boolean;
  command: string;
  actor: string;
  exitCode: number;
  dryRun: boolean;
  result?: CommandResult;
  error?: WxopsError;
}

/**
 * Published the moment a command's policy decision is made ({ command, effect }), before it is audited:
 * for tracing, and for the decision-to-reply latency the benchmarks measure.
 */
export const commandDecided = channel('wxops:command:decided');

export class Session {
  readonly actorId: string;
  readonly lang: Lang;
  private actorPromise?: Promise<Actor>;

  constructor(private readonly opts: SessionOptions) {
    this.actorId = opts.actor ?? opts.runtime.defaultActor();
    this.lang = opts.lang ?? opts.runtime.lang;
  }

  get runtime(): Runtime {
    return this.opts.runtime;
  }

  async execute(text: string, signal?: AbortSignal, approved?: ApprovalRequest): Promise<Outcome> {
    let commandName = text.trim();
    let command: AnyCommand | undefined;
    let dryRun = false;
    let decided = false;
    let ran = false;
    // A decision that waits to go on the log with what came of it (a read or a dry run, below).
    let pending: Omit<AuditEntry, 'actor' | 'channel'> | undefined;
    // A decision being appended while the plan is worked out (a change, below).
    let decisionWrite: Promise<void> | undefined;
    try {
      const tokens = tokenize(text, { mentions: this.opts.mentions, stripLeadingMentions: this.opts.stripLeadingMentions });
      const parsed = this.opts.registry.parse(tokens, this.lang);
      command = parsed.command;
      commandName = command.name;
      dryRun = parsed.dryRun;
      const ctx = this.context(dryRun, signal, command.usesPlatform === false);
      const actor = await this.actor(ctx);
      ctx.actor = actor;
      if (parsed.help) {
        const help = this.opts.registry.route(['help']);
        const result = await help!.command.run(ctx, { command: [command.name], all: false }, undefined, {});
        return this.ok(commandName, result, false);
      }
      const resource = command.resolve ? await command.resolve(ctx, parsed.args) : {};
      const dir = await ctx.directory();
      const decision = dir.policy.decide({
        actor: dir.actor(actor.userid),
        action: command.action,
        resource,
        context: { channel: this.opts.channel, room: this.opts.room },
      });
      if (commandDecided.hasSubscribers) commandDecided.publish({ command: command.name, effect: decision.effect });
      const decisionEntry = { kind: 'decision' as const, command: text, action: command.action, resource, rule: decision.rule, outcome: decision.effect };
      // The decision goes on the log before anything can change. A dry run (its plan only reads) or a
      // read-only command changes nothing, so its decision goes with its result, in one append that the
      // reply still waits for: one write (one commit on PostgreSQL) per command instead of two. A request
      // for approval is a change (it is stored), so that decision is written first like any other. A
      // permitted change's decision is appended while its plan is worked out (a plan only reads, and the
      // platform's round trips hide the log's), and waited for before anything changes.
      const changesNothing = dryRun || command.readOnly === true;
      if (decision.effect === 'permit' ? changesNothing : decision.effect === 'needs-approval' && dryRun) pending = decisionEntry;
      else if (decision.effect === 'permit' && command.plan) {
        decisionWrite = this.audit(decisionEntry);
        // Observed where it is awaited; a failure that comes first must not count as unhandled meanwhile.
        decisionWrite.catch(() => undefined);
      } else await this.audit(decisionEntry);
      // From here a failure is recorded as this decision's result (not when the audit itself failed).
      decided = true;
      if (decision.effect === 'deny') {
        // Only on the way out: the trace says which conditional grant came closest, for the message.
        const explained = decision.rule ? decision : dir.policy.explain({ actor: dir.actor(actor.userid), action: command.action, resource, context: { channel: this.opts.channel, room: this.opts.room } });
        throw denial(command, explained, whoCan(dir, command.action, resource, this.opts.channel));
      }
      const plan = command.plan ? await command.plan(ctx, parsed.args, resource) : undefined;
      await decisionWrite;
      if (dryRun && plan) {
        await this.audit({ kind: 'result', command: text, action: command.action, outcome: 'dry-run' }, pending);
        return this.ok(commandName, { data: { plan }, view: { type: 'plan', plan, dryRun: true } }, true);
      }
      if (decision.effect === 'needs-approval' && !approved) {
        throw await this.requestApproval(text, command, resource, plan, decision, dir);
      }
      if (approved && plan && planHash(plan) !== approved.planHash) {
        throw new DeniedError(
          t('请求 {id} 批准后，{cmd} 涉及的数据已经变化（计划与审批时不同），未执行；请重新发起。', 'Since request {id} was made, what {cmd} acts on has changed (the plan differs from the one approved); nothing was done. Run it again.', {
            id: approved.id,
            cmd: command.name,
          }),
        );
      }
      if (pending && command.readOnly !== true) {
        // A dry run of a command without a plan runs it for real: its decision goes first after all.
        await this.audit(pending);
        pending = undefined;
      }
      const result = await command.run(ctx, parsed.args, plan, resource);
      ran = true;
      const done = { kind: 'result' as const, command: text, action: command.action, outcome: 'done', detail: approved ? { approval: approved.id } : undefined };
      if (pending) {
        // Nothing was changed: if the log cannot be written, the command fails and its answer is not given.
        const held = pending;
        pending = undefined;
        await this.audit(done, held);
      } else {
        await this.audit(done).catch((err) => {
          throw unrecordedResult(command!, err);
        });
      }
      return this.ok(commandName, result, dryRun);
    } catch (err) {
      const error = asWxopsError(err);
      if (!(err instanceof WxopsError) || error.category === 'failed') {
        const log = await this.opts.runtime.logger().catch(() => undefined);
        log?.error({ command: commandName, actor: this.actorId, code: error.code, err: err instanceof Error ? err.stack : String(err) }, 'command failed');
      }
      // A decision whose append failed has no result to go with it.
      const written = decisionWrite ? await decisionWrite.then(() => true, () => false) : true;
      const failed = decided && written && !ran && command && error.category !== 'denied' && error.category !== 'approval';
      if (failed) {
        await this.audit({ kind: 'result', command: text, action: command!.action, outcome: 'failed', error: { code: error.code, message: error.text.en } }, pending).catch(() => undefined);
      } else if (pending) {
        await this.audit(pending).catch(() => undefined);
      }
      return { ok: false, command: commandName, actor: this.actorId, exitCode: exitCodeFor(error), dryRun, error };
    }
  }

  private async requestApproval(text: string, command: AnyCommand, resource: Record<string, unknown>, plan: Plan | undefined, decision: Decision, dir: Directory): Promise<WxopsError> {
    if (!plan) {
      return new DeniedError(t('审批流程 {a} 只能用于修改类命令。', 'The approval chain {a} applies only to commands that change something.', { a: decision.approval!.id }));
    }
    const approvals = await this.opts.runtime.approvals();
    const request = await approvals.create({
      chain: decision.approval!,
      requester: this.actorId,
      channel: this.opts.channel,
      room: this.opts.room,
      command: text,
      commandName: command.name,
      action: command.action,
      resource,
      plan,
      planHash: planHash(plan),
      dir,
    });
    await this.audit({ kind: 'approval', command: text, action: command.action, resource, rule: decision.rule, outcome: 'requested', detail: { request: request.id, chain: request.chain } });
    const steps = (lang: 'zh' | 'en') => request.steps.map((s, i) => `${i + 1}. ${describeStep(s, lang)}: ${s.eligible.join(', ') || '—'}`);
    return new ApprovalPending(
      {
        zh: `${command.name} 需要审批，已创建请求 ${request.id}（${formatTime(request.expiresAt)} 前有效）。审批步骤：${steps('zh').join('；')}。计划：${plan.summary.zh}`,
        en: `${command.name} needs approval: request ${request.id} was created (valid until ${formatTime(request.expiresAt)}). Steps: ${steps('en').join('; ')}. Plan: ${plan.summary.en}`,
      },
      { request_id: request.id, approvers: request.steps.map((s) => s.eligible), plan, expires_at: request.expiresAt },
    );
  }

  /**
   * Parse, resolve and decide — nothing planned, run or audited. `policy explain` and `policy test`
   * use this so that they judge a command exactly as running it would.
   */
  async decideOnly(text: string): Promise<{ command: AnyCommand; resource: Record<string, unknown>; decision: Decision; actor: PolicyActor }> {
    const parsed = this.opts.registry.parse(tokenize(text, { mentions: this.opts.mentions, stripLeadingMentions: this.opts.stripLeadingMentions }), this.lang);
    const ctx = this.context(false);
    ctx.actor = await this.actor(ctx);
    const resource = parsed.command.resolve ? await parsed.command.resolve(ctx, parsed.args) : {};
    const dir = await ctx.directory();
    const actor = dir.actor(ctx.actor.userid);
    const decision = dir.policy.explain({ actor, action: parsed.command.action, resource, context: { channel: this.opts.channel, room: this.opts.room } });
    return { command: parsed.command, resource, decision, actor };
  }

  /** Runs an approved request as its requester, through the whole pipeline again (re-decided now). */
  async runApproved(request: ApprovalRequest): Promise<Outcome> {
    const session = new Session({ ...this.opts, actor: request.requester, channel: request.channel as Channel, room: request.room });
    return session.execute(request.command, undefined, request);
  }

  private ok(command: string, result: CommandResult, dryRun: boolean): Outcome {
    return { ok: true, command, actor: this.actorId, exitCode: EXIT_CODES.ok, dryRun, result };
  }

  private async actor(ctx: CommandContext): Promise<Actor> {
    this.actorPromise ??= this.opts.runtime.resolveActor(this.actorId, await ctx.org());
    try {
      return await this.actorPromise;
    } catch (err) {
      this.actorPromise = undefined;
      throw err;
    }
  }

  /**
   * Written before the command goes on (a decision) or replies (a result): an audit that fails fails the
   * command. `decision`: a decision held back until now (see execute), written with `entry` in one step.
   */
  private async audit(entry: Omit<AuditEntry, 'actor' | 'channel'>, decision?: Omit<AuditEntry, 'actor' | 'channel'>): Promise<void> {
    const log = await this.opts.runtime.audit();
    const who = { actor: this.actorId, channel: this.opts.channel };
    if (decision) await log.appendAll([{ ...decision, ...who }, { ...entry, ...who }]);
    else await log.append({ ...entry, ...who });
  }

  /** `snapshot`: the command only advises, so a recent department snapshot will do (Runtime.orgSnapshot). */
  private context(dryRun: boolean, signal?: AbortSignal, snapshot = false): CommandContext {
    const runtime = this.opts.runtime;
    let org: Promise<OrgTree> | undefined;
    let dir: Promise<Directory> | undefined;
    const ctx: CommandContext = {
      actor: { userid: this.actorId, departments: [] },
      channel: this.opts.channel,
      room: this.opts.room,
      lang: this.lang,
      mode: runtime.mode,
      dryRun,
      registry: this.opts.registry,
      dataDir: runtime.dataDir,
      policyDir: runtime.policyDir,
      contacts: () => runtime.contacts(),
      mp: () => runtime.mp(),
      customers: () => runtime.customers(),
      platform: () => runtime.platform(),
      org: () => {
        org ??= (snapshot ? runtime.orgSnapshot() : runtime.org()).catch((err) => {
          org = undefined;
          throw err;
        });
        return org;
      },
      directory: () => {
        dir ??= Promise.all([ctx.org(), runtime.policy(this.opts.registry.actions())]).then(([o, p]) => buildDirectory(o, p));
        return dir;
      },
      session: this,
      store: () => runtime.store(),
      now: () => new Date(),
      progress: (u) => this.opts.onProgress?.(u),
      signal,
    };
    return ctx;
  }
}

function asWxopsError(err: unknown): WxopsError {
  if (err instanceof WxopsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RuntimeFailure('INTERNAL', t('内部错误：{m}。请查看日志或报告此问题。', 'Internal error: {m}. Check the log or report this.', { m: message }));
}

/**
 * The command was carried out but its result could not be written to the audit log (the decision was):
 * the reply must not say "nothing was done", and the outcome is not recorded as failed.
 */
function unrecordedResult(command: AnyCommand, err: unknown): RuntimeFailure {
  const cause = asWxopsError(err);
  return new RuntimeFailure(
    cause.code,
    t(
      '{cmd} 已执行，但执行结果未能写入审计日志（{code}）；日志中有允许它执行的决定记录。',
      '{cmd} was carried out, but its result could not be written to the audit log ({code}); the log holds the decision that allowed it.',
      { cmd: command.name, code: cause.code },
    ),
  );
}

function denial(command: AnyCommand, decision: Decision, instead: string[]): DeniedError {
  const shown = instead.slice(0, 6);
  const more = instead.length > shown.length ? `…（+${instead.length - shown.length}）` : '';
  // A grant whose role the actor holds but whose condition failed is more useful than "no rule permits".
  const near = decision.rule ? undefined : decision.trace?.find((tr) => !tr.applied && tr.rule.effect === 'permit' && tr.rule.roles.some((r) => decision.roles.includes(r)));
  const reason = near
    ? { zh: `规则 ${near.rule.id} 只在条件成立时允许，而${near.why.zh}。`, en: `rule ${near.rule.id} permits it only when its condition holds, and the ${near.why.en}.` }
    : decision.reason;
  return new DeniedError(
    {
      zh: `无权执行 ${command.name}：${reason.zh}${shown.length ? `可以执行的人：${shown.join('、')}${more}。` : ''}`,
      en: `Not allowed to run ${command.name}: ${reason.en}${shown.length ? ` Who can: ${shown.join(', ')}${more ? ` and ${instead.length - shown.length} more` : ''}.` : ''}`,
    },
    { ...(decision.rule ? { rule: decision.rule } : {}), who_can: instead },
  );
}
