/**
 * The pure half of the visitor widget: `reduceWidget(state, action)` for every server frame,
 * socket close and visitor intent, `helloFrame(state)` (how a connection resumes) and
 * `resendFrames(state)` (what must be sent again), and `timeline(state)`, what the chat shows.
 * No IO, no clocks, no randomness: the IO layer (`widget.ts`) passes delays in the actions.
 */
import { CloseCode, ERROR_CODES, type ErrorCode } from "../protocol/codes";
import type { Attachment, ConversationEvent, ErrorFrame, ServerFrame, VisitorContext, WidgetFrame } from "../protocol/frames";
import type { PendingFile } from "../api/files";
import { PROTOCOL_VERSION } from "../protocol/frames";
import { closeDecision } from "../client/closeCodes";
import { advanceLastSeq, applyDraftFrame, hasSeq, insertEvents, newerControl, updateOutbox } from "../client/events";
import { backAtText, joinedText, leftText, type MessageView } from "./render";
import { idleEmailPrompt, noTyping, type PartialReply, type PendingMessage, type WidgetState } from "./state";

export type WidgetAction =
  | { type: "connect_started" }
  | { type: "frame"; frame: ServerFrame }
  /** `delayMs`: the backoff the IO layer waits if the close allows another attempt. */
  | { type: "socket_closed"; code: number; delayMs: number }
  /** `attachments`: the message box's uploaded files, which leave it with the message. */
  | { type: "message_queued"; clientId: string; text: string; attachments?: Attachment[] }
  /** A file put in the message box (uploading, or refused before uploading). */
  | { type: "file_added"; file: PendingFile }
  /** Its upload ended: uploaded (`attachment`) or refused (`error`). */
  | { type: "file_settled"; key: string; attachment?: Attachment; error?: string }
  /** × on its chip. */
  | { type: "file_removed"; key: string }
  | { type: "message_retry"; clientId: string }
  | { type: "panel"; open: boolean }
  /** The visitor pressed "Talk to a human" (the IO layer sends `request_human`). */
  | { type: "human_requested_by_visitor" }
  /** No `human_requested` came back in time: offer the button again. */
  | { type: "human_request_unanswered" }
  /** A visitor-facing line from the widget itself (e.g. a message over the length limit). */
  | { type: "notice"; text: string | null }
  /**
   * The visitor confirmed "New conversation" (the IO layer closed the socket on purpose and
   * connects again): the chat empties, and the next `hello` asks for a new conversation.
   */
  | { type: "new_conversation" }
  /** The visitor sent an address from the email prompt (the IO layer sends `follow_up_email`). */
  | { type: "email_sending"; email: string }
  /** The widget refused the address itself (not plausible, or the chat is not connected). */
  | { type: "email_refused"; text: string }
  /** "Change" beside the address left: the prompt opens again. */
  | { type: "email_change" }
  /** "No thanks": this request's prompt is not shown again. While changing, "Cancel". */
  | { type: "email_prompt_closed" };

/** What a close means for the widget. `reset`: drop the visitor token and start a new conversation. */
export type CloseAction = "reconnect" | "reset" | "stop";

export function widgetCloseAction(code: number, hadToken: boolean): CloseAction {
  // A refused visitor token (forged, expired, another workspace's): start afresh without it,
  // as the protocol asks. Without a token, the same refusal would only repeat.
  if (code === CloseCode.UNAUTHORIZED || code === CloseCode.TOKEN_EXPIRED) return hadToken ? "reset" : "stop";
  return closeDecision(code).reconnect ? "reconnect" : "stop";
}

/** Closes after which retrying, even by hand, cannot work: the embed code itself is wrong. */
const FATAL_CLOSES: ReadonlySet<number> = new Set([CloseCode.WORKSPACE_NOT_FOUND, CloseCode.UNSUPPORTED_PROTOCOL]);

/** Words for visitors: short, and nothing about frames or tokens. */
const VISITOR_TEXT: Partial<Record<ErrorCode, string>> = {
  message_too_long: "That message is too long. Please shorten it.",
  empty_message: "That message is empty.",
  invalid_attachment: "A file of this message could not be sent. Remove it and attach it again.",
  frame_too_large: "That message is too long. Please shorten it.",
  rate_limited: "You are sending messages quickly; trying again in a moment.",
  unavailable: "The chat is temporarily unavailable; trying again.",
  internal: "Something went wrong; trying again.",
  workspace_not_found: "This chat is not available.",
  forbidden: "This chat is not available on this site.",
  unsupported_protocol: "This chat needs an update. Please reload the page.",
};

