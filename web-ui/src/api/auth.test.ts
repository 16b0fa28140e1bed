import { afterEach, describe, expect, it, vi } from "vitest";
import { devTokenSource, fetchDevOperators, hostTokenSource } from "./auth";

afterEach(() => {
  window.history.replaceState(null, "", "/");
  window.sessionStorage.clear();
  delete window.TAKE_CONTROL_TOKEN;
});

describe("hostTokenSource", () => {
  it("reads #token= and removes it from the address bar, keeping other fragment parts", async () => {
    window.history.replaceState(null, "", "/dash?x=1#token=abc.def.ghi&view=online");
    const source = hostTokenSource();
    expect(await source?.("initial")).toBe("abc.def.ghi");
    expect(window.location.hash).toBe("#view=online");
    expect(window.location.search).toBe("?x=1");
    // A reload of the tab still finds it.
    expect(await hostTokenSource()?.("initial")).toBe("abc.def.ghi");
  });

  it("accepts window.TAKE_CONTROL_TOKEN as a string or a function asked again on expiry", async () => {
    window.TAKE_CONTROL_TOKEN = "static";
    expect(await hostTokenSource()?.("initial")).toBe("static");
    let n = 0;
    window.TAKE_CONTROL_TOKEN = () => Promise.resolve(`fresh-${++n}`);
    const source = hostTokenSource();
    expect(await source?.("initial")).toBe("fresh-1");
    expect(await source?.("expired")).toBe("fresh-2");
  });

  it("returns null when the host gave nothing", () => {
    expect(hostTokenSource()).toBeNull();
  });
});

describe("dev sign-in", () => {
  it("treats 404 from /dev/operators as a hub without --dev", async () => {
    const fetchFn = vi.fn(async () => new Response("", { status: 404 }));
    expect(await fetchDevOperators(fetchFn)).toEqual({ kind: "not_dev" });
  });

  it("lists operators and logs in with POST /dev/login", async () => {
    const ops = [{ id: "o1", name: "Olga", role: "owner", workspace_id: "w", workspace_name: "W", plan: "pro" }];
    const list = vi.fn(async () => Response.json(ops));
    expect(await fetchDevOperators(list)).toEqual({ kind: "dev", operators: ops });

    const login = vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) => Response.json({ token: "t-1" }));
    expect(await devTokenSource("o1", login)("initial")).toBe("t-1");
    const [url, init] = login.mock.calls[0]!;
    expect(url).toBe("/dev/login");
    expect(init?.method).toBe("POST");
    expect(JSON.parse(String(init?.body))).toEqual({ operator_id: "o1" });
  });
});
