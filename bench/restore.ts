import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { backupRestore } from '../commands/backup/restore.js';
import { createRegistry } from '../commands/index.js';
import { Session, type Outcome } from '../src/core/pipeline.js';
import { Runtime } from '../src/core/runtime.js';
import { loadPlatformConfig } from '../src/platform/config.js';
import { WecomClient } from '../src/platform/wecom/client.js';
import { fmtMs, line } from './stats.js';

/**
 * `backup restore` of a company with 10,000 members and 100,000 customers at 20 ms per call (issue 8),
 * after 10% of the members were deleted, the relations of 10% of the customers were deleted (which no API
 * can recreate: listed, not restored) and the tags and remarks of another 10% of the customers were
 * stripped. Measured: the restore's wall time (compare + the approved calls) against the lower bound
 * calls × latency ÷ the concurrency allowed per API, counted by the simulator for exactly this run.
 */
const MEMBERS = Number(process.env.BENCH_RESTORE_MEMBERS ?? 10_000);
const CUSTOMERS = Number(process.env.BENCH_RESTORE_CUSTOMERS ?? 100_000);
const LATENCY_MS = 20;

/** APIs whose calls run in one wave side by side (each under its own cap): the wave's bound is the largest. */
const WRITE_WAVES = [['department/create'], ['user/create', 'user/update'], ['tag/create'], ['tag/addtagusers'], ['externalcontact/mark_tag', 'externalcontact/remark']];

