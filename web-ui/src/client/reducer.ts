/**
 * The pure half of the socket client: `reduce(state, action)` for every server frame, socket
 * event and operator intent, plus `resumeFrames(state)`, the frames a fresh connection must send
 * to get back to where the last one was. No IO, no clocks, no randomness: callers pass times and
 * backoff delays in the actions, so every transition is a plain unit test.
 */
import type {
  Attachment,
  AuditEntry,
  ErrorFrame,
  OperatorFrame,
  Role,
  ServerFrame,
  TeamMember,
} from "../protocol/frames";
import {
  afterControlChange,
  applyBrief,
  applySuggestion,
  changeComposer,
  discardInterrupted,
  dismissInterrupted,
  dismissSuggestion,
  insertSuggestion,
  offerInterrupted,
  placeInterrupted,
  refuseSuggestion,
  refusesSuggestion,
  requestSuggestion,
  toggleBrief,
} from "./assist";
import { closeDecision } from "./closeCodes";
import {
  applyDraft,
  applyLiveEvent,
  applyTyping,
  endDraft,
  failSending,
  mapConversations,
  noTyping,
  settle,
  updateConversation,
  updateOutgoing,
  withAlert,
} from "./conversation";
import { advanceLastSeq, insertEvents, newerControl } from "./events";
import {
  applyHistoryDesk,
  applyRecent,
  applySearchResults,
  failSendingNotes,
  hasOutgoingNote,
  insertNotes,
  queueNote,
  refuseNote,
  requestRecent,
  requestSearch,
  retryNote,
} from "./desk";
import { describeError, describeSuggestError } from "./errors";
import { applyFollowUp, applyFollowUps, requestFollowUps, settleFollowUps } from "./followUps";
import { applyOnlineView, nextRequest, patchControl, sameRequest, subscribeFrame, type OnlineRequest } from "./online";
import { initialSearch, type ClientState, type ConversationState, type Notice, type OutgoingMessage } from "./state";
import type { PendingFile } from "../api/files";

