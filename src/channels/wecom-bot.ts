import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CallbackDedupe, CallbackRejected, CallbackVerifier, readLimited, sendReply } from '../platform/callback/index.js';
import type { Logger } from '../platform/redact.js';
import type { ChatGateway } from './chat.js';
import { MARKDOWN_BYTES } from './webhook.js';

/**
 * `/wecom/bot`: the WeCom 智能机器人 in URL-callback mode (wecom.md §8.6 A). Members @-mention the robot
 * in the ops group; each message is verified and decrypted (receive id ""), run through the chat gateway,
 * and answered with a stream: finished at once when the command is quick, otherwise "working" now and
 * the result (with progress meanwhile) on the platform's stream-refresh callbacks. What does not fit in
 * one markdown message goes once through the message's response_url.
 */
const QUICK_MS = 1500;
/** The platform keeps refreshing a stream for 6 minutes; after that an answer cannot be delivered this way. */
const STREAM_TTL_MS = 6 * 60_000;
const IN_FLIGHT_PER_USER = 3;
const MAX_BODY = 64 * 1024;

interface StreamState {
  id: string;
  userid: string;
  content: string;
  finished: boolean;
  createdAt: number;
  done: Promise<void>;
}

export class WecomBot {
  private readonly streams = new Map<string, StreamState>();
  private readonly dedupe = new CallbackDedupe();

  constructor(
    private readonly opts: {
      verifier: CallbackVerifier;
      gateway: ChatGateway;
      logger: Logger;
      /** Posts the rest of a long answer to a response_url (once). */
      respond?: (url: string, markdown: string) => Promise<void>;
    },
  ) {}

  async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const query = new URL(req.url ?? '/', 'http://wxops').searchParams;
    try {
      if (req.method === 'GET') return sendReply(res, 200, this.opts.verifier.verifyUrl(query));
      const body = await readLimited(req, MAX_BODY);
      if (body === undefined) throw new CallbackRejected('too-large', { zh: '请求体过大。', en: 'The body is too large.' });
      let encrypted: string | undefined;
      try {
        encrypted = (JSON.parse(body.toString('utf8')) as { encrypt?: unknown }).encrypt as string | undefined;
      } catch {
        encrypted = undefined;
      }
      // The signature is checked over `encrypt` before the plaintext is read.
      const plaintext = this.opts.verifier.openCiphertext(query, typeof encrypted === 'string' ? encrypted : '');
      let message: Record<string, any>;
      try {
        message = JSON.parse(plaintext);
      } catch {
        throw new CallbackRejected('malformed', { zh: '消息不是 JSON。', en: 'The message is not JSON.' });
      }
      const reply = await this.answer(message);
      if (!reply) return sendReply(res, 200, '');
      const p = this.opts.verifier.sealParts(JSON.stringify(reply));
      sendReply(res, 200, JSON.stringify({ encrypt: p.encrypt, msgsignature: p.signature, timestamp: Number(p.timestamp), nonce: p.nonce }), 'application/json; charset=utf-8');
    } catch (err) {
      if (err instanceof CallbackRejected) {
        this.opts.logger.warn({ reason: err.reason, status: err.status }, 'bot callback refused');
        return sendReply(res, err.status, err.reason);
      }
      this.opts.logger.error({ error: (err as Error).message }, 'bot callback failed');
      sendReply(res, 200, '');
    }
  }

  private async answer(m: Record<string, any>): Promise<Record<string, unknown> | undefined> {
    this.expire();
    if (m.msgtype === 'stream') {
      const s = this.streams.get(String(m.stream?.id ?? ''));
      if (!s) return undefined;
      return stream(s);
    }
    if (m.msgtype !== 'text') return undefined;
    // A platform retry of the same message gets the same stream, and the command runs once.
    const id = await this.dedupe.run(`bot\u0000${m.msgid}`, async () => this.start(m));
    const s = this.streams.get(id)!;
    await Promise.race([s.done, new Promise((r) => setTimeout(r, QUICK_MS))]);
    return stream(s);
  }

  private start(m: Record<string, any>): string {
    const userid = String(m.from?.userid ?? '');
    const id = randomBytes(12).toString('hex');
    const busy = [...this.streams.values()].filter((s) => s.userid === userid && !s.finished).length;
    const state: StreamState = { id, userid, content: '⏳ 正在执行…', finished: false, createdAt: Date.now(), done: Promise.resolve() };
    this.streams.set(id, state);
    if (busy >= IN_FLIGHT_PER_USER) {
      Object.assign(state, { content: `⚠️ 你已有 ${IN_FLIGHT_PER_USER} 条命令在执行，请等它们完成再发。`, finished: true });
      return id;
    }
    state.done = this.run(state, m);
    return id;
  }

  private async run(state: StreamState, m: Record<string, any>): Promise<void> {
    try {
      const text = String(m.text?.content ?? '');
      const answer = await this.opts.gateway.handle({ sender: state.userid, room: m.chatid ? String(m.chatid) : undefined, text, mentions: leadingMentions(text) }, (progress) => {
        if (!state.finished) state.content = progress;
      });
      state.content = answer.parts[0] ?? '';
      state.finished = true;
      const rest = answer.parts.slice(1).join('\n\n');
      if (rest && m.response_url && this.opts.respond) await this.opts.respond(String(m.response_url), rest.slice(0, MARKDOWN_BYTES));
    } catch (err) {
      state.content = `❌ ${(err as Error).message}`;
      state.finished = true;
    }
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, s] of this.streams) if (now - s.createdAt > STREAM_TTL_MS) this.streams.delete(id);
  }
}

function stream(s: StreamState): Record<string, unknown> {
  return { msgtype: 'stream', stream: { id: s.id, finish: s.finished, content: s.content } };
}

/** The robot's name as the text starts with it (`@wxops dept list` → `@wxops`), so the tokenizer strips it. */
function leadingMentions(text: string): string[] {
  const m = /^\s*@(\S+)/.exec(text);
  return m ? [m[1]!] : [];
}
