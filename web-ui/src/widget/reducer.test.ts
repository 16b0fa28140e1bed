import { describe, expect, it } from "vitest";
import type { DraftState, ServerFrame } from "../protocol/frames";
import {
  aiSaid,
  AWAY,
  CONV,
  emailLeft,
  eventFrame,
  expired,
  historyFrame,
  human,
  joined,
  left,
  martin,
  nora,
  operatorSaid,
  outsideHours,
  transferred,
  visitorSaid,
  welcome,
} from "../test/widgetKit";
import {
  AWAY_FALLBACK_TEXT,
  canAskForHuman,
  emailPrompt,
  helloFrame,
  INVALID_EMAIL_TEXT,
  newConversationControl,
  reduceWidget,
  resendFrames,
  timeline,
  visiblePartial,
  widgetCloseAction,
  type WidgetAction,
} from "./reducer";
import { backAtText, statusLine } from "./render";
import { initialWidgetState, type WidgetState } from "./state";

const frame = (f: ServerFrame): WidgetAction => ({ type: "frame", frame: f });
const run = (s: WidgetState, ...actions: WidgetAction[]) => actions.reduce(reduceWidget, s);
const connected = (s = initialWidgetState("demo-pro")) => run(s, { type: "connect_started" }, frame(welcome()));
const texts = (s: WidgetState) =>
  timeline(s).map((i) =>
    i.kind === "notice"
      ? `— ${i.text}`
      : i.kind === "away"
        ? `— ${i.text}${i.back ? ` ${i.back}` : ""}`
        : i.kind === "email_left"
          ? `— We'll answer you at ${i.email}${i.change ? " [Change]" : ""}`
          : i.kind === "email_prompt"
            ? `[email prompt: ${i.prompt.mode}${i.prompt.email ? ` ${i.prompt.email}` : ""}]`
            : `${i.message.author.kind}: ${i.message.text}${i.message.status ? ` [${i.message.status}]` : ""}${i.message.partial ? "▍" : ""}`,
  );
/** A draft frame; by default a snapshot (offset 0) of the AI's first turn (epoch 0). */
const draft = (id: string, text: string, state: DraftState = "streaming", conversationId = CONV, offset = 0, epoch = 0): ServerFrame => ({
  type: "ai_draft",
  conversation_id: conversationId,
  draft_id: id,
  epoch,
  offset,
  text,
  state,
});
const aiTyping = (active: boolean): ServerFrame => ({ type: "typing", conversation_id: CONV, author: { kind: "ai" }, active });
const humanRequested = (seq: number, by: "visitor" | "assistant" = "visitor") => eventFrame({ seq, at: seq, type: "human_requested", by });
const humanExpired = (seq: number) => eventFrame({ seq, at: seq, type: "human_request_expired", waited_ms: 120_000 });

describe("hello and resume", () => {
  it("a first visit sends no token; a saved token resumes from the last seq held", () => {
    expect(helloFrame(initialWidgetState("demo-pro"))).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro" });
    // After a reload: the token, and no last_seq (nothing is held yet, so the whole history comes).
    expect(helloFrame(initialWidgetState("demo-pro", { token: "tok-1" }))).toEqual({
      type: "hello",
      protocol: 1,
      workspace_id: "demo-pro",
      visitor_token: "tok-1",
    });
    const s = run(connected(), frame(historyFrame([visitorSaid(1, "hi"), aiSaid(2, "hello")])), frame(eventFrame(aiSaid(3, "more"))));
    const dropped = reduceWidget(s, { type: "socket_closed", code: 1006, delayMs: 100 });
    expect(helloFrame(dropped)).toMatchObject({ visitor_token: "tok-1", last_seq: 3 });
  });

  it("the hub's last_seq is the resume point even when the history starts after 1", () => {
    const s = run(connected(), frame({ ...historyFrame([aiSaid(7, "late")]), last_seq: 7 } as ServerFrame));
    expect(s.lastSeq).toBe(7);
  });
});

describe("dedupe by seq", () => {
  it("never shows an event twice: live frames overlapping history, repeats, a resumed history", () => {
    let s = run(connected(), frame(historyFrame([visitorSaid(1, "hi"), aiSaid(2, "hello")])));
    s = run(s, frame(eventFrame(aiSaid(2, "hello"))), frame(eventFrame(aiSaid(3, "three"))), frame(eventFrame(aiSaid(3, "three"))));
    s = reduceWidget(s, { type: "socket_closed", code: 1001, delayMs: 0 });
    s = run(s, { type: "connect_started" }, frame(welcome()), frame(historyFrame([aiSaid(3, "three"), aiSaid(4, "four")])));
    expect(texts(s)).toEqual(["visitor: hi", "ai: hello", "ai: three", "ai: four"]);
    expect(s.lastSeq).toBe(4);
  });

  it("keeps events in seq order and the resume point at the last contiguous seq", () => {
    const s = run(connected(), frame(historyFrame([aiSaid(1, "one")])), frame(eventFrame(aiSaid(3, "three"))), frame(eventFrame(aiSaid(2, "two"))));
    expect(texts(s)).toEqual(["ai: one", "ai: two", "ai: three"]);
    expect(s.lastSeq).toBe(3);
    const gap = run(connected(), frame(historyFrame([aiSaid(1, "one")])), frame(eventFrame(aiSaid(3, "three"))));
    expect(gap.lastSeq).toBe(1);
  });

  it("ignores frames about another conversation", () => {
    const s = run(connected(), frame(eventFrame(aiSaid(1, "elsewhere"), "cv_other")));
    expect(s.events).toEqual([]);
  });
});

