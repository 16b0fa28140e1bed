/** Transfer: hand the conversation to a teammate who is online, with an optional note for them. */
import { useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import { LIMITS, type Colleague, type Role } from "../protocol/frames";
import { trimBlank } from "../client/visible";
import type { ColleaguesState, TransferRequest } from "../client/state";

export interface TransferActions {
  /** Ask the hub who is online (`colleagues`). */
  loadColleagues(): void;
  /** `note`: trimmed, absent when empty. */
  transfer(to: string, epoch: number, note: string | undefined): void;
  /** The dialog closed: what it showed of the request is no longer needed. */
  dismissTransfer(): void;
}

export interface TransferProps {
  visitorLabel: string;
  /** The control epoch shown now: a transfer is sent under the one seen when the dialog opened. */
  epoch: number;
  /** Who holds the conversation: not offered as a recipient. */
  holderId: string | null;
  selfId: string;
  colleagues: ColleaguesState;
  request: TransferRequest | null;
}

const ROLE_LABEL: Record<Role, string> = { owner: "Owner", editor: "Editor", operator: "Operator" };

/**
 * The control bar's Transfer button and its dialog. The dialog is not modal (the conversation
 * stays readable and live behind it) and traps nothing; it takes focus when it opens, Escape or
 * Cancel close it, and focus goes back to the button.
 */
export function TransferAction(props: TransferProps & { actions: TransferActions; disabled: boolean }) {
  const { actions, request, epoch } = props;
  const dialogId = useId();
  const [open, setOpen] = useState(false);
  // The epoch the operator saw: control may move while they choose, and then the hub refuses.
  const [seenEpoch, setSeenEpoch] = useState(epoch);
  const button = useRef<HTMLButtonElement>(null);
  /** A request of this dialog's was seen on its way: its end (`null`) is the hub's `control`. */
  const awaiting = useRef(false);

  const close = () => {
    setOpen(false);
    awaiting.current = false;
    actions.dismissTransfer();
    button.current?.focus();
  };

  // Answered closes the dialog; a refusal keeps it open, saying why. Runs on every change of
  // the request (the refs make it idempotent), with the `close` of that render.
  useEffect(() => {
    if (!open) return;
    if (request?.status === "sending") awaiting.current = true;
    else if (awaiting.current) {
      awaiting.current = false;
      if (request === null) close();
    }
  });

  return (
    <div className="transfer">
      <button
        ref={button}
        type="button"
        className="btn btn--outline"
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? dialogId : undefined}
        disabled={props.disabled && !open}
        onClick={() => {
          if (open) return close();
          setSeenEpoch(epoch);
          setOpen(true);
          actions.loadColleagues();
        }}
        title="Hand this conversation to a teammate who is online"
      >
        <TransferIcon /> Transfer
      </button>
      {open && (
        <TransferDialog
          {...props}
          id={dialogId}
          onClose={close}
          onConfirm={(to, note) => {
            // After a refusal (control moved, say) the operator has been told and sees the bar
            // as it is now: trying again is under what is shown now.
            actions.transfer(to, request?.status === "refused" ? epoch : seenEpoch, note);
          }}
        />
      )}
    </div>
  );
}

interface DialogProps extends TransferProps {
  id: string;
  disabled: boolean;
  onConfirm(to: string, note: string | undefined): void;
  onClose(): void;
}

