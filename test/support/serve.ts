import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { Runtime } from '../../src/core/runtime.js';
import { cleanEnv, REPO } from './sandbox.js';

/**
 * `wxops serve` in sandbox mode on a free port, with `sim(method, path, body)` for the embedded
 * simulator's control surface (where tests play followers, customers and members).
 */
export interface TestServe {
  dir: string;
  runtime: Runtime;
  server: RunningServer;
  sim(method: string, path: string, body?: unknown): Promise<any>;
  close(): Promise<void>;
}

export async function startServe(env: Record<string, string> = {}): Promise<TestServe> {
  const dir = mkdtempSync(join(tmpdir(), 'wxops-serve-'));
  const runtime = new Runtime(cleanEnv({ WXOPS_DATA_DIR: dir, ...env }), REPO);
  const server = await startServer(runtime, { port: 0 });
  return {
    dir,
    runtime,
    server,
    async sim(method, path, body) {
      const res = await fetch(`${server.simulator}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return res.json();
    },
    async close() {
      await server.close();
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
