/** What sign-up and invitations share: the client of a request, a chosen user name, refusals of `users.create`. */
import { MAX_USER_NAME } from "../accounts/users.js";
import type { TesseraError } from "../lib/errors.js";
import { OnboardingError } from "./errors.js";

/** Where a request came from, for throttling and the audit log. */
export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
}

const CONTROL = /\p{Cc}/u;

/**
 * A user name typed into a form: absent or blank means "use the default" (`userName: undefined`). A pre-check
 * only, so the form can say what is wrong next to the field; `users.create` applies the rule itself.
 */
export function cleanChosenUserName(
  value: unknown,
): { ok: true; userName: string | undefined } | { ok: false; message: string } {
  if (typeof value !== "string") return { ok: true, userName: undefined };
  const name = value.normalize("NFKC").trim();
  if (name === "") return { ok: true, userName: undefined };
  if (name.length > MAX_USER_NAME || CONTROL.test(name)) {
    return { ok: false, message: `Use at most ${MAX_USER_NAME} characters, without control characters.` };
  }
  return { ok: true, userName: name };
}

/** A refusal of `users.create`, with the form field it belongs to. */
export function accountRefusal(error: TesseraError): TesseraError {
  if (error.code === "user_exists") {
    const message = "This user name is taken. Choose another.";
    return new OnboardingError("user_exists", message, { status: 409, fields: { userName: message } });
  }
  if (error.code === "password_rejected") {
    return new OnboardingError("password_rejected", error.message, { fields: { password: error.message } });
  }
  return error;
}
