// @vitest-environment node
import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../protocol/codes";
import type { BriefState, DraftState, ErrorFrame, ServerFrame } from "../protocol/frames";
import {
  aiControl,
  alice,
  aiMessage,
  auditEntry,
  bob,
  held,
  history,
  member,
  operatorControl,
  operatorMessage,
  onlineView,
  ready,
  summary,
  visitorMessage,
} from "../test/fixtures";
import { MAX_AUDIT, reduce, resumeFrames, type ClientAction } from "./reducer";
import { sortedOnline, timeline, unreadCount, visibleDraft, waitingCount } from "./selectors";
import { initialState, type ClientState } from "./state";
import { foldOnlineViews, MAX_SEEN, rowAt } from "./online";

const subscribeAll = { type: "subscribe_online", filter: "all", order: "activity", offset: 0, limit: 50 };
const frame = (f: ServerFrame): ClientAction => ({ type: "frame", frame: f });
const run = (actions: ClientAction[], from: ClientState = initialState): ClientState => actions.reduce(reduce, from);

const connected = run([{ type: "connect_started" }, frame(ready())]);
const opened = (id = "c1"): ClientState => run([{ type: "open_requested", conversationId: id }], connected);
const conv = (s: ClientState, id = "c1") => {
  const c = s.conversations[id];
  if (!c) throw new Error(`no conversation ${id}`);
  return c;
};
const event = (conversationId: string, e: ReturnType<typeof visitorMessage>): ClientAction =>
  frame({ type: "event", conversation_id: conversationId, event: e });

