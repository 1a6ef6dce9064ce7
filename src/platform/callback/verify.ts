import { randomInt, timingSafeEqual } from 'node:crypto';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { RuntimeFailure, WxopsError } from '../../core/errors.js';
import { t, type Text } from '../../core/i18n.js';
import { registerSecret } from '../redact.js';
import { parseXml, XmlFormatError } from './xml.js';

/**
 * The one gate every inbound callback passes (ARCHITECTURE §7): WeCom app events, MP messages and events,
 * and later the 智能机器人 JSON callbacks. In this order, and nothing of the body is parsed before the
 * signature has been checked:
 *
 *   1. size (413 before anything else),
 *   2. signature over the query and — in safe mode — the raw `<Encrypt>` text, compared in constant time,
 *   3. timestamp window (the signature covers the timestamp, so a stale but valid request is a replay),
 *   4. AES decrypt with the official @wecom/crypto, then the trailing receive id (its `decrypt` checks
 *      neither the signature nor the receive id),
 *   5. only then the XML parse.
 *
 * MP (mp.md §6): GET verification uses the plain `signature` and an unencrypted echostr; POST comes in
 * plain mode (`signature`), or with `encrypt_type=aes&msg_signature=…` in safe and compat mode (compat =
 * plaintext fields and `<Encrypt>` side by side: only the encrypted part is used). Receive id = AppID.
 * WeCom (wecom.md §8): always encrypted, GET echostr too; receive id = corp id ("" for 智能机器人).
 *
 * Nothing thrown here carries the token, the AES key or the request: errors are built from fixed texts.
 */
export type CallbackPlatform = 'mp' | 'wecom';

export interface CallbackVerifierOptions {
  /** The server-URL Token. */
  token: string;
  /** EncodingAESKey, 43 letters/digits. Required for WeCom; for MP only in safe or compat mode. */
  aesKey?: string;
  /** The id the platform appends to every plaintext: MP AppID, WeCom corp id (suite id, or "" for 智能机器人). */
  receiveId: string;
  platform: CallbackPlatform;
  /** How far the request timestamp may be from now, either way. Default 300 s. */
  windowS?: number;
  /** Larger bodies are refused before anything else. Default 64 KiB (real callbacks are a few KB). */
  maxBodyBytes?: number;
  /** Milliseconds, like Date.now (tests pass a fixed clock). */
  now?: () => number;
}

export type RejectReason = 'signature' | 'timestamp' | 'malformed' | 'decrypt' | 'receiver' | 'too-large';

const STATUS: Record<RejectReason, number> = {
  signature: 403,
  timestamp: 403,
  receiver: 403,
  malformed: 400,
  decrypt: 400,
  'too-large': 413,
};

/**
 * A callback request that is refused. `status` is the HTTP status to answer with; the text is for the
 * log (followers never see it). Carries no part of the request and no secret, so it can be logged whole.
 */
export class CallbackRejected extends WxopsError {
  readonly reason: RejectReason;
  readonly status: number;

  constructor(reason: RejectReason, text: Text) {
    const code = `CALLBACK_${reason.toUpperCase().replace('-', '_')}`;
    super(code, STATUS[reason] === 403 ? 'denied' : 'input', text);
    this.name = 'CallbackRejected';
    this.reason = reason;
    this.status = STATUS[reason];
  }
}

