// @vitest-environment node
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeHub } from "../test/fakeHub";
import {
  alice,
  auditEntry,
  followUp,
  followUpRow,
  history,
  member,
  onlineView,
  operatorMessage,
  ready,
  summary,
  visitorMessage,
} from "../test/fixtures";
import { HubClient, nextFrame, operatorSocketUrl, type TokenSource } from "./hubClient";

const ACK_TIMEOUT = 4_000;

/** A stand-in for `requestAnimationFrame`: callbacks run when the test says the browser paints. */
class FakeFrames {
  private pending: (() => void)[] = [];
  schedule = (apply: () => void) => {
    this.pending.push(apply);
    return () => {
      this.pending = this.pending.filter((f) => f !== apply);
    };
  };
  get waiting(): number {
    return this.pending.length;
  }
  paint(): void {
    const due = this.pending;
    this.pending = [];
    for (const f of due) f();
  }
}

const SUBSCRIBE_ALL = { type: "subscribe_online", filter: "all", order: "activity", offset: 0, limit: 50 };

function setup(getToken: TokenSource = async () => "jwt-1", random = () => 0.5, frames = new FakeFrames()) {
  const hub = new FakeHub();
  let ids = 0;
  const client = new HubClient({
    url: "ws://hub.test/ws/operator",
    getToken,
    connect: hub.connect,
    backoff: { baseMs: 1_000, maxMs: 8_000 },
    ackTimeoutMs: ACK_TIMEOUT,
    random,
    now: () => Date.now(),
    newClientId: () => `m${++ids}`,
    scheduleFrame: frames.schedule,
  });
  return { hub, client, frames };
}

