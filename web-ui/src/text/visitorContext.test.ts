import { describe, expect, it } from "vitest";
import { languageName, localTime, safeHttpUrl } from "./visitorContext";

describe("safeHttpUrl", () => {
  it("keeps http and https URLs", () => {
    expect(safeHttpUrl("https://shop.example/orders/1042")).toBe("https://shop.example/orders/1042");
    expect(safeHttpUrl("http://shop.example")).toBe("http://shop.example/");
  });

  it("refuses every other scheme, whatever its spelling, and what is no URL at all", () => {
    for (const bad of ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)", "data:text/html,<b>x</b>", "vbscript:x", "file:///etc/passwd", "/relative/path", "not a url", ""]) {
      expect(safeHttpUrl(bad), bad).toBeNull();
    }
    expect(safeHttpUrl(undefined)).toBeNull();
  });
});

describe("localTime", () => {
  const noonUtc = Date.UTC(2026, 0, 5, 12, 0); // a Monday

  it("tells the time in the visitor's zone", () => {
    expect(localTime("Europe/Zurich", noonUtc, "en-GB")).toBe("Mon 13:00");
    expect(localTime("Asia/Tokyo", noonUtc, "en-GB")).toBe("Mon 21:00");
  });

  it("gives nothing for an unknown or missing zone instead of throwing", () => {
    expect(localTime("Mars/Olympus_Mons", noonUtc)).toBeNull();
    expect(localTime("", noonUtc)).toBeNull();
    expect(localTime(undefined, noonUtc)).toBeNull();
  });
});

describe("languageName", () => {
  it("names the language and keeps the tag", () => {
    expect(languageName("de", "en")).toBe("German (de)");
  });

  it("falls back to the tag as reported", () => {
    expect(languageName("not a tag!", "en")).toBe("not a tag!");
    expect(languageName(undefined)).toBeNull();
  });
});
