/**
 * The operator-only parts of a conversation and of the dashboard's lists: internal notes (and
 * the ones still on their way), the visitor's context and earlier conversations, the Recent tab
 * and search. Pure transitions, used by `reducer.ts`.
 */
import type { Attachment, ConversationSummary, Note, ServerFrame } from "../protocol/frames";
import type { ClientState, ConversationState, Notice, OutgoingNote, RecentState } from "./state";

type HistoryFrame = Extract<ServerFrame, { type: "history" }>;
type RecentFrame = Extract<ServerFrame, { type: "recent" }>;

/**
 * Merge notes by id (a re-open's `history` repeats notes already received live), and settle the
 * outgoing ones they carry: a note stored while its `note` frame was lost comes back this way.
 */
export function insertNotes(c: ConversationState, incoming: Note[]): ConversationState {
  if (incoming.length === 0) return c;
  const byId = new Map<number, Note>();
  for (const n of c.notes) byId.set(n.id, n);
  let added = false;
  for (const n of incoming) {
    if (byId.has(n.id)) continue;
    byId.set(n.id, n);
    added = true;
  }
  const stored = new Set(incoming.map((n) => n.client_id).filter((id): id is string => id !== undefined));
  const noteOutbox = c.noteOutbox.some((m) => stored.has(m.clientId)) ? c.noteOutbox.filter((m) => !stored.has(m.clientId)) : c.noteOutbox;
  if (!added && noteOutbox === c.noteOutbox) return c;
  const notes = added ? [...byId.values()].sort((a, b) => a.id - b.id) : c.notes;
  return { ...c, notes, noteOutbox };
}

/** What a `history` frame says beyond events: notes, the visitor's context, earlier conversations. */
export function applyHistoryDesk(c: ConversationState, frame: HistoryFrame): ConversationState {
  const next = insertNotes(c, frame.notes ?? []);
  // Absent means "none"; but a hub that leaves them out of a resumed history must not blank the panel.
  return { ...next, context: frame.context ?? next.context, earlier: frame.earlier ?? next.earlier };
}

export function queueNote(c: ConversationState, clientId: string, text: string, at: number, attachments?: Attachment[]): ConversationState {
  const note: OutgoingNote = { clientId, text, createdAt: at, status: "sending", error: null };
  if (attachments?.length) note.attachments = attachments;
  return { ...c, noteOutbox: [...c.noteOutbox, note] };
}

export function retryNote(c: ConversationState, clientId: string): ConversationState {
  if (!c.noteOutbox.some((m) => m.clientId === clientId && m.status === "failed")) return c;
  return {
    ...c,
    noteOutbox: c.noteOutbox.map((m) => (m.clientId === clientId ? { ...m, status: "sending" as const, error: null } : m)),
  };
}

export function hasOutgoingNote(c: ConversationState | undefined, clientId: string): boolean {
  return c !== undefined && c.noteOutbox.some((m) => m.clientId === clientId);
}

/** A refused note: retryable refusals stay "sending" (the IO layer sends them again). */
export function refuseNote(c: ConversationState, clientId: string, notice: Notice, retryable: boolean): ConversationState {
  return {
    ...c,
    noteOutbox: c.noteOutbox.map((m) =>
      m.clientId === clientId ? { ...m, status: retryable ? ("sending" as const) : ("failed" as const), error: notice } : m,
    ),
  };
}

export function failSendingNotes(c: ConversationState, text: string): ConversationState {
  if (!c.noteOutbox.some((m) => m.status === "sending")) return c;
  return {
    ...c,
    noteOutbox: c.noteOutbox.map((m) =>
      m.status === "sending" ? { ...m, status: "failed" as const, error: { code: "unavailable" as const, text } } : m,
    ),
  };
}

// --- Recent and search ---------------------------------------------------------------------

/** Newest activity first; ties by id so pages never reorder rows already shown. */
function byActivity(a: ConversationSummary, b: ConversationSummary): number {
  if (b.last_activity_at !== a.last_activity_at) return b.last_activity_at - a.last_activity_at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function requestRecent(state: ClientState, cursor: string | undefined): ClientState {
  const recent: RecentState =
    cursor === undefined
      ? { ...state.recent, status: state.recent.status === "loaded" ? "loaded" : "loading", loadingMore: null }
      : { ...state.recent, loadingMore: cursor };
  return { ...state, recent };
}

/**
 * A first page (no `cursor`) replaces the list; a later page is appended only when it answers the
 * "Load more" awaited, so a page of an older listing cannot graft itself onto a fresh one.
 */
export function applyRecent(state: ClientState, frame: RecentFrame): ClientState {
  const nextCursor = frame.next_cursor ?? null;
  if (frame.cursor === undefined) {
    const conversations = [...frame.conversations].sort(byActivity);
    return { ...state, recent: { status: "loaded", conversations, nextCursor, loadingMore: null } };
  }
  if (frame.cursor !== state.recent.loadingMore) return state;
  const known = new Set(state.recent.conversations.map((c) => c.id));
  const fresh = frame.conversations.filter((c) => !known.has(c.id));
  const conversations = [...state.recent.conversations, ...fresh].sort(byActivity);
  return { ...state, recent: { status: "loaded", conversations, nextCursor, loadingMore: null } };
}

export function requestSearch(state: ClientState, query: string): ClientState {
  const same = state.search.query === query;
  return { ...state, search: { query, results: same ? state.search.results : null, pending: true } };
}

export function applySearchResults(state: ClientState, frame: Extract<ServerFrame, { type: "search_results" }>): ClientState {
  // Answers to queries typed over since are stale: only the last query's answer shows.
  if (frame.query !== state.search.query) return state;
  return { ...state, search: { query: frame.query, results: frame.conversations, pending: false } };
}

/**
 * The conversation's row as the Online list last showed it: in the window now, or seen in it
 * lately (it may have scrolled out, or sit behind another filter, and still be live).
 */
export function onlineSummary(state: ClientState, id: string): ConversationSummary | undefined {
  return state.online.rows[id] ?? state.online.seen[id];
}

/**
 * What the dashboard knows of a conversation's summary: the Online list's (live), else the last
 * Recent page, search answer, follow-up list or an open conversation's "earlier" list that named it.
 */
export function knownSummary(state: ClientState, id: string): ConversationSummary | undefined {
  const online = onlineSummary(state, id);
  if (online) return online;
  const inList = (list: ConversationSummary[] | null | undefined) => list?.find((c) => c.id === id);
  const found =
    inList(state.recent.conversations) ??
    inList(state.search.results) ??
    state.followUps.rows.find((r) => r.conversation.id === id)?.conversation;
  if (found) return found;
  for (const c of Object.values(state.conversations)) {
    const earlier = inList(c.earlier);
    if (earlier) return earlier;
  }
  return undefined;
}
