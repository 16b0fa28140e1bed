import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HubClient } from "../client/hubClient";
import { FakeHub } from "../test/fakeHub";
import {
  alice,
  auditEntry,
  held,
  history,
  member,
  noProfile,
  operatorControl,
  onlineView,
  operatorMessage,
  summary,
  visitorMessage,
} from "../test/fixtures";
import { Dashboard } from "./Dashboard";
import { mountDashboard } from "../test/liveDashboard";

/** Records desktop notifications instead of showing them. */
class FakeNotification {
  static permission: NotificationPermission = "granted";
  static shown: { title: string; body: string | undefined }[] = [];
  static requestPermission = async () => FakeNotification.permission;
  onclick: (() => void) | null = null;
  constructor(title: string, options?: NotificationOptions) {
    FakeNotification.shown.push({ title, body: options?.body });
  }
  close() {}
}

beforeEach(() => {
  FakeNotification.shown = [];
  vi.stubGlobal("Notification", FakeNotification);
});
afterEach(() => {
  vi.unstubAllGlobals();
});

const mount = mountDashboard;

describe("Dashboard", () => {
  it("runs the Take Control flow: list, open, take over, reply, end", async () => {
    const { socket, push } = await mount();
    push(onlineView([]));
    expect(screen.getByText(/No active conversations/)).toBeInTheDocument();

    // A visitor arrives and asks for a human: the list updates live and the operator is alerted.
    push(onlineView([summary("c1", { visitor_label: "Visitor 1", needs_human: true, last_activity_at: Date.now() })]));
    const row = screen.getByRole("option", { name: /Visitor 1, needs a human/ });
    expect(document.title).toBe("(1) Take Control");
    expect(FakeNotification.shown).toEqual([{ title: "A visitor needs a human", body: "Visitor 1 is waiting for a human." }]);

    await userEvent.click(row);
    expect(socket.sent.at(-1)).toEqual({ type: "open", conversation_id: "c1" });
    push(history("c1", [visitorMessage(1, "I need help with my order")], { needs_human: true }));
    expect(screen.getByRole("log")).toHaveTextContent("I need help with my order");

    await userEvent.click(screen.getByRole("button", { name: "Take Control" }));
    expect(socket.sent.at(-1)).toEqual({ type: "takeover", conversation_id: "c1" });
    expect(screen.getByRole("button", { name: "Take Control" })).toBeDisabled();
    push({ type: "control", conversation_id: "c1", control: operatorControl(alice, 1) });
    push({ type: "event", conversation_id: "c1", event: { seq: 2, at: 2, type: "operator_joined", operator: alice, epoch: 1 } });
    expect(screen.getByRole("log")).toHaveTextContent("Alice Admin (you) joined the chat");

    const box = screen.getByRole("textbox", { name: "Message to the visitor" });
    await userEvent.type(box, "Hi, I'm on it{Enter}");
    expect(socket.sentOfType("message")).toEqual([
      { type: "message", conversation_id: "c1", client_id: "cid-1", text: "Hi, I'm on it" },
    ]);
    expect(within(screen.getByRole("log")).getByText("Sending…")).toBeInTheDocument();
    push({ type: "ack", conversation_id: "c1", client_id: "cid-1", seq: 3 });
    push({ type: "event", conversation_id: "c1", event: operatorMessage(3, alice, "Hi, I'm on it", "cid-1") });
    expect(within(screen.getByRole("log")).getByText("Sent")).toBeInTheDocument();
    expect(within(screen.getByRole("log")).getAllByText("Hi, I'm on it")).toHaveLength(1);

    await userEvent.click(screen.getByRole("button", { name: "End" }));
    expect(socket.sent.at(-1)).toEqual({ type: "release", conversation_id: "c1", force: false });
    push({ type: "control", conversation_id: "c1", control: { holder: { kind: "ai" }, epoch: 2 } });
    expect(screen.getByRole("button", { name: "Take Control" })).toBeEnabled();
  });

  it("shows a banner while the socket is down and says why it stopped", async () => {
    const { socket } = await mount();
    expect(screen.getByRole("status", { name: "Connection: Live" })).toBeInTheDocument();
    act(() => socket.serverClose(1001));
    expect(screen.getByText(/The hub node is shutting down; reconnect and resume\./)).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Reconnect now" })).toBeInTheDocument();
  });

  it("reports a refused sign-in without reconnecting", async () => {
    const hub = new FakeHub();
    const client = new HubClient({ url: "ws://x/ws/operator", getToken: async () => "bad", connect: hub.connect });
    const onSignOut = vi.fn();
    render(<Dashboard client={client} onSignOut={onSignOut} />);
    await waitFor(() => expect(hub.sockets).toHaveLength(1));
    act(() => {
      hub.last.open();
      hub.last.receive({ type: "error", code: "unauthorized", message: "", retryable: false });
      hub.last.serverClose(4001);
    });
    expect(screen.getByRole("alert")).toHaveTextContent(
      "Disconnected. The token is missing, invalid, or not meant for this endpoint. Sign in again.",
    );
    await userEvent.click(screen.getByRole("button", { name: "Sign in again" }));
    expect(onSignOut).toHaveBeenCalled();
  });

  it("counts the waiting in the title from the whole list, and an open live conversation stays writable outside the window", async () => {
    const { push, socket } = await mount();
    push(onlineView([summary("c1", { visitor_label: "Visitor 1" })]));
    await userEvent.click(screen.getByRole("option", { name: /Visitor 1,/ }));
    push(history("c1", [visitorMessage(1, "Hello")], { visitor_online: false }));
    // Operator switches to "Needs a human": c1 is no longer in the window; 4 wait somewhere.
    await userEvent.click(screen.getByRole("button", { name: /^Needs a human/ }));
    expect(socket.sent.at(-1)).toEqual({ type: "subscribe_online", filter: "needs_human", order: "activity", offset: 0, limit: 50 });
    const waiting = [summary("w1", { needs_human: true, last_activity_at: 9 })];
    push(onlineView(waiting, { filter: "needs_human", total: 4, counts: { all: 5, needs_human: 4, mine: 0, ai: 5 } }));
    expect(document.title).toBe("(4) Take Control");
    expect(screen.getByRole("button", { name: "Needs a human (4)" })).toHaveAttribute("aria-pressed", "true");
    const view = screen.getByRole("region", { name: "Conversation with Visitor 1" });
    expect(within(view).queryByText("Read-only")).toBeNull();
    expect(within(view).getByRole("button", { name: "Take Control" })).toBeEnabled();
  });

  it("shows someone else's conversation read-only", async () => {
    const { push } = await mount();
    push(onlineView([summary("c9", { control: operatorControl({ id: "op-bob", name: "Bob" }, 4) })]));
    await userEvent.click(screen.getByRole("option"));
    push(history("c9", [], { control: operatorControl({ id: "op-bob", name: "Bob" }, 4) }));
    expect(screen.getByText(/Controlled by/)).toHaveTextContent("Controlled by Bob");
    expect(screen.queryByRole("textbox", { name: "Message to the visitor" })).toBeNull();
    expect(screen.getByRole("button", { name: "Reply" })).toBeDisabled();
  });

  it("shows only the Online, Follow-up and Recent tabs to a plain operator, and never subscribes to the team", async () => {
    const { socket } = await mount("pro", "operator");
    const tabs = within(screen.getByRole("tablist", { name: "Conversation views" })).getAllByRole("tab");
    expect(tabs.map((t) => t.textContent)).toEqual(["Online", "Follow-up", "Recent"]);
    expect(screen.queryByRole("tab", { name: "Team" })).toBeNull();
    expect(screen.queryByRole("tab", { name: "Audit" })).toBeNull();
    expect(socket.sentOfType("subscribe_team")).toEqual([]);
  });

  it("gives owners Team and Audit tabs: presence, force release after confirmation, open, audit", async () => {
    const { socket, push } = await mount("pro", "owner");
    expect(socket.sentOfType("subscribe_team")).toEqual([{ type: "subscribe_team" }]);
    push({
      type: "team_snapshot",
      members: [
        member("op-nora", "Nora Novak", { online: false }),
        member("op-martin", "Martin Keller", { holding: [held("c7", "Visitor 7F3A", Date.now() - 12 * 60_000)] }),
      ],
    });
    push({ type: "audit_snapshot", entries: [auditEntry(Date.now() - 12 * 60_000, { conversation_id: "c7" })] });

    const online = screen.getByRole("tab", { name: "Online" });
    expect(online).toHaveAttribute("aria-selected", "true");
    expect(screen.getByRole("tabpanel")).toHaveAttribute("aria-labelledby", "tab-online");

    // Arrow keys move between tabs (and select them).
    online.focus();
    await userEvent.keyboard("{ArrowRight}{ArrowRight}{ArrowRight}");
    const team = screen.getByRole("tab", { name: "Team" });
    expect(team).toHaveFocus();
    expect(team).toHaveAttribute("aria-selected", "true");
    const panel = screen.getByRole("tabpanel", { name: "Team" });
    expect(within(panel).getAllByText(/Martin Keller|Nora Novak/).map((n) => n.textContent)).toEqual([
      "Martin Keller",
      "Nora Novak",
    ]);
    expect(within(panel).getByText("for 12 min")).toBeInTheDocument();

    await userEvent.click(within(panel).getByRole("button", { name: "Force release Visitor 7F3A" }));
    expect(socket.sentOfType("release")).toEqual([]);
    await userEvent.click(within(panel).getByRole("button", { name: "Yes" }));
    expect(socket.sent.at(-1)).toEqual({ type: "release", conversation_id: "c7", force: true });
    expect(within(panel).getByRole("button", { name: "Force release Visitor 7F3A" })).toHaveTextContent("Releasing…");
    push({ type: "control", conversation_id: "c7", control: { holder: { kind: "ai" }, epoch: 2 } });
    push({ type: "team_snapshot", members: [member("op-nora", "Nora Novak", { online: false }), member("op-martin", "Martin Keller")] });
    expect(within(panel).queryByRole("button", { name: /Force release/ })).toBeNull();

    // A held conversation opens on click.
    push({
      type: "team_snapshot",
      members: [member("op-martin", "Martin Keller", { holding: [held("c8", "Visitor 11AA", Date.now())] })],
    });
    await userEvent.click(within(panel).getByRole("button", { name: /^Open Visitor 11AA/ }));
    expect(socket.sent.at(-1)).toEqual({ type: "open", conversation_id: "c8" });

    push({
      type: "audit_entry",
      entry: {
        at: Date.now(),
        actor: { id: alice.id, name: alice.name, role: "owner" },
        action: "release",
        reason: "force_released",
        holder_id: "op-martin",
        conversation_id: "c7",
      },
    });
    await userEvent.click(screen.getByRole("tab", { name: "Audit" }));
    const audit = screen.getByRole("tabpanel", { name: "Audit" });
    const rows = within(audit).getAllByRole("listitem");
    expect(rows[0]).toHaveTextContent("Alice Admin force-released Martin's conversation");
    expect(rows[1]).toHaveTextContent("Martin Keller took over Visitor 7F3A");
  });

  it("downloads the audit export with the operator's token", async () => {
    const fetchFn = vi.fn(async (_url: string, _init?: RequestInit) => new Response("{}\n", { status: 200 }));
    vi.stubGlobal("fetch", fetchFn);
    const createObjectURL = vi.fn(() => "blob:audit");
    // jsdom has no object URLs; these stay for the rest of this file (each file gets its own jsdom).
    Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() });
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    const { push } = await mount("pro", "editor");
    push({ type: "team_snapshot", members: [] });
    await userEvent.click(screen.getByRole("tab", { name: "Audit" }));
    await userEvent.click(screen.getByRole("button", { name: "Download JSON lines" }));
    await waitFor(() => expect(click).toHaveBeenCalled());
    expect(fetchFn).toHaveBeenCalledWith("/api/audit", {
      headers: { authorization: "Bearer jwt", accept: "application/x-ndjson" },
    });
    expect(createObjectURL).toHaveBeenCalled();
  });

  it("opens Assistant → Settings → Live chat operator and keeps the conversation behind it", async () => {
    const profile = noProfile;
    const fetchFn = vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify(profile), { status: 200 }));
    vi.stubGlobal("fetch", fetchFn);
    const { push } = await mount();
    push(onlineView([summary("c1")]));
    await userEvent.click(screen.getByRole("option", { name: /Visitor c1/ }));
    push(history("c1", [visitorMessage(1, "Where is my parcel?")]));
    expect(screen.getByRole("button", { name: "Conversation" })).toHaveAttribute("aria-current", "page");

    await userEvent.click(screen.getByRole("button", { name: "Assistant" }));
    expect(screen.getByRole("tab", { name: "Settings" })).toHaveAttribute("aria-selected", "true");
    expect(screen.getByText("Where is my parcel?")).not.toBeVisible(); // still mounted: a draft reply survives
    await userEvent.click(screen.getByRole("button", { name: /Live chat operator/ }));
    expect(await screen.findByRole("textbox", { name: "Display name" })).toHaveAttribute("placeholder", "Martin Keller");
    expect(fetchFn).toHaveBeenCalledWith("/api/profile", expect.objectContaining({ method: "GET", headers: expect.objectContaining({ authorization: "Bearer jwt" }) }));

    await userEvent.click(screen.getByRole("button", { name: "Conversation" }));
    expect(screen.getByText("Where is my parcel?")).toBeVisible();
  });
});
