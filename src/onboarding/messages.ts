/**
 * The e-mails onboarding sends. Plain text; every link is built from the configured issuer, never from a
 * request's Host header, so a forged Host cannot point a link at another site.
 */
import type { MailMessage } from "../mail/index.js";

function lifetime(seconds: number): string {
  if (seconds % 86_400 === 0) {
    const days = seconds / 86_400;
    return `${days} day${days === 1 ? "" : "s"}`;
  }
  if (seconds % 3600 === 0) {
    const hours = seconds / 3600;
    return `${hours} hour${hours === 1 ? "" : "s"}`;
  }
  const minutes = Math.max(1, Math.round(seconds / 60));
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

export function signUpLinkMessage(input: {
  to: string;
  userName: string;
  link: string;
  ttlSeconds: number;
}): MailMessage {
  return {
    to: input.to,
    subject: "Confirm your new Tessera account",
    text: [
      "Hello,",
      "",
      `Someone (hopefully you) asked to create a Tessera account with this e-mail address, user name "${input.userName}".`,
      `To finish, open this link within ${lifetime(input.ttlSeconds)} and enter the password you chose. It works once:`,
      "",
      input.link,
      "",
      "If you did not ask for this, ignore this message: no account is created.",
    ].join("\n"),
  };
}

/** Sent instead of a link when the address already belongs to an account: the sign-up page says nothing. */
export function addressTakenMessage(input: { to: string; issuer: string }): MailMessage {
  return {
    to: input.to,
    subject: "Someone tried to sign up with your e-mail address",
    text: [
      "Hello,",
      "",
      "Someone (perhaps you) tried to create a new Tessera account with this e-mail address, which already",
      "belongs to an account. No new account was created and nothing changed on yours.",
      "",
      "If it was you, sign in instead:",
      "",
      `${input.issuer}/login`,
      "",
      "Forgot your password? Ask for a new one here:",
      "",
      `${input.issuer}/password/forgot`,
      "",
      "If it was not you, you can ignore this message.",
    ].join("\n"),
  };
}

export function invitationMessage(input: {
  to: string;
  link: string;
  ttlSeconds: number;
  groups: readonly string[];
}): MailMessage {
  return {
    to: input.to,
    subject: "You are invited to Tessera",
    text: [
      "Hello,",
      "",
      "An administrator invited you to create a Tessera account with this e-mail address.",
      ...(input.groups.length > 0 ? [`You will join: ${input.groups.join(", ")}.`] : []),
      `Open this link within ${lifetime(input.ttlSeconds)} to choose your user name and password. It works once:`,
      "",
      input.link,
      "",
      "If you did not expect this invitation, ignore this message.",
    ].join("\n"),
  };
}
