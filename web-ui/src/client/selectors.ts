/** Derived views of `ClientState`, kept pure so the ordering and status rules are unit-tested. */
import type { ConversationEvent, ConversationSummary, FollowUpRow, Note, Plan, Role } from "../protocol/frames";
import { answerableAway } from "./followUps";
import { waitsForHuman } from "./conversation";
import { roleSeesTeam } from "./reducer";
import { knownSummary, onlineSummary } from "./desk";
import { windowRows } from "./online";
import type { AiDraft, ClientState, ConversationState, OutgoingMessage, OutgoingNote, Session } from "./state";

export { knownSummary, onlineSummary, roleSeesTeam, waitsForHuman };

/** The Online window's rows in the hub's order (waiting for a human first, then the most recent). */
export function sortedOnline(state: ClientState): ConversationSummary[] {
  return windowRows(state.online);
}

/** How many conversations wait for a human, in the whole list: the count in the tab title. */
export function waitingCount(state: ClientState): number {
  return state.online.view?.counts.needs_human ?? 0;
}

/** Events the operator has not looked at yet (messages and notices alike). */
export function unreadCount(state: ClientState, summary: ConversationSummary): number {
  return Math.max(0, summary.last_seq - (state.seen[summary.id] ?? 0));
}

export function planHasTakeControl(plan: Plan): boolean {
  return plan === "pro" || plan === "business";
}

export function roleMayForceRelease(role: Role): boolean {
  return role === "owner" || role === "editor";
}

/** Who holds the conversation, from the signed-in operator's point of view. */
export type ControlView =
  | { kind: "unknown" }
  | { kind: "ai" }
  | { kind: "self" }
  | { kind: "other"; name: string; id?: string };

export function controlView(c: ConversationState, session: Session | null): ControlView {
  const holder = c.control?.holder;
  if (!holder) return { kind: "unknown" };
  if (holder.kind === "ai") return { kind: "ai" };
  if (session && holder.id === session.operator.id) return { kind: "self" };
  return { kind: "other", name: holder.name, id: holder.id };
}

/**
 * Who may hand a conversation to a teammate: its holder, and owners and editors for one someone
 * else holds (the hub's rule; it refuses others with `not_holder` / `role_required`).
 */
export function mayTransfer(control: ControlView, role: Role): boolean {
  return control.kind === "self" || (control.kind === "other" && roleMayForceRelease(role));
}

export type TimelineItem =
  | { kind: "event"; event: ConversationEvent; delivery: OutgoingMessage | null }
  | { kind: "pending"; message: OutgoingMessage }
  | { kind: "note"; note: Note }
  | { kind: "pending_note"; note: OutgoingNote };

/**
 * The conversation as shown: stored events in seq order, each own message carrying its delivery
 * state, each internal note right after the event it was written after (then by id), then what
 * the hub has not stored yet (messages and notes, sending or failed), in the order written.
 */
export function timeline(c: ConversationState): TimelineItem[] {
  const items = withNotes(eventsAndPending(c), c.notes);
  const pendingNotes: TimelineItem[] = c.noteOutbox.map((note) => ({ kind: "pending_note", note }));
  if (pendingNotes.length === 0) return items;
  const firstPending = items.findIndex((i) => i.kind === "pending");
  const stored = firstPending === -1 ? items : items.slice(0, firstPending);
  const pending = firstPending === -1 ? [] : items.slice(firstPending);
  const unsent = [...pending, ...pendingNotes].sort((a, b) => writtenAt(a) - writtenAt(b));
  return [...stored, ...unsent];
}

function writtenAt(item: TimelineItem): number {
  return item.kind === "pending" ? item.message.createdAt : item.kind === "pending_note" ? item.note.createdAt : 0;
}

/** Notes are never events: each goes after the last event with seq ≤ its `after_seq`. */
function withNotes(items: TimelineItem[], notes: Note[]): TimelineItem[] {
  if (notes.length === 0) return items;
  const sorted = [...notes].sort((a, b) => a.after_seq - b.after_seq || a.id - b.id);
  const out: TimelineItem[] = [];
  let n = 0;
  for (const item of items) {
    if (item.kind === "event") {
      while (n < sorted.length && sorted[n]!.after_seq < item.event.seq) out.push({ kind: "note", note: sorted[n++]! });
    } else {
      // The unsent messages come last: every stored note reads before them.
      while (n < sorted.length) out.push({ kind: "note", note: sorted[n++]! });
    }
    out.push(item);
  }
  while (n < sorted.length) out.push({ kind: "note", note: sorted[n++]! });
  return out;
}

function eventsAndPending(c: ConversationState): TimelineItem[] {
  const byClientId = new Map<string, OutgoingMessage>();
  const bySeq = new Map<number, OutgoingMessage>();
  for (const m of c.outbox) {
    byClientId.set(m.clientId, m);
    if (m.seq !== null) bySeq.set(m.seq, m);
  }
  const shown = new Set<string>();
  const items: TimelineItem[] = c.events.map((event) => {
    // Match by client id when the hub echoes it, else by the seq the `ack` gave us.
    const delivery =
      event.type === "message"
        ? ((event.client_id !== undefined ? byClientId.get(event.client_id) : undefined) ?? bySeq.get(event.seq) ?? null)
        : null;
    if (delivery) shown.add(delivery.clientId);
    return { kind: "event", event, delivery };
  });
  for (const m of c.outbox) {
    if (!shown.has(m.clientId)) items.push({ kind: "pending", message: m });
  }
  return items;
}

/** The AI's reply being written, once it has words (before that the typing line says "thinking"). */
export function visibleDraft(c: ConversationState): AiDraft | null {
  return c.draft && c.draft.text.trim() !== "" ? c.draft : null;
}

/**
 * Read-only: neither seen on the Online list (`online`: its row in the window, or seen there
 * lately) nor with its visitor connected (a Recent or search result). Take Control and replies
 * wait for the visitor to come back; notes stay open. Not so for a conversation waiting for
 * follow-up or whose visitor left an email: answering it is what the follow-up is for (the
 * answer is emailed while the visitor is away).
 */
export function isReadOnly(c: ConversationState, online: ConversationSummary | undefined): boolean {
  if (online || answerableAway(c)) return false;
  return c.loaded && !c.visitorOnline;
}

/**
 * The Follow-up view's rows, the longest waiting first, each with the freshest summary the
 * dashboard has (the Online list follows presence and the last message live; the list's own
 * summary is as old as its answer).
 */
export function followUpRows(state: ClientState): FollowUpRow[] {
  return state.followUps.rows.map((r) => {
    const live = onlineSummary(state, r.conversation.id);
    return live ? { ...r, conversation: live } : r;
  });
}

/** How many conversations wait for follow-up: the Follow-up tab's count (none until the list came). */
export function followUpCount(state: ClientState): number {
  return state.followUps.status === "loaded" ? state.followUps.rows.length : 0;
}
