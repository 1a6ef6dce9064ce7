import { Cron } from 'croner';
import type { Logger } from '../platform/redact.js';
import type { Store } from '../store/store.js';

/**
 * A job that must happen once per day (the digest): at its time in its time zone, and — when the service
 * was down at that time — as soon as it starts again that day. Each day's run is recorded in the store,
 * so a restart never sends twice; a failure is retried a few times and then reported, never dropped.
 */
export const JOBS = 'jobs';

export interface DailyRun {
  job: string;
  date: string;
  status: 'running' | 'done' | 'failed';
  attempts: number;
  error?: string;
  at: string;
}

export interface DailyJobOptions {
  name: string;
  /** croner pattern, e.g. `0 9 * * *`. */
  pattern: string;
  timezone: string;
  store: Store;
  logger: Logger;
  run(date: string): Promise<void>;
  /** Told once a day's run has failed for good. */
  onFailure?(date: string, error: Error): Promise<void>;
  /** Waits between attempts (default 1, 5 and 15 minutes). */
  retryDelaysMs?: number[];
  now?: () => Date;
}

export class DailyJob {
  private readonly cron: Cron;
  private stopped = false;
  private running?: Promise<void>;

  constructor(private readonly opts: DailyJobOptions) {
    this.cron = new Cron(opts.pattern, { timezone: opts.timezone, protect: true }, () => void this.trigger());
  }

  /** Starts the schedule, and runs today's job now if its time has passed and it has not run. */
  async start(): Promise<void> {
    const now = this.now();
    const today = this.dateIn(now);
    // The first run in the last 24 hours: if it fell today and is past, today's job was due.
    const due = this.cron.nextRun(new Date(now.getTime() - 86_400_000));
    if (due && due <= now && this.dateIn(due) === today) {
      const record = await this.record(today);
      if (!record || record.status === 'failed' || (record.status === 'running' && Date.now() - Date.parse(record.at) > 30 * 60_000)) await this.trigger();
    }
  }

  /** Runs today's job unless it already ran (or is running). */
  trigger(): Promise<void> {
    this.running ??= this.runToday().finally(() => (this.running = undefined));
    return this.running;
  }

  stop(): void {
    this.stopped = true;
    this.cron.stop();
  }

  nextRun(): Date | null {
    return this.cron.nextRun();
  }

  private async runToday(): Promise<void> {
    const date = this.dateIn(this.now());
    const existing = await this.record(date);
    if (existing?.status === 'done') return;
    const delays = this.opts.retryDelaysMs ?? [60_000, 300_000, 900_000];
    let attempts = existing?.attempts ?? 0;
    for (let i = 0; i <= delays.length && !this.stopped; i++) {
      attempts++;
      await this.save({ job: this.opts.name, date, status: 'running', attempts, at: new Date().toISOString() });
      try {
        await this.opts.run(date);
        await this.save({ job: this.opts.name, date, status: 'done', attempts, at: new Date().toISOString() });
        this.opts.logger.info({ job: this.opts.name, date, attempts }, 'daily job done');
        return;
      } catch (err) {
        const message = (err as { text?: { en: string } }).text?.en ?? (err as Error).message;
        this.opts.logger.warn({ job: this.opts.name, date, attempts, error: message }, 'daily job failed');
        await this.save({ job: this.opts.name, date, status: 'failed', attempts, error: message, at: new Date().toISOString() });
        if (i === delays.length) {
          await this.opts.onFailure?.(date, err as Error);
          return;
        }
        await new Promise((r) => setTimeout(r, delays[i]).unref?.());
      }
    }
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
