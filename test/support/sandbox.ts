import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRegistry } from '../../commands/index.js';
import { Session, type Outcome } from '../../src/core/pipeline.js';
import { Runtime } from '../../src/core/runtime.js';
import { startSimulator, type SimulatorHandle } from '../../src/sim/index.js';

export const REPO = resolve(import.meta.dirname, '../..');

/** A clean environment: nothing from the developer's shell (no live credentials) leaks into tests. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, WXOPS_LANG: 'zh', ...extra };
}

export interface TestWxops {
  runtime: Runtime;
  dataDir: string;
  sim?: SimulatorHandle;
  run(line: string, actor?: string): Promise<Outcome>;
  /** Sets simulator faults (only when started with `withSimulator`). */
  faults(body: unknown): Promise<void>;
  close(): Promise<void>;
}

/**
 * wxops against a simulator over real HTTP. By default in sandbox mode (the product starts the
 * simulator itself); with `withSimulator` the simulator runs separately and wxops is pointed at it by
 * the same variables live mode uses, so tests can reach the fault-injection surface.
 */
export async function startWxops(opts: { withSimulator?: boolean; lang?: 'zh' | 'en'; latencyMs?: number; database?: string } = {}): Promise<TestWxops> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wxops-test-'));
  let sim: SimulatorHandle | undefined;
  let env = cleanEnv({ WXOPS_DATA_DIR: dataDir, WXOPS_LANG: opts.lang ?? 'zh', ...(opts.database ? { WXOPS_DATABASE_URL: opts.database } : {}) });
  if (opts.withSimulator) {
    sim = await startSimulator({ dataDir: join(dataDir, 'sim'), port: 0, latencyMs: opts.latencyMs });
    env = { ...env, ...sim.env, WXOPS_ACTOR: 'zhangwei' };
  }
  const runtime = new Runtime(env, REPO);
  const registry = createRegistry();
  const sessions = new Map<string, Session>();
  return {
    runtime,
    dataDir,
    sim,
    run(line, actor = 'zhangwei') {
      let s = sessions.get(actor);
      if (!s) sessions.set(actor, (s = new Session({ runtime, registry, channel: 'repl', actor })));
      return s.execute(line);
    },
    async faults(body) {
      if (!sim) throw new Error('start with withSimulator to inject faults');
      const res = await fetch(`${sim.controlUrl}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`faults: ${res.status}`);
    },
    async close() {
      await runtime.close();
      await sim?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Asserts success and returns the JSON data. */
export function okData(o: Outcome): any {
  if (!o.ok) throw new Error(`expected success, got ${o.error?.code}: ${o.error?.text.zh}`);
  return o.result!.data;
}
