import { chinaDate } from '../core/dates.js';
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
  ) {}

  click(target: string, openid: string, at: Date): void {
    this.add({ date: chinaDate(at), target, openid });
  }

  follower(change: 'subscribe' | 'unsubscribe', openid: string, at: Date): void {
    this.add({ date: chinaDate(at), change, openid });
  }

  /** Writes what is buffered; resolves when it is in the store. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    // One writer at a time: a read-modify-write must not interleave with another.
    this.writing = this.writing.then(() => (batch.length ? this.write(batch) : undefined)).catch(() => undefined);
    return this.writing;
  }

  private add(p: Pending): void {
    this.pending.push(p);
    this.timer ??= setTimeout(() => void this.flush(), this.delayMs);
  }

  private async write(batch: Pending[]): Promise<void> {
    const days = new Map<string, DayCounts>();
    for (const p of batch) {
      let day = days.get(p.date);
      if (!day) {
        day = (await this.store.get<DayCounts>(COUNTS_COLLECTION, p.date)) ?? { date: p.date, clicks: {}, subscribe: 0, unsubscribe: 0 };
        days.set(p.date, day);
      }
      if (p.change) day[p.change]++;
      if (p.target !== undefined) {
        const c = (day.clicks[p.target] ??= { count: 0, users: [] });
        c.count++;
        if (!c.users.includes(p.openid)) c.users.push(p.openid);
      }
    }
    for (const day of days.values()) await this.store.put(COUNTS_COLLECTION, day.date, day);
  }
}

/** The counted days from `from` to `to` (inclusive, YYYY-MM-DD). */
export async function countsBetween(store: Store, from: string, to: string): Promise<DayCounts[]> {
  return (await store.list<DayCounts>(COUNTS_COLLECTION)).filter((d) => d.date >= from && d.date <= to).sort((a, b) => a.date.localeCompare(b.date));
}
