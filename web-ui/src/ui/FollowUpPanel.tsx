/**
 * The Follow-up view: conversations nobody was available for (asked for a human outside working
 * hours, or nobody took over in time) that no operator has written in since, the longest waiting
 * first. Answering one takes it off the list (and emails the answer to the visitor, when they
 * left an address and are away).
 */
import { useRef } from "react";
import type { FollowUpRow } from "../protocol/frames";
import type { FollowUpsState } from "../client/followUps";
import { deliveryShort, REASON_TEXT } from "../text/followUp";
import { auditTime, relativeTime } from "../text/format";
import { listboxKeyDown } from "./ConversationList";

export interface FollowUpPanelProps {
  status: FollowUpsState["status"];
  /** The longest waiting first (`followUpRows`). */
  rows: FollowUpRow[];
  selectedId: string | null;
  now: number;
  onSelect(id: string): void;
}

/** A screen reader hears the row as one sentence. */
export function followUpLabel(row: FollowUpRow, now: number): string {
  const { conversation: c, follow_up: f } = row;
  return [
    c.visitor_label,
    REASON_TEXT[f.reason].toLowerCase(),
    `waiting since ${relativeTime(f.since, now)}`,
    f.email ? `email ${f.email}` : "no email left",
    f.delivery ? deliveryShort(f.delivery, now) : null,
    c.visitor_online ? "online" : "offline",
  ]
    .filter((p): p is string => p !== null)
    .join(", ");
}

export function FollowUpPanel({ status, rows, selectedId, now, onSelect }: FollowUpPanelProps) {
  const listRef = useRef<HTMLUListElement>(null);
  if (status !== "loaded") return <p className="online__empty">Loading follow-ups…</p>;
  if (rows.length === 0) {
    return (
      <p className="online__empty">
        Nobody is waiting for a follow-up. A conversation shows here when a visitor asks for a human outside working hours or
        nobody answers in time, until someone writes in it.
      </p>
    );
  }
  const focusIndex = Math.max(0, rows.findIndex((r) => r.conversation.id === selectedId));
  return (
    <div className="follow-ups">
      <p className="recent__caption">Longest waiting first. Your answer takes a conversation off the list.</p>
      <ul
        ref={listRef}
        className="online__list"
        role="listbox"
        aria-label="Waiting for follow-up"
        onKeyDown={(e) => listboxKeyDown(e, listRef.current, onSelect)}
      >
        {rows.map((row, i) => {
          const { conversation: c, follow_up: f } = row;
          const selected = c.id === selectedId;
          return (
            <li
              key={c.id}
              role="option"
              aria-selected={selected}
              aria-label={followUpLabel(row, now)}
              data-conversation-id={c.id}
              className={`row row--follow-up${selected ? " row--selected" : ""}`}
              tabIndex={i === focusIndex ? 0 : -1}
              onClick={() => onSelect(c.id)}
            >
              <span className={`presence presence--${c.visitor_online ? "online" : "offline"}`} aria-hidden="true" />
              <span className="row__main">
                <span className="row__top">
                  <span className="row__label">{c.visitor_label}</span>
                  <time className="row__time" dateTime={new Date(f.since).toISOString()} title={`Waiting since ${auditTime(f.since, now)}`}>
                    {relativeTime(f.since, now)}
                  </time>
                </span>
                <span className="row__preview">{REASON_TEXT[f.reason]}</span>
                <span className="row__meta">
                  {f.email ? (
                    <span className="chip chip--email">
                      <bdi>{f.email}</bdi>
                    </span>
                  ) : (
                    <span className="row__muted">No email left</span>
                  )}
                  {f.delivery && <span className={`badge badge--delivery badge--${f.delivery.state}`}>{deliveryShort(f.delivery, now)}</span>}
                </span>
              </span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