/** Let the token promise settle and the socket open, then complete the handshake. */
async function handshake(hub: FakeHub, plan: Parameters<typeof ready>[0] = "pro") {
  await vi.advanceTimersByTimeAsync(0);
  hub.last.open();
  hub.last.receive(ready(plan));
  return hub.last;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("HubClient", () => {
  it("says hello with the token, then subscribes to the Online list once ready", async () => {
    const { hub, client } = setup();
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    const socket = hub.last;
    expect(socket.url).toBe("ws://hub.test/ws/operator");
    expect(client.getState().connection.status).toBe("connecting");
    socket.open();
    expect(socket.sent).toEqual([{ type: "hello", protocol: 1, token: "jwt-1" }]);
    socket.receive(ready());
    expect(client.getState().connection.status).toBe("connected");
    // The follow-up list too: the Follow-up tab's count is live from the start.
    expect(socket.sent.slice(1)).toEqual([SUBSCRIBE_ALL, { type: "follow_ups" }]);
  });

  it("resumes open conversations after a reconnect from the last seq it has", async () => {
    const { hub, client } = setup();
    client.start();
    const first = await handshake(hub);
    client.openConversation("c1");
    expect(first.sent.at(-1)).toEqual({ type: "open", conversation_id: "c1" });
    first.receive(history("c1", [visitorMessage(1), visitorMessage(2)]));
    first.serverClose(1001, "node shutting down");

    // random 0.5 with base 1000 → 500 ms for the first retry; nothing happens before that.
    expect(client.getState().connection).toMatchObject({ status: "reconnecting", delayMs: 500 });
    await vi.advanceTimersByTimeAsync(499);
    expect(hub.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(hub.sockets).toHaveLength(2);

    const second = await handshake(hub);
    expect(second.sent.slice(1)).toEqual([
      SUBSCRIBE_ALL,
      { type: "follow_ups" },
      { type: "open", conversation_id: "c1", after_seq: 2 },
    ]);
    second.receive(history("c1", [visitorMessage(3)]));
    second.receive({ type: "event", conversation_id: "c1", event: visitorMessage(3) });
    expect(client.getState().conversations.c1?.events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it("re-sends an unacknowledged message with the same client id until acked, then stops", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    client.openConversation("c1");
    socket.receive(history("c1", []));
    const clientId = client.sendMessage("c1", "Hello, I'm here to help");
    expect(socket.sentOfType("message")).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT + 1_000);
    const resent = socket.sentOfType("message");
    expect(resent.length).toBeGreaterThanOrEqual(2);
    expect(new Set(resent.map((m) => m.client_id))).toEqual(new Set([clientId]));

    // The hub stored it once; a duplicate ack for the re-send names the same seq.
    socket.receive({ type: "ack", conversation_id: "c1", client_id: clientId, seq: 1 });
    socket.receive({ type: "event", conversation_id: "c1", event: operatorMessage(1, alice, "Hello, I'm here to help", clientId) });
    socket.receive({ type: "ack", conversation_id: "c1", client_id: clientId, seq: 1 });
    const count = socket.sentOfType("message").length;
    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT * 3);
    expect(socket.sentOfType("message")).toHaveLength(count);
    const c = client.getState().conversations.c1;
    expect(c?.events).toHaveLength(1);
    expect(c?.outbox[0]).toMatchObject({ status: "sent", seq: 1 });
  });

  it("holds messages written while disconnected and sends them after the reconnect", async () => {
    const { hub, client } = setup(async () => "jwt-1", () => 0);
    client.start();
    const first = await handshake(hub);
    client.openConversation("c1");
    first.receive(history("c1", []));
    first.serverClose(1006);
    const clientId = client.sendMessage("c1", "still there?");
    expect(first.sentOfType("message")).toHaveLength(0);
    expect(client.getState().conversations.c1?.outbox[0]?.status).toBe("sending");

    await vi.advanceTimersByTimeAsync(0);
    const second = await handshake(hub);
    expect(second.sentOfType("message")).toEqual([
      { type: "message", conversation_id: "c1", client_id: clientId, text: "still there?" },
    ]);
  });

  it("retries a failed message under its original client id", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    client.openConversation("c1");
    const clientId = client.sendMessage("c1", "hi");
    socket.receive({ type: "error", code: "internal", message: "", retryable: true, conversation_id: "c1", client_id: clientId, retry_after_ms: 100 });
    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT / 4);
    expect(socket.sentOfType("message")).toHaveLength(2);

    socket.receive({ type: "error", code: "not_holder", message: "", retryable: false, conversation_id: "c1", client_id: clientId });
    expect(client.getState().conversations.c1?.outbox[0]?.status).toBe("failed");
    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT * 2);
    expect(socket.sentOfType("message")).toHaveLength(2); // failed messages wait for the operator

    client.retryMessage("c1", clientId);
    expect(socket.sentOfType("message").at(-1)).toMatchObject({ client_id: clientId });
    expect(client.getState().conversations.c1?.outbox[0]?.status).toBe("sending");
  });

  it("does not reconnect after a terminal close code", async () => {
    const { hub, client } = setup();
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    hub.last.open();
    hub.last.receive({ type: "error", code: "unauthorized", message: "bad", retryable: false });
    hub.last.serverClose(4001);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(hub.sockets).toHaveLength(1);
    expect(client.getState().connection).toMatchObject({ status: "stopped", notice: { code: "unauthorized" } });
  });

  it("backs off exponentially with jitter between failed attempts", async () => {
    const { hub, client } = setup(async () => "jwt-1", () => 0.999);
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      hub.last.serverClose(1006);
      const c = client.getState().connection;
      if (c.status !== "reconnecting") throw new Error("expected reconnecting");
      delays.push(c.delayMs);
      await vi.advanceTimersByTimeAsync(c.delayMs);
    }
    expect(delays).toEqual([999, 1998, 3996, 7992, 7992]);
    expect(hub.sockets).toHaveLength(6);
  });

  it("asks for a fresh token after token_expired and gives up when none comes", async () => {
    const reasons: string[] = [];
    const tokens = ["old", "new", "new"];
    const { hub, client } = setup(async (reason) => {
      reasons.push(reason);
      return tokens.shift() ?? "new";
    }, () => 0);
    client.start();
    await handshake(hub);
    hub.last.serverClose(4002);
    await vi.advanceTimersByTimeAsync(0);
    hub.last.open();
    expect(hub.last.sent[0]).toEqual({ type: "hello", protocol: 1, token: "new" });
    hub.last.serverClose(4002);
    await vi.advanceTimersByTimeAsync(0);
    expect(reasons).toEqual(["initial", "expired", "expired"]);
    expect(hub.sockets).toHaveLength(2);
    expect(client.getState().connection).toMatchObject({ status: "stopped", close: { code: 4002 } });
  });

  it("re-opens from the gap when a live event skips ahead", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    client.openConversation("c1");
    socket.receive(history("c1", [visitorMessage(1)]));
    socket.receive({ type: "event", conversation_id: "c1", event: visitorMessage(3) });
    expect(socket.sent.at(-1)).toEqual({ type: "open", conversation_id: "c1", after_seq: 1 });
  });

  it("asks again for a conversation whose open was refused as unavailable, until its history comes", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    client.openConversation("c1");
    const opens = () => socket.sent.filter((f) => f.type === "open" && f.conversation_id === "c1").length;
    expect(opens()).toBe(1);
    const refused = {
      type: "error",
      code: "unavailable",
      message: "store unavailable",
      retryable: true,
      conversation_id: "c1",
    } as const;
    socket.receive(refused);
    await vi.advanceTimersByTimeAsync(999);
    expect(opens()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(opens()).toBe(2);
    socket.receive(history("c1", [visitorMessage(1)]));
    // Loaded: a late refusal (of an earlier frame) asks for nothing more.
    socket.receive(refused);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(opens()).toBe(2);
    // A refusal that is not retryable is shown, never retried.
    client.openConversation("c2");
    socket.receive({ type: "error", code: "conversation_not_found", message: "no", retryable: false, conversation_id: "c2" });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(socket.sent.filter((f) => f.type === "open" && f.conversation_id === "c2").length).toBe(1);
  });

  it("sends a takeover again after the hint when a busy node refused it, never another refusal", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    const takeovers = (id: string) => socket.sent.filter((f) => f.type === "takeover" && f.conversation_id === id).length;
    client.takeover("c1");
    const busy = {
      type: "error",
      code: "unavailable",
      message: "this node is busy with other takeovers; retry shortly",
      retryable: true,
      retry_after_ms: 250,
      conversation_id: "c1",
    } as const;
    socket.receive(busy);
    await vi.advanceTimersByTimeAsync(249);
    expect(takeovers("c1")).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(takeovers("c1")).toBe(2);
    socket.receive({ type: "control", conversation_id: "c1", control: { holder: { kind: "ai" }, epoch: 1 } });
    // Answered: a late refusal asks for nothing more.
    socket.receive(busy);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(takeovers("c1")).toBe(2);
    // Somebody else holds it: shown, never retried.
    client.takeover("c2");
    socket.receive({ type: "error", code: "already_controlled", message: "held", retryable: false, conversation_id: "c2" });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(takeovers("c2")).toBe(1);
  });

  it("ignores a replaced socket's late callbacks and closes with 1000 on stop", async () => {
    const { hub, client } = setup(async () => "jwt-1", () => 0);
    client.start();
    const first = await handshake(hub);
    first.serverClose(1006);
    await vi.advanceTimersByTimeAsync(0);
    await handshake(hub);
    first.receive(onlineView([]));
    first.serverClose(1011);
    expect(client.getState().connection.status).toBe("connected");
    expect(client.getState().online.view).toBeNull();

    client.stop();
    expect(hub.last.closedWith).toBe(1000);
    expect(client.getState().connection.status).toBe("stopped");
  });

  it("skips frames it cannot parse", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    const before = client.getState();
    socket.receiveRaw("not json");
    socket.receiveRaw(JSON.stringify({ type: "from_the_future" }));
    expect(client.getState()).toBe(before);
  });
});

