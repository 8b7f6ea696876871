import { describe, expect, it } from "vitest";
import { pooledRandomBytes, randomId } from "../../src/crypto/random.js";

describe("pooled random bytes", () => {
  it("never hands out the same bytes twice, across pool refills", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(randomId(16));
    expect(seen.size).toBe(2000);
    expect(randomId(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("returns copies, not views into the pool", () => {
    const a = pooledRandomBytes(32);
    const before = Buffer.from(a);
    for (let i = 0; i < 300; i++) pooledRandomBytes(32); // forces a refill over a's old place
    expect(a.equals(before)).toBe(true);
  });

  it("looks uniform: every byte value appears, none far off its expected count", () => {
    const counts = new Array(256).fill(0);
    for (let i = 0; i < 1024; i++) for (const b of pooledRandomBytes(64)) counts[b]++;
    const expected = (1024 * 64) / 256;
    for (const c of counts) {
      expect(c).toBeGreaterThan(expected * 0.7);
      expect(c).toBeLessThan(expected * 1.3);
    }
  });

  it("refuses sizes outside 1..256", () => {
    expect(() => pooledRandomBytes(0)).toThrow(RangeError);
    expect(() => pooledRandomBytes(257)).toThrow(RangeError);
  });
});
