import { describe, expect, it } from "vitest";
import { human, martin } from "../test/widgetKit";
import {
  applyStyles,
  authorHeader,
  awayNode,
  backAtText,
  emailLeftNode,
  joinedText,
  leftText,
  messageNode,
  previewNode,
  resolveAvatarUrl,
  visitorName,
  WIDGET_CSS,
} from "./render";

const HUB = "https://hub.example";

describe("names and notices", () => {
  it("uses the display name, or Human when the operator set no profile", () => {
    expect(joinedText(martin)).toBe("Martin from Support joined the chat");
    expect(leftText(martin)).toBe("Martin from Support left the chat");
    expect(joinedText(human)).toBe("Human joined the chat");
    expect(leftText(human)).toBe("Human left the chat");
    expect(visitorName({ name: "  " })).toBe("Human");
  });
});

describe("avatar URLs", () => {
  it("resolves hub paths against the hub's origin, not the host page", () => {
    expect(resolveAvatarUrl("/avatars/demo-pro/abc.png", HUB)).toBe("https://hub.example/avatars/demo-pro/abc.png");
    expect(resolveAvatarUrl("/avatars/demo-pro/abc.png", "https://hub.example/")).toBe("https://hub.example/avatars/demo-pro/abc.png");
    expect(resolveAvatarUrl("https://cdn.example/a.png", HUB)).toBe("https://cdn.example/a.png");
  });

  it("gives no URL (the placeholder) for nothing or a non-http scheme", () => {
    expect(resolveAvatarUrl(undefined, HUB)).toBeNull();
    expect(resolveAvatarUrl("", HUB)).toBeNull();
    expect(resolveAvatarUrl("javascript:alert(1)", HUB)).toBeNull();
    expect(resolveAvatarUrl("data:image/png;base64,AAAA", HUB)).toBeNull();
  });
});

describe("bubbles", () => {
  it("an operator bubble has a header with the name and the avatar from the hub", () => {
    const node = messageNode(document, { author: { kind: "operator", ...martin }, text: "Hi there" }, HUB);
    const head = node.querySelector(".tc-author");
    expect(head?.textContent).toBe("Martin from Support");
    expect(head?.querySelector("img")?.getAttribute("src")).toBe("https://hub.example/avatars/demo-pro/abc.png");
    expect(node.querySelector(".tc-bubble")?.textContent).toBe("Hi there");
  });

  it("without an avatar the placeholder is an inline SVG: no image request", () => {
    const node = messageNode(document, { author: { kind: "operator", ...human }, text: "Hello" }, HUB);
    expect(node.querySelector("img")).toBeNull();
    const ph = node.querySelector(".tc-author [data-placeholder]");
    expect(ph?.querySelector("svg path")).not.toBeNull();
    expect(node.querySelector(".tc-name")?.textContent).toBe("Human");
  });

  it("an avatar that fails to load is replaced by the placeholder", () => {
    const head = authorHeader(document, { kind: "operator", ...martin }, HUB)!;
    head.querySelector("img")!.dispatchEvent(new Event("error"));
    expect(head.querySelector("img")).toBeNull();
    expect(head.querySelector("[data-placeholder]")).not.toBeNull();
  });

  it("shows text as text, never as markup", () => {
    const node = messageNode(document, { author: { kind: "visitor" }, text: "<img src=x onerror=alert(1)>" }, HUB);
    expect(node.querySelector("img")).toBeNull();
    expect(node.textContent).toContain("<img src=x");
    expect(node.querySelector(".tc-author")).toBeNull();
  });

  it("an AI reply still being written is marked partial and busy; a finished one is not", () => {
    const partial = messageNode(document, { author: { kind: "ai" }, text: "We ship", partial: true }, HUB);
    expect(partial.className).toBe("tc-msg tc-msg--ai tc-msg--partial");
    expect(partial.getAttribute("aria-busy")).toBe("true");
    expect(partial.querySelector(".tc-name")?.textContent).toBe("AI assistant");
    expect(partial.querySelector(".tc-bubble")?.textContent).toBe("We ship");
    const done = messageNode(document, { author: { kind: "ai" }, text: "We ship today." }, HUB);
    expect(done.className).toBe("tc-msg tc-msg--ai");
    expect(done.hasAttribute("aria-busy")).toBe(false);
  });

  it("a failed message says why and offers Retry", () => {
    let retried = 0;
    const node = messageNode(document, { author: { kind: "visitor" }, text: "hi", status: "failed", error: "Not connected.", onRetry: () => retried++ }, HUB);
    expect(node.querySelector(".tc-state")?.textContent).toBe("Not sent: Not connected. Retry");
    node.querySelector("button")!.click();
    expect(retried).toBe(1);
  });
});