describe("sending", () => {
  it("shows a message once: pending until stored, then from its event", () => {
    let s = run(connected(), frame(historyFrame([])), { type: "message_queued", clientId: "w-1", text: "Where is my parcel?" });
    expect(texts(s)).toEqual(["visitor: Where is my parcel? [sending]"]);
    s = reduceWidget(s, frame({ type: "ack", conversation_id: CONV, client_id: "w-1", seq: 1 }));
    expect(texts(s)).toEqual(["visitor: Where is my parcel?"]);
    expect(resendFrames(s)).toEqual([]);
    s = reduceWidget(s, frame(eventFrame(visitorSaid(1, "Where is my parcel?", "w-1"))));
    expect(texts(s)).toEqual(["visitor: Where is my parcel?"]);
    expect(s.outbox).toEqual([]);
  });

  it("an event with the client id settles a message whose ack was lost", () => {
    let s = run(connected(), { type: "message_queued", clientId: "w-1", text: "hi" });
    s = reduceWidget(s, frame(eventFrame(visitorSaid(1, "hi", "w-1"))));
    expect(s.outbox).toEqual([]);
    expect(texts(s)).toEqual(["visitor: hi"]);
  });

  it("re-sends every unacknowledged message after a reconnect, under the same client id", () => {
    let s = run(connected(), { type: "message_queued", clientId: "w-1", text: "one" }, { type: "message_queued", clientId: "w-2", text: "two" });
    s = reduceWidget(s, frame({ type: "ack", conversation_id: CONV, client_id: "w-1", seq: 1 }));
    s = run(s, { type: "socket_closed", code: 1006, delayMs: 10 }, { type: "connect_started" }, frame(welcome()));
    expect(resendFrames(s)).toEqual([{ type: "message", client_id: "w-2", text: "two" }]);
  });

  it("a retryable refusal keeps the message sending; a final one fails it until Retry", () => {
    let s = run(connected(), { type: "message_queued", clientId: "w-1", text: "hi" });
    s = reduceWidget(s, frame({ type: "error", code: "rate_limited", message: "slow down", retryable: true, client_id: "w-1", conversation_id: CONV, retry_after_ms: 500 }));
    expect(s.outbox[0]).toMatchObject({ status: "sending" });
    expect(resendFrames(s)).toHaveLength(1);
    s = reduceWidget(s, frame({ type: "error", code: "message_too_long", message: "too long", retryable: false, client_id: "w-1", conversation_id: CONV }));
    expect(s.outbox[0]).toMatchObject({ status: "failed", error: "That message is too long. Please shorten it." });
    expect(resendFrames(s)).toEqual([]);
    s = reduceWidget(s, { type: "message_retry", clientId: "w-1" });
    expect(resendFrames(s)).toHaveLength(1);
  });
});

describe("closes", () => {
  it("reconnects on drops and going-away, counting failures until a welcome", () => {
    let s = reduceWidget(connected(), { type: "socket_closed", code: 1006, delayMs: 250 });
    expect(s.connection).toMatchObject({ status: "reconnecting", attempt: 1, delayMs: 250 });
    s = run(s, { type: "connect_started" }, { type: "socket_closed", code: 1001, delayMs: 900 });
    expect(s.failures).toBe(2);
    s = run(s, { type: "connect_started" }, frame(welcome()));
    expect(s.failures).toBe(0);
  });

  it("a refused token is dropped and a new conversation started, once", () => {
    let s = run(connected(), frame(historyFrame([visitorSaid(1, "old")])), { type: "message_queued", clientId: "w-9", text: "unsent" });
    s = run(s, { type: "socket_closed", code: 1006, delayMs: 0 }, { type: "connect_started" });
    s = reduceWidget(s, frame({ type: "error", code: "unauthorized", message: "bad token", retryable: false }));
    s = reduceWidget(s, { type: "socket_closed", code: 4001, delayMs: 0 });
    expect(s).toMatchObject({ token: null, conversationId: null, events: [], lastSeq: 0 });
    expect(s.connection.status).toBe("reconnecting");
    expect(helloFrame(s)).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro" });
    expect(s.outbox.map((m) => m.text)).toEqual(["unsent"]);
    // Refused again without a token: reconnecting cannot help.
    s = run(s, { type: "connect_started" }, { type: "socket_closed", code: 4001, delayMs: 0 });
    expect(s.connection.status).toBe("stopped");
  });

  it("stops for good on an unknown workspace, and may be retried after a normal close", () => {
    const s = run(initialWidgetState("nope"), { type: "connect_started" });
    const refused = run(
      s,
      frame({ type: "error", code: "workspace_not_found", message: "no such workspace", retryable: false }),
      { type: "socket_closed", code: 4007, delayMs: 0 },
    );
    expect(refused.connection).toMatchObject({ status: "stopped", fatal: true, text: "This chat is not available." });
    const normal = reduceWidget(connected(), { type: "socket_closed", code: 1000, delayMs: 0 });
    expect(normal.connection).toMatchObject({ status: "stopped", fatal: false });
    expect(widgetCloseAction(4005, true)).toBe("reconnect");
    expect(widgetCloseAction(4003, true)).toBe("stop");
    expect(widgetCloseAction(4999, false)).toBe("reconnect");
  });

  it("a page whose origin the workspace did not allow stops for good, saying so", () => {
    const s = run(
      initialWidgetState("demo-pro"),
      { type: "connect_started" },
      frame({ type: "error", code: "forbidden", message: "origin https://evil.example may not open this workspace's widget", retryable: false }),
      { type: "socket_closed", code: 4001, delayMs: 0 },
    );
    expect(s.connection).toMatchObject({ status: "stopped", fatal: true, text: "This chat is not available on this site." });
  });

  it("a welcome for another conversation replaces what was shown but keeps unsent messages", () => {
    let s = run(connected(), frame(historyFrame([aiSaid(1, "old conversation")])), { type: "message_queued", clientId: "w-1", text: "keep me" });
    s = run(s, { type: "socket_closed", code: 1006, delayMs: 0 }, { type: "connect_started" }, frame(welcome("tok-2", "cv_new")));
    expect(s).toMatchObject({ token: "tok-2", conversationId: "cv_new", events: [], lastSeq: 0 });
    expect(texts(s)).toEqual(["visitor: keep me [sending]"]);
  });
});