/** Send pressed while a file uploads (it has no id to send yet); gone once an upload ends. */
export const WAIT_FOR_FILES = "Wait until your files have uploaded, then send.";

/** Why an address left in the email prompt was not taken. */
export const INVALID_EMAIL_TEXT = "That does not look like an email address. Check it and send it again.";
const EMAIL_ERROR_TEXT: Partial<Record<ErrorCode, string>> = {
  invalid_email: INVALID_EMAIL_TEXT,
  no_follow_up: "No email is needed any more: a teammate has already answered here.",
  rate_limited: "Too many tries. Wait a moment, then send it again.",
};
const EMAIL_NOT_SAVED = "Your email could not be saved just now. Please send it again.";
export const EMAIL_OFFLINE_TEXT = "Not connected. Send it again once the chat is back.";
const EMAIL_DROPPED = "The connection dropped before your email was saved. Please send it again.";

/** "No thanks" answers kept (one a request for a human nobody was there for: a handful at most). */
const MAX_DISMISSED = 50;

/** How a dismissed prompt is remembered: the conversation and the event that asked. */
export function promptKey(conversationId: string | null, seq: number): string {
  return `${conversationId ?? ""}:${seq}`;
}

export function visitorErrorText(code: ErrorCode): string {
  return VISITOR_TEXT[code] ?? ERROR_CODES[code]?.description ?? "Something went wrong.";
}

export function reduceWidget(state: WidgetState, action: WidgetAction): WidgetState {
  switch (action.type) {
    case "connect_started":
      return { ...state, connection: { status: "connecting", attempt: state.failures }, loaded: false };
    case "frame":
      return reduceFrame(state, action.frame);
    case "socket_closed":
      return reduceClosed(state, action.code, action.delayMs);
    case "message_queued": {
      const m: PendingMessage = { clientId: action.clientId, text: action.text, status: "sending", seq: null, error: null };
      if (action.attachments?.length) m.attachments = action.attachments;
      // The files go with it; refused ones were read and go too. One still uploading stays.
      return { ...state, outbox: [...state.outbox, m], files: state.files.filter((f) => f.status === "uploading") };
    }
    case "file_added":
      return { ...state, files: [...state.files, action.file] };
    case "file_settled": {
      const { key, attachment, error } = action;
      return {
        ...state,
        notice: state.notice === WAIT_FOR_FILES ? null : state.notice,
        files: state.files.map((f) =>
          f.key !== key ? f : attachment ? { ...f, status: "ready", attachment } : { ...f, status: "failed", error: error ?? "" },
        ),
      };
    }
    case "file_removed":
      return { ...state, files: state.files.filter((f) => f.key !== action.key) };
    case "message_retry":
      return updateOutgoing(state, action.clientId, (m) =>
        m.status === "failed" ? { ...m, status: "sending", error: null } : m,
      );
    case "notice":
      return state.notice === action.text ? state : { ...state, notice: action.text };
    case "panel":
      if (state.open === action.open) return state;
      return { ...state, open: action.open, unread: action.open ? 0 : state.unread };
    case "human_requested_by_visitor":
      return canAskForHuman(state) ? { ...state, humanRequest: "asking" } : state;
    case "human_request_unanswered":
      return state.humanRequest === "asking" ? { ...state, humanRequest: "none" } : state;
    case "new_conversation":
      if (newConversationControl(state) !== "shown") return state;
      // What the chat showed belongs to the old conversation (the team keeps it). Nothing is left
      // waiting to be sent (the control is disabled until every message is acknowledged); a
      // refused one goes with the rest. The token stays: `hello` needs it to stay the same visitor.
      return {
        ...state,
        newConversation: true,
        conversationId: null,
        loaded: false,
        events: [],
        lastSeq: 0,
        control: null,
        outbox: [],
        typing: noTyping,
        partial: null,
        endedDraft: null,
        humanRequest: "none",
        unread: 0,
        notice: null,
        files: [],
        emailPrompt: idleEmailPrompt,
      };
    case "email_sending":
      return { ...state, emailPrompt: { ...state.emailPrompt, sending: action.email, error: null } };
    case "email_refused":
      return { ...state, emailPrompt: { ...state.emailPrompt, sending: null, error: action.text } };
    case "email_change":
      if (!latestEmailChangeable(state)) return state;
      return { ...state, emailPrompt: { sending: null, error: null, changing: true } };
    case "email_prompt_closed": {
      if (state.emailPrompt.changing) return { ...state, emailPrompt: idleEmailPrompt };
      const prompt = emailPrompt(state);
      if (prompt?.mode !== "ask") return state;
      const dismissedPrompts = [...state.dismissedPrompts, promptKey(state.conversationId, prompt.seq)].slice(-MAX_DISMISSED);
      return { ...state, emailPrompt: idleEmailPrompt, dismissedPrompts };
    }
  }
}

