import { act, fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ConversationSummary, OnlineCounts } from "../protocol/frames";
import type { OnlineRequest, OnlineViewFrame } from "../client/online";
import { reduce } from "../client/reducer";
import { initialState, type ClientState } from "../client/state";
import { bob, onlineView, operatorControl, ready, summary } from "../test/fixtures";
import { covers, OnlineList, ROW_HEIGHT, visibleRange, windowFor } from "./OnlineList";

const NOW = 10 * 60_000;
const TOTAL = 5_000;
const COUNTS: OnlineCounts = { all: TOTAL, needs_human: 3, mine: 2, ai: 4_990 };

/** Row `i` of a 5,000-row list (already in the hub's order). */
const rowOf = (i: number): ConversationSummary =>
  summary(`c${i}`, {
    visitor_label: `Visitor ${i}`,
    last_activity_at: NOW - i,
    last_message: { author: "visitor", text: `message ${i}` },
    needs_human: i < 3,
  });

/** The hub's answer for the window `offset … offset + limit` of the 5,000. */
function windowFrame(offset: number, limit: number, over: Partial<OnlineViewFrame> = {}): OnlineViewFrame {
  const rows = Array.from({ length: Math.max(0, Math.min(limit, TOTAL - offset)) }, (_, k) => rowOf(offset + k));
  return { ...onlineView(rows), ids: rows.map((r) => r.id), rows, offset, total: TOTAL, counts: COUNTS, ...over };
}

/** Animation frames run when the test says so. */
let frames: FrameRequestCallback[] = [];
const paint = () =>
  act(() => {
    const due = frames;
    frames = [];
    for (const f of due) f(0);
  });

beforeEach(() => {
  frames = [];
  vi.stubGlobal("requestAnimationFrame", (f: FrameRequestCallback) => frames.push(f));
  vi.stubGlobal("cancelAnimationFrame", () => {});
});
afterEach(() => {
  vi.unstubAllGlobals();
});

/** The list over the real reducer: `onView` changes the request as the socket client would. */
function setup(first: OnlineViewFrame | null = windowFrame(0, 50)) {
  let state: ClientState = reduce(initialState, { type: "frame", frame: ready() });
  if (first) state = reduce(state, { type: "frame", frame: first });
  const requests: Partial<OnlineRequest>[] = [];
  const onSelect = vi.fn();
  const onView = vi.fn((patch: Partial<OnlineRequest>) => {
    requests.push(patch);
    state = reduce(state, { type: "online_view_requested", patch });
    view.rerender(ui()); // as the socket client's state change would
  });
  const ui = () => (
    <OnlineList online={state.online} selectedId={null} unread={() => 0} now={NOW} onSelect={onSelect} onView={onView} />
  );
  const view = render(ui());
  const sync = () => act(() => view.rerender(ui()));
  const push = (f: OnlineViewFrame) => {
    state = reduce(state, { type: "frame", frame: f });
    sync();
  };
  return { requests, onSelect, onView, push, sync, request: () => state.online.request };
}

const list = () => screen.getByRole("listbox", { name: "Online conversations" });
const shownIds = () => within(list()).queryAllByRole("option").map((o) => o.dataset.conversationId);

function scrollTo(top: number) {
  const el = list();
  el.scrollTop = top;
  fireEvent.scroll(el);
}

describe("visible range", () => {
  it("covers the rows a viewport shows, with overscan, within the total", () => {
    expect(visibleRange(0, 640, 5_000)).toEqual({ start: 0, end: 8 });
    expect(visibleRange(100 * ROW_HEIGHT + 10, 640, 5_000, 4)).toEqual({ start: 96, end: 112 });
    expect(visibleRange(0, 640, 3)).toEqual({ start: 0, end: 3 });
    expect(visibleRange(0, 640, 0)).toEqual({ start: 0, end: 0 });
    expect(covers({ offset: 0, limit: 50 }, { start: 10, end: 20 })).toBe(true);
    expect(covers({ offset: 0, limit: 50 }, { start: 45, end: 55 })).toBe(false);
    expect(windowFor({ start: 2_500, end: 2_508 }, 5_000)).toEqual({ offset: 2_470, limit: 68 });
    expect(windowFor({ start: 5, end: 13 }, 5_000)).toEqual({ offset: 0, limit: 43 });
    expect(windowFor({ start: 4_992, end: 5_000 }, 5_000)).toEqual({ offset: 4_962, limit: 38 });
  });
});

