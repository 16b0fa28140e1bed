import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CannedReply } from "../protocol/frames";
import { alice, history, onlineView, operatorControl, summary, visitorMessage } from "../test/fixtures";
import { mountDashboard } from "../test/liveDashboard";

// Internal notes, saved replies in the composer, the visitor panel, and the Recent tab with
// search, through the whole dashboard and its socket client (the hub is a fake socket).

const refund: CannedReply = {
  id: "cr_1",
  title: "Refund timing",
  shortcut: "refund",
  text: "Refunds reach your card within 5 business days.",
  updated_at: 1,
  updated_by: "olivia",
};

let fetchFn: ReturnType<typeof vi.fn<typeof fetch>>;

beforeEach(() => {
  fetchFn = vi.fn<typeof fetch>(async () => new Response(JSON.stringify({ replies: [refund] }), { status: 200 }));
  vi.stubGlobal("fetch", fetchFn);
  vi.stubGlobal("Notification", undefined);
});
afterEach(() => {
  vi.unstubAllGlobals();
});

const mount = (role: Parameters<typeof mountDashboard>[1] = "operator") => mountDashboard("pro", role);

describe("Dashboard: notes and saved replies", () => {
  it("loads the saved replies once with the operator's token; / inserts one, Enter then sends the edited text", async () => {
    const { socket, push } = await mount();
    await waitFor(() => expect(fetchFn).toHaveBeenCalledTimes(1));
    expect(fetchFn).toHaveBeenCalledWith(
      "/api/canned-replies",
      expect.objectContaining({ method: "GET", headers: expect.objectContaining({ authorization: "Bearer jwt" }) }),
    );
    push(onlineView([summary("c1", { control: operatorControl(alice, 1) })]));
    await userEvent.click(screen.getByRole("option", { name: /Visitor c1/ }));
    push(history("c1", [visitorMessage(1, "Where is my refund?")], { control: operatorControl(alice, 1) }));

    const box = screen.getByRole("textbox", { name: "Message to the visitor" });
    await userEvent.type(box, "/ref{Enter}");
    expect(box).toHaveValue(refund.text);
    expect(socket.sentOfType("message")).toEqual([]);
    await userEvent.type(box, " Sorry!{Enter}");
    expect(socket.sentOfType("message")).toEqual([
      { type: "message", conversation_id: "c1", client_id: "cid-1", text: `${refund.text} Sorry!` },
    ]);
    expect(fetchFn).toHaveBeenCalledTimes(1);
  });

  it("writes a note while the AI holds the conversation; the hub's note frame replaces the pending one", async () => {
    const { socket, push } = await mount();
    push(onlineView([summary("c1")]));
    await userEvent.click(screen.getByRole("option", { name: /Visitor c1/ }));
    push(history("c1", [visitorMessage(1, "Hi")]));
    expect(screen.getByRole("button", { name: "Take Control" })).toBeEnabled();

    await userEvent.type(screen.getByRole("textbox", { name: "Internal note" }), "Customer was double-charged{Enter}");
    expect(socket.sentOfType("note")).toEqual([{ type: "note", conversation_id: "c1", client_id: "cid-1", text: "Customer was double-charged" }]);
    expect(socket.sentOfType("typing")).toEqual([]);
    const log = screen.getByRole("log");
    expect(within(log).getByText("Saving…")).toBeInTheDocument();
    push({
      type: "note",
      conversation_id: "c1",
      note: { id: 1, after_seq: 1, at: Date.now(), author: { id: alice.id, name: alice.name }, text: "Customer was double-charged", client_id: "cid-1" },
    });
    expect(within(log).queryByText("Saving…")).toBeNull();
    expect(within(log).getByText("Customer was double-charged").closest("li")).toHaveClass("note");
  });
});

