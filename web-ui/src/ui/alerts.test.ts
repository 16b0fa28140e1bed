import { describe, expect, it } from "vitest";
import { titleFor } from "./alerts";

describe("titleFor", () => {
  it("prefixes the count of conversations waiting for a human", () => {
    expect(titleFor(0)).toBe("Take Control");
    expect(titleFor(2)).toBe("(2) Take Control");
  });
});
