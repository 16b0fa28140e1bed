import { cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { ClientAction } from "../client/reducer";
import type { Session } from "../client/state";
import type { Note } from "../protocol/frames";
import { aiMessage, alice, bob, history, operatorControl, operatorMessage, summary, visitorMessage } from "../test/fixtures";
import { frame, renderView, session, stateWith, viewActions } from "../test/liveView";
import { ConversationView } from "./ConversationView";

describe("ConversationView", () => {
  it("shows who wrote what, and join/leave notices", () => {
    renderView(
      stateWith([
        frame(
          history("c1", [
            visitorMessage(1, "Where is my order?"),
            aiMessage(2, "Let me check."),
            { seq: 3, at: 3, type: "human_requested", by: "visitor" },
            { seq: 4, at: 4, type: "operator_joined", operator: bob, epoch: 1 },
            operatorMessage(5, { ...bob, avatar_url: "https://example.test/bob.png" }, "Bob here."),
            { seq: 6, at: 6, type: "operator_left", operator: bob, epoch: 2, reason: "ended" },
          ]),
        ),
      ]),
    );
    const log = screen.getByRole("log", { name: "Conversation history" });
    const items = within(log).getAllByRole("listitem");
    expect(items.map((i) => i.textContent)).toEqual([
      expect.stringMatching(/^Visitor.*Where is my order\?$/),
      expect.stringMatching(/^AIAI assistant.*Let me check\.$/),
      expect.stringMatching(/^The visitor asked for a human/),
      expect.stringMatching(/^Bob Builder joined the chat — the visitor sees “Human”/),
      expect.stringMatching(/^Bob Builder.*Bob here\.$/),
      expect.stringMatching(/^Bob Builder left the chat; the AI assistant continues/),
    ]);
    expect(items[4]!.querySelector("img")).toHaveAttribute("src", "https://example.test/bob.png");
  });

  it("shows a transfer as the one operator leaving and the other joining, and who holds it now", () => {
    const carol = { id: "op-carol", name: "Carol Chen", display_name: "Carol from Support" };
    renderView(
      stateWith([
        frame(
          history(
            "c1",
            [
              { seq: 1, at: 1, type: "operator_joined", operator: bob, epoch: 1 },
              { seq: 2, at: 2, type: "operator_transferred", from: bob, to: carol, epoch: 2 },
              { seq: 3, at: 3, type: "operator_transferred", from: carol, to: alice, epoch: 3, by: "op-olivia" },
              { seq: 4, at: 4, type: "operator_transferred", from: alice, to: bob, epoch: 4, by: "op-eddie" },
            ],
            // The history's control agrees with its last event.
            { control: operatorControl(bob, 4) },
          ),
        ),
      ]),
      { nameOf: (id) => (id === "op-olivia" ? "Olivia Owner" : undefined) },
    );
    const log = screen.getByRole("log", { name: "Conversation history" });
    expect(within(log).getAllByRole("listitem").map((i) => i.querySelector("span")?.textContent)).toEqual([
      "Bob Builder joined the chat — the visitor sees “Human”",
      "Bob Builder left the chat",
      "Carol Chen joined the chat",
      // An owner moved Carol's conversation: named when this dashboard knows them…
      "Carol Chen left the chat (transferred by Olivia Owner)",
      "Alice Admin (you) joined the chat",
      // …and described when it does not.
      "Alice Admin (you) left the chat (transferred by an owner or editor)",
      "Bob Builder joined the chat — the visitor sees “Human”",
    ]);
    expect(screen.getByText(/Handled by/)).toHaveTextContent("Handled by Bob Builder");
  });

  it("shows a placeholder avatar for an operator without one", () => {
    renderView(stateWith([frame(history("c1", [operatorMessage(1, bob, "hello")]))]));
    expect(screen.getByText("BB")).toHaveClass("avatar--placeholder");
  });

  it("shows the visitor typing and the AI thinking", () => {
    renderView(
      stateWith([
        frame(history("c1", [visitorMessage(1)])),
        frame({ type: "typing", conversation_id: "c1", author: { kind: "visitor" }, active: true }),
        frame({ type: "typing", conversation_id: "c1", author: { kind: "ai" }, active: true }),
      ]),
    );
    expect(screen.getByText(/Visitor is typing…/)).toBeInTheDocument();
    expect(screen.getByText(/AI assistant is thinking…/)).toBeInTheDocument();
  });

  it("shows the AI's reply growing as a muted draft after the timeline, thinking only before its first words", () => {
    const aiTyping = frame({ type: "typing", conversation_id: "c1", author: { kind: "ai" }, active: true });
    const draft = (text: string) => frame({ type: "ai_draft", conversation_id: "c1", draft_id: "d1", epoch: 0, offset: 0, text, state: "streaming" });
    const base = [frame(history("c1", [visitorMessage(1, "How long does shipping take?")])), aiTyping];
    const { rerender } = render(<></>);
    const view = (actions: ClientAction[]) => {
      const s = stateWith(actions);
      rerender(
        <ConversationView
          conversation={s.conversations.c1!}
          summary={undefined}
          session={session}
          connected
          actions={viewActions()}
        />,
      );
    };
    view(base);
    expect(screen.getByText("AI assistant is thinking…")).toBeInTheDocument();
    expect(document.querySelector(".msg--draft")).toBeNull();

    view([...base, draft("We ship "), draft("We ship within 1 business day")]);
    const log = screen.getByRole("log", { name: "Conversation history" });
    const items = within(log).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    const last = items[1]!;
    expect(last).toHaveClass("msg--draft");
    expect(last).toHaveAttribute("aria-busy", "true");
    expect(last).toHaveTextContent(/^AIAI assistantwriting…We ship within 1 business day$/);
    expect(screen.queryByText("AI assistant is thinking…")).toBeNull();

    view([...base, draft("We ship "), frame({ type: "event", conversation_id: "c1", event: aiMessage(2, "We ship within 1 business day.") })]);
    expect(document.querySelector(".msg--draft")).toBeNull();
    expect(within(screen.getByRole("log", { name: "Conversation history" })).getAllByRole("listitem")[1]).toHaveTextContent(
      "We ship within 1 business day.",
    );

    view([...base, draft("We ship "), frame({ type: "ai_draft", conversation_id: "c1", draft_id: "d1", epoch: 0, offset: 0, text: "", state: "discarded" })]);
    expect(document.querySelector(".msg--draft")).toBeNull();

    view([...base, draft("We ship "), frame({ type: "event", conversation_id: "c1", event: { seq: 2, at: 2, type: "operator_joined", operator: bob, epoch: 1 } })]);
    expect(document.querySelector(".msg--draft")).toBeNull();
  });

  it("does not tell the operator that they themselves are typing", () => {
    renderView(
      stateWith([
        frame(history("c1", [])),
        frame({ type: "typing", conversation_id: "c1", author: { kind: "operator", ...alice }, active: true }),
        frame({ type: "typing", conversation_id: "c1", author: { kind: "operator", ...bob }, active: true }),
      ]),
    );
    expect(screen.getByText("Bob Builder is typing…")).toBeInTheDocument();
    expect(screen.queryByText(/Alice Admin is typing/)).toBeNull();
  });

  it("shows each own message's delivery state and retries a failed one", async () => {
    const actions = renderView(
      stateWith([
        frame(history("c1", [], { control: { holder: { kind: "operator", ...alice }, epoch: 1 } })),
        { type: "message_queued", conversationId: "c1", clientId: "a", text: "first", at: 1 },
        { type: "message_queued", conversationId: "c1", clientId: "b", text: "second", at: 2 },
        { type: "message_queued", conversationId: "c1", clientId: "c", text: "third", at: 3 },
        frame({ type: "ack", conversation_id: "c1", client_id: "a", seq: 1 }),
        frame({ type: "event", conversation_id: "c1", event: operatorMessage(1, alice, "first", "a") }),
        frame({ type: "error", code: "message_too_long", message: "", retryable: false, conversation_id: "c1", client_id: "c" }),
      ]),
    );
    const log = screen.getByRole("log");
    expect(within(log).getByText("Sent")).toBeInTheDocument();
    expect(within(log).getByText("Sending…")).toBeInTheDocument();
    expect(within(log).getByRole("alert")).toHaveTextContent(/Not sent: The message text exceeds the length limit/);
    await userEvent.click(within(log).getByRole("button", { name: "Retry" }));
    expect(actions.retry).toHaveBeenCalledWith("c");
  });

  it("explains a refused takeover in words", () => {
    renderView(
      stateWith([
        frame(history("c1", [])),
        { type: "takeover_requested", conversationId: "c1" },
        frame({ type: "error", code: "plan_required", message: "", retryable: false, conversation_id: "c1" }),
      ]),
    );
    expect(screen.getByRole("alert")).toHaveTextContent("Take Control is a Pro feature");
  });
});

const note = (id: number, afterSeq: number, text: string, author = bob, clientId?: string): Note => ({
  id,
  after_seq: afterSeq,
  at: 10_000 + id,
  author: { id: author.id, name: author.name },
  text,
  ...(clientId !== undefined ? { client_id: clientId } : {}),
});

describe("ConversationView, internal notes", () => {
  it("puts each note after the event it was written after, then by id, styled apart with its author", () => {
    renderView(
      stateWith([
        frame(
          history("c1", [visitorMessage(1, "Where is my order?"), aiMessage(2, "Let me check."), visitorMessage(3, "Thanks")], {
            notes: [note(2, 1, "Second note after 1"), note(1, 1, "First note after 1"), note(3, 3, "After the last")],
          }),
        ),
        frame({ type: "note", conversation_id: "c1", note: note(4, 2, "Live, by me", alice) }),
        // A re-open's history repeats a note already shown: once only.
        frame(history("c1", [], { last_seq: 3, notes: [note(4, 2, "Live, by me", alice)] })),
      ]),
    );
    const items = within(screen.getByRole("log")).getAllByRole("listitem");
    expect(items.map((i) => i.textContent)).toEqual([
      expect.stringMatching(/Where is my order\?$/),
      expect.stringMatching(/^NoteBob Builder.*First note after 1$/),
      expect.stringMatching(/^NoteBob Builder.*Second note after 1$/),
      expect.stringMatching(/Let me check\.$/),
      expect.stringMatching(/^NoteAlice Admin \(you\).*Live, by me$/),
      expect.stringMatching(/Thanks$/),
      expect.stringMatching(/^Note.*After the last$/),
    ]);
    expect(items[1]).toHaveClass("note");
    expect(items[0]).not.toHaveClass("note");
  });

  it("shows a note being saved, then the stored one in its place; a refusal with Retry", async () => {
    const base: ClientAction[] = [
      frame(history("c1", [visitorMessage(1)])),
      { type: "note_queued", conversationId: "c1", clientId: "n-1", text: "VIP customer", at: 5 },
    ];
    const saving = renderView(stateWith(base));
    expect(within(screen.getByRole("log")).getByText("Saving…")).toBeInTheDocument();
    expect(saving.retryNote).not.toHaveBeenCalled();
    cleanup();

    const actions = renderView(
      stateWith([
        ...base,
        { type: "note_queued", conversationId: "c1", clientId: "n-2", text: "Too many", at: 6 },
        frame({ type: "note", conversation_id: "c1", note: note(1, 1, "VIP customer", alice, "n-1") }),
        frame({ type: "error", code: "limit_reached", message: "", retryable: false, conversation_id: "c1", client_id: "n-2" }),
      ]),
    );
    const log = screen.getByRole("log");
    expect(within(log).queryByText("Saving…")).toBeNull();
    expect(within(log).getAllByText("VIP customer")).toHaveLength(1);
    expect(within(log).getByRole("alert")).toHaveTextContent(/Not saved: .*at most 500 internal notes/);
    await userEvent.click(within(log).getByRole("button", { name: "Retry" }));
    expect(actions.retryNote).toHaveBeenCalledWith("n-2");
  });

  it("keeps the composer usable for notes while someone else holds the conversation", async () => {
    const actions = renderView(stateWith([frame(history("c1", [], { control: operatorControl(bob, 3) }))]));
    expect(screen.getByText(/Controlled by/)).toHaveTextContent("Controlled by Bob Builder");
    expect(screen.queryByRole("textbox", { name: "Message to the visitor" })).toBeNull();
    await userEvent.type(screen.getByRole("textbox", { name: "Internal note" }), "Bob, the refund is approved{Enter}");
    expect(actions.note).toHaveBeenCalledWith("Bob, the refund is approved");
    expect(actions.send).not.toHaveBeenCalled();
  });

  it("offers no composer on a plan without Take Control, where the hub refuses notes too", () => {
    const basic: Session = { ...session, workspace: { ...session.workspace, plan: "basic" } };
    renderView(stateWith([frame(history("c1", [visitorMessage(1)]))]), { sessionOf: basic });
    expect(screen.getByRole("button", { name: "Take Control" })).toHaveAttribute("aria-disabled", "true");
    expect(screen.queryByRole("textbox")).toBeNull();
  });
});

describe("ConversationView, read-only conversations", () => {
  it("a conversation out of the Online list whose visitor left: no Take Control, no Reply, notes allowed", async () => {
    const actions = renderView(stateWith([frame(history("c1", [visitorMessage(1, "Old question")], { visitor_online: false }))]));
    expect(screen.getByText("Read-only")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Take Control" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Reply" })).toBeDisabled();
    await userEvent.type(screen.getByRole("textbox", { name: "Internal note" }), "Customer called back{Enter}");
    expect(actions.note).toHaveBeenCalledWith("Customer called back");
  });

  it("offers Take Control again once the visitor is back (in the Online list)", () => {
    renderView(stateWith([frame(history("c1", [visitorMessage(1)], { visitor_online: false }))]), {
      summary: summary("c1", { visitor_online: true }),
    });
    expect(screen.queryByText("Read-only")).toBeNull();
    expect(screen.getByRole("button", { name: "Take Control" })).toBeEnabled();
  });

  it("lets the holder reply in a conversation of the Online list even while its visitor is briefly away", () => {
    renderView(stateWith([frame(history("c1", [], { visitor_online: false, control: operatorControl(alice, 1) }))]), {
      summary: summary("c1", { visitor_online: false }),
    });
    expect(screen.getByRole("textbox", { name: "Message to the visitor" })).toBeInTheDocument();
  });
});

