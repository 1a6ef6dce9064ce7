import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorText } from '../core/errors.js';
import { CallbackDedupe, CallbackRejected, CallbackVerifier, readLimited, sendReply } from '../platform/callback/index.js';
import type { Logger } from '../platform/redact.js';
import { PeriodicPurge } from '../store/purge.js';
import type { Store } from '../store/store.js';
import type { ChatGateway } from './chat.js';
import { MARKDOWN_BYTES } from './webhook.js';

/**
 * `/wecom/bot`: the WeCom 智能机器人 in URL-callback mode (wecom.md §8.6 A). Members @-mention the robot
 * in the ops group; each message is verified and decrypted (receive id ""), run through the chat gateway,
 * and answered with a stream: finished at once when the command is quick, otherwise "working" now and
 * the result (with progress meanwhile) on the platform's stream-refresh callbacks. What does not fit in
 * one markdown message goes once through the message's response_url.
 *
 * Several instances behind one address (a shared PostgreSQL store): the platform's retry of a message and
 * its stream-refresh requests may reach any of them. The message is claimed once across instances (the
 * shared de-duplication), and the stream's progress and result are kept in the store by its id, so the
 * instance that runs the command writes them and whichever instance gets a refresh reads them.
 */
const QUICK_MS = 1500;
/** The platform keeps refreshing a stream for 6 minutes; after that an answer cannot be delivered this way. */
const STREAM_TTL_MS = 6 * 60_000;

/** A stream past its time, here or in the store. */
const expired = (s: { createdAt: number }, now: number): boolean => now - s.createdAt > STREAM_TTL_MS;
const IN_FLIGHT_PER_USER = 3;
const MAX_BODY = 64 * 1024;

/** A stream as the store keeps it for the other instances. */
interface StoredStream {
  id: string;
  userid: string;
  content: string;
  finished: boolean;
  createdAt: number;
}

interface StreamState extends StoredStream {
  done: Promise<void>;
  /** Writes to the store, in order; only the latest queued one is sent. */
  saved?: Promise<void>;
  version: number;
}

export const BOT_STREAMS = 'bot-streams';
const POLL_MS = 100;

export interface WecomBotOptions {
  verifier: CallbackVerifier;
  gateway: Pick<ChatGateway, 'handle'>;
  logger: Logger;
  /** Posts the rest of a long answer to a response_url (once). */
  respond?: (url: string, markdown: string) => Promise<void>;
  /** With the PostgreSQL store, messages and streams are shared with the other instances. */
  store?: Store;
}

export class WecomBot {
  private readonly streams = new Map<string, StreamState>();
  private readonly dedupe: CallbackDedupe;
  private readonly shared?: Store;
  private readonly purge = new PeriodicPurge<StoredStream>(BOT_STREAMS, expired);

  constructor(private readonly opts: WecomBotOptions) {
    this.shared = opts.store?.kind === 'postgres' ? opts.store : undefined;
    this.dedupe = new CallbackDedupe(this.shared ? { store: this.shared, namespace: 'bot', logger: opts.logger } : {});
  }

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
      const id = String(m.stream?.id ?? '');
      const s = this.streams.get(id) ?? (await this.stored(id));
      if (!s) return undefined;
      return stream(s);
    }
    if (m.msgtype !== 'text') return undefined;
    // A platform retry of the same message gets the same stream, and the command runs once — also when
    // the retry reaches another instance.
    const id = await this.dedupe.run(`bot\u0000${m.msgid}`, () => this.start(m));
    if (!id) return undefined;
    const local = this.streams.get(id);
    if (local) {
      await Promise.race([local.done, sleep(QUICK_MS)]);
      return stream(local);
    }
    // Started by another instance: what it has stored, once finished or when the quick wait is over.
    const deadline = Date.now() + QUICK_MS;
    let s = await this.stored(id);
    while (s && !s.finished && Date.now() < deadline) {
      await sleep(POLL_MS);
      s = (await this.stored(id)) ?? s;
    }
    return s ? stream(s) : undefined;
  }

  private async start(m: Record<string, any>): Promise<string> {
    const userid = String(m.from?.userid ?? '');
    const id = randomBytes(12).toString('hex');
    const busy = [...this.streams.values()].filter((s) => s.userid === userid && !s.finished).length;
    const state: StreamState = { id, userid, content: '⏳ 正在执行…', finished: false, createdAt: Date.now(), done: Promise.resolve(), version: 0 };
    this.streams.set(id, state);
    if (busy >= IN_FLIGHT_PER_USER) {
      Object.assign(state, { content: `⚠️ 你已有 ${IN_FLIGHT_PER_USER} 条命令在执行，请等它们完成再发。`, finished: true });
    } else {
      state.done = this.run(state, m);
    }
    // Stored before the id is handed out, so another instance given the id finds the stream.
    await this.persist(state);
    return id;
  }

  private async run(state: StreamState, m: Record<string, any>): Promise<void> {
    try {
      const text = String(m.text?.content ?? '');
      const answer = await this.opts.gateway.handle({ sender: state.userid, room: m.chatid ? String(m.chatid) : undefined, text, mentions: leadingMentions(text) }, (progress) => {
        if (state.finished) return;
        state.content = progress;
        void this.persist(state);
      });
      state.content = answer.parts[0] ?? '';
      state.finished = true;
      await this.persist(state);
      const rest = answer.parts.slice(1).join('\n\n');
      if (rest && m.response_url && this.opts.respond) await this.opts.respond(String(m.response_url), rest.slice(0, MARKDOWN_BYTES));
    } catch (err) {
      state.content = `❌ ${(err as Error).message}`;
      state.finished = true;
      await this.persist(state);
    }
  }

  /** Shares the stream's state with the other instances (never fails: a store error is logged). */
  private persist(s: StreamState): Promise<void> {
    const store = this.shared;
    if (!store) return Promise.resolve();
    const version = ++s.version;
    s.saved = (s.saved ?? Promise.resolve()).then(async () => {
      // A newer write is queued behind this one and carries everything this one would.
      if (version !== s.version) return;
      try {
        await store.put<StoredStream>(BOT_STREAMS, s.id, { id: s.id, userid: s.userid, content: s.content, finished: s.finished, createdAt: s.createdAt });
      } catch (err) {
        this.opts.logger.warn({ stream: s.id, error: errorText(err) }, 'bot stream not shared with the other instances');
      }
    });
    return s.saved;
  }

  /** A stream another instance runs, as stored. */
  private async stored(id: string): Promise<StoredStream | undefined> {
    if (!this.shared || !id) return undefined;
    try {
      const s = await this.shared.get<StoredStream>(BOT_STREAMS, id);
      return s && !expired(s, Date.now()) ? s : undefined;
    } catch (err) {
      this.opts.logger.warn({ stream: id, error: errorText(err) }, 'bot stream could not be read from the store');
      return undefined;
    }
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, s] of this.streams) if (expired(s, now)) this.streams.delete(id);
    if (this.shared) this.purge.maybe(this.shared, now, this.opts.logger);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}


function stream(s: StoredStream): Record<string, unknown> {
  return { msgtype: 'stream', stream: { id: s.id, finish: s.finished, content: s.content } };
}

/** The robot's name as the text starts with it (`@wxops dept list` → `@wxops`), so the tokenizer strips it. */
function leadingMentions(text: string): string[] {
  const m = /^\s*@(\S+)/.exec(text);
  return m ? [m[1]!] : [];
}
