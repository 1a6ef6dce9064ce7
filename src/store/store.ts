/**
 * All of wxops's own state (approvals, rules, records, counters, schedules, de-duplication keys, the backup
 * catalogue) goes through this one interface, so that the embedded default (one machine) and PostgreSQL
 * (several instances behaving as one bot) are interchangeable (ARCHITECTURE §9).
 */
export interface Store {
  /** `embedded`: lowdb in the data directory, one instance. `postgres`: shared by every instance. */
  readonly kind: 'embedded' | 'postgres';
  get<T>(collection: string, id: string): Promise<T | undefined>;
  put<T>(collection: string, id: string, value: T): Promise<void>;
  delete(collection: string, id: string): Promise<boolean>;
  list<T>(collection: string): Promise<T[]>;
  /**
   * Read-modify-write as one step: no other writer — in this process or another instance — comes between
   * the read and the write. `fn` returning undefined deletes the entry. Returns what was stored.
   */
  update<T>(collection: string, id: string, fn: (current: T | undefined) => T | undefined): Promise<T | undefined>;
  /** Stores `value` only if `id` is not there yet; true when this call stored it. */
  create<T>(collection: string, id: string, value: T): Promise<boolean>;
  /** Runs `fn` holding the lock `name` across all instances, waiting (up to `waitMs`) for it. */
  exclusive<T>(name: string, fn: () => Promise<T>, waitMs?: number): Promise<T>;
  /**
   * Runs `fn` only if nobody holds the lock `name` now, holding it until `fn` ends. An instance that dies
   * while holding it releases it, so another can take the work over; `lost` fires when this instance loses
   * the lock that way (its connection to the shared store dropped).
   */
  tryExclusive<T>(name: string, fn: (lost: AbortSignal) => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
  /** Every entry of every collection but the private ones, collection by collection (backups, `db export`). */
  entries(): AsyncIterable<StoreEntry>;
  close(): Promise<void>;
}

export interface StoreEntry {
  collection: string;
  id: string;
  value: unknown;
}

/**
 * Kept out of `db export` and backups: access tokens (credentials; the platform issues new ones) and the
 * minutes-long coordination between running instances (callback de-duplication keys, robot streams that
 * may hold command output, which instances are alive, chat rate windows).
 */
export const PRIVATE_COLLECTIONS = new Set(['tokens', 'callback-dedupe', 'bot-streams', 'instances', 'chat-rate']);
