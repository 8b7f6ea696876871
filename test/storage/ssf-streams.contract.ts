/**
 * The storage contract of the Shared Signals repository (src/storage/repositories/ssf-streams.ts), run by
 * repositories.contract.test.ts on SQLite and PostgreSQL: rows read back, queue order, idempotent enqueuing,
 * leases that one caller wins under races, expiry boundaries, and cascades from the client and the stream.
 */
import { sql } from "kysely";
import { expect, it } from "vitest";
import type { DialectName, Storage } from "../../src/storage/index.js";
import {
  type NewSsfSet,
  type SsfStreamRow,
  ssfStreamsRepository,
} from "../../src/storage/repositories/ssf-streams.js";

interface Contract {
  dialect: DialectName;
  storage(): Storage;
}

export function ssfStreamsContract(t: Contract): void {
  const repo = () => ssfStreamsRepository(t.storage().db);
  let n = 0;

  /** A client row (streams reference their client); only the columns every version of the table requires. */
  async function client(id: string): Promise<void> {
    await sql`insert into oauth_clients (id, name, auth_method, redirect_uris, post_logout_redirect_uris,
      grant_types, resources, scope, first_party, access_token_ttl, access_token_format, id_token_alg,
      require_par, created_at, updated_at)
      values (${id}, ${id}, 'client_secret_basic', '[]', '[]', '["client_credentials"]', '[]', 'ssf.manage', 0,
      300, 'jwt', 'EdDSA', 0, 1, 1)`.execute(t.storage().db);
  }

  async function stream(overrides: Partial<SsfStreamRow> = {}): Promise<SsfStreamRow> {
    n += 1;
    const clientId = overrides.client_id ?? `ssf-client-${n}`;
    if (overrides.client_id === undefined) await client(clientId);
    const row: SsfStreamRow = {
      id: `ssf-stream-${n}`,
      client_id: clientId,
      description: null,
      events_requested: '["a"]',
      delivery_method: "push",
      endpoint_url: "https://receiver.example.test/events",
      authorization_sealed: null,
      status: "enabled",
      status_reason: null,
      verified_at: null,
      created_at: 1000 + n,
      updated_at: 1000 + n,
      ...overrides,
    };
    await repo().insertStream(row);
    return row;
  }

  const set = (streamId: string, jti: string, keepUntil = 10_000_000): NewSsfSet => ({
    stream_id: streamId,
    jti,
    event_type: "urn:example:event",
    claims: `{"jti":"${jti}"}`,
    created_at: 1,
    keep_until: keepUntil,
  });

  it("reads streams back, lists a client's in creation order, counts them, and lists the live ones", async () => {
    const a = await stream({ description: "first", verified_at: 5 });
    const b = await stream({ client_id: a.client_id, delivery_method: "poll", endpoint_url: null });
    const off = await stream({ status: "disabled" });
    expect(await repo().findStream(a.id)).toEqual(a);
    expect(await repo().listStreams(a.client_id)).toEqual([a, b]);
    expect(await repo().countStreams(a.client_id)).toBe(2);
    const live = (await repo().listLiveStreams()).map((s) => s.id);
    expect(live).toContain(a.id);
    expect(live).toContain(b.id);
    expect(live).not.toContain(off.id);
    expect(await repo().findStream("missing")).toBeUndefined();
  });

  it("updates a stream, and says when there is none", async () => {
    const a = await stream();
    expect(await repo().updateStream(a.id, { status: "paused", status_reason: "why", updated_at: 9 })).toBe(
      true,
    );
    expect(await repo().findStream(a.id)).toEqual({
      ...a,
      status: "paused",
      status_reason: "why",
      updated_at: 9,
    });
    expect(await repo().updateStream("missing", { status: "paused" })).toBe(false);
  });

  it("records a verification request once per interval: of two racing, one wins", async () => {
    const a = await stream();
    const results = await Promise.all([
      repo().markVerification(a.id, 100, 90),
      repo().markVerification(a.id, 100, 90),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await repo().markVerification(a.id, 105, 95)).toBe(false);
    // The previous request (100) is at or before notBefore: allowed again.
    expect(await repo().markVerification(a.id, 110, 100)).toBe(true);
    expect((await repo().findStream(a.id))?.verified_at).toBe(110);
  });

  it("removes and restores subjects idempotently, and answers which pairs are removed", async () => {
    const a = await stream();
    const b = await stream();
    await repo().removeSubject(a.id, "u1", 1);
    await repo().removeSubject(a.id, "u1", 2);
    await repo().removeSubject(b.id, "u2", 1);
    const removed = await repo().removedSubjects([a.id, b.id], ["u1", "u2", "u3"]);
    expect(removed.sort((x, y) => x.subject.localeCompare(y.subject))).toEqual([
      { stream_id: a.id, subject: "u1" },
      { stream_id: b.id, subject: "u2" },
    ]);
    await repo().restoreSubject(a.id, "u1");
    await repo().restoreSubject(a.id, "u1");
    expect(await repo().removedSubjects([a.id], ["u1"])).toEqual([]);
    expect(await repo().removedSubjects([], ["u1"])).toEqual([]);
  });

  it("queues SETs once per (stream, jti), in insertion order, numbers as numbers", async () => {
    const a = await stream();
    const b = await stream();
    expect(await repo().enqueue([set(a.id, "j2"), set(a.id, "j1"), set(b.id, "j1")])).toBe(3);
    expect(await repo().enqueue([set(a.id, "j1"), set(a.id, "j3")])).toBe(1);
    expect(await repo().enqueue([])).toBe(0);
    const queue = await repo().queue(a.id);
    expect(queue.map((s) => s.jti)).toEqual(["j2", "j1", "j3"]);
    expect(queue[0]).toMatchObject({ attempts: 0, next_attempt_at: 0, lease_until: 0, last_error: null });
    expect(typeof queue[0]?.seq).toBe("number");
    expect(queue[0]!.seq).toBeLessThan(queue[1]!.seq);
    expect((await repo().head(a.id))?.jti).toBe("j2");
    expect(await repo().head("missing")).toBeUndefined();
  });

  it("leases a SET to one caller when raced, counts the attempt, and frees it on release", async () => {
    const a = await stream();
    await repo().enqueue([set(a.id, "lease-1")]);
    const won = await Promise.all([
      repo().lease(a.id, "lease-1", 100, 200),
      repo().lease(a.id, "lease-1", 100, 200),
      repo().lease(a.id, "lease-1", 100, 200),
    ]);
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await repo().lease(a.id, "lease-1", 199, 300)).toBe(false);
    expect((await repo().head(a.id))?.attempts).toBe(1);
    await repo().release(a.id, "lease-1", 500, "HTTP 503");
    expect(await repo().head(a.id)).toMatchObject({
      lease_until: 0,
      next_attempt_at: 500,
      last_error: "HTTP 503",
    });
    // A lease that ends by itself frees the SET too.
    expect(await repo().lease(a.id, "lease-1", 600, 700)).toBe(true);
    expect(await repo().lease(a.id, "lease-1", 700, 800)).toBe(true);
    expect((await repo().head(a.id))?.attempts).toBe(3);
  });

  it("names the streams with a due, free SET", async () => {
    const a = await stream();
    const b = await stream();
    const c = await stream();
    await repo().enqueue([set(a.id, "d1"), set(b.id, "d1"), set(c.id, "d1")]);
    await repo().release(b.id, "d1", 1000, null);
    await repo().lease(c.id, "d1", 0, 1000);
    expect(await repo().dueStreams([a.id, b.id, c.id], 999, 10)).toEqual([a.id]);
    expect((await repo().dueStreams([a.id, b.id, c.id], 1000, 10)).sort()).toEqual([a.id, b.id, c.id].sort());
    expect(await repo().dueStreams([a.id, b.id, c.id], 1000, 1)).toHaveLength(1);
    expect(await repo().dueStreams([], 1000, 10)).toEqual([]);
  });

  it("hands disjoint sets of free SETs to racing polls, oldest first, and skips held ones", async () => {
    const a = await stream();
    await repo().enqueue(Array.from({ length: 10 }, (_, i) => set(a.id, `p${i}`)));
    await repo().lease(a.id, "p0", 0, 1000);
    const [x, y] = await Promise.all([
      repo().leaseAvailable(a.id, 100, 500, 4),
      repo().leaseAvailable(a.id, 100, 500, 4),
    ]);
    const taken = [...(x ?? []), ...(y ?? [])].map((s) => s.jti);
    expect(new Set(taken).size).toBe(taken.length);
    expect(taken.length).toBeGreaterThanOrEqual(4);
    expect(taken).not.toContain("p0");
    for (const batch of [x ?? [], y ?? []]) {
      expect(batch.map((s) => s.seq)).toEqual([...batch.map((s) => s.seq)].sort((p, q) => p - q));
      for (const s of batch) expect(s.lease_until).toBe(500);
    }
    expect(await repo().hasAvailable(a.id, 100)).toBe(taken.length < 9);
    // Once the leases end, everything is free again.
    expect((await repo().leaseAvailable(a.id, 1000, 2000, 100)).map((s) => s.jti)).toEqual(
      Array.from({ length: 10 }, (_, i) => `p${i}`),
    );
    expect(await repo().hasAvailable(a.id, 1000)).toBe(false);
    expect(await repo().leaseAvailable(a.id, 1000, 2000, 0)).toEqual([]);
  });

  it("removes SETs by jti within their stream only, clears a queue, and deletes expired SETs at the boundary", async () => {
    const a = await stream();
    const b = await stream();
    await repo().enqueue([set(a.id, "r1"), set(a.id, "r2"), set(b.id, "r1")]);
    expect(await repo().remove(a.id, ["r1", "unknown"])).toBe(1);
    expect((await repo().queue(b.id)).map((s) => s.jti)).toEqual(["r1"]);
    expect(await repo().clearQueue(a.id)).toBe(1);
    expect(await repo().queue(a.id)).toEqual([]);
    await repo().enqueue([set(a.id, "e1", 50), set(a.id, "e2", 51)]);
    expect(await repo().deleteExpired(49)).toBe(0);
    expect(await repo().deleteExpired(50)).toBeGreaterThanOrEqual(1);
    expect((await repo().queue(a.id)).map((s) => s.jti)).toEqual(["e2"]);
  });

  it("deletes a stream with its subjects and SETs; deleting the client deletes its streams", async () => {
    const a = await stream();
    await repo().enqueue([set(a.id, "x")]);
    await repo().removeSubject(a.id, "u", 1);
    expect(await repo().deleteStream(a.id)).toBe(true);
    expect(await repo().deleteStream(a.id)).toBe(false);
    expect(await repo().queue(a.id)).toEqual([]);
    expect(await repo().removedSubjects([a.id], ["u"])).toEqual([]);
    const b = await stream();
    await repo().enqueue([set(b.id, "y")]);
    await sql`delete from oauth_clients where id = ${b.client_id}`.execute(t.storage().db);
    expect(await repo().findStream(b.id)).toBeUndefined();
    expect(await repo().queue(b.id)).toEqual([]);
  });
}
