import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LIMITS, type VisitorContext } from "../protocol/frames";
import { FakeWidgetHub, welcome } from "../test/widgetKit";
import { boundedContext, browserPage, pageFrame, readContext, type PageSource } from "./page";
import { ChatWidget, PAGE_SETTLE_MS } from "./widget";

describe("boundedContext", () => {
  it("drops a field over its limit or blank, and keeps the rest", () => {
    const longUrl = `https://shop.example/${"a".repeat(LIMITS.maxUrlChars)}`;
    expect(
      boundedContext({
        url: "https://shop.example/orders/1042",
        title: "x".repeat(LIMITS.maxTitleChars + 1),
        referrer: longUrl,
        language: "de-CH",
        time_zone: "   ",
      }),
    ).toEqual({ url: "https://shop.example/orders/1042", language: "de-CH" });
    expect(boundedContext({ language: "x".repeat(36), time_zone: "Z".repeat(65) })).toEqual({});
  });

  it("counts characters as the hub does (an emoji is one), so a title just at the limit is kept", () => {
    const title = "🛒".repeat(LIMITS.maxTitleChars); // 600 UTF-16 units, 300 characters
    expect(boundedContext({ title }).title).toBe(title);
    expect(boundedContext({ title: `${title}x` }).title).toBeUndefined();
  });
});

describe("pageFrame", () => {
  it("sends the URL and the title when there is one, nothing without a URL", () => {
    expect(pageFrame({ url: "https://a.test/", title: "A" })).toEqual({ type: "page", url: "https://a.test/", title: "A" });
    expect(pageFrame({ url: "https://a.test/" })).toEqual({ type: "page", url: "https://a.test/" });
    expect(pageFrame({ title: "No URL (it was too long)" })).toBeNull();
  });
});

