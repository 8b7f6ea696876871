/**
 * `tessera idp …` as an operator runs it (the built binary, a child process) against a real upstream OpenID
 * provider on loopback: add (secret from stdin only), list, show, update, remove — and the refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTessera } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import { type OidcUpstream, startOidcUpstream } from "./upstreams.js";

const SECRET = "cli-client-secret-0123456789";

describe("tessera idp", () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let upstream: OidcUpstream;

  beforeAll(async () => {
    [db, upstream] = await Promise.all([createTestDatabase("sqlite"), startOidcUpstream()]);
    env = { DATABASE_URL: db.url, TESSERA_ISSUER: "https://id.example.com" };
  });
  afterAll(async () => {
    await upstream?.close();
    await db?.drop();
  });

  it("adds, lists, shows, changes and removes a provider; the secret only ever goes in", async () => {
    const add = await runTessera(
      [
        "idp",
        "add",
        "--display-name",
        "Corp SSO",
        "--issuer",
        upstream.issuer,
        "--client-id",
        "tessera",
        "--client-secret-stdin",
        "--allow-private-network",
        "on",
        "--group-map",
        "engineers=Engineering",
      ],
      env,
      `${SECRET}\n`,
    );
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    const match =
      /^Added Corp SSO \(id (idp_[A-Za-z0-9]+)\)\.\nRegister this redirect URI at the provider: (\S+)\n$/.exec(
        add.stdout,
      );
    expect(match).not.toBeNull();
    const [, id, redirectUri] = match!;
    expect(redirectUri).toBe(`https://id.example.com/federation/${id}/callback`);

    const list = await runTessera(["idp", "list", "--json"], env);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id,
      displayName: "Corp SSO",
      hasClientSecret: true,
      groupMapping: { engineers: "Engineering" },
    });

    const show = await runTessera(["idp", "show", id!], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`redirect URI:  ${redirectUri}`);
    for (const r of [add, list, show]) expect(r.stdout + r.stderr).not.toContain(SECRET);

    const update = await runTessera(["idp", "update", id!, "--jit", "on", "--domains", "corp.example"], env);
    expect(update.code).toBe(0);
    const after = JSON.parse((await runTessera(["idp", "show", id!, "--json"], env)).stdout);
    expect(after).toMatchObject({ jit: true, allowedDomains: ["corp.example"] });

    const remove = await runTessera(["idp", "remove", id!], env);
    expect(remove.code).toBe(0);
    expect(JSON.parse((await runTessera(["idp", "list", "--json"], env)).stdout)).toEqual([]);
  });

  it("refuses an internal provider without --allow-private-network, and a bad issuer", async () => {
    const internal = await runTessera(
      [
        "idp",
        "add",
        "--display-name",
        "X",
        "--issuer",
        upstream.issuer,
        "--client-id",
        "x",
        "--client-secret-stdin",
      ],
      env,
      "s3cret\n",
    );
    expect(internal.code).toBe(1);
    expect(internal.stderr).toMatch(/allowPrivateNetwork/);
    const bad = await runTessera(
      [
        "idp",
        "add",
        "--display-name",
        "X",
        "--issuer",
        "ftp://idp.example",
        "--client-id",
        "x",
        "--client-secret-stdin",
      ],
      env,
      "s3cret\n",
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/issuer must be an https URL/);
    expect(JSON.parse((await runTessera(["idp", "list", "--json"], env)).stdout)).toEqual([]);
  });

  it("refuses bad usage and unknown ids", async () => {
    const onOff = await runTessera(["idp", "update", "idp_x", "--jit", "maybe"], env);
    expect(onOff.code).toBe(2);
    expect(onOff.stderr).toMatch(/--jit takes on or off/);
    expect((await runTessera(["idp", "show", "idp_nothing"], env)).code).toBe(1);
    expect((await runTessera(["idp", "remove", "idp_nothing"], env)).code).toBe(1);
    expect((await runTessera(["idp", "frobnicate"], env)).code).toBe(2);
  });
});
