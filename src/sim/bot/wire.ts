import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { nonce, postWithRetries, type PostOutcome } from '../mp/callbacks.js';

/**
 * The 智能机器人's URL callback on the wire (wecom.md §8.4, §8.6 A): the same signature and AES as app
 * callbacks, but JSON and receive id "" (empty). WeCom POSTs `url?msg_signature&timestamp&nonce` with
 * `{"encrypt":"…"}`; the passive reply is empty (nothing shown) or `{encrypt, msgsignature, timestamp,
 * nonce}` around an encrypted JSON message. HTTP 200 within the reply timeout, else the platform tries
 * again, 3 attempts in all (the shared loop of mp/callbacks.ts).
 */
export const RECEIVE_ID = '';
/** Stream and markdown content, in UTF-8 bytes (the platform's exact cap is unverified). */
export const CONTENT_MAX = 20480;
export const WELCOME_MAX = 2048;

export interface BotWire {
  url: string;
  token: string;
  aes_key: string;
  reply_timeout_ms: number;
}

/** What a reply asked the platform to show. */
export type BotReply =
  | { kind: 'none' }
  | { kind: 'stream'; id: string; finish: boolean; content?: string; template_card?: Record<string, unknown> }
  | { kind: 'template_card'; template_card: Record<string, unknown> }
  | { kind: 'text'; content: string };

/** `message`: a member's message; `refresh`: a stream refresh; `event`: enter_chat. */
export type ReplyContext = 'message' | 'refresh' | 'event';

export interface CallOutcome {
  /** Some attempt got HTTP 200. */
  answered: boolean;
  attempts: number;
  status: number | null;
  reply?: BotReply;
  error?: string;
}

/** Encrypts one JSON payload, POSTs it (with retries) and reads the reply as the platform would. */
export async function callBot(cfg: BotWire, payload: Record<string, unknown>, context: ReplyContext, nowS: () => number, stop?: AbortSignal): Promise<CallOutcome> {
  const encrypted = encrypt(cfg.aes_key, JSON.stringify(payload), RECEIVE_ID);
  const out: PostOutcome = await postWithRetries(
    cfg.url,
    () => {
      const timestamp = String(nowS());
      const n = nonce();
      const query = new URLSearchParams({ msg_signature: getSignature(cfg.token, timestamp, n, encrypted), timestamp, nonce: n });
      return { query, body: JSON.stringify({ encrypt: encrypted }) };
    },
    { timeoutMs: cfg.reply_timeout_ms, accept: (status) => status === 200, stop, contentType: 'application/json; charset=utf-8' },
  );
  if (!out.answered) return { answered: false, attempts: out.attempts, status: out.status, error: out.error };
  const read = readReply(cfg, out.text ?? '', context);
  return { answered: true, attempts: out.attempts, status: out.status, ...read };
}

/** The reply body: empty → nothing; otherwise the encrypted envelope, checked and opened. */
export function readReply(cfg: BotWire, text: string, context: ReplyContext): { reply?: BotReply; error?: string } {
  if (text.trim() === '') return { reply: { kind: 'none' } };
  let outer: any;
  try {
    outer = JSON.parse(text);
  } catch {
    return { error: 'the reply is not JSON' };
  }
  if (!outer || typeof outer !== 'object' || typeof outer.encrypt !== 'string') return { error: 'the reply has no encrypt field (replies must be encrypted)' };
  const timestamp = outer.timestamp;
  if ((typeof timestamp !== 'string' && typeof timestamp !== 'number') || (typeof outer.nonce !== 'string' && typeof outer.nonce !== 'number')) {
    return { error: 'the reply lacks timestamp or nonce' };
  }
  if (outer.msgsignature !== getSignature(cfg.token, String(timestamp), String(outer.nonce), outer.encrypt)) return { error: 'msgsignature of the reply does not match' };
  let inner: { message: string; id: string };
  try {
    inner = decrypt(cfg.aes_key, outer.encrypt);
  } catch {
    return { error: 'the reply cannot be decrypted' };
  }
  if (inner.id !== RECEIVE_ID) return { error: `the reply was encrypted for receive id ${JSON.stringify(inner.id)}, not "" (the 智能机器人's)` };
  let msg: any;
  try {
    msg = JSON.parse(inner.message);
  } catch {
    return { error: 'the decrypted reply is not JSON' };
  }
  if (!msg || typeof msg !== 'object') return { error: 'the decrypted reply is not a JSON object' };
  return parseReply(msg, context);
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * Passive replies (wecom.md §8.6 A): to a message or a refresh a `stream` (or `stream_with_template_card`),
 * to a message also a `template_card`; to enter_chat a welcome `text` or `template_card`.
 */
export function parseReply(msg: Record<string, any>, context: ReplyContext): { reply?: BotReply; error?: string } {
  const type = msg.msgtype;
  const allowed: Record<ReplyContext, string[]> = {
    message: ['stream', 'stream_with_template_card', 'template_card'],
    refresh: ['stream', 'stream_with_template_card'],
    event: ['text', 'template_card'],
  };
  if (typeof type !== 'string' || !allowed[context].includes(type)) {
    return { error: `reply msgtype ${JSON.stringify(type)} is not allowed here (${context}: ${allowed[context].join(', ')})` };
  }
  const card = (): Record<string, unknown> | string => {
    const c = msg.template_card;
    if (!c || typeof c !== 'object' || Array.isArray(c) || typeof c.card_type !== 'string') return 'template_card with a card_type is missing';
    return c;
  };
  if (type === 'text') {
    const content = msg.text?.content;
    if (typeof content !== 'string' || content === '' || bytes(content) > WELCOME_MAX) return { error: `text.content empty or over ${WELCOME_MAX} bytes` };
    return { reply: { kind: 'text', content } };
  }
  if (type === 'template_card') {
    const c = card();
    return typeof c === 'string' ? { error: c } : { reply: { kind: 'template_card', template_card: c } };
  }
  const s = msg.stream;
  if (!s || typeof s !== 'object') return { error: 'stream is missing' };
  if (typeof s.id !== 'string' || s.id === '') return { error: 'stream.id must be a non-empty string' };
  if (s.finish !== undefined && typeof s.finish !== 'boolean') return { error: 'stream.finish must be true or false' };
  if (s.content !== undefined && (typeof s.content !== 'string' || bytes(s.content) > CONTENT_MAX)) return { error: `stream.content must be a string of at most ${CONTENT_MAX} bytes` };
  const reply: BotReply = { kind: 'stream', id: s.id, finish: s.finish === true, ...(s.content !== undefined && { content: s.content }) };
  if (type === 'stream_with_template_card') {
    const c = card();
    if (typeof c === 'string') return { error: c };
    reply.template_card = c;
  }
  return { reply };
}
