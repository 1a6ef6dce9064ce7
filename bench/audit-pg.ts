import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { createRegistry } from '../commands/index.js';
import { FileAuditLog, type AuditLog } from '../src/audit/log.js';
import { PostgresAuditLog } from '../src/audit/postgres-log.js';
import { commandDecided, Session } from '../src/core/pipeline.js';
import { Runtime } from '../src/core/runtime.js';
import { PostgresStore } from '../src/store/postgres-store.js';
import { postgresBinDir, startThrowawayPostgres } from '../test/support/postgres-server.js';
import { BENCH_LINES, CHANGE_LINES, mockedWecom } from './pipeline.js';
import { fmtMs, line, percentile } from './stats.js';

/**
 * The audit log and the command path on PostgreSQL (issue 9), against the embedded default measured in
 * the same run on the same disk: a throwaway server with fsync on keeps its data in the temporary
 * directory, where the embedded data directory goes too. Each instance is its own process (its own pool).
 * The set-ups take turns in several rounds (embedded, 1 instance, 2 instances, embedded, …), so a busy
 * moment on the machine falls on all of them alike; the instances of a set-up start each round together.
 *
 * (a) Appends per second: every instance keeps `CONCURRENCY` appends in flight, as a busy service does;
 *     afterwards the chain the instances wrote together must verify, with seq 1..N and no gap.
 * (b) Command latency from the policy decision to the reply (text in → reply out shown beside it), through
 *     the real pipeline (WeCom replaced by MockAgent), for
 *     two kinds of command: reads and dry runs, whose decision and result go on the log in one append
 *     after the read; and a change, whose decision is appended before the platform call and its result
 *     after it (two appends).
 *
 * (c) The floor: the durable write each back-end rests on (append + fsync; one INSERT's commit) and a bare
 *     round trip, one at a time and without wxops code, so the added latency measured in (b) can be read
 *     against what the machine itself adds.
 *
 * Two PostgreSQL instances are compared with two embedded processes, each with its own data directory:
 * the same number of busy processes on the same cores, so what differs is the shared database.
 */
const CONCURRENCY = 32;
const ROUNDS = 4;
const APPENDS = 5_000; // per instance and round (the embedded log: a quarter of that)
// A p99 rests on the slowest 1%: 4,000 commands per instance and set-up put 40 samples there (2,000 put
// 20, and then the p99 moved by ±3 ms from run to run here). Short rounds spread the machine's slow
// moments over every set-up.
const COMMAND_ROUNDS = 16;
const COMMANDS = 250; // per instance and round
const WARMUP = 200;
const FLOOR_OPS = 3_000; // of each kind, in alternating blocks of FLOOR_BLOCK
const FLOOR_BLOCK = 50;

type Backend = 'embedded' | 'postgres';

interface WorkerJob {
  task: 'append' | 'commands' | 'floor';
  /** Which commands (task `commands`). */
  lines?: 'reads' | 'changes';
  backend: Backend;
  dataDir: string;
  url?: string;
  name: string;
}

interface WorkerResult {
  start: number;
  end: number;
  /** Per command from its decision to its reply (commands) or per append (append), ms. */
  samples: number[];
  /** Per command from text in to reply out (commands), ms. */
  whole?: number[];
  /** Per kind of write (floor), ms. */
  kinds?: Record<FloorKind, number[]>;
}

type FloorKind = 'file' | 'insert' | 'select';

const wallNow = () => performance.timeOrigin + performance.now();

/**
 * Child process: sets up and says "ready"; then each line it reads is a count of appends or commands to
 * run, answered with the result as JSON; "end" closes it.
 */
