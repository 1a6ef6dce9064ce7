import type { Registry } from '../core/registry.js';
import { Session, type Outcome } from '../core/pipeline.js';
import type { Runtime } from '../core/runtime.js';
import { t, type Lang, type Text } from '../core/i18n.js';
import type { ProgressUpdate } from '../core/context.js';
import { renderMarkdown, splitByBytes } from './render-markdown.js';

/**
 * What every chat channel (WeCom robot, wechaty, Slack) does with a message addressed to the bot: map
 * the sender to a WeCom userid (policy identities), refuse strangers politely, refuse floods and
 * over-long commands without running anything, run the rest through the one pipeline as that member
 * in that room, and answer in markdown parts within the channel's byte limit. One log line per command.
 */
export type ChatChannel = 'wecom' | 'wechaty' | 'slack';

export interface ChatMessage {
  /** The sender's id on the channel (a WeCom userid, a wechaty contact id, a Slack user id). */
  sender: string;
  /** The group or channel (room) the message came from. */
  room?: string;
  text: string;
  /** The bot's own names, stripped from the start of the command (`@wxops`). */
  mentions?: string[];
}

export interface ChatAnswer {
  /** The WeCom userid the sender maps to, when mapped. */
  actor?: string;
  outcome?: Outcome;
  /** The answer as markdown, split to fit the channel. */
  parts: string[];
}

export interface ChatGatewayOptions {
  runtime: Runtime;
  registry: Registry;
  channel: ChatChannel;
  lang?: Lang;
  /** Bytes per message on this channel (WeCom markdown 4,096; Slack ~40,000 characters; wechaty ~ 2,000). */
  maxBytes?: number;
  /** Commands one sender may send per `windowMs`; more are refused until the window passes. */
  perSender?: { max: number; windowMs: number };
}

/** Commands longer than this are refused unread: the platforms cap message size and nothing real is this long. */
export const MAX_COMMAND_BYTES = 2048;

/** Shared per-sender windows (a store collection; short-lived, not exported). */
export const CHAT_RATE = 'chat-rate';

function slide(times: number[], now: number, windowMs: number): number[] {
  return times.filter((x) => now - x < windowMs);
}

export class ChatGateway {
  private readonly recent = new Map<string, number[]>();
  private readonly lang: Lang;
  private readonly maxBytes: number;
  private readonly perSender: { max: number; windowMs: number };

  constructor(private readonly opts: ChatGatewayOptions) {
    this.lang = opts.lang ?? opts.runtime.lang;
    this.maxBytes = opts.maxBytes ?? 4096;
    this.perSender = opts.perSender ?? { max: 5, windowMs: 10_000 };
  }

  /** Runs one chat message; `onProgress` receives long work's progress as markdown lines. */
  async handle(m: ChatMessage, onProgress?: (markdown: string) => void): Promise<ChatAnswer> {
    const started = Date.now();
    const log = await this.opts.runtime.logger();
    const policy = await this.opts.runtime.policy(this.opts.registry.actions());
    const actor = policy.identity(this.opts.channel, m.sender);
    if (!actor) {
      log.info({ channel: this.opts.channel, outcome: 'unmapped' }, 'chat command refused');
      return this.say(t('抱歉，我还不认识你：请管理员在 policies/identities.yaml 里把你的帐号对应到企业微信成员。', 'Sorry, I do not know you yet: an admin maps your account to a WeCom member in policies/identities.yaml.'));
    }
    if (Buffer.byteLength(m.text, 'utf8') > MAX_COMMAND_BYTES) {
      log.info({ channel: this.opts.channel, actor, outcome: 'too-long' }, 'chat command refused');
      return this.say(t('命令太长（超过 {n} 字节），没有执行。', 'The command is too long (over {n} bytes); nothing was run.', { n: MAX_COMMAND_BYTES }), actor);
    }
    if (!(await this.admit(actor))) {
      log.info({ channel: this.opts.channel, actor, outcome: 'rate-limited' }, 'chat command refused');
      return this.say(t('命令太频繁了：{s} 秒内最多 {n} 条，请稍后再发。', 'Too many commands: at most {n} in {s} seconds; try again shortly.', { n: this.perSender.max, s: this.perSender.windowMs / 1000 }), actor);
    }
    const session = this.session(actor, m.room, m.mentions, onProgress);
    const outcome = await session.execute(m.text);
    const action = this.opts.registry.commands.find((c) => c.name === outcome.command)?.action;
    // The command's name and action, never its arguments (they may carry personal data).
    log.info(
      { channel: this.opts.channel, actor, room: m.room, command: outcome.command, action, outcome: outcome.ok ? 'done' : (outcome.error?.category ?? 'failed'), code: outcome.error?.code, durationMs: Date.now() - started },
      'chat command',
    );
    return { actor, outcome, parts: splitByBytes(renderMarkdown(outcome, this.lang), this.maxBytes) };
  }

  private say(text: Text, actor?: string): ChatAnswer {
    return { actor, parts: [text[this.lang]] };
  }

  /**
   * A sliding window per sender: floods are refused before they reach the platform. With several
   * instances (a shared store) the window is shared too — the member's limit does not double because a
   * balancer spreads their messages; if the store cannot be reached, this instance's own window decides.
   */
  private async admit(actor: string): Promise<boolean> {
    const now = Date.now();
    const store = await this.opts.runtime.store();
    if (store.kind === 'postgres') {
      try {
        let admitted = false;
        await store.update<number[]>(CHAT_RATE, `${this.opts.channel}:${actor}`, (before) => {
          const times = slide(before ?? [], now, this.perSender.windowMs);
          admitted = times.length < this.perSender.max;
          return admitted ? [...times, now] : times;
        });
        return admitted;
      } catch {
        // fall through to the local window
      }
    }
    const times = slide(this.recent.get(actor) ?? [], now, this.perSender.windowMs);
    const admitted = times.length < this.perSender.max;
    this.recent.set(actor, admitted ? [...times, now] : times);
    return admitted;
  }

  /** A session per message: the sender, the room, and where progress goes. */
  private session(actor: string, room: string | undefined, mentions: string[] | undefined, onProgress?: (markdown: string) => void): Session {
    const progress = (u: ProgressUpdate) => onProgress?.(`⏳ ${u.label ? `${u.label[this.lang]} ` : ''}${u.total ? `${u.done}/${u.total}` : ''}`.trim());
    return new Session({ runtime: this.opts.runtime, registry: this.opts.registry, channel: this.opts.channel, actor, room, lang: this.lang, mentions, stripLeadingMentions: true, onProgress: progress });
  }

}
