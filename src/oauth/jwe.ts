/**
 * Encrypting tokens to the parties that ask for it (issue 24): ID tokens and userinfo answers to clients
 * (OpenID Connect Core §10.2, Dynamic Client Registration §2), access tokens to resource servers. The JOSE work
 * is src/crypto/jwe.ts; this module finds the recipient's key.
 *
 * - A recipient's keys are inline (`jwks`) or published at its `jwks_uri`. A `jwks_uri` is fetched only through
 *   the outbound guard (src/outbound: no loopback, private or link-local destination unless allowed, checked
 *   after DNS and on every redirect), and only `http(s)` URLs without credentials or fragment are registered.
 * - Fetched sets are kept as the answer's `Cache-Control: max-age` says, between 1 minute and 1 hour (5 minutes
 *   when it says nothing), at most `maxSets` of them (the oldest goes first). OpenID Connect Core §10.2.1: the
 *   encrypting party picks the key, so a rotation is noticed when the cached set expires, or at once when the
 *   cached set has no key for the algorithm (refetched at most every 30 seconds).
 * - A refetch that fails keeps the last good set for up to a day (logged), so a client's key server hiccup
 *   does not stop sign-ins; with no set at all, nothing is sent unencrypted: the request fails.
 * - Registration fetches the set at once and refuses (`invalid_client_metadata`) a URL the guard refuses, an
 *   answer that is not a JWK Set, and a set without a key for the registered algorithm.
 */
import type { Logger } from "pino";
import {
  encryptionKeyOf,
  encryptJwt,
  type JweSettings,
  type JwkSet,
  publicKeysOf,
  requireEncryptionKey,
} from "../crypto/jwe.js";
import type { Clock } from "../lib/clock.js";
import { type OutboundFetch, OutboundRefusedError, type RefusalReason } from "../outbound/index.js";
import { OAuthError } from "./errors.js";

/** Who a token is encrypted to: how, and where its keys are (exactly one of `jwks` and `jwksUri`). */
export interface EncryptionRecipient {
  readonly settings: JweSettings;
  readonly jwks: JwkSet | null;
  readonly jwksUri: string | null;
}

export interface TokenEncryption {
  /**
   * Encrypts a signed JWT to the recipient (a nested JWT). Throws when the recipient has no usable key: a token
   * that was asked to be encrypted is never sent in the clear.
   */
  encrypt(jwt: string, recipient: EncryptionRecipient): Promise<string>;
  /**
   * Registration: fetches the set at `jwksUri` now (through the outbound guard) and requires a key for each
   * setting; refuses with `invalid_client_metadata`. `what` names each setting's metadata.
   */
  checkJwksUri(jwksUri: string, settings: readonly { what: string; settings: JweSettings }[]): Promise<void>;
}

/** A `jwks_uri` that can be registered: an absolute http(s) URL, no credentials or fragment, ≤ 512 chars. */
export function isJwksUri(value: unknown): value is string {
  if (typeof value !== "string" || value.length > 512 || !URL.canParse(value)) return false;
  const url = new URL(value);
  return (
    (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password && !url.hash
  );
}

const MAX_BODY = 64 * 1024;
const MIN_AGE_MS = 60_000;
const DEFAULT_AGE_MS = 300_000;
const MAX_AGE_MS = 3_600_000;
const STALE_MS = 86_400_000;
const REFETCH_MS = 30_000;

const REFUSED: Record<RefusalReason, string> = {
  scheme: "only http(s) URLs can be fetched",
  credentials: "the URL must not carry a user name or password",
  "https-required": "it must use https",
  address: "its host is not a public address Tessera may reach",
  "no-address": "its host has no address",
  redirect: "it redirects",
  "too-many-redirects": "it redirects too often",
};

/** A fetch that did not give a JWK Set; the message is safe to show the client that registered the URL. */
class KeySetUnavailable extends Error {}

interface CachedSet {
  set: JwkSet;
  fetchedAt: number;
  freshUntil: number;
  staleUntil: number;
}

function maxAgeOf(cacheControl: string | null): number {
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl ?? "");
  if (!match) return DEFAULT_AGE_MS;
  return Math.min(MAX_AGE_MS, Math.max(MIN_AGE_MS, Number(match[1]) * 1000));
}

