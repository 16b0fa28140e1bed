// @vitest-environment node
import { describe, expect, it } from "vitest";
import { backoffCap, backoffDelay } from "./backoff";
import { closeDecision } from "./closeCodes";
import { CLOSE_CODES } from "../protocol/codes";

const opts = { baseMs: 500, maxMs: 20_000 };

describe("backoffDelay (full jitter)", () => {
  it("stays within [0, base * 2^attempt) and never exceeds the max", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const cap = Math.min(20_000, 500 * 2 ** attempt);
      expect(backoffDelay(attempt, opts, () => 0)).toBe(0);
      const top = backoffDelay(attempt, opts, () => 0.999_999);
      expect(top).toBeLessThan(cap);
      expect(top).toBeGreaterThanOrEqual(cap - 1);
    }
  });

  it("grows the window exponentially up to the cap", () => {
    expect([0, 1, 2, 3, 6, 7, 50].map((a) => backoffCap(a, opts))).toEqual([500, 1000, 2000, 4000, 20_000, 20_000, 20_000]);
  });

  it("survives absurd attempt counts", () => {
    expect(backoffCap(10_000, opts)).toBe(20_000);
    expect(backoffCap(-3, opts)).toBe(500);
  });
});

describe("closeDecision", () => {
  it("follows the hub's table for every close code", () => {
    for (const info of Object.values(CLOSE_CODES)) {
      expect(closeDecision(info.code).reconnect).toBe(info.reconnect);
    }
  });

  it("reconnects after a dropped connection (1006) and asks for a fresh token after 4002", () => {
    expect(closeDecision(1006).reconnect).toBe(true);
    expect(closeDecision(4002)).toMatchObject({ reconnect: true, freshToken: true });
    expect(closeDecision(4001)).toMatchObject({ reconnect: false, freshToken: false });
  });
});
