import { useEffect, useLayoutEffect, useRef } from "react";
import type { ConversationEvent, ConversationSummary, OperatorRef } from "../protocol/frames";
import { DEFAULT_OPERATOR_NAME } from "../protocol/frames";
import { controlView, timeline, visibleDraft, type TimelineItem } from "../client/selectors";
import type { ConversationState, OutgoingMessage, Session } from "../client/state";
import { Avatar } from "./Avatar";
import { ControlBar, type ControlActions } from "./ControlBar";
import { clockTime } from "./format";

export interface ConversationViewProps {
  conversation: ConversationState;
  summary: ConversationSummary | undefined;
  session: Session;
  connected: boolean;
  actions: ControlActions & { retry(clientId: string): void; dismissError(): void };
}

export function ConversationView({ conversation: c, summary, session, connected, actions }: ConversationViewProps) {
  const label = summary?.visitor_label ?? "Visitor";
  const control = controlView(c, session);
  // The Online list follows presence live; the history frame only knew it at open time.
  const visitorOnline = summary?.visitor_online ?? c.visitorOnline;
  const items = timeline(c);
  const draft = visibleDraft(c);
  const logRef = useRef<HTMLOListElement>(null);

  // Follow new messages, unless the operator scrolled up to read older ones.
  const pinned = useRef(true);
  useLayoutEffect(() => {
    const el = logRef.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [items.length, c.typing.visitor, c.typing.ai, draft?.text]);

  const holderText =
    control.kind === "ai" ? "AI assistant" : control.kind === "self" ? "You" : control.kind === "other" ? control.name : "…";

  return (
    <section className="conversation" aria-label={`Conversation with ${label}`}>
      <header className="conversation__header">
        <div>
          <h2 className="conversation__title">{label}</h2>
          <p className="conversation__sub">
            <span className={`presence presence--${visitorOnline ? "online" : "offline"}`} aria-hidden="true" />
            {visitorOnline ? "Online" : "Offline"}
            <span className="dot-sep" aria-hidden="true">·</span>
            Handled by <strong>{holderText}</strong>
            {c.needsHuman && control.kind === "ai" && <span className="badge badge--waiting">Needs human</span>}
          </p>
        </div>
      </header>

      <ol
        ref={logRef}
        className="timeline"
        role="log"
        aria-label="Conversation history"
        aria-live="polite"
        onScroll={(e) => {
          const el = e.currentTarget;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
        }}
      >
        {!c.loaded && items.length === 0 && <li className="timeline__loading">Loading history…</li>}
        {items.map((item) => (
          <TimelineRow key={itemKey(item)} item={item} session={session} visitorLabel={label} onRetry={actions.retry} />
        ))}
        {draft && (
          // Not stored yet: muted, "writing…" instead of a time, and busy so screen readers
          // wait for the stored reply rather than read every word.
          <li key={`d${draft.id}`} className="msg msg--ai msg--draft" aria-busy="true" data-draft-id={draft.id}>
            <div className="msg__body">
              <Avatar kind="ai" name="AI assistant" />
              <div>
                <div className="msg__head">
                  <span className="msg__name">AI assistant</span>
                  <span className="msg__time">writing…</span>
                </div>
                <p className="msg__text">{draft.text}</p>
              </div>
            </div>
          </li>
        )}
      </ol>

      <TypingLine conversation={c} selfId={session.operator.id} />

      {c.error && (
        <div className="inline-error" role="alert">
          <span>{c.error.text}</span>
          <button type="button" className="link-button" onClick={actions.dismissError}>
            Dismiss
          </button>
        </div>
      )}

      <ControlBar
        control={control}
        pending={c.pending}
        loaded={c.loaded}
        session={session}
        connected={connected}
        actions={actions}
        idleReleaseAt={
          c.idleWarning && c.idleWarning.holderId === session.operator.id ? c.idleWarning.releaseAt : null
        }
      />
    </section>
  );
}

function itemKey(item: TimelineItem): string {
  return item.kind === "event" ? `e${item.event.seq}` : `p${item.message.clientId}`;
}

function TimelineRow(props: { item: TimelineItem; session: Session; visitorLabel: string; onRetry(id: string): void }) {
  const { item, session, visitorLabel, onRetry } = props;
  if (item.kind === "pending") {
    const self: OperatorRef = { id: session.operator.id, name: session.operator.name };
    return (
      <li className="msg msg--operator msg--own">
        <Bubble author="operator" name={self.name} text={item.message.text} at={item.message.createdAt} />
        <Delivery message={item.message} onRetry={onRetry} />
      </li>
    );
  }
  const e = item.event;
  switch (e.type) {
    case "message": {
      const a = e.author;
      if (a.kind === "operator") {
        const own = a.id === session.operator.id;
        return (
          <li className={`msg msg--operator${own ? " msg--own" : ""}`}>
            <Bubble author="operator" name={a.name} avatarUrl={a.avatar_url} text={e.text} at={e.at} />
            {item.delivery && <Delivery message={item.delivery} onRetry={onRetry} />}
          </li>
        );
      }
      return (
        <li className={`msg msg--${a.kind}`}>
          <Bubble author={a.kind} name={a.kind === "ai" ? "AI assistant" : visitorLabel} text={e.text} at={e.at} />
        </li>
      );
    }
    default:
      return (
        <li className="notice">
          <span>{noticeText(e, session)}</span> <time dateTime={new Date(e.at).toISOString()}>{clockTime(e.at)}</time>
        </li>
      );
  }
}

function Bubble(props: { author: "visitor" | "ai" | "operator"; name: string; avatarUrl?: string | undefined; text: string; at: number }) {
  return (
    <div className="msg__body">
      <Avatar kind={props.author} name={props.name} url={props.avatarUrl} />
      <div>
        <div className="msg__head">
          <span className="msg__name">{props.name}</span>
          <time className="msg__time" dateTime={new Date(props.at).toISOString()}>
            {clockTime(props.at)}
          </time>
        </div>
        <p className="msg__text">{props.text}</p>
      </div>
    </div>
  );
}

function Delivery({ message, onRetry }: { message: OutgoingMessage; onRetry(id: string): void }) {
  switch (message.status) {
    case "sending":
      return (
        <p className="delivery delivery--sending">
          Sending…{message.error ? ` (${message.error.text})` : ""}
        </p>
      );
    case "sent":
      return <p className="delivery delivery--sent">Sent</p>;
    case "failed":
      return (
        <p className="delivery delivery--failed" role="alert">
          Not sent: {message.error?.text ?? "unknown error"}{" "}
          <button type="button" className="link-button" onClick={() => onRetry(message.clientId)}>
            Retry
          </button>
        </p>
      );
  }
}

type NoticeEvent = Exclude<ConversationEvent, { type: "message" }>;

/** The team sees account names; the hint says what the visitor saw when there is no profile. */
function noticeText(e: NoticeEvent, session: Session): string {
  const who = (op: OperatorRef) => (op.id === session.operator.id ? `${op.name} (you)` : op.name);
  const visitorSees = (op: OperatorRef) =>
    op.display_name ? "" : ` — the visitor sees “${DEFAULT_OPERATOR_NAME}”`;
  switch (e.type) {
    case "operator_joined":
      return `${who(e.operator)} joined the chat${visitorSees(e.operator)}`;
    case "operator_left": {
      const why =
        e.reason === "ended"
          ? ""
          : e.reason === "force_released"
            ? e.by === session.operator.id
              ? " (released by you)"
              : " (released by an owner or editor)"
            : e.reason === "disconnected"
              ? " (connection lost)"
              : " (inactive for too long)";
      return `${who(e.operator)} left the chat${why}; the AI assistant continues`;
    }
    case "human_requested":
      return e.by === "assistant" ? "The AI assistant asked for a human" : "The visitor asked for a human";
    case "human_request_expired":
      return `Nobody took over within ${e.waited_ms < 90_000 ? `${Math.round(e.waited_ms / 1000)} s` : `${Math.round(e.waited_ms / 60_000)} min`}; the AI assistant continues`;
  }
}

function TypingLine({ conversation: c, selfId }: { conversation: ConversationState; selfId: string }) {
  const lines: string[] = [];
  if (c.typing.visitor) lines.push("Visitor is typing…");
  // Once the reply's first words show, its growing bubble says it all.
  if (c.typing.ai && !visibleDraft(c)) lines.push("AI assistant is thinking…");
  // Another tab of the same operator may echo back; nobody needs to be told they are typing.
  for (const op of c.typing.operators) if (op.id !== selfId) lines.push(`${op.name} is typing…`);
  // Kept mounted (empty) so the layout does not jump when someone starts typing.
  return (
    <p className="typing" aria-live="polite">
      {lines.join(" ")}
    </p>
  );
}

/** Mark everything shown as seen, for the Online list's unread counts. */
export function useMarkSeen(c: ConversationState | undefined, markSeen: (id: string, seq: number) => void): void {
  const seq = c?.lastSeq ?? 0;
  const id = c?.id;
  useEffect(() => {
    if (id && seq > 0) markSeen(id, seq);
  }, [id, seq, markSeen]);
}
