/**
 * What the assistant does for the operator beside the chat: the brief for the team, the reply a
 * takeover interrupted, and suggested replies; and the composer's text they are put into. Pure
 * transitions, used by `reducer.ts`. None of it reaches the visitor unless the operator sends it.
 */
import type { ErrorCode } from "../protocol/codes";
import type { BriefState, ControlState, ServerFrame } from "../protocol/frames";
import type { ConversationState, Notice } from "./state";
import { isBlank } from "./visible";

// --- the composer ----------------------------------------------------------------------------

/** `text` put into the box: the box's text when it shows nothing, else after it and a blank line. */
export function insertIntoComposer(box: string, text: string): string {
  return isBlank(box) ? text : `${box.replace(/\s+$/u, "")}\n\n${text}`;
}

export function changeComposer(c: ConversationState, text: string): ConversationState {
  if (text === c.composer) return c;
  // Cleared (or sent): the hint about the AI's text in the box has nothing left to point at.
  const interrupted = c.interrupted?.status === "placed" && isBlank(text) ? null : c.interrupted;
  return { ...c, composer: text, interrupted };
}

// --- the interrupted reply -------------------------------------------------------------------

/**
 * `interrupted_reply`: into the box when it is empty, else offered beside it (what the operator
 * wrote is never overwritten). The hub sends it to the operator who took over alone, just before
 * or after their `control` answer, so the control known here may still be the AI's: only a
 * conversation known to be someone else's now is not offered.
 */
export function offerInterrupted(
  c: ConversationState,
  frame: Extract<ServerFrame, { type: "interrupted_reply" }>,
  selfId: string | undefined,
): ConversationState {
  if (frame.draft_id === c.lastInterrupted || isBlank(frame.text)) return c;
  const holder = c.control?.holder;
  if (holder?.kind === "operator" && holder.id !== selfId) return c;
  const base = { draftId: frame.draft_id, text: frame.text };
  if (isBlank(c.composer)) {
    return { ...c, composer: frame.text, interrupted: { status: "placed", ...base, before: c.composer }, lastInterrupted: frame.draft_id };
  }
  return { ...c, interrupted: { status: "offered", ...base }, lastInterrupted: frame.draft_id };
}

/** "Use the AI's interrupted reply": after what the box holds, then hinted at like a placed one. */
export function placeInterrupted(c: ConversationState): ConversationState {
  const i = c.interrupted;
  if (i?.status !== "offered") return c;
  return {
    ...c,
    composer: insertIntoComposer(c.composer, i.text),
    interrupted: { status: "placed", draftId: i.draftId, text: i.text, before: c.composer },
  };
}

/** Discard: the box goes back to what it held before the AI's text came in. */
export function discardInterrupted(c: ConversationState): ConversationState {
  const i = c.interrupted;
  if (i === null) return c;
  return { ...c, composer: i.status === "placed" ? i.before : c.composer, interrupted: null };
}

export function dismissInterrupted(c: ConversationState): ConversationState {
  return c.interrupted === null ? c : { ...c, interrupted: null };
}

// --- the brief -------------------------------------------------------------------------------

function briefTime(b: BriefState): number {
  return b.state === "pending" ? b.since : b.at;
}

/**
 * The brief to show: the incoming one, unless it is older than the one shown (a `history` read
 * before a live `brief` frame arrived, a late frame of another node). At the same millisecond a
 * result wins over the pending it ends.
 */
export function newerBrief(current: BriefState | null, incoming: BriefState): BriefState {
  if (current === null) return incoming;
  const was = briefTime(current);
  const now = briefTime(incoming);
  if (now !== was) return now > was ? incoming : current;
  return incoming.state === "pending" && current.state !== "pending" ? current : incoming;
}

export function applyBrief(c: ConversationState, incoming: BriefState | undefined): ConversationState {
  if (incoming === undefined) return c; // a history without one: nothing was made (or it is unchanged)
  const brief = newerBrief(c.brief, incoming);
  return brief === c.brief ? c : { ...c, brief };
}

export function toggleBrief(c: ConversationState): ConversationState {
  return { ...c, briefCollapsed: !c.briefCollapsed };
}

// --- suggestions -----------------------------------------------------------------------------

/** Codes the hub answers a `suggest` with (protocol.md); others are about something else. */
const SUGGEST_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["no_suggestion", "unavailable", "not_holder", "not_controlled", "rate_limited", "internal"]);

export function requestSuggestion(c: ConversationState): ConversationState {
  return { ...c, suggestion: { status: "pending" } };
}

/** `suggestion`: the answer to the Suggest awaited; not shown once the operator no longer holds it. */
export function applySuggestion(c: ConversationState, text: string, selfId: string | undefined): ConversationState {
  if (c.suggestion?.status !== "pending") return c;
  return { ...c, suggestion: holds(c.control, selfId) ? { status: "ready", text } : null };
}

/**
 * Whether an `error` for this conversation answers its Suggest. Errors carry no request id: it
 * does when a Suggest is awaited, no takeover, release or transfer is (their refusals share
 * codes), and the code is one a `suggest` is refused with.
 */
export function refusesSuggestion(c: ConversationState | undefined, code: ErrorCode): c is ConversationState {
  return c !== undefined && c.suggestion?.status === "pending" && c.pending === null && SUGGEST_REFUSALS.has(code);
}

export function refuseSuggestion(c: ConversationState, error: Notice): ConversationState {
  return { ...c, suggestion: { status: "refused", error } };
}

/** Insert: the suggestion into the box, for the operator to edit and send (or not). */
export function insertSuggestion(c: ConversationState): ConversationState {
  const s = c.suggestion;
  if (s?.status !== "ready") return c;
  return { ...c, composer: insertIntoComposer(c.composer, s.text), suggestion: null };
}

export function dismissSuggestion(c: ConversationState): ConversationState {
  return c.suggestion === null ? c : { ...c, suggestion: null };
}

/** The socket went with the Suggest's answer: say so, rather than wait forever. */
export function abandonSuggestion(c: ConversationState): ConversationState["suggestion"] {
  if (c.suggestion?.status !== "pending") return c.suggestion;
  return {
    status: "refused",
    error: { code: "unavailable", text: "The connection dropped before the assistant answered. Ask again once you are back online." },
  };
}

// --- control -----------------------------------------------------------------------------------

function holds(control: ControlState | null, selfId: string | undefined): boolean {
  return control?.holder.kind === "operator" && control.holder.id === selfId;
}

/**
 * After control moved on (a higher epoch) to the AI or a teammate, what only the holder could use
 * goes: the interrupted reply and an answered or refused suggestion (one still awaited is dropped
 * when it comes). The box keeps the operator's text: notes are written there too.
 */
export function afterControlChange(before: ControlState | null, c: ConversationState, selfId: string | undefined): ConversationState {
  const now = c.control;
  if (now === null || (before !== null && now.epoch <= before.epoch) || holds(now, selfId)) return c;
  const suggestion = c.suggestion?.status === "pending" ? c.suggestion : null;
  if (c.interrupted === null && suggestion === c.suggestion) return c;
  return { ...c, interrupted: null, suggestion };
}
