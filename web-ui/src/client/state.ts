/**
 * The dashboard's client state: everything the views render, derived only from server frames and
 * the operator's own intents (see `reducer.ts`). Plain data, no sockets, no timers.
 */
import type { ErrorCode } from "../protocol/codes";
import type { PendingFile } from "../api/files";
import type { Draft } from "./events";
import { initialOnline, type OnlineState } from "./online";
import { initialFollowUps, type FollowUpsState } from "./followUps";
import type {
  Attachment,
  AuditEntry,
  BriefState,
  Colleague,
  ConversationEvent,
  ConversationSummary,
  ControlState,
  FollowUp,
  Note,
  OperatorIdentity,
  OperatorRef,
  TeamMember,
  VisitorContext,
  WorkspaceInfo,
} from "../protocol/frames";

export interface CloseInfo {
  code: number;
  reason: string;
  description: string;
}

/** An `error` frame, already turned into words. */
export interface Notice {
  code: ErrorCode;
  text: string;
}

/**
 * The socket's life: `connecting` (socket opening, `hello` sent, waiting for `ready`) →
 * `connected` → `reconnecting` (waiting out a backoff delay) → `connecting` … or `stopped` when
 * a close code says reconnecting cannot help, or the operator signed out.
 */
export type Connection =
  | { status: "idle" }
  | { status: "connecting"; attempt: number; notice: Notice | null }
  | { status: "connected" }
  | { status: "reconnecting"; attempt: number; delayMs: number; close: CloseInfo; notice: Notice | null }
  | { status: "stopped"; close: CloseInfo | null; notice: Notice | null };

export interface Session {
  operator: OperatorIdentity;
  workspace: WorkspaceInfo;
  heartbeatMs: number;
}

export type OutgoingStatus = "sending" | "sent" | "failed";

/** A message the operator wrote, kept until the hub acknowledges it (and after, for its status). */
export interface OutgoingMessage {
  clientId: string;
  text: string;
  /** The files it carries (uploaded already; the frame names their ids). */
  attachments?: Attachment[];
  createdAt: number;
  status: OutgoingStatus;
  /** The stored event's seq, from `ack`. */
  seq: number | null;
  /** Why the last attempt was refused (also set while a retryable refusal is being retried). */
  error: Notice | null;
}

/** An internal note the operator wrote, kept until the hub's `note` frame carries it back. */
export interface OutgoingNote {
  clientId: string;
  text: string;
  attachments?: Attachment[];
  createdAt: number;
  /** No `sent`: once stored, the note itself is in `notes` and this entry goes. */
  status: "sending" | "failed";
  error: Notice | null;
}

export interface TypingState {
  visitor: boolean;
  /** The assistant is composing an answer ("thinking"). */
  ai: boolean;
  operators: OperatorRef[];
}

/** The AI's reply while it is being written (`ai_draft` frames), assembled from its pieces. */
export type AiDraft = Draft;

/**
 * A transfer this dashboard asked for, while its Transfer dialog may show it: on its way (the
 * hub's `control` answer ends it), or refused, with why.
 */
export type TransferRequest =
  | { status: "sending"; to: string; epoch: number }
  | { status: "refused"; to: string; error: Notice };

/** Who is online to transfer to (`colleagues`), asked afresh each time the dialog opens. */
export interface ColleaguesState {
  /** `null` until the answer to the last request comes. */
  operators: Colleague[] | null;
  /** A `colleagues` answer is awaited (asked again after a reconnect). */
  pending: boolean;
}

/** A `transfer_received`: someone handed this operator a conversation. Shown until opened or dismissed. */
export interface ReceivedTransfer {
  /** Increasing per dashboard: each is alerted once. */
  id: number;
  conversationId: string;
  visitorLabel: string;
  by: OperatorRef;
  note: string | null;
}

