import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Contact as ContactInterface, Message as MessageInterface, Room as RoomInterface, Wechaty, WechatyOptions } from 'wechaty';
import type { Notification, Notifier } from '../approval/service.js';
import type { Lang } from '../core/i18n.js';
import type { Registry } from '../core/registry.js';
import type { Runtime } from '../core/runtime.js';
import { redact, registerSecret } from '../platform/redact.js';
import { ChatGateway, type ChatAnswer, type ChatGatewayOptions } from './chat.js';
import { chatIdFor, splitMentions } from './notifier.js';

/**
 * wechaty: the bot sits in WeChat groups through any puppet (`WECHATY_PUPPET`, with
 * `WECHATY_PUPPET_SERVICE_TOKEN` for puppet services). In the configured rooms (`WXOPS_WECHATY_ROOMS`,
 * topics or room ids) a message that @-mentions the bot is a command: the talker's contact id is mapped
 * to a WeCom userid by policies/identities.yaml, the command runs through the chat gateway, and the
 * answer is said in the room, @-mentioning the talker, as plain text. Approval requests are said in the
 * room they came from, @-mentioning the approvers who have a contact there.
 */

/** A puppet: its npm name (`wechaty-puppet-service`, …) or an instance (tests pass a PuppetMock). */
export type WechatyPuppet = NonNullable<WechatyOptions['puppet']>;
export type WechatyPuppetOptions = Extract<WechatyOptions, { puppetOptions?: unknown }>['puppetOptions'];

/** WeChat cuts long texts; parts of at most this many bytes read well on a phone. */
const WECHAT_TEXT_BYTES = 2000;
/** Puppets may replay history at login: a command older than this is not run. */
const MAX_AGE_S = 5 * 60;

export interface WechatyChannelOptions {
  runtime: Runtime;
  registry: Registry;
  /** Default: `WECHATY_PUPPET` (else wechaty's own default puppet). */
  puppet?: WechatyPuppet;
  /** Default: `{ token: WECHATY_PUPPET_SERVICE_TOKEN }` when that is set. */
  puppetOptions?: WechatyPuppetOptions;
  /** Room topics or ids to listen in; `*` listens in every room. Default: `WXOPS_WECHATY_ROOMS` (comma-separated). */
  rooms?: string[];
  /** The bot's name for wechaty; its login memory is kept in `$WXOPS_DATA_DIR/<name>.memory-card.json`. Default `wxops`. */
  name?: string;
  lang?: Lang;
  perSender?: ChatGatewayOptions['perSender'];
}

export interface WechatyChannel {
  bot: Wechaty;
  gateway: ChatGateway;
  /** Says approval requests in the room they came from; register it for 'wechaty'. */
  notifier: Notifier;
  stop(): Promise<void>;
}

/** Whether the environment configures the wechaty channel (a puppet and at least one room). */
export function wechatyConfigured(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.WECHATY_PUPPET && wechatyRooms(env).length);
}

/** `WXOPS_WECHATY_ROOMS`: comma-separated room topics (or ids); full-width commas are accepted. */
export function wechatyRooms(env: NodeJS.ProcessEnv): string[] {
  return (env.WXOPS_WECHATY_ROOMS ?? '')
    .split(/[,，]/)
    .map((r) => r.trim())
    .filter(Boolean);
}