export type ClientAction =
  | { type: "connect_started" }
  | { type: "frame"; frame: ServerFrame }
  /**
   * `delayMs` is the backoff the IO layer will wait if the close code allows a reconnect;
   * `giveUp` when the IO layer knows a reconnect cannot help (no fresh token after expiry).
   */
  | { type: "socket_closed"; code: number; reason: string; delayMs: number; giveUp?: boolean }
  /** The operator signed out or the page is going away: never reconnect. */
  | { type: "stopped" }
  | { type: "open_requested"; conversationId: string }
  | { type: "close_requested"; conversationId: string }
  | { type: "resync_sent"; conversationId: string }
  | { type: "takeover_requested"; conversationId: string }
  | { type: "release_requested"; conversationId: string }
  /** A force release from the Team view (the conversation need not be open). */
  | { type: "force_release_requested"; conversationId: string }
  /** Transfer to `to` under the control `epoch` the operator saw (the hub checks it). */
  | { type: "transfer_requested"; conversationId: string; to: string; epoch: number }
  /** The Transfer dialog closed: its request's outcome is no longer shown there. */
  | { type: "transfer_dismissed"; conversationId: string }
  /** The Transfer dialog asks who is online (`colleagues`). */
  | { type: "colleagues_requested" }
  /** The operator dismissed (or opened) a conversation handed to them. */
  | { type: "transfer_notice_dismissed"; id: number }
  /** The operator's box for this conversation changed (typing, a saved reply, sent and emptied). */
  | { type: "composer_changed"; conversationId: string; text: string }
  /** "Use the AI's interrupted reply": the offered reply into the box, after what it holds. */
  | { type: "interrupted_used"; conversationId: string }
  /** Discard: the box back to what it held before the interrupted reply came in. */
  | { type: "interrupted_discarded"; conversationId: string }
  /** The hint (or the offer) closed; the box keeps what it holds. */
  | { type: "interrupted_dismissed"; conversationId: string }
  /** Suggest: a reply asked of the assistant (`suggest`), awaited until `suggestion` or a refusal. */
  | { type: "suggest_requested"; conversationId: string }
  /** Insert: the suggestion into the box, for the operator to edit. */
  | { type: "suggestion_inserted"; conversationId: string }
  | { type: "suggestion_dismissed"; conversationId: string }
  /** The brief folded away or open again. */
  | { type: "brief_toggled"; conversationId: string }
  /** `attachments`: the composer's uploaded files, which leave the box with it. */
  | { type: "message_queued"; conversationId: string; clientId: string; text: string; at: number; attachments?: Attachment[] }
  | { type: "message_retry"; conversationId: string; clientId: string }
  | { type: "note_queued"; conversationId: string; clientId: string; text: string; at: number; attachments?: Attachment[] }
  /** A file put in the composer (uploading, or refused before uploading). */
  | { type: "composer_file_added"; conversationId: string; file: PendingFile }
  /** Its upload ended: uploaded (`attachment`) or refused (`error`). */
  | { type: "composer_file_settled"; conversationId: string; key: string; attachment?: Attachment; error?: string }
  | { type: "composer_file_removed"; conversationId: string; key: string }
  | { type: "note_retry"; conversationId: string; clientId: string }
  /** `cursor`: "Load more" (the previous answer's `next_cursor`); without it, the first page. */
  | { type: "recent_requested"; cursor?: string }
  | { type: "search_requested"; query: string }
  /** The Follow-up view asks for its list (`follow_ups`). */
  | { type: "follow_ups_requested" }
  | { type: "search_cleared" }
  /** Another window, filter or search of the Online list (scrolling, a tab, the list's search box). */
  | { type: "online_view_requested"; patch: Partial<OnlineRequest> }
  | { type: "error_dismissed"; conversationId: string }
  | { type: "notices_cleared" }
  | { type: "seen"; conversationId: string; seq: number };

const MAX_NOTICES = 5;
/** Audit entries kept in memory (the full log is the `GET /api/audit` export). */
export const MAX_AUDIT = 500;
/** Visitor labels remembered for naming audit entries. */
const MAX_LABELS = 2_000;
/** Transfers to this operator shown at once; older ones are in the Online list anyway. */
const MAX_TRANSFERS = 5;

