import { useEffect, useRef, useState } from "react";
import { LIMITS } from "../protocol/frames";
import type { RecentState, SearchState } from "../client/state";
import { trimBlank } from "../client/visible";
import { ConversationList } from "./ConversationList";

export interface RecentPanelProps {
  recent: RecentState;
  search: SearchState;
  connected: boolean;
  selectedId: string | null;
  now: number;
  onSelect(id: string): void;
  onLoadMore(cursor: string): void;
  onSearch(query: string): void;
  onClearSearch(): void;
}

/** Typing pauses this long before the query goes to the hub (Enter sends at once). */
export const SEARCH_DEBOUNCE_MS = 350;

const noUnread = () => 0;

/** What the box holds, as the hub takes it, or why it cannot be sent. */
function queryOf(draft: string): { query: string } | { error: string } | null {
  const query = trimBlank(draft);
  if (query === "") return null;
  if ([...query].length > LIMITS.maxQueryChars) return { error: `A search is at most ${LIMITS.maxQueryChars} characters.` };
  return { query };
}

/**
 * The Recent tab: conversations that left the Online list, newest first, page by page, and a
 * search over every conversation of the workspace. Results open read-only, like Online rows.
 */
export function RecentPanel(props: RecentPanelProps) {
  const { recent, search, connected, selectedId, now, onSelect } = props;
  const [draft, setDraft] = useState(search.query);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  // The debounce fires after renders it did not see: it compares with the query sent by then.
  const sent = useRef(search.query);
  sent.current = search.query;
  const parsed = queryOf(draft);

  const clearTimer = () => {
    if (timer.current !== null) clearTimeout(timer.current);
    timer.current = null;
  };
  useEffect(() => clearTimer, []);

  const submit = (value: string) => {
    clearTimer();
    const q = queryOf(value);
    if (q === null) props.onClearSearch();
    else if ("query" in q && q.query !== sent.current) props.onSearch(q.query);
  };

  const onChange = (value: string) => {
    setDraft(value);
    clearTimer();
    timer.current = setTimeout(() => submit(value), SEARCH_DEBOUNCE_MS);
  };

  const searching = search.query !== "";
  return (
    <div className="recent">
      <form
        className="recent__search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          clearTimer();
          // Enter asks again even for the same words: the answer may have changed since.
          const q = queryOf(draft);
          if (q === null) props.onClearSearch();
          else if ("query" in q) props.onSearch(q.query);
        }}
      >
        <input
          className="recent__input"
          type="search"
          aria-label="Search conversations"
          placeholder="Search messages, visitor or id…"
          value={draft}
          aria-invalid={parsed !== null && "error" in parsed}
          onChange={(e) => onChange(e.target.value)}
        />
        {parsed !== null && "error" in parsed && (
          <p className="field__error" role="alert">
            {parsed.error}
          </p>
        )}
      </form>

      {searching ? (
        <section aria-label="Search results">
          <p className="recent__caption" role="status">
            {search.pending ? `Searching for “${search.query}”…` : `Results for “${search.query}”`}
          </p>
          {search.results !== null && (
            <ConversationList
              conversations={search.results}
              loaded
              selectedId={selectedId}
              unread={noUnread}
              now={now}
              onSelect={onSelect}
              label="Search results"
              emptyText={`No conversation matches “${search.query}”.`}
            />
          )}
        </section>
      ) : (
        <>
          <ConversationList
            conversations={recent.conversations}
            loaded={recent.status === "loaded"}
            selectedId={selectedId}
            unread={noUnread}
            now={now}
            onSelect={onSelect}
            label="Recent conversations"
            emptyText="No recent conversations. A conversation shows here once it has left the Online list."
          />
          {recent.nextCursor !== null && (
            <div className="recent__more">
              <button
                type="button"
                className="btn btn--outline"
                disabled={!connected || recent.loadingMore !== null}
                aria-busy={recent.loadingMore !== null}
                onClick={() => recent.nextCursor !== null && props.onLoadMore(recent.nextCursor)}
              >
                {recent.loadingMore !== null ? "Loading…" : "Load more"}
              </button>
            </div>
          )}
        </>
      )}
    </div>
  );
}
