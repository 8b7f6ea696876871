export {
  createOutboxMailer,
  createSmtpMailer,
  type Mailer,
  type MailMessage,
  type OutboxMailer,
} from "./mailer.js";
