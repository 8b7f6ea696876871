import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PASSWORD = "correct horse battery staple 42";

describe.each(DIALECTS)("SCIM 2.0 over HTTP on %s", (dialect) => {
  let t: TestApp;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: "https://id.example.test" } });
  });
  afterAll(async () => {
    await t.close();
  });

  const scim = (
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    url: string,
    body?: unknown,
    token = TEST_ADMIN_TOKEN,
  ) =>
    t.app.inject({
      method,
      url: `/scim/v2${url}`,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/scim+json" }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  const newUser = (userName: string, extra: Record<string, unknown> = {}) => ({
    schemas: [USER],
    userName,
    ...extra,
  });

  function expectScimError(
    response: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
    status: number,
    scimType?: string,
  ) {
    expect(response.statusCode).toBe(status);
    expect(String(response.headers["content-type"])).toMatch(/^application\/scim\+json/);
    const body = response.json() as { schemas: string[]; status: string; scimType?: string; detail: unknown };
    expect(body.schemas).toEqual([ERROR]);
    expect(body.status).toBe(String(status));
    if (scimType) expect(body.scimType).toBe(scimType);
    expect(typeof body.detail).toBe("string");
  }

  it("refuses a missing or wrong bearer token with 401 in the SCIM error format", async () => {
    const none = await t.app.inject({ url: "/scim/v2/Users" });
    expectScimError(none, 401);
    expect(none.headers["www-authenticate"]).toMatch(/^Bearer/);
    const wrong = await scim("GET", "/Users", undefined, "not-the-admin-token-0123456789abcdef");
    expectScimError(wrong, 401);
    expect(wrong.headers["www-authenticate"]).toContain('error="invalid_token"');
    const basic = await t.app.inject({ url: "/scim/v2/Users", headers: { authorization: "Basic YTpi" } });
    expectScimError(basic, 401);
  });

  it("serves ServiceProviderConfig, ResourceTypes and Schemas truthfully", async () => {
    const config = (await scim("GET", "/ServiceProviderConfig")).json();
    expect(config.patch.supported).toBe(true);
    expect(config.filter).toEqual({ supported: true, maxResults: 1000 });
    expect(config.bulk.supported).toBe(false);
    expect(config.sort.supported).toBe(false);
    const types = (await scim("GET", "/ResourceTypes")).json();
    expect(types.schemas).toEqual([LIST]);
    expect(types.Resources.map((r: { id: string }) => r.id)).toEqual(["User", "Group"]);
    expect((await scim("GET", "/ResourceTypes/User")).json().endpoint).toBe("/Users");
    const schemas = (await scim("GET", "/Schemas")).json();
    expect(schemas.Resources.map((s: { id: string }) => s.id)).toEqual([USER, GROUP]);
    const user = (await scim("GET", `/Schemas/${USER}`)).json();
    const password = user.attributes.find((a: { name: string }) => a.name === "password");
    expect(password).toMatchObject({ mutability: "writeOnly", returned: "never" });
    expectScimError(await scim("GET", "/Schemas/urn:nope"), 404);
  });

  it("creates a user (201, Location, meta) and never returns the password", async () => {
    const response = await scim(
      "POST",
      "/Users",
      newUser("Bjensen", {
        externalId: "ext-1",
        name: { givenName: "Barbara", familyName: "Jensen" },
        displayName: "Babs Jensen",
        emails: [
          { value: "bjensen@example.com", type: "work", primary: true },
          { value: "babs@home.example", type: "home" },
        ],
        password: PASSWORD,
      }),
    );
    expect(response.statusCode).toBe(201);
    expect(String(response.headers["content-type"])).toMatch(/^application\/scim\+json/);
    const body = response.json();
    ids.bjensen = body.id;
    expect(response.headers.location).toBe(`https://id.example.test/scim/v2/Users/${body.id}`);
    expect(body).toMatchObject({
      schemas: [USER],
      userName: "Bjensen",
      externalId: "ext-1",
      name: { givenName: "Barbara", familyName: "Jensen", formatted: "Barbara Jensen" },
      displayName: "Babs Jensen",
      active: true,
      meta: { resourceType: "User", location: response.headers.location, version: 'W/"1"' },
    });
    expect(body.emails).toHaveLength(2);
    expect(response.body).not.toContain(PASSWORD);
    expect(response.body).not.toContain("password");
    expect(Date.parse(body.meta.created)).not.toBeNaN();
    // The password works for signing in.
    await expect(
      t.ctx.accounts.signIn.signIn({ userName: "bjensen", password: PASSWORD, ip: null, userAgent: null }),
    ).resolves.toMatchObject({ id: body.id });
    const fetched = await scim("GET", `/Users/${body.id}`);
    expect(fetched.json()).toEqual(body);
    expect(fetched.headers.etag).toBe('W/"1"');
  });

  it("answers 409 uniqueness for a duplicate userName (case-insensitive)", async () => {
    expectScimError(await scim("POST", "/Users", newUser("BJENSEN")), 409, "uniqueness");
  });

  it("answers 400 for bad bodies: missing userName, wrong types, wrong schemas, bad JSON, weak password", async () => {
    expectScimError(await scim("POST", "/Users", { schemas: [USER] }), 400, "invalidValue");
    expectScimError(await scim("POST", "/Users", newUser("x1", { active: "maybe" })), 400, "invalidValue");
    expectScimError(
      await scim("POST", "/Users", newUser("x2", { emails: [{ value: 42 }] })),
      400,
      "invalidValue",
    );
    expectScimError(
      await scim("POST", "/Users", newUser("x3", { emails: [{ value: "not-an-email" }] })),
      400,
      "invalidValue",
    );
    expectScimError(await scim("POST", "/Users", { schemas: [GROUP], userName: "x4" }), 400, "invalidSyntax");
    expectScimError(
      await scim("POST", "/Users", newUser("x5", { password: "password" })),
      400,
      "invalidValue",
    );
    const badJson = await t.app.inject({
      method: "POST",
      url: "/scim/v2/Users",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/scim+json" },
      payload: "{not json",
    });
    expectScimError(badJson, 400, "invalidSyntax");
    const proto = await t.app.inject({
      method: "POST",
      url: "/scim/v2/Users",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/scim+json" },
      payload: `{"schemas":["${USER}"],"userName":"p","__proto__":{"admin":true}}`,
    });
    expectScimError(proto, 400);
    expect((await scim("GET", '/Users?filter=userName sw "x"')).json().totalResults).toBe(0);
  });

  it("filters users with eq, co, sw, pr, and, or on userName, emails, displayName and active", async () => {
    for (const [userName, displayName, email, active] of [
      ["jsmith", "John Smith", "john@example.com", true],
      ["asmith", "Anna Smith", "anna@example.org", false],
      ["mmiller", "Mia Miller", "mia@example.com", true],
      ["nodisplay", null, null, true],
    ] as const) {
      const response = await scim(
        "POST",
        "/Users",
        newUser(userName, {
          ...(displayName ? { displayName } : {}),
          ...(email ? { emails: [{ value: email, type: "work", primary: true }] } : {}),
          active,
        }),
      );
      expect(response.statusCode).toBe(201);
      ids[userName] = response.json().id;
    }
    const names = async (filter: string) => {
      const response = await scim("GET", `/Users?filter=${encodeURIComponent(filter)}`);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.schemas).toEqual([LIST]);
      expect(body.totalResults).toBe(body.Resources.length);
      return body.Resources.map((r: { userName: string }) => r.userName).sort();
    };
    expect(await names('userName eq "JSMITH"')).toEqual(["jsmith"]);
    expect(await names('userName sw "a"')).toEqual(["asmith"]);
    expect(await names('displayName co "smith"')).toEqual(["asmith", "jsmith"]);
    expect(await names('emails co "@example.com"')).toEqual(["Bjensen", "jsmith", "mmiller"]);
    expect(await names('emails.value eq "MIA@example.com"')).toEqual(["mmiller"]);
    expect(await names('emails[type eq "home"]')).toEqual(["Bjensen"]);
    expect(await names("active eq false")).toEqual(["asmith"]);
    expect(await names('displayName co "Smith" and active eq true')).toEqual(["jsmith"]);
    expect(await names('userName eq "mmiller" or userName eq "asmith"')).toEqual(["asmith", "mmiller"]);
    expect(await names('displayName pr and not (userName sw "b")')).toEqual(["asmith", "jsmith", "mmiller"]);
    expect(await names('userName eq "nobody"')).toEqual([]);
  });

  it("answers 400 invalidFilter for bad filters, and never runs them as SQL", async () => {
    for (const filter of [
      "userName eq",
      'userName eq "x" and',
      "userName = 'x'",
      '(userName eq "x"',
      'nosuchattr eq "x"',
      "active gt true",
      'userName eq "x"; drop table users; --',
      '"',
      "a".repeat(5000),
      `${"(".repeat(100)}userName eq "x"${")".repeat(100)}`,
    ]) {
      expectScimError(await scim("GET", `/Users?filter=${encodeURIComponent(filter)}`), 400, "invalidFilter");
    }
    expect((await scim("GET", "/Users?count=1")).json().totalResults).toBeGreaterThan(3);
  });

  it("pages with startIndex and count (1-based), capping count at 1000", async () => {
    const all = (await scim("GET", "/Users")).json();
    const page = (await scim("GET", "/Users?startIndex=2&count=2")).json();
    expect(page).toMatchObject({ totalResults: all.totalResults, startIndex: 2, itemsPerPage: 2 });
    expect(page.Resources.map((r: { id: string }) => r.id)).toEqual(
      all.Resources.slice(1, 3).map((r: { id: string }) => r.id),
    );
    const zero = (await scim("GET", "/Users?count=0")).json();
    expect(zero).toMatchObject({ totalResults: all.totalResults, itemsPerPage: 0, Resources: [] });
    const beyond = (await scim("GET", "/Users?startIndex=1000")).json();
    expect(beyond.Resources).toEqual([]);
    expect((await scim("GET", "/Users?startIndex=0&count=1")).json().startIndex).toBe(1);
    expectScimError(await scim("GET", "/Users?count=abc"), 400, "invalidValue");
  });

  it("projects attributes and excludedAttributes", async () => {
    const only = (await scim("GET", `/Users/${ids.bjensen}?attributes=userName`)).json();
    expect(Object.keys(only).sort()).toEqual(["id", "meta", "schemas", "userName"]);
    const without = (await scim("GET", `/Users/${ids.bjensen}?excludedAttributes=emails,name`)).json();
    expect(without.emails).toBeUndefined();
    expect(without.name).toBeUndefined();
    expect(without.userName).toBe("Bjensen");
  });

  it("replaces a user with PUT (attributes not sent are cleared)", async () => {
    const response = await scim("PUT", `/Users/${ids.jsmith}`, newUser("jsmith", { displayName: "Johnny" }));
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      userName: "jsmith",
      displayName: "Johnny",
      active: true,
      meta: { version: 'W/"2"' },
    });
    expect(body.emails).toBeUndefined();
    expectScimError(await scim("PUT", `/Users/${ids.jsmith}`, newUser("bjensen")), 409, "uniqueness");
    expectScimError(await scim("PUT", "/Users/00000000-0000-0000-0000-000000000000", newUser("ghost")), 404);
  });

  it("patches users: replace with and without path, value filters, add, remove, password", async () => {
    const patch = (operations: unknown[]) =>
      scim("PATCH", `/Users/${ids.bjensen}`, { schemas: [PATCH], Operations: operations });
    let body = (await patch([{ op: "replace", path: "displayName", value: "B. Jensen" }])).json();
    expect(body.displayName).toBe("B. Jensen");
    body = (await patch([{ op: "Replace", value: { "name.givenName": "Barb", active: "False" } }])).json();
    expect(body.name.givenName).toBe("Barb");
    expect(body.active).toBe(false);
    body = (
      await patch([{ op: "replace", path: 'emails[type eq "work"].value', value: "barbara@example.com" }])
    ).json();
    expect(body.emails.find((e: { type: string }) => e.type === "work").value).toBe("barbara@example.com");
    body = (
      await patch([{ op: "add", path: "emails", value: [{ value: "b@third.example", type: "other" }] }])
    ).json();
    expect(body.emails).toHaveLength(3);
    body = (await patch([{ op: "remove", path: 'emails[type eq "home"]' }])).json();
    expect(body.emails.map((e: { type: string }) => e.type).sort()).toEqual(["other", "work"]);
    body = (
      await patch([
        { op: "remove", path: "displayName" },
        { op: "replace", path: "active", value: true },
      ])
    ).json();
    expect(body.displayName).toBeUndefined();
    expect(body.active).toBe(true);
    const newPassword = "another strong passphrase 88";
    const pw = await patch([{ op: "replace", path: "password", value: newPassword }]);
    expect(pw.statusCode).toBe(200);
    expect(pw.body).not.toContain(newPassword);
    await expect(
      t.ctx.accounts.signIn.signIn({ userName: "bjensen", password: newPassword, ip: null, userAgent: null }),
    ).resolves.toBeDefined();
  });

  it("refuses bad PATCH requests with the right scimType, changing nothing", async () => {
    const before = (await scim("GET", `/Users/${ids.bjensen}`)).json();
    const patch = (body: unknown) => scim("PATCH", `/Users/${ids.bjensen}`, body);
    expectScimError(await patch({ schemas: [USER], Operations: [] }), 400, "invalidSyntax");
    expectScimError(await patch({ schemas: [PATCH], Operations: [] }), 400, "invalidSyntax");
    expectScimError(
      await patch({ schemas: [PATCH], Operations: [{ op: "move", path: "x", value: 1 }] }),
      400,
      "invalidSyntax",
    );
    expectScimError(await patch({ schemas: [PATCH], Operations: [{ op: "remove" }] }), 400, "noTarget");
    expectScimError(
      await patch({ schemas: [PATCH], Operations: [{ op: "replace", path: "nope", value: 1 }] }),
      400,
      "invalidPath",
    );
    expectScimError(
      await patch({ schemas: [PATCH], Operations: [{ op: "replace", path: "id", value: "x" }] }),
      400,
      "mutability",
    );
    expectScimError(
      await patch({ schemas: [PATCH], Operations: [{ op: "replace", path: "groups", value: [] }] }),
      400,
      "mutability",
    );
    expectScimError(
      await patch({ schemas: [PATCH], Operations: [{ op: "remove", path: "userName" }] }),
      400,
      "invalidValue",
    );
    expectScimError(
      await patch({
        schemas: [PATCH],
        Operations: [{ op: "replace", path: 'emails[type eq "fax"].value', value: "a@b.c" }],
      }),
      400,
      "noTarget",
    );
    expectScimError(
      await patch({ schemas: [PATCH], Operations: [{ op: "replace", path: "emails[type eq]", value: 1 }] }),
      400,
      "invalidFilter",
    );
    // An operation list that fails half-way changes nothing (applied in memory, stored once).
    expectScimError(
      await patch({
        schemas: [PATCH],
        Operations: [
          { op: "replace", path: "displayName", value: "Changed" },
          { op: "replace", path: "nope", value: 1 },
        ],
      }),
      400,
      "invalidPath",
    );
    const after = (await scim("GET", `/Users/${ids.bjensen}`)).json();
    expect(after).toEqual(before);
  });

  it("deactivating a user through SCIM ends their sessions at once", async () => {
    const { token } = await t.ctx.accounts.sessions.create({
      userId: ids.mmiller!,
      amr: ["pwd"],
      remember: false,
    });
    expect(await t.ctx.accounts.sessions.check(token)).toBeDefined();
    const response = await scim("PATCH", `/Users/${ids.mmiller}`, {
      schemas: [PATCH],
      Operations: [{ op: "replace", path: "active", value: false }],
    });
    expect(response.json().active).toBe(false);
    expect(await t.ctx.accounts.sessions.check(token)).toBeUndefined();
  });

  it("manages groups: create, filter, patch members (add, remove by filter and by value), PUT, delete", async () => {
    const created = await scim("POST", "/Groups", {
      schemas: [GROUP],
      displayName: "Engineering",
      members: [{ value: ids.bjensen }, { value: ids.jsmith }],
    });
    expect(created.statusCode).toBe(201);
    const group = created.json();
    expect(group.members.map((m: { display: string }) => m.display).sort()).toEqual(["Bjensen", "jsmith"]);
    expectScimError(
      await scim("POST", "/Groups", { schemas: [GROUP], displayName: "ENGINEERING" }),
      409,
      "uniqueness",
    );
    expectScimError(
      await scim("POST", "/Groups", {
        schemas: [GROUP],
        displayName: "Ghosts",
        members: [{ value: "nope" }],
      }),
      400,
      "invalidValue",
    );
    const user = (await scim("GET", `/Users/${ids.bjensen}`)).json();
    expect(user.groups).toEqual([
      { value: group.id, display: "Engineering", $ref: `https://id.example.test/scim/v2/Groups/${group.id}` },
    ]);
    const filtered = (
      await scim("GET", `/Groups?filter=${encodeURIComponent('displayName eq "engineering"')}`)
    ).json();
    expect(filtered.Resources.map((g: { id: string }) => g.id)).toEqual([group.id]);
    const byMember = (
      await scim("GET", `/Groups?filter=${encodeURIComponent(`members.value eq "${ids.jsmith}"`)}`)
    ).json();
    expect(byMember.totalResults).toBe(1);

    const patch = (operations: unknown[]) =>
      scim("PATCH", `/Groups/${group.id}`, { schemas: [PATCH], Operations: operations });
    let body = (await patch([{ op: "add", path: "members", value: [{ value: ids.asmith }] }])).json();
    expect(body.members).toHaveLength(3);
    body = (await patch([{ op: "remove", path: `members[value eq "${ids.jsmith}"]` }])).json();
    expect(body.members.map((m: { value: string }) => m.value).sort()).toEqual(
      [ids.asmith, ids.bjensen].sort(),
    );
    body = (await patch([{ op: "remove", path: "members", value: [{ value: ids.asmith }] }])).json();
    expect(body.members.map((m: { value: string }) => m.value)).toEqual([ids.bjensen]);
    body = (await patch([{ op: "replace", path: "displayName", value: "Platform" }])).json();
    expect(body.displayName).toBe("Platform");

    const put = await scim("PUT", `/Groups/${group.id}`, {
      schemas: [GROUP],
      displayName: "Platform",
      members: [],
    });
    expect(put.json().members).toEqual([]);
    expect((await scim("DELETE", `/Groups/${group.id}`)).statusCode).toBe(204);
    expectScimError(await scim("GET", `/Groups/${group.id}`), 404);
  });

  it("deletes a user: 204, then 404; their sessions are gone", async () => {
    const { token } = await t.ctx.accounts.sessions.create({
      userId: ids.asmith!,
      amr: ["pwd"],
      remember: false,
    });
    expect((await scim("DELETE", `/Users/${ids.asmith}`)).statusCode).toBe(204);
    expectScimError(await scim("GET", `/Users/${ids.asmith}`), 404);
    expectScimError(await scim("DELETE", `/Users/${ids.asmith}`), 404);
    expect(await t.ctx.accounts.sessions.check(token)).toBeUndefined();
  });

  it("answers unknown SCIM paths and wrong content types in SCIM format", async () => {
    expectScimError(await scim("GET", "/Nope"), 404);
    const xml = await t.app.inject({
      method: "POST",
      url: "/scim/v2/Users",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/xml" },
      payload: "<user/>",
    });
    expectScimError(xml, 415);
    const json = await t.app.inject({
      method: "POST",
      url: "/scim/v2/Users",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/json" },
      payload: JSON.stringify(newUser("plainjson")),
    });
    expect(json.statusCode).toBe(201);
  });

  it("writes audit events naming the SCIM token as actor", async () => {
    const events = await t.ctx.accounts.audit.list({ userId: ids.bjensen, type: "user.created" });
    expect(events[0]?.actor).toBe("scim:bootstrap");
  });
});