export function reduce(state: ClientState, action: ClientAction): ClientState {
  switch (action.type) {
    case "connect_started":
      return {
        ...state,
        connection: { status: "connecting", attempt: state.failures, notice: null },
      };
    case "frame":
      return reduceFrame(state, action.frame);
    case "socket_closed":
      return reduceClosed(state, action.code, action.reason, action.delayMs, action.giveUp ?? false);
    case "stopped":
      return {
        ...state,
        connection: { status: "stopped", close: null, notice: null },
        conversations: mapConversations(state.conversations, (c) => failAll(settle(c), "Not connected.")),
        forceReleasing: [],
      };
    case "open_requested": {
      // Opening a conversation handed to you is what its notice asked for.
      const opened = updateConversation(state, action.conversationId, (c) => ({ ...c, open: true, loaded: false }));
      const transfers = opened.transfers.filter((t) => t.conversationId !== action.conversationId);
      return transfers.length === opened.transfers.length ? opened : { ...opened, transfers };
    }
    case "close_requested":
      return updateConversation(state, action.conversationId, (c) => ({
        ...c,
        open: false,
        typing: noTyping,
        ...endDraft(c),
      }));
    case "resync_sent":
      return updateConversation(state, action.conversationId, (c) => ({ ...c, resyncFrom: null }));
    case "takeover_requested":
      return updateConversation(state, action.conversationId, (c) => ({ ...c, pending: "takeover", error: null }));
    case "release_requested":
      return updateConversation(state, action.conversationId, (c) => ({ ...c, pending: "release", error: null }));
    case "force_release_requested":
      if (state.forceReleasing.includes(action.conversationId)) return state;
      return { ...state, forceReleasing: [...state.forceReleasing, action.conversationId] };
    case "transfer_requested":
      return updateConversation(state, action.conversationId, (c) => ({
        ...c,
        pending: "transfer",
        transfer: { status: "sending", to: action.to, epoch: action.epoch },
        error: null,
      }));
    case "transfer_dismissed":
      return updateConversation(state, action.conversationId, (c) => (c.transfer === null ? c : { ...c, transfer: null }));
    case "colleagues_requested":
      // Presence changes by the minute: an older list must not pass for the answer.
      return { ...state, colleagues: { operators: null, pending: true } };
    case "transfer_notice_dismissed": {
      const transfers = state.transfers.filter((t) => t.id !== action.id);
      return transfers.length === state.transfers.length ? state : { ...state, transfers };
    }
    case "composer_changed":
      return updateConversation(state, action.conversationId, (c) => changeComposer(c, action.text));
    case "interrupted_used":
      return updateConversation(state, action.conversationId, placeInterrupted);
    case "interrupted_discarded":
      return updateConversation(state, action.conversationId, discardInterrupted);
    case "interrupted_dismissed":
      return updateConversation(state, action.conversationId, dismissInterrupted);
    case "suggest_requested":
      return updateConversation(state, action.conversationId, requestSuggestion);
    case "suggestion_inserted":
      return updateConversation(state, action.conversationId, insertSuggestion);
    case "suggestion_dismissed":
      return updateConversation(state, action.conversationId, dismissSuggestion);
    case "brief_toggled":
      return updateConversation(state, action.conversationId, toggleBrief);
    case "message_queued": {
      const message: OutgoingMessage = {
        clientId: action.clientId,
        text: action.text,
        createdAt: action.at,
        status: "sending",
        seq: null,
        error: null,
      };
      if (action.attachments?.length) message.attachments = action.attachments;
      return updateConversation(state, action.conversationId, (c) => ({ ...c, outbox: [...c.outbox, message], ...filesSent(c) }));
    }
    case "composer_file_added":
      return updateConversation(state, action.conversationId, (c) => ({ ...c, composerFiles: [...c.composerFiles, action.file] }));
    case "composer_file_settled": {
      const { key, attachment, error } = action;
      return updateConversation(state, action.conversationId, (c) =>
        c.composerFiles.some((f) => f.key === key)
          ? {
              ...c,
              composerFiles: c.composerFiles.map((f) =>
                f.key !== key ? f : attachment ? { ...f, status: "ready", attachment } : { ...f, status: "failed", error: error ?? "" },
              ),
            }
          : c,
      );
    }
    case "composer_file_removed":
      return updateConversation(state, action.conversationId, (c) => ({ ...c, composerFiles: c.composerFiles.filter((f) => f.key !== action.key) }));
    case "message_retry":
      return updateOutgoing(state, action.conversationId, action.clientId, (m) =>
        m.status === "failed" ? { ...m, status: "sending", error: null } : m,
      );
    case "note_queued":
      return updateConversation(state, action.conversationId, (c) => ({
        ...queueNote(c, action.clientId, action.text, action.at, action.attachments),
        ...filesSent(c),
      }));
    case "note_retry":
      return updateConversation(state, action.conversationId, (c) => retryNote(c, action.clientId));
    case "recent_requested":
      return requestRecent(state, action.cursor);
    case "search_requested":
      return requestSearch(state, action.query);
    case "follow_ups_requested":
      return { ...state, followUps: requestFollowUps(state.followUps) };
    case "online_view_requested": {
      const request = nextRequest(state.online.request, action.patch);
      if (sameRequest(request, state.online.request)) return state;
      return { ...state, online: { ...state.online, request } };
    }
    case "search_cleared":
      return state.search === initialSearch ? state : { ...state, search: initialSearch };
    case "error_dismissed":
      return updateConversation(state, action.conversationId, (c) => ({ ...c, error: null }));
    case "notices_cleared":
      return state.notices.length === 0 ? state : { ...state, notices: [] };
    case "seen": {
      const prev = state.seen[action.conversationId] ?? 0;
      if (action.seq <= prev) return state;
      return { ...state, seen: { ...state.seen, [action.conversationId]: action.seq } };
    }
  }
}

