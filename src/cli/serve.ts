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
  const stopWatching = await watchPolicy(runtime);
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
  stopWatching();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await runtime.close();
  return 0;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/**
 * Policy edits take effect without a restart; a broken edit keeps the policy in force and the error
 * (file, line, sentence) goes to the log and to the super admins.
 */
export async function watchPolicy(runtime: Runtime): Promise<() => void> {
  const { watch } = await import('node:fs');
  const { createRegistry } = await import('../../commands/index.js');
  const { SUPER_ADMIN_ROLE } = await import('../approval/service.js');
  const log = await runtime.logger();
  await runtime.policy(createRegistry().actions());
  let timer: NodeJS.Timeout | undefined;
  const reload = async () => {
    try {
      await runtime.reloadPolicy();
      log.info({ dir: runtime.policyDir }, 'policy reloaded');
    } catch (err) {
      const text = (err as { text?: { zh: string; en: string } }).text ?? { zh: String(err), en: String(err) };
      log.error({ dir: runtime.policyDir, error: text.en }, 'policy edit rejected; the previous policy stays in force');
      const current = await runtime.policy();
      const supers = current.set.roles[SUPER_ADMIN_ROLE]?.members ?? [];
      const store = await runtime.store();
      await store.put('notifications', `policy-${Date.now()}`, {
        channel: 'serve',
        to: supers,
        text: { zh: `策略修改未生效，仍使用之前的策略：${text.zh}`, en: `A policy edit was rejected; the previous policy stays in force: ${text.en}` },
        at: new Date().toISOString(),
      });
    }
  };
  const watcher = watch(runtime.policyDir, () => {
    // Editors write in several steps: wait for the burst to settle before reading.
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), 200);
  });
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
