import { afterEach, describe, expect, it } from "vitest";
import { findScript, readConfig } from "./config";
import { widgetSocketUrl } from "./widget";

function tag(attrs: Record<string, string>): HTMLScriptElement {
  const s = document.createElement("script");
  for (const [k, v] of Object.entries(attrs)) s.setAttribute(k, v);
  document.body.append(s);
  return s;
}

afterEach(() => {
  document.body.innerHTML = "";
});

describe("embed tag", () => {
  it("takes the hub from the script's own src by default", () => {
    const s = tag({ src: "https://hub.example/widget.js", "data-workspace": "demo-pro" });
    expect(readConfig(s, "https://shop.example/")).toEqual({ workspaceId: "demo-pro", hubOrigin: "https://hub.example" });
    const relative = tag({ src: "/widget.js", "data-workspace": "demo-pro" });
    expect(readConfig(relative, "http://127.0.0.1:8080/dev/demo")).toEqual({ workspaceId: "demo-pro", hubOrigin: "http://127.0.0.1:8080" });
  });

  it("data-hub overrides it", () => {
    const s = tag({ src: "https://cdn.example/widget.js", "data-workspace": "demo-pro", "data-hub": "https://hub.example/" });
    expect(readConfig(s, "https://shop.example/")).toEqual({ workspaceId: "demo-pro", hubOrigin: "https://hub.example" });
  });

  it("says what is missing", () => {
    expect(readConfig(null, "https://shop.example/")).toMatch(/no <script/);
    expect(readConfig(tag({ src: "https://hub.example/widget.js" }), "https://shop.example/")).toMatch(/data-workspace/);
    expect(readConfig(tag({ src: "https://hub.example/widget.js", "data-workspace": "x", "data-hub": "ftp://x" }), "https://shop.example/")).toMatch(/not an http/);
  });

  it("finds its tag by scanning when document.currentScript is gone (async)", () => {
    tag({ src: "https://other.example/analytics.js" });
    const ours = tag({ src: "https://hub.example/widget.js?v=2", "data-workspace": "demo-pro" });
    expect(findScript(document)).toBe(ours);
  });

  it("connects to ws(s)://<hub>/ws/widget", () => {
    expect(widgetSocketUrl("https://hub.example")).toBe("wss://hub.example/ws/widget");
    expect(widgetSocketUrl("http://127.0.0.1:8080")).toBe("ws://127.0.0.1:8080/ws/widget");
  });
});