export async function startWechatyChannel(opts: WechatyChannelOptions): Promise<WechatyChannel> {
  const { runtime, registry } = opts;
  const env = runtime.env;
  const { WechatyBuilder, types, qrcodeValueToImageUrl } = await import('wechaty');
  const log = await runtime.logger();
  const lang = opts.lang ?? runtime.lang;
  const rooms = new Set(opts.rooms ?? wechatyRooms(env));
  const token = env.WECHATY_PUPPET_SERVICE_TOKEN;
  registerSecret(token);
  const puppet = opts.puppet ?? (env.WECHATY_PUPPET as WechatyPuppet | undefined);
  const puppetOptions = opts.puppetOptions ?? (token ? { token } : undefined);
  if (puppetOptions && typeof puppetOptions === 'object' && 'token' in puppetOptions) registerSecret(String(puppetOptions.token));
  mkdirSync(runtime.dataDir, { recursive: true });
  const options = {
    // An absolute name keeps wechaty's login memory in the data directory rather than the working one.
    name: join(runtime.dataDir, opts.name ?? 'wxops'),
    ...(puppet ? { puppet } : {}),
    ...(puppetOptions && typeof puppet !== 'object' ? { puppetOptions } : {}),
  } as WechatyOptions;
  const bot = WechatyBuilder.build(options);
  const gateway = new ChatGateway({ runtime, registry, channel: 'wechaty', lang, maxBytes: WECHAT_TEXT_BYTES, perSender: opts.perSender });
  if (!rooms.size) log.warn({ channel: 'wechaty' }, 'wechaty: no rooms configured (WXOPS_WECHATY_ROOMS); the bot answers nowhere');

  const listensIn = async (room: RoomInterface): Promise<boolean> => {
    if (rooms.has('*') || rooms.has(room.id)) return true;
    return rooms.has((await room.topic()).trim());
  };

  const onMessage = async (message: MessageInterface): Promise<void> => {
    if (message.self() || message.type() !== types.Message.Text) return;
    const room = message.room();
    if (!room || !(await listensIn(room))) return;
    if (!(await message.mentionSelf())) return;
    if (message.age() > MAX_AGE_S) {
      log.info({ channel: 'wechaty', room: room.id, ageS: message.age() }, 'wechaty: old message not run');
      return;
    }
    const talker = message.talker();
    const text = await withoutSelfMention(bot, room, message.text());
    let answer: ChatAnswer;
    try {
      answer = await gateway.handle({ sender: talker.id, room: room.id, text });
    } catch (err) {
      log.error({ channel: 'wechaty', error: (err as Error).message }, 'wechaty command failed');
      answer = { parts: [`❌ ${redact((err as Error).message)}`] };
    }
    for (const part of answer.parts) await room.say(toPlainText(part), talker);
  };

  bot.on('message', (message) => {
    onMessage(message).catch((err: unknown) => log.error({ channel: 'wechaty', error: (err as Error).message }, 'wechaty: could not answer'));
  });
  bot.on('scan', (qrcode, status) => {
    log.info({ channel: 'wechaty', status, qrcode: qrcodeValueToImageUrl(qrcode) }, 'wechaty: scan the QR code to log the bot in');
  });
  bot.on('login', (user) => log.info({ channel: 'wechaty', user: user.id }, 'wechaty: logged in'));
  bot.on('logout', (user) => log.warn({ channel: 'wechaty', user: user.id }, 'wechaty: logged out'));
  // An EventEmitter without an 'error' listener throws: puppet errors are logged instead.
  bot.on('error', (err) => log.error({ channel: 'wechaty', error: (err as Error).message }, 'wechaty error'));

  const notifier: Notifier = {
    async notify(n: Notification): Promise<void> {
      if (n.channel !== 'wechaty' || !n.room) return;
      const room = await bot.Room.find({ id: n.room });
      if (!room) throw new Error(`wechaty: room ${n.room} not found`);
      const policy = await runtime.policy(registry.actions());
      const { segments, userids } = splitMentions(toPlainText(n.text[lang]), n.to);
      const contacts = await Promise.all(userids.map((u) => contactFor(bot, chatIdFor(policy, 'wechaty', u))));
      // Mapped approvers become real @-mentions (wechaty's template form); the others stay named.
      const strings: string[] = [segments[0]!];
      const mentioned: ContactInterface[] = [];
      userids.forEach((u, i) => {
        const contact = contacts[i];
        if (contact) {
          mentioned.push(contact);
          strings.push(segments[i + 1]!);
        } else strings[strings.length - 1] += `@${u}${segments[i + 1]!}`;
      });
      if (!mentioned.length) await room.say(strings[0]!);
      else await room.say(Object.assign([...strings], { raw: [...strings] }) as TemplateStringsArray, ...mentioned);
    },
  };

  await bot.start();
  log.info({ channel: 'wechaty', rooms: [...rooms], puppet: typeof puppet === 'string' ? puppet : puppet ? 'instance' : 'default' }, 'wechaty channel started');
  return {
    bot,
    gateway,
    notifier,
    async stop() {
      await bot.stop();
    },
  };
}

async function contactFor(bot: Wechaty, id: string | undefined): Promise<ContactInterface | undefined> {
  if (!id) return undefined;
  return (await bot.Contact.find({ id }).catch(() => undefined)) ?? undefined;
}

/** Drops the bot's own `@name` (its name, or its alias in the room) wherever it is; WeChat ends a mention with U+2005. */
async function withoutSelfMention(bot: Wechaty, room: RoomInterface, text: string): Promise<string> {
  const self = bot.currentUser;
  const names = [self.name(), await room.alias(self).catch(() => undefined)].filter((x): x is string => Boolean(x));
  let out = text;
  for (const name of names.sort((a, b) => b.length - a.length)) {
    out = out.replace(new RegExp(`@${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:[\\u2005\\u0020]|$)`, 'g'), ' ');
  }
  return out.trim();
}

/** The renderer's markdown as WeChat shows it: no bold markers; quote lines indented. */
export function toPlainText(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) => line.replace(/\*\*(.+?)\*\*/g, '$1').replace(/^>\s?/, '  '))
    .join('\n');
}

