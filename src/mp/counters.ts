import { errorText } from '../core/errors.js';
import { chinaDate } from '../core/dates.js';
import type { Logger } from '../platform/redact.js';
import type { Store } from '../store/store.js';

/**
 * The API reports no menu clicks (mp.md §8), so wxops counts CLICK / VIEW / view_miniprogram events from
 * the callback itself, and the follower changes it sees, per day (China time). Events are buffered in
 * memory and written in one store update shortly after, so counting never delays a reply.
 */
export interface DayCounts {
  date: string;
  /** Per menu target (click key, view URL or mini program page): presses, and who pressed. */
  clicks: Record<string, { count: number; users: string[] }>;
  subscribe: number;
  unsubscribe: number;
}

export const COUNTS_COLLECTION = 'mp-counts';

type Pending = { date: string; target?: string; openid: string; change?: 'subscribe' | 'unsubscribe' };

export class EventCounters {
  private pending: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly delayMs = 200,
    private readonly logger?: Logger,
  ) {}

  click(target: string, openid: string, at: Date): void {
    this.add({ date: chinaDate(at), target, openid });
  }

  follower(change: 'subscribe' | 'unsubscribe', openid: string, at: Date): void {
    this.add({ date: chinaDate(at), change, openid });
  }

  /** Writes what is buffered; resolves when it is in the store (or kept for the next try when it could not be). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    // One writer at a time here; across instances each day's update is atomic.
    this.writing = this.writing
      .then(() => (batch.length ? this.write(batch) : undefined))
      .catch((err) => this.logger?.error({ error: errorText(err) }, 'mp counters not written'));
    return this.writing;
  }

  private add(p: Pending): void {
    this.pending.push(p);
    this.timer ??= setTimeout(() => void this.flush(), this.delayMs);
  }

  /**
   * Adds the batch to each day's stored counts in one atomic update per day: another instance counting
   * the same day at the same moment adds its own events, and neither overwrites the other. A day whose
   * update fails (the database is unreachable) is kept and tried again later; the others are written.
   */
  private async write(batch: Pending[]): Promise<void> {
    const byDay = new Map<string, Pending[]>();
    for (const p of batch) {
      const day = byDay.get(p.date);
      if (day) day.push(p);
      else byDay.set(p.date, [p]);
    }
    for (const [date, events] of byDay) {
      try {
        await this.store.update<DayCounts>(COUNTS_COLLECTION, date, (cur) => addEvents(cur ? structuredClone(cur) : { date, clicks: {}, subscribe: 0, unsubscribe: 0 }, events));
      } catch (err) {
        const kept = this.pending.length < MAX_KEPT;
        this.logger?.warn({ date, events: events.length, kept, error: errorText(err) }, 'mp counters not written');
        if (kept) {
          this.pending.unshift(...events);
          clearTimeout(this.timer);
          this.timer = setTimeout(() => void this.flush(), RETRY_MS);
          this.timer.unref?.();
        }
      }
    }
  }
}

/** Events kept in memory while the store cannot be written; beyond this they are dropped (and logged). */
const MAX_KEPT = 100_000;
const RETRY_MS = 5_000;

function addEvents(day: DayCounts, events: Pending[]): DayCounts {
  for (const p of events) {
    if (p.change) day[p.change]++;
    if (p.target !== undefined) {
      const c = (day.clicks[p.target] ??= { count: 0, users: [] });
      c.count++;
      if (!c.users.includes(p.openid)) c.users.push(p.openid);
    }
  }
  return day;
}

/** The counted days from `from` to `to` (inclusive, YYYY-MM-DD). */
export async function countsBetween(store: Store, from: string, to: string): Promise<DayCounts[]> {
  return (await store.list<DayCounts>(COUNTS_COLLECTION)).filter((d) => d.date >= from && d.date <= to).sort((a, b) => a.date.localeCompare(b.date));
}
