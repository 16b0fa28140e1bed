/**
 * The Online tab: filter buttons with their counts, a search box, and the list itself, windowed.
 *
 * A workspace may have thousands of live conversations; the hub sends a window of them
 * (`online_view`) and the list renders only the rows in view plus a few either side: a scroll
 * container whose inner height is `total × ROW_HEIGHT`, rows placed absolutely at
 * `index × ROW_HEIGHT` (the way react-window's FixedSizeList does it). Positions the received
 * window does not cover show as light placeholders until the next window arrives; scrolling
 * asks for it (at most once per animation frame, only when the rows in view are not covered).
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import type { ConversationSummary, OnlineFilter, OnlineOrder } from "../protocol/frames";
import { LIMITS } from "../protocol/frames";
import { noCounts, rowAt, type OnlineRequest, type OnlineState } from "../client/online";
import { ConversationRow } from "./ConversationRow";

/** Every row is this tall (styles.css `.row--fixed` keeps it so). */
export const ROW_HEIGHT = 88;
/** Rows rendered beyond each edge of the viewport, so a short scroll shows no gap. */
const OVERSCAN = 4;
/** Rows asked of the hub beyond each edge of the viewport, so scrolling rarely waits. */
const FETCH_MARGIN = 30;
/** Until the container is measured (and in jsdom, which lays nothing out). */
const FALLBACK_VIEWPORT = 640;
const SEARCH_DEBOUNCE_MS = 200;

/**
 * The two orders: recent activity (a conversation rises when someone writes) and newest first
 * (rows stay in place: a list of thousands stays readable while it updates).
 */
export const ORDERS: { order: OnlineOrder; label: string }[] = [
  { order: "activity", label: "Recent activity" },
  { order: "started", label: "Newest" },
];

export const FILTERS: { filter: OnlineFilter; label: string }[] = [
  { filter: "needs_human", label: "Needs a human" },
  { filter: "mine", label: "Mine" },
  { filter: "ai", label: "AI" },
  { filter: "all", label: "All" },
];

export interface Range {
  /** First index. */
  start: number;
  /** One past the last index. */
  end: number;
}

/** The rows a viewport shows at a scroll offset, with `overscan` more on each side, within `total`. */
export function visibleRange(scrollTop: number, viewport: number, total: number, overscan = 0): Range {
  if (total <= 0) return { start: 0, end: 0 };
  const first = Math.min(total - 1, Math.max(0, Math.floor(scrollTop / ROW_HEIGHT)));
  const last = Math.min(total, Math.ceil((scrollTop + viewport) / ROW_HEIGHT));
  return { start: Math.max(0, first - overscan), end: Math.min(total, Math.max(last, first + 1) + overscan) };
}

/** Whether the window asked for covers `range` (then scrolling needs no new request). */
export function covers(request: Pick<OnlineRequest, "offset" | "limit">, range: Range): boolean {
  return range.end <= range.start || (request.offset <= range.start && range.end <= request.offset + request.limit);
}

/** The window to ask for so that `range` is covered with a margin either side. */
export function windowFor(range: Range, total: number): Pick<OnlineRequest, "offset" | "limit"> {
  const offset = Math.max(0, range.start - FETCH_MARGIN);
  const limit = Math.max(1, Math.min(LIMITS.maxOnlineWindow, Math.min(total, range.end + FETCH_MARGIN) - offset));
  return { offset, limit };
}

export interface OnlineListProps {
  online: OnlineState;
  selectedId: string | null;
  unread: (c: ConversationSummary) => number;
  now: number;
  onSelect: (id: string) => void;
  /** Ask for another window, filter or search. */
  onView: (patch: Partial<OnlineRequest>) => void;
}

