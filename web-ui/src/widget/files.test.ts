/**
 * The widget's files: attach (📎, paste, drop), pending chips, refusals in plain words, the
 * message that carries them, and how received files show. A fake `fetch` stands in for the hub's
 * files API and the fake socket for its WebSocket.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Attachment, ConversationEvent } from "../protocol/frames";
import { CONV, eventFrame, FakeWidgetHub, historyFrame, martin, operatorSaid, visitorSaid, welcome } from "../test/widgetKit";
import { reduceWidget, resendFrames } from "./reducer";
import { initialWidgetState } from "./state";
import { ChatWidget, type WidgetOptions } from "./widget";

const HUB = "https://hub.example";
const SHOT: Attachment = { id: "f_shot", name: "screenshot.png", kind: "image", content_type: "image/png", size: 40_721, width: 1280, height: 800 };
const PDF: Attachment = { id: "f_pdf", name: "invoice.pdf", kind: "pdf", content_type: "application/pdf", size: 40_960 };

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const problem = (status: number, code: string, detail: string) =>
  new Response(JSON.stringify({ type: `urn:take-control:problem:${code}`, title: "t", status, detail, code }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
const linkOf = (id: string, n = 1) => ({
  id,
  url: `/files/demo-pro/${CONV}/${id}/file?exp=${n}&sig=s`,
  thumbnail_url: `/files/demo-pro/${CONV}/${id}/thumb?exp=${n}&sig=t`,
  expires_at: Date.now() + 300_000,
});
const png = (name = "screenshot.png", size = 8) => new File([new Uint8Array(size)], name, { type: "image/png" });

type Call = [string, RequestInit];

/**
 * The hub's files API: uploads answer what `uploads` holds for that name (a pending promise until
 * the test resolves it, else 201 with the attachment); links answer every id asked, numbered by
 * request so a second link is a different URL.
 */
function fakeFiles() {
  const calls: Call[] = [];
  const pending = new Map<string, (res: Response) => void>();
  const answers = new Map<string, Response | "wait">();
  let linkRequests = 0;
  const fetchFn = vi.fn(async (url: string, init: RequestInit) => {
    calls.push([url, init]);
    if (url.endsWith("/api/files/links")) {
      const n = ++linkRequests;
      const { ids } = JSON.parse(init.body as string) as { ids: string[] };
      return json(200, { links: ids.map((id) => linkOf(id, n)) });
    }
    const name = new URL(url).searchParams.get("name") ?? "";
    const answer = answers.get(name);
    if (answer === "wait") return new Promise<Response>((resolve) => pending.set(name, resolve));
    return answer ?? json(201, { ...SHOT, id: `f_${name}`, name });
  });
  return {
    fetchFn,
    calls,
    answers,
    /** Answers the upload of `name` held with `answers.set(name, "wait")`. */
    finish: (name: string, res: Response) => pending.get(name)?.(res),
    uploads: () => calls.filter(([u]) => u.includes("/api/files?")),
    linkCalls: () => calls.filter(([u]) => u.endsWith("/api/files/links")),
  };
}

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});

function mount(over: Partial<WidgetOptions> = {}) {
  const hub = new FakeWidgetHub();
  const files = fakeFiles();
  const host = document.createElement("take-control-widget");
  document.body.append(host);
  const root = host.attachShadow({ mode: "open" });
  let n = 0;
  const widget = new ChatWidget({
    workspaceId: "demo-pro",
    hubOrigin: HUB,
    root,
    connect: hub.connect,
    storage: null,
    random: () => 0.5,
    newClientId: () => `w-${++n}`,
    fetchFn: files.fetchFn as unknown as typeof fetch,
    ...over,
  });
  cleanup.push(() => {
    widget.destroy();
    host.remove();
  });
  widget.start();
  const socket = hub.last;
  socket.open();
  socket.receive(welcome());
  socket.receive(historyFrame([]));
  widget.open();
  const $ = <T extends Element = HTMLElement>(sel: string) => root.querySelector<T>(sel)!;
  const $$ = (sel: string) => [...root.querySelectorAll<HTMLElement>(sel)];
  const chips = () => $$(".tc-chip > span").map((c) => c.textContent);
  const input = $<HTMLTextAreaElement>(".tc-input");
  const enter = () => input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  const paste = (list: File[], text = "") => {
    const ev = new Event("paste", { bubbles: true, cancelable: true });
    Object.defineProperty(ev, "clipboardData", { value: { files: list, getData: () => text } });
    input.dispatchEvent(ev);
    return ev;
  };
  const choose = (list: File[]) => {
    const picker = $<HTMLInputElement>('input[type="file"]');
    Object.defineProperty(picker, "files", { value: list, configurable: true });
    picker.dispatchEvent(new Event("change"));
  };
  const messages = () => socket.sentOfType("message");
  return { widget, socket, files, root, $, $$, chips, input, enter, paste, choose, messages };
}

