import { describe, expect, it } from "vitest";
import { isBlank, trimBlank } from "./visible";

describe("blank text (the hub's rule)", () => {
  it("treats zero-width, ignorable, control characters and bare marks like spaces", () => {
    for (const t of ["", "   ", "\u200b\u200b ", "\u00a0\u3000\u2028", "\u200d\ufeff\u2060\u00ad", "\ufe0f\u3164", "\u202e\u0001", "\u0301\u0301", "\u20dd"]) {
      expect(isBlank(t), JSON.stringify(t)).toBe(true);
    }
  });

  it("keeps anything that shows", () => {
    for (const t of ["a", "e\u0301", "👍🏽", "👨‍👩‍👧", "1️⃣", "🇫🇷", "。", "ok\u200b"]) {
      expect(isBlank(t), t).toBe(false);
    }
    expect(trimBlank("\u200b Martin \ufeff")).toBe("Martin");
    expect(trimBlank("Anna\u200dLena")).toBe("Anna\u200dLena");
    // The last character keeps its marks; what follows them goes.
    expect(trimBlank("Jose\u0301")).toBe("Jose\u0301");
    expect(trimBlank(" 1\ufe0f\u20e3\u200b ")).toBe("1\ufe0f\u20e3");
    expect(trimBlank("\u0301a\u0301 \u0301")).toBe("a\u0301");
  });
});