describe("operatorSocketUrl", () => {
  it("uses wss on https pages and the page's host", () => {
    expect(operatorSocketUrl({ protocol: "https:", host: "app.example:8443" })).toBe("wss://app.example:8443/ws/operator");
    expect(operatorSocketUrl({ protocol: "http:", host: "127.0.0.1:3000" })).toBe("ws://127.0.0.1:3000/ws/operator");
  });

  it("subscribes owners and editors to the team on every connection and takes its frames", async () => {
    for (const role of ["owner", "editor", "operator"] as const) {
      const { hub, client } = setup();
      client.start();
      await vi.advanceTimersByTimeAsync(0);
      hub.last.open();
      hub.last.receive(ready("pro", role));
      hub.last.serverClose(1001, "node shutting down");
      await vi.advanceTimersByTimeAsync(500);
      await vi.advanceTimersByTimeAsync(0);
      const second = hub.last;
      expect(hub.sockets).toHaveLength(2);
      second.open();
      second.receive(ready("pro", role));
      const subscribed = role === "operator" ? [] : [{ type: "subscribe_team" }];
      expect(hub.sockets[0]?.sentOfType("subscribe_team")).toEqual(subscribed);
      expect(second.sentOfType("subscribe_team")).toEqual(subscribed);
      client.stop();
    }
  });

  it("decodes team and audit frames into the state", async () => {
    const { hub, client } = setup();
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    hub.last.open();
    hub.last.receive(ready("pro", "owner"));
    hub.last.receive({ type: "team_snapshot", members: [member("op-martin", "Martin Keller")] });
    hub.last.receive({ type: "audit_snapshot", entries: [auditEntry(1)] });
    hub.last.receive({ type: "audit_entry", entry: auditEntry(2) });
    expect(client.getState().team?.members).toHaveLength(1);
    expect(client.getState().audit.map((e) => e.at)).toEqual([1, 2]);
  });

  it("force-releases a conversation that is not open and hands out its token for the API", async () => {
    const getToken = vi.fn(async (reason: string) => (reason === "expired" ? "jwt-2" : "jwt-1"));
    const { hub, client } = setup(getToken);
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    hub.last.open();
    hub.last.receive(ready("pro", "owner"));
    client.forceRelease("c7");
    expect(hub.last.sent.at(-1)).toEqual({ type: "release", conversation_id: "c7", force: true });
    expect(client.getState().forceReleasing).toEqual(["c7"]);
    // Not opened by the force release.
    expect(client.getState().conversations.c7).toBeUndefined();
    await expect(client.apiToken()).resolves.toBe("jwt-1");
    await expect(client.apiToken(true)).resolves.toBe("jwt-2");
  });
});