// --- when nobody is available: the email prompt -------------------------------------------------

/** Where the conversation stands on a follow-up, read from its events (so a reload shows the same). */
interface FollowUpMarks {
  /** The latest request for a human nobody was there for (`outside_hours`, `human_request_expired`). */
  awaySeq: number;
  /** The latest address the visitor left. */
  email: { seq: number; email: string } | null;
  /** The latest time an operator came into the conversation. */
  joinedSeq: number;
}

function followUpMarks(events: ConversationEvent[]): FollowUpMarks {
  const m: FollowUpMarks = { awaySeq: 0, email: null, joinedSeq: 0 };
  for (const e of events) {
    if (e.type === "outside_hours" || e.type === "human_request_expired") m.awaySeq = e.seq;
    else if (e.type === "follow_up_email") m.email = { seq: e.seq, email: e.email };
    else if (e.type === "operator_joined" || e.type === "operator_transferred") m.joinedSeq = e.seq;
  }
  return m;
}

/** The email prompt as the chat shows it, after the event it answers. */
export interface EmailPromptView {
  /** That event: the request nobody was there for (`ask`), or the address left (`change`). */
  seq: number;
  mode: "ask" | "change";
  /** The address left before, to start from. */
  email: string | null;
  /** The workspace's words on what the address is used for. */
  consent: string;
  sending: boolean;
  error: string | null;
}

/**
 * The prompt shows when the latest request nobody was there for comes after the latest address
 * left and after the latest operator joining, unless the visitor said "No thanks" to it; or
 * while the visitor changes the address they left (until an operator joins).
 */
export function emailPrompt(state: WidgetState): EmailPromptView | null {
  const m = followUpMarks(state.events);
  const emailSeq = m.email?.seq ?? 0;
  const common = {
    email: m.email?.email ?? null,
    consent: state.away?.email_consent ?? "",
    sending: state.emailPrompt.sending !== null,
    error: state.emailPrompt.error,
  };
  if (m.awaySeq > emailSeq && m.awaySeq > m.joinedSeq && !state.dismissedPrompts.includes(promptKey(state.conversationId, m.awaySeq))) {
    return { seq: m.awaySeq, mode: "ask", ...common };
  }
  if (state.emailPrompt.changing && m.email && emailSeq > m.joinedSeq) return { seq: emailSeq, mode: "change", ...common };
  return null;
}

/** "Change" is offered on the latest address left, while no operator has come since and no prompt shows. */
function latestEmailChangeable(state: WidgetState): boolean {
  const m = followUpMarks(state.events);
  return m.email !== null && m.email.seq > m.joinedSeq && emailPrompt(state) === null;
}

/**
 * "New conversation" in the chat's header: `hidden` until there is something to start over from
 * (connected, the conversation loaded, at least one message in it), `disabled` while a message
 * of the visitor's is not acknowledged yet (it belongs to this conversation), else `shown`.
 */
export function newConversationControl(state: WidgetState): "hidden" | "disabled" | "shown" {
  if (
    state.connection.status !== "connected" ||
    !state.loaded ||
    state.token === null ||
    !state.events.some((e) => e.type === "message")
  ) {
    return "hidden";
  }
  return state.outbox.some((m) => m.status !== "failed") ? "disabled" : "shown";
}

