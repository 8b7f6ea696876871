/**
 * The outbound guard against real sockets: refused destinations are never connected to (listeners count every
 * TCP connection), allowed ones work, the vetted address is the one connected to, and every redirect hop is
 * checked again.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from "node:net";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOutboundFetch,
  type OutboundLookup,
  type OutboundPolicy,
  OutboundRefusedError,
} from "../../src/outbound/index.js";
import { type Certificate, selfSignedLocalhostCertificate } from "../helpers/tls-server.js";

const STRICT: OutboundPolicy = { allowPrivate: false, development: false };
const LOOPBACK_ONLY: OutboundPolicy = { allowPrivate: ["127.0.0.1/32"], development: false };

/** A TCP listener that counts connections and closes them. */
async function connectionCounter(
  host = "127.0.0.1",
): Promise<{ port: number; count(): number; close(): Promise<void> }> {
  let connections = 0;
  const server: NetServer = createNetServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    count: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** An injected resolver: a fixed answer per name, and a record of every question. */
function fakeDns(answers: Record<string, string[] | (() => string[])>) {
  const asked: string[] = [];
  const lookup: OutboundLookup = async (hostname) => {
    asked.push(hostname);
    const answer = answers[hostname];
    if (answer === undefined)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    const list = typeof answer === "function" ? answer() : answer;
    return list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return { lookup, asked };
}

async function refusal(promise: Promise<unknown>): Promise<OutboundRefusedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundRefusedError);
  return error as OutboundRefusedError;
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe("the outbound guard", () => {
  let server: Server;
  let origin: string;
  let seen: Seen[];
  let otherServer: Server;
  let otherOrigin: string;
  let otherSeen: Seen[];
  let counter: Awaited<ReturnType<typeof connectionCounter>>;
  let counter2: Awaited<ReturnType<typeof connectionCounter>>;

  function recordingServer(
    into: () => Seen[],
    route: (seen: Seen, res: import("node:http").ServerResponse) => void,
  ) {
    return createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const entry = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
        into().push(entry);
        route(entry, res);
      });
    });
  }

  beforeAll(async () => {
    seen = [];
    otherSeen = [];
    counter = await connectionCounter("127.0.0.1");
    counter2 = await connectionCounter("127.0.0.2");
    otherServer = recordingServer(
      () => otherSeen,
      (_s, res) => res.writeHead(200).end("other"),
    );
    await new Promise<void>((resolve) => otherServer.listen(0, "127.0.0.1", resolve));
    otherOrigin = `http://127.0.0.1:${(otherServer.address() as AddressInfo).port}`;
    server = recordingServer(
      () => seen,
      (s, res) => {
        const url = new URL(s.url, "http://x");
        const to = url.searchParams.get("to");
        if (url.pathname === "/redirect" && to) {
          res.writeHead(Number(url.searchParams.get("status") ?? 302), { location: to }).end();
        } else if (url.pathname === "/loop") {
          res.writeHead(302, { location: "/loop" }).end();
        } else if (url.pathname === "/hang") {
          // Never answers.
        } else if (url.pathname === "/slow-body") {
          res.writeHead(200).write("partial"); // and never ends
        } else {
          res
            .writeHead(200, { "content-type": "text/plain", "x-path": url.pathname })
            .end(`hello ${s.method}`);
        }
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => otherServer.close(resolve));
    await counter.close();
    await counter2.close();
  });

  describe("refuses, without connecting,", () => {
    it.each([
      ["loopback", (port: number) => `https://127.0.0.1:${port}/`],
      ["loopback over http", (port: number) => `http://127.0.0.1:${port}/backchannel`],
      ["IPv4-mapped loopback", (port: number) => `https://[::ffff:127.0.0.1]:${port}/`],
      ["IPv4-mapped loopback in hex", (port: number) => `https://[::ffff:7f00:1]:${port}/`],
      ["a decimal IPv4 host", (port: number) => `https://2130706433:${port}/`],
      ["an octal/hex IPv4 host", (port: number) => `https://0x7f.0.0.01:${port}/`],
    ])("%s", async (_name, url) => {
      const outbound = createOutboundFetch({ policy: STRICT });
      const error = await refusal(outbound(url(counter.port), { method: "POST", body: "x" }));
      expect(error.reason).toBe("address");
      expect(error.message).toMatch(/127\.0\.0\.1.* is loopback \(127\.0\.0\.0\/8\)/);
      expect(counter.count()).toBe(0);
    });

    it("the cloud metadata address, and says why", async () => {
      const outbound = createOutboundFetch({ policy: STRICT });
      const error = await refusal(outbound("https://169.254.169.254/latest/meta-data/"));
      expect(error).toMatchObject({ reason: "address", host: "169.254.169.254" });
      expect(error.message).toBe(
        "Outbound request to 169.254.169.254 refused: 169.254.169.254 is link-local (169.254.0.0/16); TESSERA_OUTBOUND_ALLOW_PRIVATE can allow it.",
      );
      // The path (which may carry secrets) is not in the error.
      expect(error.message).not.toContain("meta-data");
    });

    it("a host name that resolves to a private address, or to any private address among public ones", async () => {
      const dns = fakeDns({
        "rp.example.test": ["127.0.0.1"],
        "mixed.example.test": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "10.0.0.7"],
        "metadata.example.test": ["fd00:ec2::254"],
      });
      const outbound = createOutboundFetch({ policy: STRICT, lookup: dns.lookup });
      expect((await refusal(outbound(`https://rp.example.test:${counter.port}/`))).message).toMatch(
        /127\.0\.0\.1 is loopback/,
      );
      expect((await refusal(outbound("https://mixed.example.test/"))).message).toMatch(
        /10\.0\.0\.7 is private/,
      );
      expect((await refusal(outbound("https://metadata.example.test/"))).message).toMatch(
        /fd00:ec2::254 is private \(fc00::\/7\)/,
      );
      expect(dns.asked).toEqual(["rp.example.test", "mixed.example.test", "metadata.example.test"]);
      expect(counter.count()).toBe(0);
    });

    it("plain http anywhere but loopback, other schemes, and URLs with credentials", async () => {
      const dns = fakeDns({ "rp.example.test": ["93.184.215.14"], "intra.example.test": ["10.0.0.1"] });
      const outbound = createOutboundFetch({
        policy: { allowPrivate: true, development: true },
        lookup: dns.lookup,
      });
      expect((await refusal(outbound("http://rp.example.test/"))).reason).toBe("https-required");
      expect((await refusal(outbound("http://intra.example.test/"))).reason).toBe("https-required");
      expect((await refusal(outbound("http://10.0.0.1/"))).reason).toBe("https-required");
      expect((await refusal(outbound("ftp://rp.example.test/"))).reason).toBe("scheme");
      expect((await refusal(outbound("file:///etc/passwd"))).reason).toBe("scheme");
      expect((await refusal(outbound(`http://user:pw@127.0.0.1:${counter.port}/`))).reason).toBe(
        "credentials",
      );
      expect(counter.count()).toBe(0);
    });

    it("unspecified and multicast addresses, even when every range is listed", async () => {
      const outbound = createOutboundFetch({
        policy: { allowPrivate: ["0.0.0.0/0", "::/0"], development: true },
      });
      for (const url of [
        `http://0.0.0.0:${counter.port}/`,
        `http://[::]:${counter.port}/`,
        "https://224.0.0.1/",
      ]) {
        expect((await refusal(outbound(url))).reason).toBe("address");
      }
      expect(counter.count()).toBe(0);
    });
  });

  it("reaches an allowed address, with the method, headers and body given", async () => {
    seen.length = 0;
    const outbound = createOutboundFetch({ policy: LOOPBACK_ONLY });
    const response = await outbound(`${origin}/backchannel?x=1`, {
      method: "POST",
      headers: { "x-test": "yes" },
      body: new URLSearchParams({ logout_token: "abc" }),
      redirect: "manual",
    });
    expect(response.status).toBe(200);
    expect(response.url).toBe(`${origin}/backchannel?x=1`);
    expect(response.headers.get("x-path")).toBe("/backchannel");
    expect(await response.text()).toBe("hello POST");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: "POST",
      url: "/backchannel?x=1",
      body: "logout_token=abc",
      headers: { "x-test": "yes", "content-type": "application/x-www-form-urlencoded;charset=UTF-8" },
    });
  });

  it("in development reaches loopback over plain http without any setting", async () => {
    const outbound = createOutboundFetch({ policy: { allowPrivate: false, development: true } });
    expect((await outbound(`${origin}/dev`)).status).toBe(200);
    expect((await refusal(outbound("https://10.0.0.1/"))).reason).toBe("address");
    expect((await refusal(outbound("https://169.254.169.254/"))).reason).toBe("address");
  });

  it("connects to the address it checked: a changed DNS answer (rebinding) cannot move the connection", async () => {
    seen.length = 0;
    let answers = 0;
    const dns = fakeDns({
      // First answer: allowed loopback. Any later answer would be the metadata service.
      "rp.example.test": () => (answers++ === 0 ? ["127.0.0.1"] : ["169.254.169.254"]),
    });
    const port = new URL(origin).port;
    const outbound = createOutboundFetch({ policy: LOOPBACK_ONLY, lookup: dns.lookup });
    const response = await outbound(`http://rp.example.test:${port}/pinned`);
    expect(response.status).toBe(200);
    await response.body?.cancel();
    expect(dns.asked).toEqual(["rp.example.test"]);
    expect(seen.at(-1)?.headers.host).toBe(`rp.example.test:${port}`);
  });

  describe("over https", () => {
    let certificate: Certificate;
    let tls: import("node:https").Server;
    let port: number;
    const servernames: (string | false | null)[] = [];

    beforeAll(async () => {
      certificate = selfSignedLocalhostCertificate();
      tls = createHttpsServer(
        { cert: readFileSync(certificate.cert), key: readFileSync(certificate.key) },
        (req, res) => {
          servernames.push((req.socket as TLSSocket).servername);
          res.writeHead(200).end("secure");
        },
      );
      await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve));
      port = (tls.address() as AddressInfo).port;
    });
    afterAll(async () => {
      tls.closeAllConnections();
      await new Promise((resolve) => tls.close(resolve));
      certificate.remove();
    });

    it("checks the certificate against the host name, not the pinned address", async () => {
      const dns = fakeDns({ localhost: ["127.0.0.1"] });
      const ca = readFileSync(certificate.cert, "utf8");
      const trusting = createOutboundFetch({ policy: LOOPBACK_ONLY, lookup: dns.lookup, ca });
      const response = await trusting(`https://localhost:${port}/`, { method: "POST", body: "x" });
      expect(await response.text()).toBe("secure");
      expect(servernames.at(-1)).toBe("localhost");
      // An IP literal: no SNI, the certificate's IP SAN.
      expect(await (await trusting(`https://127.0.0.1:${port}/`)).text()).toBe("secure");
      // Without the CA, the certificate is refused (a network error, not a policy refusal).
      const untrusting = createOutboundFetch({ policy: LOOPBACK_ONLY, lookup: dns.lookup });
      const error = await untrusting(`https://localhost:${port}/`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(OutboundRefusedError);
      expect((error as NodeJS.ErrnoException).code).toMatch(/CERT|SELF_SIGNED/);
    });
  });

  describe("redirects", () => {
    const outbound = createOutboundFetch({ policy: LOOPBACK_ONLY, maxRedirects: 3 });
    const redirect = (to: string, status = 302) =>
      `${origin}/redirect?status=${status}&to=${encodeURIComponent(to)}`;

    it("follows allowed hops (303 after POST becomes GET, without the body)", async () => {
      seen.length = 0;
      const response = await outbound(redirect("/final", 303), { method: "POST", body: "secret=1" });
      expect(response.status).toBe(200);
      expect(response.url).toBe(`${origin}/final`);
      expect(await response.text()).toBe("hello GET");
      expect(seen.map((s) => [s.method, new URL(s.url, "http://x").pathname, s.body])).toEqual([
        ["POST", "/redirect", "secret=1"],
        ["GET", "/final", ""],
      ]);
      // 307 keeps the method and body.
      seen.length = 0;
      await (await outbound(redirect("/kept", 307), { method: "POST", body: "b" })).text();
      expect(seen.at(-1)).toMatchObject({ method: "POST", body: "b" });
    });

    it("checks every hop: a redirect to a private or link-local address is refused without connecting", async () => {
      const dns = fakeDns({ "internal.example.test": ["10.0.0.1"] });
      const guarded = createOutboundFetch({ policy: LOOPBACK_ONLY, lookup: dns.lookup });
      for (const target of [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/",
        `http://127.0.0.2:${counter2.port}/`,
        "https://internal.example.test/",
        `http://[::ffff:127.0.0.2]:${counter2.port}/`,
      ]) {
        const error = await refusal(guarded(redirect(target)));
        expect(error.reason, target).toBe("address");
      }
      expect(counter2.count()).toBe(0);
    });

    it("answers the 3xx itself with redirect: manual, and refuses it with redirect: error", async () => {
      seen.length = 0;
      const manual = await outbound(redirect("https://169.254.169.254/"), { redirect: "manual" });
      expect(manual.status).toBe(302);
      expect(manual.headers.get("location")).toBe("https://169.254.169.254/");
      expect(seen).toHaveLength(1);
      const error = await refusal(outbound(redirect("/final"), { redirect: "error" }));
      expect(error.reason).toBe("redirect");
      expect(seen).toHaveLength(2);
    });

    it("stops after maxRedirects", async () => {
      seen.length = 0;
      const error = await refusal(outbound(`${origin}/loop`));
      expect(error.reason).toBe("too-many-redirects");
      expect(seen).toHaveLength(4);
    });

    it("drops credentials on a redirect to another origin", async () => {
      otherSeen.length = 0;
      const response = await outbound(redirect(`${otherOrigin}/landed`, 307), {
        headers: { authorization: "Bearer secret", cookie: "a=b", "x-kept": "1" },
      });
      expect(await response.text()).toBe("other");
      expect(otherSeen[0]?.headers.authorization).toBeUndefined();
      expect(otherSeen[0]?.headers.cookie).toBeUndefined();
      expect(otherSeen[0]?.headers["x-kept"]).toBe("1");
    });
  });

  it("gives up after its timeout, and when the caller aborts", async () => {
    const quick = createOutboundFetch({ policy: LOOPBACK_ONLY, timeoutMs: 200 });
    const started = Date.now();
    const error = await quick(`${origin}/hang`).catch((e: unknown) => e);
    expect((error as Error).name).toBe("TimeoutError");
    expect(Date.now() - started).toBeLessThan(5000);
    // The timeout covers the body too.
    const slow = await quick(`${origin}/slow-body`);
    expect(slow.status).toBe(200);
    expect(((await slow.text().catch((e: unknown) => e)) as Error).name).toBe("TimeoutError");
    const outbound = createOutboundFetch({ policy: LOOPBACK_ONLY });
    const controller = new AbortController();
    const pending = outbound(`${origin}/hang`, { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    expect(((await pending) as Error).name).toBe("AbortError");
  });

  it("reports a name that does not resolve as a network error, not a refusal", async () => {
    const outbound = createOutboundFetch({ policy: STRICT, lookup: fakeDns({}).lookup });
    const error = await outbound("https://nowhere.example.test/").catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(OutboundRefusedError);
    expect((error as Error).message).toMatch(/ENOTFOUND/);
  });
});
