/** The rows of a conversation's timeline: messages, notices, internal notes, and what is still being sent. */
import type { ReactNode } from "react";
import type { Attachment, ConversationEvent, OperatorRef } from "../protocol/frames";
import { DEFAULT_OPERATOR_NAME } from "../protocol/frames";
import type { TimelineItem } from "../client/selectors";
import type { OutgoingMessage, Session } from "../client/state";
import { Attachments } from "./Attachments";
import { Avatar } from "./Avatar";
import { clockTime } from "../text/format";

export function itemKey(item: TimelineItem): string {
  switch (item.kind) {
    case "event":
      return `e${item.event.seq}`;
    case "pending":
      return `p${item.message.clientId}`;
    case "note":
      return `n${item.note.id}`;
    case "pending_note":
      return `q${item.note.clientId}`;
  }
}

export interface TimelineRowProps {
  item: TimelineItem;
  /** Whose files these are (their links are asked for per conversation). */
  conversationId: string;
  session: Session;
  visitorLabel: string;
  onRetry(id: string): void;
  onRetryNote(id: string): void;
  /** An operator's name, when this dashboard knows it (the team, colleagues, the audit log). */
  nameOf?: ((operatorId: string) => string | undefined) | undefined;
}

export function TimelineRow(props: TimelineRowProps) {
  const { item, session, visitorLabel, onRetry, onRetryNote, nameOf, conversationId: cid } = props;
  if (item.kind === "note") {
    const own = item.note.author.id === session.operator.id;
    return (
      <NoteRow
        author={own ? `${item.note.author.name} (you)` : item.note.author.name}
        text={item.note.text}
        at={item.note.at}
        files={<Attachments conversationId={cid} attachments={item.note.attachments} />}
      />
    );
  }
  if (item.kind === "pending_note") {
    const n = item.note;
    return (
      <NoteRow author={`${session.operator.name} (you)`} text={n.text} at={n.createdAt} files={<Attachments conversationId={cid} attachments={n.attachments} />}>
        {n.status === "sending" ? (
          <p className="delivery delivery--sending">Saving…{n.error ? ` (${n.error.text})` : ""}</p>
        ) : (
          <p className="delivery delivery--failed" role="alert">
            Not saved: {n.error?.text ?? "unknown error"}{" "}
            <button type="button" className="link-button" onClick={() => onRetryNote(n.clientId)}>
              Retry
            </button>
          </p>
        )}
      </NoteRow>
    );
  }
  if (item.kind === "pending") {
    const self: OperatorRef = { id: session.operator.id, name: session.operator.name };
    return (
      <li className="msg msg--operator msg--own">
        <Bubble author="operator" name={self.name} text={item.message.text} at={item.message.createdAt} conversationId={cid} files={item.message.attachments} />
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
            <Bubble author="operator" name={a.name} avatarUrl={a.avatar_url} text={e.text} at={e.at} conversationId={cid} files={e.attachments} />
            {item.delivery && <Delivery message={item.delivery} onRetry={onRetry} />}
          </li>
        );
      }
      return (
        <li className={`msg msg--${a.kind}`}>
          <Bubble author={a.kind} name={a.kind === "ai" ? "AI assistant" : visitorLabel} text={e.text} at={e.at} conversationId={cid} files={e.attachments} />
        </li>
      );
    }
    default:
      // One event may read as two lines (a transfer: one operator leaves, another joins).
      return (
        <>
          {noticeLines(e, session, nameOf).map((line, i) => (
            <li key={i} className="notice">
              <span>{line}</span> <time dateTime={new Date(e.at).toISOString()}>{clockTime(e.at)}</time>
            </li>
          ))}
        </>
      );
  }
}

function Bubble(props: {
  author: "visitor" | "ai" | "operator";
  name: string;
  avatarUrl?: string | undefined;
  text: string;
  at: number;
  conversationId: string;
  files?: Attachment[] | undefined;
}) {
  return (
    <div className="msg__body">
      <Avatar kind={props.author} name={props.name} url={props.avatarUrl} />
      <div>
        <div className="msg__head">
          <span className="msg__name" dir="auto">
            {props.name}
          </span>
          <time className="msg__time" dateTime={new Date(props.at).toISOString()}>
            {clockTime(props.at)}
          </time>
        </div>
        {/* Files alone need no empty text line above them. */}
        {(props.text !== "" || !props.files?.length) && (
          <p className="msg__text" dir="auto">
            {props.text}
          </p>
        )}
        <Attachments conversationId={props.conversationId} attachments={props.files} />
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
function noticeLines(e: NoticeEvent, session: Session, nameOf?: (id: string) => string | undefined): string[] {
  const who = (op: OperatorRef) => (op.id === session.operator.id ? `${op.name} (you)` : op.name);
  const visitorSees = (op: OperatorRef) =>
    op.display_name ? "" : ` — the visitor sees “${DEFAULT_OPERATOR_NAME}”`;
  switch (e.type) {
    case "operator_transferred": {
      // `by` is set when an owner or editor moved someone else's conversation.
      const by =
        e.by === undefined || e.by === e.from.id
          ? ""
          : e.by === session.operator.id
            ? " (transferred by you)"
            : ` (transferred by ${nameOf?.(e.by) ?? "an owner or editor"})`;
      return [`${who(e.from)} left the chat${by}`, `${who(e.to)} joined the chat${visitorSees(e.to)}`];
    }
    default:
      return [noticeText(e, session, who, visitorSees)];
  }
}

function noticeText(
  e: Exclude<NoticeEvent, { type: "operator_transferred" }>,
  session: Session,
  who: (op: OperatorRef) => string,
  visitorSees: (op: OperatorRef) => string,
): string {
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
    case "outside_hours":
      // Nobody was alerted: the conversation went to the Follow-up list instead.
      return `${e.by === "assistant" ? "The AI assistant" : "The visitor"} asked for a human outside working hours`;
    case "follow_up_email":
      return `Visitor left their email: ${e.email}`;
  }
}

/** An internal note: for the team only, so it must never be mistaken for a message the visitor saw. */
function NoteRow({ author, text, at, files, children }: { author: string; text: string; at: number; files?: ReactNode; children?: ReactNode }) {
  return (
    <li className="note">
      <div className="note__head">
        <span className="note__label">Note</span>
        <span className="note__author">{author}</span>
        <time className="note__time" dateTime={new Date(at).toISOString()}>
          {clockTime(at)}
        </time>
      </div>
      {text !== "" && (
        <p className="note__text" dir="auto">
          {text}
        </p>
      )}
      {files}
      {children}
    </li>
  );
}