describe("operators, notices and typing", () => {
  it("says who joined and left, by display name, or Human without a profile", () => {
    let s = run(connected(), frame(historyFrame([visitorSaid(1, "help")])), frame(eventFrame(joined(2, martin))));
    s = run(s, frame(eventFrame(operatorSaid(3, martin, "Hi, Martin here."))), frame(eventFrame(left(4, martin))));
    s = run(s, frame(eventFrame(joined(5, human, 3))), frame(eventFrame(left(6, human, 4))));
    expect(texts(s)).toEqual([
      "visitor: help",
      "— Martin from Support joined the chat",
      "operator: Hi, Martin here.",
      "— Martin from Support left the chat",
      "— Human joined the chat",
      "— Human left the chat",
    ]);
  });

  it("tells a transfer as the one operator leaving and the other joining; the recipient answers from then on", () => {
    let s = run(connected(), frame(historyFrame([visitorSaid(1, "refund?"), joined(2, martin)])));
    s = run(
      s,
      frame({ type: "typing", conversation_id: CONV, author: { kind: "operator", ...martin }, active: true }),
      frame(eventFrame(transferred(3, martin, nora, 2))),
      frame(eventFrame(operatorSaid(4, nora, "Hi, Nora here."))),
      frame(eventFrame(transferred(5, nora, human, 3))),
    );
    expect(texts(s)).toEqual([
      "visitor: refund?",
      "— Martin from Support joined the chat",
      "— Martin from Support left the chat",
      "— Nora from Support joined the chat",
      "operator: Hi, Nora here.",
      "— Nora from Support left the chat",
      "— Human joined the chat",
    ]);
    expect(s.control).toEqual({ holder: { kind: "operator", ...human }, epoch: 3 });
    expect(statusLine(s.control)).toBe("Human");
    // Whoever typed before is gone; an operator holds it, so no "Talk to a human".
    expect(s.typing.operator).toBeNull();
    expect(canAskForHuman(s)).toBe(false);
  });

  it("counts a transfer once while the panel is closed, and an older one does not undo a newer control", () => {
    let s = run(connected(), frame(historyFrame([joined(1, martin)])));
    s = reduceWidget(s, frame(eventFrame(transferred(2, martin, nora, 2))));
    expect(s.unread).toBe(1);
    s = run(s, frame({ type: "control", conversation_id: CONV, control: { holder: { kind: "ai" }, epoch: 4 } }), frame(eventFrame(transferred(3, nora, martin, 3))));
    expect(statusLine(s.control)).toBe("AI assistant");
  });

  it("tells the visitor a teammate was asked for, and when nobody came: the away message and the email prompt", () => {
    const s = run(
      connected(),
      frame(historyFrame([visitorSaid(1, "a person please")])),
      frame(eventFrame({ seq: 2, at: 2, type: "human_requested", by: "visitor" })),
      frame(eventFrame({ seq: 3, at: 3, type: "human_request_expired", waited_ms: 120_000 })),
    );
    expect(texts(s)).toEqual([
      "visitor: a person please",
      "— A teammate has been asked to join. The assistant can keep helping you meanwhile.",
      `— ${AWAY.message}`,
      "[email prompt: ask]",
    ]);
  });

  it("tells who is answering: the AI, or the operator (human), newest epoch wins", () => {
    let s = connected();
    expect(statusLine(s.control)).toBe("AI assistant");
    s = reduceWidget(s, frame(eventFrame(joined(1, martin, 1))));
    expect(statusLine(s.control)).toBe("Martin from Support (human)");
    // A late control frame from before the takeover changes nothing.
    s = reduceWidget(s, frame({ type: "control", conversation_id: CONV, control: { holder: { kind: "ai" }, epoch: 0 } }));
    expect(statusLine(s.control)).toBe("Martin from Support (human)");
    s = reduceWidget(s, frame(eventFrame(left(2, martin, 2))));
    expect(statusLine(s.control)).toBe("AI assistant");
    s = reduceWidget(s, frame(eventFrame(joined(3, human, 3))));
    expect(statusLine(s.control)).toBe("Human");
  });

  it("shows the AI thinking and the operator typing until their message arrives", () => {
    let s = reduceWidget(connected(), frame({ type: "typing", conversation_id: CONV, author: { kind: "ai" }, active: true }));
    expect(s.typing.ai).toBe(true);
    s = reduceWidget(s, frame(eventFrame(aiSaid(1, "answer"))));
    expect(s.typing.ai).toBe(false);
    s = reduceWidget(s, frame({ type: "typing", conversation_id: CONV, author: { kind: "operator", ...martin }, active: true }));
    expect(s.typing.operator?.name).toBe("Martin from Support");
    s = reduceWidget(s, frame(eventFrame(operatorSaid(2, martin, "reply"))));
    expect(s.typing.operator).toBeNull();
    // The visitor's own typing, echoed, shows nothing.
    expect(reduceWidget(s, frame({ type: "typing", conversation_id: CONV, author: { kind: "visitor" }, active: true }))).toBe(s);
  });

  it("a takeover ends the AI's thinking and its partial reply", () => {
    let s = reduceWidget(connected(), frame({ type: "typing", conversation_id: CONV, author: { kind: "ai" }, active: true }));
    s = reduceWidget(s, frame(draft("r1", "We ship wi")));
    expect(texts(s)).toEqual(["ai: We ship wi▍"]);
    s = reduceWidget(s, frame(eventFrame(joined(1, martin))));
    expect(s.typing.ai).toBe(false);
    expect(s.partial).toBeNull();
    expect(texts(s)).toEqual(["— Martin from Support joined the chat"]);
  });

  it("counts answers that arrive while the panel is closed", () => {
    let s = run(connected(), frame(historyFrame([aiSaid(1, "greeting")])));
    expect(s.unread).toBe(0); // history is not news
    s = run(s, frame(eventFrame(aiSaid(2, "a"))), frame(eventFrame(joined(3, martin))), frame(eventFrame(visitorSaid(4, "mine"))));
    expect(s.unread).toBe(2);
    s = reduceWidget(s, { type: "panel", open: true });
    expect(s.unread).toBe(0);
    s = reduceWidget(s, frame(eventFrame(aiSaid(5, "b"))));
    expect(s.unread).toBe(0);
  });
});

