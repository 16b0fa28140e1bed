import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { reduce, type ClientAction } from "../client/reducer";
import { initialState, type ClientState, type Session } from "../client/state";
import type { ServerFrame } from "../protocol/frames";
import { aiMessage, alice, bob, history, operatorMessage, visitorMessage } from "../test/fixtures";
import { ConversationView } from "./ConversationView";

const session: Session = {
  operator: { id: alice.id, name: alice.name, role: "operator", workspace_id: "ws" },
  workspace: { id: "ws", name: "Acme", plan: "pro" },
  heartbeatMs: 30_000,
};

const frame = (f: ServerFrame): ClientAction => ({ type: "frame", frame: f });

function stateWith(actions: ClientAction[]): ClientState {
  return [{ type: "open_requested", conversationId: "c1" } as ClientAction, ...actions].reduce(reduce, initialState);
}

function renderView(state: ClientState) {
  const actions = {
    takeover: vi.fn(),
    release: vi.fn(),
    send: vi.fn(),
    setTyping: vi.fn(),
    retry: vi.fn(),
    dismissError: vi.fn(),
  };
  render(
    <ConversationView conversation={state.conversations.c1!} summary={undefined} session={session} connected actions={actions} />,
  );
  return actions;
}

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
          actions={{ takeover: vi.fn(), release: vi.fn(), send: vi.fn(), setTyping: vi.fn(), retry: vi.fn(), dismissError: vi.fn() }}
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
