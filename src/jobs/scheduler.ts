import { Cron } from 'croner';
import { errorText } from '../core/errors.js';
import type { Logger } from '../platform/redact.js';
import type { Store } from '../store/store.js';

/**
 * A job that must happen once per day (the digest, the backup): at its time in its time zone, and — when
 * the service was down at that time — as soon as it starts again that day. Each day's run is recorded in
 * the store, so a restart never sends twice; a failure is retried a few times and then reported, never
 * dropped.
 *
 * Several instances sharing a store (PostgreSQL) run it once per day between them: a run happens under the
 * store lock `job:<name>:<date>`, re-reads the day's record inside it and skips a day that is done. An
 * instance that did not get the lock keeps checking (every `takeoverCheckMs`) while the day is not done:
 * if the instance running it dies, its lock is released and the next check takes the run over. A holder
 * told that it lost the lock (its database connection dropped) records nothing more — the day is another
 * instance's now.
 */
export const JOBS = 'jobs';

export interface DailyRun {
  job: string;
  date: string;
  status: 'running' | 'done' | 'failed';
  attempts: number;
  error?: string;
  /** A failure after the last retry, already reported: other instances do not take it over. */
  final?: boolean;
  at: string;
}

export interface DailyJobOptions {
  name: string;
  /** croner pattern, e.g. `0 9 * * *`. */
  pattern: string;
  timezone: string;
  store: Store;
  logger: Logger;
  /** `lost` aborts when this instance loses the job's lock (its database connection dropped). */
  run(date: string, lost: AbortSignal): Promise<void>;
  /** Told once a day's run has failed for good. */
  onFailure?(date: string, error: Error): Promise<void>;
  /** Waits between attempts (default 1, 5 and 15 minutes). */
  retryDelaysMs?: number[];
  /** How often an instance that is not running the day's job checks whether it must take it over (default 60 s). */
  takeoverCheckMs?: number;
  now?: () => Date;
}

/** A run that has been "running" this long without a lock to show for it was left by a dead process. */
const STALE_RUNNING_MS = 30 * 60_000;

export class DailyJob {
  private readonly cron: Cron;
  private stopped = false;
  private running?: Promise<void>;
  private watcher?: { date: string; timer: NodeJS.Timeout };

  constructor(private readonly opts: DailyJobOptions) {
    this.cron = new Cron(opts.pattern, { timezone: opts.timezone, protect: true }, () => void this.trigger());
  }

  /** Starts the schedule, and runs today's job now if its time has passed and it has not run. */
  async start(): Promise<void> {
    const now = this.now();
    const today = this.dateIn(now);
    // The first run in the last 24 hours: if it fell today and is past, today's job was due.
    const due = this.cron.nextRun(new Date(now.getTime() - 86_400_000));
    if (!due || due > now || this.dateIn(due) !== today) return;
    let record: DailyRun | undefined;
    try {
      record = await this.record(today);
    } catch (err) {
      // The store is unreachable: keep checking, and run the day once it answers.
      this.failedToReach(today, err);
      return;
    }
    if (this.opts.store.kind === 'postgres') {
      // Shared: whether someone is running it now is what the lock says, not how old the record is.
      if (record?.status !== 'done') await this.trigger();
    } else if (!record || record.status === 'failed' || (record.status === 'running' && Date.now() - Date.parse(record.at) > STALE_RUNNING_MS)) {
      await this.trigger();
    }
  }