export function OnlineList(props: OnlineListProps) {
  const { online, selectedId, unread, now, onSelect, onView } = props;
  const { request, view } = online;
  const scrollRef = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(FALLBACK_VIEWPORT);
  const [active, setActive] = useState(0);
  const [text, setText] = useState(request.query);
  const counts = view?.counts ?? noCounts;
  const total = view?.total ?? 0;

  // Scroll events come faster than frames: read the offset once per animation frame.
  const pendingFrame = useRef<number | null>(null);
  const onScroll = useCallback(() => {
    if (pendingFrame.current !== null) return;
    pendingFrame.current = -1; // booked, id below
    const id = requestAnimationFrame(() => {
      pendingFrame.current = null;
      setScrollTop(scrollRef.current?.scrollTop ?? 0);
    });
    if (pendingFrame.current === -1) pendingFrame.current = id;
  }, []);
  useEffect(() => () => {
    if (pendingFrame.current !== null && pendingFrame.current !== -1) cancelAnimationFrame(pendingFrame.current);
  }, []);

  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const measure = () => setViewport(el.clientHeight > 0 ? el.clientHeight : FALLBACK_VIEWPORT);
    measure();
    if (typeof ResizeObserver !== "function") return;
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, [view === null]);

  // The rows in view must be in the window asked for; if not, ask for the window around them.
  // Runs after a render, and renders follow scrolling at most once per frame.
  const inView = visibleRange(scrollTop, viewport, total);
  useEffect(() => {
    if (view === null || covers(request, inView)) return;
    onView(windowFor(inView, total));
  }, [view, request, inView.start, inView.end, onView]);

  // The search box asks once typing pauses.
  useEffect(() => {
    if (text.trim() === request.query) return;
    const t = setTimeout(() => {
      toTop();
      onView({ query: text });
    }, SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(t);
  }, [text, request.query, onView]);

  const toTop = () => {
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
    setScrollTop(0);
    setActive(0);
  };

  const chooseFilter = (filter: OnlineFilter) => {
    if (filter === request.filter) return;
    toTop();
    onView({ filter });
  };

  const chooseOrder = (order: OnlineOrder) => {
    if (order === request.order) return;
    toTop();
    onView({ order });
  };

  /** Scroll just enough for row `index` to be fully in view. */
  const reveal = (index: number) => {
    const el = scrollRef.current;
    if (!el) return;
    const top = index * ROW_HEIGHT;
    let next = el.scrollTop;
    if (top < next) next = top;
    else if (top + ROW_HEIGHT > next + viewport) next = top + ROW_HEIGHT - viewport;
    if (next !== el.scrollTop) el.scrollTop = next;
    setScrollTop(next);
  };

  const activeIndex = Math.min(active, Math.max(0, total - 1));
  const activeRow = total > 0 ? rowAt(online, activeIndex) : undefined;

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (total === 0) return;
    const page = Math.max(1, Math.floor(viewport / ROW_HEIGHT) - 1);
    const to =
      e.key === "ArrowDown" ? activeIndex + 1
      : e.key === "ArrowUp" ? activeIndex - 1
      : e.key === "PageDown" ? activeIndex + page
      : e.key === "PageUp" ? activeIndex - page
      : e.key === "Home" ? 0
      : e.key === "End" ? total - 1
      : null;
    if (to !== null) {
      e.preventDefault();
      const index = Math.min(total - 1, Math.max(0, to));
      setActive(index);
      reveal(index);
      return;
    }
    if ((e.key === "Enter" || e.key === " ") && activeRow) {
      e.preventDefault();
      onSelect(activeRow.id);
    }
  };

  const drawn = visibleRange(scrollTop, viewport, total, OVERSCAN);
  const rows = [];
  for (let i = drawn.start; i < drawn.end; i++) {
    const c = rowAt(online, i);
    const style = { top: i * ROW_HEIGHT, height: ROW_HEIGHT };
    if (!c) {
      rows.push(<div key={`placeholder-${i}`} className="row row--fixed row--placeholder" style={style} aria-hidden="true" />);
      continue;
    }
    rows.push(
      <ConversationRow
        key={c.id}
        as="div"
        id={optionId(c.id)}
        conversation={c}
        unread={unread(c)}
        now={now}
        selected={c.id === selectedId}
        active={i === activeIndex}
        className="row--fixed"
        style={style}
        aria-setsize={total}
        aria-posinset={i + 1}
        onClick={() => {
          setActive(i);
          onSelect(c.id);
        }}
      />,
    );
  }

  const stale =
    view !== null &&
    (view.filter !== request.filter || view.order !== request.order || view.query !== request.query);

  return (
    <div className="onlinelist">
      <div className="onlinelist__tools">
        <div className="filters" role="group" aria-label="Show conversations">
          {FILTERS.map(({ filter, label }) => (
            <button
              key={filter}
              type="button"
              className={`filter${filter === request.filter ? " filter--active" : ""}${filter === "needs_human" && counts.needs_human > 0 ? " filter--waiting" : ""}`}
              aria-pressed={filter === request.filter}
              onClick={() => chooseFilter(filter)}
            >
              {label} ({counts[filter]})
            </button>
          ))}
        </div>
        <div className="filters onlinelist__order" role="group" aria-label="Order">
          {ORDERS.map(({ order, label }) => (
            <button
              key={order}
              type="button"
              className={`filter${order === request.order ? " filter--active" : ""}`}
              aria-pressed={order === request.order}
              onClick={() => chooseOrder(order)}
            >
              {label}
            </button>
          ))}
        </div>
        <input
          type="search"
          className="onlinelist__search"
          aria-label="Search the Online list"
          placeholder="Search visitors and messages"
          maxLength={LIMITS.maxOnlineQueryChars}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Escape" && text !== "") {
              e.preventDefault();
              setText("");
            } else if (e.key === "ArrowDown") {
              e.preventDefault();
              scrollRef.current?.focus();
            }
          }}
        />
      </div>
      {view === null ? (
        <p className="online__empty">Loading conversations…</p>
      ) : total === 0 && !stale ? (
        <p className="online__empty">{emptyText(request)}</p>
      ) : null}
      <div
        ref={scrollRef}
        className="onlinelist__scroll"
        role="listbox"
        aria-label="Online conversations"
        aria-busy={stale || undefined}
        aria-activedescendant={activeRow ? optionId(activeRow.id) : undefined}
        tabIndex={0}
        hidden={view === null || (total === 0 && !stale)}
        onScroll={onScroll}
        onKeyDown={onKeyDown}
      >
        <div className="onlinelist__inner" role="presentation" style={{ height: total * ROW_HEIGHT }}>
          {rows}
        </div>
      </div>
    </div>
  );
}

function optionId(conversationId: string): string {
  return `online-row-${conversationId}`;
}

function emptyText(request: OnlineRequest): string {
  if (request.query !== "") return `No live conversation matches “${request.query}”.`;
  switch (request.filter) {
    case "needs_human":
      return "Nobody is waiting for a human.";
    case "mine":
      return "You hold no conversation. Take Control of one and it shows here.";
    case "ai":
      return "The AI is handling no conversation right now.";
    case "all":
      return "No active conversations right now. New ones appear here live.";
  }
}
