import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { ClientAction } from "../client/reducer";
import type { BriefState } from "../protocol/frames";
import { aiControl, alice, bob, history, operatorControl, summary, visitorMessage } from "../test/fixtures";
import { frame, renderView, stateWith } from "../test/liveView";

const READY: BriefState = {
  state: "ready",
  at: 2_000,
  brief: {
    wants: "A refund for boots that leak after two weeks.",
    answered: "The AI explained the 30-day return policy and promised a prepaid label.",
    why_human: "The visitor asked for a person.",
    language: "de-DE",
    made_by: "knowledge",
  },
};

const opened = (over: Parameters<typeof history>[2] = {}) => stateWith([frame(history("c1", [visitorMessage(1, "My boots leak.")], over))]);
const held = () => opened({ control: operatorControl(alice, 1) });
const briefFrame = (brief: BriefState): ClientAction => frame({ type: "brief", conversation_id: "c1", brief });
const interrupted = (text: string): ClientAction => frame({ type: "interrupted_reply", conversation_id: "c1", draft_id: "d1", text });
const suggestion = (text: string): ClientAction => frame({ type: "suggestion", conversation_id: "c1", text });
const replyBox = () => screen.getByRole("textbox", { name: "Message to the visitor" });

describe("the brief, pinned above the history", () => {
  it("says it is being prepared, then shows what the visitor wants, what the AI answered, why a human and the language", () => {
    const view = renderView(opened({ brief: { state: "pending", since: 1_000 } }));
    expect(screen.getByRole("status")).toHaveTextContent("Preparing a brief…");

    view.push(briefFrame(READY));
    expect(screen.queryByText("Preparing a brief…")).toBeNull();
    const card = screen.getByRole("region", { name: "Brief" });
    const facts = [...card.querySelectorAll("dt")].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]);
    expect(facts).toEqual([
      ["Wants", "A refund for boots that leak after two weeks."],
      ["AI answered", "The AI explained the 30-day return policy and promised a prepaid label."],
      ["Why a human", "The visitor asked for a person."],
      ["Language", expect.stringMatching(/\(de-DE\)$/)],
    ]);
    expect(card).toHaveTextContent("by knowledge assistant");
    // Above the history, not in it: the history is what the visitor saw.
    const log = screen.getByRole("log", { name: "Conversation history" });
    expect(card.compareDocumentPosition(log) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(log).not.toHaveTextContent("A refund for boots");
    // Text from elsewhere is isolated: an override in it cannot reorder what is around it.
    for (const dd of card.querySelectorAll("dd")) expect(dd).toHaveAttribute("dir", "auto");
  });

  it("leaves out why a human and the language when the brief has none, and names the assistant that made it", () => {
    renderView(
      opened({ brief: { state: "ready", at: 1, brief: { wants: "Where the parcel is.", answered: "Shipping times.", made_by: "openai" } } }),
    );
    const card = screen.getByRole("region", { name: "Brief" });
    expect([...card.querySelectorAll("dt")].map((dt) => dt.textContent)).toEqual(["Wants", "AI answered"]);
    expect(card).toHaveTextContent("by OpenAI assistant");
  });

  it("says plainly when there is no brief this time, and why", () => {
    renderView(opened({ brief: { state: "unavailable", reason: "the assistant did not answer in time", at: 5 } }));
    expect(screen.getByText(/^No brief this time/)).toHaveTextContent("No brief this time (the assistant did not answer in time)");
    expect(screen.queryByRole("region", { name: "Brief" })).toBeNull();
  });

  it("shows nothing before any brief was made", () => {
    renderView(opened());
    expect(screen.queryByRole("region", { name: "Brief" })).toBeNull();
    expect(screen.queryByText(/brief/i)).toBeNull();
  });

  it("folds away and opens again from the keyboard, remembered in the state", async () => {
    const view = renderView(opened({ brief: READY }));
    const toggle = screen.getByRole("button", { name: "Brief" });
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    const body = document.getElementById(toggle.getAttribute("aria-controls")!)!;
    expect(body).toBeVisible();

    toggle.focus();
    await userEvent.keyboard("{Enter}");
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(body).not.toBeVisible();
    expect(view.state().conversations.c1!.briefCollapsed).toBe(true);
    // Folded, its first line still says what it is about.
    expect(screen.getByRole("region", { name: "Brief" })).toHaveTextContent("A refund for boots that leak after two weeks.");

    await userEvent.keyboard(" ");
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    expect(body).toBeVisible();
    expect(view.toggleBrief).toHaveBeenCalledTimes(2);
  });
});