async function readLimited(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY) {
      await reader.cancel().catch(() => undefined);
      throw new KeySetUnavailable(`the JWK Set is larger than ${MAX_BODY / 1024} KiB`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function createTokenEncryption(deps: {
  outbound: OutboundFetch;
  clock: Clock;
  log?: Logger;
  /** The most fetched JWK Sets kept (default 1000). */
  maxSets?: number;
}): TokenEncryption {
  const { outbound, clock, log } = deps;
  const maxSets = deps.maxSets ?? 1000;
  const cache = new Map<string, CachedSet>();
  const inflight = new Map<string, Promise<CachedSet>>();

  async function download(uri: string): Promise<CachedSet> {
    let response: Response;
    try {
      response = await outbound(uri, {
        headers: { accept: "application/jwk-set+json, application/json" },
      });
    } catch (error) {
      // Not the guard's own message: it would tell a registrant which internal address a name resolves to.
      if (error instanceof OutboundRefusedError) throw new KeySetUnavailable(REFUSED[error.reason]);
      throw new KeySetUnavailable("the request failed (no answer)");
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new KeySetUnavailable(`it answered HTTP ${response.status}`);
    }
    let set: JwkSet | undefined;
    try {
      set = publicKeysOf(JSON.parse(await readLimited(response)));
    } catch (error) {
      if (error instanceof KeySetUnavailable) throw error;
      set = undefined;
    }
    if (!set) throw new KeySetUnavailable("the answer is not a JWK Set");
    const now = clock.now();
    return {
      set,
      fetchedAt: now,
      freshUntil: now + maxAgeOf(response.headers.get("cache-control")),
      staleUntil: now + STALE_MS,
    };
  }

  /** Fetches once per URI at a time, and keeps the answer (the oldest set goes when the cache is full). */
  function refresh(uri: string): Promise<CachedSet> {
    let pending = inflight.get(uri);
    if (pending === undefined) {
      pending = download(uri)
        .then((entry) => {
          cache.delete(uri);
          if (cache.size >= maxSets) {
            const oldest = cache.keys().next().value;
            if (oldest !== undefined) cache.delete(oldest);
          }
          cache.set(uri, entry);
          return entry;
        })
        .finally(() => inflight.delete(uri));
      inflight.set(uri, pending);
    }
    return pending;
  }

  /** The set at `uri`: cached while fresh, refetched after, the last good one while a refetch fails. */
  async function keySet(uri: string): Promise<CachedSet> {
    const now = clock.now();
    const cached = cache.get(uri);
    if (cached && cached.freshUntil > now) return cached;
    try {
      return await refresh(uri);
    } catch (error) {
      if (!(error instanceof KeySetUnavailable) || !cached || cached.staleUntil <= now) throw error;
      log?.warn(
        { host: new URL(uri).host, reason: error.message },
        "a recipient's jwks_uri could not be refetched; its last keys are used",
      );
      // Not asked again for a minute.
      cached.freshUntil = now + MIN_AGE_MS;
      return cached;
    }
  }

  return {
    async encrypt(jwt, recipient) {
      const { alg } = recipient.settings;
      let key = recipient.jwks ? encryptionKeyOf(recipient.jwks.keys, alg) : undefined;
      if (recipient.jwks === null && recipient.jwksUri !== null) {
        let entry: CachedSet;
        try {
          entry = await keySet(recipient.jwksUri);
        } catch (error) {
          if (error instanceof KeySetUnavailable) {
            throw new Error(`The recipient's jwks_uri gave no keys: ${error.message}.`);
          }
          throw error;
        }
        key = encryptionKeyOf(entry.set.keys, alg);
        // A set without a key for the algorithm may have been rotated since: ask again (not too often).
        if (key === undefined && clock.now() - entry.fetchedAt >= REFETCH_MS) {
          key = encryptionKeyOf((await refresh(recipient.jwksUri)).set.keys, alg);
        }
      }
      if (key === undefined) throw new Error(`The recipient has no public key for ${alg}.`);
      return encryptJwt(jwt, recipient.settings, key);
    },

    async checkJwksUri(jwksUri, settings) {
      const fail = (message: string): never => {
        throw new OAuthError("invalid_client_metadata", message);
      };
      if (!isJwksUri(jwksUri)) fail("jwks_uri must be an absolute https URL without a fragment.");
      let entry: CachedSet;
      try {
        entry = await refresh(jwksUri);
      } catch (error) {
        if (error instanceof KeySetUnavailable) fail(`jwks_uri cannot be used: ${error.message}.`);
        throw error;
      }
      for (const { what, settings: s } of settings) requireEncryptionKey(entry.set, s, what, fail);
    },
  };
}
