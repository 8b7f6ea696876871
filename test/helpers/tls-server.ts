/**
 * A real, listening Tessera over HTTPS on 127.0.0.1 (for real-browser tests), with a self-signed certificate for
 * `localhost`, the system clock and a fresh SQLite database; plus a tiny HTTPS server for pages of "another
 * site" (cross-site and cross-origin form posts).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { type Config, loadConfig } from "../../src/config/index.js";
import { createMasterKey } from "../../src/crypto/index.js";
import { buildApp } from "../../src/http/app.js";
import { createLogger } from "../../src/observability/log.js";
import { createServices, type Services } from "../../src/server/services.js";
import { createTestDatabase } from "./databases.js";

export interface Certificate {
  dir: string;
  cert: string;
  key: string;
  remove(): void;
}

/** A one-day self-signed P-256 certificate for `localhost` and 127.0.0.1, in a fresh temporary folder. */
export function selfSignedLocalhostCertificate(): Certificate {
  const dir = mkdtempSync(join(tmpdir(), "tessera-tls-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    { stdio: "ignore" },
  );
  return { dir, cert, key, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port"))));
    });
  });
}

export interface TlsTessera {
  app: FastifyInstance;
  ctx: Services;
  config: Config;
  port: number;
  /** `https://localhost:<port>`, the issuer. */
  origin: string;
  certificate: Certificate;
  /** Every log line written so far. */
  logs(): string;
  close(): Promise<void>;
}

/** Starts Tessera over HTTPS on 127.0.0.1 with issuer `https://localhost:<port>`. */
export async function startTlsTessera(options: { env?: Record<string, string> } = {}): Promise<TlsTessera> {
  const certificate = selfSignedLocalhostCertificate();
  const db = await createTestDatabase("sqlite");
  const port = await freePort();
  const origin = `https://localhost:${port}`;
  const config = loadConfig({
    env: {
      NODE_ENV: "test",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: db.url,
      TESSERA_ISSUER: origin,
      TESSERA_TLS_CERT: certificate.cert,
      TESSERA_TLS_KEY: certificate.key,
      TESSERA_KEY_ROTATION_INTERVAL: "0",
      LOG_LEVEL: "info",
      ...options.env,
    },
  });
  let output = "";
  const destination = new Writable({
    write(chunk, _enc, done) {
      output += chunk.toString();
      done();
    },
  });
  const log = createLogger({ level: config.logLevel, destination });
  // No clock option: the system clock, so cookie expiry and browser time agree.
  const ctx = await createServices(config, { log, masterKey: createMasterKey(Buffer.alloc(32, 7)) });
  const app = await buildApp(ctx);
  try {
    await app.listen({ port, host: "127.0.0.1" });
  } catch (error) {
    await app.close();
    await ctx.close();
    await db.drop();
    certificate.remove();
    throw error;
  }
  return {
    app,
    ctx,
    config,
    port,
    origin,
    certificate,
    logs: () => output,
    async close() {
      await app.close();
      await ctx.close();
      await db.drop();
      certificate.remove();
    },
  };
}

export interface StaticHttpsServer {
  server: HttpsServer;
  port: number;
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1 that answers every GET with `html` (for pages of another origin or site). */
export async function startStaticHttpsServer(
  certificate: Pick<Certificate, "cert" | "key">,
  html: (path: string) => string | undefined,
): Promise<StaticHttpsServer> {
  const server = createHttpsServer(
    { cert: readFileSync(certificate.cert), key: readFileSync(certificate.key) },
    (request, response) => {
      const body =
        request.method === "GET" ? html(new URL(request.url ?? "/", "https://x").pathname) : undefined;
      if (body === undefined) {
        response.writeHead(404, { "content-type": "text/plain" }).end("not found");
        return;
      }
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      response.end(body);
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
