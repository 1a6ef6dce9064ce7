import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Runtime } from '../core/runtime.js';

/**
 * `wxops serve`: the long-running service on 127.0.0.1. It answers `GET /healthz` today; the chat
 * channels, platform callbacks and the scheduler mount their routes here as they arrive.
 */
export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export async function serve(opts: { port?: number; host?: string }): Promise<number> {
  const runtime = new Runtime();
  const started = Date.now();
  const routes = new Map<string, Route>([
    [
      'GET /healthz',
      (_req, res) =>
        json(res, 200, {
          ok: true,
          mode: runtime.mode,
          uptime_s: Math.round((Date.now() - started) / 1000),
        }),
    ],
  ]);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://wxops').pathname;
    const route = routes.get(`${req.method} ${path}`);
    if (!route) return json(res, 404, { ok: false, error: 'not found' });
    Promise.resolve(route(req, res)).catch(() => {
      if (!res.headersSent) json(res, 500, { ok: false, error: 'internal error' });
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  process.stderr.write(`wxops serve: listening on http://${host}:${port} (${runtime.mode === 'sandbox' ? 'sandbox' : 'live'} mode)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await runtime.close();
  return 0;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
