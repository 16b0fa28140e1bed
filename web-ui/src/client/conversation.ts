/**
 * One conversation's state as the dashboard keeps it: its events gap-free and each once, the
 * AI's draft assembled from its pieces (and fenced by control epoch), typing, control and the
 * outbox of messages not yet acknowledged. Pure transitions, used by `reducer.ts`; what the widget
 * keeps alike (events each once, the resume point, control by epoch, the draft's frames, the
 * outbox) is in `events.ts`, which both import.
 */
import type { ConversationEvent, ConversationSummary, ServerFrame } from "../protocol/frames";
import { advanceLastSeq, applyDraftFrame, hasSeq, insertEvents, newerControl, updateOutbox } from "./events";
import { abandonSuggestion } from "./assist";
import { windowRows, type OnlineState } from "./online";
import {
  emptyConversation,
  type ClientState,
  type ConversationState,
  type OutgoingMessage,
  type TransferRequest,
  type TypingState,
} from "./state";

export const noTyping: TypingState = { visitor: false, ai: false, operators: [] };

/** The draft's bubble goes, and late frames of it are ignored. */
export function endDraft(c: ConversationState): Pick<ConversationState, "draft" | "endedDraft"> {
  return { draft: null, endedDraft: c.draft?.id ?? c.endedDraft };
}

/** `ai_draft`: the shared rule (`events.ts`) applied to this conversation's draft. */
export function applyDraft(c: ConversationState, frame: Extract<ServerFrame, { type: "ai_draft" }>): ConversationState {
  const next = applyDraftFrame(c, c.control, frame);
  return next === null ? c : { ...c, ...next };
}

export function applyLiveEvent(c: ConversationState, event: ConversationEvent): ConversationState {
  if (hasSeq(c, event.seq)) return c; // duplicate (e.g. history and live frame overlapping)
  const gap = c.loaded && event.seq > c.lastSeq + 1;
  let next = advanceLastSeq(insertEvents(c, [event]));
  if (gap && next.lastSeq < event.seq) next = { ...next, resyncFrom: next.lastSeq };
  switch (event.type) {
    case "message": {
      const author = event.author;
      const typing: TypingState =
        author.kind === "visitor"
          ? { ...next.typing, visitor: false }
          : author.kind === "ai"
            ? { ...next.typing, ai: false }
            : { ...next.typing, operators: next.typing.operators.filter((o) => o.id !== author.id) };
      const clientId = event.client_id;
      const outbox =
        clientId === undefined
          ? next.outbox
          : next.outbox.map((m) =>
              // The event proves the message was stored even when its `ack` was lost.
              m.clientId === clientId && m.status !== "sent" ? { ...m, status: "sent" as const, seq: event.seq, error: null } : m,
            );
      // The holder writing is the activity that keeps control: the idle warning no longer applies.
      const idleWarning = author.kind === "operator" ? null : next.idleWarning;
      // The stored AI reply replaces its draft.
      const drafts = author.kind === "ai" ? endDraft(next) : {};
      return { ...next, typing, outbox, idleWarning, ...drafts };
    }
    case "operator_joined":
      return {
        ...next,
        control: newerControl(next.control, {
          holder: { kind: "operator", ...event.operator },
          epoch: event.epoch,
        }),
        needsHuman: false,
        idleWarning: null,
        // A takeover cancels the reply being written; the AI's "typing: false" is not relayed
        // after the join (protocol.md), so its "thinking…" ends here too, as in the widget.
        typing: { ...next.typing, ai: false },
        ...endDraft(next),
      };
    case "operator_left":
      return {
        ...next,
        control: newerControl(next.control, { holder: { kind: "ai" }, epoch: event.epoch }),
        idleWarning: null,
      };
    case "operator_transferred":
      // One step from holder to holder: the AI never holds it in between, so no draft to end.
      // The warning was about the previous holder's idleness; the one who left types no more.
      return {
        ...next,
        control: newerControl(next.control, { holder: { kind: "operator", ...event.to }, epoch: event.epoch }),
        needsHuman: false,
        idleWarning: null,
        typing: { ...next.typing, operators: next.typing.operators.filter((o) => o.id !== event.from.id) },
      };
    case "human_requested":
      return { ...next, needsHuman: true };
    case "human_request_expired":
    case "outside_hours":
      // Nobody took it within the hub's wait, or nobody is at work (nobody was alerted): the AI
      // carries on, the request is over.
      return { ...next, needsHuman: false };
    case "follow_up_email":
      // The `follow_up` frame that comes with it carries the address for the banner.
      return next;
  }
}

