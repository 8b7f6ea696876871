/**
 * Cookies of the sign-in pages.
 *
 * - The session cookie is `__Host-tessera_session`: HttpOnly, Secure, SameSite=Lax, Path=/, no Domain. The
 *   `__Host-` prefix makes browsers refuse it unless it is Secure, host-only and Path=/, so a sibling
 *   subdomain cannot plant or overwrite it.
 * - Only for plain-http development on a loopback issuer (http://localhost) is Secure relaxed; the prefix goes
 *   with it (browsers refuse `__Host-` without Secure), so the name is `tessera_session` there.
 * - Sessions without "keep me signed in" are browser-session cookies (no Max-Age); remembered ones carry the
 *   session's absolute lifetime. Either way the server enforces idle and absolute expiry.
 * - The anonymous CSRF cookie (`__Host-tessera_csrf`) binds the sign-in forms before there is a session.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { clearCookie, readCookie as readCookieHeader, serializeCookie } from "../../lib/cookies.js";

export interface CookieNames {
  session: string;
  csrf: string;
  /** The pending sign-in between the password and the second factor (src/mfa/pending.ts). */
  mfa: string;
  /** The sign-in device cookie (src/accounts/device-cookies.ts): this browser signed in to an account before. */
  device: string;
  secure: boolean;
}

export function cookieNames(options: { issuer: string; tls: boolean }): CookieNames {
  const secure = options.tls || options.issuer.startsWith("https://");
  return secure
    ? {
        session: "__Host-tessera_session",
        csrf: "__Host-tessera_csrf",
        mfa: "__Host-tessera_mfa",
        device: "__Host-tessera_device",
        secure,
      }
    : {
        session: "tessera_session",
        csrf: "tessera_csrf",
        mfa: "tessera_mfa",
        device: "tessera_device",
        secure,
      };
}

/** Cookie `name` of the request (parsed from the header on demand), if present, non-empty and ≤ 256 chars. */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const value = readCookieHeader(request.headers.cookie, name);
  return value !== undefined && value.length > 0 && value.length <= 256 ? value : undefined;
}

/** Sets (or, with `undefined`, clears) cookie `name`: HttpOnly, SameSite=Lax, Path=/, Secure unless dev http. */
function writeCookie(
  reply: FastifyReply,
  names: CookieNames,
  name: string,
  value: string | undefined,
  maxAge?: number,
): void {
  const options = { secure: names.secure, sameSite: "Lax" as const };
  appendSetCookie(
    reply,
    name,
    value === undefined
      ? clearCookie(name, options)
      : serializeCookie(name, value, maxAge === undefined ? options : { ...options, maxAge }),
  );
}

export function setSessionCookie(
  reply: FastifyReply,
  names: CookieNames,
  token: string,
  maxAgeSeconds: number | undefined,
): void {
  writeCookie(reply, names, names.session, token, maxAgeSeconds);
}

export function clearSessionCookie(reply: FastifyReply, names: CookieNames): void {
  writeCookie(reply, names, names.session, undefined);
}

export function setCsrfCookie(reply: FastifyReply, names: CookieNames, value: string): void {
  writeCookie(reply, names, names.csrf, value);
}

export function setPendingCookie(reply: FastifyReply, names: CookieNames, token: string): void {
  writeCookie(reply, names, names.mfa, token, 600);
}

/** The device cookie lives a year: it only lets this browser keep trying when others fail (device-cookies.ts). */
export function setDeviceCookie(reply: FastifyReply, names: CookieNames, value: string): void {
  writeCookie(reply, names, names.device, value, 365 * 86_400);
}

export function clearPendingCookie(reply: FastifyReply, names: CookieNames): void {
  writeCookie(reply, names, names.mfa, undefined);
}

/**
 * Adds `serialized` (from `serializeCookie`) as a `Set-Cookie`, replacing one set earlier for `name` in this reply (the
 * last write wins: one header per cookie, as a cookie plugin would send).
 */
export function appendSetCookie(reply: FastifyReply, name: string, serialized: string): void {
  const current = reply.getHeader("set-cookie");
  const previous = current === undefined ? [] : Array.isArray(current) ? current : [String(current)];
  const kept = previous.filter((line) => !line.startsWith(`${name}=`));
  reply.removeHeader("set-cookie");
  reply.header("set-cookie", [...kept, serialized]);
}
