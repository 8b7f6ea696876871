/**
 * Revocation fan-out between instances through Redis pub/sub: when one instance ends a session (or all of a
 * user's), every instance drops what it cached about it.
 *
 * - Messages carry only ids (`{"session": id}` or `{"user": id}`), never a token or token hash.
 * - Publishing never fails the revocation itself (the database row is already gone); a lost message is bounded
 *   by the cache TTL.
 */
import type { Redis } from "ioredis";

export type RevocationEvent = { session: string } | { user: string };

export interface RevocationBus {
  publish(event: RevocationEvent): void;
  /** Resolves once the subscription is live (or has failed: revocations then rely on the cache TTL). */
  subscribe(handler: (event: RevocationEvent) => void): Promise<void>;
  close(): Promise<void>;
}

export const REVOCATION_CHANNEL = "tessera:revocations";

export function createRedisRevocationBus(redis: Redis, channel = REVOCATION_CHANNEL): RevocationBus {
  const subscriber = redis.duplicate({ lazyConnect: true });
  subscriber.on("error", () => undefined);
  const handlers: ((event: RevocationEvent) => void)[] = [];
  let subscribed: Promise<unknown> | undefined;
  subscriber.on("message", (from: string, text: string) => {
    if (from !== channel) return;
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof event !== "object" || event === null) return;
    const { session, user } = event as { session?: unknown; user?: unknown };
    const parsed =
      typeof session === "string" ? { session } : typeof user === "string" ? { user } : undefined;
    if (parsed) for (const handler of handlers) handler(parsed);
  });
  return {
    publish(event) {
      redis.publish(channel, JSON.stringify(event)).catch(() => undefined);
    },
    async subscribe(handler) {
      handlers.push(handler);
      subscribed ??= subscriber
        .connect()
        .then(() => subscriber.subscribe(channel))
        .catch(() => undefined);
      await subscribed;
    },
    async close() {
      subscriber.disconnect();
    },
  };
}