const TEXTS = {
  signature: t(
    '回调签名不对：请求不是平台发来的，或配置的 Token 不对。',
    'The callback signature does not match: the request did not come from the platform, or the configured Token is wrong.',
  ),
  timestamp: (window: number) =>
    t(
      '回调的时间戳与现在相差超过 {window} 秒：可能是重放的旧请求，或本机时钟不准。',
      'The callback timestamp is more than {window} s away from now: a replayed request, or this machine’s clock is off.',
      { window },
    ),
  params: t(
    '回调请求缺少 timestamp 或 nonce 参数，或 encrypt_type 不认识。',
    'The callback request lacks the timestamp or nonce parameter, or has an unknown encrypt_type.',
  ),
  echostr: t('验证请求缺少 echostr 参数。', 'The verification request has no echostr parameter.'),
  noEncrypt: t('加密回调的请求体里没有 Encrypt 字段。', 'The encrypted callback has no Encrypt field in its body.'),
  xml: t('回调消息不是格式正确的 XML。', 'The callback message is not well-formed XML.'),
  noKey: t(
    '收到加密回调，但没有配置 EncodingAESKey：请在配置中填写，或在后台改用明文模式。',
    'An encrypted callback arrived but no EncodingAESKey is configured: set it, or switch the console to plaintext mode.',
  ),
  cipher: t(
    '回调密文无法解密：EncodingAESKey 不对，或密文被改动过。',
    'The callback ciphertext does not decrypt: the EncodingAESKey is wrong, or the ciphertext was altered.',
  ),
  receiver: t(
    '回调是发给另一个应用或企业的：密文末尾的接收方 ID 不是本应用配置的 AppID / 企业 ID。',
    'The callback is addressed to another app or corp: the receive id at the end of the plaintext is not the configured AppID / corp id.',
  ),
  tooLarge: (size: number, max: number) =>
    t('回调请求体有 {size} 字节，超过上限 {max} 字节。', 'The callback body is {size} bytes, more than the limit of {max} bytes.', { size, max }),
} as const;

const reject = (reason: RejectReason, text: Text): never => {
  throw new CallbackRejected(reason, text);
};

export interface OpenedCallback {
  /** The fields of the message (`<xml>` children; leaves are strings). */
  message: Record<string, any>;
  /** Whether it came encrypted: pass this to `seal` so the reply goes back the same way. */
  encrypted: boolean;
}

/** An encrypted reply's parts, before they are put in an XML (or, for 智能机器人, a JSON) envelope. */
export interface SealedParts {
  encrypt: string;
  signature: string;
  timestamp: string;
  nonce: string;
}

const AES_KEY = /^[A-Za-z0-9]{43}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DIGITS = /^\d{1,12}$/;
const SIGNATURE_HEX = /^[0-9a-f]{40}$/;

export class CallbackVerifier {
  readonly platform: CallbackPlatform;
  readonly receiveId: string;
  // #private: not enumerable, so neither JSON.stringify nor util.inspect of a verifier shows them.
  readonly #token: string;
  readonly #aesKey: string | undefined;
  private readonly windowS: number;
  private readonly maxBodyBytes: number;
  private readonly now: () => number;

  constructor(opts: CallbackVerifierOptions) {
    const bad = (what: Text): never => {
      throw new RuntimeFailure('CALLBACK_CONFIG', t('回调配置有误：{zh}', 'The callback configuration is not valid: {en}', { zh: what.zh, en: what.en }));
    };
    if (typeof opts.token !== 'string' || opts.token.length === 0 || opts.token.length > 64) {
      bad(t('Token 必须是 1–64 个字符。', 'the Token must be 1–64 characters.'));
    }
    if (opts.aesKey !== undefined && !AES_KEY.test(opts.aesKey)) {
      bad(t('EncodingAESKey 必须正好是 43 个字母或数字。', 'the EncodingAESKey must be exactly 43 letters or digits.'));
    }
    if (opts.platform === 'wecom' && opts.aesKey === undefined) {
      bad(t('企业微信回调总是加密的，需要 EncodingAESKey。', 'WeCom callbacks are always encrypted: the EncodingAESKey is required.'));
    }
    if (opts.platform !== 'mp' && opts.platform !== 'wecom') bad(t('platform 只能是 mp 或 wecom。', 'platform must be mp or wecom.'));
    if (typeof opts.receiveId !== 'string') bad(t('需要接收方 ID（AppID 或企业 ID）。', 'the receive id (AppID or corp id) is required.'));
    const windowS = opts.windowS ?? 300;
    if (!(windowS > 0) || !Number.isFinite(windowS)) bad(t('时间窗口必须是正数秒。', 'the timestamp window must be a positive number of seconds.'));
    const maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024;
    if (!(maxBodyBytes > 0)) bad(t('请求体上限必须是正数。', 'the body size limit must be positive.'));

    this.platform = opts.platform;
    this.receiveId = opts.receiveId;
    this.#token = opts.token;
    this.#aesKey = opts.aesKey;
    this.windowS = windowS;
    this.maxBodyBytes = maxBodyBytes;
    this.now = opts.now ?? Date.now;
    // From now on any log line that happens to carry them is masked.
    registerSecret(opts.token);
    registerSecret(opts.aesKey);
  }

