import { useEffect, useRef, useState } from "react";
import type { HeldConversation, TeamMember } from "../protocol/frames";
import { capitalize, heldFor } from "../text/format";
import { useNow } from "./hooks";

export interface TeamPanelProps {
  /** `null` until the hub's first `team_snapshot`. */
  members: TeamMember[] | null;
  selfId: string;
  /** Force releases awaiting the hub's answer. */
  releasing: readonly string[];
  connected: boolean;
  onOpen: (conversationId: string) => void;
  onForceRelease: (conversationId: string) => void;
}

/** Online operators first (in the hub's order), then the offline ones. */
export function sortedTeam(members: readonly TeamMember[]): TeamMember[] {
  return [...members.filter((m) => m.online), ...members.filter((m) => !m.online)];
}

/**
 * The Team tab (owners and editors): who is online, what each holds and for how long, with a
 * Force release per held conversation (confirmed inline) and a click on it to open it.
 */
export function TeamPanel({ members, selfId, releasing, connected, onOpen, onForceRelease }: TeamPanelProps) {
  // "for 12 min" moves on by itself.
  const now = useNow(60_000);
  if (members === null) return <p className="online__empty">Loading the team…</p>;
  if (members.length === 0) return <p className="online__empty">No operators in this workspace yet.</p>;
  return (
    <ul className="team" aria-label="Team">
      {sortedTeam(members).map((m) => (
        <li key={m.id} className="member" data-operator-id={m.id}>
          <div className="member__head">
            <span className={`presence presence--${m.online ? "online" : "offline"}`} aria-hidden="true" />
            <span className="member__name">
              {m.name}
              {m.id === selfId && <span className="member__you"> (you)</span>}
            </span>
            <span className="sr-only">{m.online ? ", online" : ", offline"}</span>
            <span className="chip member__role">{capitalize(m.role)}</span>
          </div>
          {m.holding.length > 0 ? (
            <ul className="member__holding" aria-label={`Conversations ${m.name} holds`}>
              {m.holding.map((h) => (
                <HeldRow
                  key={h.conversation_id}
                  held={h}
                  now={now}
                  mayRelease={m.id !== selfId}
                  releasing={releasing.includes(h.conversation_id)}
                  connected={connected}
                  onOpen={onOpen}
                  onForceRelease={onForceRelease}
                />
              ))}
            </ul>
          ) : (
            <p className="member__idle">{m.online ? "Not holding any conversation" : "Offline"}</p>
          )}
        </li>
      ))}
    </ul>
  );
}

interface HeldRowProps {
  held: HeldConversation;
  now: number;
  mayRelease: boolean;
  releasing: boolean;
  connected: boolean;
  onOpen: (conversationId: string) => void;
  onForceRelease: (conversationId: string) => void;
}

function HeldRow({ held, now, mayRelease, releasing, connected, onOpen, onForceRelease }: HeldRowProps) {
  const [confirming, setConfirming] = useState(false);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const releaseRef = useRef<HTMLButtonElement>(null);
  const wasConfirming = useRef(false);

  // Focus follows the question: onto Cancel (the safe answer) when asked, back to the button after.
  useEffect(() => {
    if (confirming) cancelRef.current?.focus();
    else if (wasConfirming.current) releaseRef.current?.focus();
    wasConfirming.current = confirming;
  }, [confirming]);

  const label = held.visitor_label;
  return (
    <li className="held">
      <button
        type="button"
        className="held__open"
        aria-label={`Open ${label}, held ${heldFor(held.since, now)}`}
        onClick={() => onOpen(held.conversation_id)}
      >
        <span className="held__label">{label}</span>
        <time className="held__since" dateTime={new Date(held.since).toISOString()}>
          {heldFor(held.since, now)}
        </time>
      </button>
      {mayRelease &&
        (confirming ? (
          <span className="held__confirm" role="group" aria-label={`Confirm force release of ${label}`}>
            <span>Release {label} back to the AI?</span>
            <button
              type="button"
              className="btn btn--danger-outline btn--small"
              disabled={!connected}
              onClick={() => {
                setConfirming(false);
                onForceRelease(held.conversation_id);
              }}
            >
              Yes
            </button>
            <button
              ref={cancelRef}
              type="button"
              className="btn btn--ghost btn--small"
              onClick={() => setConfirming(false)}
              onKeyDown={(e) => e.key === "Escape" && setConfirming(false)}
            >
              Cancel
            </button>
          </span>
        ) : (
          <button
            ref={releaseRef}
            type="button"
            className="btn btn--danger-outline btn--small"
            aria-label={`Force release ${label}`}
            disabled={!connected || releasing}
            aria-busy={releasing}
            onClick={() => setConfirming(true)}
          >
            {releasing ? "Releasing…" : "Force release"}
          </button>
        ))}
    </li>
  );
}