describe("HubClient: notes, Recent and search", () => {
  const stored = (clientId: string, id = 1) => ({
    type: "note" as const,
    conversation_id: "c1",
    note: { id, after_seq: 0, at: 1, author: { id: alice.id, name: alice.name }, text: "VIP", client_id: clientId },
  });

  it("sends a note, re-sends it under the same client id until its note frame comes back, then stops", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    client.openConversation("c1");
    socket.receive(history("c1", []));
    const clientId = client.sendNote("c1", "VIP");
    expect(socket.sentOfType("note")).toEqual([{ type: "note", conversation_id: "c1", client_id: clientId, text: "VIP" }]);

    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT + 1_000);
    const resent = socket.sentOfType("note");
    expect(resent.length).toBeGreaterThanOrEqual(2);
    expect(new Set(resent.map((n) => n.client_id))).toEqual(new Set([clientId]));

    socket.receive(stored(clientId));
    const count = socket.sentOfType("note").length;
    await vi.advanceTimersByTimeAsync(ACK_TIMEOUT * 3);
    expect(socket.sentOfType("note")).toHaveLength(count);
    expect(client.getState().conversations.c1?.notes.map((n) => n.text)).toEqual(["VIP"]);
    expect(client.getState().conversations.c1?.noteOutbox).toEqual([]);
  });

  it("holds a note written while disconnected and sends it after the reconnect's open", async () => {
    const { hub, client } = setup(async () => "jwt-1", () => 0);
    client.start();
    const first = await handshake(hub);
    client.openConversation("c1");
    first.receive(history("c1", [visitorMessage(1)]));
    first.serverClose(1006);
    const clientId = client.sendNote("c1", "Written offline");
    await vi.advanceTimersByTimeAsync(0);
    const second = await handshake(hub);
    expect(second.sent.slice(1)).toEqual([
      SUBSCRIBE_ALL,
      { type: "follow_ups" },
      { type: "open", conversation_id: "c1", after_seq: 1 },
      { type: "note", conversation_id: "c1", client_id: clientId, text: "Written offline" },
    ]);
  });

  it("asks for Recent pages and searches; a search typed while disconnected goes after ready", async () => {
    const { hub, client } = setup(async () => "jwt-1", () => 0);
    client.start();
    const first = await handshake(hub);
    client.loadRecent();
    client.loadRecent("1000:c9");
    expect(first.sent.slice(-2)).toEqual([{ type: "recent" }, { type: "recent", cursor: "1000:c9" }]);
    first.serverClose(1006);
    client.search("refund parcel");
    await vi.advanceTimersByTimeAsync(0);
    const second = await handshake(hub);
    expect(second.sentOfType("search")).toEqual([{ type: "search", query: "refund parcel" }]);
    second.receive({ type: "search_results", query: "refund parcel", conversations: [] });
    expect(client.getState().search).toMatchObject({ pending: false, results: [] });
  });

  it("applies Online list frames once per animation frame, folded, while a history goes through at once", async () => {
    const { hub, client, frames } = setup();
    client.start();
    const socket = await handshake(hub);
    let renders = 0;
    client.subscribe(() => renders++);
    const a1 = summary("a", { last_seq: 1, last_activity_at: 2 });
    const b1 = summary("b", { last_seq: 1, last_activity_at: 1 });
    const a2 = { ...a1, last_seq: 2 };
    const a3 = { ...a1, last_seq: 3 };
    socket.receive(onlineView([a1, b1]));
    socket.receive(onlineView([a2, b1], { rows: [a2] }));
    client.openConversation("c1");
    socket.receive(history("c1", [visitorMessage(1)]));
    socket.receive(onlineView([a3, b1], { rows: [a3] }));
    // The history is there; the list is not yet, and one paint is booked for it.
    expect(client.getState().conversations.c1?.loaded).toBe(true);
    expect(client.getState().online.view).toBeNull();
    expect(frames.waiting).toBe(1);
    renders = 0;
    frames.paint();
    expect(renders).toBe(1);
    expect(client.getState().online.view?.ids).toEqual(["a", "b"]);
    expect(client.getState().online.rows).toEqual({ a: a3, b: b1 });
    // Nothing queued, nothing booked.
    expect(frames.waiting).toBe(0);
  });

  it("asks for another window only when it changed, again after a reconnect, and drops a dead socket's queued frames", async () => {
    const { hub, client, frames } = setup(async () => "jwt-1", () => 0);
    client.start();
    const first = await handshake(hub);
    client.viewOnline({ filter: "needs_human" });
    client.viewOnline({ filter: "needs_human" });
    client.viewOnline({ offset: 120, limit: 90 });
    expect(first.sentOfType("subscribe_online")).toEqual([
      SUBSCRIBE_ALL,
      { type: "subscribe_online", filter: "needs_human", order: "activity", offset: 0, limit: 50 },
      { type: "subscribe_online", filter: "needs_human", order: "activity", offset: 120, limit: 90 },
    ]);
    first.receive(onlineView([summary("a", { needs_human: true })], { filter: "needs_human", offset: 120, total: 121 }));
    first.serverClose(1006);
    frames.paint();
    expect(client.getState().online.view).toBeNull();
    client.viewOnline({ query: "anna" });
    await vi.advanceTimersByTimeAsync(0);
    const second = await handshake(hub);
    expect(second.sentOfType("subscribe_online")).toEqual([
      { type: "subscribe_online", filter: "needs_human", order: "activity", offset: 0, limit: 90, query: "anna" },
    ]);
  });
});

