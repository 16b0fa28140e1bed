import { describe, expect, it } from "vitest";
import { MAX_EMAIL_CHARS, plausibleEmail } from "./email";

// The same cases as `plausible_emails` in protocol/src/follow_up.rs, and the edges of its rule.
describe("plausibleEmail, as the hub checks it", () => {
  it("takes ordinary addresses, tags and non-ASCII ones", () => {
    for (const ok of ["a@b.co", "first.last+tag@mail.example.org", "ü@exämple.de"]) {
      expect(plausibleEmail(ok), ok).toBe(true);
    }
  });

  it("refuses what the hub refuses", () => {
    for (const bad of ["", "a", "a@b", "@b.co", "a@.co", "a@b.co.", "a b@c.de", "a@b@c.de", "a@b.co\n", `${"x".repeat(260)}@b.co`]) {
      expect(plausibleEmail(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it("counts Unicode scalar values up to 254, as the hub does", () => {
    const at = (n: number) => `${"é".repeat(n - "@b.co".length)}@b.co`;
    expect(plausibleEmail(at(MAX_EMAIL_CHARS))).toBe(true);
    expect(plausibleEmail(at(MAX_EMAIL_CHARS + 1))).toBe(false);
    // An emoji is two UTF-16 units but one character: 254 of them are not over the limit.
    const emoji = `${"😀".repeat(MAX_EMAIL_CHARS - 5)}@b.co`;
    expect(emoji.length).toBeGreaterThan(MAX_EMAIL_CHARS);
    expect(plausibleEmail(emoji)).toBe(true);
  });

  it("refuses Unicode spaces and control characters anywhere, but not a zero-width joiner", () => {
    expect(plausibleEmail("a\u00a0b@c.de")).toBe(false); // no-break space
    expect(plausibleEmail("ab@c\u3000.de")).toBe(false); // ideographic space
    expect(plausibleEmail("a\u0085b@c.de")).toBe(false); // next line: a control character
    expect(plausibleEmail("a\tb@c.de")).toBe(false);
    // Neither White_Space nor Cc in Rust: the hub takes it, so the widget must not refuse it.
    expect(plausibleEmail("a\u200db@c.de")).toBe(true);
  });
});