function reduceFrame(state: ClientState, frame: ServerFrame): ClientState {
  switch (frame.type) {
    case "ready":
      return {
        ...state,
        connection: { status: "connected" },
        failures: 0,
        session: { operator: frame.operator, workspace: frame.workspace, heartbeatMs: frame.heartbeat_ms },
        // `resumeFrames` asks for it: the count on the Follow-up tab is live from the start.
        followUps: requestFollowUps(state.followUps),
      };
    case "welcome":
      // Widget-only frame; a hub never sends it on the operator socket.
      return state;
    case "online_view": {
      const online = applyOnlineView(state.online, frame);
      if (online === state.online) return state;
      const next = {
        ...state,
        online,
        visitorLabels: rememberLabels(state.visitorLabels, frame.rows.map((c): [string, string] => [c.id, c.visitor_label])),
      };
      return withAlert(next, state.online, online);
    }
    case "history":
      return updateConversation(state, frame.conversation_id, (c) => {
        let next = insertEvents(c, frame.events);
        // The hub's `last_seq` is authoritative: it also covers a history that starts after 1.
        next = advanceLastSeq({ ...next, lastSeq: Math.max(next.lastSeq, frame.last_seq) });
        const loaded = {
          ...applyBrief(applyHistoryDesk(next, frame), frame.brief),
          loaded: true,
          control: newerControl(next.control, frame.control),
          visitorOnline: frame.visitor_online,
          needsHuman: frame.needs_human,
          resyncFrom: null,
          followUp: frame.follow_up ?? null,
        };
        return afterControlChange(c.control, loaded, selfId(state));
      });
    case "event": {
      const existing = state.conversations[frame.conversation_id];
      // Late frames for a conversation we never opened carry nothing to show.
      if (!existing) return state;
      return updateConversation(state, frame.conversation_id, (c) =>
        afterControlChange(c.control, applyLiveEvent(c, frame.event), selfId(state)),
      );
    }
    case "ack":
      return updateOutgoing(state, frame.conversation_id, frame.client_id, (m) => ({
        ...m,
        status: "sent",
        seq: frame.seq,
        error: null,
      }));
    case "control":
      return updateConversation(
        {
          ...state,
          online: patchControl(state.online, frame.conversation_id, frame.control),
          forceReleasing: without(state.forceReleasing, frame.conversation_id),
        },
        frame.conversation_id,
        (c) =>
          afterControlChange(
            c.control,
            {
              ...c,
              control: newerControl(c.control, frame.control),
              pending: null,
              error: null,
              // The transfer's answer: done, so its dialog closes. A refusal still shown stays.
              transfer: c.transfer?.status === "sending" ? null : c.transfer,
            },
            selfId(state),
          ),
      );
    case "ai_draft":
      // Only conversations on screen show the reply growing.
      if (!state.conversations[frame.conversation_id]) return state;
      return updateConversation(state, frame.conversation_id, (c) => applyDraft(c, frame));
    case "typing": {
      if (!state.conversations[frame.conversation_id]) return state;
      return updateConversation(state, frame.conversation_id, (c) => ({
        ...c,
        typing: applyTyping(c.typing, frame),
      }));
    }
    case "control_warning":
      if (!state.conversations[frame.conversation_id]) return state;
      return updateConversation(state, frame.conversation_id, (c) => ({
        ...c,
        idleWarning: { holderId: frame.holder_id, releaseAt: frame.release_at },
      }));
    case "brief":
      if (!state.conversations[frame.conversation_id]) return state;
      return updateConversation(state, frame.conversation_id, (c) => applyBrief(c, frame.brief));
    case "suggestion":
      if (!state.conversations[frame.conversation_id]) return state;
      return updateConversation(state, frame.conversation_id, (c) => applySuggestion(c, frame.text, selfId(state)));
    case "interrupted_reply":
      if (!state.conversations[frame.conversation_id]) return state;
      return updateConversation(state, frame.conversation_id, (c) => offerInterrupted(c, frame, selfId(state)));
    case "colleagues":
      return { ...state, colleagues: { operators: frame.operators, pending: false } };
    case "transfer_received": {
      const id = state.transfersReceived + 1;
      const received = {
        id,
        conversationId: frame.conversation_id,
        visitorLabel: frame.visitor_label,
        by: frame.by,
        note: frame.note ?? null,
      };
      // Handed over again (back and forth): the newest says it.
      const others = state.transfers.filter((t) => t.conversationId !== frame.conversation_id);
      return {
        ...state,
        transfers: [...others, received].slice(-MAX_TRANSFERS),
        transfersReceived: id,
        visitorLabels: rememberLabels(state.visitorLabels, [[frame.conversation_id, frame.visitor_label]]),
      };
    }
    case "team_snapshot":
      return {
        ...state,
        team: { members: frame.members },
        visitorLabels: rememberLabels(
          state.visitorLabels,
          frame.members.flatMap((m) => m.holding.map((h): [string, string] => [h.conversation_id, h.visitor_label])),
        ),
        // Whatever is no longer held needs no answer any more.
        forceReleasing: state.forceReleasing.filter((id) => isHeld(frame.members, id)),
      };
    case "audit_snapshot":
      return mergeAudit(state, frame.entries);
    case "audit_entry":
      return mergeAudit(state, [frame.entry]);
    case "note":
      if (!state.conversations[frame.conversation_id]) return state;
      return updateConversation(state, frame.conversation_id, (c) => insertNotes(c, [frame.note]));
    case "visitor_context":
      if (!state.conversations[frame.conversation_id]) return state;
      return updateConversation(state, frame.conversation_id, (c) => ({ ...c, context: frame.context }));
    case "recent":
      return applyRecent(state, frame);
    case "search_results":
      return applySearchResults(state, frame);
    case "follow_ups":
      return applyFollowUps(state, frame);
    case "follow_up":
      return applyFollowUp(state, frame);
    case "error": {
      const { type: _type, ...body } = frame;
      return reduceError(state, body);
    }
  }
}

