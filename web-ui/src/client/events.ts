/**
 * What the dashboard (`conversation.ts`) and the visitor widget (`widget/reducer.ts`) keep of a
 * conversation alike: its events in seq order, each once, with the resume point; control by
 * epoch; the AI's reply in progress; the outbox of messages awaiting their `ack`. Pure and
 * generic over each client's own state, and small on purpose: the widget's bundle carries it to
 * every customer's page.
 */
import type { ConversationEvent, ControlState, ServerFrame } from "../protocol/frames";
import { applyPiece } from "./draftText";

/** The part of a conversation's state these helpers read and write. */
export interface EventLog {
  /** Ascending by seq, each seq once. */
  events: ConversationEvent[];
  /** Every event up to this seq is in `events`: the resume point. */
  lastSeq: number;
}

export function hasSeq(log: EventLog, seq: number): boolean {
  return seq <= log.lastSeq || log.events.some((e) => e.seq === seq);
}

/** Merge events into the seq-ordered list, dropping seqs already present. */
export function insertEvents<T extends EventLog>(log: T, incoming: ConversationEvent[]): T {
  const fresh = incoming.filter((e) => !hasSeq(log, e.seq));
  if (fresh.length === 0) return log;
  const bySeq = new Map<number, ConversationEvent>();
  for (const e of log.events) bySeq.set(e.seq, e);
  for (const e of fresh) if (!bySeq.has(e.seq)) bySeq.set(e.seq, e);
  return { ...log, events: [...bySeq.values()].sort((a, b) => a.seq - b.seq) };
}

/** Move `lastSeq` over every contiguous event after it. */
export function advanceLastSeq<T extends EventLog>(log: T): T {
  let last = log.lastSeq;
  for (const e of log.events) {
    if (e.seq === last + 1) last = e.seq;
    else if (e.seq > last + 1) break;
  }
  return last === log.lastSeq ? log : { ...log, lastSeq: last };
}

/** Control changes carry an epoch; an older answer arriving late must not undo a newer one. */
export function newerControl(current: ControlState | null, incoming: ControlState): ControlState {
  return current === null || incoming.epoch >= current.epoch ? incoming : current;
}

/** The AI's reply while it is being written, assembled from its pieces (`draftText.ts`). */
export interface Draft {
  /** The hub's `draft_id`; a frame with another id replaces the draft. */
  id: string;
  text: string;
  /** Every piece was placed (a gap waits for the hub's snapshot). */
  complete: boolean;
  /** The control epoch it was started under. */
  epoch: number;
}

/** The draft shown and the last one that ended (its late frames must not bring it back). */
export interface DraftSlot {
  draft: Draft | null;
  endedDraft: string | null;
}

/**
 * `ai_draft`: `streaming` pieces placed by offset (another id replaces the draft), then `done`
 * or `discarded`. `null` when the frame changes nothing.
 */
export function applyDraftFrame(
  slot: DraftSlot,
  control: ControlState | null,
  frame: Extract<ServerFrame, { type: "ai_draft" }>,
): DraftSlot | null {
  const current = slot.draft;
  if (frame.state !== "streaming") {
    // Only the draft it names ends; a newer one keeps growing.
    const draft = current?.id === frame.draft_id ? null : current;
    if (draft === current && slot.endedDraft === frame.draft_id) return null;
    return { draft, endedDraft: frame.draft_id };
  }
  // A late frame of a reply already finished or cancelled, or of one cancelled by a takeover
  // (while an operator holds the conversation the AI writes nothing): not shown.
  if (frame.draft_id === slot.endedDraft || control?.holder.kind === "operator") return null;
  // Started before a change of control we have seen (a takeover, then a hand-back): the AI's
  // turn it belongs to is over.
  if (control !== null && frame.epoch < control.epoch) return null;
  const base = current?.id === frame.draft_id ? current : { text: "", complete: true };
  const next = applyPiece(base, frame.offset, frame.text);
  if (next === base && current?.id === frame.draft_id) return null;
  return { draft: { id: frame.draft_id, text: next.text, complete: next.complete, epoch: frame.epoch }, endedDraft: slot.endedDraft };
}

/** `f` applied to the outgoing message `clientId`; the same array when nothing changed. */
export function updateOutbox<M extends { clientId: string }>(outbox: M[], clientId: string, f: (m: M) => M): M[] {
  let changed = false;
  const next = outbox.map((m) => {
    if (m.clientId !== clientId) return m;
    const updated = f(m);
    if (updated !== m) changed = true;
    return updated;
  });
  return changed ? next : outbox;
}
