/**
 * Write-behind for "last used" times: verification paths (a session check, an admin token) must not wait on a
 * database write. They record the latest time per key in memory; a timer writes the batch every `intervalMs`
 * in one transaction. Nothing acknowledged depends on these writes (they only feed idle timeouts, measured in
 * minutes, and "last used" columns), so losing at most one interval's worth in a crash is acceptable.
 */
export interface WriteBehind {
  /** Records `value` (a time) for `key`; the latest value wins. */
  set(key: string, value: number): void;
  /** The value waiting to be written for `key`, if any (readers combine it with what they read). */
  get(key: string): number | undefined;
  /** Writes what is pending now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

export function createWriteBehind(options: {
  intervalMs: number;
  write(entries: ReadonlyMap<string, number>): Promise<void>;
  onError(error: unknown): void;
}): WriteBehind {
  let pending = new Map<string, number>();
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
      if (previous === undefined || value > previous) pending.set(key, value);
    },
    get: (key) => pending.get(key),
    flush,
    async close() {
      closed = true;
      clearInterval(timer);
      await flush();
    },
  };
}
