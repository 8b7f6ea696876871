/**
 * Write-behind for "last used" times: verification paths (a session check, an admin token) must not wait on a
 * database write. They record the latest time per key in memory; a timer writes the batch every `intervalMs`
 * in one transaction. Nothing acknowledged depends on these writes (they only feed idle timeouts, measured in
 * minutes, and "last used" columns), so losing at most one interval's worth in a crash is acceptable.
 */
export interface WriteBehind<V = number> {
  /** Records `value` (a time, or something carrying one) for `key`; the latest value wins. */
  set(key: string, value: V): void;
  /** The value waiting to be written for `key`, if any (readers combine it with what they read). */
  get(key: string): V | undefined;
  /** Forgets what is pending for `key` (its row is gone or no longer to be touched). */
  delete(key: string): void;
  /** Writes what is pending now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

export function createWriteBehind<V = number>(options: {
  intervalMs: number;
  write(entries: ReadonlyMap<string, V>): Promise<void>;
  onError(error: unknown): void;
  /** True when `next` should replace `previous` (default: numeric comparison, the later time wins). */
  newer?: (previous: V, next: V) => boolean;
}): WriteBehind<V> {
  const newer = options.newer ?? ((previous: V, next: V) => (next as number) > (previous as number));
  let pending = new Map<string, V>();
  let running: Promise<void> = Promise.resolve();
  let closed = false;

  const flush = (): Promise<void> => {
    running = running.then(async () => {
      if (pending.size === 0) return;
      const batch = pending;
      pending = new Map();
      try {
        await options.write(batch);
      } catch (error) {
        options.onError(error);
      }
    });
    return running;
  };

  const timer = setInterval(() => void flush(), options.intervalMs);
  timer.unref();

  return {
    set(key, value) {
      if (closed) return;
      const previous = pending.get(key);
      if (previous === undefined || newer(previous, value)) pending.set(key, value);
    },
    get: (key) => pending.get(key),
    delete(key) {
      pending.delete(key);
    },
    flush,
    async close() {
      closed = true;
      clearInterval(timer);
      await flush();
    },
  };
}