describe("Dashboard: Recent and search", () => {
  const old = summary("c-old", { visitor_label: "Visitor OLD", visitor_online: false, last_activity_at: 1_000, last_message: { author: "visitor", text: "Where is my parcel?" } });
  const older = summary("c-older", { visitor_label: "Visitor OLDER", visitor_online: false, last_activity_at: 500 });

  it("lists recent conversations, loads more, and opens one read-only with notes still available", async () => {
    const { socket, push } = await mount();
    push(onlineView([]));
    await userEvent.click(screen.getByRole("tab", { name: "Recent" }));
    expect(socket.sent.at(-1)).toEqual({ type: "recent" });
    push({ type: "recent", conversations: [old], next_cursor: "1000:c-old" });
    const recent = screen.getByRole("listbox", { name: "Recent conversations" });
    expect(within(recent).getAllByRole("option").map((o) => o.dataset.conversationId)).toEqual(["c-old"]);

    await userEvent.click(screen.getByRole("button", { name: "Load more" }));
    expect(socket.sent.at(-1)).toEqual({ type: "recent", cursor: "1000:c-old" });
    expect(screen.getByRole("button", { name: "Loading…" })).toBeDisabled();
    push({ type: "recent", cursor: "1000:c-old", conversations: [older] });
    expect(within(recent).getAllByRole("option").map((o) => o.dataset.conversationId)).toEqual(["c-old", "c-older"]);
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();

    await userEvent.click(within(recent).getByRole("option", { name: /Visitor OLD,/ }));
    expect(socket.sent.at(-1)).toEqual({ type: "open", conversation_id: "c-old" });
    push(history("c-old", [visitorMessage(1, "Where is my parcel?")], { visitor_online: false }));
    const view = screen.getByRole("region", { name: "Conversation with Visitor OLD" });
    expect(within(view).getByText("Read-only")).toBeInTheDocument();
    expect(within(view).getByRole("button", { name: "Take Control" })).toBeDisabled();
    expect(within(view).getByRole("button", { name: "Reply" })).toBeDisabled();
    await userEvent.type(within(view).getByRole("textbox", { name: "Internal note" }), "Follow up tomorrow{Enter}");
    expect(socket.sentOfType("note")).toEqual([{ type: "note", conversation_id: "c-old", client_id: "cid-1", text: "Follow up tomorrow" }]);

    // The visitor comes back: the conversation is in the Online list again, Take Control is offered.
    push(onlineView([{ ...old, visitor_online: true }]));
    expect(within(view).getByRole("button", { name: "Take Control" })).toBeEnabled();
  });

  it("searches on Enter, ignores a stale answer, and opens a result", async () => {
    const { socket, push } = await mount();
    await userEvent.click(screen.getByRole("tab", { name: "Recent" }));
    const box = screen.getByRole("searchbox", { name: "Search conversations" });
    await userEvent.type(box, "parcel{Enter}");
    expect(socket.sentOfType("search")).toEqual([{ type: "search", query: "parcel" }]);
    expect(screen.getByText("Searching for “parcel”…")).toBeInTheDocument();
    push({ type: "search_results", query: "parc", conversations: [older] });
    expect(screen.queryByRole("listbox", { name: "Search results" })).toBeNull();
    push({ type: "search_results", query: "parcel", conversations: [old] });
    const results = screen.getByRole("listbox", { name: "Search results" });
    await userEvent.click(within(results).getByRole("option"));
    expect(socket.sent.at(-1)).toEqual({ type: "open", conversation_id: "c-old" });

    push({ type: "recent", conversations: [older] });
    await userEvent.clear(box);
    await userEvent.keyboard("{Enter}");
    expect(screen.getByRole("listbox", { name: "Recent conversations" })).toBeInTheDocument();
    expect(screen.queryByRole("listbox", { name: "Search results" })).toBeNull();
  });

  it("sends a search by itself once typing pauses", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { socket } = await mount();
      const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
      await user.click(screen.getByRole("tab", { name: "Recent" }));
      await user.type(screen.getByRole("searchbox", { name: "Search conversations" }), "refund");
      expect(socket.sentOfType("search")).toEqual([]);
      await act(() => vi.advanceTimersByTimeAsync(400));
      expect(socket.sentOfType("search")).toEqual([{ type: "search", query: "refund" }]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("opens one of the visitor's earlier conversations from the side panel", async () => {
    const { socket, push } = await mount();
    push(onlineView([summary("c1")]));
    await userEvent.click(screen.getByRole("option", { name: /Visitor c1/ }));
    push(history("c1", [], { earlier: [old], context: { url: "https://shop.example/cart", title: "Cart" } }));
    const panel = screen.getByRole("complementary", { name: "About the visitor" });
    expect(within(panel).getByRole("link", { name: "https://shop.example/cart" })).toBeInTheDocument();
    await userEvent.click(within(panel).getByRole("button", { name: /Where is my parcel\?/ }));
    expect(socket.sent.slice(-2)).toEqual([
      { type: "close", conversation_id: "c1" },
      { type: "open", conversation_id: "c-old" },
    ]);
    push(history("c-old", [visitorMessage(1, "Where is my parcel?")], { visitor_online: false }));
    expect(screen.getByRole("region", { name: "Conversation with Visitor OLD" })).toBeInTheDocument();
  });
});
