import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

/**
 * undici's Agent and request API, loaded without the package index. The index also loads fetch,
 * WebSocket, caches and mocks — about 60 ms at start on our machines against about 24 ms for these
 * two — and every `wxops run` is a short-lived process. Both are undici's own code, pinned by the lock.
 */
const require = createRequire(import.meta.url);

export const Agent: typeof UndiciAgent = require('undici/lib/dispatcher/agent.js');

const api = require('undici/lib/api/index.js') as {
  request(this: Dispatcher, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
};

/** `undici.request(url, opts)` for a dispatcher we always pass explicitly. */
export function request(url: string, opts: Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher }): Promise<Dispatcher.ResponseData> {
  const u = new URL(url);
  const { dispatcher, ...rest } = opts;
  return api.request.call(dispatcher, { ...rest, origin: u.origin, path: `${u.pathname}${u.search}` } as Dispatcher.RequestOptions);
}
