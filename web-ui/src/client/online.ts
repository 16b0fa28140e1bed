/**
 * The Online list as a view: what the dashboard asks for (`subscribe_online`: filter, query and
 * a window of rows) and what the hub answers (`online_view`: the window's ids in order, the rows
 * new to it or changed, the counts per filter). Pure: the reducer calls these, the tests drive
 * them directly.
 *
 * The hub sends a row only when it is new to the window or changed since the previous
 * `online_view` on this connection, whatever view that was for. So the row cache mirrors what the
 * hub believes the client has: the rows of the last frame's ids (even of a frame the client
 * ignores because it asked for another filter meanwhile), plus those of the view on screen.
 */
import type {
  ConversationSummary,
  ControlState,
  OnlineCounts,
  OnlineFilter,
  OnlineOrder,
  OperatorFrame,
  ServerFrame,
} from "../protocol/frames";
import { LIMITS } from "../protocol/frames";

export type OnlineViewFrame = Extract<ServerFrame, { type: "online_view" }>;

/** What the dashboard asks the hub for. */
export interface OnlineRequest {
  filter: OnlineFilter;
  /** `activity`: the most recently active first; `started`: the newest first, rows in place. */
  order: OnlineOrder;
  offset: number;
  limit: number;
  /** Empty: no search. */
  query: string;
}

/** The last answer that matched the request's filter and query. */
export interface OnlineWindow {
  filter: OnlineFilter;
  order: OnlineOrder;
  query: string;
  offset: number;
  total: number;
  ids: string[];
  counts: OnlineCounts;
}

export interface OnlineState {
  request: OnlineRequest;
  /** `null` until the first matching `online_view` (the list says "Loading…"). */
  view: OnlineWindow | null;
  /** The last frame's ids, matching or not: the hub's memory of what this connection has. */
  lastIds: string[];
  /** Rows of `view.ids` and `lastIds`, and nothing else. */
  rows: Record<string, ConversationSummary>;
  /**
   * Every row seen lately (bounded, oldest dropped first): labels, holders and "is it on the
   * Online list" for conversations that scrolled out of the window. A window holding the whole
   * unfiltered list drops those no longer in it.
   */
  seen: Record<string, ConversationSummary>;
}

export const MAX_SEEN = 1_000;
export const noCounts: OnlineCounts = { all: 0, needs_human: 0, mine: 0, ai: 0 };

export const initialOnline: OnlineState = {
  request: { filter: "all", order: "activity", offset: 0, limit: LIMITS.onlineWindow, query: "" },
  view: null,
  lastIds: [],
  rows: {},
  seen: {},
};

/**
 * Clamp a requested change to what the hub accepts; a new filter, order or query starts at the
 * top.
 */
export function nextRequest(current: OnlineRequest, patch: Partial<OnlineRequest>): OnlineRequest {
  const filter = patch.filter ?? current.filter;
  const order = patch.order ?? current.order;
  const query = (patch.query ?? current.query).trim().slice(0, LIMITS.maxOnlineQueryChars);
  const changedList = filter !== current.filter || order !== current.order || query !== current.query;
  const offset = Math.max(0, Math.floor(patch.offset ?? (changedList ? 0 : current.offset)));
  const limit = Math.min(LIMITS.maxOnlineWindow, Math.max(1, Math.floor(patch.limit ?? current.limit)));
  return { filter, order, offset, limit, query };
}

export function sameRequest(a: OnlineRequest, b: OnlineRequest): boolean {
  return (
    a.filter === b.filter &&
    a.order === b.order &&
    a.offset === b.offset &&
    a.limit === b.limit &&
    a.query === b.query
  );
}

export function subscribeFrame(r: OnlineRequest): OperatorFrame {
  const base = { type: "subscribe_online" as const, filter: r.filter, order: r.order, offset: r.offset, limit: r.limit };
  return r.query === "" ? base : { ...base, query: r.query };
}

/** Whether a frame answers the list the client asks for now (not one from before a change). */
export function matchesRequest(frame: OnlineViewFrame, request: OnlineRequest): boolean {
  return frame.filter === request.filter && frame.order === request.order && (frame.query ?? "") === request.query;
}

/**
 * Apply one `online_view`. Its rows always go into the cache (the hub counts them as sent);
 * its window and counts replace the view only when it answers the current filter and query.
 */
