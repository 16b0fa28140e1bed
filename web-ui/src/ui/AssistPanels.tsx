/**
 * Above the composer, for the holder: the reply the AI was writing when they took over, and the
 * reply the assistant suggested. Neither is ever sent by itself: the operator puts it in the box,
 * edits it and sends it, or leaves it.
 */
import type { InterruptedReply, SuggestionState } from "../client/state";

export interface AssistActions {
  /** Ask the assistant for a reply to the visitor's last message. */
  suggest(): void;
  insertSuggestion(): void;
  dismissSuggestion(): void;
  /** The interrupted reply offered beside a box that held something else: into the box. */
  useInterrupted(): void;
  /** The interrupted reply out of the box again. */
  discardInterrupted(): void;
  dismissInterrupted(): void;
}

export const INTERRUPTED_HINT = "The AI was writing this when you took over — edit it and send, or discard.";

export function InterruptedPanel(props: { interrupted: InterruptedReply; onUse(): void; onDiscard(): void; onDismiss(): void }) {
  const { interrupted } = props;
  if (interrupted.status === "placed") {
    return (
      <div className="assist assist--interrupted" role="status">
        <p className="assist__hint">{INTERRUPTED_HINT}</p>
        <button type="button" className="link-button assist__action" onClick={props.onDiscard}>
          Discard
        </button>
        <CloseButton label="Dismiss the hint" onClick={props.onDismiss} />
      </div>
    );
  }
  return (
    <div className="assist assist--interrupted">
      <button type="button" className="btn btn--outline btn--small" onClick={props.onUse} title={interrupted.text}>
        Use the AI's interrupted reply
      </button>
      {/* One line of it: enough to tell whether it is worth using. */}
      <span className="assist__preview" dir="auto">
        {interrupted.text}
      </span>
      <CloseButton label="Dismiss the AI's interrupted reply" onClick={props.onDismiss} />
    </div>
  );
}

export function SuggestionPanel(props: { suggestion: SuggestionState; onInsert(): void; onDismiss(): void }) {
  const { suggestion } = props;
  switch (suggestion.status) {
    case "pending":
      // The Suggest button says "Asking the assistant…" meanwhile.
      return null;
    case "refused":
      return (
        <div className="assist assist--refused" role="alert">
          <p className="assist__hint">{suggestion.error.text}</p>
          <CloseButton label="Dismiss" onClick={props.onDismiss} />
        </div>
      );
    case "ready":
      return (
        <section className="assist assist--suggestion" aria-label="Suggested reply">
          <div className="assist__body">
            <h3 className="assist__title">
              Suggested reply <span className="assist__note">from the assistant, not sent</span>
            </h3>
            <p className="assist__text" dir="auto">
              {suggestion.text}
            </p>
          </div>
          <div className="assist__actions">
            <button type="button" className="btn btn--primary btn--small" onClick={props.onInsert} title="Put it in the message box to edit it before sending">
              Insert
            </button>
            <button type="button" className="btn btn--ghost btn--small" onClick={props.onDismiss}>
              Dismiss
            </button>
          </div>
        </section>
      );
  }
}

function CloseButton({ label, onClick }: { label: string; onClick(): void }) {
  return (
    <button type="button" className="assist__close" aria-label={label} title={label} onClick={onClick}>
      <span aria-hidden="true">×</span>
    </button>
  );
}
