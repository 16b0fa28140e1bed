/** One conversation as a list row: the Online list, Recent and search results all show it so. */
import type { CSSProperties, HTMLAttributes } from "react";
import type { ConversationSummary, MessagePreview } from "../protocol/frames";
import { waitsForHuman } from "../client/selectors";
import { relativeTime } from "../text/format";

const AUTHOR_LABEL: Record<MessagePreview["author"], string> = {
  visitor: "Visitor",
  ai: "AI",
  operator: "Operator",
};

export function holderName(c: ConversationSummary): string {
  return c.control.holder.kind === "ai" ? "AI" : c.control.holder.name;
}

/** A screen reader hears the row as one sentence instead of a dozen fragments. */
export function rowLabel(c: ConversationSummary, unread: number, now: number): string {
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

export interface ConversationRowProps extends Omit<HTMLAttributes<HTMLElement>, "children"> {
  as: "li" | "div";
  conversation: ConversationSummary;
  unread: number;
  now: number;
  selected: boolean;
  /** The keyboard's highlight (the listbox's active descendant). */
  active?: boolean;
  style?: CSSProperties;
}

export function ConversationRow({ as: Tag, conversation: c, unread: n, now, selected, active, className, ...rest }: ConversationRowProps) {
  const waiting = waitsForHuman(c);
  const classes = ["row", selected && "row--selected", waiting && "row--waiting", active && "row--active", className].filter(Boolean).join(" ");
  return (
    <Tag
      role="option"
      aria-selected={selected}
      aria-label={rowLabel(c, n, now)}
      data-conversation-id={c.id}
      className={classes}
      {...rest}
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
              <span className="row__author">{AUTHOR_LABEL[c.last_message.author]}:</span> <bdi>{c.last_message.text}</bdi>
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
    </Tag>
  );
}
