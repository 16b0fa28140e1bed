/** The in-page notices of conversations handed to this operator, above every view. */
import type { ReceivedTransfer } from "../client/state";
import { transferTitle } from "./useWaitingAlerts";

export interface TransferNoticesProps {
  transfers: ReceivedTransfer[];
  onOpen(t: ReceivedTransfer): void;
  onDismiss(t: ReceivedTransfer): void;
}

/**
 * "Martin Keller transferred Visitor 7F3A to you", with the note they wrote: newest first, each
 * until it is opened or dismissed. Each is an alert, so a screen reader says it as it comes.
 */
export function TransferNotices({ transfers, onOpen, onDismiss }: TransferNoticesProps) {
  if (transfers.length === 0) return null;
  return (
    <section className="transfers" aria-label="Conversations transferred to you">
      {[...transfers].reverse().map((t) => (
        <div key={t.id} className="transfer-notice" role="alert" data-conversation-id={t.conversationId}>
          <div className="transfer-notice__body">
            <p className="transfer-notice__title">{transferTitle(t)}</p>
            {t.note !== null && (
              <p className="transfer-notice__note" dir="auto">
                <span className="note__label">Note</span> {t.note}
              </p>
            )}
          </div>
          <div className="transfer-notice__actions">
            <button type="button" className="btn btn--primary btn--small" onClick={() => onOpen(t)}>
              Open {t.visitorLabel}
            </button>
            <button type="button" className="btn btn--ghost btn--small" onClick={() => onDismiss(t)} aria-label={`Dismiss: ${transferTitle(t)}`}>
              Dismiss
            </button>
          </div>
        </div>
      ))}
    </section>
  );
}
