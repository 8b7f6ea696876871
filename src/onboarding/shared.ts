/** What sign-up and invitations share: the client of a request, a chosen user name, refusals of `users.create`. */

import type { Users } from "../accounts/index.js";
import { MAX_USER_NAME } from "../accounts/users.js";
import type { TesseraError } from "../lib/errors.js";
import { type FormField, OnboardingError } from "./errors.js";

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

/** A form field's refusal, before anything is created. */
export interface FieldRefusal {
  field: FormField;
  code: "invalid_request" | "password_rejected";
  message: string;
}

/**
 * The refusals of a chosen password: the password policy for this account (`users.checkPolicy`, the rule every
 * entry point applies) and a confirmation that differs; and the password's normalised form when it passed.
 */
export function checkChosenPassword(
  users: Pick<Users, "checkPolicy">,
  password: string,
  confirmPassword: string | undefined,
  account: Parameters<Users["checkPolicy"]>[1],
): { refusals: FieldRefusal[]; normalized: string | undefined } {
  const refusals: FieldRefusal[] = [];
  const verdict = users.checkPolicy(password, account);
  if (!verdict.ok) refusals.push({ field: "password", code: "password_rejected", message: verdict.message });
  if (confirmPassword !== undefined && confirmPassword !== password) {
    refusals.push({
      field: "confirmPassword",
      code: "invalid_request",
      message: "The two passwords do not match.",
    });
  }
  return { refusals, normalized: verdict.ok ? verdict.normalized : undefined };
}
