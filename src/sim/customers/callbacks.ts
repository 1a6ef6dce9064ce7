import { randomBytes } from 'node:crypto';
import { encrypt, getSignature } from '@wecom/crypto';
import { nonce, postWithRetries, toXml, type PostOutcome, type XmlFields } from '../mp/callbacks.js';

/**
 * WeCom calling the 客户联系 callback URL (wecom.md §8): always encrypted, ReceiveId = corpid. POST
 * `url?msg_signature&timestamp&nonce` with `<xml><ToUserName/><AgentID/><Encrypt/></xml>`; anything but
 * HTTP 200 within the reply timeout (5 s) counts as a failure and is retried, 3 attempts in all, with
 * the same message. The URL check is a GET with an encrypted `echostr` that must come back as plaintext.
 * The delivery loop is the Official Account's (mp/callbacks.ts `postWithRetries`).
 */
export interface WecomCallbackConfig {
  url: string;
  token: string;
  aes_key: string;
  reply_timeout_ms: number;
}

export async function deliverEvent(cfg: WecomCallbackConfig, corpId: string, fields: XmlFields, nowS: () => number, stop?: AbortSignal): Promise<PostOutcome> {
  const encrypted = encrypt(cfg.aes_key, toXml(fields), corpId);
  return postWithRetries(
    cfg.url,
    () => {
      const timestamp = String(nowS());
      const n = nonce();
      const query = new URLSearchParams({ msg_signature: getSignature(cfg.token, timestamp, n, encrypted), timestamp, nonce: n });
      return { query, body: toXml({ ToUserName: corpId, AgentID: '', Encrypt: encrypted }) };
    },
    { timeoutMs: cfg.reply_timeout_ms, accept: (status) => status === 200, stop },
  );
}

/** The GET URL verification (§8.2): the server must answer the decrypted echostr, verbatim, within 1 s. */
export async function verifyCallbackUrl(cfg: WecomCallbackConfig, corpId: string, nowS: number): Promise<{ ok: boolean; status: number | null; expected: string; body?: string; error?: string }> {
  const expected = randomBytes(9).toString('hex');
  const echostr = encrypt(cfg.aes_key, expected, corpId);
  const timestamp = String(nowS);
  const n = nonce();
  const query = new URLSearchParams({ msg_signature: getSignature(cfg.token, timestamp, n, echostr), timestamp, nonce: n, echostr });
  const ctl = new AbortController();
  const timeoutMs = Math.min(1000, cfg.reply_timeout_ms);
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(`${cfg.url}${cfg.url.includes('?') ? '&' : '?'}${query}`, { signal: ctl.signal });
    const body = await res.text();
    return { ok: res.status === 200 && body === expected, status: res.status, expected, body };
  } catch (err) {
    return { ok: false, status: null, expected, error: ctl.signal.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