describe("streamed AI replies (ai_draft)", () => {
  const asked = () => run(connected(), frame(historyFrame([visitorSaid(1, "How long does shipping take?")])));

  it("thinks first, then shows the draft growing (the whole text so far each time), then the stored reply", () => {
    let s = reduceWidget(asked(), frame(aiTyping(true)));
    expect(s.typing.ai).toBe(true);
    expect(visiblePartial(s)).toBeNull(); // thinking: no bubble yet
    s = reduceWidget(s, frame(draft("d1", "We ")));
    expect(texts(s)).toEqual(["visitor: How long does shipping take?", "ai: We ▍"]);
    s = run(s, frame(draft("d1", "We ship ")), frame(draft("d1", "We ship within 1 business day.")));
    expect(texts(s).at(-1)).toBe("ai: We ship within 1 business day.▍");
    expect(s.partial).toMatchObject({ id: "d1", epoch: 0 });
    // The stored reply replaces the draft; `done` and typing off follow and change nothing shown.
    s = reduceWidget(s, frame(eventFrame(aiSaid(2, "We ship within 1 business day."))));
    expect(texts(s)).toEqual(["visitor: How long does shipping take?", "ai: We ship within 1 business day."]);
    s = run(s, frame(draft("d1", "", "done")), frame(aiTyping(false)));
    expect(s.partial).toBeNull();
    expect(texts(s)).toHaveLength(2);
  });

  it("a skipped frame loses nothing, and a repeated one changes nothing", () => {
    let s = run(asked(), frame(draft("d1", "We ")), frame(draft("d1", "We ship within ")));
    expect(s.partial?.text).toBe("We ship within ");
    expect(reduceWidget(s, frame(draft("d1", "We ship within ")))).toBe(s);
  });

  it("before any words, the draft shows no bubble (the thinking line stays)", () => {
    const s = run(asked(), frame(aiTyping(true)), frame(draft("d1", "  ")));
    expect(visiblePartial(s)).toBeNull();
    expect(texts(s)).toEqual(["visitor: How long does shipping take?"]);
  });

  it("done and discarded remove the draft", () => {
    const streaming = run(asked(), frame(draft("d1", "We ship")));
    expect(reduceWidget(streaming, frame(draft("d1", "", "done"))).partial).toBeNull();
    const discarded = reduceWidget(streaming, frame(draft("d1", "", "discarded")));
    expect(discarded.partial).toBeNull();
    expect(texts(discarded)).toEqual(["visitor: How long does shipping take?"]);
  });

  it("a draft with another id replaces the current one; the end of another draft leaves it", () => {
    let s = run(asked(), frame(draft("d1", "Sorry, I")), frame(draft("d2", "Our")));
    expect(s.partial).toMatchObject({ id: "d2", text: "Our" });
    expect(texts(s).filter((t) => t.startsWith("ai:"))).toEqual(["ai: Our▍"]);
    s = reduceWidget(s, frame(draft("d1", "", "discarded")));
    expect(s.partial).toMatchObject({ id: "d2", text: "Our" });
  });

  it("a late frame of a finished, cancelled or stored draft does not bring it back", () => {
    const done = run(asked(), frame(draft("d1", "We ship")), frame(draft("d1", "", "done")));
    expect(reduceWidget(done, frame(draft("d1", "We ship within"))).partial).toBeNull();
    const stored = run(asked(), frame(draft("d1", "We ship")), frame(eventFrame(aiSaid(2, "We ship today."))));
    expect(reduceWidget(stored, frame(draft("d1", "We ship today."))).partial).toBeNull();
    const dropped = run(asked(), frame(draft("d1", "We ship")), { type: "socket_closed", code: 1006, delayMs: 0 });
    expect(dropped.partial).toBeNull();
    expect(reduceWidget(dropped, frame(draft("d1", "We ship within"))).partial).toBeNull();
  });

  it("a takeover removes the partial bubble; the cancelled reply's stray frames stay hidden while the operator holds", () => {
    let s = run(asked(), frame(aiTyping(true)), frame(draft("d1", "We ship")));
    s = reduceWidget(s, frame(eventFrame(joined(2, martin))));
    expect(s.partial).toBeNull();
    expect(s.typing.ai).toBe(false);
    expect(texts(s)).toEqual(["visitor: How long does shipping take?", "— Martin from Support joined the chat"]);
    expect(reduceWidget(s, frame(draft("d9", "Anything")))).toBe(s);
    // Back with the AI after End: its new drafts show again.
    s = reduceWidget(s, frame(eventFrame(left(3, martin))));
    s = reduceWidget(s, frame(draft("d10", "Welcome back", "streaming", CONV, 0, 2)));
    expect(s.partial).toMatchObject({ id: "d10", epoch: 2 });
  });

  it("a draft started before a change of control the widget has seen is not shown", () => {
    let s = run(asked(), frame(eventFrame(joined(2, martin))), frame(eventFrame(left(3, martin))));
    expect(s.control?.epoch).toBe(2);
    // A piece of the reply the takeover cancelled (epoch 0), arriving after the hand-back.
    expect(reduceWidget(s, frame(draft("d1", "We ship", "streaming", CONV, 0, 0)))).toBe(s);
    s = reduceWidget(s, frame(draft("d2", "Hello", "streaming", CONV, 0, 2)));
    expect(s.partial?.text).toBe("Hello");
  });

  it("assembles a reply streamed in pieces; a repeat changes nothing, a gap waits for the snapshot", () => {
    let s = run(asked(), frame(draft("d1", "We ")), frame(draft("d1", "ship ", "streaming", CONV, 3)));
    s = reduceWidget(s, frame(draft("d1", "within", "streaming", CONV, 8)));
    expect(s.partial).toMatchObject({ text: "We ship within", complete: true });
    expect(reduceWidget(s, frame(draft("d1", "ship ", "streaming", CONV, 3)))).toBe(s);
    // "1 " was lost: the bubble keeps what is certain and shows nothing wrong.
    s = run(s, frame(draft("d1", "business day.", "streaming", CONV, 17)), frame(draft("d1", "!", "streaming", CONV, 30)));
    expect(s.partial).toMatchObject({ text: "We ship within", complete: false });
    s = reduceWidget(s, frame(draft("d1", "We ship within 1 business day.")));
    expect(s.partial).toMatchObject({ text: "We ship within 1 business day.", complete: true });
    expect(texts(s).at(-1)).toBe("ai: We ship within 1 business day.▍");
  });

  it("ignores drafts of another conversation", () => {
    const s = asked();
    expect(reduceWidget(s, frame(draft("d1", "elsewhere", "streaming", "cv_other")))).toBe(s);
  });
});

