/**
 * Every log line about a platform call passes through here. Query parameters and JSON fields that
 * carry credentials are masked by name, and every secret or token wxops knows of is masked by value,
 * wherever it appears (a token echoed in an error message, a secret in a stack trace …).
 */
const SENSITIVE_PARAM = /([?&](?:access_token|corpsecret|secret|key|encodingaeskey|token|response_code)=)[^&#\s"]*/gi;
const SENSITIVE_FIELD = /("(?:access_token|corpsecret|secret|key|encodingaeskey|encoding_aes_key|token|aes_key)"\s*:\s*")[^"]*(")/gi;

const known = new Set<string>();

/** Registers a value (secret, token, AES key) that must never appear in output. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) known.add(value);
}

export function forgetSecret(value: string | undefined): void {
  if (value) known.delete(value);
}

export function redact(text: string, opts: { personal?: boolean } = {}): string {
  let out = text.replace(SENSITIVE_PARAM, '$1***').replace(SENSITIVE_FIELD, '$1***$2');
  for (const secret of known) if (out.includes(secret)) out = out.split(secret).join('***');
  if (opts.personal) {
    out = out.replace(/\b1[3-9]\d{9}\b/g, (m) => `${m.slice(0, 3)}****${m.slice(7)}`).replace(/([\w.+-])[\w.+-]*@([\w-]+\.[\w.-]+)/g, '$1***@$2');
  }
  return out;
}

/** Redacts every string inside a structured log object. */
export function redactObject<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map(redactObject) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, /secret|token|aes_?key|^key$/i.test(k) ? '***' : redactObject(v)]),
    ) as T;
  }
  return value;
}

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Wraps a logger so that nothing it is given can carry a secret. */
export function redactingLogger(inner: Logger): Logger {
  const wrap = (fn: (o: object, m?: string) => void) => (o: object, m?: string) => fn(redactObject(o), m === undefined ? m : redact(m));
  return { debug: wrap(inner.debug.bind(inner)), info: wrap(inner.info.bind(inner)), warn: wrap(inner.warn.bind(inner)), error: wrap(inner.error.bind(inner)) };
}
