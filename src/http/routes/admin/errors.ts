/**
 * The admin API's own refusals, for resources whose domain services answer "absent" (undefined, false) or
 * refuse with a generic metadata error rather than a specific code.
 *
 * - 404 for an unknown id, 409 for a duplicate or a state that forbids the operation.
 * - Users and groups need none of these: the accounts domain already throws `user_not_found`,
 *   `group_exists`, … (AccountError).
 * Every code is listed in docs/errors.md and src/lib/error-codes.ts.
 */
import { AccountError, TesseraError } from "../../../lib/errors.js";

export const userNotFound = () => new AccountError("user_not_found", "No such user.", 404);
export const groupNotFound = () => new AccountError("group_not_found", "No such group.", 404);

export const clientNotFound = () =>
  new TesseraError({ code: "client_not_found", message: "No such client.", status: 404 });

export const clientExists = () =>
  new TesseraError({ code: "client_exists", message: "A client with this id already exists.", status: 409 });

export const clientHasNoSecret = () =>
  new TesseraError({
    code: "client_has_no_secret",
    message:
      "This client authenticates without a secret (public or private_key_jwt); there is none to rotate.",
    status: 409,
  });

export const resourceServerNotFound = () =>
  new TesseraError({ code: "resource_server_not_found", message: "No such resource server.", status: 404 });

export const resourceServerExists = () =>
  new TesseraError({
    code: "resource_server_exists",
    message: "A resource server with this audience already exists.",
    status: 409,
  });

export const sessionNotFound = () =>
  new TesseraError({ code: "session_not_found", message: "No such session for this user.", status: 404 });
