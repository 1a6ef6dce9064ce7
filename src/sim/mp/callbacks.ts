import { randomInt } from 'node:crypto';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { bytes } from './util.js';

/**
 * The platform calling the account's server (mp.md §6): URL verification, and messages and events
 * POSTed as XML — plain, compat (plain fields plus `<Encrypt>`) or safe (only `<Encrypt>`), AES with
 * the AppID as receive id. A reply has 5 s (`reply_timeout_ms`); past that the platform drops the
 * connection and tries again, 3 attempts in all, with the same message (same MsgId / CreateTime).
 * What the follower then sees is the reply, nothing (empty body or `success`), or "该公众号暂时无法提供服务".
 */
export interface ServerConfig {
  url: string;
  token: string;
  aes_key: string;
  mode: 'plain' | 'compat' | 'safe';
  reply_timeout_ms: number;
}

export const ATTEMPTS = 3;
export const UNAVAILABLE = '该公众号暂时无法提供服务，请稍后再试';
const REPLY_TYPES = new Set(['text', 'image', 'voice', 'video', 'music', 'news', 'transfer_customer_service']);
const TEXT_MAX = 2048;

export type XmlValue = string | number | XmlFields | XmlFields[];
export interface XmlFields {
  [name: string]: XmlValue | undefined;
}

/** Strings go in CDATA, numbers bare, objects nest, arrays become `<item>`s — as the platform writes. */
export function toXml(fields: XmlFields, root = 'xml'): string {
  const inner = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => element(k, v!))
    .join('');
  return `<${root}>${inner}</${root}>`;
}

function element(name: string, v: XmlValue): string {
  if (typeof v === 'number') return `<${name}>${v}</${name}>`;
  if (typeof v === 'string') return `<${name}><![CDATA[${v.replaceAll(']]>', ']]]]><![CDATA[>')}]]></${name}>`;
  if (Array.isArray(v)) return `<${name}>${v.map((item) => toXml(item, 'item')).join('')}</${name}>`;
  return toXml(v, name);
}

const parser = new XMLParser({ parseTagValue: false, trimValues: true, ignoreAttributes: true, processEntities: true });

/** The fields under `<xml>`, or undefined when the text is not such an XML document. */
export function parseXml(text: string): Record<string, any> | undefined {
  if (XMLValidator.validate(text) !== true) return undefined;
  const doc = parser.parse(text) as Record<string, any>;
  const root = doc.xml;
  return typeof root === 'object' && root !== null ? root : undefined;
}

export function nonce(): string {
  return String(randomInt(100_000_000, 2_000_000_000));
}

/** What one delivery came to. `reply` is the follower-visible answer; `error` says why it failed. */
export interface DeliveryResult {
  ok: boolean;
  /** Some attempt got a complete 2xx answer (whatever its body). */
  answered: boolean;
  attempts: number;
  status: number | null;
  reply: Record<string, any> | null;
  error?: string;
  /** ms spent per attempt, and whether it got a complete answer (datacube getinterfacesummary). */
  costs: { ms: number; ok: boolean }[];
}

export interface Message {
  appid: string;
  originalId: string;
  openid: string;
  fields: XmlFields;
}

/** POSTs one message to the server URL, with retries, and reads the reply as the platform would. */
export async function deliver(cfg: ServerConfig, msg: Message, nowS: () => number, stop?: AbortSignal): Promise<DeliveryResult> {
  const plain = toXml(msg.fields);
  const out = await postWithRetries(
    cfg.url,
    () => {
      const timestamp = String(nowS());
      const n = nonce();
      const query = new URLSearchParams({ signature: getSignature(cfg.token, timestamp, n, ''), timestamp, nonce: n, openid: msg.openid });
      let body = plain;
      if (cfg.mode !== 'plain') {
        const encrypted = encrypt(cfg.aes_key, plain, msg.appid);
        query.set('encrypt_type', 'aes');
        query.set('msg_signature', getSignature(cfg.token, timestamp, n, encrypted));
        body = cfg.mode === 'safe' ? toXml({ ToUserName: msg.originalId, Encrypt: encrypted }) : toXml({ ...msg.fields, Encrypt: encrypted });
      }
      return { query, body };
    },
    { timeoutMs: cfg.reply_timeout_ms, accept: (status) => status >= 200 && status < 300, stop },
  );
  if (!out.answered) return { ok: false, answered: false, attempts: out.attempts, status: out.status, reply: null, error: out.error, costs: out.costs };
  const read = readReply(cfg, msg, out.text ?? '');
  return { ok: read.ok, answered: true, attempts: out.attempts, status: out.status, reply: read.reply, error: read.error, costs: out.costs };
}

/** What the retry loop came to: the first accepted answer's text, or why every attempt failed. */
export interface PostOutcome {
  answered: boolean;
  attempts: number;
  status: number | null;
  text?: string;
  error?: string;
  costs: { ms: number; ok: boolean }[];
}

/**
 * The platforms' delivery loop, shared by the Official Account and WeCom callbacks: POST, wait at most
 * `timeoutMs` for a complete answer the platform accepts (`accept` on the HTTP status), else try again,
 * `ATTEMPTS` in all. `build` makes each attempt's query and body (a fresh timestamp and nonce each time,
 * the same message inside).
 */