describe("Talk to a human", () => {
  const ready = () => run(connected(), frame(historyFrame([visitorSaid(1, "hello")])));

  it("is offered once connected and loaded; pressing it waits for the hub's human_requested", () => {
    expect(canAskForHuman(connected())).toBe(false); // no history yet
    let s = ready();
    expect(canAskForHuman(s)).toBe(true);
    s = reduceWidget(s, { type: "human_requested_by_visitor" });
    expect(s.humanRequest).toBe("asking");
    expect(canAskForHuman(s)).toBe(false);
    expect(reduceWidget(s, { type: "human_requested_by_visitor" })).toBe(s);
    s = reduceWidget(s, frame(humanRequested(2)));
    expect(s.humanRequest).toBe("waiting");
    expect(canAskForHuman(s)).toBe(false);
    expect(texts(s).at(-1)).toBe("— A teammate has been asked to join. The assistant can keep helping you meanwhile.");
  });

  it("after the request expires the visitor is told so and may ask again", () => {
    let s = run(ready(), { type: "human_requested_by_visitor" }, frame(humanRequested(2)), frame(humanExpired(3)));
    expect(texts(s).slice(-2)).toEqual([`— ${AWAY.message}`, "[email prompt: ask]"]);
    expect(s.humanRequest).toBe("none");
    expect(canAskForHuman(s)).toBe(true);
    s = run(s, { type: "human_requested_by_visitor" }, frame(humanRequested(4)));
    expect(s.humanRequest).toBe("waiting");
  });

  it("a request by the assistant also waits; a takeover answers it; no offer while an operator holds", () => {
    let s = reduceWidget(ready(), frame(humanRequested(2, "assistant")));
    expect(canAskForHuman(s)).toBe(false);
    s = reduceWidget(s, frame(eventFrame(joined(3, martin))));
    expect(s.humanRequest).toBe("none");
    expect(canAskForHuman(s)).toBe(false);
    s = reduceWidget(s, frame(eventFrame(left(4, martin))));
    expect(canAskForHuman(s)).toBe(true);
  });

  it("a resumed history says whether a request waits; a request lost with the socket is offered again", () => {
    let s = run(ready(), { type: "human_requested_by_visitor" }, { type: "socket_closed", code: 1006, delayMs: 0 });
    expect(s.humanRequest).toBe("none");
    expect(canAskForHuman(s)).toBe(false); // not connected
    s = run(s, { type: "connect_started" }, frame(welcome()), frame({ ...historyFrame([humanRequestedEvent(2)]), needs_human: true } as ServerFrame));
    expect(s.humanRequest).toBe("waiting");
    s = run(s, { type: "socket_closed", code: 1006, delayMs: 0 }, { type: "connect_started" }, frame(welcome()), frame({ ...historyFrame([]), last_seq: 3 } as ServerFrame));
    expect(s.humanRequest).toBe("none");
  });

  it("a refusal or no answer in time offers the button again", () => {
    const asking = run(ready(), { type: "human_requested_by_visitor" });
    const refused = reduceWidget(asking, frame({ type: "error", code: "rate_limited", message: "slow down", retryable: true, retry_after_ms: 500 }));
    expect(canAskForHuman(refused)).toBe(true);
    expect(canAskForHuman(reduceWidget(asking, { type: "human_request_unanswered" }))).toBe(true);
    const waiting = reduceWidget(asking, frame(humanRequested(2)));
    expect(reduceWidget(waiting, { type: "human_request_unanswered" })).toBe(waiting);
  });
});

