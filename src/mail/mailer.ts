/**
 * Outgoing e-mail behind one small interface.
 *
 * - SMTP through nodemailer when `TESSERA_SMTP_URL` is set.
 * - Otherwise the development outbox: messages are kept in memory (tests read them) and written to the log.
 *   Bodies may hold single-use links, so in production mode the outbox logs only recipient and subject.
 * - A send failure is logged and reported to the caller; it never crashes the process.
 */
import nodemailer from "nodemailer";
import type { Logger } from "../observability/log.js";

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

export interface OutboxMailer extends Mailer {
  readonly messages: readonly (MailMessage & { from: string; at: number })[];
}

const MAX_OUTBOX = 1000;

export function createOutboxMailer(options: { from: string; log: Logger; logBodies: boolean }): OutboxMailer {
  const messages: (MailMessage & { from: string; at: number })[] = [];
  return {
    messages,
    async send(message) {
      messages.push({ ...message, from: options.from, at: Date.now() });
      if (messages.length > MAX_OUTBOX) messages.shift();
      options.log.info(
        options.logBodies
          ? { mail: { to: message.to, subject: message.subject, text: message.text } }
          : { mail: { to: message.to, subject: message.subject } },
        "development outbox: e-mail not sent (no TESSERA_SMTP_URL)",
      );
    },
  };
}

export function createSmtpMailer(options: { url: string; from: string; log: Logger }): Mailer {
  const transport = nodemailer.createTransport(options.url);
  return {
    async send(message) {
      await transport.sendMail({
        from: options.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
      });
      options.log.info({ mail: { to: message.to, subject: message.subject } }, "e-mail sent");
    },
  };
}
