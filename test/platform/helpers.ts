import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlatformConfig } from '../../src/platform/config.js';
import type { Logger } from '../../src/platform/redact.js';
import { WecomClient, type WecomClientConfig } from '../../src/platform/wecom/client.js';
import { startSimulator, type SimulatorHandle } from '../../src/sim/index.js';

/**
 * One simulator per test file, over real HTTP. Clients made here retry fast (5 ms backoff, 200 ms
 * rate-limit window) and log into `lines`, so any test can check what reached the log.
 */
export interface PlatformSim {
  sim: SimulatorHandle;
  lines: string[];
  logger: Logger;
  client(extra?: Partial<WecomClientConfig>): WecomClient;
  faults(body: unknown): Promise<void>;
  resetFaults(): Promise<void>;
  /** Calls the simulator has seen for `api` (gettoken included). */
  calls(api: string): Promise<number>;
  advanceClock(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startPlatformSim(): Promise<PlatformSim> {
  const dir = mkdtempSync(join(tmpdir(), 'wxops-platform-'));
  const sim = await startSimulator({ dataDir: dir, port: 0 });
  const lines: string[] = [];
  const push = (level: string) => (o: object, m?: string) => void lines.push(`${level} ${JSON.stringify(o)} ${m ?? ''}`);
  const logger: Logger = { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
  const clients: WecomClient[] = [];
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${sim.controlUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`simulator control ${path}: HTTP ${res.status} ${await res.text()}`);
  };
  return {
    sim,
    lines,
    logger,
    client(extra = {}) {
      const c = new WecomClient({ ...loadPlatformConfig(sim.env), retry: { baseDelayMs: 5, rateLimitWaitMs: 200 }, logger, ...extra });
      clients.push(c);
      return c;
    },
    faults: (body) => post('/faults', body),
    async resetFaults() {
      await fetch(`${sim.controlUrl}/faults`, { method: 'DELETE' });
    },
    async calls(api) {
      const stats = (await (await fetch(`${sim.controlUrl}/stats`)).json()) as { calls: Record<string, number> };
      return stats.calls[api] ?? 0;
    },
    advanceClock: (ms) => post('/clock', { advance_ms: ms }),
    async close() {
      for (const c of clients) await c.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
