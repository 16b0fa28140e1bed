/**
 * The visitor widget's state: everything it renders, derived only from server frames, socket
 * closes and the visitor's own intents (see `reducer.ts`). Plain data: no sockets, no timers.
 */
import type { Attachment, AwayText, ConversationEvent, ControlState, OperatorRef } from "../protocol/frames";
import type { Draft } from "../client/events";
import type { PendingFile } from "../api/files";

export type WidgetConnection =
  | { status: "idle" }
  | { status: "connecting"; attempt: number }
  | { status: "connected" }
  | { status: "reconnecting"; attempt: number; delayMs: number; code: number }
  /** `fatal`: retrying cannot help (unknown workspace, protocol mismatch); else the visitor may retry. */
  | { status: "stopped"; code: number | null; text: string; fatal: boolean };

/** A message the visitor wrote, kept until the hub has stored it (its event is in `events`). */
export interface PendingMessage {
  clientId: string;
  text: string;
  /** The files it carries (uploaded already; the frame names their ids). */
  attachments?: Attachment[];
  /** `sent`: acknowledged (seq known) but its event has not arrived yet. */
  status: "sending" | "sent" | "failed";
  seq: number | null;
  /** Visitor-facing reason of the last refusal. */
  error: string | null;
}

/**
 * An AI reply still being written (`ai_draft` frames, `state: streaming`), shown as a growing
 * bubble after the events. `text` is the reply so far, assembled from its pieces
 * (client/draftText.ts). It goes when the draft is `done` or
 * `discarded`, when the finished AI message arrives, when an operator takes over and when the
 * socket closes, so a stream that never finishes can never stay on screen.
 */
export type PartialReply = Draft;

/**
 * The visitor's way to a person: `none` (the "Talk to a human" button is offered), `asking` (the
 * visitor pressed it; the hub's `human_requested` event has not arrived yet), `waiting` (a
 * request, the visitor's or the assistant's, waits for a teammate to take over).
 */
export type HumanRequest = "none" | "asking" | "waiting";

export interface WidgetTyping {
  /** The assistant is composing an answer ("thinking"). */
  ai: boolean;
  operator: OperatorRef | null;
}

/**
 * The email prompt's own state (whether it shows is derived from the events: `emailPrompt` in
 * reducer.ts): the address on its way, why the last one was refused, and "Change".
 */
export interface EmailPromptState {
  /** The address sent in a `follow_up_email` frame, until its event or a refusal comes back. */
  sending: string | null;
  /** Visitor-facing reason of the last refusal, shown under the field. */
  error: string | null;
  /** The visitor pressed "Change" on the address they left: the prompt is open again. */
  changing: boolean;
}

export const idleEmailPrompt: EmailPromptState = { sending: null, error: null, changing: false };

export interface WidgetState {
  workspaceId: string;
  connection: WidgetConnection;
  /** Consecutive failed attempts since the last `welcome`; drives the backoff. */
  failures: number;
  /** The visitor token from `welcome`, kept in localStorage so a reload resumes the conversation. */
  token: string | null;
  conversationId: string | null;
  visitorLabel: string | null;
  /** A `history` frame arrived on the current connection. */
  loaded: boolean;
  /** Ascending by seq, each seq once. */
  events: ConversationEvent[];
  /** Every event up to this seq is in `events`: the resume point (`last_seq` of `hello`). */
  lastSeq: number;
  control: ControlState | null;
  outbox: PendingMessage[];
  typing: WidgetTyping;
  partial: PartialReply | null;
  /**
   * The last draft that ended (done, discarded, stored as a message or cancelled by a takeover):
   * a late `streaming` frame of it must not bring its bubble back.
   */
  endedDraft: string | null;
  humanRequest: HumanRequest;
  /** The chat panel is open. */
  open: boolean;
  /** Answers and notices that arrived while the panel was closed. */
  unread: number;
  /**
   * Files attached in the message box (uploading, uploaded, or refused with why), sent with the
   * next message. They belong to the conversation they were uploaded to: a new one drops them.
   */
  files: PendingFile[];
  /** A visitor-facing line about the last refusal not tied to a message. */
  notice: string | null;
  /** The hub refused this page (`forbidden`: an origin the workspace did not allow). */
  refused: boolean;
  /**
   * The visitor chose "New conversation": every `hello` until the next `welcome` asks the hub for
   * a new conversation (`new_conversation`) instead of resuming; the `welcome` ends it.
   */
  newConversation: boolean;
  /** The workspace's away message and the email prompt's consent text (`welcome`). */
  away: AwayText | null;
  emailPrompt: EmailPromptState;
  /**
   * Email prompts the visitor answered "No thanks", as `conversation:seq` of the event that
   * asked (kept in sessionStorage by the IO layer, so a reload does not ask again).
   */
  dismissedPrompts: string[];
}

export const noTyping: WidgetTyping = { ai: false, operator: null };

export function initialWidgetState(
  workspaceId: string,
  saved: { token?: string | null; conversationId?: string | null; dismissedPrompts?: string[] } = {},
): WidgetState {
  return {
    workspaceId,
    connection: { status: "idle" },
    failures: 0,
    token: saved.token ?? null,
    conversationId: saved.conversationId ?? null,
    visitorLabel: null,
    loaded: false,
    events: [],
    lastSeq: 0,
    control: null,
    outbox: [],
    typing: noTyping,
    partial: null,
    endedDraft: null,
    humanRequest: "none",
    open: false,
    unread: 0,
    files: [],
    notice: null,
    refused: false,
    newConversation: false,
    away: null,
    emailPrompt: idleEmailPrompt,
    dismissedPrompts: saved.dismissedPrompts ?? [],
  };
}
