/** `tessera bff`: listed in the help; a missing or invalid configuration is a usage error (exit 2). */
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";

describe("tessera bff", () => {
  afterEach(() => vi.restoreAllMocks());

  it("is listed in the help", async () => {
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    expect(await main(["--help"], {})).toBe(0);
    expect(String(out.mock.calls[0]?.[0])).toMatch(/^\s+bff\s+Run the backend-for-frontend/m);
  });

  it("refuses to start without its configuration, naming what is missing", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect(await main(["bff"], {})).toBe(2);
    expect(String(err.mock.calls[0]?.[0])).toContain("BFF_ISSUER is required");
    expect(
      await main(["bff"], {
        BFF_ISSUER: "https://id.example.test",
        BFF_CLIENT_ID: "c",
        BFF_CLIENT_SECRET: "s",
        BFF_PUBLIC_URL: "https://app.example.test",
        BFF_MASTER_KEY: "not-a-key",
      }),
    ).toBe(2);
    expect(String(err.mock.calls[1]?.[0])).toContain("BFF_MASTER_KEY");
  });
});
