import { afterEach, describe, expect, it, vi } from "vitest";
import { reopenToken, takeReopenToken } from "./reopen";

afterEach(() => {
  history.replaceState(null, "", "/");
});

describe("the reopen link's fragment", () => {
  it("finds the token, alone or beside other parameters, decoded", () => {
    expect(reopenToken("#tc-reopen=eyJ0.eXAi.sig")).toEqual({ token: "eyJ0.eXAi.sig", rest: "" });
    expect(reopenToken("#tab=2&tc-reopen=abc%2B%2Fdef&x")).toEqual({ token: "abc+/def", rest: "tab=2&x" });
    // `+` stays a plus: a token is not form data.
    expect(reopenToken("#tc-reopen=a+b")?.token).toBe("a+b");
  });

  it("is no link without the parameter, with an empty one, or one that does not decode", () => {
    for (const hash of ["", "#", "#section-2", "#xtc-reopen=abc", "#tc-reopen=", "#tc-reopen=%E0%A4%A"]) {
      expect(reopenToken(hash), hash).toBeNull();
    }
  });

  it("takes it out of the address bar in place: path and query kept, no new history entry", () => {
    history.pushState(null, "", "/shop/boots?size=42#tc-reopen=tok-email");
    const entries = history.length;
    expect(takeReopenToken(window)).toBe("tok-email");
    expect(location.pathname + location.search + location.hash).toBe("/shop/boots?size=42");
    expect(history.length).toBe(entries);
  });

  it("keeps the page's own fragment parameters, and leaves an address without a link alone", () => {
    history.pushState(null, "", "/shop?q=1#tab=reviews&tc-reopen=tok");
    expect(takeReopenToken(window)).toBe("tok");
    expect(location.hash).toBe("#tab=reviews");

    history.pushState(null, "", "/shop#reviews");
    const replace = vi.spyOn(history, "replaceState");
    expect(takeReopenToken(window)).toBeNull();
    expect(replace).not.toHaveBeenCalled();
    expect(location.hash).toBe("#reviews");
  });
});