export async function auditPgWorker(arg: string): Promise<void> {
  const job = JSON.parse(arg) as WorkerJob;
  let run: (n: number) => Promise<number[]>;
  let whole: number[] | undefined;
  let kinds: WorkerResult['kinds'];
  let close: () => Promise<void>;
  if (job.task === 'floor') {
    // No wxops code: the durable write each back-end rests on, one at a time.
    const client = new pg.Client({ connectionString: job.url });
    await client.connect();
    await client.query('CREATE TABLE bench_floor (line text NOT NULL)');
    const file = join(job.dataDir, 'floor.jsonl');
    const text = `${JSON.stringify({ seq: 1, ts: new Date().toISOString(), kind: 'decision', actor: 'zhangsan', command: 'dept list', action: 'dept.list', outcome: 'permit', prev: '0'.repeat(64), hash: '0'.repeat(64) })}\n`;
    const ops: Record<FloorKind, () => unknown> = {
      file: () => {
        const fd = openSync(file, 'a');
        try {
          writeSync(fd, text);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      },
      insert: () => client.query('INSERT INTO bench_floor (line) VALUES ($1)', [text]),
      select: () => client.query('SELECT 1'),
    };
    run = async (n) => {
      kinds = { file: [], insert: [], select: [] };
      for (let done = 0; done < n; done += FLOOR_BLOCK)
        for (const kind of Object.keys(ops) as FloorKind[])
          for (let k = 0; k < FLOOR_BLOCK; k++) {
            const t0 = performance.now();
            await ops[kind]();
            kinds[kind].push(performance.now() - t0);
          }
      return [];
    };
    close = () => client.end();
  } else if (job.task === 'append') {
    let log: AuditLog;
    let store: PostgresStore | undefined;
    if (job.backend === 'postgres') {
      store = new PostgresStore({ url: job.url! });
      await store.open();
      log = new PostgresAuditLog(store);
    } else log = new FileAuditLog(job.dataDir);
    let i = 0;
    run = async (n) => {
      const samples: number[] = [];
      const end = i + n;
      const appender = async () => {
        while (i < end) {
          const k = i++;
          const t0 = performance.now();
          await log.append({ kind: 'decision', actor: job.name, channel: 'wecom', command: `member add u${k} --name 成员${k} --dept 销售部/华东区`, action: 'member.add', resource: { userid: `u${k}`, departments: [3] }, rule: 'dept-admin-manages-own-members', outcome: 'permit' });
          samples.push(performance.now() - t0);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, appender));
      return samples;
    };
    close = async () => {
      await log.close();
      await store?.close();
    };
  } else {
    const { agent, env } = mockedWecom();
    const runtime = new Runtime({ ...env, WXOPS_DATA_DIR: job.dataDir, ...(job.url ? { WXOPS_DATABASE_URL: job.url } : {}) }, process.cwd(), { dispatcher: agent });
    const session = new Session({ runtime, registry: createRegistry(), channel: 'wecom' });
    let i = 0;
    let decidedAt = 0;
    commandDecided.subscribe(() => (decidedAt = performance.now()));
    const lines = job.lines === 'changes' ? CHANGE_LINES : BENCH_LINES;
    const once = async () => {
      const outcome = await session.execute(lines[i++ % lines.length]!);
      if (!outcome.ok) throw new Error(`bench command failed: ${outcome.error?.text.en}`);
    };
    for (let k = 0; k < WARMUP; k++) await once();
    run = async (n) => {
      const samples: number[] = [];
      whole = [];
      for (let k = 0; k < n; k++) {
        const t0 = performance.now();
        await once();
        const t1 = performance.now();
        samples.push(t1 - decidedAt);
        whole.push(t1 - t0);
      }
      return samples;
    };
    close = () => runtime.close();
  }
  const say = (text: string) => new Promise((resolve) => process.stdout.write(`${text}\n`, resolve));
  await say('ready');
  for await (const cmd of createInterface({ input: process.stdin })) {
    if (cmd === 'end') break;
    const start = wallNow();
    const samples = await run(Number(cmd));
    const result: WorkerResult = { start, end: wallNow(), samples, whole, kinds };
    await say(JSON.stringify(result));
  }
  await close();
}

/** One instance: a worker process that runs what it is told, a round at a time. */
class Instance {
  private readonly child: ChildProcess;
  private readonly replies: string[] = [];
  private waiting?: (line: string) => void;
  private readonly exited: Promise<number | null>;

  constructor(runner: string, job: WorkerJob) {
    this.child = spawn(process.execPath, [runner, 'audit-pg-worker', JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => (this.waiting ? this.waiting(l) : this.replies.push(l)));
    this.exited = new Promise((resolve) => this.child.once('close', resolve));
  }

  private next(): Promise<string> {
    const ready = this.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      this.waiting = (l) => {
        this.waiting = undefined;
        resolve(l);
      };
      void this.exited.then((code) => reject(new Error(`bench worker exited with ${code}`)));
    });
  }

  async ready(): Promise<void> {
    const l = await this.next();
    if (l !== 'ready') throw new Error(`bench worker: ${l}`);
  }

  async run(n: number): Promise<WorkerResult> {
    this.child.stdin!.write(`${n}\n`);
    return JSON.parse(await this.next()) as WorkerResult;
  }

  async end(): Promise<void> {
    this.child.stdin!.end('end\n');
    const code = await this.exited;
    if (code !== 0) throw new Error(`bench worker exited with ${code}`);
  }
}

/** A set-up of one or more instances, measured over the rounds it is given. */
class Setup {
  readonly samples: number[] = [];
  readonly whole: number[] = [];
  private count = 0;
  private ms = 0;

  constructor(readonly instances: Instance[]) {}

