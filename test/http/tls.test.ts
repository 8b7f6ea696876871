import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTestApp } from "../helpers/app.js";

function selfSignedCertificate(): { cert: string; key: string } {
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
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
    ],
    { stdio: "ignore" },
  );
  return { cert, key };
}

function get(
  url: string,
  ca: Buffer | string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, servername: "localhost" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("serving HTTPS directly", () => {
  it("serves the JWKS over TLS with the configured certificate, and sends HSTS", async () => {
    const { cert, key } = selfSignedCertificate();
    const t = await createTestApp({ env: { TESSERA_TLS_CERT: cert, TESSERA_TLS_KEY: key } });
    try {
      await t.app.listen({ port: 0, host: "127.0.0.1" });
      const address = t.app.server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      const { readFileSync } = await import("node:fs");
      const res = await get(`https://127.0.0.1:${port}/.well-known/jwks.json`, readFileSync(cert));
      expect(res.status).toBe(200);
      expect(res.headers["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
      expect((JSON.parse(res.body) as { keys: unknown[] }).keys).toHaveLength(6);
    } finally {
      await t.close();
    }
  });
});