function TransferDialog(props: DialogProps) {
  const { id, visitorLabel, colleagues, request, holderId, selfId, disabled } = props;
  const titleId = `${id}-title`;
  const noteId = `${id}-note`;
  const hintId = `${id}-hint`;
  const [chosen, setChosen] = useState<string | null>(null);
  const [note, setNote] = useState("");
  const dialog = useRef<HTMLDivElement>(null);
  const firstChoice = useRef<HTMLInputElement>(null);

  // Neither the holder nor yourself: the hub would refuse both (`transfer_to_self`).
  const offered: Colleague[] | null = colleagues.operators?.filter((c) => c.id !== selfId && c.id !== holderId) ?? null;
  // A choice that left the list (a refreshed list without them) is no choice.
  const to = chosen !== null && offered?.some((c) => c.id === chosen) ? chosen : null;
  const sending = request?.status === "sending";
  const tooLong = note.length > LIMITS.maxMessageChars;
  const canConfirm = to !== null && !tooLong && !sending && !disabled;
  const recipient = offered?.find((c) => c.id === to);

  // Focus into the dialog as it opens, and onto the first choice once the list has come (unless
  // the operator has moved on to something else in the dialog meanwhile).
  useEffect(() => {
    dialog.current?.focus();
  }, []);
  const listed = offered !== null && offered.length > 0;
  useEffect(() => {
    if (listed && document.activeElement === dialog.current) firstChoice.current?.focus();
  }, [listed]);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === "Escape" && !e.nativeEvent.isComposing) {
      e.preventDefault();
      e.stopPropagation();
      props.onClose();
    }
  };

  return (
    <div
      ref={dialog}
      id={id}
      className="transfer__dialog"
      role="dialog"
      aria-modal="false"
      aria-labelledby={titleId}
      tabIndex={-1}
      onKeyDown={onKeyDown}
    >
      <h3 id={titleId} className="transfer__title">
        Transfer {visitorLabel}
      </h3>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!canConfirm || to === null) return;
          const trimmed = trimBlank(note);
          props.onConfirm(to, trimmed === "" ? undefined : trimmed);
        }}
      >
        <fieldset className="transfer__choices" aria-busy={offered === null}>
          <legend className="transfer__legend">Online teammates</legend>
          {offered === null ? (
            <p className="transfer__status" role="status">
              Checking who is online…
            </p>
          ) : offered.length === 0 ? (
            <p className="transfer__status" role="status">
              No other teammate is online right now.
            </p>
          ) : (
            offered.map((c, i) => (
              <label key={c.id} className={`transfer__choice${c.id === to ? " transfer__choice--chosen" : ""}`}>
                <input
                  ref={i === 0 ? firstChoice : undefined}
                  type="radio"
                  name={`${id}-to`}
                  value={c.id}
                  checked={c.id === to}
                  disabled={sending}
                  onChange={() => setChosen(c.id)}
                />
                <span className="transfer__name" dir="auto">
                  {c.name}
                </span>
                <span className="transfer__role">{ROLE_LABEL[c.role]}</span>
              </label>
            ))
          )}
        </fieldset>
        <label className="transfer__label" htmlFor={noteId}>
          Note for them <span className="transfer__optional">(optional)</span>
        </label>
        <textarea
          id={noteId}
          className="transfer__note"
          rows={3}
          value={note}
          aria-describedby={hintId}
          aria-invalid={tooLong || undefined}
          disabled={sending}
          placeholder="What they need to know: what you promised, what is left to do…"
          onChange={(e) => setNote(e.target.value)}
        />
        <p id={hintId} className="transfer__hint">
          Saved as an internal note: only your team sees it, never the visitor.
          {note.length > LIMITS.maxMessageChars * 0.9 && (
            <span className={`composer__count${tooLong ? " composer__count--over" : ""}`}>
              {" "}
              {note.length} / {LIMITS.maxMessageChars}
            </span>
          )}
        </p>
        {request?.status === "refused" && (
          <p className="transfer__error" role="alert">
            Not transferred: {request.error.text}
          </p>
        )}
        <div className="transfer__actions">
          <button type="button" className="btn btn--ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn--primary" disabled={!canConfirm} aria-busy={sending}>
            {sending ? "Transferring…" : recipient ? `Transfer to ${recipient.name}` : "Transfer to…"}
          </button>
        </div>
      </form>
    </div>
  );
}

function TransferIcon() {
  return (
    <svg className="icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" focusable="false">
      <path fill="currentColor" d="M10.5 2 14 5.5 10.5 9V6.5H3v-2h7.5V2Zm-5 5L2 10.5 5.5 14v-2.5H13v-2H5.5V7Z" />
    </svg>
  );
}
