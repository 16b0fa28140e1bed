import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  aiSaid,
  AWAY,
  CONV,
  emailLeft,
  eventFrame,
  expired,
  FakeWidgetHub,
  historyFrame,
  human,
  joined,
  martin,
  nora,
  operatorSaid,
  outsideHours,
  transferred,
  visitorSaid,
  welcome,
} from "../test/widgetKit";
import { ChatWidget, dismissedKey, storageKey, type WidgetOptions } from "./widget";
import { backAtText } from "./render";

const HUB = "https://hub.example";

function memoryStorage() {
  const m = new Map<string, string>();
  return {
    map: m,
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  };
}

let hosts: HTMLElement[] = [];
let widgets: ChatWidget[] = [];

function mount(over: Partial<WidgetOptions> = {}) {
  const hub = new FakeWidgetHub();
  const host = document.createElement("take-control-widget");
  document.body.append(host);
  hosts.push(host);
  const root = host.attachShadow({ mode: "open" });
  let n = 0;
  const widget = new ChatWidget({
    workspaceId: "demo-pro",
    hubOrigin: HUB,
    root,
    connect: hub.connect,
    storage: memoryStorage(),
    sessionStorage: memoryStorage(),
    random: () => 0.5,
    newClientId: () => `w-${++n}`,
    ...over,
  });
  widgets.push(widget);
  widget.start();
  const $ = <T extends Element = HTMLElement>(sel: string) => root.querySelector<T>(sel);
  const $$ = (sel: string) => [...root.querySelectorAll<HTMLElement>(sel)];
  const lines = () => $$(".tc-log > *").map((n) => n.textContent);
  return { hub, host, root, widget, $, $$, lines };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const w of widgets) w.destroy();
  for (const h of hosts) h.remove();
  widgets = [];
  hosts = [];
  vi.useRealTimers();
});

function type(input: HTMLTextAreaElement, text: string) {
  input.value = text;
  input.dispatchEvent(new Event("input"));
}
function pressEnter(input: HTMLTextAreaElement) {
  input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
}

