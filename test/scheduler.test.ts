import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DailyJob, JOBS, type DailyRun } from '../src/jobs/scheduler.js';
import { silentLogger } from '../src/platform/redact.js';
import { LowdbStore } from '../src/store/lowdb-store.js';

/** The digest's schedule: once a day, caught up after a restart, retried and reported when it fails. */
const dirs: string[] = [];
function store(): LowdbStore {
  const dir = mkdtempSync(join(tmpdir(), 'wxops-jobs-'));
  dirs.push(dir);
  return new LowdbStore(dir);
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
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
