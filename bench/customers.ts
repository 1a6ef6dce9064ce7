import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { EXTERNAL_CONTACT_CONCURRENCY } from '../src/platform/wecom/client.js';
import { BATCH_LIMIT } from '../src/platform/wecom/customers.js';
import { fmtMs, line } from './stats.js';

/**
 * Listing every customer of a 200-member company with 100,000 customers through batch/get_by_user at
 * 20 ms per call (issue 6). The lower bound is the calls needed (relations ÷ 100 per page) × latency ÷
 * the concurrency the platform allows for external-contact APIs. The simulator runs in its own process,
 * so the memory measured is wxops's alone.
 */
const MEMBERS = 200;
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 100_000);
const LATENCY_MS = 20;

/** Runs in the child: the simulator at scale, one JSON line with its env on stdout. */
export async function customersSimulator(dataDir: string): Promise<void> {
  const { startSimulator } = await import('../src/sim/index.js');
  const sim = await startSimulator({ dataDir, port: 0, latencyMs: LATENCY_MS, scale: { members: MEMBERS, customers: CUSTOMERS } });
  process.stdout.write(`${JSON.stringify(sim.env)}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  await sim.close();
}

export async function benchCustomers(runner: string): Promise<void> {
  console.log(`\nCustomers: every customer of a ${MEMBERS}-member company with ${CUSTOMERS.toLocaleString('en-US')} customers via batch/get_by_user, ${LATENCY_MS} ms per call`);
  const dir = mkdtempSync(join(tmpdir(), 'wxops-bench-customers-'));
  const child = spawn(process.execPath, [runner, 'customers-sim', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`simulator exited (${code})`)));
    });
    const out = execFileSync(process.execPath, [join(dirname(runner), 'customers-list.js'), first], { encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { followUsers: number; customers: number; relations: number; wall: number; peak: number; baseline: number };
    const calls = Math.ceil(r.relations / BATCH_LIMIT);
    const bound = (calls * LATENCY_MS) / EXTERNAL_CONTACT_CONCURRENCY;
    line('follow users listed', `${r.followUsers}`);
    line('customers / relations', `${r.customers.toLocaleString('en-US')} / ${r.relations.toLocaleString('en-US')}`);
    line('lower bound (calls × latency ÷ 10 concurrent)', `${fmtMs(bound)} (${calls} calls)`);
    line('wxops wall time', `${fmtMs(r.wall)}  → ${(r.wall / bound).toFixed(2)}× the lower bound`, '≤ 1.5×', r.wall / bound <= 1.5);
    line('peak RSS of the listing process', `${Math.round(r.peak / 1048576)} MB (${Math.round(r.baseline / 1048576)} MB before listing)`, '< 150 MB', r.peak < 150 * 1048576);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
