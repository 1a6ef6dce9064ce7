import { Agent, request, type Dispatcher, type FormData } from 'undici';

/**
 * The transport both platforms share: keep-alive connections, a timeout on every request, JSON in and
 * out. It knows nothing of errcodes or tokens; the platform clients do.
 */
export interface HttpRequest {
  url: string;
  method: 'GET' | 'POST';
  json?: unknown;
  form?: FormData;
  timeoutMs: number;
  signal?: AbortSignal;
}

export class TransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'network' | 'bad-response',
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export function createAgent(connections = 32): Agent {
  return new Agent({ connections, keepAliveTimeout: 30_000, connect: { timeout: 10_000 } });
}

export async function sendJson(dispatcher: Dispatcher, req: HttpRequest): Promise<any> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(req.url, {
      dispatcher,
      method: req.method,
      signal,
      headers: req.json !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : undefined,
      body: req.form ?? (req.json !== undefined ? JSON.stringify(req.json) : undefined),
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    });
  } catch (err) {
    if (req.signal?.aborted) throw err;
    if (timeout.aborted || /timeout/i.test((err as Error).name + (err as Error).message)) {
      throw new TransportError('timeout', `no answer within ${req.timeoutMs} ms`);
    }
    throw new TransportError('network', (err as Error).message);
  }
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    throw new TransportError(timeout.aborted ? 'timeout' : 'network', (err as Error).message);
  }
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    throw new TransportError('bad-response', `HTTP ${res.statusCode}, not JSON`);
  }
}
