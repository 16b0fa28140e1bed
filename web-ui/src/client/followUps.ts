/**
 * The Follow-up view and each conversation's follow-up: the conversations nobody was available
 * for (outside working hours, or nobody took over in time) that no operator has written in since,
 * the longest waiting first, kept live from `follow_up` frames. Pure transitions, used by
 * `reducer.ts`.
 */
import type { FollowUp, FollowUpRow, ServerFrame } from "../protocol/frames";
import type { ClientState, ConversationState } from "./state";

type FollowUpsFrame = Extract<ServerFrame, { type: "follow_ups" }>;
type FollowUpFrame = Extract<ServerFrame, { type: "follow_up" }>;

export interface FollowUpsState {
  /** `idle` until the first `follow_ups` is asked for; `loaded` from its answer on. */
  status: "idle" | "loading" | "loaded";
  /** Waiting for follow-up, the longest waiting first. */
  rows: FollowUpRow[];
  /** A `follow_ups` answer is awaited. */
  pending: boolean;
  /**
   * `follow_up` frames received while the answer is awaited, by conversation: the answer may
   * have been read before them, so they are applied over it.
   */
  since: Record<string, FollowUp>;
  /**
   * A conversation started waiting and the list has no row for it (a `follow_up` carries no
   * summary): the IO layer asks for the list again once no answer is awaited.
   */
  stale: boolean;
}

export const initialFollowUps: FollowUpsState = { status: "idle", rows: [], pending: false, since: {}, stale: false };

/** The longest waiting first; ties by id, so an update never reorders rows that did not move. */
function byWaiting(a: FollowUpRow, b: FollowUpRow): number {
  const d = a.follow_up.since - b.follow_up.since;
  if (d !== 0) return d;
  const x = a.conversation.id;
  const y = b.conversation.id;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** `follow_ups` asked for (the view opened, or a connection became ready). */
export function requestFollowUps(f: FollowUpsState): FollowUpsState {
  return { ...f, status: f.status === "loaded" ? "loaded" : "loading", pending: true, since: {}, stale: false };
}

/** One conversation's change applied to the list: off it, updated in place, or missing from it. */
function applyChange(f: FollowUpsState, id: string, follow_up: FollowUp): FollowUpsState {
  const i = f.rows.findIndex((r) => r.conversation.id === id);
  if (!follow_up.waiting) return i < 0 ? f : { ...f, rows: f.rows.filter((_, j) => j !== i) };
  if (i < 0) return f.status === "idle" || f.stale ? f : { ...f, stale: true };
  const rows = f.rows.map((r, j) => (j === i ? { ...r, follow_up } : r)).sort(byWaiting);
  return { ...f, rows };
}

/** The answer: the list as the hub read it, with what changed since it was asked for on top. */
export function applyFollowUps(state: ClientState, frame: FollowUpsFrame): ClientState {
  let f: FollowUpsState = {
    ...state.followUps,
    status: "loaded",
    pending: false,
    stale: false,
    since: {},
    rows: [...frame.conversations].sort(byWaiting),
  };
  for (const [id, follow_up] of Object.entries(state.followUps.since)) f = applyChange(f, id, follow_up);
  return { ...state, followUps: f };
}

/** A `follow_up`: the list and, when the dashboard holds it, the conversation's banner. */
export function applyFollowUp(state: ClientState, frame: FollowUpFrame): ClientState {
  const id = frame.conversation_id;
  const current = state.followUps;
  let followUps = applyChange(current, id, frame.follow_up);
  if (current.pending) followUps = { ...followUps, since: { ...followUps.since, [id]: frame.follow_up } };
  const c = state.conversations[id];
  const conversations = c ? { ...state.conversations, [id]: { ...c, followUp: frame.follow_up } } : state.conversations;
  return { ...state, followUps, conversations };
}

/** The socket went: the answer awaited went with it (the next `ready` asks again). */
export function settleFollowUps(f: FollowUpsState): FollowUpsState {
  return f.pending || f.stale ? { ...f, pending: false, stale: false, since: {} } : f;
}

/** Whether the list must be asked for again: a waiting conversation has no row, and no answer is on its way. */
export function followUpsStale(f: FollowUpsState): boolean {
  return f.stale && !f.pending;
}

/**
 * A conversation waiting for follow-up, or whose visitor left an address, may be answered
 * while the visitor is away: the answer takes it off the list, and goes by email too.
 */
export function answerableAway(c: Pick<ConversationState, "followUp">): boolean {
  return c.followUp !== null && (c.followUp.waiting || c.followUp.email !== undefined);
}