/**
 * Whether "Talk to a human" is offered: connected, and neither an operator holding the
 * conversation (the visitor already has a person) nor a request already on its way or waiting.
 */
export function canAskForHuman(state: WidgetState): boolean {
  return (
    state.connection.status === "connected" &&
    state.loaded &&
    state.humanRequest === "none" &&
    state.control?.holder.kind !== "operator"
  );
}

/** The AI's reply being written, when it has any text yet (before that: "thinking"). */
export function visiblePartial(state: WidgetState): PartialReply | null {
  return state.partial && state.partial.text.trim() !== "" ? state.partial : null;
}

function reduceFrame(state: WidgetState, frame: ServerFrame): WidgetState {
  switch (frame.type) {
    case "welcome": {
      const same = state.conversationId === frame.conversation_id;
      // A different conversation (the hub no longer had ours, or the token was dropped): what we
      // showed belongs to the old one. Unsent messages stay: the visitor still wants them sent.
      const base: WidgetState = same
        ? state
        : {
            ...state,
            events: [],
            lastSeq: 0,
            control: null,
            partial: null,
            endedDraft: null,
            humanRequest: "none",
            typing: noTyping,
            outbox: keepUnsent(state.outbox),
            // Uploaded to the old conversation: the hub would refuse them in this one.
            files: [],
            emailPrompt: idleEmailPrompt,
          };
      return {
        ...base,
        connection: { status: "connected" },
        failures: 0,
        // A new conversation asked for is there: reconnects from now on resume it.
        newConversation: false,
        token: frame.visitor_token,
        conversationId: frame.conversation_id,
        visitorLabel: frame.visitor_label,
        control: newerControl(base.control, frame.control),
        notice: null,
        // An older hub sends none: the widget's own words then (see `timeline`).
        away: frame.away ?? base.away,
      };
    }
    case "history": {
      if (frame.conversation_id !== state.conversationId) return state;
      const fresh = frame.events.filter((e) => !hasSeq(state, e.seq));
      let next = insertEvents(state, fresh);
      // The hub's `last_seq` is authoritative: it also covers a history that starts after 1.
      next = advanceLastSeq({ ...next, lastSeq: Math.max(next.lastSeq, frame.last_seq) });
      next = pruneOutbox(next);
      for (const e of fresh) next = applySideEffects(next, e);
      // Whether a request waits is the hub's word at this point (events before `last_seq` may be
      // missing from a resumed history); one the visitor just sent may still be on its way.
      const humanRequest = frame.needs_human ? "waiting" : next.humanRequest === "asking" ? "asking" : "none";
      return { ...next, loaded: true, humanRequest, control: newerControl(next.control, frame.control) };
    }
    case "event": {
      if (frame.conversation_id !== state.conversationId || hasSeq(state, frame.event.seq)) return state;
      let next = advanceLastSeq(insertEvents(state, [frame.event]));
      next = applySideEffects(pruneOutbox(next), frame.event);
      if (!next.open && catchesEye(frame.event)) next = { ...next, unread: next.unread + 1 };
      return next;
    }
    case "ack": {
      if (frame.conversation_id !== state.conversationId) return state;
      const stored = state.events.some((e) => e.seq === frame.seq);
      if (stored) return { ...state, outbox: state.outbox.filter((m) => m.clientId !== frame.client_id) };
      return updateOutgoing(state, frame.client_id, (m) => ({ ...m, status: "sent", seq: frame.seq, error: null }));
    }
    case "control":
      if (frame.conversation_id !== state.conversationId) return state;
      return { ...state, control: newerControl(state.control, frame.control) };
    case "ai_draft":
      if (frame.conversation_id !== state.conversationId) return state;
      return reduceDraft(state, frame);
    case "typing": {
      if (frame.conversation_id !== state.conversationId) return state;
      const a = frame.author;
      if (a.kind === "ai") return { ...state, typing: { ...state.typing, ai: frame.active } };
      if (a.kind === "operator") {
        const { kind: _kind, ...ref } = a;
        const operator = frame.active ? ref : state.typing.operator?.id === ref.id ? null : state.typing.operator;
        return { ...state, typing: { ...state.typing, operator } };
      }
      return state; // the visitor's own typing, echoed
    }
    case "error": {
      const { type: _type, ...err } = frame;
      return reduceError(state, err);
    }
    default:
      // Operator-only frames (a widget never gets them) and anything newer: nothing to show.
      return state;
  }
}

