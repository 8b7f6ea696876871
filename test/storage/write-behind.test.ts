import { describe, expect, it } from "vitest";
import { createWriteBehind } from "../../src/storage/write-behind.js";

describe("write-behind", () => {
  it("batches the latest value per key, writes on flush, and reports failures without losing later batches", async () => {
    const writes: [string, number][][] = [];
    const errors: unknown[] = [];
    let fail = false;
    const queue = createWriteBehind({
      intervalMs: 60_000,
      async write(entries) {
        if (fail) throw new Error("database down");
        writes.push([...entries]);
      },
      onError: (error) => errors.push(error),
    });
    queue.set("a", 1);
    queue.set("a", 3);
    queue.set("a", 2);
    queue.set("b", 5);
    expect(writes).toEqual([]);
    await queue.flush();
    expect(writes).toEqual([
      [
        ["a", 3],
        ["b", 5],
      ],
    ]);
    await queue.flush();
    expect(writes).toHaveLength(1);
    fail = true;
    queue.set("c", 1);
    await queue.flush();
    expect(errors).toHaveLength(1);
    fail = false;
    queue.set("d", 1);
    await queue.close();
    expect(writes.at(-1)).toEqual([["d", 1]]);
    queue.set("e", 1);
    await queue.flush();
    expect(writes.flat().map(([k]) => k)).not.toContain("e");
  });

  it("writes by itself on the interval", async () => {
    const writes: string[] = [];
    const queue = createWriteBehind({
      intervalMs: 20,
      async write(entries) {
        writes.push(...entries.keys());
      },
      onError: () => undefined,
    });
    queue.set("x", 1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(writes).toEqual(["x"]);
    await queue.close();
  });
});
