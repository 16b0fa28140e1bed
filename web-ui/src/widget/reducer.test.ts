import { describe, expect, it } from "vitest";
import type { ServerFrame } from "../protocol/frames";
import { aiSaid, CONV, eventFrame, historyFrame, human, joined, left, martin, operatorSaid, visitorSaid, welcome } from "../test/widgetKit";
import { helloFrame, reduceWidget, resendFrames, timeline, widgetCloseAction, type WidgetAction } from "./reducer";
import { statusLine } from "./render";
import { initialWidgetState, type WidgetState } from "./state";

const frame = (f: ServerFrame): WidgetAction => ({ type: "frame", frame: f });
const run = (s: WidgetState, ...actions: WidgetAction[]) => actions.reduce(reduceWidget, s);
const connected = (s = initialWidgetState("demo-pro")) => run(s, { type: "connect_started" }, frame(welcome()));
const texts = (s: WidgetState) =>
  timeline(s).map((i) => (i.kind === "notice" ? `— ${i.text}` : `${i.message.author.kind}: ${i.message.text}${i.message.status ? ` [${i.message.status}]` : ""}`));

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

  it("tells the visitor a teammate was asked for, and when nobody came", () => {
    const s = run(
      connected(),
      frame(historyFrame([visitorSaid(1, "a person please")])),
      frame(eventFrame({ seq: 2, at: 2, type: "human_requested", by: "visitor" })),
      frame(eventFrame({ seq: 3, at: 3, type: "human_request_expired", waited_ms: 120_000 })),
    );
    expect(texts(s)).toEqual([
      "visitor: a person please",
      "— A teammate has been asked to join",
      "— No teammate is available right now; the assistant will keep helping you",
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

  it("a takeover ends the AI's thinking and its partial reply (the hook for streamed replies)", () => {
    let s = reduceWidget(connected(), frame({ type: "typing", conversation_id: CONV, author: { kind: "ai" }, active: true }));
    s = { ...s, partial: { id: "r1", text: "We ship wi", epoch: 0 } };
    expect(texts(s)).toEqual(["ai: We ship wi"]);
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
