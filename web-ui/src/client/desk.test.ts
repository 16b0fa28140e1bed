// @vitest-environment node
import { describe, expect, it } from "vitest";
import type { ConversationSummary, Note, ServerFrame } from "../protocol/frames";
import { alice, bob, history, ready, summary, visitorMessage } from "../test/fixtures";
import { reduce, resumeFrames, type ClientAction } from "./reducer";
import { isReadOnly, knownSummary, timeline } from "./selectors";
import { initialState, type ClientState } from "./state";

const frame = (f: ServerFrame): ClientAction => ({ type: "frame", frame: f });
const run = (actions: ClientAction[], from: ClientState = initialState): ClientState => actions.reduce(reduce, from);
const connected = run([{ type: "connect_started" }, frame(ready())]);
const opened = run([{ type: "open_requested", conversationId: "c1" }], connected);
const conv = (s: ClientState, id = "c1") => {
  const c = s.conversations[id];
  if (!c) throw new Error(`no conversation ${id}`);
  return c;
};

const note = (id: number, afterSeq: number, over: Partial<Note> = {}): Note => ({
  id,
  after_seq: afterSeq,
  at: 5_000 + id,
  author: { id: bob.id, name: bob.name },
  text: `note ${id}`,
  ...over,
});
const noteFrame = (n: Note, conversationId = "c1"): ClientAction => frame({ type: "note", conversation_id: conversationId, note: n });
const queue = (clientId: string, text = "a note"): ClientAction => ({ type: "note_queued", conversationId: "c1", clientId, text, at: 1 });

describe("internal notes", () => {
  it("keeps history notes and live notes by id, each once, whatever order they come in", () => {
    const s = run(
      [frame(history("c1", [visitorMessage(1)], { notes: [note(2, 1), note(1, 0)] })), noteFrame(note(3, 1)), noteFrame(note(2, 1))],
      opened,
    );
    expect(conv(s).notes.map((n) => n.id)).toEqual([1, 2, 3]);
    const again = run([frame(history("c1", [], { last_seq: 1, notes: [note(3, 1)] }))], s);
    expect(conv(again).notes).toBe(conv(s).notes);
  });

  it("ignores notes of conversations it never opened", () => {
    expect(run([noteFrame(note(1, 0), "c9")], connected)).toBe(connected);
  });

  it("settles an outgoing note by its client id, from the live frame or a resumed history", () => {
    const s = run([frame(history("c1", [])), queue("n-1"), queue("n-2")], opened);
    expect(conv(s).noteOutbox.map((n) => n.status)).toEqual(["sending", "sending"]);
    const live = run([noteFrame(note(1, 0, { client_id: "n-1", author: { id: alice.id, name: alice.name } }))], s);
    expect(conv(live).noteOutbox.map((n) => n.clientId)).toEqual(["n-2"]);
    // Stored while the socket was down: the re-open's history carries it back.
    const resumed = run([frame(history("c1", [], { notes: [note(2, 0, { client_id: "n-2" })] }))], live);
    expect(conv(resumed).noteOutbox).toEqual([]);
    expect(conv(resumed).notes.map((n) => n.id)).toEqual([1, 2]);
  });

  it("fails a refused note (limit_reached) with the words for it, keeps a retryable one sending, and retries", () => {
    const s = run(
      [
        frame(history("c1", [])),
        queue("n-1"),
        queue("n-2"),
        frame({ type: "error", code: "limit_reached", message: "", retryable: false, conversation_id: "c1", client_id: "n-1" }),
        frame({ type: "error", code: "rate_limited", message: "", retryable: true, conversation_id: "c1", client_id: "n-2", retry_after_ms: 2_000 }),
      ],
      opened,
    );
    const [limited, slowed] = conv(s).noteOutbox;
    expect(limited).toMatchObject({ status: "failed", error: { code: "limit_reached", text: expect.stringContaining("at most 500 internal notes") } });
    expect(slowed).toMatchObject({ status: "sending", error: { code: "rate_limited" } });
    // A refused note is not the conversation's error line, nor a refused message.
    expect(conv(s).error).toBeNull();
    const retried = run([{ type: "note_retry", conversationId: "c1", clientId: "n-1" }], s);
    expect(conv(retried).noteOutbox[0]).toMatchObject({ status: "sending", error: null });
  });

  it("fails notes still sending when the connection stops for good, and re-sends them after a reconnect", () => {
    const s = run([frame(history("c1", [visitorMessage(1)])), queue("n-1", "VIP")], opened);
    const dropped = run([{ type: "socket_closed", code: 1001, reason: "", delayMs: 100 }], s);
    expect(conv(dropped).noteOutbox[0]?.status).toBe("sending");
    expect(resumeFrames(dropped)).toContainEqual({ type: "note", conversation_id: "c1", client_id: "n-1", text: "VIP" });
    const stopped = run([{ type: "socket_closed", code: 4001, reason: "", delayMs: 0 }], s);
    expect(conv(stopped).noteOutbox[0]).toMatchObject({ status: "failed", error: { text: "Not connected." } });
    expect(resumeFrames(stopped).filter((f) => f.type === "note")).toEqual([]);
  });

  it("places notes after the event of their after_seq, then by id, and unsent ones last in the order written", () => {
    const s = run(
      [
        frame(history("c1", [visitorMessage(1), visitorMessage(2)], { notes: [note(3, 2), note(2, 1), note(1, 1), note(4, 0)] })),
        { type: "message_queued", conversationId: "c1", clientId: "m-1", text: "msg", at: 10 },
        { type: "note_queued", conversationId: "c1", clientId: "n-9", text: "later note", at: 20 },
        { type: "message_queued", conversationId: "c1", clientId: "m-2", text: "msg 2", at: 30 },
      ],
      opened,
    );
    const shape = timeline(conv(s)).map((i) =>
      i.kind === "event" ? `e${i.event.seq}` : i.kind === "note" ? `n${i.note.id}` : i.kind === "pending" ? i.message.clientId : i.note.clientId,
    );
    expect(shape).toEqual(["n4", "e1", "n1", "n2", "e2", "n3", "m-1", "n-9", "m-2"]);
  });
});

