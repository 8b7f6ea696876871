/**
 * Shared set-up of the Shared Signals tests: a real app (real database, keys, outbound guard) whose issuer is
 * https://id.example.test, receivers (confidential clients with the SSF resource and scopes) and their tokens,
 * local HTTP receivers that record pushed SETs, and a `jose` verifier over the server's own JWKS.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import { createLocalJWKSet, type JWTPayload, jwtVerify } from "jose";
import { expect } from "vitest";
import type { DomainEvent } from "../../src/events/types.js";
import type { DialectName } from "../../src/storage/index.js";
import { ssfStreamsRepository } from "../../src/storage/repositories/ssf-streams.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { basicAuth } from "../helpers/oauth.js";

export const ISSUER = "https://id.example.test";
export const SSF_AUDIENCE = `${ISSUER}/ssf`;
export const SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
export const CREDENTIAL_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/credential-change";
export const ACCOUNT_DISABLED = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
export const ACCOUNT_PURGED = "https://schemas.openid.net/secevent/risc/event-type/account-purged";
export const VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification";
export const ALL_EVENTS = [SESSION_REVOKED, CREDENTIAL_CHANGE, ACCOUNT_DISABLED, ACCOUNT_PURGED];
export const PUSH = "urn:ietf:rfc:8935";
export const POLL = "urn:ietf:rfc:8936";

export interface ReceiverClient {
  id: string;
  secret: string;
}

export async function createSsfApp(dialect: DialectName, env: Record<string, string> = {}): Promise<TestApp> {
  return createTestApp({
    dialect,
    env: { TESSERA_ISSUER: ISSUER, TESSERA_OUTBOUND_ALLOW_PRIVATE: "127.0.0.1/32", ...env },
  });
}

/** A confidential client that may ask client-credentials tokens for the transmitter with `scope`. */
export async function createReceiverClient(
  t: TestApp,
  options: { scope?: string; resources?: string[]; name?: string } = {},
): Promise<ReceiverClient> {
  const { client, secret } = await t.ctx.oauth.clients.create({
    name: options.name ?? "SSF receiver",
    authMethod: "client_secret_basic",
    grantTypes: ["client_credentials"],
    scope: options.scope ?? "ssf.manage ssf.read",
    resources: options.resources ?? [SSF_AUDIENCE],
  });
  return { id: client.id, secret: secret as string };
}

/** A client-credentials access token from POST /token. */
export async function receiverToken(
  t: TestApp,
  client: ReceiverClient,
  options: { scope?: string; resource?: string } = {},
): Promise<string> {
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    resource: options.resource ?? SSF_AUDIENCE,
  });
  if (options.scope !== undefined) form.set("scope", options.scope);
  const response = await t.app.inject({
    method: "POST",
    url: "/token",
    headers: { authorization: basicAuth(client), "content-type": "application/x-www-form-urlencoded" },
    payload: form.toString(),
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().access_token as string;
}

/** Calls the transmitter's API as a receiver. */
export async function call(
  t: TestApp,
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE",
  url: string,
  token: string | undefined,
  body?: unknown,
) {
  return t.app.inject({
    method,
    url,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

/** The server's JWKS, as `jose` verifies with it. */
export async function serverJwks(t: TestApp) {
  const response = await t.app.inject({ method: "GET", url: "/.well-known/jwks.json" });
  expect(response.statusCode).toBe(200);
  return createLocalJWKSet(response.json());
}

/** Verifies a SET with `jose` and the server's JWKS: typ, issuer, audience, signature. */
export async function verifySet(t: TestApp, set: string, audience: string): Promise<JWTPayload> {
  const { payload, protectedHeader } = await jwtVerify(set, await serverJwks(t), {
    issuer: ISSUER,
    audience,
    typ: "secevent+jwt",
  });
  expect(Object.keys(protectedHeader).sort()).toEqual(["alg", "kid", "typ"]);
  return payload;
}

export interface RecordedPush {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A local RFC 8935 receiver: records every POST and answers what `respond` says (default 202). `waitFor(n)`
 * resolves once `n` pushes arrived.
 */
export async function startSetReceiver(
  respond: (push: RecordedPush, index: number) => { status: number; body?: string } = () => ({ status: 202 }),
) {
  const received: RecordedPush[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const push = { headers: req.headers, body };
      received.push(push);
      const answer = respond(push, received.length - 1);
      res.writeHead(answer.status, answer.body === undefined ? {} : { "content-type": "application/json" });
      res.end(answer.body);
      for (const waiter of waiters.splice(0)) {
        if (received.length >= waiter.n) waiter.resolve();
        else waiters.push(waiter);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/events`,
    received,
    waitFor(n: number): Promise<void> {
      if (received.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The body of the `index`th push a receiver recorded (a failure when there is none). */
export function bodyOf(receiver: { received: RecordedPush[] }, index: number): string {
  const push = receiver.received[index];
  if (push === undefined) throw new Error(`no push #${index} was received`);
  return push.body;
}

let counter = 0;

/** A domain event as the outbox would hand it to the sink (ids sort by time, like the outbox's). */
export function domainEvent(
  type: DomainEvent["type"],
  userId: string | null,
  data: DomainEvent["data"],
  at: number,
): DomainEvent {
  counter += 1;
  return {
    id: `evt_${at.toString(36).padStart(10, "0")}${counter.toString(16).padStart(16, "0")}`,
    type,
    at,
    userId,
    data,
  };
}

/** The SETs queued for a stream, straight from the repository. */
export function queued(t: TestApp, streamId: string) {
  return ssfStreamsRepository(t.ctx.storage.db).queue(streamId);
}