describe("the interrupted reply in the composer", () => {
  it("fills the empty box as an editable draft with a hint, and is sent only when the operator sends it", async () => {
    const view = renderView(opened());
    view.push({ type: "takeover_requested", conversationId: "c1" }, interrupted("Your order shipped on Monday and should arrive"));
    view.push(frame({ type: "control", conversation_id: "c1", control: operatorControl(alice, 1) }));

    expect(replyBox()).toHaveValue("Your order shipped on Monday and should arrive");
    expect(screen.getByText("The AI was writing this when you took over — edit it and send, or discard.")).toBeInTheDocument();
    expect(view.send).not.toHaveBeenCalled();

    await userEvent.type(replyBox(), " on Thursday.{Enter}");
    expect(view.send).toHaveBeenCalledWith("Your order shipped on Monday and should arrive on Thursday.");
    expect(replyBox()).toHaveValue("");
    // Sent: the hint has nothing left to point at.
    expect(screen.queryByText(/The AI was writing this/)).toBeNull();
  });

  it("Discard empties the box again; the hint can be dismissed and leaves the text", async () => {
    const view = renderView(held());
    view.push(interrupted("Your order shipped"));
    await userEvent.click(screen.getByRole("button", { name: "Dismiss the hint" }));
    expect(screen.queryByText(/The AI was writing this/)).toBeNull();
    expect(replyBox()).toHaveValue("Your order shipped");

    view.push({ type: "composer_changed", conversationId: "c1", text: "" }, interrupted("Your order shipped on Monday"));
    // The same draft again (another node's copy): not offered twice.
    expect(replyBox()).toHaveValue("");
    // Another draft id: a second takeover's.
    view.push(frame({ type: "interrupted_reply", conversation_id: "c1", draft_id: "d2", text: "Refunds arrive in 3 days" }));
    expect(replyBox()).toHaveValue("Refunds arrive in 3 days");
    await userEvent.click(screen.getByRole("button", { name: "Discard" }));
    expect(replyBox()).toHaveValue("");
    expect(replyBox()).toHaveFocus();
    expect(view.send).not.toHaveBeenCalled();
  });

  it("does not overwrite what the operator is writing: it offers the reply instead", async () => {
    const view = renderView(held());
    await userEvent.type(replyBox(), "Hi, Martin here.");
    view.push(interrupted("Your order shipped on Monday"));
    expect(replyBox()).toHaveValue("Hi, Martin here.");
    expect(screen.queryByText(/The AI was writing this/)).toBeNull();

    await userEvent.click(screen.getByRole("button", { name: "Use the AI's interrupted reply" }));
    expect(replyBox()).toHaveValue("Hi, Martin here.\n\nYour order shipped on Monday");
    expect(replyBox()).toHaveFocus();
    expect(screen.getByText(/The AI was writing this when you took over/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Use the AI's interrupted reply" })).toBeNull();
    // Discard takes back only what it added.
    await userEvent.click(screen.getByRole("button", { name: "Discard" }));
    expect(replyBox()).toHaveValue("Hi, Martin here.");
    expect(view.send).not.toHaveBeenCalled();
  });

  it("keeps the composer's text in the client state, per conversation", async () => {
    const view = renderView(held());
    await userEvent.type(replyBox(), "Half a reply");
    expect(view.state().conversations.c1!.composer).toBe("Half a reply");
    expect(view.setComposer).toHaveBeenLastCalledWith("Half a reply");
  });
});

describe("Suggest", () => {
  it("asks the assistant, says so while waiting, shows the suggestion, and Insert puts it in the box to edit", async () => {
    const view = renderView(held());
    const suggest = screen.getByRole("button", { name: "Suggest" });
    expect(suggest).toBeEnabled();
    await userEvent.click(suggest);
    expect(view.suggest).toHaveBeenCalledTimes(1);
    expect(screen.getByRole("button", { name: "Asking the assistant…" })).toBeDisabled();

    view.push(suggestion("You can return any item within 30 days."));
    const panel = screen.getByRole("region", { name: "Suggested reply" });
    expect(panel).toHaveTextContent("Suggested reply");
    expect(panel).toHaveTextContent("You can return any item within 30 days.");
    expect(screen.getByRole("button", { name: "Suggest" })).toBeEnabled();
    expect(view.send).not.toHaveBeenCalled();

    await userEvent.click(within(panel).getByRole("button", { name: "Insert" }));
    expect(screen.queryByRole("region", { name: "Suggested reply" })).toBeNull();
    expect(replyBox()).toHaveValue("You can return any item within 30 days.");
    expect(replyBox()).toHaveFocus();
    await userEvent.type(replyBox(), " Martin{Enter}");
    expect(view.send).toHaveBeenCalledWith("You can return any item within 30 days. Martin");
  });

  it("Insert appends after a blank line when the box holds something; Dismiss leaves the box alone", async () => {
    const view = renderView(held());
    await userEvent.type(replyBox(), "Hi, Martin here.");
    await userEvent.click(screen.getByRole("button", { name: "Suggest" }));
    view.push(suggestion("Refunds arrive 3-5 days after we receive the parcel."));
    await userEvent.click(screen.getByRole("button", { name: "Insert" }));
    expect(replyBox()).toHaveValue("Hi, Martin here.\n\nRefunds arrive 3-5 days after we receive the parcel.");

    await userEvent.click(screen.getByRole("button", { name: "Suggest" }));
    view.push(suggestion("Anything else?"));
    await userEvent.click(within(screen.getByRole("region", { name: "Suggested reply" })).getByRole("button", { name: "Dismiss" }));
    expect(screen.queryByRole("region", { name: "Suggested reply" })).toBeNull();
    expect(replyBox()).toHaveValue("Hi, Martin here.\n\nRefunds arrive 3-5 days after we receive the parcel.");
  });

  it.each([
    ["no_suggestion", "The assistant has no suggestion for the visitor's last message. Write the reply yourself."],
    ["unavailable", "The assistant could not suggest a reply just now. Try again in a moment, or write the reply yourself."],
    ["not_holder", "You are no longer handling this conversation, so the assistant cannot suggest a reply to you."],
    ["rate_limited", "Too many requests. Wait 2 s before asking for another suggestion."],
  ] as const)("says clearly why there is no suggestion (%s), and can be asked again", async (code, words) => {
    const view = renderView(held());
    await userEvent.click(screen.getByRole("button", { name: "Suggest" }));
    view.push(frame({ type: "error", code, message: "", retryable: false, conversation_id: "c1", retry_after_ms: 2_000 }));
    expect(screen.getByRole("alert")).toHaveTextContent(words);
    expect(screen.getByRole("button", { name: "Suggest" })).toBeEnabled();
    await userEvent.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("is not offered to whoever does not hold the conversation, nor the interrupted reply or a suggestion", () => {
    for (const control of [aiControl(0), operatorControl(bob, 2)]) {
      const view = renderView(opened({ control }));
      view.push(interrupted("Your order shipped"), suggestion("Hello"));
      expect(screen.queryByRole("button", { name: /Suggest|Asking the assistant/ })).toBeNull();
      expect(screen.queryByRole("region", { name: "Suggested reply" })).toBeNull();
      expect(screen.queryByRole("button", { name: "Use the AI's interrupted reply" })).toBeNull();
      expect(screen.queryByText(/The AI was writing this/)).toBeNull();
      view.unmount();
    }
  });

  it("is disabled for the holder while the connection is down", () => {
    renderView(held(), { connected: false });
    expect(screen.getByRole("button", { name: "Suggest" })).toBeDisabled();
  });

  it("shows the holder nothing of a suggestion once a teammate took the conversation", () => {
    const view = renderView(held(), { summary: summary("c1") });
    view.push({ type: "suggest_requested", conversationId: "c1" }, suggestion("Hello"));
    expect(screen.getByRole("region", { name: "Suggested reply" })).toBeInTheDocument();
    view.push(frame({ type: "control", conversation_id: "c1", control: operatorControl(bob, 2) }));
    expect(screen.queryByRole("region", { name: "Suggested reply" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Suggest" })).toBeNull();
  });
});
