import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { bob, hubOrder, operatorControl, summary } from "../test/fixtures";
import { ConversationList } from "./ConversationList";

const NOW = 10 * 60_000;

function renderList(onSelect = vi.fn(), selectedId: string | null = null) {
  const conversations = hubOrder([
    summary("quiet", { visitor_label: "Visitor 7", last_activity_at: NOW - 5 * 60_000, visitor_online: false }),
    summary("help", {
      visitor_label: "Visitor 12",
      needs_human: true,
      last_activity_at: NOW - 20 * 60_000,
      last_message: { author: "ai", text: "Let me get a human for you" },
    }),
    summary("held", { visitor_label: "Visitor 3", control: operatorControl(bob), last_activity_at: NOW - 1_000 }),
  ]);
  render(
    <ConversationList
      conversations={conversations}
      loaded
      selectedId={selectedId}
      unread={(c) => (c.id === "help" ? 2 : 0)}
      now={NOW}
      onSelect={onSelect}
      label="Search results"
      emptyText="Nothing."
    />,
  );
  return onSelect;
}

describe("ConversationList (Recent, search results)", () => {
  it("is a labelled listbox of rows, each one sentence for a screen reader", () => {
    renderList();
    const list = screen.getByRole("listbox", { name: "Search results" });
    const rows = within(list).getAllByRole("option");
    expect(rows.map((r) => r.dataset.conversationId)).toEqual(["help", "held", "quiet"]);
    expect(rows[0]).toHaveAccessibleName(/^Visitor 12, needs a human, online, handled by AI, 2 unread, last message from AI: Let me get a human for you/);
    expect(rows[1]).toHaveAccessibleName(/handled by Bob Builder/);
    expect(rows[2]).toHaveAccessibleName(/offline/);
    expect(within(rows[0]!).getByText("Needs human")).toBeInTheDocument();
    expect(within(rows[0]!).getByText("2")).toBeInTheDocument();
    expect(within(rows[2]!).getByText("5 min ago")).toBeInTheDocument();
  });

  it("opens a row by click and by keyboard", async () => {
    const onSelect = renderList();
    await userEvent.click(screen.getByRole("option", { name: /Visitor 3/ }));
    expect(onSelect).toHaveBeenLastCalledWith("held");

    const first = screen.getAllByRole("option")[0]!;
    first.focus();
    await userEvent.keyboard("{ArrowDown}{ArrowDown}{Enter}");
    expect(onSelect).toHaveBeenLastCalledWith("quiet");
    await userEvent.keyboard("{Home} ");
    expect(onSelect).toHaveBeenLastCalledWith("help");
  });

  it("keeps exactly one row in the tab order: the selected one", () => {
    renderList(vi.fn(), "quiet");
    const rows = screen.getAllByRole("option");
    expect(rows.map((r) => r.tabIndex)).toEqual([-1, -1, 0]);
    expect(rows[2]).toHaveAttribute("aria-selected", "true");
  });
});
