/**
 * `ConversationView` over a live client state, for component tests: what only changes the state
 * (the composer's text, the brief folded, a suggestion inserted, Suggest asked) goes through
 * `reduce`, as the dashboard's `HubClient` does; everything else is a recorded mock. Tests only.
 */
import { act, render } from "@testing-library/react";
import { useState } from "react";
import { vi } from "vitest";
import { reduce, type ClientAction } from "../client/reducer";
import { initialState, type ClientState, type Session } from "../client/state";
import type { ConversationSummary, ServerFrame } from "../protocol/frames";
import { ConversationView, type ConversationActions } from "../ui/ConversationView";
import { FilesContext } from "../ui/Attachments";
import type { FilesApi } from "../api/files";
import { alice } from "./fixtures";

export const session: Session = {
  operator: { id: alice.id, name: alice.name, role: "operator", workspace_id: "ws" },
  workspace: { id: "ws", name: "Acme", plan: "pro" },
  heartbeatMs: 30_000,
};

export const frame = (f: ServerFrame): ClientAction => ({ type: "frame", frame: f });

/** Signed in as Alice (`session`), with conversation c1 open, after `actions`. */
export function stateWith(actions: ClientAction[]): ClientState {
  const start: ClientAction[] = [
    { type: "frame", frame: { type: "ready", protocol: 1, operator: session.operator, workspace: session.workspace, heartbeat_ms: 30_000 } },
    { type: "open_requested", conversationId: "c1" },
  ];
  return [...start, ...actions].reduce(reduce, initialState);
}

export function viewActions() {
  return {
    takeover: vi.fn(),
    release: vi.fn(),
    send: vi.fn(),
    note: vi.fn(),
    setTyping: vi.fn(),
    retry: vi.fn(),
    retryNote: vi.fn(),
    dismissError: vi.fn(),
    open: vi.fn(),
    loadReplies: vi.fn(),
    loadColleagues: vi.fn(),
    transfer: vi.fn(),
    dismissTransfer: vi.fn(),
    setComposer: vi.fn(),
    toggleBrief: vi.fn(),
    suggest: vi.fn(),
    insertSuggestion: vi.fn(),
    dismissSuggestion: vi.fn(),
    useInterrupted: vi.fn(),
    discardInterrupted: vi.fn(),
    dismissInterrupted: vi.fn(),
    attach: vi.fn(),
    removeFile: vi.fn(),
  } satisfies ConversationActions;
}

export type ViewMocks = ReturnType<typeof viewActions>;

export interface ViewOptions {
  summary?: ConversationSummary;
  now?: number;
  sessionOf?: Session;
  nameOf?: (id: string) => string | undefined;
  connected?: boolean;
  /** The files API the timeline's attachments ask for links (none: they show as unavailable). */
  files?: FilesApi;
}

interface Handle {
  dispatch: (a: ClientAction) => void;
  state: ClientState;
}

function LiveView({ initial, mocks, handle, over }: { initial: ClientState; mocks: ViewMocks; handle: Handle; over: ViewOptions }) {
  const [state, setState] = useState(initial);
  const dispatch = (a: ClientAction) => setState((s) => reduce(s, a));
  handle.dispatch = dispatch;
  handle.state = state;
  const conversationId = "c1";
  const local =
    <K extends keyof ViewMocks>(key: K, action: ClientAction) =>
    () => {
      (mocks[key] as () => void)();
      dispatch(action);
    };
  const actions: ConversationActions = {
    ...mocks,
    setComposer: (text) => {
      mocks.setComposer(text);
      dispatch({ type: "composer_changed", conversationId, text });
    },
    toggleBrief: local("toggleBrief", { type: "brief_toggled", conversationId }),
    suggest: local("suggest", { type: "suggest_requested", conversationId }),
    insertSuggestion: local("insertSuggestion", { type: "suggestion_inserted", conversationId }),
    dismissSuggestion: local("dismissSuggestion", { type: "suggestion_dismissed", conversationId }),
    useInterrupted: local("useInterrupted", { type: "interrupted_used", conversationId }),
    discardInterrupted: local("discardInterrupted", { type: "interrupted_discarded", conversationId }),
    dismissInterrupted: local("dismissInterrupted", { type: "interrupted_dismissed", conversationId }),
  };
  return (
    <FilesContext.Provider value={over.files ?? null}>
      <ConversationView
        conversation={state.conversations[conversationId]!}
        summary={over.summary}
        session={over.sessionOf ?? session}
        connected={over.connected ?? true}
        now={over.now ?? Date.UTC(2026, 0, 5, 12, 0)}
        actions={actions}
        {...(over.nameOf ? { nameOf: over.nameOf } : {})}
      />
    </FilesContext.Provider>
  );
}

/**
 * Renders conversation c1 of `state`. The mocks record every action; `push` applies more actions
 * (a frame arriving, say) to the live state; `state()` is the state shown.
 */
export function renderView(state: ClientState, over: ViewOptions = {}) {
  const mocks = viewActions();
  const handle: Handle = { dispatch: () => {}, state };
  const { unmount } = render(<LiveView initial={state} mocks={mocks} handle={handle} over={over} />);
  return Object.assign(mocks, {
    unmount,
    push: (...actions: ClientAction[]) => act(() => actions.forEach((a) => handle.dispatch(a))),
    state: () => handle.state,
  });
}