describe("visitor context and earlier conversations", () => {
  const context = { url: "https://shop.example/orders/1042", title: "Order #1042", language: "de-CH" };

  it("takes them from history and follows visitor_context frames", () => {
    const earlier = [summary("c0", { visitor_online: false })];
    const s = run([frame(history("c1", [], { context, earlier }))], opened);
    expect(conv(s).context).toEqual(context);
    expect(conv(s).earlier).toEqual(earlier);
    const moved = run([frame({ type: "visitor_context", conversation_id: "c1", context: { ...context, url: "https://shop.example/returns" } })], s);
    expect(conv(moved).context?.url).toBe("https://shop.example/returns");
    // A resumed history without them keeps what is known.
    const resumed = run([frame(history("c1", []))], moved);
    expect(conv(resumed).context?.url).toBe("https://shop.example/returns");
    expect(conv(resumed).earlier).toEqual(earlier);
  });

  it("ignores context for conversations it never opened", () => {
    expect(run([frame({ type: "visitor_context", conversation_id: "c9", context })], connected)).toBe(connected);
  });
});

const recentFrame = (conversations: ConversationSummary[], over: { cursor?: string; next_cursor?: string } = {}): ClientAction =>
  frame({ type: "recent", conversations, ...over });

describe("recent conversations", () => {
  const older = summary("old", { last_activity_at: 1_000, visitor_online: false });
  const newer = summary("new", { last_activity_at: 3_000, visitor_online: false });
  const oldest = summary("oldest", { last_activity_at: 500, visitor_online: false });

  it("loads the first page newest first, then appends the page it asked for with Load more", () => {
    let s = run([{ type: "recent_requested" }], connected);
    expect(s.recent.status).toBe("loading");
    s = run([recentFrame([older, newer], { next_cursor: "1000:old" })], s);
    expect(s.recent).toMatchObject({ status: "loaded", nextCursor: "1000:old" });
    expect(s.recent.conversations.map((c) => c.id)).toEqual(["new", "old"]);

    s = run([{ type: "recent_requested", cursor: "1000:old" }], s);
    expect(s.recent.loadingMore).toBe("1000:old");
    s = run([recentFrame([older, oldest], { cursor: "1000:old" })], s);
    expect(s.recent.conversations.map((c) => c.id)).toEqual(["new", "old", "oldest"]);
    expect(s.recent).toMatchObject({ nextCursor: null, loadingMore: null });
  });

  it("ignores a page it did not ask for (an older listing's), and a fresh first page replaces the list", () => {
    let s = run([recentFrame([newer, older], { next_cursor: "1000:old" }), { type: "recent_requested", cursor: "1000:old" }], connected);
    const stale = run([recentFrame([oldest], { cursor: "9999:zzz" })], s);
    expect(stale).toBe(s);
    s = run([recentFrame([oldest])], s);
    expect(s.recent.conversations.map((c) => c.id)).toEqual(["oldest"]);
    expect(s.recent.loadingMore).toBeNull();
  });

  it("frees Load more when the socket drops with its answer", () => {
    const s = run([recentFrame([newer], { next_cursor: "c" }), { type: "recent_requested", cursor: "c" }], connected);
    expect(run([{ type: "socket_closed", code: 1001, reason: "", delayMs: 10 }], s).recent.loadingMore).toBeNull();
  });
});

