/**
 * Work done after the answer is sent (e-mails, and whatever would make an answer's timing depend on whether an
 * address is taken). Failures are logged, never thrown at anyone; `idle()` resolves once everything started so
 * far has finished (tests, and shutdown).
 */
import type { Logger } from "../observability/log.js";

export interface Background {
  run(label: string, task: () => Promise<void>): void;
  idle(): Promise<void>;
}

export function createBackground(log: Logger): Background {
  const running = new Set<Promise<void>>();
  return {
    run(label, task) {
      const done: Promise<void> = Promise.resolve()
        .then(task)
        .catch((error: unknown) =>
          log.error(
            { err: { message: error instanceof Error ? error.message : String(error) } },
            `${label} failed`,
          ),
        )
        .finally(() => running.delete(done));
      running.add(done);
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
