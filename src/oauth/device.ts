/**
 * The device authorization grant (RFC 8628) for devices without a browser or keyboard (CLIs, TVs).
 *
 * - `start`: the client (public or confidential) asks for a device code and a user code. The device code is
 *   256-bit and stored as SHA-256; the user code is 8 letters from an alphabet without vowels or look-alikes
 *   (RFC 8628 §6.1: 20^8 ≈ 2.6·10^10 values), shown as `XXXX-XXXX`, normalised when typed.
 * - The user signs in at `/device`, types the code, sees what the device asks for, allows or denies.
 * - `exchange`: the device polls the token endpoint. Pending → `authorization_pending`; polling faster than
 *   the interval → `slow_down` (and the interval grows by 5 s, §3.5); denied → `access_denied`; expired →
 *   `expired_token`; approved → consumed by one conditional UPDATE (used once) and tokens are issued.
 * - Guessing user codes is throttled per client IP (the sign-in throttle's back-off): `review` and `answer`, the
 *   two steps of the user's pages, both refuse while the address is backing off and count each unknown code.
 */
import { randomInt } from "node:crypto";
import { IP_POLICY, type Throttle, type ThrottleKey } from "../accounts/throttle.js";
import { hashToken } from "../crypto/hash.js";
import { generateOpaqueToken, isWellFormedOpaqueToken } from "../crypto/opaque-token.js";
import type { Clock } from "../lib/clock.js";
import type { DeviceCodeRow, DeviceCodesRepository } from "../storage/repositories/device-codes.js";
import { checkScopes, type SignedInUser } from "./authorize.js";
import { type Client, type Clients, isResourceIndicator } from "./clients.js";
import { OAuthError } from "./errors.js";
import { acrFor } from "./issuer.js";
import { formatScope, parseScope } from "./scopes.js";

export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
export const DEVICE_CODE_PREFIX = "tsr_dc_";
const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LENGTH = 8;

export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

export type DeviceRequest = DeviceCodeRow;

/** Why a user's page refuses a typed code: the address is backing off, or the code is not (or no longer) pending. */
export type DeviceRefusal = { refused: "throttled"; retryAfterMs: number } | { refused: "unknown" };

export interface DeviceFlow {
  start(client: Client, params: Record<string, unknown>): Promise<DeviceAuthorization>;
  /** The pending request a typed user code names, or undefined (unknown, expired, already answered). */
  findPending(userCode: unknown): Promise<DeviceRequest | undefined>;
  /** Approves (binding the user's sign-in) or denies a pending request; false if it was no longer pending. */
  decide(userCode: string, user: SignedInUser, approve: boolean): Promise<boolean>;
  /**
   * The pending request a user typed the code of, from the client address `ip`, with what to show for it (the
   * code formatted, the client, the scopes); refused while `ip` is backing off, and an unknown code counts
   * against it.
   */
  review(
    userCode: unknown,
    ip: string | null,
  ): Promise<{ request: DeviceRequest; client: Client; userCode: string; scopes: string[] } | DeviceRefusal>;
  /** The user's answer to a reviewed request, under the same throttle as `review`. */
  answer(
    userCode: string,
    user: SignedInUser,
    approve: boolean,
    ip: string | null,
  ): Promise<{ answered: true } | DeviceRefusal>;
  /** The token endpoint's check of a device code: the approved request (now consumed), or an OAuth error. */
  exchange(client: Client, deviceCode: unknown): Promise<DeviceRequest>;
  purgeExpired(): Promise<number>;
}

/** Upper case, only the alphabet's letters (dashes, spaces and other characters dropped). */
export function normalizeUserCode(value: string): string {
  return value
    .toUpperCase()
    .split("")
    .filter((c) => USER_CODE_ALPHABET.includes(c))
    .join("");
}

export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

