import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { App, HTTPReceiver, LogLevel, type AppOptions, type Logger as BoltLogger } from '@slack/bolt';
import type { Notification, Notifier } from '../approval/service.js';
import type { Lang } from '../core/i18n.js';
import type { Registry } from '../core/registry.js';
import type { Runtime } from '../core/runtime.js';
import { redact, registerSecret, type Logger } from '../platform/redact.js';
import { ChatGateway, type ChatAnswer, type ChatGatewayOptions } from './chat.js';
import { chatIdFor, splitMentions } from './notifier.js';

/**
 * Slack (`@slack/bolt`): admins @-mention the app in a channel (`@wxops dept list`) or use the `/wxops`
 * slash command. Requests arrive at `POST /slack/events` on wxops's own server, signed with the app's
 * signing secret (bolt's HTTPReceiver checks the signature and the timestamp before anything is read);
 * Slack user ids are mapped to WeCom userids by policies/identities.yaml, and the command runs through
 * the chat gateway. Mentions are answered in the thread, slash commands in the channel (response_url);
 * approval requests mention their approvers (`<@U…>`) in the channel and thread they came from.
 */
export const SLACK_EVENTS_PATH = '/slack/events';
export const SLACK_COMMAND = '/wxops';
/** Slack cuts messages at 40,000 characters and shows ~4,000 well: a part is at most ~4,000 CJK characters. */
const SLACK_MESSAGE_BYTES = 12_000;
const BODY_LIMIT = 256 * 1024;
/** Slack retries an event it thinks was not received; each event id runs once. */
const EVENT_MEMORY_MS = 10 * 60_000;

export interface SlackChannelOptions {
  runtime: Runtime;
  registry: Registry;
  /** Default: `WXOPS_SLACK_SIGNING_SECRET`. */
  signingSecret?: string;
  /** The bot token (`xoxb-…`). Default: `WXOPS_SLACK_BOT_TOKEN`. */
  botToken?: string;
  /**
   * Options for bolt's WebClient, e.g. `{ slackApiUrl }` (tests point it at a local stub), `retryConfig`.
   * `slackApiUrl` defaults to `WXOPS_SLACK_API_URL` when that is set (else Slack's own).
   */
  clientOptions?: AppOptions['clientOptions'];
  /** The slash command (default `/wxops`). */
  command?: string;
  /** Answer Slack only after the listener ran (for function hosts). Default false: acknowledge at once. */
  processBeforeResponse?: boolean;
  lang?: Lang;
  perSender?: ChatGatewayOptions['perSender'];
}

export interface SlackChannel {
  app: App;
  receiver: HTTPReceiver;
  gateway: ChatGateway;
  /** Posts approval requests in the Slack channel (and thread) they came from; register it for 'slack'. */
  notifier: Notifier;
  /** Mount at `POST /slack/events`: events, the slash command and URL verification all come here. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

/** Whether the environment configures the Slack channel (both the signing secret and the bot token). */
export function slackConfigured(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.WXOPS_SLACK_SIGNING_SECRET && env.WXOPS_SLACK_BOT_TOKEN);
}

interface Where {
  channel: string;
  thread?: string;
}

