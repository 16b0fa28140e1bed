import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FollowUp } from "../protocol/frames";
import { followUp, followUpRow, history, visitorMessage } from "../test/fixtures";
import { mountDashboard } from "../test/liveDashboard";
import { auditTime } from "../text/format";
import { FollowUpBanner } from "./FollowUpBanner";

// The Follow-up view, a conversation's follow-up banner and the new timeline lines, through the
// whole dashboard and its socket client (the hub is a fake socket).

beforeEach(() => {
  vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify({ replies: [] }), { status: 200 })));
  vi.stubGlobal("Notification", undefined);
});
afterEach(() => {
  vi.unstubAllGlobals();
});

const MIN = 60_000;
const followUpTab = () => screen.getByRole("tab", { name: /^Follow-up/ });
const rows = () => within(screen.getByRole("listbox", { name: "Waiting for follow-up" })).getAllByRole("option");
const change = (id: string, f: FollowUp) => ({ type: "follow_up" as const, conversation_id: id, follow_up: f });

describe("the Follow-up view", () => {
  it("asks for the list on connecting, counts it on its tab, and shows the longest waiting first", async () => {
    const { socket, push } = await mountDashboard();
    expect(socket.sentOfType("follow_ups")).toHaveLength(1);
    const now = Date.now();
    push({
      type: "follow_ups",
      conversations: [
        followUpRow("c2", now - 30 * MIN, { reason: "unanswered" }, { visitor_label: "Visitor 22BB" }),
        followUpRow(
          "c1",
          now - 2 * 60 * MIN,
          { email: "ana@example.com", delivery: { state: "retrying", attempts: 1, next_at: now + 5 * MIN, error: "connection refused" } },
          { visitor_label: "Visitor 7F3A" },
        ),
      ],
    });
    expect(followUpTab()).toHaveTextContent("Follow-up2");

    await userEvent.click(followUpTab());
    // Opening the view asks again: the list is fresh each time it is shown.
    expect(socket.sentOfType("follow_ups")).toHaveLength(2);
    // The rows already shown stay while the fresh answer is on its way.
    expect(rows()).toHaveLength(2);
    const [first, second] = rows();
    expect(first).toHaveTextContent("Visitor 7F3A");
    expect(first).toHaveTextContent("Outside working hours");
    expect(first).toHaveTextContent("2 h ago");
    expect(first).toHaveTextContent("ana@example.com");
    expect(first).toHaveTextContent(`Email retrying ${auditTime(now + 5 * MIN, now)}`);
    expect(second).toHaveTextContent("Visitor 22BB");
    expect(second).toHaveTextContent("Nobody answered in time");
    expect(second).toHaveTextContent("30 min ago");
    expect(second).toHaveTextContent("No email left");
    expect(second).toHaveAccessibleName(/^Visitor 22BB, nobody answered in time, waiting since 30 min ago, no email left, offline$/);

    // A row opens its conversation like any other row.
    await userEvent.click(second!);
    expect(socket.sent.at(-1)).toEqual({ type: "open", conversation_id: "c2" });
    expect(screen.getByRole("region", { name: "Conversation with Visitor 22BB" })).toBeInTheDocument();
  });

  it("keeps the list live: an answered conversation leaves it, a newly waiting one is fetched with the list", async () => {
    const { socket, push } = await mountDashboard();
    const now = Date.now();
    push({ type: "follow_ups", conversations: [followUpRow("c1", now - 10 * MIN), followUpRow("c2", now - 5 * MIN)] });
    await userEvent.click(followUpTab());
    push({ type: "follow_ups", conversations: [followUpRow("c1", now - 10 * MIN), followUpRow("c2", now - 5 * MIN)] });
    expect(rows()).toHaveLength(2);
    const asked = socket.sentOfType("follow_ups").length;

    push(change("c1", followUp(now - 10 * MIN, { waiting: false })));
    expect(rows().map((r) => r.dataset.conversationId)).toEqual(["c2"]);
    expect(followUpTab()).toHaveTextContent("Follow-up1");

    push(change("c2", followUp(now - 5 * MIN, { email: "bo@example.com" })));
    expect(rows()[0]).toHaveTextContent("bo@example.com");
    expect(socket.sentOfType("follow_ups")).toHaveLength(asked);

    push(change("c3", followUp(now)));
    expect(socket.sentOfType("follow_ups")).toHaveLength(asked + 1);
    push({ type: "follow_ups", conversations: [followUpRow("c2", now - 5 * MIN), followUpRow("c3", now)] });
    expect(rows().map((r) => r.dataset.conversationId)).toEqual(["c2", "c3"]);

    push(change("c2", followUp(now - 5 * MIN, { waiting: false })));
    push(change("c3", followUp(now, { waiting: false })));
    expect(screen.getByText(/Nobody is waiting for a follow-up/)).toBeInTheDocument();
    expect(followUpTab()).toHaveTextContent(/^Follow-up$/);
  });
});