describe("events: dedupe and resume by seq", () => {
  it("keeps each seq once when history and live events overlap", () => {
    const s = run(
      [frame(history("c1", [visitorMessage(1), aiMessage(2)])), event("c1", aiMessage(2)), event("c1", visitorMessage(3))],
      opened(),
    );
    expect(conv(s).events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(conv(s).lastSeq).toBe(3);
  });

  it("returns the same state object for a duplicate live event", () => {
    const s = run([frame(history("c1", [visitorMessage(1)]))], opened());
    expect(reduce(s, event("c1", visitorMessage(1)))).toBe(s);
  });

  it("merges a resumed history (after_seq) without duplicating what it had", () => {
    const before = run([frame(history("c1", [visitorMessage(1), aiMessage(2)]))], opened());
    const after = run(
      [
        { type: "socket_closed", code: 1006, reason: "", delayMs: 10 },
        { type: "connect_started" },
        frame(ready()),
        // A careless hub might resend the boundary event; it must still appear once.
        frame(history("c1", [aiMessage(2), visitorMessage(3)])),
      ],
      before,
    );
    expect(conv(after).events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(conv(after).loaded).toBe(true);
  });

  it("flags a gap in live events and fills it from the next history", () => {
    const s = run([frame(history("c1", [visitorMessage(1)])), event("c1", visitorMessage(3))], opened());
    expect(conv(s).resyncFrom).toBe(1);
    expect(conv(s).lastSeq).toBe(1);
    const filled = run([{ type: "resync_sent", conversationId: "c1" }, frame(history("c1", [aiMessage(2), visitorMessage(3)]))], s);
    expect(conv(filled).events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(conv(filled).lastSeq).toBe(3);
    expect(conv(filled).resyncFrom).toBeNull();
  });

  it("ignores live events of conversations it never opened", () => {
    expect(reduce(connected, event("zz", visitorMessage(1)))).toBe(connected);
  });
});

describe("control", () => {
  it("follows operator_joined / operator_left events and ignores older epochs", () => {
    let s = run([frame(history("c1", [visitorMessage(1)]))], opened());
    s = reduce(s, event("c1", { seq: 2, at: 2, type: "operator_joined", operator: bob, epoch: 1 }));
    expect(conv(s).control).toEqual(operatorControl(bob, 1));
    s = reduce(s, event("c1", { seq: 3, at: 3, type: "operator_left", operator: bob, epoch: 2, reason: "ended" }));
    expect(conv(s).control).toEqual(aiControl(2));
    // A late `control` answer from epoch 1 must not resurrect Bob.
    s = reduce(s, frame({ type: "control", conversation_id: "c1", control: operatorControl(bob, 1) }));
    expect(conv(s).control).toEqual(aiControl(2));
  });

  it("clears the pending takeover on control or error", () => {
    const pending = run([frame(history("c1", [])), { type: "takeover_requested", conversationId: "c1" }], opened());
    expect(conv(pending).pending).toBe("takeover");
    const won = reduce(pending, frame({ type: "control", conversation_id: "c1", control: operatorControl(alice, 1) }));
    expect(conv(won).pending).toBeNull();
    const lost = reduce(
      pending,
      frame({ type: "error", code: "already_controlled", message: "", retryable: false, conversation_id: "c1", holder: bob }),
    );
    expect(conv(lost).pending).toBeNull();
    expect(conv(lost).error?.text).toContain("Bob Builder");
  });
});

describe("outgoing messages", () => {
  const queued = run(
    [frame(history("c1", [])), { type: "message_queued", conversationId: "c1", clientId: "m1", text: "hi", at: 5 }],
    opened(),
  );

  it("goes sending → sent on ack, and the event carries the delivery state", () => {
    expect(conv(queued).outbox[0]?.status).toBe("sending");
    const acked = reduce(queued, frame({ type: "ack", conversation_id: "c1", client_id: "m1", seq: 1 }));
    expect(conv(acked).outbox[0]).toMatchObject({ status: "sent", seq: 1 });
    const echoed = reduce(acked, event("c1", operatorMessage(1, alice, "hi", "m1")));
    const items = timeline(conv(echoed));
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ kind: "event", delivery: { status: "sent" } });
  });

  it("counts the echoed event as delivery when the ack was lost", () => {
    const echoed = reduce(queued, event("c1", operatorMessage(1, alice, "hi", "m1")));
    expect(conv(echoed).outbox[0]?.status).toBe("sent");
  });

  it("fails on a non-retryable refusal, stays sending on a retryable one, and retries", () => {
    const refused = reduce(
      queued,
      frame({ type: "error", code: "not_holder", message: "", retryable: false, conversation_id: "c1", client_id: "m1" }),
    );
    expect(conv(refused).outbox[0]).toMatchObject({ status: "failed", error: { code: "not_holder" } });
    const retried = reduce(refused, { type: "message_retry", conversationId: "c1", clientId: "m1" });
    expect(conv(retried).outbox[0]).toMatchObject({ status: "sending", error: null });

    const limited = reduce(
      queued,
      frame({ type: "error", code: "rate_limited", message: "", retryable: true, conversation_id: "c1", client_id: "m1", retry_after_ms: 2000 }),
    );
    expect(conv(limited).outbox[0]?.status).toBe("sending");
  });

  it("marks unsent messages failed when the connection stops for good", () => {
    const stopped = reduce(queued, { type: "socket_closed", code: 4001, reason: "", delayMs: 0 });
    expect(conv(stopped).outbox[0]?.status).toBe("failed");
  });
});

describe("connection and close codes", () => {
  it("reconnects on a reconnect code and counts failures until ready", () => {
    let s = reduce(connected, { type: "socket_closed", code: 1001, reason: "bye", delayMs: 300 });
    expect(s.connection).toMatchObject({ status: "reconnecting", attempt: 1, delayMs: 300 });
    s = run([{ type: "connect_started" }, { type: "socket_closed", code: 1006, reason: "", delayMs: 900 }], s);
    expect(s.failures).toBe(2);
    s = run([{ type: "connect_started" }, frame(ready())], s);
    expect(s.failures).toBe(0);
    expect(s.connection.status).toBe("connected");
  });

  it("stops on a terminal code and keeps the handshake's error for the operator", () => {
    const s = run([
      { type: "connect_started" },
      frame({ type: "error", code: "unauthorized", message: "bad token", retryable: false }),
      { type: "socket_closed", code: 4001, reason: "", delayMs: 100 },
    ]);
    expect(s.connection).toMatchObject({ status: "stopped", close: { code: 4001 }, notice: { code: "unauthorized" } });
  });

  it("gives up when told a reconnect cannot help, even for a reconnect code", () => {
    const s = reduce(connected, { type: "socket_closed", code: 4002, reason: "", delayMs: 0, giveUp: true });
    expect(s.connection.status).toBe("stopped");
  });

  it("clears typing and pending requests when the socket drops", () => {
    let s = run([frame(history("c1", [])), { type: "takeover_requested", conversationId: "c1" }], opened());
    s = reduce(s, frame({ type: "typing", conversation_id: "c1", author: { kind: "visitor" }, active: true }));
    expect(conv(s).typing.visitor).toBe(true);
    s = reduce(s, { type: "socket_closed", code: 1006, reason: "", delayMs: 1 });
    expect(conv(s).typing.visitor).toBe(false);
    expect(conv(s).pending).toBeNull();
  });
});

describe("errors", () => {
  it("keeps errors tied to no conversation as notices until cleared", () => {
    const s = reduce(connected, frame({ type: "error", code: "bad_frame", message: "", retryable: false }));
    expect(s.notices).toEqual([{ code: "bad_frame", text: expect.stringContaining("not valid JSON") }]);
    expect(reduce(s, { type: "notices_cleared" }).notices).toEqual([]);
  });
});

describe("resumeFrames", () => {
  it("subscribes, re-opens open conversations after their last seq, and re-sends unacked messages", () => {
    const s = run(
      [
        frame(history("c1", [visitorMessage(1), aiMessage(2)])),
        { type: "open_requested", conversationId: "c2" },
        { type: "open_requested", conversationId: "c3" },
        { type: "close_requested", conversationId: "c3" },
        { type: "message_queued", conversationId: "c1", clientId: "m1", text: "one", at: 1 },
        { type: "message_queued", conversationId: "c1", clientId: "m2", text: "two", at: 2 },
        frame({ type: "ack", conversation_id: "c1", client_id: "m1", seq: 3 }),
      ],
      opened(),
    );
    expect(resumeFrames(s)).toEqual([
      { type: "subscribe_online", filter: "all", order: "activity", offset: 0, limit: 50 },
      { type: "follow_ups" },
      { type: "open", conversation_id: "c1", after_seq: 2 },
      { type: "open", conversation_id: "c2" },
      { type: "message", conversation_id: "c1", client_id: "m2", text: "two" },
    ]);
  });
});

describe("online list", () => {
  it("shows the window in the hub's order and counts the waiting ones for the title", () => {
    const s = reduce(
      connected,
      frame(
        onlineView([
          summary("old", { last_activity_at: 1 }),
          summary("new", { last_activity_at: 9 }),
          summary("help-old", { last_activity_at: 2, needs_human: true }),
          summary("help-new", { last_activity_at: 5, needs_human: true }),
          // Asked for a human but already taken over: no longer waiting.
          summary("taken", { last_activity_at: 8, needs_human: true, control: operatorControl(bob) }),
        ]),
      ),
    );
    expect(sortedOnline(s).map((c) => c.id)).toEqual(["help-new", "help-old", "new", "taken", "old"]);
    expect(waitingCount(s)).toBe(2);
  });

  it("keeps the rows a later frame leaves out (unchanged) and drops those that left the window", () => {
    const a = summary("a", { last_activity_at: 1 });
    const b = summary("b", { last_activity_at: 2 });
    let s = reduce(connected, frame(onlineView([a, b])));
    // a wrote again: only its row comes, b's is as before.
    const a2 = summary("a", { last_activity_at: 3, last_message: { author: "visitor", text: "again" } });
    s = reduce(s, frame(onlineView([a2, b], { rows: [a2] })));
    expect(sortedOnline(s)).toEqual([a2, b]);
    // a left the list: its row goes from the window's cache, its label stays known.
    s = reduce(s, frame(onlineView([b], { rows: [] })));
    expect(sortedOnline(s)).toEqual([b]);
    expect(Object.keys(s.online.rows)).toEqual(["b"]);
    // The window held the whole list: a is known to have left it (no longer passes for live).
    expect(s.online.seen.a).toBeUndefined();
    expect(s.visitorLabels.a).toBe("Visitor a");
  });

  it("remembers rows that scrolled out of a partial window as seen on the list", () => {
    const a = summary("a", { last_activity_at: 9 });
    const b = summary("b", { last_activity_at: 1 });
    let s = reduce(connected, frame(onlineView([a], { total: 2 })));
    s = reduce(s, frame(onlineView([b], { offset: 1, total: 2 })));
    expect(Object.keys(s.online.rows)).toEqual(["b"]);
    expect(s.online.seen.a).toEqual(a);
  });

  it("asks for another view and ignores frames of the one before (their rows still count as sent)", () => {
    const a = summary("a", { last_activity_at: 1, needs_human: true });
    const b = summary("b", { last_activity_at: 2 });
    let s = reduce(connected, frame(onlineView([a, b])));
    s = reduce(s, { type: "online_view_requested", patch: { filter: "needs_human" } });
    expect(s.online.request).toEqual({ filter: "needs_human", order: "activity", offset: 0, limit: 50, query: "" });
    expect(resumeFrames(s)[0]).toEqual({ type: "subscribe_online", filter: "needs_human", order: "activity", offset: 0, limit: 50 });

    // Sent by the hub before it read the new request: not what the list asks for now.
    const a2 = { ...a, last_seq: 2 };
    const stale = reduce(s, frame(onlineView([a2, b], { rows: [a2] })));
    expect(stale.online.view?.filter).toBe("all");
    expect(sortedOnline(stale).map((c) => c.id)).toEqual(["a", "b"]);
    // The hub counts a2 as sent: the next frame carries only the ids, and the row is a2.
    s = reduce(stale, frame(onlineView([a2], { filter: "needs_human", rows: [], counts: { all: 2, needs_human: 1, mine: 0, ai: 2 } })));
    expect(s.online.view).toMatchObject({ filter: "needs_human", total: 1, ids: ["a"] });
    expect(sortedOnline(s)).toEqual([a2]);
  });

  it("ignores a frame of an earlier search, and a new search or filter starts at the top", () => {
    let s = reduce(connected, { type: "online_view_requested", patch: { offset: 300, limit: 80 } });
    expect(s.online.request).toMatchObject({ offset: 300, limit: 80 });
    s = reduce(s, { type: "online_view_requested", patch: { query: "  anna " } });
    expect(s.online.request).toEqual({ filter: "all", order: "activity", offset: 0, limit: 80, query: "anna" });
    expect(resumeFrames(s)[0]).toEqual({ type: "subscribe_online", filter: "all", order: "activity", offset: 0, limit: 80, query: "anna" });
    expect(reduce(s, { type: "online_view_requested", patch: { query: "anna" } })).toBe(s);
    const ann = summary("ann", { visitor_label: "Anna" });
    const before = reduce(s, frame(onlineView([ann], { query: "ann" })));
    expect(before.online.view).toBeNull();
    const after = reduce(before, frame(onlineView([ann], { query: "anna" })));
    expect(after.online.view).toMatchObject({ query: "anna", ids: ["ann"] });
  });

  it("places the window at its offset: rows outside it are unknown", () => {
    const rows = [summary("x", { last_activity_at: 5 }), summary("y", { last_activity_at: 4 })];
    const s = reduce(connected, frame(onlineView(rows, { offset: 100, total: 5000 })));
    expect(rowAt(s.online, 99)).toBeUndefined();
    expect(rowAt(s.online, 100)?.id).toBe("x");
    expect(rowAt(s.online, 101)?.id).toBe("y");
    expect(rowAt(s.online, 102)).toBeUndefined();
  });

  it("a control frame changes the holder at once, and a list frame sent before it does not undo it", () => {
    const a = summary("a");
    let s = reduce(connected, frame(onlineView([a])));
    s = reduce(s, frame({ type: "control", conversation_id: "a", control: operatorControl(bob, 1) }));
    expect(sortedOnline(s)[0]?.control.holder).toMatchObject({ kind: "operator", id: bob.id });
    s = reduce(s, frame(onlineView([{ ...a, last_seq: 2 }])));
    expect(sortedOnline(s)[0]).toMatchObject({ last_seq: 2, control: { epoch: 1 } });
  });

  it("alerts when more conversations wait (even outside the window) or a known row starts waiting", () => {
    const a = summary("a");
    let s = reduce(connected, frame(onlineView([a])));
    expect(s.alert).toBeNull();
    const aWaits = summary("a", { needs_human: true, last_seq: 2 });
    s = reduce(s, frame(onlineView([aWaits])));
    expect(s.alert).toMatchObject({ id: 1, conversations: [{ id: "a" }], waiting: 1 });
    // The same again, and the whole window again after a reconnect: nothing new.
    s = reduce(s, frame(onlineView([{ ...aWaits, last_seq: 3 }])));
    s = reduce(s, frame(onlineView([{ ...aWaits, last_seq: 3 }])));
    expect(s.alert?.id).toBe(1);
    // Someone outside the window (offset 50 of 60) starts waiting: only the count says so.
    s = reduce(s, frame(onlineView([summary("z")], { offset: 50, total: 60, counts: { all: 60, needs_human: 2, mine: 0, ai: 60 } })));
    expect(s.alert).toMatchObject({ id: 2, conversations: [], waiting: 2 });
    // Scrolling onto a waiting row nobody knew about is no news.
    s = reduce(s, frame(onlineView([summary("w", { needs_human: true })], { offset: 0, total: 60, counts: { all: 60, needs_human: 2, mine: 0, ai: 60 } })));
    expect(s.alert?.id).toBe(2);
    // One stops waiting while another starts: the count stays, the row is news.
    const b = summary("b");
    s = reduce(s, frame(onlineView([b, summary("w", { needs_human: true })], { total: 60, counts: { all: 60, needs_human: 2, mine: 0, ai: 60 } })));
    s = reduce(s, frame(onlineView([summary("b", { needs_human: true }), summary("w")], { total: 60, counts: { all: 60, needs_human: 2, mine: 0, ai: 60 } })));
    expect(s.alert).toMatchObject({ id: 3, conversations: [{ id: "b" }] });
  });

  it("counts unread events since the operator last looked", () => {
    const a = summary("a", { last_seq: 5 });
    let s = reduce(connected, frame(onlineView([a])));
    expect(unreadCount(s, a)).toBe(5);
    s = reduce(s, { type: "seen", conversationId: "a", seq: 4 });
    expect(unreadCount(s, a)).toBe(1);
    // Seen never moves backwards (an older history arriving late).
    expect(reduce(s, { type: "seen", conversationId: "a", seq: 2 })).toBe(s);
  });
});

describe("folding online views", () => {
  it("keeps the last window and counts, and every frame's rows with the newest winning", () => {
    const a1 = summary("a", { last_seq: 1 });
    const a2 = summary("a", { last_seq: 2 });
    const b1 = summary("b", { last_seq: 1 });
    const f1 = onlineView([a1, b1]);
    const f2 = onlineView([a2], { rows: [a2], total: 2, ids: ["a", "b"] });
    const f3 = onlineView([a2, b1], { rows: [], counts: { all: 2, needs_human: 0, mine: 0, ai: 2 } });
    const folded = foldOnlineViews([f1, f2, f3])!;
    expect(folded.ids).toEqual(f3.ids);
    expect(folded.counts).toEqual(f3.counts);
    expect(folded.rows).toEqual([b1, a2]);
    // Applying the fold equals applying the frames one by one.
    const oneByOne = run([frame(f1), frame(f2), frame(f3)], connected);
    const atOnce = reduce(connected, frame(folded));
    expect(atOnce.online.rows).toEqual(oneByOne.online.rows);
    expect(atOnce.online.view).toEqual(oneByOne.online.view);
    expect(foldOnlineViews([])).toBeNull();
    expect(foldOnlineViews([f1])).toBe(f1);
  });

  it("keeps only a bounded number of seen rows", () => {
    const rows = Array.from({ length: MAX_SEEN + 10 }, (_, i) => summary(`c${i}`, { last_activity_at: i }));
    let s = connected;
    for (let i = 0; i < rows.length; i += 200) s = reduce(s, frame(onlineView(rows.slice(i, i + 200), { offset: i, total: rows.length })));
    expect(Object.keys(s.online.seen)).toHaveLength(MAX_SEEN);
    // The first frame's rows came newest first (c199 … c0): the first of them is the first to go.
    expect(s.online.seen.c199).toBeUndefined();
    expect(s.online.seen.c0).toBeDefined();
    expect(s.online.seen[`c${rows.length - 1}`]).toBeDefined();
    expect(Object.keys(s.online.rows).length).toBeLessThanOrEqual(200);
  });
});

describe("idle warning", () => {
  const warned = (): ClientState =>
    run(
      [
        frame(history("c1", [], { control: operatorControl(alice) })),
        frame({ type: "control_warning", conversation_id: "c1", holder_id: alice.id, reason: "idle", release_at: 5_000 }),
      ],
      opened(),
    );

  it("records the hub's warning for an open conversation", () => {
    expect(conv(warned()).idleWarning).toEqual({ holderId: alice.id, releaseAt: 5_000 });
  });

  it("clears it when the holder writes", () => {
    const s = run([event("c1", operatorMessage(1, alice, "still here"))], warned());
    expect(conv(s).idleWarning).toBeNull();
  });

  it("clears it when control changes", () => {
    const left = run(
      [
        event("c1", {
          seq: 1,
          at: 1,
          type: "operator_left",
          operator: alice,
          epoch: 2,
          reason: "idle",
        }),
      ],
      warned(),
    );
    expect(conv(left).idleWarning).toBeNull();
  });

  it("ignores warnings for conversations that are not open", () => {
    const s = run([
      frame({ type: "control_warning", conversation_id: "zz", holder_id: alice.id, reason: "idle", release_at: 1 }),
    ], connected);
    expect(s.conversations["zz"]).toBeUndefined();
  });
});

describe("team and audit (owners and editors)", () => {
  const asOwner = run([{ type: "connect_started" }, frame(ready("pro", "owner"))]);

  it("keeps the latest team snapshot and remembers the held conversations' labels", () => {
    const first = reduce(
      asOwner,
      frame({ type: "team_snapshot", members: [member("op-martin", "Martin Keller", { holding: [held("c7", "Visitor 7F3A", 1_000)] })] }),
    );
    expect(first.team?.members.map((m) => m.id)).toEqual(["op-martin"]);
    expect(first.visitorLabels.c7).toBe("Visitor 7F3A");
    const second = reduce(first, frame({ type: "team_snapshot", members: [member("op-martin", "Martin Keller", { online: false })] }));
    expect(second.team).toEqual({ members: [member("op-martin", "Martin Keller", { online: false })] });
    // The label outlives the holding, for audit entries about it.
    expect(second.visitorLabels.c7).toBe("Visitor 7F3A");
  });

  it("appends audit entries, each once, across a snapshot, live entries and a resubscribe", () => {
    const a = auditEntry(1_000);
    const b = auditEntry(2_000, { action: "release", reason: "ended" });
    const c = auditEntry(3_000, { actor: undefined, action: "release", reason: "idle", holder_id: "op-martin" });
    let s = reduce(asOwner, frame({ type: "audit_snapshot", entries: [a, b] }));
    expect(s.audit).toEqual([a, b]);
    s = reduce(s, frame({ type: "audit_entry", entry: c }));
    expect(s.audit).toEqual([a, b, c]);
    // The same entry twice (live and in the next snapshot): the state does not change.
    expect(reduce(s, frame({ type: "audit_entry", entry: { ...c } }))).toBe(s);
    const afterResubscribe = reduce(s, frame({ type: "audit_snapshot", entries: [a, b, c] }));
    expect(afterResubscribe).toBe(s);
    // Same time, different action: a different entry.
    const d = auditEntry(3_000, { action: "plan_refused" });
    expect(reduce(s, frame({ type: "audit_entry", entry: d })).audit).toEqual([a, b, c, d]);
  });

  it("keeps the audit log oldest first even when an entry arrives late", () => {
    const s = run(
      [frame({ type: "audit_entry", entry: auditEntry(5_000) }), frame({ type: "audit_entry", entry: auditEntry(4_000, { conversation_id: "c2" }) })],
      asOwner,
    );
    expect(s.audit.map((e) => e.at)).toEqual([4_000, 5_000]);
  });

  it(`caps the audit log to the last ${MAX_AUDIT} entries`, () => {
    const many = Array.from({ length: MAX_AUDIT + 20 }, (_, i) => auditEntry(i + 1));
    let s = reduce(asOwner, frame({ type: "audit_snapshot", entries: many }));
    expect(s.audit).toHaveLength(MAX_AUDIT);
    expect(s.audit[0]?.at).toBe(21);
    s = reduce(s, frame({ type: "audit_entry", entry: auditEntry(10_000) }));
    expect(s.audit).toHaveLength(MAX_AUDIT);
    expect(s.audit[0]?.at).toBe(22);
    expect(s.audit.at(-1)?.at).toBe(10_000);
  });

  it("re-subscribes to the team after a reconnect for owners and editors, not for operators", () => {
    const reconnect = (role: "owner" | "editor" | "operator") =>
      resumeFrames(
        run(
          [
            { type: "connect_started" },
            frame(ready("pro", role)),
            { type: "socket_closed", code: 1006, reason: "", delayMs: 10 },
            { type: "connect_started" },
            frame(ready("pro", role)),
          ],
          initialState,
        ),
      );
    expect(reconnect("owner")).toEqual([subscribeAll, { type: "subscribe_team" }, { type: "follow_ups" }]);
    expect(reconnect("editor")).toEqual([subscribeAll, { type: "subscribe_team" }, { type: "follow_ups" }]);
    expect(reconnect("operator")).toEqual([subscribeAll, { type: "follow_ups" }]);
  });

  it("settles a force release from the Team view with its control answer", () => {
    const s = run([{ type: "force_release_requested", conversationId: "c7" }], asOwner);
    expect(s.forceReleasing).toEqual(["c7"]);
    const done = reduce(s, frame({ type: "control", conversation_id: "c7", control: aiControl(3) }));
    expect(done.forceReleasing).toEqual([]);
  });

  it("shows a refused force release of a conversation that is not open in the banner", () => {
    const s = run(
      [
        frame({ type: "team_snapshot", members: [member("op-martin", "Martin Keller", { holding: [held("c7", "Visitor 7F3A", 1)] })] }),
        { type: "force_release_requested", conversationId: "c7" },
        frame({ type: "error", code: "not_controlled", message: "", retryable: false, conversation_id: "c7" }),
      ],
      asOwner,
    );
    expect(s.forceReleasing).toEqual([]);
    expect(s.notices.at(-1)?.text).toMatch(/^Could not release Visitor 7F3A: /);
  });
});

/** A draft frame; by default a snapshot (offset 0) of the AI's first turn (epoch 0). */
const draft = (text: string, state: DraftState = "streaming", draftId = "d1", conversationId = "c1", offset = 0, epoch = 0): ClientAction =>
  frame({ type: "ai_draft", conversation_id: conversationId, draft_id: draftId, epoch, offset, text, state });

describe("assistant drafts and human requests", () => {
  const open = () => run([frame(history("c1", [visitorMessage(1)]))], opened());

  it("shows the AI's draft growing (the whole text so far), replaced by the stored reply", () => {
    let s = run([draft("We "), draft("We ship ")], open());
    expect(conv(s).draft).toEqual({ id: "d1", text: "We ship ", complete: true, epoch: 0 });
    expect(visibleDraft(conv(s))).toMatchObject({ id: "d1", text: "We ship " });
    expect(reduce(s, draft("We ship "))).toBe(s); // a repeated frame changes nothing
    s = run([event("c1", aiMessage(2, "We ship today."))], s);
    expect(conv(s).draft).toBeNull();
    s = run([draft("", "done"), draft("We ship today.")], s); // a late frame of the stored draft
    expect(conv(s).draft).toBeNull();
    expect(timeline(conv(s))).toHaveLength(2);
  });

  it("has no bubble before the first words; done and discarded remove the draft; another id replaces it", () => {
    expect(visibleDraft(conv(run([draft(" ")], open())))).toBeNull();
    const streaming = run([draft("Sorry")], open());
    expect(conv(run([draft("", "done")], streaming)).draft).toBeNull();
    expect(conv(run([draft("", "discarded")], streaming)).draft).toBeNull();
    const replaced = run([draft("Our", "streaming", "d2")], streaming);
    expect(conv(replaced).draft).toMatchObject({ id: "d2", text: "Our" });
    expect(conv(run([draft("", "discarded", "d1")], replaced)).draft).toMatchObject({ id: "d2", text: "Our" });
  });

  it("a takeover, closing the conversation or losing the socket removes the draft", () => {
    const aiTyping = frame({ type: "typing", conversation_id: "c1", author: { kind: "ai" }, active: true });
    const streaming = run([aiTyping, draft("We ship")], open());
    const taken = run([event("c1", { seq: 2, at: 2, type: "operator_joined", operator: bob, epoch: 1 })], streaming);
    expect(conv(taken).draft).toBeNull();
    // Its "typing: false" is not relayed after the join: "thinking…" must not stay.
    expect(conv(taken).typing.ai).toBe(false);
    // The cancelled reply's stray frames show nothing while an operator holds it.
    expect(reduce(taken, draft("Anything", "streaming", "d9"))).toBe(taken);
    expect(conv(run([{ type: "close_requested", conversationId: "c1" }], streaming)).draft).toBeNull();
    expect(conv(run([{ type: "socket_closed", code: 1006, reason: "", delayMs: 100 }], streaming)).draft).toBeNull();
  });

  it("assembles pieces by offset; a repeat changes nothing; a gap keeps the text until a snapshot", () => {
    let s = run([draft("We "), draft("ship ", "streaming", "d1", "c1", 3), draft("today", "streaming", "d1", "c1", 8)], open());
    expect(conv(s).draft).toMatchObject({ text: "We ship today", complete: true });
    expect(reduce(s, draft("ship ", "streaming", "d1", "c1", 3))).toBe(s);
    s = run([draft(" and", "streaming", "d1", "c1", 20)], s);
    expect(conv(s).draft).toMatchObject({ text: "We ship today", complete: false });
    s = run([draft("We ship today, as usual, and", "streaming", "d1", "c1", 0)], s);
    expect(conv(s).draft).toMatchObject({ text: "We ship today, as usual, and", complete: true });
  });

  it("ignores a draft older than a change of control it has seen (another node's late frame)", () => {
    const handedBack = run(
      [
        event("c1", { seq: 2, at: 2, type: "operator_joined", operator: bob, epoch: 1 }),
        event("c1", { seq: 3, at: 3, type: "operator_left", operator: bob, epoch: 2, reason: "ended" }),
      ],
      open(),
    );
    expect(reduce(handedBack, draft("We ship", "streaming", "d1", "c1", 0, 0))).toBe(handedBack);
    expect(conv(run([draft("Hello", "streaming", "d2", "c1", 0, 2)], handedBack)).draft).toMatchObject({ text: "Hello" });
  });

  it("ignores drafts of conversations that are not open", () => {
    const s = open();
    expect(reduce(s, draft("elsewhere", "streaming", "d1", "c2"))).toBe(s);
  });

  it("ends a human request that expired", () => {
    const s = open();
    const asked = run([event("c1", { seq: 2, at: 2, type: "human_requested", by: "visitor" })], s);
    expect(conv(asked).needsHuman).toBe(true);
    const expired = run([event("c1", { seq: 3, at: 3, type: "human_request_expired", waited_ms: 120_000 })], asked);
    expect(conv(expired).needsHuman).toBe(false);
    expect(conv(expired).lastSeq).toBe(3);
  });
});

describe("transfer", () => {
  const nora = { id: "nora", name: "Nora Novak", display_name: "Nora from Support", avatar_url: "/avatars/demo-pro/n.png" };
  const held = (): ClientState => run([frame(history("c1", [], { control: operatorControl(alice, 3) }))], opened());
  const transferred = (seq: number, epoch: number, by?: string): ClientAction =>
    event("c1", { seq, at: seq, type: "operator_transferred", from: alice, to: nora, epoch, ...(by ? { by } : {}) });

  it("operator_transferred hands control to the recipient at its epoch, in one step", () => {
    const s = run([transferred(1, 4)], held());
    expect(conv(s).control).toEqual(operatorControl(nora, 4));
    expect(conv(s).events.map((e) => e.type)).toEqual(["operator_transferred"]);
    // A late answer of an older epoch does not take it back.
    const late = reduce(s, frame({ type: "control", conversation_id: "c1", control: operatorControl(alice, 3) }));
    expect(conv(late).control).toEqual(operatorControl(nora, 4));
  });

  it("an older transfer event does not undo a newer control", () => {
    const s = run([frame({ type: "control", conversation_id: "c1", control: aiControl(5) }), transferred(1, 4)], held());
    expect(conv(s).control).toEqual(aiControl(5));
  });

  it("ends the previous holder's idle warning and typing", () => {
    const s = run(
      [
        frame({ type: "control_warning", conversation_id: "c1", holder_id: alice.id, reason: "idle", release_at: 5_000 }),
        frame({ type: "typing", conversation_id: "c1", author: { kind: "operator", ...alice }, active: true }),
        transferred(1, 4),
      ],
      held(),
    );
    expect(conv(s).idleWarning).toBeNull();
    expect(conv(s).typing.operators).toEqual([]);
  });

  it("a transfer waits for its control answer, which ends it", () => {
    const sending = run([{ type: "transfer_requested", conversationId: "c1", to: "nora", epoch: 3 }], held());
    expect(conv(sending).pending).toBe("transfer");
    expect(conv(sending).transfer).toEqual({ status: "sending", to: "nora", epoch: 3 });
    const done = reduce(sending, frame({ type: "control", conversation_id: "c1", control: operatorControl(nora, 4) }));
    expect(conv(done).pending).toBeNull();
    expect(conv(done).transfer).toBeNull();
    expect(conv(done).control).toEqual(operatorControl(nora, 4));
  });

  it.each([
    ["transfer_to_self", "The conversation is already theirs."],
    ["operator_offline", "That operator is not online in this workspace."],
    ["control_changed", "Someone else changed who handles this conversation first; nothing was done."],
  ] as const)("a refusal (%s) goes to the dialog that sent it, in words", (code, words) => {
    const sending = run([{ type: "transfer_requested", conversationId: "c1", to: "nora", epoch: 3 }], held());
    const s = reduce(sending, frame({ type: "error", code, message: "", retryable: false, conversation_id: "c1" }));
    const c = conv(s);
    expect(c.pending).toBeNull();
    expect(c.transfer?.status).toBe("refused");
    expect(c.transfer?.status === "refused" && c.transfer.error.text.startsWith(words)).toBe(true);
    // Not also in the conversation's error line: the dialog says it.
    expect(c.error).toBeNull();
    // Closing the dialog forgets it.
    expect(conv(reduce(s, { type: "transfer_dismissed", conversationId: "c1" })).transfer).toBeNull();
  });

  it("a refusal arriving after the dialog closed shows in the conversation's error line", () => {
    const s = run(
      [
        { type: "transfer_requested", conversationId: "c1", to: "nora", epoch: 3 },
        { type: "transfer_dismissed", conversationId: "c1" },
        frame({ type: "error", code: "control_changed", message: "", retryable: false, conversation_id: "c1" }),
      ],
      held(),
    );
    expect(conv(s).pending).toBeNull();
    expect(conv(s).error?.code).toBe("control_changed");
  });

  it("a transfer whose answer went with the socket says so", () => {
    const s = run(
      [{ type: "transfer_requested", conversationId: "c1", to: "nora", epoch: 3 }, { type: "socket_closed", code: 1006, reason: "", delayMs: 10 }],
      held(),
    );
    const t = conv(s).transfer;
    expect(conv(s).pending).toBeNull();
    expect(t?.status === "refused" && t.error.text).toMatch(/connection dropped before the hub answered/);
  });

  it("asks who is online afresh, and again after a reconnect while unanswered", () => {
    let s = reduce(connected, { type: "colleagues_requested" });
    expect(s.colleagues).toEqual({ operators: null, pending: true });
    expect(resumeFrames(s)).toContainEqual({ type: "colleagues" });
    const operators = [{ id: "nora", name: "Nora Novak", role: "operator" as const }];
    s = reduce(s, frame({ type: "colleagues", operators }));
    expect(s.colleagues).toEqual({ operators, pending: false });
    expect(resumeFrames(s)).not.toContainEqual({ type: "colleagues" });
    // The next dialog does not show the old list as if it were current.
    expect(reduce(s, { type: "colleagues_requested" }).colleagues.operators).toBeNull();
  });

  it("keeps each transfer to you once, until opened or dismissed, and remembers its label", () => {
    const received = (conversationId: string, note?: string): ClientAction =>
      frame({
        type: "transfer_received",
        conversation_id: conversationId,
        visitor_label: `Visitor ${conversationId}`,
        by: { id: "martin", name: "Martin Keller", display_name: "Martin from Support" },
        ...(note !== undefined ? { note } : {}),
      });
    let s = run([received("c7", "Refund approved."), received("c8")], connected);
    expect(s.transfers.map((t) => [t.id, t.conversationId, t.note])).toEqual([
      [1, "c7", "Refund approved."],
      [2, "c8", null],
    ]);
    expect(s.visitorLabels["c7"]).toBe("Visitor c7");
    // Handed over again: the newest replaces it, with a new id (it alerts again).
    s = reduce(s, received("c7", "Back to you."));
    expect(s.transfers.map((t) => [t.id, t.conversationId])).toEqual([
      [2, "c8"],
      [3, "c7"],
    ]);
    s = reduce(s, { type: "transfer_notice_dismissed", id: 2 });
    expect(s.transfers.map((t) => t.conversationId)).toEqual(["c7"]);
    s = reduce(s, { type: "open_requested", conversationId: "c7" });
    expect(s.transfers).toEqual([]);
    expect(s.transfersReceived).toBe(3);
  });

  it("tells apart audit entries that differ only in the recipient", () => {
    const s = run([
      frame(ready("pro", "owner")),
      frame({ type: "audit_snapshot", entries: [auditEntry(10, { action: "transfer", to: "nora" }), auditEntry(10, { action: "transfer", to: "eddie" })] }),
    ]);
    expect(s.audit).toHaveLength(2);
  });
});

describe("the brief, suggestions and the interrupted reply", () => {
  const nora = { id: "nora", name: "Nora Novak", display_name: "Nora from Support" };
  /** Signed in as Alice with c1 open, the AI holding it. */
  const aiHolds = (): ClientState => run([frame(history("c1", [visitorMessage(1, "My boots leak.")]))], opened());
  /** Alice holds c1 (epoch 1). */
  const aliceHolds = (): ClientState => run([frame(history("c1", [visitorMessage(1, "My boots leak.")], { control: operatorControl(alice, 1) }))], opened());
  const typed = (text: string): ClientAction => ({ type: "composer_changed", conversationId: "c1", text });
  const interrupted = (text: string, draftId = "d1"): ClientAction =>
    frame({ type: "interrupted_reply", conversation_id: "c1", draft_id: draftId, text });
  const briefReady = (at: number, wants = "A refund for boots that leak."): BriefState => ({
    state: "ready",
    at,
    brief: { wants, answered: "The AI explained the 30-day return policy.", why_human: "The visitor asked for a person.", made_by: "knowledge" },
  });
  const briefFrame = (brief: BriefState, conversationId = "c1"): ClientAction => frame({ type: "brief", conversation_id: conversationId, brief });
  const refusal = (code: ErrorCode, over: Partial<ErrorFrame> = {}): ClientAction =>
    frame({ type: "error", code, message: "", retryable: code === "unavailable" || code === "rate_limited", conversation_id: "c1", ...over });

  describe("the brief", () => {
    it("comes with the history, then live frames replace it: pending, then ready", () => {
      let s = run([frame(history("c1", [], { brief: { state: "pending", since: 100 } }))], opened());
      expect(conv(s).brief).toEqual({ state: "pending", since: 100 });
      s = reduce(s, briefFrame(briefReady(150)));
      expect(conv(s).brief).toEqual(briefReady(150));
      // A resumed history without one (or with the same one) keeps it.
      s = run([frame(history("c1", [])), frame(history("c1", [], { brief: briefReady(150) }))], s);
      expect(conv(s).brief).toEqual(briefReady(150));
      // A new request for a human later starts a new brief.
      s = reduce(s, briefFrame({ state: "pending", since: 900 }));
      expect(conv(s).brief).toEqual({ state: "pending", since: 900 });
      s = reduce(s, briefFrame({ state: "unavailable", reason: "the assistant did not answer in time", at: 2_900 }));
      expect(conv(s).brief).toEqual({ state: "unavailable", reason: "the assistant did not answer in time", at: 2_900 });
    });

    it("keeps a newer brief over an older one arriving late, and a result over its pending at the same time", () => {
      const s = run([briefFrame(briefReady(150)), briefFrame({ state: "pending", since: 100 }), briefFrame({ state: "pending", since: 150 })], opened());
      expect(conv(s).brief).toEqual(briefReady(150));
      expect(reduce(s, briefFrame({ state: "pending", since: 100 }))).toBe(s);
    });

    it("ignores briefs of conversations that are not open, and remembers per conversation that it was folded away", () => {
      expect(reduce(connected, briefFrame(briefReady(1), "c9"))).toBe(connected);
      let s = run([{ type: "open_requested", conversationId: "c2" }, briefFrame(briefReady(1)), briefFrame(briefReady(1), "c2")], opened());
      s = reduce(s, { type: "brief_toggled", conversationId: "c1" });
      expect(conv(s).briefCollapsed).toBe(true);
      expect(conv(s, "c2").briefCollapsed).toBe(false);
      // Still folded after switching away and back, and after a new brief.
      s = run([{ type: "close_requested", conversationId: "c1" }, { type: "open_requested", conversationId: "c1" }, briefFrame(briefReady(5))], s);
      expect(conv(s).briefCollapsed).toBe(true);
      expect(conv(reduce(s, { type: "brief_toggled", conversationId: "c1" })).briefCollapsed).toBe(false);
    });
  });

  describe("the interrupted reply", () => {
    it("goes into the empty composer as a draft, even before the takeover's answer, and is never queued", () => {
      let s = run([{ type: "takeover_requested", conversationId: "c1" }, interrupted("Your order shipped on Monday and should arrive")], aiHolds());
      expect(conv(s).composer).toBe("Your order shipped on Monday and should arrive");
      expect(conv(s).interrupted).toEqual({ status: "placed", draftId: "d1", text: "Your order shipped on Monday and should arrive", before: "" });
      s = reduce(s, frame({ type: "control", conversation_id: "c1", control: operatorControl(alice, 1) }));
      expect(conv(s).interrupted?.status).toBe("placed");
      expect(conv(s).outbox).toEqual([]);
      expect(resumeFrames(s).filter((f) => f.type === "message")).toEqual([]);
      // A repeat of the same draft (another node's copy) changes nothing.
      expect(reduce(s, interrupted("Your order shipped"))).toBe(s);
    });

    it("does not overwrite what the operator wrote: it is offered, and Use puts it after a blank line", () => {
      let s = run([typed("Hi, Martin here."), interrupted("Your order shipped on Monday")], aliceHolds());
      expect(conv(s).composer).toBe("Hi, Martin here.");
      expect(conv(s).interrupted).toEqual({ status: "offered", draftId: "d1", text: "Your order shipped on Monday" });
      s = reduce(s, { type: "interrupted_used", conversationId: "c1" });
      expect(conv(s).composer).toBe("Hi, Martin here.\n\nYour order shipped on Monday");
      expect(conv(s).interrupted?.status).toBe("placed");
      // Discard puts the box back as it was before.
      s = reduce(s, { type: "interrupted_discarded", conversationId: "c1" });
      expect(conv(s).composer).toBe("Hi, Martin here.");
      expect(conv(s).interrupted).toBeNull();
    });

    it("the hint goes when dismissed (the text stays), or when the box is emptied or sent", () => {
      const placed = run([interrupted("Your order shipped")], aliceHolds());
      const dismissed = reduce(placed, { type: "interrupted_dismissed", conversationId: "c1" });
      expect(conv(dismissed).interrupted).toBeNull();
      expect(conv(dismissed).composer).toBe("Your order shipped");
      const edited = reduce(placed, typed("Your order shipped on Monday."));
      expect(conv(edited).interrupted?.status).toBe("placed");
      expect(conv(reduce(edited, typed(""))).interrupted).toBeNull();
      const discarded = reduce(edited, { type: "interrupted_discarded", conversationId: "c1" });
      expect(conv(discarded).composer).toBe("");
    });

    it("is not offered when someone else holds the conversation, when blank, or for a conversation not open", () => {
      const noraHolds = run([frame({ type: "control", conversation_id: "c1", control: operatorControl(nora, 2) })], aiHolds());
      expect(reduce(noraHolds, interrupted("Your order"))).toBe(noraHolds);
      const held = aliceHolds();
      expect(reduce(held, interrupted(" \u200b "))).toBe(held);
      expect(reduce(connected, frame({ type: "interrupted_reply", conversation_id: "c9", draft_id: "d1", text: "Hi" }))).toBe(connected);
    });

    it("goes when control moves on (a transfer, End): only the holder could use it", () => {
      const placed = run([interrupted("Your order shipped")], aliceHolds());
      const moved = reduce(
        placed,
        event("c1", { seq: 2, at: 2, type: "operator_transferred", from: alice, to: nora, epoch: 2 } as ReturnType<typeof visitorMessage>),
      );
      expect(conv(moved).interrupted).toBeNull();
      // The box keeps what it holds: notes are written there too.
      expect(conv(moved).composer).toBe("Your order shipped");
    });
  });

  describe("suggestions", () => {
    const suggested = (text: string): ClientAction => frame({ type: "suggestion", conversation_id: "c1", text });
    const asked = (): ClientState => reduce(aliceHolds(), { type: "suggest_requested", conversationId: "c1" });

    it("waits for the answer, shows it, and Insert puts it in the empty box", () => {
      let s = asked();
      expect(conv(s).suggestion).toEqual({ status: "pending" });
      s = reduce(s, suggested("You can return any item within 30 days."));
      expect(conv(s).suggestion).toEqual({ status: "ready", text: "You can return any item within 30 days." });
      s = reduce(s, { type: "suggestion_inserted", conversationId: "c1" });
      expect(conv(s).composer).toBe("You can return any item within 30 days.");
      expect(conv(s).suggestion).toBeNull();
      // Never a message by itself.
      expect(conv(s).outbox).toEqual([]);
    });

    it("Insert appends after a blank line when the box holds something; Dismiss drops it", () => {
      const s = run([typed("Hi, Martin here.\n"), suggested("You can return any item within 30 days.")], asked());
      const inserted = reduce(s, { type: "suggestion_inserted", conversationId: "c1" });
      expect(conv(inserted).composer).toBe("Hi, Martin here.\n\nYou can return any item within 30 days.");
      const dismissed = reduce(s, { type: "suggestion_dismissed", conversationId: "c1" });
      expect(conv(dismissed).suggestion).toBeNull();
      expect(conv(dismissed).composer).toBe("Hi, Martin here.\n");
    });

    it("ignores an answer nobody awaits", () => {
      const s = aliceHolds();
      expect(reduce(s, suggested("Hello"))).toBe(s);
      expect(reduce(connected, frame({ type: "suggestion", conversation_id: "c9", text: "Hello" }))).toBe(connected);
    });

    it.each([
      ["no_suggestion", /no suggestion for the visitor's last message/],
      ["unavailable", /could not suggest a reply just now/],
      ["not_holder", /no longer handling this conversation/],
      ["not_controlled", /Take Control to ask it for a suggested reply/],
      ["rate_limited", /Wait 3 s before asking for another suggestion/],
    ] as const)("a refusal (%s) answers the Suggest awaited (errors carry no request id), in words", (code, words) => {
      const s = reduce(asked(), refusal(code, code === "rate_limited" ? { retry_after_ms: 2_500 } : {}));
      const c = conv(s);
      expect(c.suggestion?.status).toBe("refused");
      expect(c.suggestion?.status === "refused" && c.suggestion.error.text).toMatch(words);
      // Said beside the Suggest button, not also in the conversation's error line.
      expect(c.error).toBeNull();
    });

    it("leaves a refusal of something else awaited to it: a takeover's, or one while no Suggest waits", () => {
      const releasing = run([{ type: "release_requested", conversationId: "c1" }, refusal("not_holder")], asked());
      expect(conv(releasing).suggestion).toEqual({ status: "pending" });
      expect(conv(releasing).error?.code).toBe("not_holder");
      const none = reduce(aliceHolds(), refusal("not_holder"));
      expect(conv(none).suggestion).toBeNull();
      expect(conv(none).error?.code).toBe("not_holder");
    });

    it("a Suggest whose answer went with the socket says so, and is not asked again by itself", () => {
      const s = reduce(asked(), { type: "socket_closed", code: 1006, reason: "", delayMs: 10 });
      const c = conv(s);
      expect(c.suggestion?.status === "refused" && c.suggestion.error.text).toMatch(/connection dropped before the assistant answered/);
      expect(resumeFrames(s).some((f) => f.type === "suggest")).toBe(false);
    });

    it("goes when control moves on; an answer that comes after is not shown", () => {
      const shown = reduce(asked(), suggested("Hello"));
      const handedBack = frame({ type: "control", conversation_id: "c1", control: aiControl(2) });
      expect(conv(reduce(shown, handedBack)).suggestion).toBeNull();
      const late = run([handedBack, suggested("Hello")], asked());
      expect(conv(late).suggestion).toBeNull();
    });
  });
});