export function createSlackChannel(opts: SlackChannelOptions): SlackChannel {
  const { runtime, registry } = opts;
  const signingSecret = opts.signingSecret ?? runtime.env.WXOPS_SLACK_SIGNING_SECRET;
  const botToken = opts.botToken ?? runtime.env.WXOPS_SLACK_BOT_TOKEN;
  if (!signingSecret || !botToken) throw new Error('Slack channel: set WXOPS_SLACK_SIGNING_SECRET and WXOPS_SLACK_BOT_TOKEN');
  registerSecret(signingSecret);
  registerSecret(botToken);
  const lang = opts.lang ?? runtime.lang;
  const logger = boltLogger(runtime.logger());
  const gateway = new ChatGateway({ runtime, registry, channel: 'slack', lang, maxBytes: SLACK_MESSAGE_BYTES, perSender: opts.perSender });
  // Where the message being handled came from, so an approval request made while running it is
  // announced in the same channel and thread.
  const here = new AsyncLocalStorage<Where>();

  const receiver = new HTTPReceiver({
    signingSecret,
    endpoints: SLACK_EVENTS_PATH,
    processBeforeResponse: opts.processBeforeResponse ?? false,
    bodyLimit: BODY_LIMIT,
    logger,
  });
  // The bot's own ids (for dropping its mention and ignoring its own messages) come from one auth.test,
  // made on the first event rather than at start-up, kept once it succeeds and tried again if it failed.
  let identity: Promise<{ botUserId?: string; botId?: string }> | undefined;
  const app: App = new App({
    receiver,
    logger,
    clientOptions: { ...(runtime.env.WXOPS_SLACK_API_URL ? { slackApiUrl: runtime.env.WXOPS_SLACK_API_URL } : {}), ...opts.clientOptions },
    authorize: async () => {
      identity ??= app.client.auth.test({ token: botToken }).then((r) => ({ botUserId: r.user_id, botId: r.bot_id }));
      try {
        return { botToken, ...(await identity) };
      } catch (err) {
        identity = undefined;
        throw err;
      }
    },
  });

  const seen = new Map<string, number>();
  app.use(async ({ body, next }) => {
    const id = (body as { event_id?: unknown }).event_id;
    if (typeof id === 'string') {
      const now = Date.now();
      for (const [k, at] of seen) if (now - at > EVENT_MEMORY_MS) seen.delete(k);
      if (seen.has(id)) return;
      seen.set(id, now);
    }
    await next();
  });

  const log = (level: 'info' | 'warn' | 'error', obj: object, msg: string) => void runtime.logger().then((l) => l[level]({ channel: 'slack', ...obj }, msg));

  app.event('app_mention', async ({ event, context, client }) => {
    if (!event.user || event.bot_id) return;
    const thread = event.thread_ts ?? event.ts;
    const text = fromSlackText(event.text, context.botUserId);
    let answer: ChatAnswer;
    try {
      answer = await here.run({ channel: event.channel, thread }, () => gateway.handle({ sender: event.user!, room: event.channel, text }));
    } catch (err) {
      log('error', { error: (err as Error).message }, 'slack command failed');
      answer = { parts: [`❌ ${redact((err as Error).message)}`] };
    }
    for (const part of answer.parts) {
      await client.chat.postMessage({ channel: event.channel, thread_ts: thread, text: toSlackMrkdwn(part), mrkdwn: true });
    }
  });

  app.command(opts.command ?? SLACK_COMMAND, async ({ command, ack, respond }) => {
    await ack();
    let answer: ChatAnswer;
    try {
      answer = await here.run({ channel: command.channel_id }, () => gateway.handle({ sender: command.user_id, room: command.channel_id, text: fromSlackText(command.text) }));
    } catch (err) {
      log('error', { error: (err as Error).message }, 'slack command failed');
      answer = { parts: [`❌ ${redact((err as Error).message)}`] };
    }
    // A stranger's refusal is shown to them alone; answers are for the channel.
    const responseType = answer.actor ? 'in_channel' : 'ephemeral';
    for (const part of answer.parts) await respond({ response_type: responseType, text: toSlackMrkdwn(part) });
  });

  const notifier: Notifier = {
    async notify(n: Notification): Promise<void> {
      if (n.channel !== 'slack' || !n.room) return;
      const policy = await runtime.policy(registry.actions());
      const where = here.getStore();
      const thread = where && where.channel === n.room ? where.thread : undefined;
      const text = slackMentions(toSlackMrkdwn(n.text[lang]), n.to, (userid) => chatIdFor(policy, 'slack', userid));
      await app.client.chat.postMessage({ token: botToken, channel: n.room, text, mrkdwn: true, ...(thread ? { thread_ts: thread } : {}) });
    },
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void Promise.resolve(receiver.requestListener(req, res)).catch((err: unknown) => {
      log('error', { error: (err as Error).message }, 'slack request failed');
      if (!res.headersSent) {
        res.writeHead(500);
        res.end();
      }
    });
  };

  return { app, receiver, gateway, notifier, handler };
}

/**
 * Markdown from the renderer → Slack mrkdwn: `**bold**` → `*bold*`; `&`, `<` and `>` escaped as Slack
 * asks (they would otherwise start links and mentions), except the `>` that starts a quote line.
 */
export function toSlackMrkdwn(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) => {
      const quote = /^>\s?/.exec(line);
      const body = (quote ? line.slice(quote[0].length) : line)
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/\*\*(.+?)\*\*/g, '*$1*');
      return quote ? `> ${body}` : body;
    })
    .join('\n');
}

/**
 * A message's text as the user typed it: the bot's own mention dropped (`<@UBOT>`; any leading user
 * mention when the bot's id is not known), links and e-mail addresses Slack wrapped (`<mailto:a@b.cn|a@b.cn>`)
 * back to their text, channel references to `#name`, and Slack's escapes undone.
 */
export function fromSlackText(text: string, botUserId?: string): string {
  let out = text ?? '';
  if (botUserId) out = out.split(new RegExp(`<@${botUserId}(?:\\|[^>]*)?>`, 'g')).join(' ');
  else out = out.replace(/^\s*(?:<@[A-Z0-9]+(?:\|[^>]*)?>\s*)+/, '');
  out = out
    .replace(/<(?:mailto:|tel:|https?:\/\/)[^|>]*\|([^>]*)>/g, '$1')
    .replace(/<((?:https?:\/\/)[^|>]*)>/g, '$1')
    .replace(/<mailto:([^|>]*)>/g, '$1')
    .replace(/<#[A-Z0-9]+\|([^>]*)>/g, '#$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
  return out.trim();
}

/** `@userid` of each approver → `<@U…>` when they have a Slack account in identities.yaml; else the userid stays named. */
function slackMentions(text: string, to: string[], slackId: (userid: string) => string | undefined): string {
  const { segments, userids } = splitMentions(text, to);
  return segments.reduce((out, segment, i) => {
    if (i === 0) return segment;
    const userid = userids[i - 1]!;
    const id = slackId(userid);
    return `${out}${id ? `<@${id}>` : `@${userid}`}${segment}`;
  }, '');
}

/** Bolt's log lines go to wxops's log (redacted), not to stdout. */
function boltLogger(logger: Promise<Logger>): BoltLogger {
  const order = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];
  let level = LogLevel.INFO;
  const write = (at: LogLevel, method: keyof Logger) => (...msg: unknown[]) => {
    if (order.indexOf(at) < order.indexOf(level)) return;
    const text = msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : safeJson(m))).join(' ');
    void logger.then((l) => l[method]({ source: 'slack-bolt' }, text));
  };
  return {
    debug: write(LogLevel.DEBUG, 'debug'),
    info: write(LogLevel.INFO, 'info'),
    warn: write(LogLevel.WARN, 'warn'),
    error: write(LogLevel.ERROR, 'error'),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