describe("a conversation's follow-up", () => {
  async function openFollowUp(f: FollowUp, visitorOnline = false) {
    const kit = await mountDashboard();
    kit.push({ type: "follow_ups", conversations: [followUpRow("c1", f.since, f, { visitor_label: "Visitor 7F3A", visitor_online: visitorOnline })] });
    await userEvent.click(followUpTab());
    await userEvent.click(rows()[0]!);
    kit.push(
      history("c1", [visitorMessage(1, "Can someone call me?"), { seq: 2, at: 2, type: "outside_hours", by: "visitor", opens_at: 9 }], {
        visitor_online: visitorOnline,
        follow_up: f,
      }),
    );
    const view = screen.getByRole("region", { name: "Conversation with Visitor 7F3A" });
    const banner = () => within(view).queryByRole("region", { name: "Follow-up" });
    return { ...kit, view, banner };
  }

  it("says since when it waits, the address left and that a reply goes by email too; answering is possible though the visitor left", async () => {
    const since = Date.now() - 40 * MIN;
    const { view, banner } = await openFollowUp(followUp(since, { email: "ana@example.com" }));
    expect(banner()).toHaveTextContent(`Waiting for follow-up since ${auditTime(since, Date.now())} · Outside working hours`);
    expect(banner()).toHaveTextContent("Visitor's email: ana@example.com");
    expect(banner()).toHaveTextContent("Your reply will also be emailed to ana@example.com.");
    // Not read-only: the follow-up is what an answer is for.
    expect(within(view).queryByText("Read-only")).toBeNull();
    expect(within(view).getByRole("button", { name: "Take Control" })).toBeEnabled();
  });

  it("follows the email of the answer live: retrying, sent, given up", async () => {
    const since = Date.now() - 40 * MIN;
    const { push, banner } = await openFollowUp(followUp(since, { email: "ana@example.com" }));
    const now = Date.now();
    push(change("c1", followUp(since, { waiting: false, email: "ana@example.com", delivery: { state: "retrying", attempts: 1, next_at: now + 5 * MIN, error: "connection refused" } })));
    expect(banner()).not.toHaveTextContent("Waiting for follow-up");
    expect(banner()).toHaveTextContent(`Not delivered yet: connection refused — retrying at ${auditTime(now + 5 * MIN, now)} (attempt 2)`);
    push(change("c1", followUp(since, { waiting: false, email: "ana@example.com", delivery: { state: "sent", at: now } })));
    expect(banner()).toHaveTextContent(`Emailed at ${auditTime(now, now)}`);
    push(change("c1", followUp(since, { waiting: false, email: "ana@example.com", delivery: { state: "failed", attempts: 5, error: "550 mailbox unavailable" } })));
    expect(banner()).toHaveTextContent("Not delivered: 550 mailbox unavailable");
  });

  it("without an address, says so; with the visitor back online, nothing is emailed", async () => {
    const since = Date.now() - 5 * MIN;
    const { banner } = await openFollowUp(followUp(since, { reason: "unanswered" }), true);
    expect(banner()).toHaveTextContent("Nobody answered in time");
    expect(banner()).toHaveTextContent("The visitor left no email");
    expect(banner()).not.toHaveTextContent("emailed");
  });

  it("shows the new events in the history", async () => {
    const { push, view } = await openFollowUp(followUp(Date.now()));
    push({ type: "event", conversation_id: "c1", event: { seq: 3, at: 3, type: "follow_up_email", email: "ana@example.com" } });
    const log = within(view).getByRole("log", { name: "Conversation history" });
    expect(log).toHaveTextContent("The visitor asked for a human outside working hours");
    expect(log).toHaveTextContent("Visitor left their email: ana@example.com");
  });
});

describe("FollowUpBanner", () => {
  it("says nothing once answered with nothing to email", () => {
    const { container } = render(<FollowUpBanner followUp={followUp(1, { waiting: false })} visitorOnline={false} now={2} />);
    expect(container).toBeEmptyDOMElement();
  });

  it("keeps the visitor's text as text", () => {
    render(<FollowUpBanner followUp={followUp(1, { email: "<img src=x>@example.com" })} visitorOnline={false} now={2} />);
    expect(screen.getByRole("region", { name: "Follow-up" }).querySelector("img")).toBeNull();
    expect(screen.getAllByText("<img src=x>@example.com")).toHaveLength(2);
  });
});
