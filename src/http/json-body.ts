/**
 * JSON request bodies: UTF-8 only (RFC 8259 §8.1). Fastify's own parser decodes the bytes leniently, so a
 * body that is not UTF-8 reached the routes with U+FFFD in place of its bytes, and was stored that way. This
 * parser reads the body as bytes, decodes it with a fatal decoder, and only then parses it with Fastify's JSON
 * parser (which keeps refusing prototype-poisoning keys). A body that is not UTF-8 is a 400 client error
 * (`statusCode` 400), which `errors.ts` answers as `invalid_request` and any plugin's own error mapping sees as
 * a bad body.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A JSON body whose bytes are not UTF-8. */
export class BodyNotUtf8Error extends Error {
  readonly code = "TSR_ERR_BODY_NOT_UTF8";
  readonly statusCode = 400;
  constructor() {
    super("The JSON body is not valid UTF-8.");
    this.name = "BodyNotUtf8Error";
  }
}

type Done = (error: Error | null, body?: unknown) => void;
type StringParser = (request: FastifyRequest, body: string, done: Done) => void;

/**
 * A body parser for JSON media types, to register with `parseAs: "buffer"`:
 * `app.addContentTypeParser(type, { parseAs: "buffer", bodyLimit }, strictJsonParser(app))`.
 */
export function strictJsonParser(app: FastifyInstance) {
  // Fastify's parser in its callback form (empty body, bad JSON, prototype poisoning: its own errors).
  const parse = app.getDefaultJsonParser("error", "error") as StringParser;
  return (request: FastifyRequest, body: Buffer, done: Done): void => {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      done(new BodyNotUtf8Error(), undefined);
      return;
    }
    parse(request, text, done);
  };
}