describe("nextFrame", () => {
  it("falls back to a timer where there are no animation frames (a hidden tab), and can be cancelled", async () => {
    const applied = vi.fn();
    nextFrame(applied);
    await vi.advanceTimersByTimeAsync(499);
    expect(applied).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(applied).toHaveBeenCalledTimes(1);
    const cancelled = vi.fn();
    nextFrame(cancelled)();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(cancelled).not.toHaveBeenCalled();
  });
});

describe("HubClient: transfer", () => {
  it("asks who is online, transfers under the epoch given with the note, and never while disconnected", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    client.openConversation("c1");
    socket.receive(history("c1", [], { control: { holder: { kind: "operator", ...alice }, epoch: 3 } }));

    client.loadColleagues();
    expect(socket.sent.at(-1)).toEqual({ type: "colleagues" });
    client.transfer("c1", "nora", 3, "Refund approved.");
    expect(socket.sent.at(-1)).toEqual({ type: "transfer", conversation_id: "c1", to: "nora", epoch: 3, note: "Refund approved." });
    expect(client.getState().conversations["c1"]?.pending).toBe("transfer");
    socket.receive({ type: "control", conversation_id: "c1", control: { holder: { kind: "operator", id: "nora", name: "Nora Novak" }, epoch: 4 } });
    expect(client.getState().conversations["c1"]?.transfer).toBeNull();

    client.transfer("c1", "eddie", 4);
    expect(socket.sent.at(-1)).toEqual({ type: "transfer", conversation_id: "c1", to: "eddie", epoch: 4 });

    socket.serverClose(1006);
    const before = socket.sent.length;
    client.transfer("c1", "nora", 4);
    expect(socket.sent.length).toBe(before);
  });

  it("refreshes the list of who is online when the recipient turned out to be offline", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    client.openConversation("c1");
    socket.receive(history("c1", [], { control: { holder: { kind: "operator", ...alice }, epoch: 3 } }));
    client.loadColleagues();
    socket.receive({ type: "colleagues", operators: [{ id: "nora", name: "Nora Novak", role: "operator" }] });
    client.transfer("c1", "nora", 3);
    socket.receive({ type: "error", code: "operator_offline", message: "", retryable: false, conversation_id: "c1" });
    expect(socket.sentOfType("colleagues")).toHaveLength(2);
    expect(client.getState().colleagues).toEqual({ operators: null, pending: true });
    expect(client.getState().conversations["c1"]?.transfer?.status).toBe("refused");
  });
});

