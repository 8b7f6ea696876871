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
import "@fastify/cookie";
import type { FastifyReply, FastifyRequest } from "fastify";

export interface CookieNames {
  session: string;
  csrf: string;
  /** The pending sign-in between the password and the second factor (src/mfa/pending.ts). */
  mfa: string;
  secure: boolean;
}

export function cookieNames(options: { issuer: string; tls: boolean }): CookieNames {
  const secure = options.tls || options.issuer.startsWith("https://");
  return secure
    ? { session: "__Host-tessera_session", csrf: "__Host-tessera_csrf", mfa: "__Host-tessera_mfa", secure }
    : { session: "tessera_session", csrf: "tessera_csrf", mfa: "tessera_mfa", secure };
}

export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const value = request.cookies[name];
  return typeof value === "string" && value.length > 0 && value.length <= 256 ? value : undefined;
}

export function setSessionCookie(
  reply: FastifyReply,
  names: CookieNames,
  token: string,
  maxAgeSeconds: number | undefined,
): void {
  reply.setCookie(names.session, token, {
    httpOnly: true,
    secure: names.secure,
    sameSite: "lax",
    path: "/",
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  });
}

export function clearSessionCookie(reply: FastifyReply, names: CookieNames): void {
  reply.clearCookie(names.session, { httpOnly: true, secure: names.secure, sameSite: "lax", path: "/" });
}

export function setCsrfCookie(reply: FastifyReply, names: CookieNames, value: string): void {
  reply.setCookie(names.csrf, value, { httpOnly: true, secure: names.secure, sameSite: "lax", path: "/" });
}

export function setPendingCookie(reply: FastifyReply, names: CookieNames, token: string): void {
  reply.setCookie(names.mfa, token, {
    httpOnly: true,
    secure: names.secure,
    sameSite: "lax",
    path: "/",
    maxAge: 600,
  });
}

export function clearPendingCookie(reply: FastifyReply, names: CookieNames): void {
  reply.clearCookie(names.mfa, { httpOnly: true, secure: names.secure, sameSite: "lax", path: "/" });
}