  /** Runs today's job unless it already ran (or is running, here or on another instance). Never rejects. */
  trigger(): Promise<void> {
    this.running ??= this.runToday()
      .catch((err) => this.failedToReach(this.dateIn(this.now()), err))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  stop(): void {
    this.stopped = true;
    this.cron.stop();
    this.unwatch();
  }

  nextRun(): Date | null {
    return this.cron.nextRun();
  }

  private async runToday(): Promise<void> {
    const date = this.dateIn(this.now());
    const got = await this.opts.store.tryExclusive(`job:${this.opts.name}:${date}`, (lost) => this.attempt(date, lost));
    if (got.ran) {
      if (got.value === 'lost') this.watch(date);
      else this.unwatch();
      return;
    }
    // Another instance is running it: stand by in case it dies before the day is done.
    this.opts.logger.debug({ job: this.opts.name, date }, 'daily job running on another instance');
    this.watch(date);
  }

  /** Under the day's lock: the attempts, unless the day is done. `lost` when the lock went away mid-run. */
  private async attempt(date: string, lost: AbortSignal): Promise<'done' | 'skipped' | 'failed' | 'lost'> {
    const existing = await this.record(date);
    if (existing?.status === 'done') return 'skipped';
    if (existing?.status === 'running') this.opts.logger.warn({ job: this.opts.name, date }, 'daily job taken over from a run that did not finish');
    const delays = this.opts.retryDelaysMs ?? [60_000, 300_000, 900_000];
    let attempts = existing?.attempts ?? 0;
    for (let i = 0; i <= delays.length && !this.stopped; i++) {
      attempts++;
      await this.save({ job: this.opts.name, date, status: 'running', attempts, at: new Date().toISOString() });
      try {
        await this.opts.run(date, lost);
      } catch (err) {
        if (lost.aborted) return this.lost(date);
        const message = errorText(err);
        this.opts.logger.warn({ job: this.opts.name, date, attempts, error: message }, 'daily job failed');
        const final = i === delays.length;
        await this.save({ job: this.opts.name, date, status: 'failed', attempts, error: message, ...(final ? { final } : {}), at: new Date().toISOString() });
        if (final) {
          await this.opts.onFailure?.(date, err as Error);
          return 'failed';
        }
        await sleep(delays[i]!, lost);
        if (lost.aborted) return this.lost(date);
        continue;
      }
      // The run finished, but if the lock went meanwhile the day may already be another instance's.
      if (lost.aborted) return this.lost(date);
      await this.save({ job: this.opts.name, date, status: 'done', attempts, at: new Date().toISOString() });
      this.opts.logger.info({ job: this.opts.name, date, attempts }, 'daily job done');
      return 'done';
    }
    return 'failed';
  }

  private lost(date: string): 'lost' {
    this.opts.logger.warn({ job: this.opts.name, date }, 'daily job lost its lock (database connection dropped); its outcome is not recorded here');
    return 'lost';
  }

  /** Checks every `takeoverCheckMs` whether the day still needs running, and runs it if nobody is. */
  private watch(date: string): void {
    if (this.stopped || this.watcher?.date === date) return;
    this.unwatch();
    const timer = setInterval(() => void this.check(date), this.opts.takeoverCheckMs ?? 60_000);
    timer.unref?.();
    this.watcher = { date, timer };
  }

  private unwatch(): void {
    if (this.watcher) clearInterval(this.watcher.timer);
    this.watcher = undefined;
  }

  private async check(date: string): Promise<void> {
    if (this.running) return;
    // The day is over: tomorrow's run comes from the schedule.
    if (this.dateIn(this.now()) !== date) return this.unwatch();
    try {
      const record = await this.record(date);
      if (record?.status === 'done' || (record?.status === 'failed' && record.final)) return this.unwatch();
    } catch (err) {
      this.opts.logger.warn({ job: this.opts.name, date, error: errorText(err) }, 'daily job: store unreachable; checking again later');
      return;
    }
    await this.trigger();
  }

  /** The store could not be reached: log, and try again on the next check. */
  private failedToReach(date: string, err: unknown): void {
    this.opts.logger.error({ job: this.opts.name, date, error: errorText(err) }, 'daily job could not run; trying again later');
    this.watch(date);
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private dateIn(d: Date): string {
    return new Intl.DateTimeFormat('en-CA', { timeZone: this.opts.timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
  }

  private record(date: string): Promise<DailyRun | undefined> {
    return this.opts.store.get<DailyRun>(JOBS, `${this.opts.name}:${date}`);
  }

  private save(r: DailyRun): Promise<void> {
    return this.opts.store.put(JOBS, `${r.job}:${r.date}`, r);
  }
}


/** Waits `ms`, or less if `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref?.();
    signal.addEventListener('abort', done, { once: true });
  });
}