  /** All instances at once; the round's wall-clock span covers them all. */
  async round(n: number): Promise<void> {
    const results = await Promise.all(this.instances.map((i) => i.run(n)));
    for (const r of results) {
      this.samples.push(...r.samples);
      this.whole.push(...(r.whole ?? []));
    }
    this.count += results.reduce((k, r) => k + r.samples.length, 0);
    this.ms += Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start));
  }

  get perSecond(): number {
    return (this.count * 1000) / this.ms;
  }

  p(q: number, of = this.samples): number {
    return percentile([...of].sort((a, b) => a - b), q);
  }
}

async function measure(setups: { setup: Setup; n: number }[], rounds: number): Promise<void> {
  await Promise.all(setups.flatMap(({ setup }) => setup.instances.map((i) => i.ready())));
  // The order rotates every round, so that no set-up always follows the same one (and inherits what that
  // one left the disk and the scheduler to do).
  for (let r = 0; r < rounds; r++)
    for (let k = 0; k < setups.length; k++) {
      const { setup, n } = setups[(r + k) % setups.length]!;
      await setup.round(n);
    }
  await Promise.all(setups.flatMap(({ setup }) => setup.instances.map((i) => i.end())));
}

const ratio = (x: number, base: number, of = 'embedded') => `${(x / base).toFixed(2)}× ${of}`;

/** The chain the instances wrote: it must verify, with seq 1..N and no gap. */
async function checkChain(url: string, expected: number): Promise<string> {
  const store = new PostgresStore({ url });
  try {
    const t0 = performance.now();
    const report = await new PostgresAuditLog(store).verify();
    const ms = performance.now() - t0;
    const r = await store.query<{ n: string; first: string; last: string }>('SELECT count(*) AS n, min(seq) AS first, max(seq) AS last FROM wxops_audit');
    const { n, first, last } = r.rows[0]!;
    const gapless = Number(n) === expected && Number(first) === 1 && Number(last) === expected;
    if (!report.ok || !gapless) throw new Error(`the audit chain is broken: ${JSON.stringify({ report, n, first, last })}`);
    return `${report.entries.toLocaleString('en')} entries, seq 1..${last} without a gap, verify ok (${fmtMs(ms)})`;
  } finally {
    await store.close();
  }
}

/** Vacuums the databases the last part wrote and flushes every dirty page (CHECKPOINT is server-wide). */
async function settle(urls: string[]): Promise<void> {
  for (const [k, url] of urls.entries()) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('VACUUM (ANALYZE)');
      if (k === urls.length - 1) await client.query('CHECKPOINT');
    } finally {
      await client.end();
    }
  }
}

