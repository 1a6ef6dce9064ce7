/**
 * Named locks inside one process: the embedded store's `exclusive`/`tryExclusive` (one instance, so the
 * process is the whole world) and the serialising of its own read-modify-writes.
 */
export class LocalLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier holder of `name` has finished. */
  run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(name) ?? Promise.resolve();
    const result = before.then(fn, fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(name, tail);
    void tail.then(() => {
      if (this.tails.get(name) === tail) this.tails.delete(name);
    });
    return result;
  }

  held(name: string): boolean {
    return this.tails.has(name);
  }
}
