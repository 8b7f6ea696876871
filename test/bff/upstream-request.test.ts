/**
 * The proxy's upstream URL and headers as pure functions (upstream-request.ts): which request targets are
 * refused, what URL the accepted ones map to (only ever the configured upstream's origin and base path), and
 * which of the browser's headers reach the upstream. The same rules over a real socket: proxy-target.test.ts.
 */
import { describe, expect, it } from "vitest";
import { upstreamHeaders, upstreamUrl } from "../../src/bff/upstream-request.js";

const PUBLIC = "https://shop.example.com";
const BARE = { prefix: "/api", url: "http://127.0.0.1:8081" };
const BASED = { prefix: "/api", url: "https://up/base" };
const MOUNT = "/bff/api";

const href = (target: string, upstream = BASED) => {
  const answer = upstreamUrl(target, MOUNT, upstream, PUBLIC);
  return answer && `${answer.url}${answer.query === "" ? "" : `?${answer.query}`}`;
};

describe("upstreamUrl", () => {
  it.each([
    ["/bff/api", "https://up/base/"],
    ["/bff/api/", "https://up/base/"],
    ["/bff/api/orders", "https://up/base/orders"],
    ["/bff/api/orders/", "https://up/base/orders/"],
    ["/bff/api/orders?status=open&next=%2F..%2Fx", "https://up/base/orders?status=open&next=%2F..%2Fx"],
    ["/bff/api/orders?", "https://up/base/orders"],
    ["/bff/api/caf%C3%A9/a%20b/100%25", "https://up/base/caf%C3%A9/a%20b/100%25"],
    ["/bff/api/a:b@c;v=1/x,y+z!$&'()*~", "https://up/base/a:b@c;v=1/x,y+z!$&'()*~"],
    ["/bff/api/file.txt/.well-known/..x/x..", "https://up/base/file.txt/.well-known/..x/x.."],
    ["/bff/api/a|b^c[0]", "https://up/base/a|b^c[0]"],
    ["/bff/api/%2E%2Ex", "https://up/base/%2E%2Ex"],
    ["https://shop.example.com/bff/api/own?q=1", "https://up/base/own?q=1"],
    ["HTTPS://SHOP.example.com/bff/api/own", "https://up/base/own"],
  ])("maps %s to %s", (target, expected) => {
    expect(href(target)).toBe(expected);
  });

  it("keeps a bare upstream's origin whatever the path", () => {
    expect(href("/bff/api/x", BARE)).toBe("http://127.0.0.1:8081/x");
    expect(href("/bff/api", BARE)).toBe("http://127.0.0.1:8081/");
    expect(href("/bff/api/@evil/x", BARE)).toBe("http://127.0.0.1:8081/@evil/x");
  });

  it.each([
    // Absolute-form naming another authority, user-info, or not http(s).
    "http://a@127.0.0.1:18693/bff/api/x",
    "http://evil/bff/api/x",
    "http://evil.example/bff/api/x",
    "https://shop.example.com@evil/bff/api/x",
    "https://a@shop.example.com/bff/api/x",
    "https://shop.example.com:443/bff/api/x",
    "http://shop.example.com/bff/api/x",
    "https://shop.example.com.evil/bff/api/x",
    "https://shop.example.com",
    "https://shop.example.com?x=/bff/api/x",
    "ftp://shop.example.com/bff/api/x",
    "//evil/bff/api/x",
    "*",
    "shop.example.com:443",
    // Not under the mount point.
    "/bff/apiy/x",
    "/bff/api.x",
    "/bff/ap",
    "/other",
    "/BFF/api/x",
    // Dot segments, plain, encoded or with parameters.
    "/bff/api/..",
    "/bff/api/../other",
    "/bff/api/x/../../other",
    "/bff/api/./x",
    "/bff/api/x/.",
    "/bff/api/%2e%2e/other",
    "/bff/api/%2E%2E/other",
    "/bff/api/.%2e/other",
    "/bff/api/%2e/x",
    "/bff/api/..;/other",
    "/bff/api/..;x=1/other",
    // Encoded separators, backslashes, empty segments.
    "/bff/api/..%2Fother",
    "/bff/api/x%2f..%2f..%2fother",
    "/bff/api/x%5C..%5Cother",
    "/bff/api/x\\..\\..\\other",
    "/bff/api\\..\\other",
    "/bff/api//evil/x",
    "/bff/api/x//y",
    // Control characters, NUL, fragments, malformed or non-UTF-8 percent-encoding, non-ASCII.
    "/bff/api/x%00",
    "/bff/api/x%0d%0aHost:%20evil",
    "/bff/api/x%7f",
    "/bff/api/x\u0000",
    "/bff/api/x\ty",
    "/bff/api/x y",
    "/bff/api/x\r\nHost: evil",
    "/bff/api/x?a=\u0001",
    "/bff/api/x#frag",
    "/bff/api/x?a#b",
    "/bff/api/%zz",
    "/bff/api/%4",
    "/bff/api/%ff",
    "/bff/api/caf\u00e9",
    '/bff/api/a"b',
    "/bff/api/a<b>",
    "/bff/api/a{b}",
    "/bff/api/a`b",
  ])("refuses %j", (target) => {
    expect(upstreamUrl(target, MOUNT, BASED, PUBLIC)).toBeUndefined();
    expect(upstreamUrl(target, MOUNT, BARE, PUBLIC)).toBeUndefined();
  });
});