describe("the widget in its shadow root", () => {
  it("adds one host element to the page and keeps everything else in the shadow root", () => {
    const { host, root, $ } = mount();
    expect(document.querySelectorAll("take-control-widget")).toHaveLength(1);
    expect(host.childNodes).toHaveLength(0);
    expect(root.querySelector("style")).not.toBeNull();
    expect(document.querySelector(".tc-launcher")).toBeNull();
    const launcher = $<HTMLButtonElement>(".tc-launcher")!;
    expect(launcher.getAttribute("aria-label")).toBe("Open chat");
    expect($(".tc-panel")!.hidden).toBe(true);
    launcher.click();
    expect($(".tc-panel")!.hidden).toBe(false);
    expect(launcher.getAttribute("aria-expanded")).toBe("true");
  });

  it("says hello, shows the history, who answers, and a takeover with the operator's header", () => {
    const { hub, $, $$, lines } = mount();
    const socket = hub.last;
    expect(socket.url).toBe("wss://hub.example/ws/widget");
    socket.open();
    expect(socket.sent[0]).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro" });
    socket.receive(welcome());
    socket.receive(historyFrame([visitorSaid(1, "Where is my parcel?"), aiSaid(2, "Let me check.")]));
    expect(lines()).toEqual(["Where is my parcel?", "AIAI assistantLet me check."]);
    expect($(".tc-who")!.textContent).toBe("AI assistant");

    socket.receive({ type: "typing", conversation_id: CONV, author: { kind: "ai" }, active: true });
    expect($(".tc-typing")!.textContent).toBe("AI assistant is thinking…");

    socket.receive(eventFrame(joined(3, martin)));
    expect($(".tc-typing")!.textContent).toBe("");
    expect($(".tc-who")!.textContent).toBe("Martin from Support (human)");
    socket.receive({ type: "typing", conversation_id: CONV, author: { kind: "operator", ...martin }, active: true });
    expect($(".tc-typing")!.textContent).toBe("Martin from Support is typing…");
    socket.receive(eventFrame(operatorSaid(4, martin, "Hi, Martin here.")));
    expect(lines().slice(2)).toEqual(["Martin from Support joined the chat", "Martin from SupportHi, Martin here."]);
    const op = $$(".tc-msg--operator")[0]!;
    expect(op.querySelector(".tc-name")!.textContent).toBe("Martin from Support");
    expect(op.querySelector("img")!.getAttribute("src")).toBe("https://hub.example/avatars/demo-pro/abc.png");
  });

  it("shows a transfer as Martin leaving and Nora joining, then Nora's name and avatar over her reply", () => {
    const { hub, $, $$, lines } = mount();
    const socket = hub.last;
    socket.open();
    socket.receive(welcome());
    socket.receive(historyFrame([visitorSaid(1, "Can I get a refund?"), joined(2, martin), operatorSaid(3, martin, "Let me check.")]));
    expect($(".tc-who")!.textContent).toBe("Martin from Support (human)");
    socket.receive(eventFrame(transferred(4, martin, nora)));
    expect($(".tc-who")!.textContent).toBe("Nora from Support (human)");
    socket.receive(eventFrame(operatorSaid(5, nora, "Hi, Nora here. Your refund is approved.")));
    expect(lines().slice(3)).toEqual([
      "Martin from Support left the chat",
      "Nora from Support joined the chat",
      "Nora from SupportHi, Nora here. Your refund is approved.",
    ]);
    const noraSays = $$(".tc-msg--operator").at(-1)!;
    expect(noraSays.querySelector(".tc-name")!.textContent).toBe("Nora from Support");
    expect(noraSays.querySelector("img")!.getAttribute("src")).toBe("https://hub.example/avatars/demo-pro/nora.png");
  });

  it("shows Human joining with the placeholder avatar when the recipient has no profile", () => {
    const { hub, $, $$, lines } = mount();
    hub.last.open();
    hub.last.receive(welcome());
    hub.last.receive(historyFrame([joined(1, martin), transferred(2, martin, human), operatorSaid(3, human, "Hello!")]));
    expect(lines().slice(1, 3)).toEqual(["Martin from Support left the chat", "Human joined the chat"]);
    expect($(".tc-who")!.textContent).toBe("Human");
    const op = $$(".tc-msg--operator")[0]!;
    expect(op.querySelector("img")).toBeNull();
    expect(op.querySelector("[data-placeholder] svg")).not.toBeNull();
  });

  it("shows Human with the placeholder avatar for an operator without a profile", () => {
    const { hub, $$, lines } = mount();
    hub.last.open();
    hub.last.receive(welcome());
    hub.last.receive(historyFrame([joined(1, human), operatorSaid(2, human, "Hello!")]));
    expect(lines()[0]).toBe("Human joined the chat");
    const op = $$(".tc-msg--operator")[0]!;
    expect(op.querySelector("img")).toBeNull();
    expect(op.querySelector("[data-placeholder] svg")).not.toBeNull();
  });

  it("sends with Enter, shows Sending… until stored, then the stored message once", () => {
    const { hub, $, lines } = mount();
    const socket = hub.last;
    socket.open();
    socket.receive(welcome());
    socket.receive(historyFrame([]));
    expect($(".tc-empty")!.hidden).toBe(false); // an empty chat says what to do
    const input = $<HTMLTextAreaElement>(".tc-input")!;
    type(input, "Where is my parcel?");
    expect(socket.sentOfType("typing")).toEqual([{ type: "typing", active: true }]);
    pressEnter(input);
    expect(input.value).toBe("");
    expect(socket.sentOfType("message")).toEqual([{ type: "message", client_id: "w-1", text: "Where is my parcel?" }]);
    expect(socket.sentOfType("typing").at(-1)).toEqual({ type: "typing", active: false });
    expect(lines()).toEqual(["Where is my parcel?Sending…"]);
    expect($(".tc-empty")!.hidden).toBe(true);
    socket.receive({ type: "ack", conversation_id: CONV, client_id: "w-1", seq: 1 });
    socket.receive(eventFrame(visitorSaid(1, "Where is my parcel?", "w-1")));
    expect(lines()).toEqual(["Where is my parcel?"]);
  });

  it("sends nothing for a text that shows nothing (zero-width spaces count as spaces)", () => {
    const { hub, widget } = mount();
    const socket = hub.last;
    socket.open();
    socket.receive(welcome());
    expect(widget.sendMessage("\u200b\u200b ")).toBe(false);
    expect(widget.sendMessage("\u0301")).toBe(false);
    expect(socket.sentOfType("message")).toHaveLength(0);
    expect(widget.sendMessage("\u200bhi")).toBe(true);
    expect(socket.sentOfType("message").map((m) => m.text)).toEqual(["hi"]);
  });

  it("re-sends an unacknowledged message when the ack is overdue, under the same client id", () => {
    const { hub, widget } = mount({ ackTimeoutMs: 1_000 });
    const socket = hub.last;
    socket.open();
    socket.receive(welcome());
    widget.sendMessage("hello?");
    vi.advanceTimersByTime(1_300);
    expect(socket.sentOfType("message").map((m) => m.client_id)).toEqual(["w-1", "w-1"]);
    socket.receive({ type: "ack", conversation_id: CONV, client_id: "w-1", seq: 1 });
    vi.advanceTimersByTime(5_000);
    expect(socket.sentOfType("message")).toHaveLength(2);
  });

  it("reconnects after a drop, resumes from the last seq, re-sends what was unacked, shows nothing twice", () => {
    const { hub, widget, lines } = mount();
    const first = hub.last;
    first.open();
    first.receive(welcome());
    first.receive(historyFrame([visitorSaid(1, "hi"), aiSaid(2, "hello")]));
    widget.sendMessage("are you there?");
    first.serverClose(1006);
    expect(widget.getState().connection.status).toBe("reconnecting");
    vi.advanceTimersByTime(20_000);
    expect(hub.sockets).toHaveLength(2);
    const second = hub.last;
    second.open();
    expect(second.sent[0]).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro", visitor_token: "tok-1", last_seq: 2 });
    second.receive(welcome());
    expect(second.sentOfType("message")).toEqual([{ type: "message", client_id: "w-1", text: "are you there?" }]);
    second.receive(historyFrame([aiSaid(2, "hello"), visitorSaid(3, "are you there?", "w-1")]));
    second.receive(eventFrame(visitorSaid(3, "are you there?", "w-1")));
    expect(lines()).toEqual(["hi", "AIAI assistanthello", "are you there?"]);
  });

  it("keeps the visitor token per workspace, so a reload resumes the conversation", () => {
    const storage = memoryStorage();
    const a = mount({ storage });
    a.hub.last.open();
    a.hub.last.receive(welcome("tok-42"));
    expect(JSON.parse(storage.map.get(storageKey("demo-pro"))!)).toEqual({ token: "tok-42", conversationId: CONV });
    a.widget.destroy();
    const b = mount({ storage });
    b.hub.last.open();
    expect(b.hub.last.sent[0]).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro", visitor_token: "tok-42" });
  });

  it("drops a refused token and starts afresh", () => {
    const storage = memoryStorage();
    storage.setItem(storageKey("demo-pro"), JSON.stringify({ token: "forged" }));
    const { hub } = mount({ storage });
    hub.last.open();
    hub.last.receive({ type: "error", code: "unauthorized", message: "invalid visitor token", retryable: false });
    hub.last.serverClose(4001);
    expect(storage.map.has(storageKey("demo-pro"))).toBe(false);
    vi.advanceTimersByTime(20_000);
    hub.last.open();
    expect(hub.last.sent[0]).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro" });
  });

  it("stops on an unknown workspace and says so, without retrying", () => {
    const { hub, widget, $ } = mount({ workspaceId: "nope" });
    hub.last.open();
    hub.last.receive({ type: "error", code: "workspace_not_found", message: "no such workspace", retryable: false });
    hub.last.serverClose(4007);
    vi.advanceTimersByTime(60_000);
    expect(hub.sockets).toHaveLength(1);
    widget.open();
    expect($(".tc-conn")!.textContent).toContain("This chat is not available.");
    expect($<HTMLButtonElement>(".tc-send")!.disabled).toBe(true);
  });

  it("shows the AI thinking, then its reply growing in one partial bubble, then the stored reply", () => {
    const { hub, $, $$, lines } = mount();
    const socket = hub.last;
    socket.open();
    socket.receive(welcome());
    socket.receive(historyFrame([visitorSaid(1, "How long does shipping take?")]));
    const draft = (text: string, state: "streaming" | "done" | "discarded" = "streaming") =>
      socket.receive({ type: "ai_draft", conversation_id: CONV, draft_id: "d1", epoch: 0, offset: 0, text, state });
    socket.receive({ type: "typing", conversation_id: CONV, author: { kind: "ai" }, active: true });
    expect($(".tc-typing")!.textContent).toBe("AI assistant is thinking…");
    expect($$(".tc-msg--partial")).toHaveLength(0);

    draft("We ship ");
    expect($(".tc-typing")!.textContent).toBe(""); // the bubble shows the progress now
    expect($$(".tc-msg--partial .tc-bubble").map((b) => b.textContent)).toEqual(["We ship "]);
    expect($(".tc-log")!.getAttribute("aria-busy")).toBe("true");
    draft("We ship within 1 business day.");
    expect($$(".tc-msg--partial .tc-bubble").map((b) => b.textContent)).toEqual(["We ship within 1 business day."]);
    expect($$(".tc-msg--ai")).toHaveLength(1);

    socket.receive(eventFrame(aiSaid(2, "We ship within 1 business day.")));
    draft("", "done");
    socket.receive({ type: "typing", conversation_id: CONV, author: { kind: "ai" }, active: false });
    expect($$(".tc-msg--partial")).toHaveLength(0);
    expect($(".tc-log")!.hasAttribute("aria-busy")).toBe(false);
    expect(lines()).toEqual(["How long does shipping take?", "AIAI assistantWe ship within 1 business day."]);
  });

  it("removes a discarded draft, and the partial bubble at a takeover", () => {
    const { hub, $$, lines } = mount();
    const socket = hub.last;
    socket.open();
    socket.receive(welcome());
    socket.receive(historyFrame([visitorSaid(1, "hi")]));
    socket.receive({ type: "ai_draft", conversation_id: CONV, draft_id: "d1", epoch: 0, offset: 0, text: "Sorry, I", state: "streaming" });
    socket.receive({ type: "ai_draft", conversation_id: CONV, draft_id: "d1", epoch: 0, offset: 0, text: "", state: "discarded" });
    expect($$(".tc-msg--partial")).toHaveLength(0);
    socket.receive({ type: "ai_draft", conversation_id: CONV, draft_id: "d2", epoch: 0, offset: 0, text: "Hello! How", state: "streaming" });
    expect($$(".tc-msg--partial")).toHaveLength(1);
    socket.receive(eventFrame(joined(2, human)));
    expect($$(".tc-msg--partial")).toHaveLength(0);
    expect(lines()).toEqual(["hi", "Human joined the chat"]);
  });

  it("shows nothing of the operators' brief, suggestion or interrupted reply, should they ever reach it", () => {
    // The hub never sends these to a widget; were a misrouted one to arrive, it must change nothing.
    const { hub, root, widget, lines } = mount();
    const socket = hub.last;
    socket.open();
    socket.receive(welcome());
    socket.receive(historyFrame([visitorSaid(1, "How do I return an item?"), joined(2, martin)]));
    root.querySelector<HTMLButtonElement>(".tc-launcher")!.click();
    const before = { lines: lines(), html: root.innerHTML, state: widget.getState() };
    const secrets = [
      "VIP customer, refund approved",
      "The visitor asked for a person.",
      "I've approved your refund: the prepaid label is on its way.",
      "Your order shipped on Monday and should arrive",
    ];
    socket.receive({ type: "brief", conversation_id: CONV, brief: { state: "pending", since: 1 } });
    socket.receive({
      type: "brief",
      conversation_id: CONV,
      brief: { state: "ready", at: 2, brief: { wants: secrets[0]!, answered: "The return policy.", why_human: secrets[1]!, made_by: "knowledge" } },
    });
    socket.receive({ type: "suggestion", conversation_id: CONV, text: secrets[2]! });
    socket.receive({ type: "interrupted_reply", conversation_id: CONV, draft_id: "d1", text: secrets[3]! });
    expect(widget.getState()).toBe(before.state);
    expect(lines()).toEqual(before.lines);
    expect(root.innerHTML).toBe(before.html);
    for (const s of secrets) expect(root.textContent).not.toContain(s);
  });

  it("Talk to a human: sends request_human, says a teammate was asked, and is offered again after expiry", () => {
    const { hub, $, lines } = mount({ humanRequestTimeoutMs: 5_000 });
    const socket = hub.last;
    socket.open();
    const ask = $<HTMLButtonElement>(".tc-human .tc-link")!;
    expect(ask.textContent).toBe("Talk to a human");
    expect($(".tc-human")!.hidden).toBe(true); // not connected yet
    socket.receive(welcome());
    socket.receive(historyFrame([visitorSaid(1, "hi")]));
    expect($(".tc-human")!.hidden).toBe(false);
    expect(ask.hidden).toBe(false);

    ask.click();
    ask.click(); // a second press before the hub answers sends nothing more
    expect(socket.sentOfType("request_human")).toEqual([{ type: "request_human" }]);
    expect(ask.hidden).toBe(true);
    expect($(".tc-human [role=status]")!.textContent).toBe("Asking for a teammate…");

    socket.receive(eventFrame({ seq: 2, at: 2, type: "human_requested", by: "visitor" }));
    expect(lines().at(-1)).toBe("A teammate has been asked to join. The assistant can keep helping you meanwhile.");
    expect(ask.hidden).toBe(true);
    expect($(".tc-human [role=status]")!.textContent).toBe("Waiting for a teammate to join…");
    vi.advanceTimersByTime(10_000); // the hub answered: no timeout brings the button back
    expect(ask.hidden).toBe(true);

    socket.receive(eventFrame({ seq: 3, at: 3, type: "human_request_expired", waited_ms: 120_000 }));
    expect(lines().at(-2)).toBe(AWAY.message);
    expect($(".tc-log .tc-prompt")).not.toBeNull();
    expect(ask.hidden).toBe(false);
    expect($(".tc-human [role=status]")!.textContent).toBe("");
  });

  it("Talk to a human is hidden while an operator holds the conversation, and back after End", () => {
    const { hub, $ } = mount();
    const socket = hub.last;
    socket.open();
    socket.receive(welcome());
    socket.receive(historyFrame([]));
    socket.receive(eventFrame(joined(1, martin)));
    expect($(".tc-human")!.hidden).toBe(true);
    socket.receive(eventFrame({ seq: 2, at: 2, type: "operator_left", operator: martin, epoch: 2, reason: "ended" }));
    expect($(".tc-human")!.hidden).toBe(false);
    expect($(".tc-human .tc-link")!.hidden).toBe(false);
  });

  it("offers Talk to a human again when the hub does not answer in time", () => {
    const { hub, $ } = mount({ humanRequestTimeoutMs: 5_000 });
    const socket = hub.last;
    socket.open();
    socket.receive(welcome());
    socket.receive(historyFrame([]));
    $<HTMLButtonElement>(".tc-human .tc-link")!.click();
    expect($(".tc-human .tc-link")!.hidden).toBe(true);
    vi.advanceTimersByTime(5_000);
    expect($(".tc-human .tc-link")!.hidden).toBe(false);
  });

  it("counts answers on the launcher while the panel is closed", () => {
    const { hub, $ } = mount();
    hub.last.open();
    hub.last.receive(welcome());
    hub.last.receive(historyFrame([]));
    hub.last.receive(eventFrame(aiSaid(1, "Hi!")));
    expect($(".tc-badge")!.hidden).toBe(false);
    expect($(".tc-badge")!.textContent).toBe("1");
    $<HTMLButtonElement>(".tc-launcher")!.click();
    expect($(".tc-badge")!.hidden).toBe(true);
  });
});