/**
 * The reply the AI was writing when this operator took over (`interrupted_reply`), for the
 * composer; never sent by itself. `placed`: put in the box, which was empty (or the operator
 * chose "Use the AI's interrupted reply"), with the hint to edit or discard it; `before` is what
 * the box held then, what Discard puts back. `offered`: the box held something else, which is
 * not overwritten: the reply waits behind a button.
 */
export type InterruptedReply =
  | { status: "placed"; draftId: string; text: string; before: string }
  | { status: "offered"; draftId: string; text: string };

/**
 * A reply asked of the assistant with Suggest (`suggest`): awaited, answered (`suggestion`, shown
 * to this dashboard alone until inserted or dismissed), or refused (an `error` for this
 * conversation while it was awaited: errors carry no request id).
 */
export type SuggestionState =
  | { status: "pending" }
  | { status: "ready"; text: string }
  | { status: "refused"; error: Notice };

export interface ConversationState {
  id: string;
  /** We want this conversation's live events (re-opened after every reconnect). */
  open: boolean;
  /** A `history` frame arrived since the last (re)open. */
  loaded: boolean;
  /** Ascending by seq, each seq once. Kept across close/re-open so re-opening fetches only what is new. */
  events: ConversationEvent[];
  /** Every event up to this seq is in `events`; the resume point (`after_seq`). */
  lastSeq: number;
  control: ControlState | null;
  visitorOnline: boolean;
  needsHuman: boolean;
  typing: TypingState;
  /** A `takeover`/`release`/`transfer` awaiting its answer. */
  pending: "takeover" | "release" | "transfer" | null;
  /** The transfer asked for from here, for its dialog (`null` once answered or the dialog closed). */
  transfer: TransferRequest | null;
  error: Notice | null;
  outbox: OutgoingMessage[];
  /** A live event skipped ahead of `lastSeq`: re-open from this seq to fill the gap. */
  resyncFrom: number | null;
  /** The hub's `control_warning`: the holder is idle and loses control at `releaseAt` unless they act. */
  idleWarning: { holderId: string; releaseAt: number } | null;
  /**
   * The AI's reply being written, shown as a muted bubble after the timeline. It goes when the
   * draft is done or discarded, when the stored reply arrives, at a takeover and when the socket
   * or the conversation closes.
   */
  draft: AiDraft | null;
  /** The last draft that ended: its late frames must not bring it back. */
  endedDraft: string | null;
  /** Internal notes, ascending by id, each once (history and live `note` frames overlap). */
  notes: Note[];
  /** Notes written here whose `note` frame has not come back yet. */
  noteOutbox: OutgoingNote[];
  /** Where the visitor is (side panel), from `history` and live `visitor_context` frames. */
  context: VisitorContext | null;
  /** The visitor's other conversations of this workspace, newest first. */
  earlier: ConversationSummary[];
  /**
   * What the operator's box holds for this conversation (a reply or a note being written): kept
   * here, so it survives switching to another conversation and back, and so the interrupted
   * reply and suggestions can be put in it.
   */
  composer: string;
  /**
   * Files attached in the box (uploading, uploaded, or refused with why), sent with the next
   * reply or note; kept here with the text, so they survive switching conversations.
   */
  composerFiles: PendingFile[];
  /** The AI's reply a takeover by this operator interrupted, while offered or hinted at. */
  interrupted: InterruptedReply | null;
  /** The last interrupted reply received (its draft id): a repeat of it is not offered again. */
  lastInterrupted: string | null;
  /** The brief for the team (operators only), from `history` and live `brief` frames. */
  brief: BriefState | null;
  /** The operator folded the brief away (per conversation, for this session). */
  briefCollapsed: boolean;
  /** The last Suggest of this dashboard's, until inserted or dismissed. */
  suggestion: SuggestionState | null;
  /**
   * Its follow-up, when nobody was available for it (`history`, then live `follow_up` frames):
   * whether it waits, the visitor's email, where the email of the answer stands.
   */
  followUp: FollowUp | null;
}