export async function benchRestore(runner: string): Promise<void> {
  console.log(
    `\nRestore: ${MEMBERS.toLocaleString('en-US')} members, ${CUSTOMERS.toLocaleString('en-US')} customers, ${LATENCY_MS} ms per call, after deleting 10% of members, the relations of 10% of customers, and stripping tags/remarks of another 10%`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'wxops-bench-restore-'));
  const child = spawn(process.execPath, [join(dirname(runner), 'restore-sim.js'), join(dir, 'sim'), String(MEMBERS), String(CUSTOMERS), String(LATENCY_MS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error('the simulator exited');
    return r.value;
  };
  let runtime: Runtime | undefined;
  try {
    const env = JSON.parse(await next()) as Record<string, string>;
    runtime = new Runtime({ ...env, PATH: process.env.PATH, WXOPS_DATA_DIR: join(dir, 'wxops'), WXOPS_ACTOR: 'zhangwei', WXOPS_LANG: 'en' }, process.cwd());
    const registry = createRegistry();
    if (!registry.route(['backup', 'restore'])) registry.add(backupRestore);
    const as = (actor: string) => new Session({ runtime: runtime!, registry, channel: 'cli', actor });
    const zhangwei = as('zhangwei');
    const sunli = as('sunli');
    const stats = async (): Promise<Record<string, number>> => ((await (await fetch(`${env.WXOPS_WECOM_BASE_URL}/_sim/stats`)).json()) as { calls: Record<string, number> }).calls;
    const must = (o: Outcome, what: string) => {
      if (!o.ok) throw new Error(`${what}: ${o.error?.code} ${o.error?.text.en}`);
      return o.result!.data as any;
    };

    const t0 = performance.now();
    const backup = must(await zhangwei.execute('backup run --only contacts,customers'), 'backup run');
    const id: string = backup.id ?? backup.backup?.id ?? backup.manifest?.id;
    const tBackup = performance.now() - t0;
    child.stdin!.write('mutate\n');
    const mutated = JSON.parse(await next()) as { membersDeleted: number; relationsDeleted: number; relationsStripped: number };

    // Compare only (dry run): the reads of the restore.
    const s0 = await stats();
    const t1 = performance.now();
    const plan = must(await zhangwei.execute(`backup restore ${id} --dry-run`), 'dry run').plan;
    const tCompare = performance.now() - t1;
    const s1 = await stats();

    // The restore as an operator runs it: asked by one super admin, approved (and run) by the other.
    // Approving runs the command again from the start: the live state is compared afresh, and the run is
    // refused if the plan came out different from the one approved. Both commands' calls are in the bound.
    const t2 = performance.now();
    let o = await zhangwei.execute(`backup restore ${id}`);
    const tRequest = performance.now() - t2;
    if (!o.ok && o.error?.code === 'APPROVAL_PENDING') o = await sunli.execute(`approval approve ${(o.error.details as { request_id: string }).request_id}`);
    const tRestore = performance.now() - t2;
    const s2 = await stats();
    const result = must(o, 'restore');
    const report = result.result ?? result;
    const again = await zhangwei.execute(`backup restore ${id} --only contacts,customers --dry-run`);

    const client = new WecomClient(loadPlatformConfig(env));
    const cap = (api: string) => client.concurrencyFor(api);
    const diff = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.keys(b).map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)]).filter(([, n]) => (n as number) > 0)) as Record<string, number>;
    const isWrite = new Set(WRITE_WAVES.flat());
    const readsOf = (calls: Record<string, number>) => Object.entries(calls).filter(([api]) => api !== 'gettoken' && !isWrite.has(api));
    const readBound = (calls: Record<string, number>) => readsOf(calls).reduce((ms, [api, n]) => ms + (n * LATENCY_MS) / cap(api), 0);
    const readCount = (calls: Record<string, number>) => readsOf(calls).reduce((s, [, n]) => s + n, 0);
    const reads = diff(s0, s1);
    const all = diff(s1, s2);
    const writes = Object.fromEntries(WRITE_WAVES.flat().filter((api) => all[api]).map((api) => [api, all[api]!]));
    const sumReads = readBound(reads);
    const restoreReads = readBound(all);
    const sumWrites = WRITE_WAVES.reduce((ms, wave) => ms + Math.max(0, ...wave.map((api) => ((writes[api] ?? 0) * LATENCY_MS) / cap(api))), 0);
    const writeCalls = Object.values(writes).reduce((s, n) => s + n, 0);
    const readCalls = readCount(reads);
    const bound = restoreReads + sumWrites;
    await client.close();

    line('backup run (contacts, customers)', `${fmtMs(tBackup)}  (backup ${id})`);
    line('damage done on the simulator', `${mutated.membersDeleted} members deleted, ${mutated.relationsDeleted} relations deleted, ${mutated.relationsStripped} relations stripped of tags+remark`);
    line('plan', `${plan.steps.length} calls; ${report.not_restorable.length} relations listed as not restorable (need the customer to add the member again)`);
    line('compare only (--dry-run): reads', `${readCalls} calls: ${readsOf(reads).map(([a, n]) => `${a} ${n}`).join(', ')}`);
    line('compare wall vs its bound (reads ÷ cap)', `${fmtMs(tCompare)} vs ${fmtMs(sumReads)}  → ${(tCompare / sumReads).toFixed(2)}×`);
    line('restore writes', `${writeCalls} calls: ${Object.entries(writes).map(([a, n]) => `${a} ${n} (cap ${cap(a)})`).join(', ')}`);
    line('lower bound (reads + writes, per-API caps)', `${fmtMs(bound)} = reads ${fmtMs(restoreReads)} (${readCount(all)} calls: the request's compare and the approved run's) + writes ${fmtMs(sumWrites)} (waves in order; APIs of a wave side by side)`);
    line('request (compare, approval asked)', `${fmtMs(tRequest)}`);
    line('approved run (compare again + calls)', `${fmtMs(tRestore - tRequest)}`);
    line('wxops restore wall time (request + approved run)', `${fmtMs(tRestore)}  → ${(tRestore / bound).toFixed(2)}× the lower bound`, '≤ 1.3×', tRestore / bound <= 1.3);
    line('restored items', `created ${report.created}, updated ${report.updated}, failed ${report.failed}; re-run: ${again.ok ? 'plan not empty' : again.error?.code}`);
  } finally {
    await runtime?.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}