describe("browserPage (jsdom's window)", () => {
  let undo: (() => void)[] = [];
  afterEach(() => {
    for (const u of undo) u();
    undo = [];
    history.replaceState(null, "", "/");
  });

  it("reads the page, the referrer only when there is one, the language and the time zone", () => {
    document.title = "Order #1042";
    history.replaceState(null, "", "/orders/1042");
    const c = readContext(window);
    expect(c).toMatchObject({ url: `${location.origin}/orders/1042`, title: "Order #1042", language: navigator.language });
    expect(c.time_zone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect("referrer" in c).toBe(false);
  });

  it("reports pushState, replaceState, popstate and hashchange; history is wrapped once for all watchers", () => {
    const pushBefore = history.pushState;
    const a = vi.fn();
    const b = vi.fn();
    undo.push(browserPage(window).watch(a));
    const wrapped = history.pushState;
    expect(wrapped).not.toBe(pushBefore);
    const unwatchB = browserPage(window).watch(b);
    expect(history.pushState).toBe(wrapped); // no wrapper around the wrapper

    history.pushState(null, "", "/returns");
    expect(location.pathname).toBe("/returns"); // the original still runs
    history.replaceState(null, "", "/returns?x=1");
    window.dispatchEvent(new PopStateEvent("popstate"));
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    expect(a).toHaveBeenCalledTimes(4);
    expect(b).toHaveBeenCalledTimes(4);

    unwatchB();
    history.pushState(null, "", "/again");
    window.dispatchEvent(new PopStateEvent("popstate"));
    expect(a).toHaveBeenCalledTimes(6);
    expect(b).toHaveBeenCalledTimes(4);
  });
});

/** A page the test moves around by hand, with the watcher the widget installs. */
function fakePage(initial: VisitorContext) {
  let current = initial;
  let notify: (() => void) | null = null;
  const source: PageSource = {
    context: () => current,
    watch(onChange) {
      notify = onChange;
      return () => {
        notify = null;
      };
    },
  };
  return {
    source,
    go(next: VisitorContext) {
      current = next;
      notify?.();
    },
    watched: () => notify !== null,
  };
}

describe("the widget tells the hub where the visitor is", () => {
  let widgets: ChatWidget[] = [];
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    for (const w of widgets) w.destroy();
    widgets = [];
    vi.useRealTimers();
  });

  function start(initial: VisitorContext) {
    const hub = new FakeWidgetHub();
    const page = fakePage(initial);
    const widget = new ChatWidget({ workspaceId: "demo-pro", hubOrigin: "https://hub.example", connect: hub.connect, storage: null, page: page.source, random: () => 0 });
    widgets.push(widget);
    widget.start();
    return { hub, page, widget };
  }

  const orders = { url: "https://shop.example/orders/1042", title: "Order #1042", language: "de-CH", time_zone: "Europe/Zurich" };

  it("sends the context with hello", () => {
    const { hub } = start(orders);
    hub.last.open();
    expect(hub.last.sent[0]).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro", context: orders });
  });

  it("sends page once the navigation settled, with the title set after the URL, and never the same page twice", async () => {
    const { hub, page } = start(orders);
    hub.last.open();
    hub.last.receive(welcome());
    page.go({ ...orders, url: "https://shop.example/returns" });
    page.go({ ...orders, url: "https://shop.example/returns", title: "Returns" }); // the router's title, a moment later
    expect(hub.last.sentOfType("page")).toEqual([]);
    await vi.advanceTimersByTimeAsync(PAGE_SETTLE_MS);
    expect(hub.last.sentOfType("page")).toEqual([{ type: "page", url: "https://shop.example/returns", title: "Returns" }]);

    page.go({ ...orders, url: "https://shop.example/returns", title: "Returns" }); // replaceState, same page
    await vi.advanceTimersByTimeAsync(PAGE_SETTLE_MS);
    page.go(orders); // back to where hello said
    await vi.advanceTimersByTimeAsync(PAGE_SETTLE_MS);
    expect(hub.last.sentOfType("page")).toEqual([
      { type: "page", url: "https://shop.example/returns", title: "Returns" },
      { type: "page", url: orders.url, title: orders.title },
    ]);
  });

  it("does not repeat in page what hello said, and sends nothing without a URL", async () => {
    const { hub, page } = start(orders);
    hub.last.open();
    hub.last.receive(welcome());
    page.go({ ...orders });
    await vi.advanceTimersByTimeAsync(PAGE_SETTLE_MS);
    page.go({ title: "A page whose URL was too long" });
    await vi.advanceTimersByTimeAsync(PAGE_SETTLE_MS);
    expect(hub.last.sentOfType("page")).toEqual([]);
  });

  it("leaves a navigation while disconnected to the next hello, and one before welcome to the welcome", async () => {
    const { hub, page } = start(orders);
    const first = hub.last;
    first.open();
    first.receive(welcome());
    first.serverClose(1001);
    page.go({ ...orders, url: "https://shop.example/cart", title: "Cart" });
    await vi.advanceTimersByTimeAsync(PAGE_SETTLE_MS);
    expect(first.sentOfType("page")).toEqual([]);
    await vi.runOnlyPendingTimersAsync(); // the reconnect's backoff
    const second = hub.last;
    expect(second).not.toBe(first);
    second.open();
    expect(second.sent[0]).toMatchObject({ type: "hello", context: { url: "https://shop.example/cart", title: "Cart" } });

    page.go({ ...orders, url: "https://shop.example/checkout", title: "Checkout" });
    await vi.advanceTimersByTimeAsync(PAGE_SETTLE_MS); // not connected until welcome
    expect(second.sentOfType("page")).toEqual([]);
    second.receive(welcome());
    expect(second.sentOfType("page")).toEqual([{ type: "page", url: "https://shop.example/checkout", title: "Checkout" }]);
  });

  it("stops watching the page when removed", () => {
    const { page, widget } = start(orders);
    expect(page.watched()).toBe(true);
    widget.destroy();
    expect(page.watched()).toBe(false);
  });
});
