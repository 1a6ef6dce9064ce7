/**
 * Client-side limits that keep wxops under the platform's own (wecom.md §9): a cap on calls in flight
 * per API (so bulk commands never trigger 45033) and an optional per-API budget of calls per minute
 * (so they never trigger 45009).
 */

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/**
 * A counting semaphore per key (the API path): at most `limit` holders per key. Waiters are served in
 * order; a waiter whose signal aborts leaves the queue.
 */
export class KeyedLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();

  /** `limitFor` may lower the limit for some keys (APIs the platform allows fewer concurrent calls of). */
  constructor(
    readonly limit: number,
    private readonly limitFor?: (key: string) => number | undefined,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  }

  /** The cap for one key. */
  limitOf(key: string): number {
    const special = this.limitFor?.(key);
    return special !== undefined && special >= 1 ? Math.min(special, this.limit) : this.limit;
  }

  async run<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(key, signal);
    try {
      return await fn();
    } finally {
      this.release(key);
    }
  }

  /** Holders right now for `key` (for tests and diagnostics). */
  inFlight(key: string): number {
    return this.active.get(key) ?? 0;
  }

  private acquire(key: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const n = this.active.get(key) ?? 0;
    if (n < this.limitOf(key)) {
      this.active.set(key, n + 1);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(key) ?? [];
      const onAbort = () => {
        const i = queue.indexOf(grant);
        if (i >= 0) queue.splice(i, 1);
        if (queue.length === 0) this.waiting.delete(key);
        reject(abortReason(signal!));
      };
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      queue.push(grant);
      this.waiting.set(key, queue);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(key: string): void {
    const queue = this.waiting.get(key);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.waiting.delete(key);
    if (next) {
      next(); // the slot passes straight to the next waiter
      return;
    }
    const n = (this.active.get(key) ?? 1) - 1;
    if (n <= 0) this.active.delete(key);
    else this.active.set(key, n);
  }
}

/**
 * A sliding-window budget per key: at most `limitFor(key)` takes in any `windowMs` (default a minute).
 * Keys without a limit are not limited. `take` waits (abortably) until the budget allows.
 */
export class WindowBudget {
  private readonly taken = new Map<string, number[]>();

  constructor(
    private readonly limitFor: (key: string) => number | undefined,
    readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async take(key: string, signal?: AbortSignal): Promise<void> {
    const limit = this.limitFor(key);
    if (limit === undefined || !(limit > 0)) return;
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      const now = this.now();
      const times = this.taken.get(key) ?? [];
      while (times.length > 0 && times[0]! <= now - this.windowMs) times.shift();
      if (times.length < limit) {
        times.push(now);
        this.taken.set(key, times);
        return;
      }
      await sleep(times[0]! + this.windowMs - now + 1, signal);
    }
  }
}

/** Resolves after `ms`, or rejects early with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
