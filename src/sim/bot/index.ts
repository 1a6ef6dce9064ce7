import { randomBytes } from 'node:crypto';
import { findUser } from '../contacts/users.js';
import { ApiError } from '../errors.js';
import type { OpenRequest, Simulator } from '../server.js';
import { botControl } from './control.js';
import { callBot, CONTENT_MAX, type BotReply, type BotWire, type CallOutcome } from './wire.js';

/**
 * The 智能机器人 in URL callback mode (wecom.md §8.6 A), the way admins talk to wxops in the ops group:
 * a member @-mentions the robot, WeCom POSTs the encrypted JSON message to the robot's URL and shows the
 * passive reply. A `stream` reply that is not finished is followed: WeCom POSTs stream-refresh callbacks
 * for that stream id until a reply says `finish:true` or 6 minutes (simulated) have passed since the
 * member's message. A member can have at most 3 messages in flight with the robot; the platform does
 * not deliver a 4th until one of them is done. Every message carries a `response_url`
 * (`/cgi-bin/aibot/response?response_code=…`) that takes one markdown or template_card within 1 hour.
 *
 * Simulated time per stream: the simulated clock (moved by `/_sim/clock`) plus `refresh_step_ms` per
 * refresh already sent — refreshes go out every `refresh_interval_ms` of real time, so 6 simulated
 * minutes take a few seconds. The control surface is in control.ts.
 */
export const MAX_IN_FLIGHT = 3;
export const STREAM_LIMIT_MS = 6 * 60_000;
export const RESPONSE_URL_TTL_MS = 3600_000;
export const DEFAULT_CHATID = 'wrOpsGroupSim0a1b2c3d4e5f6a7b8c';
export const BOT_NAME = 'wxops';
const KEEP = 2000;

export interface BotConfig extends BotWire {
  /** Real ms between a refresh's answer and the next refresh. */
  refresh_interval_ms: number;
  /** Simulated ms each refresh stands for (the platform's polling period; unverified, 1 s by default). */
  refresh_step_ms: number;
  /** How long after the member's message WeCom keeps refreshing (6 minutes). */
  stream_limit_ms: number;
}

/** One line of a chat as its members saw it. */
export interface ChatLine {
  seq: number;
  at: number;
  chatid: string;
  chattype: 'group' | 'single';
  from: 'user' | 'bot';
  userid?: string;
  msgid?: string;
  /** For the bot's lines: the member message answered. */
  reply_to?: string;
  msgtype: string;
  content: string;
  /** user lines: whether the robot's URL got it (false: refused or unreachable). */
  delivered?: boolean;
  /** Why a member's message was not delivered. */
  error?: string;
  /** bot lines: `reply` (passive, stream included), `response_url`, `welcome`. */
  via?: 'reply' | 'response_url' | 'welcome';
  /** stream lines: finished yet (false when the 6 minutes ran out). */
  finished?: boolean;
  stream_id?: string;
  template_card?: Record<string, unknown>;
}

export interface MentionResult {
  ok: boolean;
  msgid: string;
  delivered: boolean;
  answer: { msgtype: string; content: string; finished: boolean; stream_id?: string; template_card?: Record<string, unknown> } | null;
  refreshes: number;
  elapsed_ms: number;
  response_url: string;
  chatid: string;
  error?: string;
}

interface ResponseCode {
  expiresAt: number;
  used: boolean;
  chatid: string;
  chattype: 'group' | 'single';
  msgid: string;
}

export class AiBot {
  config?: BotConfig;
  lines: ChatLine[] = [];
  /** msgids in flight per member (lower-cased userid). */
  readonly inFlight = new Map<string, Set<string>>();
  private readonly codes = new Map<string, ResponseCode>();
  private readonly stop = new AbortController();
  private seq = 0;
  private closed = false;

  constructor(readonly sim: Simulator) {
    sim.addOpenRoutes({ 'aibot/response': { method: 'POST', handler: (req) => this.respond(req) } });
    for (const [key, handler] of Object.entries(botControl(this))) sim.addControl(key, handler);
  }

  now(): number {
    return this.sim.clock.now();
  }

  private nowS = (): number => Math.floor(this.now() / 1000);

  record(line: Omit<ChatLine, 'seq'>): ChatLine {
    const full = { seq: ++this.seq, ...line };
    this.lines.push(full);
    if (this.lines.length > KEEP) this.lines.splice(0, this.lines.length - KEEP);
    return full;
  }

