/**
 * The one wire form of a refusal, shared by every adapter: status, `WWW-Authenticate` (RFC 6750 §3, absent on
 * 503), `Cache-Control: no-store`, and a JSON body `{ error, error_description }`.
 */
import type { VerifyError } from "./errors.js";

export interface RefusalResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function refusalResponse(error: VerifyError): RefusalResponse {
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
  };
  if (error.wwwAuthenticate !== undefined) headers["www-authenticate"] = error.wwwAuthenticate;
  return { status: error.status, headers, body: JSON.stringify(error.toJSON()) };
}