  /**
   * GET server-URL verification → the text to answer with (HTTP 200, nothing else in the body).
   * MP: plain `signature` over (token, timestamp, nonce); the echostr goes back verbatim.
   * WeCom: `msg_signature` over (token, timestamp, nonce, echostr); the echostr is decrypted, its receive id
   * checked, and the plaintext goes back.
   */
  verifyUrl(query: URLSearchParams): string {
    const { timestamp, nonce } = this.stamp(query);
    const raw = query.get('echostr');
    if (raw === null || raw === '') return reject('malformed', TEXTS.echostr);
    if (raw.length > this.maxBodyBytes) return reject('too-large', TEXTS.tooLarge(raw.length, this.maxBodyBytes));
    if (this.platform === 'mp') {
      this.checkSignature(query.get('signature'), timestamp, nonce, '');
      this.checkWindow(timestamp);
      return raw;
    }
    // Base64 has no spaces: a space is a '+' that reached us URL-decoded as a form field (wecom.md §8.2).
    const echostr = raw.includes(' ') ? raw.replaceAll(' ', '+') : raw;
    this.checkSignature(query.get('msg_signature'), timestamp, nonce, echostr);
    this.checkWindow(timestamp);
    return this.decryptChecked(echostr);
  }

  /**
   * A POST callback with an XML body → its message. Throws CallbackRejected; see the class comment for
   * the order of the checks.
   */
  open(query: URLSearchParams, body: Buffer | string): OpenedCallback {
    const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    if (size > this.maxBodyBytes) reject('too-large', TEXTS.tooLarge(size, this.maxBodyBytes));
    const { timestamp, nonce } = this.stamp(query);

    if (!this.isEncrypted(query)) {
      this.checkSignature(query.get('signature'), timestamp, nonce, '');
      this.checkWindow(timestamp);
      const text = typeof body === 'string' ? body : body.toString('utf8');
      return { message: this.parse(text), encrypted: false };
    }

    if (this.#aesKey === undefined) {
      // MP safe mode sent to a verifier without a key. Authenticate first (MP always sends the plain
      // `signature` as well), so a stranger learns nothing about our configuration.
      this.checkSignature(query.get('signature'), timestamp, nonce, '');
      return reject('decrypt', TEXTS.noKey);
    }
    // Searched in the raw bytes: only the Encrypt text itself becomes a string.
    const ciphertext = findEncrypt(body);
    // Signed over "" when there is no usable <Encrypt>: an unsigned body then fails as 'signature' like
    // any forgery, and only a signed one is reported as malformed.
    this.checkSignature(query.get('msg_signature'), timestamp, nonce, ciphertext ?? '');
    this.checkWindow(timestamp);
    if (ciphertext === undefined) return reject('malformed', TEXTS.noEncrypt);
    return { message: this.parse(this.decryptChecked(ciphertext)), encrypted: true };
  }