function selfId(state: ClientState): string | undefined {
  return state.session?.operator.id;
}

function failAll(c: ConversationState, text: string): ConversationState {
  return failSendingNotes(failSending(c, text), text);
}

/** Who sees the Team and Audit views (and may subscribe to them). */
export function roleSeesTeam(role: Role): boolean {
  return role === "owner" || role === "editor";
}

/**
 * An entry's identity: entries carry no id, but two distinct entries never agree on all of these
 * (a resubscribe's `audit_snapshot` repeats entries already received live).
 */
export function auditKey(e: AuditEntry): string {
  return JSON.stringify([e.at, e.action, e.actor?.id ?? null, e.conversation_id ?? null, e.reason ?? null, e.holder_id ?? null, e.to ?? null]);
}

function mergeAudit(state: ClientState, incoming: AuditEntry[]): ClientState {
  const known = new Set(state.audit.map(auditKey));
  const fresh: AuditEntry[] = [];
  for (const e of incoming) {
    const key = auditKey(e);
    if (known.has(key)) continue;
    known.add(key);
    fresh.push(e);
  }
  if (fresh.length === 0) return state;
  // Oldest first; `sort` is stable, so entries of the same millisecond keep their arrival order.
  const merged = [...state.audit, ...fresh].sort((a, b) => a.at - b.at);
  return { ...state, audit: merged.slice(-MAX_AUDIT) };
}