describe("New conversation", () => {
  /** Connected, with a short conversation on screen and the chat open. */
  const talking = (over: Partial<WidgetOptions> = {}) => {
    const m = mount(over);
    m.hub.last.open();
    m.hub.last.receive(welcome());
    m.hub.last.receive(historyFrame([visitorSaid(1, "Where is my parcel?"), aiSaid(2, "Let me check.")]));
    m.widget.open();
    const newBtn = m.$<HTMLButtonElement>(".tc-header .tc-new")!;
    const button = (name: string) => m.$$(".tc-header button").find((b) => (b.getAttribute("aria-label") ?? b.textContent) === name) as HTMLButtonElement;
    return { ...m, newBtn, button };
  };
  const shown = (b: HTMLElement) => !b.hidden && !b.closest("[hidden]");

  it("is offered only once the conversation has a message and the widget is connected", () => {
    const { hub, widget, $ } = mount();
    widget.open();
    const newBtn = $<HTMLButtonElement>(".tc-header .tc-new")!;
    expect(newBtn.textContent).toBe("New conversation");
    expect(shown(newBtn)).toBe(false); // connecting
    hub.last.open();
    hub.last.receive(welcome());
    hub.last.receive(historyFrame([]));
    expect(shown(newBtn)).toBe(false); // nothing to start over from
    hub.last.receive(eventFrame(aiSaid(1, "Hi! How can I help?")));
    expect(shown(newBtn)).toBe(true);
    expect(newBtn.disabled).toBe(false);
    hub.last.serverClose(1006);
    expect(shown(newBtn)).toBe(false); // reconnecting
  });

  it("is disabled while a message waits for its ack, and back once it is stored", () => {
    const { hub, widget, newBtn } = talking();
    widget.sendMessage("Any news?");
    expect(shown(newBtn)).toBe(true);
    expect(newBtn.disabled).toBe(true);
    expect(widget.startNewConversation()).toBe(false);
    expect(hub.sockets).toHaveLength(1);
    hub.last.receive({ type: "ack", conversation_id: CONV, client_id: "w-1", seq: 3 });
    expect(newBtn.disabled).toBe(true);
    hub.last.receive(eventFrame(visitorSaid(3, "Any news?", "w-1")));
    expect(newBtn.disabled).toBe(false);
  });

  it("asks first, inside the chat; Cancel changes nothing and gives focus back", () => {
    const { hub, root, newBtn, button, $ } = talking();
    const confirmSpy = vi.spyOn(window, "confirm");
    newBtn.click();
    expect(confirmSpy).not.toHaveBeenCalled();
    const yes = button("Yes, start a new conversation");
    const cancel = button("Cancel");
    expect(shown(newBtn)).toBe(false);
    expect(shown(yes) && shown(cancel)).toBe(true);
    expect(yes.textContent).toBe("Yes");
    const group = yes.closest("[role=group]")!;
    expect(root.getElementById(group.getAttribute("aria-labelledby")!)!.textContent).toBe("Start new?");
    expect(root.activeElement).toBe(cancel);
    cancel.click();
    expect(shown(newBtn)).toBe(true);
    expect(shown(yes)).toBe(false);
    expect(root.activeElement).toBe(newBtn);
    expect(hub.sockets).toHaveLength(1);
    expect(hub.last.closedWith).toBeNull();
    // Closing the chat forgets the question.
    newBtn.click();
    $<HTMLButtonElement>(".tc-close")!.click();
    $<HTMLButtonElement>(".tc-launcher")!.click();
    expect(shown(newBtn)).toBe(true);
    expect(shown(yes)).toBe(false);
    confirmSpy.mockRestore();
  });

  it("Yes: closes the socket on purpose, empties the chat, sends new_conversation once, stores the new token", () => {
    const storage = memoryStorage();
    const { hub, root, newBtn, button, lines, $, widget } = talking({ storage });
    expect(JSON.parse(storage.map.get(storageKey("demo-pro"))!)).toEqual({ token: "tok-1", conversationId: CONV });
    const old = hub.last;
    newBtn.click();
    button("Yes, start a new conversation").click();
    expect(old.closedWith).toBe(1000);
    expect(lines()).toEqual([]);
    expect(root.activeElement).toBe($(".tc-input"));
    expect(shown(newBtn)).toBe(false);
    expect(hub.sockets).toHaveLength(2);
    // The old socket's close, when the browser reports it, brings no reconnect.
    old.serverClose(1000);
    vi.advanceTimersByTime(60_000);
    expect(hub.sockets).toHaveLength(2);
    expect(widget.getState().connection.status).toBe("connecting");

    const next = hub.last;
    next.open();
    expect(next.sent[0]).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro", visitor_token: "tok-1", new_conversation: true });
    // Until the welcome, storage keeps the old token (a reload then resumes the old conversation).
    expect(JSON.parse(storage.map.get(storageKey("demo-pro"))!).token).toBe("tok-1");
    next.receive(welcome("tok-2", "cv_2"));
    next.receive(historyFrame([], "cv_2"));
    expect(JSON.parse(storage.map.get(storageKey("demo-pro"))!)).toEqual({ token: "tok-2", conversationId: "cv_2" });
    expect(lines()).toEqual([]);
    expect($(".tc-empty")!.hidden).toBe(false);
    expect(shown(newBtn)).toBe(false); // nothing in the new one yet

    widget.sendMessage("A different question");
    expect(next.sentOfType("message")).toEqual([{ type: "message", client_id: "w-1", text: "A different question" }]);
    next.receive({ type: "ack", conversation_id: "cv_2", client_id: "w-1", seq: 1 });
    next.receive(eventFrame(visitorSaid(1, "A different question", "w-1"), "cv_2"));
    expect(lines()).toEqual(["A different question"]);
    expect(shown(newBtn)).toBe(true);

    // A drop afterwards is a normal resume of the new conversation.
    next.serverClose(1006);
    vi.advanceTimersByTime(20_000);
    expect(hub.sockets).toHaveLength(3);
    hub.last.open();
    expect(hub.last.sent[0]).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro", visitor_token: "tok-2", last_seq: 1 });
    const hellos = hub.sockets.flatMap((x) => x.sentOfType("hello"));
    expect(hellos.filter((h) => h.new_conversation)).toHaveLength(1);
  });

  it("a socket that reports its close at once (inside close()) does not undo the new conversation", () => {
    const hub = new FakeWidgetHub();
    const connect: WidgetOptions["connect"] = (url, handlers) => {
      const socket = hub.connect(url, handlers);
      return { send: (d) => socket.send(d), close: (code) => (socket.close(code), handlers.onClose(code ?? 1000, "")) };
    };
    const { widget } = mount({ connect });
    hub.last.open();
    hub.last.receive(welcome());
    hub.last.receive(historyFrame([visitorSaid(1, "hi")]));
    expect(widget.startNewConversation()).toBe(true);
    expect(hub.sockets[0]!.closedWith).toBe(1000);
    expect(hub.sockets).toHaveLength(2);
    hub.last.open();
    expect(hub.last.sent[0]).toMatchObject({ visitor_token: "tok-1", new_conversation: true });
  });

  it("dropped before the welcome: the retry still asks for the new conversation, not the old one", () => {
    const { hub, newBtn, button } = talking();
    newBtn.click();
    button("Yes, start a new conversation").click();
    hub.last.open();
    hub.last.serverClose(1006);
    vi.advanceTimersByTime(20_000);
    expect(hub.sockets).toHaveLength(3);
    hub.last.open();
    expect(hub.last.sent[0]).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro", visitor_token: "tok-1", new_conversation: true });
  });
});

