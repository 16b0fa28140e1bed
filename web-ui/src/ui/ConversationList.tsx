import { useRef, type KeyboardEvent } from "react";
import type { ConversationSummary, MessagePreview } from "../protocol/frames";
import { waitsForHuman } from "../client/selectors";
import { relativeTime } from "./format";

export interface OnlineListProps {
  conversations: ConversationSummary[];
  loaded: boolean;
  selectedId: string | null;
  unread: (c: ConversationSummary) => number;
  now: number;
  onSelect: (id: string) => void;
  /** The listbox's name: the same list shows Recent conversations and search results too. */
  label?: string;
  emptyText?: string;
}

const AUTHOR_LABEL: Record<MessagePreview["author"], string> = {
  visitor: "Visitor",
  ai: "AI",
  operator: "Operator",
};

function holderName(c: ConversationSummary): string {
  return c.control.holder.kind === "ai" ? "AI" : c.control.holder.name;
}

/** A screen reader hears the row as one sentence instead of a dozen fragments. */
function rowLabel(c: ConversationSummary, unread: number, now: number): string {
  const parts = [
    c.visitor_label,
    waitsForHuman(c) ? "needs a human" : null,
    c.visitor_online ? "online" : "offline",
    `handled by ${holderName(c)}`,
    unread > 0 ? `${unread} unread` : null,
    c.last_message ? `last message from ${AUTHOR_LABEL[c.last_message.author]}: ${c.last_message.text}` : null,
    relativeTime(c.last_activity_at, now),
  ];
  return parts.filter((p): p is string => p !== null).join(", ");
}

/**
 * The Online tab: a listbox with one focusable row at a time (roving tabindex), arrows to move,
 * Enter or Space to open.
 */
export function OnlineList(props: OnlineListProps) {
  const { conversations, loaded, selectedId, unread, now, onSelect } = props;
  const listRef = useRef<HTMLUListElement>(null);

  if (!loaded) return <p className="online__empty">Loading conversations…</p>;
  if (conversations.length === 0) {
    return <p className="online__empty">{props.emptyText ?? "No active conversations right now. New ones appear here live."}</p>;
  }

  const focusIndex = Math.max(0, conversations.findIndex((c) => c.id === selectedId));

  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => {
    const items = Array.from(listRef.current?.querySelectorAll<HTMLLIElement>("[role=option]") ?? []);
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
  };

  return (
    <ul ref={listRef} className="online__list" role="listbox" aria-label={props.label ?? "Online conversations"} onKeyDown={onKeyDown}>
      {conversations.map((c, i) => {
        const n = unread(c);
        const waiting = waitsForHuman(c);
        const selected = c.id === selectedId;
        return (
          <li
            key={c.id}
            role="option"
            aria-selected={selected}
            aria-label={rowLabel(c, n, now)}
            tabIndex={i === focusIndex ? 0 : -1}
            data-conversation-id={c.id}
            className={`row${selected ? " row--selected" : ""}${waiting ? " row--waiting" : ""}`}
            onClick={() => onSelect(c.id)}
          >
            <span className={`presence presence--${c.visitor_online ? "online" : "offline"}`} aria-hidden="true" />
            <span className="row__main">
              <span className="row__top">
                <span className="row__label">{c.visitor_label}</span>
                <time className="row__time" dateTime={new Date(c.last_activity_at).toISOString()}>
                  {relativeTime(c.last_activity_at, now)}
                </time>
              </span>
              <span className="row__preview">
                {c.last_message ? (
                  <>
                    <span className="row__author">{AUTHOR_LABEL[c.last_message.author]}:</span> {c.last_message.text}
                  </>
                ) : (
                  <span className="row__muted">No messages yet</span>
                )}
              </span>
              <span className="row__meta">
                {waiting && <span className="badge badge--waiting">Needs human</span>}
                <span className={`chip chip--${c.control.holder.kind}`}>{holderName(c)}</span>
                {n > 0 && <span className="badge badge--unread">{n}</span>}
              </span>
            </span>
          </li>
        );
      })}
    </ul>
  );
}