describe("attaching files in the widget", () => {
  it("uploads a pasted screenshot with the visitor's token, shows it as a chip, and sends it alone", async () => {
    const w = mount();
    w.files.answers.set("screenshot.png", "wait");
    const shot = png();
    const ev = w.paste([shot]);
    expect(ev.defaultPrevented).toBe(true); // nothing else to paste
    expect(w.chips()).toEqual(["screenshot.png: uploading…"]);

    await vi.waitFor(() => expect(w.files.uploads()).toHaveLength(1));
    const [url, init] = w.files.uploads()[0]!;
    expect(url).toBe("https://hub.example/api/files?name=screenshot.png");
    expect(init).toMatchObject({ method: "POST", body: shot, headers: { authorization: "Bearer tok-1", "content-type": "image/png" } });
    // No id to send yet: Send waits, and Enter says why.
    expect(w.$<HTMLButtonElement>(".tc-send").disabled).toBe(true);
    w.enter();
    expect(w.messages()).toEqual([]);
    expect(w.$(".tc-conn").textContent).toContain("Wait until your files have uploaded, then send.");

    w.files.finish("screenshot.png", json(201, SHOT));
    await vi.waitFor(() => expect(w.chips()).toEqual(["screenshot.png (40 KB)"]));
    expect(w.$(".tc-conn").hidden).toBe(true);
    expect(w.$<HTMLButtonElement>(".tc-send").disabled).toBe(false);

    // The box is empty: the file alone is the message.
    w.enter();
    expect(w.messages()).toEqual([{ type: "message", client_id: "w-1", text: "", attachments: ["f_shot"] }]);
    expect(w.chips()).toEqual([]);
    expect(w.$(".tc-chips").hidden).toBe(true);

    // Its bubble, while it is sent: the thumbnail, no empty text bubble.
    const mine = w.$(".tc-msg--visitor");
    expect(mine.querySelector(".tc-bubble")).toBeNull();
    expect(mine.querySelector(".tc-state")?.textContent).toBe("Sending…");
    await vi.waitFor(() => expect(mine.querySelector("img")?.getAttribute("src")).toBe(`${HUB}/files/demo-pro/${CONV}/f_shot/thumb?exp=1&sig=t`));
    const [, linksInit] = w.files.linkCalls()[0]!;
    expect(JSON.parse(linksInit.body as string)).toEqual({ conversation_id: CONV, ids: ["f_shot"] });
    expect(linksInit.headers).toMatchObject({ authorization: "Bearer tok-1" });

    // Stored: the same file, shown from the cached link.
    w.socket.receive({ type: "ack", conversation_id: CONV, client_id: "w-1", seq: 1 });
    w.socket.receive(eventFrame({ ...visitorSaid(1, "", "w-1"), attachments: [SHOT] } as ConversationEvent));
    await vi.waitFor(() => expect(w.$(".tc-msg--visitor img").getAttribute("src")).toContain("/f_shot/thumb?exp=1"));
    expect(w.$(".tc-msg--visitor .tc-state")).toBeNull();
    expect(w.files.linkCalls()).toHaveLength(1);
  });

  it("attaches from the 📎 picker and by dropping; × removes a file; text goes with the rest", async () => {
    const w = mount();
    const pick = w.$<HTMLButtonElement>(".tc-attach");
    expect(pick.getAttribute("aria-label")).toBe("Attach files");
    const clicked = vi.fn();
    w.$('input[type="file"]').addEventListener("click", clicked);
    pick.click();
    expect(clicked).toHaveBeenCalled(); // the 📎 opens the browser's file chooser

    w.choose([png("a.png"), new File(["%PDF-1.4 %%EOF"], "receipt.pdf", { type: "application/pdf" })]);
    const drop = new Event("drop", { bubbles: true, cancelable: true });
    Object.defineProperty(drop, "dataTransfer", { value: { types: ["Files"], files: [png("dropped.png")] } });
    w.$(".tc-log").dispatchEvent(drop);
    expect(drop.defaultPrevented).toBe(true); // the browser must not open the file instead of the page
    await vi.waitFor(() => expect(w.chips()).toEqual(["a.png (40 KB)", "receipt.pdf (40 KB)", "dropped.png (40 KB)"]));

    w.$<HTMLButtonElement>('[aria-label="Remove a.png"]').click();
    expect(w.chips()).toEqual(["receipt.pdf (40 KB)", "dropped.png (40 KB)"]);
    expect(w.root.activeElement).toBe(w.input);

    w.input.value = "  Here is my receipt ";
    w.enter();
    expect(w.messages()).toEqual([{ type: "message", client_id: "w-1", text: "Here is my receipt", attachments: ["f_receipt.pdf", "f_dropped.png"] }]);
  });

  it("refuses what cannot be sent before uploading it, and shows the hub's refusals in plain words", async () => {
    const w = mount();
    w.files.answers.set("fake.png", problem(415, "unsupported_file_type", "Attach an image (PNG, JPEG, WebP or GIF) or a PDF."));
    w.choose([
      new File(["<svg/>"], "logo.svg", { type: "image/svg+xml" }),
      new File([new Uint8Array(10 * 1024 * 1024 + 1)], "huge.png", { type: "image/png" }),
      png("fake.png"),
    ]);
    await vi.waitFor(() => expect(w.chips()).not.toContain("fake.png: uploading…"));
    // Only the one that passed the checks went to the hub.
    expect(w.files.uploads().map(([u]) => u)).toEqual(["https://hub.example/api/files?name=fake.png"]);
    const alerts = w.$$('[role="alert"]').map((a) => a.textContent);
    expect(alerts).toEqual([
      "Can't attach logo.svg: only images (PNG, JPEG, WebP or GIF) and PDFs can be sent.",
      "Can't attach huge.png: it is larger than 10 MB.",
      "Can't attach fake.png: only images (PNG, JPEG, WebP or GIF) and PDFs can be sent.",
    ]);
    expect(w.$$(".tc-chip--failed")).toHaveLength(3);
    // Refused files do not hold the message back, and do not go with it.
    expect(w.$<HTMLButtonElement>(".tc-send").disabled).toBe(false);
    w.input.value = "Never mind";
    w.enter();
    expect(w.messages()).toEqual([{ type: "message", client_id: "w-1", text: "Never mind" }]);
    expect(w.chips()).toEqual([]);
  });

  it("takes at most five files for a message", async () => {
    const w = mount();
    w.choose(["1", "2", "3", "4", "5", "6"].map((n) => png(`${n}.png`)));
    expect(w.$('[role="alert"]').textContent).toBe("Can't attach 6.png: a message can carry at most 5 files.");
    await vi.waitFor(() => expect(w.chips().filter((c) => c?.endsWith("(40 KB)"))).toHaveLength(5));
    expect(w.files.uploads()).toHaveLength(5);
  });

  it("text pasted with a picture is pasted as usual; a paste without files is left alone", () => {
    const w = mount();
    expect(w.paste([png()], "https://example.com/pic.png").defaultPrevented).toBe(false);
    expect(w.chips()).toEqual(["screenshot.png: uploading…"]);
    expect(w.paste([], "just text").defaultPrevented).toBe(false);
    expect(w.chips()).toHaveLength(1);
  });

  it("says why a message with a file is refused (invalid_attachment)", () => {
    const w = mount();
    w.widget.attach([]);
    w.socket.receive(eventFrame(visitorSaid(1, "hi")));
    w.input.value = "see file";
    w.enter();
    w.socket.receive({ type: "error", code: "invalid_attachment", message: "unknown file", retryable: false, conversation_id: CONV, client_id: "w-1" });
    expect(w.$(".tc-state--failed").textContent).toContain("Not sent: A file of this message could not be sent. Remove it and attach it again.");
  });
});