function newUserCode(): string {
  let code = "";
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

export function createDeviceFlow(deps: {
  codes: DeviceCodesRepository;
  clock: Clock;
  clients: Clients;
  /** Counts wrong user codes per client address. */
  throttle: Throttle;
  issuer: string;
  /** Seconds. */
  codeTtl: number;
  pollInterval: number;
}): DeviceFlow {
  const { codes, clock, clients, throttle } = deps;
  const base = deps.issuer.replace(/\/+$/, "");
  const throttleKeys = (ip: string | null): ThrottleKey[] =>
    ip ? [{ scope: "device_code", id: ip, policy: IP_POLICY }] : [];

  const flow: DeviceFlow = {
    async start(client, params) {
      if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) {
        throw new OAuthError(
          "unauthorized_client",
          "This client may not use the device authorization grant.",
        );
      }
      const scopeParam = params.scope;
      if (scopeParam !== undefined && typeof scopeParam !== "string") {
        throw new OAuthError("invalid_request", "scope must be given once.");
      }
      const scopes = parseScope(scopeParam);
      const raw = params.resource;
      const resources: string[] = [];
      for (const value of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
        if (typeof value !== "string" || !isResourceIndicator(value) || !client.resources.includes(value)) {
          throw new OAuthError("invalid_target", "The resource is not one this client may ask tokens for.");
        }
        if (!resources.includes(value)) resources.push(value);
      }
      if (resources.length === 0 && client.resources.length > 0)
        resources.push(client.resources[0] as string);
      await checkScopes(scopes, resources, client, clients, (error, description) => {
        throw new OAuthError(error as OAuthError["code"], description);
      });
      const deviceCode = generateOpaqueToken({ prefix: DEVICE_CODE_PREFIX, checksum: true });
      const now = clock.now();
      for (let attempt = 0; ; attempt++) {
        const userCode = newUserCode();
        try {
          await codes.insert({
            device_code_hash: hashToken(deviceCode),
            user_code: userCode,
            client_id: client.id,
            scope: formatScope(scopes),
            resources: JSON.stringify(resources),
            status: "pending",
            user_id: null,
            session_id: null,
            auth_time: null,
            acr: null,
            amr: null,
            interval_s: deps.pollInterval,
            last_polled_at: null,
            created_at: now,
            expires_at: now + deps.codeTtl * 1000,
          });
          const shown = formatUserCode(userCode);
          return {
            device_code: deviceCode,
            user_code: shown,
            verification_uri: `${base}/device`,
            verification_uri_complete: `${base}/device?user_code=${shown}`,
            expires_in: deps.codeTtl,
            interval: deps.pollInterval,
          };
        } catch (error) {
          // A user-code collision with a live request: draw another (vanishingly rare).
          if (attempt >= 3) throw error;
        }
      }
    },

    async findPending(userCode) {
      if (typeof userCode !== "string" || userCode.length > 32) return undefined;
      const code = normalizeUserCode(userCode);
      if (code.length !== USER_CODE_LENGTH) return undefined;
      const row = await codes.findByUserCode(code);
      if (row?.status !== "pending" || row.expires_at <= clock.now()) return undefined;
      return row;
    },

    async decide(userCode, user, approve) {
      const approval = {
        user_id: user.userId,
        session_id: user.sessionId,
        auth_time: user.authTime,
        acr: acrFor(user.amr),
        amr: user.amr.join(" "),
      };
      return codes.answer(
        normalizeUserCode(userCode),
        approve ? { approved: approval } : "denied",
        clock.now(),
      );
    },

    async review(userCode, ip) {
      const keys = throttleKeys(ip);
      const decision = await throttle.check(keys);
      if (!decision.allowed) return { refused: "throttled", retryAfterMs: decision.retryAfterMs };
      const request = await flow.findPending(userCode);
      const client = request ? await clients.get(request.client_id) : undefined;
      if (!request || !client) {
        await throttle.recordFailure(keys);
        return { refused: "unknown" };
      }
      return {
        request,
        client,
        userCode: formatUserCode(normalizeUserCode(userCode as string)),
        scopes: parseScope(request.scope),
      };
    },

    async answer(userCode, user, approve, ip) {
      // The same throttle as the code form: the confirmation must not be a way around it.
      const keys = throttleKeys(ip);
      const decision = await throttle.check(keys);
      if (!decision.allowed) return { refused: "throttled", retryAfterMs: decision.retryAfterMs };
      if (!(await flow.findPending(userCode))) {
        await throttle.recordFailure(keys);
        return { refused: "unknown" };
      }
      return (await flow.decide(userCode, user, approve)) ? { answered: true } : { refused: "unknown" };
    },

    async exchange(client, deviceCode) {
      if (!isWellFormedOpaqueToken(deviceCode, { prefix: DEVICE_CODE_PREFIX, checksum: true })) {
        throw new OAuthError("invalid_grant", "The device code is invalid.");
      }
      const hash = hashToken(deviceCode);
      const row = await codes.findByDeviceCode(hash);
      if (!row || row.client_id !== client.id)
        throw new OAuthError("invalid_grant", "The device code is invalid.");
      const now = clock.now();
      if (row.expires_at <= now)
        throw new OAuthError("expired_token", "The device code has expired; start again.");
      if (row.status === "denied") throw new OAuthError("access_denied", "The user denied the request.");
      if (row.status === "consumed")
        throw new OAuthError("invalid_grant", "The device code was already used.");
      if (row.status === "pending") {
        const tooSoon = row.last_polled_at !== null && now - row.last_polled_at < row.interval_s * 1000;
        await codes.recordPoll(hash, now, tooSoon ? row.interval_s + 5 : undefined);
        if (tooSoon) throw new OAuthError("slow_down", `Poll at most every ${row.interval_s + 5} seconds.`);
        throw new OAuthError("authorization_pending", "The user has not answered yet.");
      }
      if (!(await codes.consume(hash))) {
        throw new OAuthError("invalid_grant", "The device code was already used.");
      }
      return row;
    },

    purgeExpired: () => codes.deleteExpired(clock.now() - 3600_000),
  };
  return flow;
}
