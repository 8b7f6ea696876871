/**
 * Small building blocks shared by the pages: form fields, the CSRF field, message boxes, dates.
 *
 * - Every input gets an `id` and a `<label for>`; hints and the form's error summary are linked to it with
 *   `aria-describedby`. A password input never carries a `value` (the type forbids one and none is rendered).
 * - The error summary is `role="alert"` (announced when the page loads); flash and notices are `role="status"`.
 * - Dates are deterministic UTC strings (`2026-11-29 09:14 UTC`) inside `<time datetime="<ISO 8601>">`; relative
 *   times ("5 minutes ago") only when the caller passes `now`, so rendering stays a pure function.
 */
import { type HtmlValue, html, type SafeHtml } from "./html.js";

/** A one-off message shown after a redirect ("Password changed."). */
export interface Flash {
  kind: "success" | "info";
  message: string;
}

/** The signed-in user as the header and the account pages show them. */
export interface UiUser {
  userName: string;
  displayName: string | null;
}

/** The name to greet a user with: the display name when set, else the user name. */
export function nameOf(user: UiUser): string {
  return user.displayName?.trim() ? user.displayName : user.userName;
}

/** The hidden anti-CSRF field every POST form carries. */
export function csrfField(csrfToken: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${csrfToken}">`;
}

/** The form-level error, announced on load; fields point at it with `aria-describedby`. */
export function errorSummary(id: string, message: string, title?: string): SafeHtml {
  return html`<div class="alert alert--error" id="${id}" role="alert">
${title ? html`<p class="alert-title">${title}</p>` : null}<p>${message}</p>
</div>`;
}

/** A flash or notice: a polite status message. */
export function statusMessage(flash: Flash, id?: string): SafeHtml {
  return html`<div class="alert alert--${flash.kind === "success" ? "success" : "info"}"${
    id ? html` id="${id}"` : null
  } role="status"><p>${flash.message}</p></div>`;
}

interface InputBase {
  id: string;
  name: string;
  label: string;
  autocomplete: string;
  required?: boolean;
  autofocus?: boolean;
  minLength?: number;
  maxLength?: number;
  /** Shown under the label and linked with `aria-describedby`. */
  hint?: HtmlValue;
  /** Further ids the input is described by, e.g. the form's error summary. */
  describedBy?: readonly (string | null | undefined | false)[];
  /** For identifiers: no auto-capitalisation, spell checking or auto-correction. */
  verbatim?: boolean;
}

/** A labelled text or password input. Passwords never get a value. */
export type InputOptions = InputBase &
  ({ type: "text" | "email"; value?: string | null } | { type: "password"; value?: never });

export function inputField(options: InputOptions): SafeHtml {
  const hintId = options.hint === undefined ? null : `${options.id}-hint`;
  const describedBy = [hintId, ...(options.describedBy ?? [])].filter((v): v is string => Boolean(v));
  const value = options.type === "password" ? null : options.value;
  return html`<div class="field">
<label for="${options.id}">${options.label}</label>
${hintId ? html`<p class="hint" id="${hintId}">${options.hint}</p>` : null}
<input class="input" id="${options.id}" name="${options.name}" type="${options.type}" autocomplete="${
    options.autocomplete
  }"${value !== null && value !== undefined ? html` value="${value}"` : null}${
    options.verbatim ? html` autocapitalize="none" autocorrect="off" spellcheck="false"` : null
  }${options.minLength !== undefined ? html` minlength="${options.minLength}"` : null}${
    options.maxLength !== undefined ? html` maxlength="${options.maxLength}"` : null
  }${describedBy.length > 0 ? html` aria-describedby="${describedBy.join(" ")}"` : null}${
    options.required ? html` required` : null
  }${options.autofocus ? html` autofocus` : null}>
</div>`;
}

/** A labelled checkbox, label to the right. */
export function checkboxField(options: {
  id: string;
  name: string;
  label: string;
  checked: boolean;
  value?: string;
}): SafeHtml {
  return html`<div class="check">
<input id="${options.id}" name="${options.name}" type="checkbox" value="${options.value ?? "1"}"${
    options.checked ? html` checked` : null
  }>
<label for="${options.id}">${options.label}</label>
</div>`;
}

/** The heading block at the top of a page. */
export function pageIntro(title: string, lead?: HtmlValue): SafeHtml {
  return html`<div class="page-intro">
<h1>${title}</h1>
${lead === undefined || lead === null || lead === false ? null : html`<p>${lead}</p>`}
</div>`;
}

function validDate(ms: number): Date | null {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return null;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date;
}

const pad = (n: number): string => String(n).padStart(2, "0");

/** `2026-11-29`, in UTC; "unknown" for an invalid instant. */
export function formatUtcDate(ms: number): string {
  const d = validDate(ms);
  if (!d) return "unknown";
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** `2026-11-29 09:14 UTC`; "unknown" for an invalid instant. */
export function formatUtc(ms: number): string {
  const d = validDate(ms);
  if (!d) return "unknown";
  return `${formatUtcDate(ms)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? "" : "s"} ago`;

/** "just now", "5 minutes ago", "3 hours ago", "2 days ago"; null from a week on (show the date instead). */
export function relativeTime(ms: number, now: number): string | null {
  if (!validDate(ms) || !validDate(now)) return null;
  const seconds = Math.floor((now - ms) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return plural(Math.floor(seconds / 60), "minute");
  if (seconds < 86_400) return plural(Math.floor(seconds / 3600), "hour");
  if (seconds < 7 * 86_400) return plural(Math.floor(seconds / 86_400), "day");
  return null;
}

/**
 * A `<time>` element. `format: "date"` shows the day only. With `now`, recent instants read as relative times and
 * the exact UTC time goes into `title`.
 */
export function timeElement(
  ms: number,
  options: { now?: number; format?: "date" | "datetime" } = {},
): SafeHtml {
  const d = validDate(ms);
  if (!d) return html`<span class="muted">unknown</span>`;
  const exact = options.format === "date" ? formatUtcDate(ms) : formatUtc(ms);
  const relative = options.now === undefined ? null : relativeTime(ms, options.now);
  return relative
    ? html`<time datetime="${d.toISOString()}" title="${formatUtc(ms)}">${relative}</time>`
    : html`<time datetime="${d.toISOString()}">${exact}</time>`;
}

/** The password policy in one sentence, for the hint under a new password. */
export function passwordRulesHint(minLength: number): string {
  return (
    `Use at least ${minLength} characters. There are no other rules: long passphrases are welcome, ` +
    "but common passwords are refused."
  );
}

/** `new_password` (with the policy hint) and `confirm_password`, both `autocomplete="new-password"`. */
export function newPasswordFields(options: {
  minLength: number;
  maxLength?: number;
  errorId: string | null;
  autofocus?: boolean;
}): SafeHtml {
  const common = {
    type: "password",
    autocomplete: "new-password",
    required: true,
    minLength: options.minLength,
    maxLength: options.maxLength,
    describedBy: [options.errorId],
  } as const;
  return html`${inputField({
    ...common,
    id: "new_password",
    name: "new_password",
    label: "New password",
    hint: passwordRulesHint(options.minLength),
    autofocus: options.autofocus,
  })}
${inputField({ ...common, id: "confirm_password", name: "confirm_password", label: "Confirm new password" })}`;
}