describe("HubClient: the brief, suggestions and the interrupted reply", () => {
  it("decodes the three frames into the state, and keeps the composer's text per conversation", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    client.openConversation("c1");
    socket.receive(history("c1", [visitorMessage(1, "My boots leak.")], { brief: { state: "pending", since: 5 } }));
    client.takeover("c1");
    socket.receive({ type: "interrupted_reply", conversation_id: "c1", draft_id: "d1", text: "You can return any item" });
    socket.receive({ type: "control", conversation_id: "c1", control: { holder: { kind: "operator", ...alice }, epoch: 1 } });
    socket.receive({
      type: "brief",
      conversation_id: "c1",
      brief: { state: "ready", at: 9, brief: { wants: "A refund.", answered: "The return policy.", made_by: "knowledge" } },
    });
    const c = client.getState().conversations["c1"]!;
    expect(c.composer).toBe("You can return any item");
    expect(c.brief?.state).toBe("ready");

    client.setComposer("c1", "Hi, Martin here.");
    client.openConversation("c2");
    expect(client.getState().conversations["c1"]?.composer).toBe("Hi, Martin here.");
    expect(client.getState().conversations["c2"]?.composer).toBe("");
  });

  it("asks for a suggestion once at a time, shows its answer, and never while disconnected", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    client.openConversation("c1");
    socket.receive(history("c1", [visitorMessage(1, "How do I return an item?")], { control: { holder: { kind: "operator", ...alice }, epoch: 1 } }));

    client.suggest("c1");
    client.suggest("c1");
    expect(socket.sentOfType("suggest")).toEqual([{ type: "suggest", conversation_id: "c1" }]);
    socket.receive({ type: "suggestion", conversation_id: "c1", text: "You can return any item within 30 days." });
    expect(client.getState().conversations["c1"]?.suggestion).toEqual({ status: "ready", text: "You can return any item within 30 days." });
    client.insertSuggestion("c1");
    expect(client.getState().conversations["c1"]?.composer).toBe("You can return any item within 30 days.");

    // A refusal that is retryable (`unavailable`) is not retried by itself: the operator asks again.
    client.suggest("c1");
    socket.receive({ type: "error", code: "unavailable", message: "", retryable: true, conversation_id: "c1", retry_after_ms: 500 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(socket.sentOfType("suggest")).toHaveLength(2);
    expect(client.getState().conversations["c1"]?.suggestion?.status).toBe("refused");

    socket.serverClose(1006);
    client.suggest("c1");
    expect(socket.sentOfType("suggest")).toHaveLength(2);
  });
});