describe("New conversation", () => {
  const startNew: WidgetAction = { type: "new_conversation" };
  /** Connected to CONV with a short conversation on screen. */
  const talking = () => run(connected(), frame(historyFrame([visitorSaid(1, "hi"), aiSaid(2, "hello")])));

  it("is hidden until there is a message to start over from, and while not connected", () => {
    expect(newConversationControl(initialWidgetState("demo-pro"))).toBe("hidden");
    expect(newConversationControl(connected())).toBe("hidden"); // welcome, no history yet
    expect(newConversationControl(run(connected(), frame(historyFrame([]))))).toBe("hidden");
    // Only a notice in it: nothing was said yet.
    expect(newConversationControl(run(connected(), frame(historyFrame([joined(1, martin)]))))).toBe("hidden");
    expect(newConversationControl(talking())).toBe("shown");
    const dropped = reduceWidget(talking(), { type: "socket_closed", code: 1006, delayMs: 10 });
    expect(newConversationControl(dropped)).toBe("hidden");
    expect(newConversationControl(run(dropped, { type: "connect_started" }))).toBe("hidden");
    // The action does nothing while hidden.
    expect(reduceWidget(dropped, startNew)).toBe(dropped);
  });

  it("is disabled while a message of the visitor's is not acknowledged; a refused one does not hold it", () => {
    let s = run(talking(), { type: "message_queued", clientId: "w-1", text: "one more" });
    expect(newConversationControl(s)).toBe("disabled");
    expect(reduceWidget(s, startNew)).toBe(s);
    s = reduceWidget(s, frame({ type: "ack", conversation_id: CONV, client_id: "w-1", seq: 3 }));
    expect(newConversationControl(s)).toBe("disabled"); // acked, its event not here yet
    s = reduceWidget(s, frame(eventFrame(visitorSaid(3, "one more", "w-1"))));
    expect(newConversationControl(s)).toBe("shown");
    s = run(
      s,
      { type: "message_queued", clientId: "w-2", text: "x".repeat(10) },
      frame({ type: "error", code: "message_too_long", message: "too long", retryable: false, client_id: "w-2", conversation_id: CONV }),
    );
    expect(newConversationControl(s)).toBe("shown");
    expect(reduceWidget(s, startNew).outbox).toEqual([]); // it belonged to the old conversation
  });

  it("empties the chat, keeps the token, and says hello with new_conversation instead of last_seq", () => {
    let s = run(
      talking(),
      frame(eventFrame(joined(3, martin))),
      frame(humanRequested(4)),
      frame(draft("d1", "Let me")),
      frame(aiTyping(true)),
    );
    s = run(s, { type: "panel", open: false }, frame(eventFrame(aiSaid(5, "unread"))));
    expect(helloFrame(s)).toMatchObject({ last_seq: 5 });
    s = reduceWidget(s, startNew);
    expect(texts(s)).toEqual([]);
    expect(s).toMatchObject({
      token: "tok-1",
      conversationId: null,
      lastSeq: 0,
      control: null,
      partial: null,
      typing: { ai: false, operator: null },
      humanRequest: "none",
      unread: 0,
      loaded: false,
      newConversation: true,
    });
    expect(statusLine(s.control)).toBe("AI assistant");
    expect(helloFrame(s)).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro", visitor_token: "tok-1", new_conversation: true });
  });

  it("the new conversation's welcome ends it: its token is kept and a reconnect resumes it without the flag", () => {
    let s = run(talking(), startNew, { type: "connect_started" });
    // Dropped before the welcome: the new conversation is still wanted.
    s = run(s, { type: "socket_closed", code: 1006, delayMs: 10 }, { type: "connect_started" });
    expect(helloFrame(s)).toMatchObject({ visitor_token: "tok-1", new_conversation: true });
    s = run(s, frame(welcome("tok-2", "cv_2")), frame(historyFrame([], "cv_2")));
    expect(s).toMatchObject({ token: "tok-2", conversationId: "cv_2", newConversation: false, loaded: true, events: [] });
    expect(helloFrame(s)).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro", visitor_token: "tok-2" });
    // Nothing of the old conversation comes back, even a late frame of it.
    s = run(s, frame(eventFrame(aiSaid(3, "old"), CONV)), frame(eventFrame(aiSaid(1, "Hi again!"), "cv_2")));
    expect(texts(s)).toEqual(["ai: Hi again!"]);
    s = reduceWidget(s, { type: "socket_closed", code: 1006, delayMs: 10 });
    expect(helloFrame(s)).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro", visitor_token: "tok-2", last_seq: 1 });
  });

  it("a message written while the new conversation connects goes to the new one", () => {
    let s = run(talking(), startNew, { type: "connect_started" }, { type: "message_queued", clientId: "w-1", text: "new question" });
    s = reduceWidget(s, frame(welcome("tok-2", "cv_2")));
    expect(resendFrames(s)).toEqual([{ type: "message", client_id: "w-1", text: "new question" }]);
  });

  it("a refused token while starting over drops the flag with the token (a hello without one is new anyway)", () => {
    const s = run(talking(), startNew, { type: "connect_started" }, { type: "socket_closed", code: 4001, delayMs: 10 });
    expect(s.newConversation).toBe(false);
    expect(helloFrame(s)).toEqual({ type: "hello", protocol: 1, workspace_id: "demo-pro" });
  });
});