  /**
   * The checks of `open` for a ciphertext already taken out of its envelope (the 智能机器人 JSON body
   * `{"encrypt": …}` goes through here): signature, timestamp, decrypt, receive id → the plaintext.
   * The caller must have bounded the body size and must not have trusted anything else in it.
   */
  openCiphertext(query: URLSearchParams, ciphertext: string): string {
    const { timestamp, nonce } = this.stamp(query);
    this.checkSignature(query.get('msg_signature'), timestamp, nonce, ciphertext);
    this.checkWindow(timestamp);
    if (this.#aesKey === undefined) return reject('decrypt', TEXTS.noKey);
    if (!ciphertext) return reject('malformed', TEXTS.noEncrypt);
    return this.decryptChecked(ciphertext);
  }

  /**
   * The reply to write back. Encrypted → the safe-mode envelope `<xml><Encrypt/><MsgSignature/><TimeStamp/>
   * <Nonce/></xml>` (fresh nonce, current time); plain → `replyXml` unchanged. An empty reply and the
   * literal `success` (both mean "no reply, do not retry") are never encrypted.
   */
  seal(replyXml: string, encrypted: boolean): string {
    if (!encrypted || replyXml === '' || replyXml === 'success') return replyXml;
    const p = this.sealParts(replyXml);
    return (
      `<xml><Encrypt><![CDATA[${p.encrypt}]]></Encrypt><MsgSignature><![CDATA[${p.signature}]]></MsgSignature>` +
      `<TimeStamp>${p.timestamp}</TimeStamp><Nonce><![CDATA[${p.nonce}]]></Nonce></xml>`
    );
  }

  /** Encrypts and signs a plaintext reply, for whatever envelope the channel uses (XML here, JSON for 智能机器人). */
  sealParts(plaintext: string): SealedParts {
    if (this.#aesKey === undefined) {
      throw new RuntimeFailure('CALLBACK_CONFIG', t('没有配置 EncodingAESKey，不能加密回复。', 'No EncodingAESKey is configured, so the reply cannot be encrypted.'));
    }
    const ciphertext = encrypt(this.#aesKey, plaintext, this.receiveId);
    const timestamp = String(Math.floor(this.now() / 1000));
    const nonce = String(randomInt(1_000_000_000, 10_000_000_000));
    return { encrypt: ciphertext, signature: getSignature(this.#token, timestamp, nonce, ciphertext), timestamp, nonce };
  }

  // -------------------------------------------------------------------------------------------------

  private isEncrypted(query: URLSearchParams): boolean {
    if (this.platform === 'wecom') return true;
    const type = query.get('encrypt_type');
    if (type === null || type === '' || type === 'raw') return false;
    if (type === 'aes') return true;
    return reject('malformed', TEXTS.params);
  }

  private stamp(query: URLSearchParams): { timestamp: string; nonce: string } {
    const timestamp = query.get('timestamp');
    const nonce = query.get('nonce');
    if (!timestamp || !nonce) return reject('malformed', TEXTS.params);
    return { timestamp, nonce };
  }

  private checkSignature(given: string | null, timestamp: string, nonce: string, ciphertext: string): void {
    const expected = getSignature(this.#token, timestamp, nonce, ciphertext);
    const got = given?.toLowerCase() ?? '';
    // timingSafeEqual needs equal lengths; the expected one is always 40 hex digits.
    if (!SIGNATURE_HEX.test(got) || !timingSafeEqual(Buffer.from(got, 'latin1'), Buffer.from(expected, 'latin1'))) {
      reject('signature', TEXTS.signature);
    }
  }

  private checkWindow(timestamp: string): void {
    const at = DIGITS.test(timestamp) ? Number(timestamp) : Number.NaN;
    const skew = Math.abs(this.now() / 1000 - at);
    if (!(skew <= this.windowS)) reject('timestamp', TEXTS.timestamp(this.windowS));
  }

  /**
   * @wecom/crypto's decrypt checks little: not the base64, not the pad bytes (a bad one is kept), not a
   * length field that runs past the end (cut short, leaving receive id ""). So its result is encrypted
   * again with the same random prefix: only an exact, canonical decryption gives back the very same
   * ciphertext — a wrong key or altered bytes never do. Then the receive id must match.
   * (These finer reasons are only reachable after the signature check, so they are no padding oracle.)
   */
  private decryptChecked(ciphertext: string): string {
    const key = this.#aesKey as string;
    if (ciphertext.length % 4 !== 0 || !BASE64.test(ciphertext)) return reject('decrypt', TEXTS.cipher);
    const padChars = ciphertext.endsWith('==') ? 2 : ciphertext.endsWith('=') ? 1 : 0;
    const bytes = (ciphertext.length / 4) * 3 - padChars;
    // Whole 32-byte blocks: the platforms pad with PKCS#7 to 32 (wecom.md §8.4).
    if (bytes < 32 || bytes % 32 !== 0) return reject('decrypt', TEXTS.cipher);
    let plain: { message: string; id: string; random: Buffer };
    try {
      plain = decrypt(key, ciphertext);
      if (encrypt(key, plain.message, plain.id, plain.random) !== ciphertext) return reject('decrypt', TEXTS.cipher);
    } catch (err) {
      if (err instanceof CallbackRejected) throw err;
      return reject('decrypt', TEXTS.cipher);
    }
    if (plain.id !== this.receiveId) return reject('receiver', TEXTS.receiver);
    return plain.message;
  }

  private parse(text: string): Record<string, any> {
    try {
      return parseXml(text);
    } catch (err) {
      if (err instanceof XmlFormatError) return reject('malformed', TEXTS.xml);
      throw err;
    }
  }
}

const ENCRYPT_OPEN = '<Encrypt>';
const ENCRYPT_CLOSE = '</Encrypt>';
const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';
const COMMENT_OPEN = '<!--';
const COMMENT_CLOSE = '-->';

/**
 * The text of the outer envelope's `<Encrypt>` — what `msg_signature` covers — found without parsing
 * the (not yet authenticated) body: a linear scan with indexOf, skipping CDATA sections and comments so
 * that a follower who types "<Encrypt>" into a compat-mode message cannot shadow the real one.
 * Works on the raw bytes as well as on text (all markers are ASCII). The value may be wrapped in CDATA;
 * it must be base64, else undefined.
 */
export function findEncrypt(body: string | Buffer): string | undefined {
  // Each marker's next position is searched only once its previous one has been passed: linear overall,
  // however many CDATA sections precede <Encrypt>.
  let enc = body.indexOf(ENCRYPT_OPEN);
  let cdataAt = body.indexOf(CDATA_OPEN);
  let commentAt = body.indexOf(COMMENT_OPEN);
  for (;;) {
    if (enc < 0) return undefined;
    const inCdata = cdataAt >= 0 && (commentAt < 0 || cdataAt < commentAt);
    const skipAt = inCdata ? cdataAt : commentAt;
    if (skipAt < 0 || skipAt > enc) break;
    const close = inCdata ? CDATA_CLOSE : COMMENT_CLOSE;
    const end = body.indexOf(close, skipAt + (inCdata ? CDATA_OPEN.length : COMMENT_OPEN.length));
    if (end < 0) return undefined;
    const from = end + close.length;
    if (enc < from) enc = body.indexOf(ENCRYPT_OPEN, from);
    if (cdataAt >= 0 && cdataAt < from) cdataAt = body.indexOf(CDATA_OPEN, from);
    if (commentAt >= 0 && commentAt < from) commentAt = body.indexOf(COMMENT_OPEN, from);
  }
  const start = enc + ENCRYPT_OPEN.length;
  const end = body.indexOf(ENCRYPT_CLOSE, start);
  if (end < 0) return undefined;
  let value = (typeof body === 'string' ? body.slice(start, end) : body.toString('latin1', start, end)).trim();
  if (value.startsWith(CDATA_OPEN) && value.endsWith(CDATA_CLOSE)) {
    value = value.slice(CDATA_OPEN.length, -CDATA_CLOSE.length);
  }
  return value.length > 0 && BASE64.test(value) ? value : undefined;
}
