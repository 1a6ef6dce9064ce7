import type { Agent as UndiciAgent, Dispatcher, FormData } from 'undici';
import { splitArrayField, type SplitAnswer } from './raw-array.js';
import { Agent, request } from './undici-slim.js';

/**
 * The transport both platforms share: keep-alive connections, a timeout on every phase of every
 * request, JSON in and out. It knows nothing of errcodes or tokens; the platform clients do.
 * Failures become a `TransportError` whose kind says whether the request can have reached the server.
 */
export interface HttpTimeouts {
  /** TCP/TLS connect. Only applies to agents made by `createAgent` (an injected dispatcher has its own). */
  connectMs: number;
  /** From request sent to response headers. */
  headersMs: number;
  /** Between body chunks. */
  bodyMs: number;
  /**
   * The whole exchange, connect to last byte, enforced precisely (undici's phase timers are coarse,
   * about half a second, so a short phase timeout alone would fire late).
   */
  totalMs: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

export function resolveTimeouts(timeoutMs = DEFAULT_TIMEOUT_MS, overrides: Partial<HttpTimeouts> = {}): HttpTimeouts {
  return {
    connectMs: overrides.connectMs ?? timeoutMs,
    headersMs: overrides.headersMs ?? timeoutMs,
    bodyMs: overrides.bodyMs ?? timeoutMs,
    totalMs: overrides.totalMs ?? timeoutMs,
  };
}

export interface HttpRequest {
  url: string;
  method: 'GET' | 'POST';
  json?: unknown;
  form?: FormData;
  timeouts: HttpTimeouts;
  signal?: AbortSignal;
  /**
   * A top-level array of the answer to leave unparsed: its elements come back as one Buffer each (see
   * raw-array.ts). An answer without it (an error) is parsed whole as usual.
   */
  rawArray?: string;
}

/**
 * - `connect`: no connection was made (refused, DNS, connect timeout): the request never left.
 * - `network`: the connection broke after the request may have been sent.
 * - `timeout`: no (complete) answer in time; the request may have been processed.
 * - `bad-response`: an answer came, but not JSON (a proxy's error page, a truncated body).
 */
export type TransportErrorKind = 'connect' | 'network' | 'timeout' | 'bad-response';

export class TransportError extends Error {
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export interface AgentOptions {
  /** Connections per origin. Default 32 (above the default per-API cap of 12 so several APIs can run at once). */
  connections?: number;
  connectTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

/** One keep-alive pool per origin (an undici Agent keeps a Pool per origin). */
export function createAgent(opts: AgentOptions | number = {}): UndiciAgent {
  const o = typeof opts === 'number' ? { connections: opts } : opts;
  return new Agent({
    connections: o.connections ?? 32,
    keepAliveTimeout: o.keepAliveTimeoutMs ?? 30_000,
    connect: { timeout: o.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS },
  });
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return String(e?.code ?? e?.cause?.code ?? '');
}

function classify(err: unknown, deadline: AbortSignal): TransportError {
  const code = errorCode(err);
  const message = (err as Error)?.message ?? String(err);
  if (CONNECT_CODES.has(code)) return new TransportError('connect', code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect timeout' : `${code}: ${message}`);
  if (TIMEOUT_CODES.has(code) || deadline.aborted) return new TransportError('timeout', `no answer in time (${code || 'deadline'})`);
  return new TransportError('network', code ? `${code}: ${message}` : message);
}

/** Sends one request and parses the JSON answer. Aborting `signal` rejects with the signal's reason, untouched. */
export async function sendJson(dispatcher: Dispatcher, req: HttpRequest): Promise<any> {
  // A timer cleared when the answer is in: AbortSignal.timeout's would fire for every call, long after.
  const timer = new AbortController();
  const clock = setTimeout(() => timer.abort(new DOMException('The operation timed out.', 'TimeoutError')), req.timeouts.totalMs);
  try {
    return await exchange(dispatcher, req, timer.signal);
  } finally {
    clearTimeout(clock);
  }
}

async function exchange(dispatcher: Dispatcher, req: HttpRequest, deadline: AbortSignal): Promise<any> {
  const { timeouts } = req;
  const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(req.url, {
      dispatcher,
      method: req.method,
      signal,
      headers: req.json !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : undefined,
      body: req.form ?? (req.json !== undefined ? JSON.stringify(req.json) : undefined),
      headersTimeout: timeouts.headersMs,
      bodyTimeout: timeouts.bodyMs,
    });
  } catch (err) {
    if (req.signal?.aborted) throw req.signal.reason ?? err;
    throw classify(err, deadline);
  }
  let text: string;
  let raw: SplitAnswer | undefined;
  try {
    if (req.rawArray) {
      // The chunks as read (an answer in one chunk is not copied): less memory waiting for the collector.
      const chunks: Buffer[] = [];
      for await (const chunk of res.body) chunks.push(chunk as Buffer);
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      raw = splitArrayField(bytes, req.rawArray);
      text = (raw?.envelope ?? bytes).toString('utf8');
    } else {
      text = await res.body.text();
    }
  } catch (err) {
    if (req.signal?.aborted) throw req.signal.reason ?? err;
    const e = classify(err, deadline);
    // Headers arrived, so the request was received: a broken body is never a "connect" failure.
    throw e.kind === 'connect' ? new TransportError('network', e.message) : e;
  }
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new TransportError('bad-response', `HTTP ${res.statusCode}, not JSON (${text.length} bytes)`, res.statusCode);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new TransportError('bad-response', `HTTP ${res.statusCode}, JSON but not an object`, res.statusCode);
  }
  if (raw) (body as Record<string, unknown>)[req.rawArray!] = raw.items;
  // Errors are read from errcode, never from the status; but a non-2xx answer without an errcode is not a
  // platform answer at all (a gateway in between), so it must not pass for success.
  if (res.statusCode >= 400 && typeof (body as { errcode?: unknown }).errcode !== 'number') {
    throw new TransportError('bad-response', `HTTP ${res.statusCode} without an errcode`, res.statusCode);
  }
  return body;
}