function humanRequestedEvent(seq: number) {
  return { seq, at: seq, type: "human_requested" as const, by: "visitor" as const };
}

describe("when nobody is available: the away message and the email prompt", () => {
  const loaded = (...events: Parameters<typeof historyFrame>[0]) => run(connected(), frame(historyFrame(events)));
  const prompt = (s: WidgetState) => emailPrompt(s);

  it("welcome carries the workspace's away message; a request nobody took shows it, then asks for an email", () => {
    const s = loaded(visitorSaid(1, "a person please"), expired(2));
    expect(s.away).toEqual(AWAY);
    expect(texts(s)).toEqual(["visitor: a person please", `— ${AWAY.message}`, "[email prompt: ask]"]);
    expect(prompt(s)).toEqual({ seq: 2, mode: "ask", email: null, consent: AWAY.email_consent, sending: false, error: null });
  });

  it("outside working hours also says when the team is back, in the visitor's time", () => {
    const opensAt = Date.UTC(2025, 0, 6, 8, 0);
    const s = loaded(outsideHours(1, opensAt, Date.UTC(2025, 0, 5, 20, 0)));
    const away = timeline(s)[0]!;
    expect(away).toMatchObject({ kind: "away", text: AWAY.message, back: backAtText(opensAt, Date.UTC(2025, 0, 5, 20, 0)) });
    expect(texts(s).at(-1)).toBe("[email prompt: ask]");
    // Without `opens_at` (no working hours ahead) there is nothing to promise.
    expect(timeline(loaded(outsideHours(1)))[0]).toMatchObject({ kind: "away", back: null });
  });

  it("shows the prompt only while the latest such request is newer than the latest address left and operator joining", () => {
    let s = loaded(expired(1));
    expect(prompt(s)?.mode).toBe("ask");
    s = reduceWidget(s, frame(eventFrame(emailLeft(2, "ana@example.com"))));
    expect(prompt(s)).toBeNull();
    expect(texts(s).slice(-1)).toEqual(["— We'll answer you at ana@example.com [Change]"]);
    // Asked again later, nobody there again: asked again, starting from the address left.
    s = reduceWidget(s, frame(eventFrame(outsideHours(3))));
    expect(prompt(s)).toMatchObject({ seq: 3, mode: "ask", email: "ana@example.com" });
    expect(texts(s).slice(-3)).toEqual(["— We'll answer you at ana@example.com", `— ${AWAY.message}`, "[email prompt: ask ana@example.com]"]);
    // An operator came: no prompt, and the address is no longer to be changed.
    s = reduceWidget(s, frame(eventFrame(joined(4, martin))));
    expect(prompt(s)).toBeNull();
    expect(texts(s).filter((t) => t.startsWith("— We'll answer") || t.startsWith("[email"))).toEqual(["— We'll answer you at ana@example.com"]);
  });

  it("derives it from the events: a reload (a new state, the same history) shows the same", () => {
    const events = [expired(1), emailLeft(2, "ana@example.com"), expired(3)];
    const before = loaded(...events);
    const after = run(connected(initialWidgetState("demo-pro", { token: "tok-1" })), frame(historyFrame(events)));
    expect(texts(after)).toEqual(texts(before));
    expect(prompt(after)).toEqual(prompt(before));
  });

  it("No thanks hides this request's prompt for good (kept by conversation and seq), not the next one's", () => {
    let s = reduceWidget(loaded(expired(1)), { type: "email_prompt_closed" });
    expect(prompt(s)).toBeNull();
    expect(s.dismissedPrompts).toEqual([`${CONV}:1`]);
    expect(texts(s)).toEqual([`— ${AWAY.message}`]);
    // A reload that remembered it (sessionStorage) asks no more.
    const reloaded = run(connected(initialWidgetState("demo-pro", { token: "tok-1", dismissedPrompts: [`${CONV}:1`] })), frame(historyFrame([expired(1)])));
    expect(prompt(reloaded)).toBeNull();
    // Another conversation's seq 1 is another request.
    const other = run(connected(initialWidgetState("demo-pro", { dismissedPrompts: ["cv_other:1"] })), frame(historyFrame([expired(1)])));
    expect(prompt(other)?.mode).toBe("ask");
    s = reduceWidget(s, frame(eventFrame(outsideHours(2))));
    expect(prompt(s)).toMatchObject({ seq: 2, mode: "ask" });
  });

  it("Change opens the prompt again under the address; Cancel closes it without saying No thanks", () => {
    let s = loaded(expired(1), emailLeft(2, "ana@example.com"));
    s = reduceWidget(s, { type: "email_change" });
    expect(prompt(s)).toMatchObject({ seq: 2, mode: "change", email: "ana@example.com" });
    expect(texts(s).slice(-2)).toEqual(["— We'll answer you at ana@example.com", "[email prompt: change ana@example.com]"]);
    const cancelled = reduceWidget(s, { type: "email_prompt_closed" });
    expect(prompt(cancelled)).toBeNull();
    expect(cancelled.dismissedPrompts).toEqual([]);
    expect(texts(cancelled).at(-1)).toBe("— We'll answer you at ana@example.com [Change]");
    // The new address stored ends the change.
    s = run(s, { type: "email_sending", email: "ana@work.example" }, frame(eventFrame(emailLeft(3, "ana@work.example"))));
    expect(prompt(s)).toBeNull();
    expect(texts(s).slice(-2)).toEqual(["— We'll answer you at ana@example.com", "— We'll answer you at ana@work.example [Change]"]);
    // Once an operator joined, there is nothing to change.
    s = reduceWidget(s, frame(eventFrame(joined(4, martin))));
    expect(reduceWidget(s, { type: "email_change" })).toBe(s);
  });

  it("says the hub's refusals under the field, not in the connection line", () => {
    let s = run(loaded(expired(1)), { type: "email_sending", email: "ana@example" });
    expect(prompt(s)?.sending).toBe(true);
    s = reduceWidget(s, frame({ type: "error", code: "invalid_email", message: "no", retryable: false, conversation_id: CONV }));
    expect(prompt(s)).toMatchObject({ sending: false, error: INVALID_EMAIL_TEXT });
    expect(s.notice).toBeNull();
    s = run(s, { type: "email_sending", email: "ana@example.com" });
    expect(prompt(s)?.error).toBeNull();
    s = reduceWidget(s, frame({ type: "error", code: "no_follow_up", message: "no", retryable: false, conversation_id: CONV }));
    expect(prompt(s)?.error).toBe("No email is needed any more: a teammate has already answered here.");
    // Throttled: the words say to send it again (nothing retries by itself).
    s = run(s, { type: "email_sending", email: "ana@example.com" });
    s = reduceWidget(s, frame({ type: "error", code: "rate_limited", message: "slow", retryable: true, retry_after_ms: 1000 }));
    expect(prompt(s)).toMatchObject({ sending: false, error: "Too many tries. Wait a moment, then send it again." });
    expect(s.notice).toBeNull();
  });

  it("an address on its way when the socket drops is said to need sending again; its event, if stored, clears that", () => {
    let s = run(loaded(expired(1)), { type: "email_sending", email: "ana@example.com" }, { type: "socket_closed", code: 1006, delayMs: 10 });
    expect(prompt(s)).toMatchObject({ sending: false, error: "The connection dropped before your email was saved. Please send it again." });
    s = run(s, { type: "connect_started" }, frame(welcome()), frame(historyFrame([expired(1), emailLeft(2, "ana@example.com")])));
    expect(prompt(s)).toBeNull();
    expect(s.emailPrompt).toEqual({ sending: null, error: null, changing: false });
  });

  it("counts the away message as unread while the chat is closed, not the visitor's own address", () => {
    let s = loaded();
    s = reduceWidget(s, frame(eventFrame(outsideHours(1))));
    expect(s.unread).toBe(1);
    s = reduceWidget(s, frame(eventFrame(emailLeft(2, "ana@example.com"))));
    expect(s.unread).toBe(1);
  });

  it("without an away message (an older hub) says the widget's own words", () => {
    const { away: _away, ...old } = welcome() as Extract<ServerFrame, { type: "welcome" }>;
    const s = run(initialWidgetState("demo-pro"), { type: "connect_started" }, frame(old as ServerFrame), frame(historyFrame([expired(1)])));
    expect(texts(s)[0]).toBe(`— ${AWAY_FALLBACK_TEXT}`);
    expect(prompt(s)?.consent).toBe("");
  });
});
