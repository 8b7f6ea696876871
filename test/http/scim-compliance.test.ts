/**
 * SCIM behaviour pinned to RFC 7643 / RFC 7644, with every response run through the RFC-derived shape checks
 * of test/scim/conformance.ts:
 *
 * - `active` is never turned back on by omission: a PUT without it keeps the current state; PATCH `remove`
 *   of `active` (or `replace` with null) disables, as GET then shows; administrators cannot be re-enabled
 *   through SCIM, but a PUT that leaves `active` out is no attempt to.
 * - SearchRequest (`POST /.search`, `/Users/.search`, `/Groups/.search`) answers what the GET listing
 *   answers, including paging and projection; the root search pages over users then groups.
 * - A walk over every endpoint and error case, each answer shape-checked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";
import { checkScimResponse, URN } from "../scim/conformance.js";

const BY = { actor: "test", authority: "admin" as const };
type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
type Resource = Record<string, unknown> & { id: string; active?: boolean; meta: Record<string, unknown> };

describe.each(DIALECTS)("SCIM RFC 7643/7644 conformance on %s", (dialect) => {
  let t: TestApp;
  let checked = 0;

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: "https://id.example.test" } });
  });
  afterAll(async () => {
    await t.close();
  });

  /** One SCIM call; the answer is shape-checked before the test sees it. */
  async function scim(
    method: Method,
    url: string,
    body?: unknown,
    headers: Record<string, string> = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  ) {
    const response = await t.app.inject({
      method,
      url: `/scim/v2${url}`,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { "content-type": "application/scim+json" }),
      },
      ...(body === undefined ? {} : { payload: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const asked = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    const projected =
      /[?&](attributes|excludedAttributes)=/.test(url) ||
      asked.attributes !== undefined ||
      asked.excludedAttributes !== undefined;
    checkScimResponse(method, url, response, { projected });
    checked++;
    return response;
  }

  const patch = (...operations: unknown[]) => ({ schemas: [URN.patch], Operations: operations });
  const search = (request: Record<string, unknown>) => ({ schemas: [URN.search], ...request });

  async function createUser(userName: string, extra: Record<string, unknown> = {}): Promise<Resource> {
    const response = await scim("POST", "/Users", { schemas: [URN.user], userName, ...extra });
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  }

  /** What a client that read the user sends back on PUT, minus `active` (and the read-only parts). */
  async function putWithoutActive(id: string, changes: Record<string, unknown> = {}) {
    const current = (await scim("GET", `/Users/${id}`)).json();
    const { meta: _meta, id: _id, groups: _groups, active: _active, ...rest } = current;
    return scim("PUT", `/Users/${id}`, { ...rest, ...changes });
  }

  const activeNow = async (id: string) => (await scim("GET", `/Users/${id}`)).json().active as boolean;

  describe("active", () => {
    it("a PUT that omits active keeps the current state, in both directions", async () => {
      const user = await createUser("put-omits-active");
      expect(user.active).toBe(true);
      const disable = await scim(
        "PATCH",
        `/Users/${user.id}`,
        patch({ op: "replace", path: "active", value: false }),
      );
      expect(disable.json().active).toBe(false);

      // The bug: a full replacement without `active` used to re-enable the user.
      const put = await putWithoutActive(user.id, { displayName: "Renamed" });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.json()).toMatchObject({ displayName: "Renamed", active: false });
      expect(await activeNow(user.id)).toBe(false);
      expect((await t.ctx.accounts.users.get(user.id))?.active).toBe(false);

      // null is the same state as absent (RFC 7643 §2.5).
      expect((await putWithoutActive(user.id, { active: null })).json().active).toBe(false);

      // Saying it re-enables; omitting it again then keeps it enabled (omission never disables either).
      expect((await putWithoutActive(user.id, { active: true })).json().active).toBe(true);
      expect((await putWithoutActive(user.id, { displayName: "Again" })).json().active).toBe(true);
      expect((await putWithoutActive(user.id, { active: "False" })).json().active).toBe(false);
    });

    it("a POST without active creates an active user", async () => {
      expect((await createUser("post-omits-active")).active).toBe(true);
      expect((await createUser("post-inactive", { active: false })).active).toBe(false);
    });

    it("PATCH remove of active disables (what GET then shows) and never enables", async () => {
      const user = await createUser("patch-remove-active");
      const removed = await scim("PATCH", `/Users/${user.id}`, patch({ op: "remove", path: "active" }));
      expect(removed.statusCode, removed.body).toBe(200);
      expect(removed.json().active).toBe(false);
      expect(await activeNow(user.id)).toBe(false);
      // Again on a disabled user: still disabled.
      await scim("PATCH", `/Users/${user.id}`, patch({ op: "remove", path: "active" }));
      expect(await activeNow(user.id)).toBe(false);
      // replace with null is a removal too; other changes leave active alone.
      await scim("PATCH", `/Users/${user.id}`, patch({ op: "replace", path: "active", value: true }));
      await scim("PATCH", `/Users/${user.id}`, patch({ op: "replace", value: { active: null } }));
      expect(await activeNow(user.id)).toBe(false);
      await scim(
        "PATCH",
        `/Users/${user.id}`,
        patch({ op: "replace", path: "displayName", value: "Still off" }),
      );
      await scim("PATCH", `/Users/${user.id}`, patch({ op: "add", value: { "name.givenName": "Off" } }));
      expect(await activeNow(user.id)).toBe(false);
    });

    it("a disabled administrator stays disabled: PUT without active is fine, re-enabling is 403", async () => {
      const admin = await createUser("disabled-admin", {
        emails: [{ value: "da@example.test", primary: true }],
      });
      await t.ctx.accounts.administrators.grant(admin.id, BY);
      const off = await scim(
        "PATCH",
        `/Users/${admin.id}`,
        patch({ op: "replace", path: "active", value: false }),
      );
      expect(off.statusCode, off.body).toBe(200);

      // Harmless replacement that does not mention active: no attempt to enable, so not refused.
      const put = await putWithoutActive(admin.id, { displayName: "Former admin" });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.json().active).toBe(false);
      expect(
        (await scim("PATCH", `/Users/${admin.id}`, patch({ op: "remove", path: "active" }))).statusCode,
      ).toBe(200);

      // Explicit re-enabling is refused, by PUT and by PATCH.
      expect((await putWithoutActive(admin.id, { active: true })).statusCode).toBe(403);
      const enable = await scim(
        "PATCH",
        `/Users/${admin.id}`,
        patch({ op: "replace", value: { active: "True" } }),
      );
      expect(enable.statusCode).toBe(403);
      expect((await t.ctx.accounts.users.get(admin.id))?.active).toBe(false);
    });
  });

  describe("SearchRequest (POST …/.search)", () => {
    const ids = (response: { json(): { Resources?: { id: string }[] } }) =>
      (response.json().Resources ?? []).map((r) => r.id);

    // In the server's listing order (creation time, then id: the test clock may give equal times).
    let users: Resource[] = [];
    let groups: Resource[] = [];
    let member: string;

    beforeAll(async () => {
      for (const name of ["a", "b", "c", "d", "e"]) {
        users.push(
          await createUser(`srch-${name}`, {
            displayName: `srch display ${name}`,
            emails: [{ value: `srch-${name}@example.test`, type: "work", primary: true }],
          }),
        );
      }
      for (const name of ["x", "y"]) {
        const response = await scim("POST", "/Groups", {
          schemas: [URN.group],
          displayName: `srch group ${name}`,
          members: [{ value: users[0]!.id }],
        });
        groups.push(response.json());
      }
      member = users[0]!.id;
      const order = async (path: string, filter: string) =>
        ids(await scim("GET", `${path}?filter=${encodeURIComponent(filter)}`));
      const byOrder = (list: Resource[], ordered: string[]) =>
        ordered.map((id) => list.find((r) => r.id === id)!);
      users = byOrder(users, await order("/Users", 'userName sw "srch-"'));
      groups = byOrder(groups, await order("/Groups", 'displayName sw "srch group"'));
      expect(users).toHaveLength(5);
      expect(groups).toHaveLength(2);
    });

    it("answers /Users/.search as GET /Users answers the same query", async () => {
      const filter = 'userName sw "srch-" and emails[type eq "work"]';
      const posted = await scim(
        "POST",
        "/Users/.search",
        search({
          filter,
          startIndex: 2,
          count: 2,
          attributes: ["userName", "urn:ietf:params:scim:schemas:core:2.0:User:emails.value"],
        }),
      );
      expect(posted.statusCode, posted.body).toBe(200);
      const body = posted.json();
      expect(body).toMatchObject({ schemas: [URN.list], totalResults: 5, startIndex: 2, itemsPerPage: 2 });
      expect(ids(posted)).toEqual(users.slice(1, 3).map((u) => u.id));
      expect(Object.keys(body.Resources[0]).sort()).toEqual(["emails", "id", "meta", "schemas", "userName"]);

      const query = new URLSearchParams({
        filter,
        startIndex: "2",
        count: "2",
        attributes: "userName,emails.value",
      });
      const got = await scim("GET", `/Users?${query}`);
      expect(got.json()).toEqual(body);
    });

    it("honours excludedAttributes, defaults, case-insensitive names and ignores sorting", async () => {
      const posted = await scim("POST", "/Users/.search", {
        SCHEMAS: [URN.search],
        Filter: 'userName sw "srch-"',
        excludedAttributes: ["emails", "name"],
        sortBy: "userName",
        sortOrder: "descending",
      });
      expect(posted.statusCode, posted.body).toBe(200);
      expect(posted.json()).toMatchObject({ totalResults: 5, startIndex: 1, itemsPerPage: 5 });
      expect(ids(posted)).toEqual(users.map((u) => u.id));
      expect(posted.json().Resources[0]).not.toHaveProperty("emails");
      expect(posted.json().Resources[0]).toHaveProperty("displayName");
      const counted = await scim(
        "POST",
        "/Users/.search",
        search({ filter: 'userName sw "srch-"', count: 0 }),
      );
      expect(counted.json()).toMatchObject({ totalResults: 5, itemsPerPage: 0, Resources: [] });
      const lenient = await scim("POST", "/Users/.search", search({ startIndex: "0", count: "1" }));
      expect(lenient.json()).toMatchObject({ startIndex: 1, itemsPerPage: 1 });
    });

    it("answers /Groups/.search", async () => {
      const posted = await scim(
        "POST",
        "/Groups/.search",
        search({ filter: `members.value eq "${member}"`, attributes: ["displayName"] }),
      );
      expect(posted.statusCode, posted.body).toBe(200);
      expect(ids(posted)).toEqual(groups.map((g) => g.id));
      expect(posted.json().Resources[0]).not.toHaveProperty("members");
    });

    it("searches every resource type at the root, paging over users then groups", async () => {
      const filter = 'displayName sw "srch "';
      const all = await scim("POST", "/.search", search({ filter }));
      expect(all.statusCode, all.body).toBe(200);
      expect(all.json().totalResults).toBe(7);
      expect(ids(all)).toEqual([...users, ...groups].map((r) => r.id));
      expect(all.json().Resources.map((r: Resource) => r.meta.resourceType)).toEqual([
        ...users.map(() => "User"),
        ...groups.map(() => "Group"),
      ]);
      // A page that straddles the two types, and one wholly in the second.
      const straddle = await scim("POST", "/.search", search({ filter, startIndex: 4, count: 3 }));
      expect(straddle.json()).toMatchObject({ totalResults: 7, startIndex: 4, itemsPerPage: 3 });
      expect(ids(straddle)).toEqual([users[3]!.id, users[4]!.id, groups[0]!.id]);
      const tail = await scim("POST", "/.search", search({ filter, startIndex: 7, count: 5 }));
      expect(ids(tail)).toEqual([groups[1]!.id]);
      const beyond = await scim("POST", "/.search", search({ filter, startIndex: 8 }));
      expect(beyond.json()).toMatchObject({ totalResults: 7, itemsPerPage: 0 });
      // An attribute only one type has selects from that type only.
      const c = users.find((u) => u.userName === "srch-c")!;
      expect(ids(await scim("POST", "/.search", search({ filter: 'userName eq "srch-c"' })))).toEqual([c.id]);
      expect(ids(await scim("POST", "/.search", search({ filter: `members.value eq "${member}"` })))).toEqual(
        groups.map((g) => g.id),
      );
    });

    it("refuses malformed SearchRequests with SCIM errors, never 404", async () => {
      const cases: [unknown, number, string][] = [
        [{ filter: 'userName eq "x"' }, 400, "invalidSyntax"],
        [{ schemas: [URN.patch] }, 400, "invalidSyntax"],
        [search({ filter: "userName eq" }), 400, "invalidFilter"],
        [search({ filter: 42 }), 400, "invalidFilter"],
        [search({ filter: 'nosuch eq "x"' }), 400, "invalidFilter"],
        [search({ startIndex: 1.5 }), 400, "invalidValue"],
        [search({ count: "ten" }), 400, "invalidValue"],
        [search({ attributes: [1] }), 400, "invalidValue"],
        [[], 400, "invalidValue"],
        ["{not json", 400, "invalidSyntax"],
      ];
      for (const path of ["/.search", "/Users/.search", "/Groups/.search"]) {
        for (const [body, status, scimType] of cases) {
          const response = await scim("POST", path, body);
          expect(response.statusCode, `${path} ${JSON.stringify(body)}: ${response.body}`).toBe(status);
          expect(response.json().scimType, `${path} ${JSON.stringify(body)}`).toBe(scimType);
        }
      }
      // Root search: a type error in an attribute both types have is still refused.
      const typed = await scim("POST", "/.search", search({ filter: "displayName gt true" }));
      expect(typed.statusCode).toBe(400);
      // Still authenticated like every other endpoint.
      const anonymous = await scim("POST", "/.search", search({}), {});
      expect(anonymous.statusCode).toBe(401);
    });
  });

  it("every endpoint and error case answers in RFC shape", async () => {
    const before = checked;
    for (const path of [
      "/ServiceProviderConfig",
      "/ResourceTypes",
      "/ResourceTypes/User",
      "/ResourceTypes/Group",
    ])
      expect((await scim("GET", path)).statusCode).toBe(200);
    expect((await scim("GET", "/Schemas")).statusCode).toBe(200);
    expect((await scim("GET", `/Schemas/${URN.user}`)).statusCode).toBe(200);
    expect((await scim("GET", `/Schemas/${URN.group}`)).statusCode).toBe(200);

    const user = await createUser("walk-user", {
      externalId: "walk-ext",
      name: { givenName: "Walk", familyName: "User" },
      displayName: "Walk User",
      emails: [
        { value: "walk@example.test", type: "work", primary: true },
        { value: "walk@home.test", type: "home" },
      ],
      password: "correct horse battery staple 42",
    });
    const group = (
      await scim("POST", "/Groups", {
        schemas: [URN.group],
        displayName: "walk group",
        members: [{ value: user.id }],
      })
    ).json();
    expect((await scim("GET", `/Users/${user.id}`)).json().groups).toHaveLength(1);
    expect((await scim("GET", `/Users/${user.id}?attributes=userName`)).statusCode).toBe(200);
    expect((await scim("GET", `/Users/${user.id}?excludedAttributes=emails,groups`)).statusCode).toBe(200);
    expect((await scim("GET", `/Groups/${group.id}`)).statusCode).toBe(200);
    expect((await scim("GET", "/Users?filter=userName%20eq%20%22walk-user%22")).json().totalResults).toBe(1);
    expect((await scim("GET", "/Groups?count=1")).statusCode).toBe(200);
    expect((await scim("GET", "/Users?count=0")).json().Resources).toEqual([]);

    expect((await putWithoutActive(user.id, { nickName: "ignored" })).statusCode).toBe(200);
    const replacedGroup = await scim("PUT", `/Groups/${group.id}`, {
      schemas: [URN.group],
      displayName: "walk group 2",
      members: [],
    });
    expect(replacedGroup.statusCode).toBe(200);
    expect(
      (
        await scim(
          "PATCH",
          `/Users/${user.id}`,
          patch(
            { op: "replace", path: 'emails[type eq "work"].value', value: "walk2@example.test" },
            { op: "remove", path: 'emails[type eq "home"]' },
          ),
        )
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await scim(
          "PATCH",
          `/Groups/${group.id}`,
          patch({ op: "add", path: "members", value: [{ value: user.id }] }),
        )
      ).statusCode,
    ).toBe(200);

    // Errors, each in the Error message format with the right status and scimType.
    const errors: [Method, string, unknown, number, Record<string, string>?][] = [
      ["GET", "/Users", undefined, 401, {}],
      ["GET", "/Users", undefined, 401, { authorization: "Bearer not-a-valid-token-0123456789abcdef" }],
      ["GET", "/Users/00000000-0000-4000-8000-000000000000", undefined, 404],
      ["GET", "/Groups/nope", undefined, 404],
      ["GET", "/NoSuchEndpoint", undefined, 404],
      ["GET", "/Schemas/urn:nope", undefined, 404],
      ["GET", "/ResourceTypes/Nope", undefined, 404],
      ["GET", "/Users?filter=userName%20eq", undefined, 400],
      ["GET", "/Users?count=abc", undefined, 400],
      ["POST", "/Users", { schemas: [URN.user], userName: "WALK-USER" }, 409],
      ["POST", "/Users", { schemas: [URN.group], userName: "x" }, 400],
      ["POST", "/Users", { schemas: [URN.user] }, 400],
      ["POST", "/Users", { schemas: [URN.user], userName: "weak", password: "x" }, 400],
      ["POST", "/Users", "{broken", 400],
      ["POST", "/Groups", { schemas: [URN.group], displayName: "x", members: [{ value: "nobody" }] }, 400],
      ["PUT", "/Users/00000000-0000-4000-8000-000000000000", { schemas: [URN.user], userName: "ghost" }, 404],
      ["PATCH", `/Users/${user.id}`, patch({ op: "replace", path: "id", value: "x" }), 400],
      ["PATCH", `/Users/${user.id}`, patch({ op: "replace", path: "nosuch", value: "x" }), 400],
      [
        "PATCH",
        `/Users/${user.id}`,
        patch({ op: "replace", path: 'emails[type eq "fax"].value', value: "x" }),
        400,
      ],
      ["PATCH", `/Users/${user.id}`, patch({ op: "remove", path: "userName" }), 400],
      ["PATCH", `/Users/${user.id}`, { Operations: [] }, 400],
      ["DELETE", "/Users/00000000-0000-4000-8000-000000000000", undefined, 404],
    ];
    for (const [method, path, body, status, headers] of errors) {
      const response = await scim(
        method,
        path,
        body,
        headers ?? { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      );
      expect(response.statusCode, `${method} ${path}: ${response.body}`).toBe(status);
    }
    const wrongType = await t.app.inject({
      method: "POST",
      url: "/scim/v2/Users",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "text/plain" },
      payload: "userName=x",
    });
    checkScimResponse("POST", "/Users", wrongType);
    expect(wrongType.statusCode).toBe(415);

    expect((await scim("DELETE", `/Groups/${group.id}`)).statusCode).toBe(204);
    expect((await scim("DELETE", `/Users/${user.id}`)).statusCode).toBe(204);
    expect((await scim("GET", `/Users/${user.id}`)).statusCode).toBe(404);
    expect(checked - before).toBeGreaterThan(40);
  });
});
