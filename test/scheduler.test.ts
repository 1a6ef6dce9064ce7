import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DailyJob, JOBS, type DailyRun } from '../src/jobs/scheduler.js';
import { silentLogger } from '../src/platform/redact.js';
import { LowdbStore } from '../src/store/lowdb-store.js';
import { PostgresStore } from '../src/store/postgres-store.js';
import { testDatabase } from './support/postgres.js';

/** The digest's schedule: once a day, caught up after a restart, retried and reported when it fails. */
const dirs: string[] = [];
function store(): LowdbStore {
  const dir = mkdtempSync(join(tmpdir(), 'wxops-jobs-'));
  dirs.push(dir);
  return new LowdbStore(dir);
}
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  while (cleanups.length) await cleanups.pop()!();
});

// Midnight UTC has always passed today (in UTC), so the job is due whenever the test runs.
const due = { pattern: '0 0 * * *', timezone: 'UTC' };
const today = () => new Date().toISOString().slice(0, 10);

describe('a daily job', () => {
  it('runs once when its time has passed, and not again after a restart', async () => {
    const s = store();
    const runs: string[] = [];
    const first = new DailyJob({ name: 'digest', ...due, store: s, logger: silentLogger, run: async (date) => void runs.push(date) });
    await first.start();
    first.stop();
    const second = new DailyJob({ name: 'digest', ...due, store: s, logger: silentLogger, run: async (date) => void runs.push(date) });
    await second.start();
    await second.trigger();
    second.stop();
    expect(runs).toEqual([today()]);
    expect((await s.get<DailyRun>(JOBS, `digest:${today()}`))!.status).toBe('done');
  });

  it('retries a failed run and reports it when it keeps failing, keeping the record', async () => {
    const s = store();
    let attempts = 0;
    const failures: string[] = [];
    const job = new DailyJob({
      name: 'digest',
      ...due,
      store: s,
      logger: silentLogger,
      retryDelaysMs: [5, 5],
      run: async () => {
        attempts++;
        throw new Error('webhook 93000');
      },
      onFailure: async (date) => void failures.push(date),
    });
    await job.start();
    job.stop();
    expect(attempts).toBe(3);
    expect(failures).toEqual([today()]);
    expect(await s.get<DailyRun>(JOBS, `digest:${today()}`)).toMatchObject({ status: 'failed', attempts: 3, error: 'webhook 93000' });
  });

  it('a run that failed earlier is tried again when the service starts', async () => {
    const s = store();
    await s.put(JOBS, `digest:${today()}`, { job: 'digest', date: today(), status: 'failed', attempts: 3, at: new Date().toISOString() });
    const runs: string[] = [];
    const job = new DailyJob({ name: 'digest', ...due, store: s, logger: silentLogger, run: async (date) => void runs.push(date) });
    await job.start();
    job.stop();
    expect(runs).toEqual([today()]);
  });
});

/** Two `wxops serve` instances: each its own pool on one shared database. */
async function twoInstances(): Promise<[PostgresStore, PostgresStore]> {
  const url = await testDatabase();
  const make = async () => {
    const s = new PostgresStore({ url, onIdleError: () => undefined });
    await s.open();
    cleanups.push(() => s.close().catch(() => undefined));
    return s;
  };
  return [await make(), await make()];
}

