import { errorText } from '../core/errors.js';
import type { Logger } from '../platform/redact.js';
import type { Store } from './store.js';

/**
 * Short-lived shared entries (callback claims, robot streams) are removed in the background, at most
 * once per `everyMs` per instance. Each is re-checked inside `update`, so an entry renewed meanwhile by
 * another instance stays.
 */
export class PeriodicPurge<T extends { id: string }> {
  private last = 0;

  constructor(
    private readonly collection: string,
    private readonly isOld: (entry: T, now: number) => boolean,
    private readonly everyMs = 60_000,
  ) {}

  maybe(store: Store, now: number, logger?: Logger): void {
    if (now - this.last < this.everyMs) return;
    this.last = now;
    void (async () => {
      for (const e of await store.list<T>(this.collection)) {
        if (e?.id && this.isOld(e, now)) await store.update<T>(this.collection, e.id, (cur) => (cur && !this.isOld(cur, now) ? cur : undefined));
      }
    })().catch((err) => logger?.warn({ collection: this.collection, error: errorText(err) }, 'old shared entries not purged'));
  }
}