describe("keyboard and screen readers", () => {
  const keydown = (target: Element, key: string, init: KeyboardEventInit = {}) => {
    const e = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, composed: true, ...init });
    target.dispatchEvent(e);
    return e;
  };
  const connected = (over: Partial<WidgetOptions> = {}) => {
    const m = mount(over);
    m.hub.last.open();
    m.hub.last.receive(welcome());
    return m;
  };

  it("is a named, non-modal dialog that the launcher controls", () => {
    const { root, $ } = mount();
    const launcher = $<HTMLButtonElement>(".tc-launcher")!;
    const panel = $(".tc-panel")!;
    expect(panel.getAttribute("role")).toBe("dialog");
    expect(panel.getAttribute("aria-label")).toBe("Chat with us");
    expect(panel.hasAttribute("aria-modal")).toBe(false);
    expect(root.getElementById(launcher.getAttribute("aria-controls")!)).toBe(panel);
    expect(launcher.getAttribute("aria-expanded")).toBe("false");
  });

  it("opening puts focus in the message box", () => {
    const { root, $ } = mount();
    $<HTMLButtonElement>(".tc-launcher")!.click();
    expect(root.activeElement).toBe($(".tc-input"));
  });

  it("Escape closes the chat and gives focus back to the launcher", () => {
    const { root, widget, $ } = mount();
    const launcher = $<HTMLButtonElement>(".tc-launcher")!;
    launcher.click();
    const input = $<HTMLTextAreaElement>(".tc-input")!;
    keydown(input, "Escape", { isComposing: true }); // closes an input method's candidates, not the chat
    expect(widget.getState().open).toBe(true);
    keydown(input, "Escape");
    expect(widget.getState().open).toBe(false);
    expect($(".tc-panel")!.hidden).toBe(true);
    expect(root.activeElement).toBe(launcher);
    expect(launcher.getAttribute("aria-expanded")).toBe("false");
    expect(launcher.getAttribute("aria-label")).toBe("Open chat");
    launcher.click();
    expect(root.activeElement).toBe(input);
    keydown($(".tc-send")!, "Escape"); // from anywhere in the panel
    expect(root.activeElement).toBe(launcher);
  });

  it("the × button closes the chat and gives focus back to the launcher, wherever focus was", () => {
    const { root, $ } = mount();
    const launcher = $<HTMLButtonElement>(".tc-launcher")!;
    launcher.click();
    const close = $<HTMLButtonElement>(".tc-close")!;
    expect(close.getAttribute("aria-label")).toBe("Close chat");
    (root.activeElement as HTMLElement).blur(); // a click that focuses nothing (Safari)
    close.click();
    expect($(".tc-panel")!.hidden).toBe(true);
    expect(root.activeElement).toBe(launcher);
  });

  it("closed by the page's script: focus goes to the launcher only if it was in the chat", () => {
    const { root, widget, $ } = mount();
    const launcher = $<HTMLButtonElement>(".tc-launcher")!;
    widget.open();
    expect(root.activeElement).toBe($(".tc-input"));
    widget.open(false);
    expect(root.activeElement).toBe(launcher);

    const field = document.createElement("input");
    document.body.append(field);
    widget.open();
    field.focus(); // the visitor went back to the page
    widget.open(false);
    expect(document.activeElement).toBe(field);
    field.remove();
  });

  it("does not trap focus: Tab is left to the browser", () => {
    const { $ } = mount();
    $<HTMLButtonElement>(".tc-launcher")!.click();
    expect(keydown($(".tc-send")!, "Tab").defaultPrevented).toBe(false);
    expect(keydown($(".tc-input")!, "Tab", { shiftKey: true }).defaultPrevented).toBe(false);
  });

  it("every button has a name, and Talk to a human is a button", () => {
    const { hub, $$ } = connected();
    hub.last.receive(historyFrame([]));
    const buttons = $$("button");
    expect(buttons.length).toBeGreaterThanOrEqual(5);
    for (const b of buttons) expect((b.getAttribute("aria-label") ?? b.textContent ?? "").trim()).not.toBe("");
    expect(buttons.map((b) => b.textContent)).toContain("Talk to a human");
    expect($$(".tc-input")[0]!.getAttribute("aria-label")).toBe("Message");
  });

  it("the launcher's name says how many answers are unread", () => {
    const { hub, $ } = connected();
    hub.last.receive(historyFrame([]));
    const launcher = $<HTMLButtonElement>(".tc-launcher")!;
    hub.last.receive(eventFrame(aiSaid(1, "Hi!")));
    hub.last.receive(eventFrame(aiSaid(2, "Anything else?")));
    expect(launcher.getAttribute("aria-label")).toBe("Open chat (2 unread)");
    launcher.click();
    expect(launcher.getAttribute("aria-label")).toBe("Close chat");
    launcher.click();
    expect(launcher.getAttribute("aria-label")).toBe("Open chat");
  });

  it("reads out answers and notices once, politely; not the visitor's own words, not a partial reply, not the first history", () => {
    const { hub, widget, $ } = connected();
    const socket = hub.last;
    const log = $(".tc-log")!;
    const said = () => [...$(".tc-sr")!.children].map((n) => n.textContent);
    expect(log.getAttribute("role")).toBe("log");
    expect(log.getAttribute("aria-live")).toBe("off");
    expect($(".tc-sr")!.getAttribute("aria-live")).toBe("polite");
    widget.open();

    socket.receive(historyFrame([visitorSaid(1, "Hello"), aiSaid(2, "Hi! How can I help?")]));
    expect(said()).toEqual([]); // the history is on screen, not read out

    widget.sendMessage("How long does shipping take?");
    socket.receive({ type: "ack", conversation_id: CONV, client_id: "w-1", seq: 3 });
    socket.receive(eventFrame(visitorSaid(3, "How long does shipping take?", "w-1")));
    expect(said()).toEqual([]);

    const draft = (text: string) => socket.receive({ type: "ai_draft", conversation_id: CONV, draft_id: "d1", epoch: 0, offset: 0, text, state: "streaming" });
    draft("We ship ");
    draft("We ship within 1 business");
    expect(said()).toEqual([]);
    expect($(".tc-msg--partial")!.getAttribute("aria-busy")).toBe("true");
    socket.receive(eventFrame(aiSaid(4, "We ship within 1 business day.")));
    expect(said()).toEqual(["AI assistant: We ship within 1 business day."]);

    socket.receive(eventFrame({ seq: 5, at: 5, type: "human_requested", by: "visitor" }));
    expect(said()).toEqual(["A teammate has been asked to join. The assistant can keep helping you meanwhile."]);
    socket.receive({ type: "typing", conversation_id: CONV, author: { kind: "ai" }, active: false }); // an unrelated update
    expect(said()).toEqual(["A teammate has been asked to join. The assistant can keep helping you meanwhile."]);

    // Two at once are read in order.
    socket.receive(historyFrame([joined(6, martin), operatorSaid(7, martin, "Hi, Martin here.")]));
    expect(said()).toEqual(["Martin from Support joined the chat", "Martin from Support: Hi, Martin here."]);
    socket.receive(eventFrame({ seq: 8, at: 8, type: "operator_left", operator: martin, epoch: 3, reason: "ended" }));
    expect(said()).toEqual(["Martin from Support left the chat"]);
  });

  it("reads nothing out while closed (the launcher's name has the count), and nothing old when reopened", () => {
    const { hub, widget, $ } = connected();
    const said = () => [...$(".tc-sr")!.children].map((n) => n.textContent);
    hub.last.receive(historyFrame([]));
    widget.open();
    hub.last.receive(eventFrame(aiSaid(1, "Hi!")));
    expect(said()).toEqual(["AI assistant: Hi!"]);
    widget.open(false);
    expect(said()).toEqual([]);
    hub.last.receive(eventFrame(aiSaid(2, "Still there?")));
    expect(said()).toEqual([]);
    expect($(".tc-launcher")!.getAttribute("aria-label")).toBe("Open chat (1 unread)");
    widget.open();
    expect(said()).toEqual([]);
    hub.last.receive(eventFrame(joined(3, martin)));
    expect(said()).toEqual(["Martin from Support joined the chat"]);
  });

  it("after a drop, reads out what arrived meanwhile, not what was already shown", () => {
    const { hub, widget, $ } = connected();
    widget.open();
    const said = () => [...$(".tc-sr")!.children].map((n) => n.textContent);
    hub.last.receive(historyFrame([visitorSaid(1, "hi"), aiSaid(2, "hello")]));
    hub.last.serverClose(1006);
    vi.advanceTimersByTime(20_000);
    hub.last.open();
    hub.last.receive(welcome());
    hub.last.receive(historyFrame([aiSaid(2, "hello"), aiSaid(3, "Still there?")]));
    expect(said()).toEqual(["AI assistant: Still there?"]);
  });
});