const until = async (what: () => boolean | Promise<boolean>, ms = 10_000) => {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (await what()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out');
};

describe('a daily job on several instances sharing PostgreSQL', () => {
  it('runs once a day between them, however many instances start it at once', async () => {
    const [a, b] = await twoInstances();
    const runs: string[] = [];
    const job = (store: PostgresStore, who: string) => {
      const j = new DailyJob({
        name: 'digest',
        ...due,
        store,
        logger: silentLogger,
        takeoverCheckMs: 50,
        run: async () => {
          runs.push(who);
          await new Promise((r) => setTimeout(r, 200));
        },
      });
      cleanups.push(() => j.stop());
      return j;
    };
    const jobs = [job(a, 'a'), job(b, 'b'), job(a, 'a2'), job(b, 'b2')];
    await Promise.all(jobs.map((j) => j.start()));
    // The instances that stood by keep checking; give them several chances to (wrongly) run it again.
    await new Promise((r) => setTimeout(r, 500));
    await Promise.all(jobs.map((j) => j.trigger()));
    expect(runs).toHaveLength(1);
    expect(await b.get<DailyRun>(JOBS, `digest:${today()}`)).toMatchObject({ status: 'done', attempts: 1 });
  });

  it('is taken over by another instance when the one running it dies, which then records nothing', async () => {
    const [a, b] = await twoInstances();
    const runs: string[] = [];
    let startedOnA!: () => void;
    const onA = new Promise<void>((r) => (startedOnA = r));
    const dying = new DailyJob({
      name: 'digest',
      ...due,
      store: a,
      logger: silentLogger,
      run: async (_date, lost) => {
        runs.push('a');
        startedOnA();
        // A long digest: still working when its instance's connection goes.
        await new Promise((r) => lost.addEventListener('abort', r));
      },
    });
    const standby = new DailyJob({ name: 'digest', ...due, store: b, logger: silentLogger, takeoverCheckMs: 50, run: async () => void runs.push('b') });
    cleanups.push(() => dying.stop(), () => standby.stop());
    const first = dying.start();
    await onA;
    await standby.start();
    expect(runs).toEqual(['a']);
    expect((await b.get<DailyRun>(JOBS, `digest:${today()}`))!.status).toBe('running');
    // "Instance a dies": the server ends the session that holds the day's lock.
    await b.query(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()`);
    await first;
    await until(async () => (await b.get<DailyRun>(JOBS, `digest:${today()}`))?.status === 'done');
    expect(runs).toEqual(['a', 'b']);
    // a's run ended after it lost the lock: it wrote neither "done" nor "failed" over b's record.
    await new Promise((r) => setTimeout(r, 200));
    expect(await a.get<DailyRun>(JOBS, `digest:${today()}`)).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('a stand-by instance does not repeat a day that failed for good and was reported', async () => {
    const [a, b] = await twoInstances();
    let attempts = 0;
    const failures: string[] = [];
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const failing = new DailyJob({
      name: 'digest',
      ...due,
      store: a,
      logger: silentLogger,
      retryDelaysMs: [5],
      run: async () => {
        attempts++;
        await hold;
        throw new Error('webhook 93000');
      },
      onFailure: async (date) => void failures.push(date),
    });
    const standby = new DailyJob({ name: 'digest', ...due, store: b, logger: silentLogger, takeoverCheckMs: 30, run: async () => void attempts++ });
    cleanups.push(() => failing.stop(), () => standby.stop());
    const first = failing.start();
    await until(() => attempts === 1);
    await standby.start();
    release();
    await first;
    await new Promise((r) => setTimeout(r, 300));
    expect(attempts).toBe(2);
    expect(failures).toEqual([today()]);
    expect(await b.get<DailyRun>(JOBS, `digest:${today()}`)).toMatchObject({ status: 'failed', final: true, attempts: 2 });
  });

  it('keeps running on when the store cannot be reached, and runs the day once it can', async () => {
    const s = store();
    let down = true;
    const flaky = new Proxy(s, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => (down && prop !== 'close' ? Promise.reject(Object.assign(new Error('DATABASE_UNAVAILABLE'), { code: 'DATABASE_UNAVAILABLE' })) : v.apply(target, args));
      },
    });
    const runs: string[] = [];
    const job = new DailyJob({ name: 'digest', ...due, store: flaky, logger: silentLogger, takeoverCheckMs: 30, run: async (date) => void runs.push(date) });
    cleanups.push(() => job.stop());
    await job.start();
    await job.trigger();
    expect(runs).toEqual([]);
    down = false;
    await until(() => runs.length === 1);
    expect(runs).toEqual([today()]);
  });
});
