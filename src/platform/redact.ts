/**
 * Every log line about a platform call passes through here. Query parameters and JSON fields that
 * carry credentials are masked by name, and every secret or token wxops knows of is masked by value,
 * wherever it appears (a token echoed in an error message, a secret in a stack trace …).
 */
const NAMES = 'access_token|corpsecret|secret|appsecret|key|encodingaeskey|encoding_aeskey|encoding_aes_key|aes_key|aeskey|token|response_code|ticket|jsapi_ticket';
/** `name=value` in a URL or query string. */
const SENSITIVE_PARAM = new RegExp(`((?:^|[?&\\s])(?:${NAMES})=)[^&#\\s"]*`, 'gi');
/** `"name": "value"` in JSON text. */
const SENSITIVE_FIELD = new RegExp(`("(?:${NAMES})"\\s*:\\s*")(?:[^"\\\\]|\\\\.)*(")`, 'gi');
/** Object keys whose values are masked whatever they hold. */
const SENSITIVE_KEY = /secret|token|aes_?key|^key$|^ticket$|password/i;

const known = new Set<string>();
/** `known`, longest first, so a secret that contains another is masked whole. */
let ordered: string[] = [];

/**
 * Registers a value (secret, token, AES key, webhook key) that must never appear in output: from now on
 * it is masked wherever it occurs, by exact string. Values shorter than 6 characters are ignored (they
 * would mask ordinary words).
 */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6 && !known.has(value)) {
    known.add(value);
    ordered = [...known].sort((a, b) => b.length - a.length);
  }
}

export function forgetSecret(value: string | undefined): void {
  if (value && known.delete(value)) ordered = [...known].sort((a, b) => b.length - a.length);
}

/** Masks credentials by name (query parameters, JSON fields) and every registered secret by value. */
export function redact(text: string, opts: { personal?: boolean } = {}): string {
  let out = text;
  for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join('***');
  out = out.replace(SENSITIVE_PARAM, '$1***').replace(SENSITIVE_FIELD, '$1***$2');
  if (opts.personal) {
    out = out.replace(/\b1[3-9]\d{9}\b/g, (m) => `${m.slice(0, 3)}****${m.slice(7)}`).replace(/([\w.+-])[\w.+-]*@([\w-]+\.[\w.-]+)/g, '$1***@$2');
  }
  return out;
}

/**
 * Redacts every string inside a structured log object: sensitive keys are masked whatever they hold,
 * other strings go through `redact`. Errors keep their name, message, code and stack (redacted).
 */
export function redactObject<T>(value: T, opts: { personal?: boolean } = {}, depth = 0): T {
  if (typeof value === 'string') return redact(value, opts) as T;
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactObject(v, opts, depth + 1)) as T;
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; errcode?: unknown; api?: unknown };
    return redactObject({ name: e.name, message: e.message, code: e.code, errcode: e.errcode, api: e.api, stack: e.stack }, opts, depth + 1) as T;
  }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SENSITIVE_KEY.test(k) && v !== undefined && v !== null ? '***' : redactObject(v, opts, depth + 1)]),
  ) as T;
}

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Wraps a logger so that nothing it is given can carry a secret (and, with `personal`, no full mobile
 * number or email address either).
 */
export function redactingLogger(inner: Logger, opts: { personal?: boolean } = {}): Logger {
  // Nothing is written: nothing to redact (a bulk read logs a line per call).
  if (inner === silentLogger) return silentLogger;
  const wrap = (fn: (o: object, m?: string) => void) => (o: object, m?: string) => fn(redactObject(o, opts), m === undefined ? m : redact(m, opts));
  return { debug: wrap(inner.debug.bind(inner)), info: wrap(inner.info.bind(inner)), warn: wrap(inner.warn.bind(inner)), error: wrap(inner.error.bind(inner)) };
}
