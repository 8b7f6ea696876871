/**
 * Redirect URIs (src/oauth/redirect-uri.ts): what may be registered, what a request matches, and the URL the
 * browser is then sent to, which must be the matched text itself (no normalisation between the two).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { matchRedirectUri, redirectUriProblem, withQuery } from "../../src/oauth/redirect-uri.js";

describe("redirect URIs", () => {
  it.each([
    ["a space", "https://app.example.test/c b"],
    ["a leading space", " https://app.example.test/cb"],
    ["a trailing space", "https://app.example.test/cb "],
    ["a tab", "https://app.example.test/c\tb"],
    ["a line feed", "https://app.example.test/cb\n"],
    ["a carriage return", "https://app.example.test/\rcb"],
    ["a NUL", "https://app.example.test/cb\u0000"],
    ["DEL", "https://app.example.test/cb\u007f"],
    ["a C1 control", "https://app.example.test/cb\u0085"],
    ["a no-break space", "https://app.example.test/c\u00a0b"],
    ["a line separator", "https://app.example.test/cb\u2028"],
    ["a byte order mark", "\ufeffhttps://app.example.test/cb"],
    ["a space in a private-use URI", "com.example.app:/c b"],
  ])("refuses %s", (_name, uri) => {
    expect(redirectUriProblem(uri)).toBe("must not contain whitespace or control characters");
  });

  it.each([
    ["an upper-case host", "https://APP.example.test/cb", "https://app.example.test/cb"],
    ["an upper-case scheme", "HTTPS://app.example.test/cb", "https://app.example.test/cb"],
    ["the default https port", "https://app.example.test:443/cb", "https://app.example.test/cb"],
    ["the default http port on loopback", "http://127.0.0.1:80/cb", "http://127.0.0.1/cb"],
    ["an empty path", "https://app.example.test", "https://app.example.test/"],
    ["dot segments", "https://app.example.test/a/../cb", "https://app.example.test/cb"],
    ["a backslash", "https://app.example.test\\cb", "https://app.example.test/cb"],
    ["a raw non-ASCII path", "https://app.example.test/é", "https://app.example.test/%C3%A9"],
    ["an IDN host", "https://exämple.test/cb", "https://xn--exmple-cua.test/cb"],
    ["a long IPv6 literal", "http://[0:0:0:0:0:0:0:1]/cb", "http://[::1]/cb"],
    ["an IPv4 literal in another notation", "http://0x7f.0.0.1/cb", "http://127.0.0.1/cb"],
    ["an upper-case private-use scheme", "com.Example.App:/cb", "com.example.app:/cb"],
  ])("refuses %s, naming the serialised form", (_name, uri, serialised) => {
    expect(redirectUriProblem(uri)).toBe(
      `must be written in its serialised form, ${JSON.stringify(serialised)}`,
    );
    expect(redirectUriProblem(serialised)).toBeUndefined();
  });

  it("refuses a trailing dot in the host, and keeps percent-encoding as written", () => {
    expect(redirectUriProblem("https://app.example.test./cb")).toMatch(/must name a host/);
    for (const uri of [
      "https://app.example.test/%7Ecb",
      "https://app.example.test/%7ecb",
      "https://a.test/~cb",
    ]) {
      expect(redirectUriProblem(uri)).toBeUndefined();
    }
    expect(
      matchRedirectUri(["https://app.example.test/%7Ecb"], "https://app.example.test/~cb"),
    ).toBeUndefined();
    expect(
      matchRedirectUri(["https://app.example.test/%7Ecb"], "https://app.example.test/%7ecb"),
    ).toBeUndefined();
  });

  it("matches a URI stored before the serialised form was required only if it is in that form", () => {
    // A row registered before the rule: the text would match, but the redirect would go to another text.
    expect(matchRedirectUri(["https://APP.example.test/cb"], "https://APP.example.test/cb")).toBeUndefined();
    expect(matchRedirectUri(["http://127.0.0.1:80/cb"], "http://127.0.0.1:80/cb")).toBeUndefined();
    expect(matchRedirectUri(["http://127.0.0.1/cb"], "http://127.0.0.1:080/cb")).toBeUndefined();
    expect(matchRedirectUri(["http://127.0.0.1/cb"], "http://127.0.0.1:49152/cb")).toBe(
      "http://127.0.0.1/cb",
    );
  });

  it("redirects to the matched text followed by the parameters, keeping a registered query as written", () => {
    const registered = "https://app.example.test/cb?tenant=a%20b&x=~&flag";
    expect(redirectUriProblem(registered)).toBeUndefined();
    const to = withQuery(registered, { code: "c 1", state: undefined, iss: "https://id.example.test" });
    expect(to).toBe(`${registered}&code=c+1&iss=https%3A%2F%2Fid.example.test`);
    expect(withQuery("https://app.example.test/cb?", { code: "c" })).toBe(
      "https://app.example.test/cb?code=c",
    );
    expect(withQuery("https://app.example.test/cb", {})).toBe("https://app.example.test/cb");
  });

  it("property: whatever is registered and matched, the Location starts with it and parses to itself", () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,12}$/);
    const uri = fc
      .tuple(
        fc.constantFrom("https://app.example.test", "http://127.0.0.1", "com.example.app:"),
        fc.array(segment, { maxLength: 3 }),
        fc.option(segment, { nil: undefined }),
      )
      .map(([origin, path, query]) => `${origin}/${path.join("/")}${query === undefined ? "" : `?${query}`}`);
    fc.assert(
      fc.property(uri, fc.string(), (candidate, state) => {
        if (redirectUriProblem(candidate) !== undefined) return;
        expect(matchRedirectUri([candidate], candidate)).toBe(candidate);
        const to = withQuery(candidate, { code: "abc", state });
        expect(to.startsWith(candidate)).toBe(true);
        expect(new URL(to).href).toBe(to);
        expect(new URL(to).searchParams.getAll("state").at(-1)).toBe(state);
      }),
      { numRuns: 500 },
    );
  });
});