function reduceError(state: WidgetState, err: ErrorFrame): WidgetState {
  // The answer to an address left: said under the field, not in the connection line.
  if (err.client_id === undefined && (state.emailPrompt.sending !== null || err.code === "invalid_email" || err.code === "no_follow_up")) {
    return { ...state, emailPrompt: { ...state.emailPrompt, sending: null, error: EMAIL_ERROR_TEXT[err.code] ?? EMAIL_NOT_SAVED } };
  }
  const text = visitorErrorText(err.code);
  if (err.client_id !== undefined) {
    // A refused message. Retryable refusals stay "sending": the IO layer sends them again.
    return updateOutgoing(state, err.client_id, (m) => ({
      ...m,
      status: err.retryable ? "sending" : "failed",
      error: text,
    }));
  }
  // This page may not open the workspace's chat: no retry can change that.
  if (err.code === "forbidden" && state.connection.status === "connecting") return { ...state, notice: text, refused: true };
  // A refused request for a human (throttled, say): offer the button again.
  const base: WidgetState = state.humanRequest === "asking" ? { ...state, humanRequest: "none" } : state;
  // A throttled typing frame and the like: nothing the visitor needs to read.
  if (err.retryable && state.connection.status !== "connecting") return base;
  return { ...base, notice: text };
}

/** `ai_draft`: the dashboard's rule (client/events.ts), applied to the partial bubble. */
function reduceDraft(state: WidgetState, frame: Extract<ServerFrame, { type: "ai_draft" }>): WidgetState {
  const next = applyDraftFrame({ draft: state.partial, endedDraft: state.endedDraft }, state.control, frame);
  return next === null ? state : { ...state, partial: next.draft, endedDraft: next.endedDraft };
}

function reduceClosed(state: WidgetState, code: number, delayMs: number): WidgetState {
  if (state.connection.status === "stopped") return state;
  // Whatever the socket knew is stale now: typing would otherwise stick, and a half-streamed
  // reply has lost its stream (the finished one arrives as an event after the resume).
  const base: WidgetState = {
    ...state,
    typing: noTyping,
    partial: null,
    endedDraft: state.partial?.id ?? state.endedDraft,
    loaded: false,
    // A request still on its way may be lost with the socket; one that arrived is in the next history.
    humanRequest: state.humanRequest === "asking" ? "none" : state.humanRequest,
    // Likewise an address: if it was stored, its event comes with the history and clears this.
    emailPrompt: state.emailPrompt.sending !== null ? { ...state.emailPrompt, sending: null, error: EMAIL_DROPPED } : state.emailPrompt,
  };
  const action = state.refused ? "stop" : widgetCloseAction(code, state.token !== null);
  if (action === "stop") {
    const fatal = FATAL_CLOSES.has(code) || state.refused;
    const text = state.notice ?? (fatal ? visitorErrorText(code === CloseCode.WORKSPACE_NOT_FOUND ? "workspace_not_found" : "unsupported_protocol") : "The chat was disconnected.");
    return {
      ...base,
      connection: { status: "stopped", code, text, fatal },
      outbox: base.outbox.map((m) => (m.status === "sending" ? { ...m, status: "failed", error: "Not connected." } : m)),
    };
  }
  const reconnecting: WidgetState = {
    ...base,
    failures: state.failures + 1,
    connection: { status: "reconnecting", attempt: state.failures + 1, delayMs, code },
  };
  if (action === "reconnect") return reconnecting;
  return {
    ...reconnecting,
    token: null,
    // Without a token every `hello` starts a new conversation anyway.
    newConversation: false,
    conversationId: null,
    events: [],
    lastSeq: 0,
    control: null,
    notice: null,
    outbox: keepUnsent(base.outbox),
    files: [],
  };
}

// --- what a connection sends ----------------------------------------------------------------

/**
 * The first frame of every connection: the token and the resume point once we have them, or,
 * after "New conversation" and until its `welcome`, the token and `new_conversation` (no resume
 * point: nothing of the new conversation is held).
 * `context`: where the visitor is now (each connection says it again: the page may have changed).
 */