describe("when nobody is available: the email prompt", () => {
  function ready(over: Partial<WidgetOptions> = {}, events: Parameters<typeof historyFrame>[0] = [visitorSaid(1, "A person, please")]) {
    const kit = mount(over);
    kit.hub.last.open();
    kit.hub.last.receive(welcome());
    kit.hub.last.receive(historyFrame(events));
    kit.widget.open();
    const card = () => kit.$<HTMLFormElement>(".tc-log .tc-prompt");
    const field = () => kit.$<HTMLInputElement>(".tc-prompt input")!;
    const button = (name: string) => kit.$$("button").find((b) => b.textContent === name) as HTMLButtonElement | undefined;
    const submit = (value: string) => {
      field().value = value;
      card()!.requestSubmit();
    };
    return { ...kit, card, field, button, submit };
  }

  it("outside working hours: the away message, when the team is back, and the prompt right under them", () => {
    const { hub, lines, card, field, $ } = ready();
    const opensAt = Date.UTC(2025, 0, 6, 8, 0);
    hub.last.receive(eventFrame(outsideHours(2, opensAt, Date.UTC(2025, 0, 5, 20, 0))));
    expect(lines()[1]).toBe(`${AWAY.message}${backAtText(opensAt, Date.UTC(2025, 0, 5, 20, 0))}`);
    expect($(".tc-back")!.textContent).toMatch(/^We're back .+\.$/);
    // The card is the line after the away message, in the log.
    expect($(".tc-log")!.children[2]).toBe(card());
    expect(field().type).toBe("email");
    expect(field().autocomplete).toBe("email");
    expect(field().labels?.[0]?.textContent).toBe("Your email (optional)");
    expect(card()!.textContent).toContain(AWAY.email_consent);
    expect(field().getAttribute("aria-describedby")).toBe("tc-email-consent");
    expect([...card()!.querySelectorAll("button")].map((b) => b.textContent)).toEqual(["Send", "No thanks"]);
    // Read out: the away message and when the team is back, not the card.
    expect([...$(".tc-sr")!.children].map((n) => n.textContent)).toEqual([
      `${AWAY.message} ${backAtText(opensAt, Date.UTC(2025, 0, 5, 20, 0))}`,
    ]);
  });

  it("checks the address as the hub does before sending it; the hub's answer turns the card into the address left", () => {
    const { hub, card, field, button, submit, lines, $ } = ready({}, [visitorSaid(1, "A person, please"), expired(2)]);
    submit("ana@example");
    expect(hub.last.sentOfType("follow_up_email")).toEqual([]);
    expect($(".tc-prompt [role=alert]")!.textContent).toBe("That does not look like an email address. Check it and send it again.");
    expect(field().getAttribute("aria-invalid")).toBe("true");
    expect(field().value).toBe("ana@example"); // kept, to be corrected

    submit("  ana@example.com ");
    expect(hub.last.sentOfType("follow_up_email")).toEqual([{ type: "follow_up_email", email: "ana@example.com" }]);
    expect(button("Sending…")?.disabled).toBe(true);
    expect($(".tc-prompt [role=alert]")!.hidden).toBe(true);

    hub.last.receive(eventFrame(emailLeft(3, "ana@example.com")));
    expect(card()).toBeNull();
    expect(lines().at(-1)).toBe("We'll answer you at ana@example.com Change");
  });

  it("shows the hub's refusal under the field and keeps what was typed", () => {
    const { hub, field, submit, $ } = ready({}, [expired(1)]);
    submit("ana@example.com");
    hub.last.receive({ type: "error", code: "no_follow_up", message: "not waiting", retryable: false, conversation_id: CONV });
    expect($(".tc-prompt [role=alert]")!.textContent).toBe("No email is needed any more: a teammate has already answered here.");
    expect(field().value).toBe("ana@example.com");
    expect(field().readOnly).toBe(false);
    expect($(".tc-conn")!.hidden).toBe(true);
  });

  it("Change opens the card again with the address left; Cancel closes it", () => {
    const { hub, card, field, button, submit, $ } = ready({}, [expired(1), emailLeft(2, "ana@example.com")]);
    expect(card()).toBeNull();
    button("Change")!.click();
    expect(card()).not.toBeNull();
    expect(field().value).toBe("ana@example.com");
    expect(field()).toBe($(".tc-prompt input"));
    expect(button("Change")).toBeUndefined();
    // The card's Cancel (the header has one of its own, for "New conversation").
    const cancel = [...card()!.querySelectorAll("button")].find((b) => b.textContent === "Cancel")!;
    cancel.click();
    expect(card()).toBeNull();
    expect(button("Change")).toBeDefined();

    button("Change")!.click();
    submit("ana@work.example");
    expect(hub.last.sentOfType("follow_up_email")).toEqual([{ type: "follow_up_email", email: "ana@work.example" }]);
  });

  it("No thanks is remembered for this tab: a reload asks no more, a new request asks again", () => {
    const session = memoryStorage();
    const first = ready({ sessionStorage: session }, [expired(1)]);
    first.button("No thanks")!.click();
    expect(first.card()).toBeNull();
    expect(first.root.activeElement).toBe(first.$(".tc-input"));
    expect(JSON.parse(session.getItem(dismissedKey("demo-pro"))!)).toEqual([`${CONV}:1`]);
    first.widget.destroy();

    const reloaded = ready({ sessionStorage: session }, [expired(1)]);
    expect(reloaded.card()).toBeNull();
    reloaded.hub.last.receive(eventFrame(outsideHours(2)));
    expect(reloaded.card()).not.toBeNull();
  });

  it("an operator joining takes the card away", () => {
    const { hub, card } = ready({}, [expired(1)]);
    expect(card()).not.toBeNull();
    hub.last.receive(eventFrame(joined(2, martin)));
    expect(card()).toBeNull();
  });
});

describe("the reopen link of a follow-up email", () => {
  it("keeps the link's token where the widget keeps its own, opens the chat and resumes the whole conversation", () => {
    const storage = memoryStorage();
    storage.setItem(storageKey("demo-pro"), JSON.stringify({ token: "tok-old", conversationId: "cv_old" }));
    const { hub, $, widget } = mount({ storage, reopenToken: "tok-email" });
    expect(JSON.parse(storage.getItem(storageKey("demo-pro"))!)).toEqual({ token: "tok-email", conversationId: null });
    expect($(".tc-panel")!.hidden).toBe(false);
    expect(widget.getState().open).toBe(true);
    hub.last.open();
    // No last_seq: nothing of it is held here, so the hub sends its whole history.
    expect(hub.last.sent[0]).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro", visitor_token: "tok-email" });
    hub.last.receive(welcome("tok-email"));
    hub.last.receive(historyFrame([visitorSaid(1, "A person, please"), expired(2), emailLeft(3, "ana@example.com"), operatorSaid(4, martin, "Here is your answer.")]));
    expect($(".tc-log")!.textContent).toContain("Here is your answer.");
  });

  it("without a link, the token kept in the browser is used as before", () => {
    const storage = memoryStorage();
    storage.setItem(storageKey("demo-pro"), JSON.stringify({ token: "tok-old", conversationId: "cv_old" }));
    const { hub, $ } = mount({ storage, reopenToken: null });
    expect($(".tc-panel")!.hidden).toBe(true);
    hub.last.open();
    expect(hub.last.sent[0]).toMatchObject({ visitor_token: "tok-old" });
  });
});
