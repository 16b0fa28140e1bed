import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import { LIMITS } from "../protocol/frames";
import { planHasTakeControl, roleMayForceRelease, type ControlView } from "../client/selectors";
import type { ConversationState, Session } from "../client/state";
import { isBlank, trimBlank } from "../client/visible";

export interface ControlActions {
  takeover(): void;
  release(force: boolean): void;
  send(text: string): void;
  setTyping(active: boolean): void;
}

export interface ControlBarProps {
  control: ControlView;
  pending: ConversationState["pending"];
  loaded: boolean;
  session: Session;
  connected: boolean;
  actions: ControlActions;
  /** When you hold the conversation and the hub warned of an idle release: its time. */
  idleReleaseAt?: number | null;
}

/** The bottom of a conversation: what the operator can do depends on who holds it. */
export function ControlBar({ control, pending, loaded, session, connected, actions, idleReleaseAt }: ControlBarProps) {
  const lockId = useId();
  if (!loaded && control.kind === "unknown") {
    return <div className="controlbar controlbar--muted">Loading…</div>;
  }
  switch (control.kind) {
    case "unknown":
    case "ai": {
      if (!planHasTakeControl(session.workspace.plan)) {
        return (
          <div className="controlbar">
            <button
              type="button"
              className="btn btn--take btn--locked"
              aria-disabled="true"
              aria-describedby={lockId}
              onClick={(e) => e.preventDefault()}
            >
              <LockIcon /> Take Control
            </button>
            <p id={lockId} className="controlbar__hint">
              <span className="badge badge--pro">Pro feature</span> Taking over conversations from the AI assistant is
              part of the Pro and Business plans. Your workspace is on the{" "}
              <strong>{capitalize(session.workspace.plan)}</strong> plan.
            </p>
          </div>
        );
      }
      return (
        <div className="controlbar">
          <button
            type="button"
            className="btn btn--take"
            disabled={!connected || pending !== null}
            aria-busy={pending === "takeover"}
            onClick={actions.takeover}
          >
            Take Control
          </button>
          <p className="controlbar__hint">
            {pending === "takeover" ? "Taking over…" : "The AI assistant is answering. Take over to reply yourself."}
          </p>
        </div>
      );
    }
    case "other":
      return (
        <div className="controlbar">
          <p className="controlbar__held">
            <LockIcon /> Controlled by <strong>{control.name}</strong>
          </p>
          {roleMayForceRelease(session.operator.role) && (
            <button
              type="button"
              className="btn btn--danger-outline"
              disabled={!connected || pending !== null}
              aria-busy={pending === "release"}
              onClick={() => actions.release(true)}
            >
              Force release
            </button>
          )}
        </div>
      );
    case "self":
      return (
        <>
          {idleReleaseAt != null && (
            <p role="alert" className="controlbar__warning">
              You have been idle. This conversation goes back to the AI assistant at{" "}
              {new Date(idleReleaseAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} unless you reply.
            </p>
          )}
          <Composer pending={pending} connected={connected} actions={actions} />
        </>
      );
  }
}

/** How long after the last keystroke "typing" switches off. */
const TYPING_IDLE_MS = 3_000;

function Composer({ pending, connected, actions }: Pick<ControlBarProps, "pending" | "connected" | "actions">) {
  const [text, setText] = useState("");
  const typing = useRef(false);
  const idle = useRef<ReturnType<typeof setTimeout> | null>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);

  const stopTyping = () => {
    if (idle.current !== null) clearTimeout(idle.current);
    idle.current = null;
    if (typing.current) actions.setTyping(false);
    typing.current = false;
  };

  // Landing on the composer right after Take Control saves the operator a click.
  useEffect(() => {
    inputRef.current?.focus();
    return () => {
      if (idle.current !== null) clearTimeout(idle.current);
    };
  }, []);

  const onChange = (value: string) => {
    setText(value);
    if (isBlank(value)) return stopTyping();
    if (!typing.current) actions.setTyping(true);
    typing.current = true;
    if (idle.current !== null) clearTimeout(idle.current);
    idle.current = setTimeout(stopTyping, TYPING_IDLE_MS);
  };

  const trimmed = trimBlank(text);
  const tooLong = text.length > LIMITS.maxMessageChars;
  // Messages may be written while reconnecting: they are queued and sent once back.
  const canSend = trimmed !== "" && !tooLong;

  const send = () => {
    if (!canSend) return;
    actions.send(trimmed);
    setText("");
    stopTyping();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    // `isComposing`: Enter that confirms an IME composition (Japanese, Chinese…) must not send.
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  };

  return (
    <div className="controlbar controlbar--compose">
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <textarea
          ref={inputRef}
          className="composer__input"
          aria-label="Message to the visitor"
          placeholder="Write to the visitor… (Enter sends, Shift+Enter for a new line)"
          rows={2}
          value={text}
          onChange={(e) => onChange(e.target.value)}
          onKeyDown={onKeyDown}
          onBlur={stopTyping}
        />
        <div className="composer__actions">
          {text.length > LIMITS.maxMessageChars * 0.9 && (
            <span className={`composer__count${tooLong ? " composer__count--over" : ""}`}>
              {text.length} / {LIMITS.maxMessageChars}
            </span>
          )}
          <button type="submit" className="btn btn--primary" disabled={!canSend}>
            Send
          </button>
          <button
            type="button"
            className="btn btn--outline"
            disabled={!connected || pending !== null}
            aria-busy={pending === "release"}
            onClick={() => {
              stopTyping();
              actions.release(false);
            }}
            title="Hand the conversation back to the AI assistant"
          >
            End
          </button>
        </div>
      </form>
    </div>
  );
}

function LockIcon() {
  return (
    <svg className="icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M8 1a3.5 3.5 0 0 0-3.5 3.5V6H4a1 1 0 0 0-1 1v7a1 1 0 0 0 1 1h8a1 1 0 0 0 1-1V7a1 1 0 0 0-1-1h-.5V4.5A3.5 3.5 0 0 0 8 1Zm2 5H6V4.5a2 2 0 1 1 4 0V6Z"
      />
    </svg>
  );
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