export function helloFrame(state: WidgetState, context?: VisitorContext): WidgetFrame {
  const hello: Extract<WidgetFrame, { type: "hello" }> = {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    workspace_id: state.workspaceId,
  };
  if (state.token !== null) {
    hello.visitor_token = state.token;
    if (state.newConversation) hello.new_conversation = true;
    else if (state.lastSeq > 0) hello.last_seq = state.lastSeq;
  }
  if (context && Object.keys(context).length > 0) hello.context = context;
  return hello;
}

/** Every message not yet acknowledged, under its original client id (the hub stores each once). */
export function resendFrames(state: WidgetState): WidgetFrame[] {
  return state.outbox.filter((m) => m.status === "sending").map(messageFrame);
}

/** The frame of a message the visitor wrote: its files by id. */
export function messageFrame(m: Pick<PendingMessage, "clientId" | "text" | "attachments">): WidgetFrame {
  const f: WidgetFrame = { type: "message", client_id: m.clientId, text: m.text };
  if (m.attachments?.length) f.attachments = m.attachments.map((a) => a.id);
  return f;
}

// --- what the chat shows --------------------------------------------------------------------

export const HUMAN_REQUESTED_TEXT = "A teammate has been asked to join. The assistant can keep helping you meanwhile.";
export const HUMAN_EXPIRED_TEXT = "No teammate is available right now; the assistant will keep helping you.";

/** Without the workspace's away message (an older hub): what a request nobody was there for says. */
export const AWAY_FALLBACK_TEXT = HUMAN_EXPIRED_TEXT;

export function emailLeftText(email: string): string {
  return `We'll answer you at ${email}`;
}

export type TimelineItem =
  | { key: string; kind: "message"; message: Omit<MessageView, "onRetry">; clientId?: string }
  | { key: string; kind: "notice"; text: string }
  /** The away message after a request nobody was there for; `back`: when the team is at work again. */
  | { key: string; kind: "away"; text: string; back: string | null }
  /** "We'll answer you at …", with "Change" on the latest while it may still be changed. */
  | { key: string; kind: "email_left"; email: string; change: boolean }
  | { key: string; kind: "email_prompt"; prompt: EmailPromptView };

/** The chat's lines in order: stored events, then the visitor's messages not stored yet, then a partial reply. */
export function timeline(state: WidgetState): TimelineItem[] {
  const items: TimelineItem[] = [];
  const prompt = emailPrompt(state);
  const changeable = latestEmailChangeable(state);
  const lastEmail = followUpMarks(state.events).email?.seq;
  const awayText = state.away?.message.trim() || AWAY_FALLBACK_TEXT;
  for (const e of state.events) {
    const key = `e${e.seq}`;
    if (e.type === "message") {
      items.push({ key, kind: "message", message: { author: e.author, text: e.text, ...(e.attachments?.length ? { attachments: e.attachments } : {}) } });
    }
    else if (e.type === "operator_joined") items.push({ key, kind: "notice", text: joinedText(e.operator) });
    else if (e.type === "operator_left") items.push({ key, kind: "notice", text: leftText(e.operator) });
    // A transfer reads as the one operator leaving and the other joining.
    else if (e.type === "operator_transferred") {
      items.push({ key, kind: "notice", text: leftText(e.from) }, { key: `${key}j`, kind: "notice", text: joinedText(e.to) });
    }
    else if (e.type === "human_requested") items.push({ key, kind: "notice", text: HUMAN_REQUESTED_TEXT });
    else if (e.type === "human_request_expired") items.push({ key, kind: "away", text: awayText, back: null });
    else if (e.type === "outside_hours") {
      items.push({ key, kind: "away", text: awayText, back: e.opens_at !== undefined ? backAtText(e.opens_at, e.at) : null });
    } else if (e.type === "follow_up_email") {
      items.push({ key, kind: "email_left", email: e.email, change: changeable && e.seq === lastEmail });
    }
    // One prompt card at a time, right under what it answers.
    if (prompt?.seq === e.seq) items.push({ key: "email-prompt", kind: "email_prompt", prompt });
  }
  for (const m of state.outbox) {
    items.push({
      key: `p${m.clientId}`,
      kind: "message",
      clientId: m.clientId,
      message: {
        author: { kind: "visitor" },
        text: m.text,
        ...(m.attachments ? { attachments: m.attachments } : {}),
        ...(m.status === "sent" ? {} : { status: m.status }),
        error: m.error,
      },
    });
  }
  const partial = visiblePartial(state);
  if (partial) {
    items.push({ key: `r${partial.id}`, kind: "message", message: { author: { kind: "ai" }, text: partial.text, partial: true } });
  }
  return items;
}

