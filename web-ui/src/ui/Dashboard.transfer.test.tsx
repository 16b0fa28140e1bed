import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { OperatorRef } from "../protocol/frames";
import { alice, history, onlineView, operatorControl, summary, visitorMessage } from "../test/fixtures";
import { beep } from "./alerts";
import { mountDashboard } from "../test/liveDashboard";

// The beep needs WebAudio, which jsdom lacks: counted instead.
vi.mock("./alerts", async (original) => ({ ...(await original<typeof import("./alerts")>()), beep: vi.fn() }));

/** Records desktop notifications instead of showing them. */
class FakeNotification {
  static permission: NotificationPermission = "granted";
  static shown: FakeNotification[] = [];
  static requestPermission = async () => FakeNotification.permission;
  onclick: (() => void) | null = null;
  constructor(
    readonly title: string,
    readonly options?: NotificationOptions,
  ) {
    FakeNotification.shown.push(this);
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

const mount = () => mountDashboard();

const martin: OperatorRef = { id: "martin", name: "Martin Keller", display_name: "Martin from Support" };
const nora: OperatorRef = { id: "nora", name: "Nora Novak", display_name: "Nora from Support" };

describe("Transfer in the dashboard", () => {
  it("alerts the recipient like a request for a human, shows the note, and opens the conversation from the notice", async () => {
    const { socket, push } = await mount();
    push(onlineView([summary("c7", { visitor_label: "Visitor 7F3A", control: operatorControl(alice, 4) })]));
    push({
      type: "transfer_received",
      conversation_id: "c7",
      visitor_label: "Visitor 7F3A",
      by: martin,
      note: "Refund approved; she needs the return label.",
    });

    expect(beep).toHaveBeenCalledTimes(1);
    expect(FakeNotification.shown.map((n) => [n.title, n.options?.body])).toEqual([
      ["Martin Keller transferred Visitor 7F3A to you", "Refund approved; she needs the return label."],
    ]);
    const notices = screen.getByRole("region", { name: "Conversations transferred to you" });
    const notice = within(notices).getByRole("alert");
    expect(notice).toHaveTextContent("Martin Keller transferred Visitor 7F3A to you");
    expect(notice).toHaveTextContent("Refund approved; she needs the return label.");

    // Another frame re-renders the dashboard: the alert is not repeated.
    push(onlineView([summary("c7", { visitor_label: "Visitor 7F3A", control: operatorControl(alice, 4), last_seq: 2 })]));
    expect(beep).toHaveBeenCalledTimes(1);
    expect(FakeNotification.shown).toHaveLength(1);

    await userEvent.click(within(notice).getByRole("button", { name: "Open Visitor 7F3A" }));
    expect(socket.sent.at(-1)).toEqual({ type: "open", conversation_id: "c7" });
    expect(screen.queryByRole("region", { name: "Conversations transferred to you" })).toBeNull();
  });

  it("opens the conversation from the desktop notification too, and says something without a note", async () => {
    const { socket, push } = await mount();
    push({ type: "transfer_received", conversation_id: "c9", visitor_label: "Visitor 11AA", by: martin });
    const shown = FakeNotification.shown[0]!;
    expect(shown.options?.body).toBe("Open it to answer the visitor.");
    // jsdom cannot focus a window; the click brings it forward in a browser.
    vi.spyOn(window, "focus").mockImplementation(() => {});
    act(() => shown.onclick?.());
    expect(socket.sent.at(-1)).toEqual({ type: "open", conversation_id: "c9" });
  });

  it("lets the holder transfer: lists who is online, sends the epoch and note, and follows the handover", async () => {
    const { socket, push } = await mount();
    push(onlineView([summary("c1", { visitor_label: "Visitor 7F3A", control: operatorControl(alice, 3) })]));
    await userEvent.click(screen.getByRole("option", { name: /Visitor 7F3A/ }));
    push(history("c1", [visitorMessage(1, "Can I get a refund?")], { control: operatorControl(alice, 3) }));

    await userEvent.click(screen.getByRole("button", { name: "Transfer" }));
    expect(socket.sent.at(-1)).toEqual({ type: "colleagues" });
    const dialog = screen.getByRole("dialog", { name: "Transfer Visitor 7F3A" });
    push({
      type: "colleagues",
      operators: [
        { id: alice.id, name: alice.name, role: "operator" },
        { id: "nora", name: "Nora Novak", role: "operator" },
      ],
    });
    expect(within(dialog).getAllByRole("radio")).toHaveLength(1);
    await userEvent.click(within(dialog).getByRole("radio", { name: /Nora Novak/ }));
    await userEvent.type(within(dialog).getByRole("textbox", { name: "Note for them (optional)" }), "Refund approved.");
    await userEvent.click(within(dialog).getByRole("button", { name: "Transfer to Nora Novak" }));
    expect(socket.sent.at(-1)).toEqual({ type: "transfer", conversation_id: "c1", to: "nora", epoch: 3, note: "Refund approved." });

    // The event may come before the answer (protocol.md).
    push({ type: "event", conversation_id: "c1", event: { seq: 2, at: 2, type: "operator_transferred", from: alice, to: nora, epoch: 4 } });
    push({ type: "control", conversation_id: "c1", control: operatorControl(nora, 4) });
    expect(screen.queryByRole("dialog")).toBeNull();
    const log = screen.getByRole("log", { name: "Conversation history" });
    expect(log).toHaveTextContent("Alice Admin (you) left the chat");
    expect(log).toHaveTextContent("Nora Novak joined the chat");
    expect(screen.getByText(/Controlled by/)).toHaveTextContent("Controlled by Nora Novak");
    // A plain operator who no longer holds it: nothing more to transfer, no reply box.
    expect(screen.queryByRole("button", { name: "Transfer" })).toBeNull();
    expect(screen.queryByRole("textbox", { name: "Message to the visitor" })).toBeNull();
  });

  it("says in the dialog why the hub refused, in words", async () => {
    const { push } = await mount();
    push(onlineView([summary("c1", { visitor_label: "Visitor 7F3A", control: operatorControl(alice, 3) })]));
    await userEvent.click(screen.getByRole("option", { name: /Visitor 7F3A/ }));
    push(history("c1", [], { control: operatorControl(alice, 3) }));
    await userEvent.click(screen.getByRole("button", { name: "Transfer" }));
    push({ type: "colleagues", operators: [{ id: "nora", name: "Nora Novak", role: "operator" }] });
    const dialog = screen.getByRole("dialog");
    await userEvent.click(within(dialog).getByRole("radio", { name: /Nora/ }));
    await userEvent.click(within(dialog).getByRole("button", { name: "Transfer to Nora Novak" }));
    push({ type: "error", code: "control_changed", message: "control changed", retryable: false, conversation_id: "c1" });
    expect(within(dialog).getByRole("alert")).toHaveTextContent(
      "Not transferred: Someone else changed who handles this conversation first; nothing was done.",
    );
    // Said once, in the dialog: not also under the conversation.
    expect(screen.getAllByText(/Someone else changed who handles/)).toHaveLength(1);
  });
});