describe("upstreamHeaders", () => {
  const context = {
    accessToken: "at-1",
    dpopProof: undefined,
    clientIp: "198.51.100.7",
    publicOrigin: PUBLIC,
  };

  it("drops credentials, hop-by-hop, forwarding, identity and rewrite headers; sets its own forwarding", () => {
    const out = upstreamHeaders(
      {
        host: "up",
        accept: "application/json",
        "content-type": "application/json",
        "x-request-id": "r-1",
        "user-agent": "test",
        cookie: "bff_session=abc",
        authorization: "Bearer browser-made-this-up",
        "proxy-authorization": "Basic eA==",
        dpop: "eyJ.fake.proof",
        "x-bff-csrf": "1",
        connection: "keep-alive, x-named",
        "x-named": "1",
        "keep-alive": "timeout=5",
        te: "trailers",
        upgrade: "websocket",
        forwarded: "for=6.6.6.6;host=evil;proto=https",
        "x-forwarded-for": "6.6.6.6",
        "x-forwarded-host": "evil",
        "x-forwarded-proto": "http",
        "x-forwarded-port": "1",
        "x-forwarded-prefix": "/admin",
        "x-forwarded-user": "admin",
        "x-forwarded-email": "admin@example.com",
        "x-forwarded-access-token": "t",
        "x-real-ip": "6.6.6.6",
        "x-client-ip": "6.6.6.6",
        "true-client-ip": "6.6.6.6",
        "cf-connecting-ip": "6.6.6.6",
        "x-user": "admin",
        "x-user-id": "1",
        "x-remote-user": "admin",
        "remote-user": "admin",
        "remote-groups": "admins",
        "x-authenticated-user": "admin",
        "x-authenticated-userid": "admin",
        "x-auth-request-user": "admin",
        "x-auth-request-email": "admin@example.com",
        "x-auth-request-groups": "admins",
        "x-amzn-oidc-identity": "admin",
        "x-ms-client-principal-name": "admin",
        "x-goog-authenticated-user-email": "admin@example.com",
        "cf-access-authenticated-user-email": "admin@example.com",
        "x-pomerium-claim-email": "admin@example.com",
        "x-jwt-assertion": "eyJ",
        "x-original-url": "/admin",
        "x-rewrite-url": "/admin",
        "x-http-method-override": "DELETE",
      },
      context,
    );
    expect(out).toEqual({
      host: "up",
      accept: "application/json",
      "content-type": "application/json",
      "x-request-id": "r-1",
      "user-agent": "test",
      authorization: "Bearer at-1",
      "x-forwarded-for": "198.51.100.7",
      "x-forwarded-host": "shop.example.com",
      "x-forwarded-proto": "https",
    });
  });

  it("sends a DPoP-bound token with its proof, replacing the browser's", () => {
    const out = upstreamHeaders(
      { dpop: "from-browser", authorization: "DPoP x" },
      { ...context, dpopProof: "proof", publicOrigin: "http://127.0.0.1:8443" },
    );
    expect(out).toMatchObject({
      authorization: "DPoP at-1",
      dpop: "proof",
      "x-forwarded-host": "127.0.0.1:8443",
      "x-forwarded-proto": "http",
    });
  });
});