describe("OnlineList", () => {
  it("renders only the rows in view for 5,000 conversations, in a container as tall as all of them", () => {
    setup();
    const options = within(list()).getAllByRole("option");
    // 640 px of viewport (jsdom lays nothing out) → 8 rows, plus 4 of overscan below.
    expect(options.length).toBe(12);
    expect(list().querySelectorAll(".row").length).toBeLessThan(30);
    expect(shownIds().slice(0, 3)).toEqual(["c0", "c1", "c2"]);
    expect(options[0]).toHaveAttribute("aria-setsize", "5000");
    expect(options[0]).toHaveAttribute("aria-posinset", "1");
    expect((list().firstChild as HTMLElement).style.height).toBe(`${TOTAL * ROW_HEIGHT}px`);
    expect(options[0]).toHaveAccessibleName(/^Visitor 0, needs a human, online, handled by AI, last message from Visitor: message 0/);
  });

  it("asks for the window around the rows scrolled to, once per animation frame, and shows placeholders until it comes", () => {
    const { requests, push, request } = setup();
    scrollTo(2_500 * ROW_HEIGHT);
    scrollTo(2_500 * ROW_HEIGHT + 10);
    scrollTo(2_501 * ROW_HEIGHT);
    expect(requests).toEqual([]);
    paint();
    expect(requests).toEqual([{ offset: 2_471, limit: 68 }]);
    expect(shownIds()).toEqual([]);
    expect(list().querySelectorAll(".row--placeholder").length).toBeGreaterThan(8);

    push(windowFrame(request().offset, request().limit));
    expect(shownIds()[0]).toBe("c2497");
    expect(shownIds()).toContain("c2501");
    // A little further, still inside the window: nothing new to ask.
    scrollTo(2_510 * ROW_HEIGHT);
    paint();
    expect(requests).toHaveLength(1);
  });

  it("has filter buttons with the counts; choosing one asks for it from the top", async () => {
    const { requests, push } = setup();
    const group = screen.getByRole("group", { name: "Show conversations" });
    expect(within(group).getAllByRole("button").map((b) => b.textContent)).toEqual([
      "Needs a human (3)",
      "Mine (2)",
      "AI (4990)",
      "All (5000)",
    ]);
    expect(within(group).getByRole("button", { name: "All (5000)" })).toHaveAttribute("aria-pressed", "true");
    scrollTo(40 * ROW_HEIGHT);
    paint();
    requests.length = 0;

    await userEvent.click(within(group).getByRole("button", { name: "Needs a human (3)" }));
    expect(requests[0]).toEqual({ filter: "needs_human" });
    expect(list().scrollTop).toBe(0);
    expect(within(group).getByRole("button", { name: "Needs a human (3)" })).toHaveAttribute("aria-pressed", "true");
    // A late frame of the whole list changes nothing shown; the filter's answer does.
    push(windowFrame(0, 50));
    expect(list()).toHaveAttribute("aria-busy", "true");
    const waiting = [rowOf(0), rowOf(1), rowOf(2)];
    push({ ...onlineView(waiting), filter: "needs_human", counts: COUNTS });
    expect(shownIds()).toEqual(["c0", "c1", "c2"]);
    expect(list()).not.toHaveAttribute("aria-busy");
  });

  it("orders by recent activity or newest first; a frame of the other order is not shown", async () => {
    const { requests, push } = setup();
    const group = screen.getByRole("group", { name: "Order" });
    expect(within(group).getByRole("button", { name: "Recent activity" })).toHaveAttribute("aria-pressed", "true");
    scrollTo(40 * ROW_HEIGHT);
    paint();
    requests.length = 0;

    await userEvent.click(within(group).getByRole("button", { name: "Newest" }));
    expect(requests[0]).toEqual({ order: "started" });
    expect(list().scrollTop).toBe(0);
    // A late frame in activity order changes nothing shown; the newest-first answer does.
    push(windowFrame(0, 50));
    expect(list()).toHaveAttribute("aria-busy", "true");
    const newest = [rowOf(7), rowOf(3), rowOf(5)];
    push({ ...windowFrame(0, 3), ids: newest.map((r) => r.id), rows: newest, order: "started" });
    expect(shownIds()?.slice(0, 3)).toEqual(["c7", "c3", "c5"]);
    expect(list()).not.toHaveAttribute("aria-busy");
  });

  it("searches within the list once typing pauses, and says when nothing matches", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { requests, push } = setup();
      const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
      await user.type(screen.getByRole("searchbox", { name: "Search the Online list" }), "zed");
      expect(requests).toEqual([]);
      await act(() => vi.advanceTimersByTimeAsync(250));
      expect(requests).toEqual([{ query: "zed" }]);
      push({ ...onlineView([]), query: "zed", counts: COUNTS });
      expect(screen.getByText("No live conversation matches “zed”.")).toBeInTheDocument();
    } finally {
      vi.useRealTimers();
    }
  });

  it("moves a highlight with the arrow keys, Home and End, scrolling it into view; Enter opens it", async () => {
    const { onSelect, requests } = setup();
    list().focus();
    await userEvent.keyboard("{ArrowDown}{ArrowDown}");
    expect(list()).toHaveAttribute("aria-activedescendant", "online-row-c2");
    await userEvent.keyboard("{ArrowUp}{Enter}");
    expect(onSelect).toHaveBeenLastCalledWith("c1");
    for (let i = 0; i < 9; i++) await userEvent.keyboard("{ArrowDown}");
    // Row 10 is below the 640 px viewport: the list scrolled just enough.
    expect(list().scrollTop).toBe(11 * ROW_HEIGHT - 640);
    expect(list()).toHaveAttribute("aria-activedescendant", "online-row-c10");
    await userEvent.keyboard("{End}");
    expect(list().scrollTop).toBe(TOTAL * ROW_HEIGHT - 640);
    expect(requests.at(-1)).toEqual({ offset: TOTAL - 8 - 30, limit: 38 });
    // The last row is not in the window yet: nothing to open.
    await userEvent.keyboard("{Enter}");
    expect(onSelect).toHaveBeenCalledTimes(1);
    await userEvent.keyboard("{Home}");
    expect(list().scrollTop).toBe(0);
    expect(list()).toHaveAttribute("aria-activedescendant", "online-row-c0");
  });

  it("says loading before the first window, and shows who holds each row", () => {
    setup(null);
    expect(screen.getByText("Loading conversations…")).toBeInTheDocument();
  });

  it("shows the holder of a row and truncates nothing away from the accessible name", () => {
    const long = "x".repeat(300);
    setup({ ...onlineView([summary("held", { visitor_label: long, control: operatorControl(bob) })]) });
    const row = screen.getByRole("option");
    expect(within(row).getByText("Bob Builder")).toBeInTheDocument();
    expect(row).toHaveAccessibleName(new RegExp(`^${long}, online, handled by Bob Builder`));
  });
});