export async function postWithRetries(
  url: string,
  build: (attempt: number) => { query: URLSearchParams; body: string },
  opts: { timeoutMs: number; accept: (status: number) => boolean; stop?: AbortSignal; attempts?: number; contentType?: string },
): Promise<PostOutcome> {
  const attempts = opts.attempts ?? ATTEMPTS;
  const costs: PostOutcome['costs'] = [];
  let status: number | null = null;
  let error = 'no answer';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (opts.stop?.aborted) return { answered: false, attempts: attempt - 1, status, error: 'simulator closed', costs };
    const { query, body } = build(attempt);
    const started = performance.now();
    const deadline = limit(opts.timeoutMs, opts.stop);
    try {
      const res = await fetch(withQuery(url, query), {
        method: 'POST',
        headers: { 'content-type': opts.contentType ?? 'text/xml; charset=utf-8' },
        body,
        signal: deadline.signal,
      });
      const text = await res.text();
      status = res.status;
      const ms = Math.round(performance.now() - started);
      if (!opts.accept(res.status)) {
        costs.push({ ms, ok: false });
        error = `HTTP ${res.status}`;
        continue;
      }
      costs.push({ ms, ok: true });
      return { answered: true, attempts: attempt, status, text, costs };
    } catch (err) {
      costs.push({ ms: Math.round(performance.now() - started), ok: false });
      error = deadline.timedOut() ? `no complete answer within ${opts.timeoutMs} ms` : `cannot reach the server URL: ${(err as Error).message}`;
    } finally {
      deadline.clear();
    }
  }
  return { answered: false, attempts, status, error, costs };
}

/** The GET verification of a server URL: does `echostr` come back verbatim? */
export async function verifyUrl(cfg: ServerConfig, nowS: number): Promise<{ ok: boolean; status: number | null; echostr: string; body?: string; error?: string }> {
  const timestamp = String(nowS);
  const n = nonce();
  const echostr = String(randomInt(1_000_000_000, 2 ** 47));
  const query = new URLSearchParams({ signature: getSignature(cfg.token, timestamp, n, ''), echostr, timestamp, nonce: n });
  const deadline = limit(cfg.reply_timeout_ms);
  try {
    const res = await fetch(withQuery(cfg.url, query), { signal: deadline.signal });
    const body = await res.text();
    return { ok: res.status === 200 && body === echostr, status: res.status, echostr, body };
  } catch (err) {
    return { ok: false, status: null, echostr, error: deadline.timedOut() ? `no answer within ${cfg.reply_timeout_ms} ms` : (err as Error).message };
  } finally {
    deadline.clear();
  }
}

/**
 * An abort signal for one attempt: the reply deadline, or the simulator closing. A plain controller and
 * timer held here — signals composed with AbortSignal.any/timeout can be collected before they fire on
 * Node 20, leaving a stalled attempt hanging.
 */
function limit(ms: number, stop?: AbortSignal): { signal: AbortSignal; timedOut(): boolean; clear(): void } {
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, ms);
  const onStop = () => ctl.abort();
  stop?.addEventListener('abort', onStop, { once: true });
  return {
    signal: ctl.signal,
    timedOut: () => timedOut,
    clear: () => {
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
    },
  };
}

function withQuery(url: string, query: URLSearchParams): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

/** A reply as the platform reads it: empty or `success` → nothing shown; otherwise valid XML addressed back to the follower. */
export function readReply(cfg: ServerConfig, msg: Message, text: string): { ok: boolean; reply: Record<string, any> | null; error?: string } {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === 'success') return { ok: true, reply: null };
  const outer = parseXml(trimmed);
  if (!outer) return { ok: false, reply: null, error: 'the reply is not XML' };
  let fields = outer;
  if (outer.Encrypt !== undefined) {
    if (cfg.mode === 'plain') return { ok: false, reply: null, error: 'an encrypted reply while the account is in plain mode' };
    const expected = getSignature(cfg.token, String(outer.TimeStamp ?? ''), String(outer.Nonce ?? ''), String(outer.Encrypt));
    if (outer.MsgSignature !== expected) return { ok: false, reply: null, error: 'MsgSignature of the reply does not match' };
    let inner: { message: string; id: string };
    try {
      inner = decrypt(cfg.aes_key, String(outer.Encrypt));
    } catch {
      return { ok: false, reply: null, error: 'the reply cannot be decrypted' };
    }
    if (inner.id !== msg.appid) return { ok: false, reply: null, error: 'the reply was encrypted for another appid' };
    const parsed = parseXml(inner.message);
    if (!parsed) return { ok: false, reply: null, error: 'the decrypted reply is not XML' };
    fields = parsed;
  } else if (cfg.mode === 'safe') {
    return { ok: false, reply: null, error: 'a plaintext reply while the account is in safe mode' };
  }
  const type = fields.MsgType;
  if (typeof type !== 'string' || !REPLY_TYPES.has(type)) return { ok: false, reply: null, error: `unknown reply MsgType ${JSON.stringify(type)}` };
  if (fields.ToUserName !== msg.openid) return { ok: false, reply: null, error: 'the reply is not addressed to the follower (ToUserName)' };
  if (fields.FromUserName !== msg.originalId) return { ok: false, reply: null, error: 'the reply does not come from the account (FromUserName)' };
  if (type === 'text' && (typeof fields.Content !== 'string' || fields.Content === '' || bytes(fields.Content) > TEXT_MAX)) {
    return { ok: false, reply: null, error: 'text reply Content empty or over 2048 bytes' };
  }
  return { ok: true, reply: fields };
}
