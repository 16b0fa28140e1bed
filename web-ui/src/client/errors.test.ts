// @vitest-environment node
import { describe, expect, it } from "vitest";
import { ERROR_CODES, type ErrorCode } from "../protocol/codes";
import { describeError } from "./errors";

describe("describeError", () => {
  it("has words for every error code, starting from the hub's description", () => {
    // plan_required is rephrased for operators; all others extend the hub's own description.
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const text = describeError({ code, message: "", retryable: false });
      if (code === "plan_required") expect(text).toMatch(/^Take Control is a Pro feature/);
      else expect(text.startsWith(ERROR_CODES[code].description), code).toBe(true);
    }
  });

  it("names the holder and the retry delay when the hub gives them", () => {
    expect(
      describeError({ code: "already_controlled", message: "", retryable: false, holder: { id: "b", name: "Bob" } }),
    ).toBe("Bob is already handling this conversation.");
    expect(describeError({ code: "rate_limited", message: "", retryable: true, retry_after_ms: 1500 })).toContain(
      "Retrying in 2 s.",
    );
  });
});