  /**
   * A member @-mentions the robot (group) or writes to it (single). Resolves when the exchange is over:
   * the reply read, a stream finished or given up after 6 simulated minutes. `started` fires once the
   * message is accepted as in flight (before any HTTP), for callers that do not wait.
   */
  async mention(input: { userid: string; text: string; chatid?: string; chattype: 'group' | 'single' }, started?: (r: { msgid: string; response_url: string; chatid: string }) => void): Promise<MentionResult> {
    const cfg = this.config!;
    const user = findUser(this.sim.stateFile.state, input.userid)!;
    const chattype = input.chattype;
    const chatid = chattype === 'group' ? (input.chatid ?? DEFAULT_CHATID) : user.userid;
    const content = chattype === 'group' ? `@${BOT_NAME} ${input.text}` : input.text;
    const msgid = newId();
    const at = this.now();
    const code = randomBytes(24).toString('base64url');
    const response_url = `${this.sim.baseUrl ?? ''}/cgi-bin/aibot/response?response_code=${code}`;
    const key = user.userid.toLowerCase();
    const flying = this.inFlight.get(key) ?? new Set<string>();
    const base = { ok: false, msgid, answer: null, refreshes: 0, elapsed_ms: 0, response_url: '', chatid };
    if (flying.size >= MAX_IN_FLIGHT) {
      const error = `${user.userid} already has ${MAX_IN_FLIGHT} messages in flight with the robot; the platform does not deliver this one (the member is asked to wait for the answers)`;
      this.record({ at, chatid, chattype, from: 'user', userid: user.userid, msgid, msgtype: 'text', content, delivered: false, error });
      return { ...base, delivered: false, error };
    }
    flying.add(msgid);
    this.inFlight.set(key, flying);
    this.codes.set(code, { expiresAt: at + RESPONSE_URL_TTL_MS, used: false, chatid, chattype, msgid });
    const userLine = this.record({ at, chatid, chattype, from: 'user', userid: user.userid, msgid, msgtype: 'text', content, delivered: true });
    const common = { aibotid: this.sim.credentials.bot_id, ...(chattype === 'group' && { chatid }), chattype, from: { userid: user.userid } };
    const message = { msgid, ...common, response_url, msgtype: 'text', text: { content } };
    started?.({ msgid, response_url, chatid });
    try {
      const first = await callBot(cfg, message, 'message', this.nowS, this.stop.signal);
      if (!first.answered) {
        userLine.delivered = false;
        userLine.error = first.error;
        return { ...base, response_url, delivered: false, elapsed_ms: this.now() - at, error: `the robot's URL did not answer: ${first.error}` };
      }
      if (first.error || !first.reply) return { ...base, response_url, delivered: true, elapsed_ms: this.now() - at, error: first.error };
      return await this.follow(cfg, first.reply, { ...base, response_url, delivered: true }, { at, chatid, chattype, msgid, common });
    } finally {
      flying.delete(msgid);
      if (flying.size === 0 && this.inFlight.get(key) === flying) this.inFlight.delete(key);
    }
  }

  /** Shows a reply; a stream that is not finished is refreshed until it is or the time is up. */
  private async follow(
    cfg: BotConfig,
    reply: BotReply,
    result: MentionResult,
    ctx: { at: number; chatid: string; chattype: 'group' | 'single'; msgid: string; common: Record<string, unknown> },
  ): Promise<MentionResult> {
    const line = { at: this.now(), chatid: ctx.chatid, chattype: ctx.chattype, from: 'bot' as const, reply_to: ctx.msgid, via: 'reply' as const };
    if (reply.kind === 'none') return { ...result, ok: true, elapsed_ms: this.now() - ctx.at };
    if (reply.kind === 'template_card' || reply.kind === 'text') {
      const shown = reply.kind === 'text' ? { msgtype: 'text', content: reply.content } : cardShown(reply.template_card);
      this.record({ ...line, ...shown });
      return { ...result, ok: true, answer: { ...shown, finished: true }, elapsed_ms: this.now() - ctx.at };
    }
    let content = reply.content ?? '';
    let finished = reply.finish;
    const streamId = reply.id;
    const shown = this.record({ ...line, msgtype: 'stream', content, finished, stream_id: streamId, ...(reply.template_card && { template_card: reply.template_card }) });
    let refreshes = 0;
    let error: string | undefined;
    const elapsed = () => this.now() - ctx.at + refreshes * cfg.refresh_step_ms;
    while (!finished && !this.closed) {
      await sleep(cfg.refresh_interval_ms, this.stop.signal);
      if (this.closed || this.now() - ctx.at + (refreshes + 1) * cfg.refresh_step_ms > cfg.stream_limit_ms) break;
      refreshes++;
      const refresh = { msgid: newId(), ...ctx.common, msgtype: 'stream', stream: { id: streamId } };
      const out: CallOutcome = await callBot(cfg, refresh, 'refresh', this.nowS, this.stop.signal);
      if (!out.answered) {
        error = `a stream refresh was not answered: ${out.error}`;
        break;
      }
      if (out.error || !out.reply) {
        error = `stream refresh reply: ${out.error}`;
        break;
      }
      if (out.reply.kind === 'none') continue;
      if (out.reply.kind !== 'stream') break;
      if (out.reply.id !== streamId) {
        error = `a stream refresh was answered for stream ${JSON.stringify(out.reply.id)}, not ${JSON.stringify(streamId)}`;
        break;
      }
      if (out.reply.content !== undefined) content = out.reply.content;
      finished = out.reply.finish;
      if (out.reply.template_card) shown.template_card = out.reply.template_card;
      shown.content = content;
      shown.finished = finished;
      shown.at = this.now();
    }
    if (!finished && !error) error = `the stream did not finish within ${cfg.stream_limit_ms} ms (simulated); the group keeps the last content`;
    return {
      ...result,
      ok: finished,
      answer: { msgtype: 'stream', content, finished, stream_id: streamId, ...(shown.template_card && { template_card: shown.template_card }) },
      refreshes,
      elapsed_ms: elapsed(),
      ...(error && { error }),
    };
  }

