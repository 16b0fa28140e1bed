import { useId } from "react";
import { mayTransfer, planHasTakeControl, roleMayForceRelease, type ControlView } from "../client/selectors";
import type { ConversationState, Session } from "../client/state";
import { TransferAction, type TransferActions, type TransferProps } from "./TransferDialog";

export interface ControlActions extends TransferActions {
  takeover(): void;
  release(force: boolean): void;
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
  /** A conversation whose visitor has left (Recent, search): Take Control waits for them to return. */
  readOnly?: boolean;
  /**
   * What the Transfer dialog needs, once control is known. Transfer is offered to the holder,
   * and to owners and editors for a conversation someone else holds.
   */
  transfer?: Omit<TransferProps, "holderId" | "selfId"> | undefined;
}

/**
 * Above the composer: who holds the conversation and what the operator can do about it (Take
 * Control, Force release, the idle warning). Writing is the composer's, below.
 */
export function ControlBar(props: ControlBarProps) {
  const { control, pending, loaded, session, connected, actions, idleReleaseAt, readOnly = false, transfer } = props;
  const lockId = useId();
  const transferAction =
    transfer && mayTransfer(control, session.operator.role) ? (
      <TransferAction
        {...transfer}
        holderId={control.kind === "self" ? session.operator.id : control.kind === "other" ? (control.id ?? null) : null}
        selfId={session.operator.id}
        actions={actions}
        disabled={!connected || pending !== null}
      />
    ) : null;
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
            disabled={!connected || pending !== null || readOnly}
            aria-busy={pending === "takeover"}
            onClick={actions.takeover}
          >
            Take Control
          </button>
          <p className="controlbar__hint">
            {readOnly
              ? "The visitor has left: this conversation is read-only until they come back. You can still add internal notes."
              : pending === "takeover"
                ? "Taking over…"
                : "The AI assistant is answering. Take over to reply yourself."}
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
          {transferAction}
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
      // Writing and End are the composer's; the holder's bar only hands the conversation on.
      return (
        <>
          {idleReleaseAt != null && (
            <p role="alert" className="controlbar__warning">
              You have been idle. This conversation goes back to the AI assistant at{" "}
              {new Date(idleReleaseAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} unless you reply.
            </p>
          )}
          {transferAction && (
            <div className="controlbar controlbar--slim">
              <p className="controlbar__hint">You are handling this conversation. A teammate who is online can take it from you.</p>
              {transferAction}
            </div>
          )}
        </>
      );
  }
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
