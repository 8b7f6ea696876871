/**
 * SCIM errors (RFC 7644 §3.12): an HTTP status and, for 400 and 409, a `scimType` keyword.
 * The HTTP layer renders them as `urn:ietf:params:scim:api:messages:2.0:Error` bodies.
 */
import { TesseraError } from "../lib/errors.js";

export type ScimType =
  | "invalidFilter"
  | "tooMany"
  | "uniqueness"
  | "mutability"
  | "invalidSyntax"
  | "invalidPath"
  | "noTarget"
  | "invalidValue"
  | "invalidVers"
  | "sensitive";

export class ScimError extends TesseraError {
  readonly scimType: ScimType | undefined;
  constructor(options: { status: number; scimType?: ScimType; message: string; detail?: string }) {
    super({ code: "scim_error", message: options.message, status: options.status, detail: options.detail });
    this.scimType = options.scimType;
  }
}