function isHeld(members: TeamMember[], conversationId: string): boolean {
  return members.some((m) => m.holding.some((h) => h.conversation_id === conversationId));
}

function rememberLabels(labels: Record<string, string>, pairs: [string, string][]): Record<string, string> {
  if (pairs.every(([id, label]) => labels[id] === label)) return labels;
  const next = { ...labels };
  for (const [id, label] of pairs) {
    delete next[id]; // re-inserted last: the oldest keys are the first dropped
    next[id] = label;
  }
  const keys = Object.keys(next);
  for (const key of keys.slice(0, Math.max(0, keys.length - MAX_LABELS))) delete next[key];
  return next;
}

function without(ids: string[], id: string): string[] {
  return ids.includes(id) ? ids.filter((x) => x !== id) : ids;
}

function reduceError(state: ClientState, err: ErrorFrame): ClientState {
  const notice: Notice = { code: err.code, text: describeError(err) };
  if (err.conversation_id !== undefined && err.client_id === undefined && state.forceReleasing.includes(err.conversation_id)) {
    // A refused force release from the Team view: say so where it can be seen, the banner,
    // unless the conversation is on screen (its own error line shows it).
    const id = err.conversation_id;
    const next = { ...state, forceReleasing: without(state.forceReleasing, id) };
    if (state.conversations[id]?.open) {
      return updateConversation(next, id, (c) => ({ ...c, pending: null, error: notice }));
    }
    const label = state.visitorLabels[id];
    const text = label ? `Could not release ${label}: ${notice.text}` : notice.text;
    const settled = state.conversations[id] ? updateConversation(next, id, (c) => ({ ...c, pending: null })) : next;
    return { ...settled, notices: [...settled.notices, { code: notice.code, text }].slice(-MAX_NOTICES) };
  }
  if (err.conversation_id !== undefined && err.client_id !== undefined) {
    const clientId = err.client_id;
    if (hasOutgoingNote(state.conversations[err.conversation_id], clientId)) {
      return updateConversation(state, err.conversation_id, (c) => refuseNote(c, clientId, notice, err.retryable));
    }
    // A refused message. Retryable refusals stay "sending": the IO layer sends them again.
    return updateOutgoing(state, err.conversation_id, err.client_id, (m) => ({
      ...m,
      status: err.retryable ? "sending" : "failed",
      error: notice,
    }));
  }
  const transfer = err.conversation_id !== undefined ? state.conversations[err.conversation_id]?.transfer : undefined;
  if (err.conversation_id !== undefined && transfer?.status === "sending") {
    // The dialog that sent it is open: it says why there, next to the choice to make again.
    return updateConversation(state, err.conversation_id, (c) => ({
      ...c,
      pending: null,
      transfer: { status: "refused", to: transfer.to, error: notice },
    }));
  }
  const asked = err.conversation_id !== undefined ? state.conversations[err.conversation_id] : undefined;
  if (refusesSuggestion(asked, err.code)) {
    // The Suggest's answer: said beside the Suggest button, in words about the suggestion.
    return updateConversation(state, asked.id, (c) => refuseSuggestion(c, { code: err.code, text: describeSuggestError(err) }));
  }
  if (err.conversation_id !== undefined && state.conversations[err.conversation_id]) {
    return updateConversation(state, err.conversation_id, (c) => ({ ...c, pending: null, error: notice }));
  }
  if (state.connection.status === "connecting") {
    // A refused handshake: the close that follows decides whether to retry; keep the words for it.
    return { ...state, connection: { ...state.connection, notice } };
  }
  return { ...state, notices: [...state.notices, notice].slice(-MAX_NOTICES) };
}