export function applyOnlineView(online: OnlineState, frame: OnlineViewFrame): OnlineState {
  const fresh: Record<string, ConversationSummary> = {};
  for (const row of frame.rows) fresh[row.id] = keepNewerControl(online.rows[row.id] ?? online.seen[row.id], row);
  const view: OnlineWindow | null = matchesRequest(frame, online.request)
    ? {
        filter: frame.filter,
        order: frame.order,
        query: frame.query ?? "",
        offset: frame.offset,
        total: frame.total,
        ids: frame.ids,
        counts: frame.counts,
      }
    : online.view;
  const keep = new Set(frame.ids);
  for (const id of view?.ids ?? []) keep.add(id);
  const rows: Record<string, ConversationSummary> = {};
  for (const id of keep) {
    const row = fresh[id] ?? online.rows[id];
    if (row) rows[id] = row;
  }
  let seen = remember(online.seen, frame.rows.map((r) => fresh[r.id]!));
  if (showsWholeList(frame)) {
    // Whatever is not in it has left the Online list: it must not pass for live any more.
    const live = new Set(frame.ids);
    if (Object.keys(seen).some((id) => !live.has(id))) {
      seen = Object.fromEntries(Object.entries(seen).filter(([id]) => live.has(id)));
    }
  }
  return { ...online, view, lastIds: frame.ids, rows, seen };
}

/** A window of the unfiltered list that holds all of it (a small team): it tells who left. */
function showsWholeList(frame: OnlineViewFrame): boolean {
  return frame.filter === "all" && !frame.query && frame.offset === 0 && frame.ids.length === frame.total;
}

/**
 * Successive frames folded into one, to be applied at once (the dashboard applies list updates
 * at most once per animation frame): the last frame's window and counts, every frame's rows with
 * the newest of each id winning. Applying the fold equals applying the frames in order, because
 * a row left out of a later frame is one the hub considers unchanged since an earlier one.
 */
export function foldOnlineViews(frames: OnlineViewFrame[]): OnlineViewFrame | null {
  const last = frames.at(-1);
  if (!last || frames.length === 1) return last ?? null;
  const byId = new Map<string, ConversationSummary>();
  for (const f of frames) {
    for (const row of f.rows) {
      byId.delete(row.id); // re-inserted: the map's order is the order rows last changed
      byId.set(row.id, row);
    }
  }
  return { ...last, rows: [...byId.values()] };
}

/**
 * A `control` frame may overtake the list's next frame: a row must not bring back an older
 * holder than the one the `control` frame already put there.
 */
function keepNewerControl(before: ConversationSummary | undefined, row: ConversationSummary): ConversationSummary {
  if (!before || before.control.epoch <= row.control.epoch) return row;
  return { ...row, control: before.control };
}

/** A `control` frame: the holder shown in the list changes at once, not at the next `online_view`. */
export function patchControl(online: OnlineState, id: string, control: ControlState): OnlineState {
  const patch = (m: Record<string, ConversationSummary>) => {
    const row = m[id];
    if (!row || control.epoch < row.control.epoch) return m;
    return { ...m, [id]: { ...row, control } };
  };
  const rows = patch(online.rows);
  const seen = patch(online.seen);
  return rows === online.rows && seen === online.seen ? online : { ...online, rows, seen };
}

function remember(seen: Record<string, ConversationSummary>, rows: ConversationSummary[]): Record<string, ConversationSummary> {
  if (rows.length === 0) return seen;
  const next = { ...seen };
  for (const row of rows) {
    delete next[row.id]; // re-inserted last: the oldest keys are the first dropped
    next[row.id] = row;
  }
  const keys = Object.keys(next);
  for (const key of keys.slice(0, Math.max(0, keys.length - MAX_SEEN))) delete next[key];
  return next;
}

/** The row at a position of the list, if the window covers it and its row has come. */
export function rowAt(online: OnlineState, index: number): ConversationSummary | undefined {
  const view = online.view;
  if (!view) return undefined;
  const id = view.ids[index - view.offset];
  return id === undefined ? undefined : online.rows[id];
}

/** The window's rows, in the list's order. */
export function windowRows(online: OnlineState): ConversationSummary[] {
  const out: ConversationSummary[] = [];
  for (const id of online.view?.ids ?? []) {
    const row = online.rows[id];
    if (row) out.push(row);
  }
  return out;
}