describe("HubClient: the follow-up list", () => {
  it("asks once per answer: the view opening while the connection's own request is awaited sends nothing more", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    expect(socket.sentOfType("follow_ups")).toHaveLength(1);
    client.loadFollowUps();
    expect(socket.sentOfType("follow_ups")).toHaveLength(1);
    socket.receive({ type: "follow_ups", conversations: [followUpRow("c1", 100)] });
    client.loadFollowUps();
    expect(socket.sentOfType("follow_ups")).toHaveLength(2);
  });

  it("asks again for the row of a conversation that starts waiting, once the answer in flight is in", async () => {
    const { hub, client } = setup();
    client.start();
    const socket = await handshake(hub);
    // Heard before the answer to the connection's request: that answer may or may not have it.
    socket.receive({ type: "follow_up", conversation_id: "c9", follow_up: followUp(900) });
    expect(socket.sentOfType("follow_ups")).toHaveLength(1);
    socket.receive({ type: "follow_ups", conversations: [followUpRow("c1", 100)] });
    expect(socket.sentOfType("follow_ups")).toHaveLength(2);
    socket.receive({ type: "follow_ups", conversations: [followUpRow("c1", 100), followUpRow("c9", 900)] });
    expect(client.getState().followUps.rows.map((r) => r.conversation.id)).toEqual(["c1", "c9"]);
    // A change to a row it has, or one leaving the list, needs no new list.
    socket.receive({ type: "follow_up", conversation_id: "c1", follow_up: followUp(100, { waiting: false }) });
    socket.receive({ type: "follow_up", conversation_id: "c9", follow_up: followUp(900, { email: "ana@example.com" }) });
    expect(socket.sentOfType("follow_ups")).toHaveLength(2);
    expect(client.getState().followUps.rows.map((r) => r.conversation.id)).toEqual(["c9"]);
  });

  it("sends nothing while disconnected: the next ready asks for the list", async () => {
    const { hub, client } = setup();
    client.start();
    const first = await handshake(hub);
    first.receive({ type: "follow_ups", conversations: [] });
    first.serverClose(1006);
    client.loadFollowUps();
    expect(first.sentOfType("follow_ups")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    const second = await handshake(hub);
    expect(second.sentOfType("follow_ups")).toHaveLength(1);
  });
});
