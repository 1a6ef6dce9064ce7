import type { AnyCommand } from './command.js';
import type { Actor, Channel, CommandContext, ProgressUpdate } from './context.js';
import { DeniedError, EXIT_CODES, RuntimeFailure, WxopsError, exitCodeFor } from './errors.js';
import { t, type Lang } from './i18n.js';
import { OrgTree } from './org.js';
import type { Registry } from './registry.js';
import type { CommandResult } from './result.js';
import type { Runtime } from './runtime.js';
import { tokenize } from './tokenizer.js';
import type { AuditEntry } from '../audit/log.js';

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

  async execute(text: string, signal?: AbortSignal): Promise<Outcome> {
    let commandName = text.trim();
    let command: AnyCommand | undefined;
    let dryRun = false;
    let decided = false;
    try {
      const tokens = tokenize(text, { mentions: this.opts.mentions, stripLeadingMentions: this.opts.stripLeadingMentions });
      const parsed = this.opts.registry.parse(tokens, this.lang);
      command = parsed.command;
      commandName = command.name;
      dryRun = parsed.dryRun;
      const ctx = this.context(dryRun, signal);
      if (parsed.help) {
        const help = this.opts.registry.route(['help']);
        const result = await help!.command.run(ctx, { command: [command.name] }, undefined, {});
        return this.ok(commandName, result, false);
      }
      // Help is open to everyone and must not need the platform (cold start, offline use).
      if (command.action === 'help') return this.ok(commandName, await command.run(ctx, parsed.args, undefined, {}), false);

      const actor = await this.actor(ctx);
      ctx.actor = actor;
      const resource = command.resolve ? await command.resolve(ctx, parsed.args) : {};
      const org = await ctx.org();
      const policy = await this.opts.runtime.policy();
      const decision = policy.decide({
        actor: { userid: actor.userid, departments: actor.departments, managed_departments: org.managedBy(actor.userid) },
        action: command.action,
        resource,
        context: { channel: this.opts.channel, room: this.opts.room },
      });
      decided = true;
      await this.audit({ kind: 'decision', command: text, action: command.action, resource, rule: decision.rule, outcome: decision.effect });
      if (decision.effect === 'deny') {
        throw new DeniedError(
          { zh: `无权执行 ${command.name}：${decision.reason.zh}`, en: `Not allowed to run ${command.name}: ${decision.reason.en}` },
          decision.rule ? { rule: decision.rule } : undefined,
        );
      }
      const plan = command.plan ? await command.plan(ctx, parsed.args, resource) : undefined;
      if (dryRun && plan) {
        await this.audit({ kind: 'result', command: text, action: command.action, outcome: 'dry-run' });
        return this.ok(commandName, { data: { plan }, view: { type: 'plan', plan, dryRun: true } }, true);
      }
      const result = await command.run(ctx, parsed.args, plan, resource);
      await this.audit({ kind: 'result', command: text, action: command.action, outcome: 'done' });
      return this.ok(commandName, result, dryRun);
    } catch (err) {
      const error = asWxopsError(err);
      if (!(err instanceof WxopsError) || error.category === 'failed') {
        const log = await this.opts.runtime.logger().catch(() => undefined);
        log?.error({ command: commandName, actor: this.actorId, code: error.code, err: err instanceof Error ? err.stack : String(err) }, 'command failed');
      }
      if (decided && command && error.category !== 'denied') {
        await this.audit({
          kind: 'result',
          command: text,
          action: command.action,
          outcome: 'failed',
          error: { code: error.code, message: error.text.en },
        }).catch(() => undefined);
      }
      return { ok: false, command: commandName, actor: this.actorId, exitCode: exitCodeFor(error), dryRun, error };
    }
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

  private async audit(entry: Omit<AuditEntry, 'actor' | 'channel'>): Promise<void> {
    const log = await this.opts.runtime.audit();
    log.append({ ...entry, actor: this.actorId, channel: this.opts.channel });
  }

  private context(dryRun: boolean, signal?: AbortSignal): CommandContext {
    const runtime = this.opts.runtime;
    let org: Promise<OrgTree> | undefined;
    const ctx: CommandContext = {
      actor: { userid: this.actorId, departments: [] },
      channel: this.opts.channel,
      room: this.opts.room,
      lang: this.lang,
      mode: runtime.mode,
      dryRun,
      registry: this.opts.registry,
      contacts: () => runtime.contacts(),
      platform: () => runtime.platform(),
      org: () => {
        org ??= loadOrg(runtime).catch((err) => {
          org = undefined;
          throw err;
        });
        return org;
      },
      store: () => runtime.store(),
      now: () => new Date(),
      progress: (u) => this.opts.onProgress?.(u),
      signal,
    };
    return ctx;
  }
}

async function loadOrg(runtime: Runtime): Promise<OrgTree> {
  const contacts = await runtime.contacts();
  const [departments, memberships] = await Promise.all([contacts.listDepartments(), contacts.listUserIds()]);
  return new OrgTree(departments, memberships);
}

function asWxopsError(err: unknown): WxopsError {
  if (err instanceof WxopsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RuntimeFailure('INTERNAL', t('内部错误：{m}。请查看日志或报告此问题。', 'Internal error: {m}. Check the log or report this.', { m: message }));
}
