/**
 * The RFC-derived checks of conformance.ts must be able to fail: each known violation is caught, and a
 * well-formed document passes.
 */
import { describe, expect, it } from "vitest";
import { checkError, checkGroup, checkListResponse, checkSchema, checkUser, URN } from "./conformance.js";

const ID = "2819c223-7f76-453a-919d-413861904646";
const USER = {
  schemas: [URN.user],
  id: ID,
  userName: "bjensen",
  active: true,
  emails: [{ value: "b@example.com", type: "work", primary: true }],
  meta: {
    resourceType: "User",
    created: "2026-01-23T04:56:22Z",
    lastModified: "2026-05-13T04:42:34.123Z",
    location: `https://example.com/scim/v2/Users/${ID}`,
    version: 'W/"3"',
  },
};

describe("RFC-derived SCIM shape checks", () => {
  it("accept well-formed documents", () => {
    expect(() => checkUser(USER)).not.toThrow();
    expect(() =>
      checkListResponse({
        schemas: [URN.list],
        totalResults: 1,
        startIndex: 1,
        itemsPerPage: 1,
        Resources: [USER],
      }),
    ).not.toThrow();
    expect(() =>
      checkError({ schemas: [URN.error], status: "409", scimType: "uniqueness", detail: "x" }, 409),
    ).not.toThrow();
  });

  it.each([
    ["password returned", { ...USER, password: "x" }, /returned "never"/],
    ["active as a string", { ...USER, active: "true" }, /expected boolean/],
    ["missing meta", { ...USER, meta: undefined }, /meta: is required/],
    ["bad created", { ...USER, meta: { ...USER.meta, created: "yesterday" } }, /RFC 3339/],
    [
      "created after lastModified",
      { ...USER, meta: { ...USER.meta, created: "2027-01-01T00:00:00Z" } },
      /after/,
    ],
    [
      "wrong location",
      { ...USER, meta: { ...USER.meta, location: "https://example.com/Users/other" } },
      /does not name/,
    ],
    ["version not an ETag", { ...USER, meta: { ...USER.meta, version: "3" } }, /entity-tag/],
    [
      "two primary e-mails",
      {
        ...USER,
        emails: [
          { value: "a", primary: true },
          { value: "b", primary: true },
        ],
      },
      /one primary/,
    ],
    ["emails not an array", { ...USER, emails: { value: "a" } }, /arrays/],
    ["unknown attribute", { ...USER, bogus: 1 }, /not defined by the RFC/],
    ["no core schema", { ...USER, schemas: [URN.group] }, /must include/],
    ["bulkId as id", { ...USER, id: "bulkId" }, /bulkId/],
  ])("catch a User with %s", (_what, user, message) => {
    expect(() => checkUser(user)).toThrow(message);
  });

  it("catch bad groups, lists, errors and schemas", () => {
    const { userName: _u, active: _a, emails: _e, ...common } = USER;
    const group = {
      ...common,
      schemas: [URN.group],
      displayName: "G",
      meta: { ...USER.meta, resourceType: "Group" },
    };
    expect(() => checkGroup(group)).toThrow(/does not name \/Groups/);
    const groupMeta = { ...group.meta, location: `https://example.com/scim/v2/Groups/${ID}` };
    expect(() => checkGroup({ ...group, meta: groupMeta })).not.toThrow();
    expect(() => checkGroup({ ...group, meta: groupMeta, members: [{ value: "u", type: "Robot" }] })).toThrow(
      /type/,
    );
    const list = { schemas: [URN.list], totalResults: 1, startIndex: 1, itemsPerPage: 1, Resources: [USER] };
    expect(() => checkListResponse({ ...list, itemsPerPage: 2 })).toThrow(/itemsPerPage/);
    expect(() => checkListResponse({ ...list, totalResults: 0 })).toThrow(/more Resources/);
    expect(() => checkListResponse({ ...list, startIndex: 0 })).toThrow(/1-based/);
    expect(() => checkListResponse({ ...list, Resources: undefined })).toThrow(/required/);
    expect(() => checkListResponse({ ...list, schemas: [URN.list, URN.user] })).toThrow(/exactly/);
    expect(() => checkError({ schemas: [URN.error], status: 400 }, 400)).toThrow(/as a string/);
    expect(() => checkError({ schemas: [URN.error], status: "404", scimType: "invalidValue" }, 404)).toThrow(
      /goes with 400/,
    );
    expect(() => checkError({ schemas: [URN.error], status: "400", scimType: "badThing" }, 400)).toThrow(
      /keyword/,
    );
    const attribute = { name: "a", type: "string", multiValued: false, required: false };
    expect(() => checkSchema({ schemas: [URN.schema], id: URN.user, attributes: [attribute] })).not.toThrow();
    expect(() =>
      checkSchema({
        schemas: [URN.schema],
        id: URN.user,
        attributes: [{ ...attribute, mutability: "sometimes" }],
      }),
    ).toThrow(/mutability/);
  });
});