describe("ConversationView, visitor panel", () => {
  const context = {
    url: "https://shop.example/orders/1042",
    title: "Order #1042",
    referrer: "javascript:alert(document.cookie)",
    language: "de-CH",
    time_zone: "Europe/Zurich",
  };

  it("shows the page as a link, a javascript: referrer as text only, the language and the visitor's local time", () => {
    renderView(stateWith([frame(history("c1", [], { context }))]));
    const panel = screen.getByRole("complementary", { name: "About the visitor" });
    const link = within(panel).getByRole("link", { name: "https://shop.example/orders/1042" });
    expect(link).toHaveAttribute("href", "https://shop.example/orders/1042");
    expect(within(panel).getByText("Order #1042")).toBeInTheDocument();
    expect(within(panel).getByText("javascript:alert(document.cookie)").closest("a")).toBeNull();
    expect(panel.querySelectorAll("a")).toHaveLength(1);
    expect(panel.innerHTML).not.toMatch(/href="javascript/i);
    expect(within(panel).getByText(/de-CH/)).toBeInTheDocument();
    // 12:00 UTC in January is 13:00 in Zurich, in whatever format this browser's locale writes it.
    const options = { weekday: "short", hour: "2-digit", minute: "2-digit" } as const;
    const zurich = new Intl.DateTimeFormat(undefined, { ...options, timeZone: "Europe/Zurich" }).format(Date.UTC(2026, 0, 5, 12, 0));
    const utc = new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" }).format(Date.UTC(2026, 0, 5, 12, 0));
    expect(zurich).not.toBe(utc);
    expect(panel.querySelector('[data-fact="time"] dd')).toHaveTextContent(`${zurich} (Europe/Zurich)`);
  });

  it("follows the visitor to another page live", () => {
    renderView(
      stateWith([
        frame(history("c1", [], { context })),
        frame({ type: "visitor_context", conversation_id: "c1", context: { ...context, url: "https://shop.example/returns", title: "Returns" } }),
      ]),
    );
    const panel = screen.getByRole("complementary", { name: "About the visitor" });
    expect(within(panel).getByRole("link", { name: "https://shop.example/returns" })).toBeInTheDocument();
    expect(within(panel).getByText("Returns")).toBeInTheDocument();
    expect(within(panel).queryByText("Order #1042")).toBeNull();
  });

  it("survives a time zone the browser does not know", () => {
    renderView(stateWith([frame(history("c1", [], { context: { time_zone: "Mars/Olympus_Mons" } }))]));
    expect(document.querySelector('[data-fact="time"] dd')).toHaveTextContent("unknown (Mars/Olympus_Mons)");
  });

  it("lists earlier conversations and opens one on click", async () => {
    const earlier = [summary("c0", { last_message: { author: "visitor", text: "My parcel never came" }, visitor_online: false })];
    const actions = renderView(stateWith([frame(history("c1", [], { earlier }))]));
    await userEvent.click(screen.getByRole("button", { name: /My parcel never came/ }));
    expect(actions.open).toHaveBeenCalledWith("c0");
  });
});
