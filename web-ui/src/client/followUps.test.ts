// @vitest-environment node
import { describe, expect, it } from "vitest";
import type { FollowUp, ServerFrame } from "../protocol/frames";
import { followUp, followUpRow, history, onlineView, ready, summary, visitorMessage } from "../test/fixtures";
import { followUpsStale } from "./followUps";
import { reduce, resumeFrames, type ClientAction } from "./reducer";
import { followUpCount, followUpRows, isReadOnly, knownSummary } from "./selectors";
import { initialState, type ClientState } from "./state";

const frame = (f: ServerFrame): ClientAction => ({ type: "frame", frame: f });
const run = (actions: ClientAction[], from: ClientState = initialState): ClientState => actions.reduce(reduce, from);
const connected = run([{ type: "connect_started" }, frame(ready())]);
const list = (rows: ReturnType<typeof followUpRow>[]): ClientAction => frame({ type: "follow_ups", conversations: rows });
const change = (id: string, f: FollowUp): ClientAction => frame({ type: "follow_up", conversation_id: id, follow_up: f });
const ids = (s: ClientState) => s.followUps.rows.map((r) => r.conversation.id);

describe("the follow-up list", () => {
  it("is asked for with every connection and counts nothing until its answer came", () => {
    expect(connected.followUps).toMatchObject({ status: "loading", pending: true });
    expect(resumeFrames(connected)).toContainEqual({ type: "follow_ups" });
    expect(followUpCount(connected)).toBe(0);
  });

  it("shows the answer the longest waiting first", () => {
    const s = run([list([followUpRow("new", 300), followUpRow("old", 100), followUpRow("mid", 200)])], connected);
    expect(ids(s)).toEqual(["old", "mid", "new"]);
    expect(s.followUps).toMatchObject({ status: "loaded", pending: false, stale: false });
    expect(followUpCount(s)).toBe(3);
  });

  it("follows live changes: waiting:false takes a row off, a change to a row updates it in place", () => {
    let s = run([list([followUpRow("a", 100), followUpRow("b", 200)])], connected);
    s = reduce(s, change("a", followUp(100, { email: "ana@example.com" })));
    expect(s.followUps.rows[0]!.follow_up.email).toBe("ana@example.com");
    expect(ids(s)).toEqual(["a", "b"]);
    s = reduce(s, change("b", followUp(200, { waiting: false, delivery: { state: "scheduled", at: 900 } })));
    expect(ids(s)).toEqual(["a"]);
    expect(followUpCount(s)).toBe(1);
    expect(followUpsStale(s.followUps)).toBe(false);
  });

  it("a conversation that starts waiting has no row yet: the list is asked for again", () => {
    let s = run([list([followUpRow("a", 100)])], connected);
    s = reduce(s, change("z", followUp(500)));
    expect(ids(s)).toEqual(["a"]);
    expect(followUpsStale(s.followUps)).toBe(true);
    s = reduce(s, { type: "follow_ups_requested" });
    expect(followUpsStale(s.followUps)).toBe(false);
    s = reduce(s, list([followUpRow("a", 100), followUpRow("z", 500)]));
    expect(ids(s)).toEqual(["a", "z"]);
  });

  it("changes heard while an answer is awaited are applied over it (the hub may have read the list before them)", () => {
    let s = run([list([followUpRow("a", 100), followUpRow("b", 200)]), { type: "follow_ups_requested" }], connected);
    s = reduce(s, change("a", followUp(100, { waiting: false })));
    s = reduce(s, change("b", followUp(200, { email: "bo@example.com" })));
    s = reduce(s, change("z", followUp(500)));
    // An answer read before those changes:
    s = reduce(s, list([followUpRow("a", 100), followUpRow("b", 200)]));
    expect(ids(s)).toEqual(["b"]);
    expect(s.followUps.rows[0]!.follow_up.email).toBe("bo@example.com");
    // `z` is still missing: asked for again.
    expect(followUpsStale(s.followUps)).toBe(true);
  });

  it("a dropped socket forgets the awaited answer (the next ready asks again) but keeps the rows", () => {
    const s = run([list([followUpRow("a", 100)]), { type: "follow_ups_requested" }, { type: "socket_closed", code: 1006, reason: "", delayMs: 10 }], connected);
    expect(s.followUps).toMatchObject({ pending: false, status: "loaded" });
    expect(ids(s)).toEqual(["a"]);
  });

  it("rows take the Online list's fresher summary when it has one, and name the visitor of a conversation opened from them", () => {
    let s = run([list([followUpRow("a", 100, {}, { visitor_label: "Visitor 7F3A" })])], connected);
    expect(knownSummary(s, "a")?.visitor_label).toBe("Visitor 7F3A");
    expect(followUpRows(s)[0]!.conversation.visitor_online).toBe(false);
    s = reduce(s, frame(onlineView([summary("a", { visitor_label: "Visitor 7F3A", visitor_online: true })])));
    expect(followUpRows(s)[0]!.conversation.visitor_online).toBe(true);
    expect(followUpRows(s)[0]!.follow_up.since).toBe(100);
  });
});

describe("a conversation's follow-up", () => {
  const open = run([{ type: "open_requested", conversationId: "c1" }], connected);

  it("comes with its history and follows live follow_up frames; another conversation's changes leave it be", () => {
    let s = reduce(open, frame(history("c1", [visitorMessage(1)], { visitor_online: false, follow_up: followUp(100, { email: "ana@example.com" }) })));
    expect(s.conversations.c1!.followUp).toEqual(followUp(100, { email: "ana@example.com" }));
    const sent = followUp(100, { email: "ana@example.com", waiting: false, delivery: { state: "sent", at: 700 } });
    s = reduce(s, change("c1", sent));
    expect(s.conversations.c1!.followUp).toEqual(sent);
    const before = s.conversations.c1;
    s = reduce(s, change("c2", followUp(5)));
    expect(s.conversations.c1).toBe(before);
    expect(s.conversations.c2).toBeUndefined();
  });

  it("an outside_hours event ends the request without anybody alerted; the address left needs nothing of the event", () => {
    let s = reduce(open, frame(history("c1", [visitorMessage(1)], { needs_human: true })));
    s = reduce(s, frame({ type: "event", conversation_id: "c1", event: { seq: 2, at: 2, type: "outside_hours", by: "visitor", opens_at: 9 } }));
    expect(s.conversations.c1!.needsHuman).toBe(false);
    s = reduce(s, frame({ type: "event", conversation_id: "c1", event: { seq: 3, at: 3, type: "follow_up_email", email: "ana@example.com" } }));
    expect(s.conversations.c1!.lastSeq).toBe(3);
  });

  it("is not read-only while waiting for follow-up or with an address left, though the visitor has gone", () => {
    const gone = reduce(open, frame(history("c1", [visitorMessage(1)], { visitor_online: false })));
    expect(isReadOnly(gone.conversations.c1!, undefined)).toBe(true);
    const waiting = reduce(gone, change("c1", followUp(100)));
    expect(isReadOnly(waiting.conversations.c1!, undefined)).toBe(false);
    const answered = reduce(waiting, change("c1", followUp(100, { waiting: false, email: "ana@example.com" })));
    expect(isReadOnly(answered.conversations.c1!, undefined)).toBe(false);
    const over = reduce(waiting, change("c1", followUp(100, { waiting: false })));
    expect(isReadOnly(over.conversations.c1!, undefined)).toBe(true);
  });
});
