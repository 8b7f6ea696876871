export {
  createOutboxMailer,
  createSmtpMailer,
  type MailMessage,
  type Mailer,
  type OutboxMailer,
} from "./mailer.js";
