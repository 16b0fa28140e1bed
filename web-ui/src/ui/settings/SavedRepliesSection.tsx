import { useEffect, useId, useState } from "react";
import type { CannedReply, CannedReplyInput, Role } from "../../protocol/frames";
import type { CannedRepliesStore } from "../../api/cannedReplies";
import { useCannedReplies } from "../hooks";
import { ChatBubbleIcon, Chevron } from "./icons";
import { SavedReplyForm } from "./SavedReplyForm";

export interface SavedRepliesSectionProps {
  store: CannedRepliesStore;
  role: Role;
  defaultExpanded?: boolean;
}

/** What is being edited: nothing, a new reply, or the reply with this id. */
type Editing = null | { kind: "new" } | { kind: "edit"; reply: CannedReply };

const EMPTY: CannedReplyInput = { title: "", shortcut: "", text: "" };

/** Who may create, change and delete saved replies; everyone may use them. */
export function roleEditsReplies(role: Role): boolean {
  return role === "owner" || role === "editor";
}

/**
 * Assistant → Settings → "Saved replies": the workspace's ready answers. Owners and editors
 * manage them; operators see the list read-only. The hub's refusals (a shortcut in use, too many
 * replies, a field it does not accept) are shown verbatim.
 */
export function SavedRepliesSection({ store, role, defaultExpanded = false }: SavedRepliesSectionProps) {
  const id = useId();
  const [expanded, setExpanded] = useState(defaultExpanded);
  const [editing, setEditing] = useState<Editing>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const snapshot = useCannedReplies(store);
  const canEdit = roleEditsReplies(role);

  useEffect(() => {
    if (expanded) store.load();
  }, [expanded, store]);

  const remove = async (reply: CannedReply) => {
    setDeleteError(null);
    try {
      await store.remove(reply.id);
      setConfirming(null);
    } catch (e) {
      setDeleteError(e instanceof Error ? e.message : String(e));
    }
  };

  const panelId = `${id}-panel`;
  const replies = snapshot.status === "loaded" ? snapshot.replies : [];

  return (
    <section className="settings-section">
      <h3 className="settings-section__heading">
        <button type="button" className="settings-section__toggle" aria-expanded={expanded} aria-controls={panelId} onClick={() => setExpanded(!expanded)}>
          <span className="settings-section__icon">
            <ChatBubbleIcon />
          </span>
          <span className="settings-section__text">
            <span className="settings-section__title">Saved replies</span>
            <span className="settings-section__sub">Ready answers your team inserts by typing / in a chat</span>
          </span>
          <Chevron open={expanded} />
        </button>
      </h3>
      {expanded && (
        <div id={panelId} className="settings-section__body">
          {!canEdit && (
            <p className="settings__note">
              Only owners and editors can add, change or delete saved replies. You can use them: type / in a chat's message box.
            </p>
          )}
          {(snapshot.status === "loading" || snapshot.status === "idle") && <p className="settings__muted">Loading saved replies…</p>}
          {snapshot.status === "error" && (
            <div className="inline-error inline-error--block" role="alert">
              <span>{snapshot.message}</span>
              <button type="button" className="link-button" onClick={() => void store.refresh()}>
                Try again
              </button>
            </div>
          )}
          {snapshot.status === "loaded" && (
            <>
              {canEdit && editing?.kind !== "new" && (
                <button type="button" className="btn btn--outline" onClick={() => setEditing({ kind: "new" })}>
                  New reply
                </button>
              )}
              {canEdit && editing?.kind === "new" && (
                <SavedReplyForm
                  initial={EMPTY}
                  submitLabel="Add reply"
                  onSave={async (input) => {
                    await store.create(input);
                    setEditing(null);
                  }}
                  onCancel={() => setEditing(null)}
                />
              )}
              {replies.length === 0 ? (
                <p className="settings__muted">No saved replies yet.</p>
              ) : (
                <ul className="reply-list" aria-label="Saved replies">
                  {replies.map((r) =>
                    editing?.kind === "edit" && editing.reply.id === r.id ? (
                      <li key={r.id} className="reply-list__item">
                        <SavedReplyForm
                          initial={{ title: r.title, shortcut: r.shortcut, text: r.text }}
                          submitLabel="Save changes"
                          onSave={async (input) => {
                            await store.update(r.id, input);
                            setEditing(null);
                          }}
                          onCancel={() => setEditing(null)}
                        />
                      </li>
                    ) : (
                      <li key={r.id} className="reply-list__item" aria-label={`${r.title}, /${r.shortcut}`}>
                        <div className="reply-list__head">
                          <span className="reply-list__title">{r.title}</span>
                          <code className="reply-list__shortcut">/{r.shortcut}</code>
                        </div>
                        <p className="reply-list__text">{r.text}</p>
                        {canEdit && confirming !== r.id && (
                          <div className="reply-list__actions">
                            <button type="button" className="btn btn--ghost btn--small" aria-label={`Edit ${r.title}`} onClick={() => setEditing({ kind: "edit", reply: r })}>
                              Edit
                            </button>
                            <button
                              type="button"
                              className="btn btn--ghost btn--small"
                              aria-label={`Delete ${r.title}`}
                              onClick={() => {
                                setDeleteError(null);
                                setConfirming(r.id);
                              }}
                            >
                              Delete
                            </button>
                          </div>
                        )}
                        {canEdit && confirming === r.id && (
                          <div className="reply-list__actions" role="group" aria-label={`Delete ${r.title}?`}>
                            <span>Delete “{r.title}” for the whole team?</span>
                            <button type="button" className="btn btn--danger-outline btn--small" onClick={() => void remove(r)}>
                              Yes, delete
                            </button>
                            <button type="button" className="btn btn--ghost btn--small" onClick={() => setConfirming(null)}>
                              Cancel
                            </button>
                            {deleteError && (
                              <p className="field__error" role="alert">
                                {deleteError}
                              </p>
                            )}
                          </div>
                        )}
                      </li>
                    ),
                  )}
                </ul>
              )}
            </>
          )}
        </div>
      )}
    </section>
  );
}