  /** enter_chat (wecom.md §8.6 A): a member opens the 1:1 chat; the reply may be a welcome text or card. */
  async enterChat(userid: string): Promise<{ ok: boolean; delivered: boolean; answer: { msgtype: string; content: string } | null; error?: string }> {
    const cfg = this.config!;
    const user = findUser(this.sim.stateFile.state, userid)!;
    const event = {
      msgid: newId(),
      create_time: this.nowS(),
      aibotid: this.sim.credentials.bot_id,
      chattype: 'single',
      from: { userid: user.userid },
      msgtype: 'event',
      event: { eventtype: 'enter_chat' },
    };
    const out = await callBot(cfg, event, 'event', this.nowS, this.stop.signal);
    if (!out.answered) return { ok: false, delivered: false, answer: null, error: `the robot's URL did not answer: ${out.error}` };
    if (out.error || !out.reply) return { ok: false, delivered: true, answer: null, error: out.error };
    if (out.reply.kind === 'none') return { ok: true, delivered: true, answer: null };
    const shown = out.reply.kind === 'text' ? { msgtype: 'text', content: out.reply.content } : out.reply.kind === 'template_card' ? cardShown(out.reply.template_card) : undefined;
    if (!shown) return { ok: false, delivered: true, answer: null, error: 'unexpected reply' };
    this.record({ at: this.now(), chatid: user.userid, chattype: 'single', from: 'bot', via: 'welcome', ...shown });
    return { ok: true, delivered: true, answer: { msgtype: shown.msgtype, content: shown.content } };
  }

  /**
   * `POST /cgi-bin/aibot/response?response_code=…` (no access token): one markdown or template_card within
   * an hour of the member's message. An unknown, expired or used code → 40058 (the platform's code for
   * this is undocumented); another msgtype → 40008.
   */
  private respond(req: OpenRequest): Record<string, unknown> {
    const code = this.codes.get(req.query.get('response_code') ?? '');
    if (!code || code.used || code.expiresAt <= req.now) {
      throw new ApiError(40058, {}, 200, 'invalid response_code: unknown, expired or already used. invalid Request Parameter');
    }
    const body = req.json();
    let shown: { msgtype: string; content: string; template_card?: Record<string, unknown> };
    if (body.msgtype === 'markdown') {
      const content = body.markdown?.content;
      if (typeof content !== 'string' || content === '') throw new ApiError(44004);
      if (Buffer.byteLength(content, 'utf8') > CONTENT_MAX) throw new ApiError(40058, {}, 200, `markdown.content exceed max length ${CONTENT_MAX}. invalid Request Parameter`);
      shown = { msgtype: 'markdown', content };
    } else if (body.msgtype === 'template_card') {
      const card = body.template_card;
      if (!card || typeof card !== 'object' || Array.isArray(card) || typeof card.card_type !== 'string') {
        throw new ApiError(40058, {}, 200, 'template_card.card_type missing. invalid Request Parameter');
      }
      shown = cardShown(card);
    } else {
      throw new ApiError(40008);
    }
    code.used = true;
    this.record({ at: req.now, chatid: code.chatid, chattype: code.chattype, from: 'bot', reply_to: code.msgid, via: 'response_url', ...shown });
    return {};
  }

  /** `/_sim/reset`: the chat record and open response codes go; the configuration stays. */
  reset(): void {
    this.lines = [];
    this.codes.clear();
  }

  close(): void {
    this.closed = true;
    this.stop.abort();
  }
}

function newId(): string {
  return randomBytes(16).toString('hex');
}

function cardShown(card: Record<string, unknown>): { msgtype: string; content: string; template_card: Record<string, unknown> } {
  const title = (card.main_title as { title?: unknown } | undefined)?.title;
  return { msgtype: 'template_card', content: typeof title === 'string' ? title : '', template_card: card };
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (stop.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener('abort', done, { once: true });
  });
}
