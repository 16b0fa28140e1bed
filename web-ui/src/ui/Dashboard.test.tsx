import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HubClient } from "../client/hubClient";
import type { ServerFrame } from "../protocol/frames";
import { FakeHub } from "../test/fakeHub";
import { alice, history, operatorControl, operatorMessage, ready, summary, visitorMessage } from "../test/fixtures";
import { Dashboard } from "./Dashboard";

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

async function mount(plan: Parameters<typeof ready>[0] = "pro") {
  const hub = new FakeHub();
  let n = 0;
  const client = new HubClient({
    url: "ws://hub.test/ws/operator",
    getToken: async () => "jwt",
    connect: hub.connect,
    newClientId: () => `cid-${++n}`,
  });
  render(<Dashboard client={client} />);
  await waitFor(() => expect(hub.sockets).toHaveLength(1));
  const socket = hub.last;
  const push = (f: ServerFrame) => act(() => socket.receive(f));
  act(() => socket.open());
  push(ready(plan));
  return { hub, socket, push, client };
}

describe("Dashboard", () => {
  it("runs the Take Control flow: list, open, take over, reply, end", async () => {
    const { socket, push } = await mount();
    push({ type: "online_snapshot", conversations: [] });
    expect(screen.getByText(/No active conversations/)).toBeInTheDocument();

    // A visitor arrives and asks for a human: the list updates live and the operator is alerted.
    push({
      type: "online_update",
      conversation: summary("c1", { visitor_label: "Visitor 1", needs_human: true, last_activity_at: Date.now() }),
    });
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

  it("shows someone else's conversation read-only", async () => {
    const { push } = await mount();
    push({ type: "online_snapshot", conversations: [summary("c9", { control: operatorControl({ id: "op-bob", name: "Bob" }, 4) })] });
    await userEvent.click(screen.getByRole("option"));
    push(history("c9", [], { control: operatorControl({ id: "op-bob", name: "Bob" }, 4) }));
    expect(screen.getByText(/Controlled by/)).toHaveTextContent("Controlled by Bob");
    expect(screen.queryByRole("textbox")).toBeNull();
  });
});