/**
 * The Recent tab: conversations that left the Online list, most recent activity first, paged by
 * the hub's cursor.
 */
export interface RecentState {
  status: "idle" | "loading" | "loaded";
  conversations: ConversationSummary[];
  nextCursor: string | null;
  /** The cursor of the page asked for with "Load more", until it comes. */
  loadingMore: string | null;
}

export interface SearchState {
  /** The query last sent; answers for any other query are stale. */
  query: string;
  /** `null` until the first answer for a query. */
  results: ConversationSummary[] | null;
  /** An answer for `query` is awaited. */
  pending: boolean;
}

export interface ClientState {
  connection: Connection;
  /** Consecutive failed connection attempts since the last `ready`; drives the backoff. */
  failures: number;
  session: Session | null;
  /** The Online list as a view: the window asked for, the window received, its rows. */
  online: OnlineState;
  conversations: Record<string, ConversationState>;
  /** Per conversation, the last seq the operator has looked at (for unread counts). */
  seen: Record<string, number>;
  /**
   * Bumped when conversations newly wait for a human (the count of waiting ones rose, or a row
   * of the window newly waits); the UI beeps and notifies once per id. `conversations` names
   * those the window shows (possibly none: the newcomer may be outside the window).
   */
  alert: { id: number; conversations: ConversationSummary[]; waiting: number } | null;
  /** Errors not tied to a conversation. Newest last, a few kept. */
  notices: Notice[];
  /** Owners and editors (after `subscribe_team`): who is on the team, online or not, and what each holds. */
  team: { members: TeamMember[] } | null;
  /** Owners and editors: the audit log, oldest first, each entry once, the last `MAX_AUDIT` kept. */
  audit: AuditEntry[];
  /** Conversations force-released from the Team view whose answer (`control` or `error`) is awaited. */
  forceReleasing: string[];
  /**
   * Visitor labels seen in the Online list and the team's holdings, by conversation id, so audit
   * entries (which carry only the id) can name the visitor after the conversation left the list.
   */
  visitorLabels: Record<string, string>;
  recent: RecentState;
  search: SearchState;
  colleagues: ColleaguesState;
  /** Conversations handed to this operator, oldest first, a few kept; each alerted once. */
  transfers: ReceivedTransfer[];
  /** How many `transfer_received` frames came: the next one's id. */
  transfersReceived: number;
  /** The Follow-up view: conversations waiting for follow-up, kept live. */
  followUps: FollowUpsState;
}

export const initialRecent: RecentState = { status: "idle", conversations: [], nextCursor: null, loadingMore: null };
export const initialSearch: SearchState = { query: "", results: null, pending: false };
export const initialColleagues: ColleaguesState = { operators: null, pending: false };

export const initialState: ClientState = {
  connection: { status: "idle" },
  failures: 0,
  session: null,
  online: initialOnline,
  conversations: {},
  seen: {},
  alert: null,
  notices: [],
  team: null,
  audit: [],
  forceReleasing: [],
  visitorLabels: {},
  recent: initialRecent,
  search: initialSearch,
  colleagues: initialColleagues,
  transfers: [],
  transfersReceived: 0,
  followUps: initialFollowUps,
};

export function emptyConversation(id: string): ConversationState {
  return {
    id,
    open: false,
    loaded: false,
    events: [],
    lastSeq: 0,
    control: null,
    visitorOnline: false,
    needsHuman: false,
    typing: { visitor: false, ai: false, operators: [] },
    pending: null,
    transfer: null,
    error: null,
    outbox: [],
    resyncFrom: null,
    idleWarning: null,
    draft: null,
    endedDraft: null,
    notes: [],
    noteOutbox: [],
    context: null,
    earlier: [],
    composer: "",
    composerFiles: [],
    interrupted: null,
    lastInterrupted: null,
    brief: null,
    briefCollapsed: false,
    suggestion: null,
    followUp: null,
  };
}
