import { describe, expect, it } from "vitest";
import { checkDisplayName, countGraphemes, trimName } from "./displayName";

describe("display name rules (mirroring the hub)", () => {
  it("counts characters as a person does", () => {
    expect(countGraphemes("👩‍💻")).toBe(1);
    expect(countGraphemes("👍🏽")).toBe(1);
    expect(countGraphemes("Zoë")).toBe(3);
  });

  it("accepts 49 characters and refuses 50 or more", () => {
    expect(checkDisplayName("a".repeat(49))).toEqual({ ok: true, value: "a".repeat(49), length: 49 });
    expect(checkDisplayName("👩‍💻".repeat(49))).toMatchObject({ ok: true, length: 49 });
    expect(checkDisplayName("a".repeat(50))).toEqual({
      ok: false,
      message: "The display name is 50 characters long; keep it under 50.",
      length: 50,
    });
    // 60 emoji are 60 characters (far more UTF-16 units and code points, but that is not what counts).
    expect(checkDisplayName("🧗".repeat(60))).toMatchObject({ ok: false, length: 60, message: "The display name is 60 characters long; keep it under 50." });
  });

  it("trims, and treats empty as the account name", () => {
    expect(checkDisplayName("  Martin from Support \n")).toEqual({ ok: true, value: "Martin from Support", length: 19 });
    expect(checkDisplayName("   ")).toEqual({ ok: true, value: null, length: 0 });
    // What the hub's trim removes: anything that shows nothing, zero-width characters included.
    expect(trimName("\u0085Nora\u3000")).toBe("Nora");
    expect(trimName("\uFEFFNora\u200B")).toBe("Nora");
    expect(checkDisplayName("\u200B\u200B ")).toEqual({ ok: true, value: null, length: 0 });
  });

  it("refuses control characters and bidirectional overrides, naming the code point", () => {
    expect(checkDisplayName("Mar\u0007tin")).toMatchObject({ ok: false, message: "The display name contains an invisible control character (U+0007)." });
    expect(checkDisplayName("Martin\u202Etroppus")).toMatchObject({ ok: false, message: "The display name contains an invisible bidirectional control character (U+202E)." });
    expect(checkDisplayName("a\u2066b")).toMatchObject({ ok: false });
    // The zero-width joiner that emoji need is fine.
    expect(checkDisplayName("Nora 👩‍💻")).toMatchObject({ ok: true });
  });

  it("refuses separators, every bidirectional control and stacked marks, as the hub does", () => {
    expect(checkDisplayName("Mar\u2028tin")).toMatchObject({
      ok: false,
      message: "The display name contains a line or paragraph separator (U+2028); keep it on one line.",
    });
    expect(checkDisplayName("Mar\u2029tin")).toMatchObject({ ok: false });
    for (const c of ["\u061C", "\u200E", "\u200F", "\u202A", "\u202D", "\u2067", "\u2069"]) {
      expect(checkDisplayName(`a${c}b`), JSON.stringify(c)).toMatchObject({ ok: false, message: expect.stringContaining("bidirectional") });
    }
    // Forty marks on every letter (the trailing ones too: they are checked before trimming).
    const zalgo = [..."Martin"].map((c) => c + "\u0336".repeat(40)).join("");
    expect(checkDisplayName(zalgo)).toEqual({
      ok: false,
      message: "The display name stacks 40 accents or other combining marks on one character; at most 4 are allowed.",
      length: 6,
    });
    expect(checkDisplayName("a\u0301\u0302\u0303\u200D\u0301\u0302\u0303")).toMatchObject({ ok: false, message: expect.stringContaining("stacks 6") });
    expect(checkDisplayName("Ma\u0301\u0302\u0303\u0304rtin")).toMatchObject({ ok: true });
    // Real names with marks: Vietnamese written decomposed, Hebrew with points, Thai with a tone mark.
    for (const ok of ["Nguye\u0302\u0303n", "\u05E9\u05C1\u05B8\u05DC\u05D5\u05B9\u05DD", "\u0E2A\u0E38\u0E49", "1\uFE0F\u20E3"]) {
      expect(checkDisplayName(ok), ok).toMatchObject({ ok: true });
    }
  });
});