// ---------------------------------------------------------------------------------------------

/** Drop outgoing messages whose stored event is shown (matched by client id or acked seq). */
function pruneOutbox(state: WidgetState): WidgetState {
  if (state.outbox.length === 0) return state;
  const ids = new Set<string>();
  const seqs = new Set<number>();
  for (const e of state.events) {
    seqs.add(e.seq);
    if (e.type === "message" && e.author.kind === "visitor" && e.client_id !== undefined) ids.add(e.client_id);
  }
  const outbox = state.outbox.filter((m) => !ids.has(m.clientId) && !(m.seq !== null && seqs.has(m.seq)));
  return outbox.length === state.outbox.length ? state : { ...state, outbox };
}

function keepUnsent(outbox: PendingMessage[]): PendingMessage[] {
  return outbox.filter((m) => m.status !== "sent");
}

/** A partial reply ends: its bubble goes, and late frames of it are ignored. */
function endPartial(state: WidgetState): Pick<WidgetState, "partial" | "endedDraft"> {
  return { partial: null, endedDraft: state.partial?.id ?? state.endedDraft };
}

/** What an event changes besides the timeline: control, typing, a partial reply, a request for a human. */
function applySideEffects(state: WidgetState, e: ConversationEvent): WidgetState {
  switch (e.type) {
    case "message": {
      const a = e.author;
      // The finished reply is stored: it replaces its draft.
      if (a.kind === "ai") return { ...state, typing: { ...state.typing, ai: false }, ...endPartial(state) };
      if (a.kind === "operator" && state.typing.operator?.id === a.id) return { ...state, typing: { ...state.typing, operator: null } };
      return state;
    }
    case "operator_joined":
      return {
        ...state,
        control: newerControl(state.control, { holder: { kind: "operator", ...e.operator }, epoch: e.epoch }),
        // A takeover cancels the assistant's reply in progress, and answers a request for a human.
        typing: { ...state.typing, ai: false },
        ...endPartial(state),
        humanRequest: "none",
      };
    case "operator_left":
      return {
        ...state,
        control: newerControl(state.control, { holder: { kind: "ai" }, epoch: e.epoch }),
        typing: { ...state.typing, operator: null },
        humanRequest: "none",
      };
    case "operator_transferred":
      // From operator to operator: the AI never holds it, so nothing of the AI's to end.
      return {
        ...state,
        control: newerControl(state.control, { holder: { kind: "operator", ...e.to }, epoch: e.epoch }),
        typing: { ...state.typing, operator: null },
        humanRequest: "none",
      };
    case "human_requested":
      return { ...state, humanRequest: "waiting" };
    case "human_request_expired":
    case "outside_hours":
      // Nobody came in time, or nobody is at work: the AI carries on, and the visitor may ask again.
      return { ...state, humanRequest: "none" };
    case "follow_up_email":
      // The address is stored: the prompt (or "Change") is done with.
      return { ...state, emailPrompt: idleEmailPrompt };
    default:
      // Newer kinds are not shown.
      return state;
  }
}

/** Events that make the launcher show an unread count. */
function catchesEye(e: ConversationEvent): boolean {
  if (e.type === "message") return e.author.kind !== "visitor";
  return (
    e.type === "operator_joined" ||
    e.type === "operator_left" ||
    e.type === "operator_transferred" ||
    e.type === "human_request_expired" ||
    e.type === "outside_hours"
  );
}

function updateOutgoing(state: WidgetState, clientId: string, f: (m: PendingMessage) => PendingMessage): WidgetState {
  const outbox = updateOutbox(state.outbox, clientId, f);
  return outbox === state.outbox ? state : { ...state, outbox };
}
