import { useRef, type KeyboardEvent } from "react";
import type { ConversationSummary } from "../protocol/frames";
import { ConversationRow } from "./ConversationRow";

export interface ConversationListProps {
  conversations: ConversationSummary[];
  loaded: boolean;
  selectedId: string | null;
  unread: (c: ConversationSummary) => number;
  now: number;
  onSelect: (id: string) => void;
  /** The listbox's name: Recent conversations or Search results. */
  label: string;
  emptyText: string;
}

/**
 * The keys of a short listbox of conversations (rows with `role=option` and
 * `data-conversation-id`): arrows, Home and End move the focus, Enter or Space opens.
 */
export function listboxKeyDown(e: KeyboardEvent<HTMLElement>, list: HTMLElement | null, onSelect: (id: string) => void): void {
  const items = Array.from(list?.querySelectorAll<HTMLElement>("[role=option]") ?? []);
  const current = items.findIndex((el) => el === document.activeElement);
  const move = (i: number) => {
    e.preventDefault();
    items[Math.min(items.length - 1, Math.max(0, i))]?.focus();
  };
  switch (e.key) {
    case "ArrowDown":
      return move(current + 1);
    case "ArrowUp":
      return move(current - 1);
    case "Home":
      return move(0);
    case "End":
      return move(items.length - 1);
    case "Enter":
    case " ": {
      const id = items[current]?.dataset.conversationId;
      if (id) {
        e.preventDefault();
        onSelect(id);
      }
      return;
    }
  }
}

/**
 * A short list of conversations (a Recent page, search results): a listbox with one focusable
 * row at a time (roving tabindex), arrows to move, Enter or Space to open. The Online list,
 * which can hold thousands, is `OnlineList` (windowed).
 */
export function ConversationList(props: ConversationListProps) {
  const { conversations, loaded, selectedId, unread, now, onSelect } = props;
  const listRef = useRef<HTMLUListElement>(null);

  if (!loaded) return <p className="online__empty">Loading conversations…</p>;
  if (conversations.length === 0) return <p className="online__empty">{props.emptyText}</p>;

  const focusIndex = Math.max(0, conversations.findIndex((c) => c.id === selectedId));

  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => listboxKeyDown(e, listRef.current, onSelect);

  return (
    <ul ref={listRef} className="online__list" role="listbox" aria-label={props.label} onKeyDown={onKeyDown}>
      {conversations.map((c, i) => (
        <ConversationRow
          key={c.id}
          as="li"
          conversation={c}
          unread={unread(c)}
          now={now}
          selected={c.id === selectedId}
          tabIndex={i === focusIndex ? 0 : -1}
          onClick={() => onSelect(c.id)}
        />
      ))}
    </ul>
  );
}