describe("files in the widget's chat", () => {
  const history = () =>
    historyFrame([
      { ...visitorSaid(1, "Here it is"), attachments: [SHOT] } as ConversationEvent,
      { ...operatorSaid(2, martin, ""), attachments: [SHOT, PDF].map((a) => ({ ...a, id: `${a.id}2` })) } as ConversationEvent,
    ]);

  it("shows an image as its thumbnail opening the full image in a new tab, and a PDF as a download; an operator's the same", async () => {
    const w = mount();
    w.socket.receive(history());
    await vi.waitFor(() => expect(w.$$(".tc-thumb[href]")).toHaveLength(2));
    // One request for every file on screen.
    expect(w.files.linkCalls()).toHaveLength(1);
    expect(JSON.parse(w.files.linkCalls()[0]![1].body as string).ids).toEqual(["f_shot", "f_shot2", "f_pdf2"]);

    const [mine, theirs] = w.$$(".tc-thumb");
    expect(mine!.closest(".tc-msg--visitor")).not.toBeNull();
    expect(theirs!.closest(".tc-msg--operator")?.querySelector(".tc-name")?.textContent).toBe("Martin from Support");
    expect(mine).toHaveAttribute("href", `${HUB}/files/demo-pro/${CONV}/f_shot/file?exp=1&sig=s`);
    expect(mine).toHaveAttribute("target", "_blank");
    expect(mine).toHaveAttribute("rel", "noopener noreferrer");
    const img = mine!.querySelector("img")!;
    expect(img).toHaveAttribute("src", `${HUB}/files/demo-pro/${CONV}/f_shot/thumb?exp=1&sig=t`);
    expect(img).toHaveAttribute("alt", "screenshot.png");
    // Its box is known before it loads: 1280×800 within 200×150.
    expect([img.width, img.height]).toEqual([200, 125]);

    const pdf = w.$<HTMLAnchorElement>(".tc-file");
    expect(pdf.textContent).toBe("📄 invoice.pdf (40 KB)");
    expect(pdf).toHaveAttribute("href", `${HUB}/files/demo-pro/${CONV}/f_pdf2/file?exp=1&sig=s`);
    expect(pdf).toHaveAttribute("download", "invoice.pdf");
    // The operator's message had files only: no empty bubble.
    expect(w.$(".tc-msg--operator .tc-bubble")).toBeNull();
  });

  it("asks again for a link gone stale before it is followed, and once more for a thumbnail that fails", async () => {
    let now = Date.now();
    const w = mount({ now: () => now });
    vi.spyOn(Date, "now").mockImplementation(() => now);
    const open = vi.spyOn(window, "open").mockImplementation(() => null);
    w.socket.receive(history());
    await vi.waitFor(() => expect(w.$$(".tc-thumb[href]")).toHaveLength(2));
    const pdf = w.$<HTMLAnchorElement>(".tc-file");

    // Fresh: followed as it is.
    const fresh = new MouseEvent("click", { bubbles: true, cancelable: true });
    pdf.dispatchEvent(fresh);
    expect(fresh.defaultPrevented).toBe(false);

    // Five minutes later the pointer comes to it: a new link before the click.
    now += 5 * 60_000;
    pdf.dispatchEvent(new Event("pointerenter"));
    await vi.waitFor(() => expect(pdf.getAttribute("href")).toContain("exp=2"));
    now += 5 * 60_000;
    const stale = new MouseEvent("click", { bubbles: true, cancelable: true });
    pdf.dispatchEvent(stale);
    expect(stale.defaultPrevented).toBe(true);
    await vi.waitFor(() => expect(open).toHaveBeenCalledWith(`${HUB}/files/demo-pro/${CONV}/f_pdf2/file?exp=3&sig=s`, "_blank", "noopener"));

    // A thumbnail that fails to load (its link expired early): asked for once more…
    const img = w.$<HTMLImageElement>(".tc-msg--visitor img");
    const before = w.files.linkCalls().length;
    img.dispatchEvent(new Event("error"));
    await vi.waitFor(() => expect(img.getAttribute("src")).not.toContain("exp=1"));
    expect(w.files.linkCalls()).toHaveLength(before + 1);
    // …and if that fails too, it says so instead of a broken image.
    img.dispatchEvent(new Event("error"));
    expect(w.$(".tc-msg--visitor .tc-files").textContent).toBe("screenshot.png (unavailable)");
  });
});

describe("files in the widget's state", () => {
  it("re-sends a message with its files after a reconnect, and drops the box's files with their conversation", () => {
    let s = reduceWidget(initialWidgetState("demo-pro"), { type: "frame", frame: welcome() });
    s = reduceWidget(s, { type: "message_queued", clientId: "w-1", text: "", attachments: [SHOT] });
    expect(resendFrames(s)).toEqual([{ type: "message", client_id: "w-1", text: "", attachments: ["f_shot"] }]);

    s = reduceWidget(s, { type: "file_added", file: { key: "f1", name: "a.png", size: 1, status: "uploading" } });
    s = reduceWidget(s, { type: "file_settled", key: "f1", attachment: SHOT });
    expect(s.files).toEqual([{ key: "f1", name: "a.png", size: 1, status: "ready", attachment: SHOT }]);
    // The hub no longer had the conversation: a new one, whose files these are not.
    s = reduceWidget(s, { type: "frame", frame: welcome("tok-2", "cv_2") });
    expect(s.files).toEqual([]);
  });
});