describe("search", () => {
  const hit = summary("hit", { visitor_online: false });

  it("shows only the answer to the last query sent", () => {
    let s = run([{ type: "search_requested", query: "refu" }, { type: "search_requested", query: "refund" }], connected);
    expect(s.search).toEqual({ query: "refund", results: null, pending: true });
    const stale = run([frame({ type: "search_results", query: "refu", conversations: [summary("x")] })], s);
    expect(stale).toBe(s);
    s = run([frame({ type: "search_results", query: "refund", conversations: [hit] })], s);
    expect(s.search).toEqual({ query: "refund", results: [hit], pending: false });
    expect(run([{ type: "search_cleared" }], s).search).toEqual(initialState.search);
  });

  it("asks again after a reconnect while an answer is awaited", () => {
    const s = run([{ type: "search_requested", query: "parcel" }], connected);
    expect(resumeFrames(s)).toContainEqual({ type: "search", query: "parcel" });
    const answered = run([frame({ type: "search_results", query: "parcel", conversations: [] })], s);
    expect(resumeFrames(answered).filter((f) => f.type === "search")).toEqual([]);
  });
});

describe("conversations outside the Online list", () => {
  it("names a conversation from the Recent list, a search answer or an earlier list", () => {
    const s = run(
      [
        frame({ type: "recent", conversations: [summary("r1", { visitor_label: "Visitor R" })] }),
        { type: "search_requested", query: "q" },
        frame({ type: "search_results", query: "q", conversations: [summary("s1", { visitor_label: "Visitor S" })] }),
        frame(history("c1", [], { earlier: [summary("e1", { visitor_label: "Visitor E" })] })),
      ],
      opened,
    );
    expect(knownSummary(s, "r1")?.visitor_label).toBe("Visitor R");
    expect(knownSummary(s, "s1")?.visitor_label).toBe("Visitor S");
    expect(knownSummary(s, "e1")?.visitor_label).toBe("Visitor E");
    expect(knownSummary(s, "nope")).toBeUndefined();
  });

  it("is read-only once loaded, while its visitor is away and it is not in the Online list", () => {
    const away = run([frame(history("c1", [], { visitor_online: false }))], opened);
    expect(isReadOnly(conv(opened), undefined)).toBe(false); // not loaded yet: no verdict
    expect(isReadOnly(conv(away), undefined)).toBe(true);
    expect(isReadOnly(conv(away), summary("c1", { visitor_online: false }))).toBe(false);
    const back = run([frame(history("c1", [], { visitor_online: true }))], away);
    expect(isReadOnly(conv(back), undefined)).toBe(false);
  });
});