export function applyTyping(typing: TypingState, frame: Extract<ServerFrame, { type: "typing" }>): TypingState {
  const author = frame.author;
  switch (author.kind) {
    case "visitor":
      return { ...typing, visitor: frame.active };
    case "ai":
      return { ...typing, ai: frame.active };
    case "operator": {
      const others = typing.operators.filter((o) => o.id !== author.id);
      const { kind: _kind, ...ref } = author;
      return { ...typing, operators: frame.active ? [...others, ref] : others };
    }
  }
}

/** Whether a conversation waits for an operator: asked for a human and still with the AI. */
export function waitsForHuman(c: ConversationSummary): boolean {
  return c.needs_human && c.control.holder.kind === "ai";
}

/**
 * After an `online_view`: alert when more conversations wait for a human than before (anywhere
 * in the list, as `counts` says), or when a row of the window that was known not to wait now
 * does (one started waiting while another stopped: the count alone would not move). Rows merely
 * scrolled into the window alert nobody.
 */
export function withAlert(state: ClientState, before: OnlineState, after: OnlineState): ClientState {
  const waitingBefore = before.view?.counts.needs_human ?? 0;
  const waiting = after.view?.counts.needs_human ?? waitingBefore;
  // Counts are compared within one search only: clearing a search is no newcomer.
  const rose = waiting > waitingBefore && (before.view === null || before.view.query === after.view?.query);
  const fresh: ConversationSummary[] = [];
  for (const row of windowRows(after)) {
    if (!waitsForHuman(row)) continue;
    const prev = before.rows[row.id] ?? before.seen[row.id];
    if (prev ? !waitsForHuman(prev) : rose) fresh.push(row);
  }
  if (!rose && fresh.length === 0) return state;
  return { ...state, alert: { id: (state.alert?.id ?? 0) + 1, conversations: fresh, waiting } };
}

/** The socket went: nothing it was waiting for will be answered on it. */
export function settle(c: ConversationState): ConversationState {
  return {
    ...c,
    typing: noTyping,
    pending: null,
    transfer: abandonTransfer(c.transfer),
    suggestion: abandonSuggestion(c),
    ...endDraft(c),
  };
}

/**
 * A transfer whose answer went with the socket may or may not have happened: the resumed
 * `history` says who holds the conversation now, and the dialog says to look before trying again.
 */
function abandonTransfer(t: TransferRequest | null): TransferRequest | null {
  if (t?.status !== "sending") return t;
  const text = "The connection dropped before the hub answered. Check who handles the conversation now, then try again.";
  return { status: "refused", to: t.to, error: { code: "unavailable", text } };
}

export function failSending(c: ConversationState, text: string): ConversationState {
  if (!c.outbox.some((m) => m.status === "sending")) return c;
  return {
    ...c,
    outbox: c.outbox.map((m) =>
      m.status === "sending" ? { ...m, status: "failed" as const, error: { code: "unavailable" as const, text } } : m,
    ),
  };
}

export function updateConversation(
  state: ClientState,
  id: string,
  f: (c: ConversationState) => ConversationState,
): ClientState {
  const current = state.conversations[id] ?? emptyConversation(id);
  const next = f(current);
  if (next === current && state.conversations[id]) return state;
  return { ...state, conversations: { ...state.conversations, [id]: next } };
}

export function updateOutgoing(
  state: ClientState,
  conversationId: string,
  clientId: string,
  f: (m: OutgoingMessage) => OutgoingMessage,
): ClientState {
  const c = state.conversations[conversationId];
  if (!c || !c.outbox.some((m) => m.clientId === clientId)) return state;
  return updateConversation(state, conversationId, (conv) => ({
    ...conv,
    outbox: updateOutbox(conv.outbox, clientId, f),
  }));
}

export function mapConversations(
  all: Record<string, ConversationState>,
  f: (c: ConversationState) => ConversationState,
): Record<string, ConversationState> {
  const out: Record<string, ConversationState> = {};
  for (const [id, c] of Object.entries(all)) out[id] = f(c);
  return out;
}