describe("styles and shadow root", () => {
  it("puts every style inside the shadow root and nothing into the page", () => {
    const host = document.createElement("div");
    document.body.append(host);
    const root = host.attachShadow({ mode: "open" });
    const headBefore = document.head.innerHTML;
    applyStyles(root);
    root.append(previewNode(document, { operator: martin, hubOrigin: HUB, text: "Sample" }));
    expect(document.head.innerHTML).toBe(headBefore);
    expect(root.querySelector("style")?.textContent).toBe(WIDGET_CSS);
    expect(host.children).toHaveLength(0);
    expect(root.querySelector(".tc-who")?.textContent).toBe("Martin from Support (human)");
    expect(root.querySelector(".tc-notice")?.textContent).toBe("Martin from Support joined the chat");
    host.remove();
  });
});

describe("hostile text", () => {
  it("renders each bubble as a bidi isolate, so an override in it cannot reorder what is around it", () => {
    const node = messageNode(document, { author: { kind: "visitor" }, text: "My order \u202Ereturned is late" }, HUB);
    const bubble = node.querySelector(".tc-bubble")!;
    expect(bubble.getAttribute("dir")).toBe("auto");
    expect(WIDGET_CSS).toMatch(/\.tc-bubble\{[^}]*unicode-bidi:isolate/);
  });

  it("lets names, notices and bubbles wrap anywhere instead of widening the log", () => {
    expect(WIDGET_CSS).toMatch(/\.tc-name\{[^}]*overflow-wrap:anywhere/);
    expect(WIDGET_CSS).toMatch(/\.tc-notice\{[^}]*overflow-wrap:anywhere/);
    expect(WIDGET_CSS).toMatch(/\.tc-msg\{[^}]*min-width:0/);
  });
});

describe("when nobody is available", () => {
  const monday9Berlin = Date.UTC(2025, 0, 6, 8, 0);

  it("says when the team is back in the visitor's language and time zone", () => {
    const sundayEvening = Date.UTC(2025, 0, 5, 20, 0);
    expect(backAtText(monday9Berlin, sundayEvening, "en-GB", "Europe/Berlin")).toBe("We're back Mon 09:00.");
    // The same moment for a visitor in New York, in German.
    expect(backAtText(monday9Berlin, sundayEvening, "de-DE", "America/New_York")).toBe("We're back Mo., 03:00.");
    // A week or more away (a holiday), the date too: a weekday alone would mislead.
    expect(backAtText(monday9Berlin, sundayEvening - 7 * 86_400_000, "en-GB", "Europe/Berlin")).toBe("We're back Mon 6 Jan, 09:00.");
  });

  it("the away line keeps the workspace's text as text, with the time it is back under it", () => {
    const node = awayNode(document, "<b>Away</b> until Monday", "We're back Mon 09:00.");
    expect(node.querySelector("b")).toBeNull();
    expect(node.firstElementChild?.textContent).toBe("<b>Away</b> until Monday");
    expect(node.querySelector(".tc-back")?.textContent).toBe("We're back Mon 09:00.");
    expect(awayNode(document, "Away", null).querySelector(".tc-back")).toBeNull();
  });

  it("the address left is isolated text, with Change only when offered", () => {
    let changed = 0;
    const node = emailLeftNode(document, "\u202eana@example.com", () => changed++);
    expect(node.textContent).toBe("We'll answer you at \u202eana@example.com Change");
    expect(node.querySelector(".tc-email")?.getAttribute("dir")).toBe("auto");
    node.querySelector<HTMLButtonElement>("button")!.click();
    expect(changed).toBe(1);
    expect(emailLeftNode(document, "ana@example.com", null).querySelector("button")).toBeNull();
  });
});