function reduceClosed(
  state: ClientState,
  code: number,
  reason: string,
  delayMs: number,
  giveUp: boolean,
): ClientState {
  if (state.connection.status === "stopped") return state;
  const decision = closeDecision(code);
  const close = { code, reason, description: decision.description };
  // The handshake's error frame (e.g. `unauthorized`) explains a close better than its code.
  const handshakeNotice = state.connection.status === "connecting" ? state.connection.notice : null;
  // Whatever the socket knew is stale now: typing flags would otherwise stick forever, and a
  // pending takeover's answer is lost (the resumed `history` carries the real control state).
  const conversations = mapConversations(state.conversations, (c) => ({ ...settle(c), loaded: false }));
  if (!decision.reconnect || giveUp) {
    return {
      ...state,
      followUps: settleFollowUps(state.followUps),
      forceReleasing: [],
      connection: { status: "stopped", close, notice: handshakeNotice },
      conversations: mapConversations(conversations, (c) => failAll(c, "Not connected.")),
    };
  }
  return {
    ...state,
    failures: state.failures + 1,
    connection: { status: "reconnecting", attempt: state.failures + 1, delayMs, close, notice: handshakeNotice },
    conversations,
    forceReleasing: [],
    followUps: settleFollowUps(state.followUps),
    // The answer to "Load more" went with the socket; the button must not stay busy.
    recent: { ...state.recent, loadingMore: null },
  };
}

/**
 * What a new connection sends once `ready` arrives: the Online subscription for the view shown (and, for owners and
 * editors, the Team one: presence and audit log), the follow-up list, every open
 * conversation from the seq we already have (so the hub sends exactly what we missed), then
 * every unacknowledged message again under its original client id (the hub never duplicates).
 */
export function resumeFrames(state: ClientState): OperatorFrame[] {
  // The hub's memory of this connection's window is empty: the answer is the whole window.
  const frames: OperatorFrame[] = [subscribeFrame(state.online.request)];
  if (state.session && roleSeesTeam(state.session.operator.role)) frames.push({ type: "subscribe_team" });
  // Changes to the follow-up list went unheard while disconnected: the whole list again.
  frames.push({ type: "follow_ups" });
  const conversations = Object.values(state.conversations);
  for (const c of conversations) {
    if (c.open) frames.push(openFrame(c));
  }
  for (const c of conversations) {
    for (const m of c.outbox) {
      if (m.status === "sending") frames.push(outgoingFrame("message", c.id, m));
    }
    // Notes are idempotent by client id like messages: a re-send answers with the original note.
    for (const n of c.noteOutbox) {
      if (n.status === "sending") frames.push(outgoingFrame("note", c.id, n));
    }
  }
  // A search answer lost with the socket would leave "Searching…" forever.
  if (state.search.pending) frames.push({ type: "search", query: state.search.query });
  // Likewise the Transfer dialog's list of who is online.
  if (state.colleagues.pending) frames.push({ type: "colleagues" });
  return frames;
}

/** The frame of a message or note written here: its files by id. */
export function outgoingFrame(
  type: "message" | "note",
  conversationId: string,
  m: Pick<OutgoingMessage, "clientId" | "text" | "attachments">,
): OperatorFrame {
  const frame: Extract<OperatorFrame, { type: "message" | "note" }> = { type, conversation_id: conversationId, client_id: m.clientId, text: m.text };
  if (m.attachments?.length) frame.attachments = m.attachments.map((a) => a.id);
  return frame;
}

/** The composer's files went with a message or note (refused ones were read); uploads still running stay. */
function filesSent(c: ConversationState): Pick<ConversationState, "composerFiles"> {
  return { composerFiles: c.composerFiles.filter((f) => f.status === "uploading") };
}

export function openFrame(c: ConversationState, from: number = c.lastSeq): OperatorFrame {
  return from > 0
    ? { type: "open", conversation_id: c.id, after_seq: from }
    : { type: "open", conversation_id: c.id };
}