export async function benchAuditPg(runner: string): Promise<void> {
  const base = tmpdir();
  try {
    postgresBinDir();
  } catch (err) {
    console.log(`\nAudit and commands on PostgreSQL: skipped — ${(err as Error).message}`);
    return;
  }
  const server = await startThrowawayPostgres({ fsync: true });
  const dirs: string[] = [];
  const dataDir = () => {
    const d = mkdtempSync(join(base, 'wxops-bench-auditpg-'));
    dirs.push(d);
    return d;
  };
  try {
    console.log(`\nAudit and commands on PostgreSQL (throwaway server, fsync on, data in ${base}) vs the embedded default`);

    // (a) appends per second. Two embedded processes, each with its own data directory (two single-machine
    // deployments), are the baseline for two instances: the same number of processes on the same cores.
    const appender = (name: string, url?: string) => new Instance(runner, { task: 'append', backend: url ? 'postgres' : 'embedded', dataDir: dataDir(), url, name });
    const url1 = await server.createDatabase('bench_audit');
    const url2 = await server.createDatabase('bench_audit');
    const emb1 = new Setup([appender('a')]);
    const emb2 = new Setup([appender('a'), appender('b')]);
    const pg1 = new Setup([appender('a', url1)]);
    const pg2 = new Setup([appender('a', url2), appender('b', url2)]);
    await measure([
      { setup: emb1, n: APPENDS / 4 },
      { setup: emb2, n: APPENDS / 4 },
      { setup: pg1, n: APPENDS },
      { setup: pg2, n: APPENDS },
    ], ROUNDS);
    const rate = (x: number) => `${Math.round(x).toLocaleString('en')} appends/s`;
    line('appends/s, embedded, 1 / 2 processes', `${rate(emb1.perSecond)} / ${rate(emb2.perSecond)}`);
    line('appends/s, PostgreSQL, 1 instance', `${rate(pg1.perSecond)}  (${ratio(pg1.perSecond, emb1.perSecond)})`);
    line('appends/s, PostgreSQL, 2 instances', `${rate(pg2.perSecond)}  (${ratio(pg2.perSecond, emb2.perSecond, '2 embedded')})`, '≥ 2,000/s', pg2.perSecond >= 2000);
    line(`append p99 (${CONCURRENCY} in flight): emb 1/2, PG 1/2`, [emb1, emb2, pg1, pg2].map((x) => fmtMs(x.p(99))).join(' / '));
    line('chain written by the 2 instances', await checkChain(url2, APPENDS * ROUNDS * 2), 'unbroken', true);

    // Part (a) left tens of thousands of new rows to vacuum and their pages to write. Done now, that work
    // cannot fall inside part (b), where it would slow the PostgreSQL set-ups and not the embedded ones.
    await settle([url1, url2]);

    // (b) decision → reply, for reads (and dry runs) and for a change
    const sets = [];
    for (const kind of ['reads', 'changes'] as const) {
      const make = (url?: string) => new Instance(runner, { task: 'commands', lines: kind, backend: url ? 'postgres' : 'embedded', dataDir: dataDir(), url, name: '' });
      const curl1 = await server.createDatabase('bench_cmd');
      const curl2 = await server.createDatabase('bench_cmd');
      sets.push({ kind, curl2, emb1: new Setup([make()]), emb2: new Setup([make(), make()]), pg1: new Setup([make(curl1)]), pg2: new Setup([make(curl2), make(curl2)]) });
    }
    await measure(sets.flatMap((x) => [x.emb1, x.emb2, x.pg1, x.pg2]).map((setup) => ({ setup, n: COMMANDS })), COMMAND_ROUNDS);
    const show = (x: Setup) => `p50 ${fmtMs(x.p(50))}, p99 ${fmtMs(x.p(99))} (text in → reply: p99 ${fmtMs(x.p(99, x.whole))})`;
    const signed = (ms: number) => `${ms >= 0 ? '+' : '−'}${fmtMs(Math.abs(ms))}`;
    for (const x of sets) {
      const what = x.kind === 'reads' ? 'read or dry run (1 append)' : 'change (2 appends)';
      console.log(`  — a ${what}: ${(x.kind === 'reads' ? BENCH_LINES : CHANGE_LINES).map((l) => `“${l.split(' --')[0]}”`).join(', ')}`);
      line('decision → reply, embedded, 1 process', show(x.emb1));
      line('decision → reply, embedded, 2 processes', show(x.emb2));
      line('decision → reply, PostgreSQL, 1 instance', `${show(x.pg1)}  (p99 ${ratio(x.pg1.p(99), x.emb1.p(99))})`);
      line('decision → reply, PostgreSQL, 2 instances', `${show(x.pg2)}  (p99 ${ratio(x.pg2.p(99), x.emb2.p(99), '2 embedded')})`);
      const added1 = x.pg1.p(99) - x.emb1.p(99);
      const added2 = x.pg2.p(99) - x.emb2.p(99);
      line('added p99, 1 instance vs 1 embedded', signed(added1), '< 2 ms', added1 < 2);
      line('added p99, 2 instances vs 2 embedded', signed(added2), '< 2 ms', added2 < 2);
      line('chain written by the 2 instances’ commands', await checkChain(x.curl2, (WARMUP + COMMANDS * COMMAND_ROUNDS) * 2 * 2), 'unbroken', true);
    }

    // (c) the floor: what one durable write costs on each back-end here, without wxops. A PostgreSQL audit
    // log needs at least one commit per command where the embedded one needs one fsync, so the difference
    // of these p99s is added latency that no PostgreSQL-backed log could avoid on this machine.
    const floor = new Instance(runner, { task: 'floor', backend: 'postgres', dataDir: dataDir(), url: await server.createDatabase('bench_floor'), name: '' });
    await floor.ready();
    const { kinds } = await floor.run(FLOOR_OPS);
    await floor.end();
    const q = (kind: FloorKind, p: number) => percentile([...kinds![kind]].sort((a, b) => a - b), p);
    const showFloor = (kind: FloorKind) => `p50 ${fmtMs(q(kind, 50))}, p99 ${fmtMs(q(kind, 99))}`;
    console.log(`  — the floor: one durable write at a time, no wxops code (${FLOOR_OPS.toLocaleString('en')} of each, taking turns)`);
    line('file: append + fsync (as the embedded log)', showFloor('file'));
    line('PostgreSQL: one INSERT, one commit', showFloor('insert'));
    line('PostgreSQL: SELECT 1 (the round trip alone)', showFloor('select'));
    line('added p99 of a commit over an fsync', signed(q('insert', 99) - q('file', 99)));
  } finally {
    await server.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
