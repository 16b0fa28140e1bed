import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { aiControl, alice, history, onlineView, operatorControl, summary, visitorMessage } from "../test/fixtures";
import { mountDashboard } from "../test/liveDashboard";

const mount = () => mountDashboard();

const QUESTION = "How do I return an item?";
const SUGGESTED = "You can return any item within 30 days: open your order, choose Return, and print the free label.";

describe("the brief, Suggest and the interrupted reply in the dashboard", () => {
  it("reads the brief, takes over mid-reply with the AI's text in the box, asks for a suggestion, inserts, edits and sends it", async () => {
    const { socket, push } = await mount();
    push(onlineView([summary("c1", { visitor_label: "Visitor 7F3A", needs_human: true })]));
    await userEvent.click(screen.getByRole("option", { name: /Visitor 7F3A/ }));
    expect(socket.sent.at(-1)).toEqual({ type: "open", conversation_id: "c1" });
    push(
      history("c1", [visitorMessage(1, QUESTION), { seq: 2, at: 2, type: "human_requested", by: "visitor" }], {
        control: aiControl(0),
        needs_human: true,
        brief: { state: "pending", since: 10 },
      }),
    );
    expect(screen.getByText("Preparing a brief…")).toBeInTheDocument();
    push({
      type: "brief",
      conversation_id: "c1",
      brief: { state: "ready", at: 20, brief: { wants: QUESTION, answered: "The AI has not answered yet.", why_human: "The visitor asked for a person.", made_by: "knowledge" } },
    });
    const card = screen.getByRole("region", { name: "Brief" });
    expect(within(card).getByText("Wants").nextElementSibling).toHaveTextContent(QUESTION);

    // Take Control while the AI writes: its text so far comes to this operator alone, before the answer.
    push({ type: "ai_draft", conversation_id: "c1", draft_id: "d1", epoch: 0, offset: 0, text: "You can return any ", state: "streaming" });
    await userEvent.click(screen.getByRole("button", { name: "Take Control" }));
    expect(socket.sent.at(-1)).toEqual({ type: "takeover", conversation_id: "c1" });
    push({ type: "interrupted_reply", conversation_id: "c1", draft_id: "d1", text: "You can return any " });
    push({ type: "event", conversation_id: "c1", event: { seq: 3, at: 3, type: "operator_joined", operator: alice, epoch: 1 } });
    push({ type: "control", conversation_id: "c1", control: operatorControl(alice, 1) });
    const box = screen.getByRole("textbox", { name: "Message to the visitor" });
    expect(box).toHaveValue("You can return any ");
    expect(screen.getByText(/The AI was writing this when you took over/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Discard" }));
    expect(box).toHaveValue("");

    await userEvent.click(screen.getByRole("button", { name: "Suggest" }));
    expect(socket.sent.at(-1)).toEqual({ type: "suggest", conversation_id: "c1" });
    expect(screen.getByRole("button", { name: "Asking the assistant…" })).toBeDisabled();
    push({ type: "suggestion", conversation_id: "c1", text: SUGGESTED });
    const panel = screen.getByRole("region", { name: "Suggested reply" });
    expect(panel).toHaveTextContent(SUGGESTED);
    await userEvent.click(within(panel).getByRole("button", { name: "Insert" }));
    expect(box).toHaveValue(SUGGESTED);
    await userEvent.type(box, " Martin{Enter}");
    // Nothing else was sent for the visitor: only the message the operator sent.
    expect(socket.sentOfType("message")).toEqual([{ type: "message", conversation_id: "c1", client_id: "cid-1", text: `${SUGGESTED} Martin` }]);
  });
});
