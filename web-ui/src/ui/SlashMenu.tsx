import type { CannedReply } from "../protocol/frames";
import type { RepliesSnapshot } from "../api/cannedReplies";

export interface SlashMenuProps {
  id: string;
  query: string;
  snapshot: RepliesSnapshot;
  matches: CannedReply[];
  active: number;
  optionId(index: number): string;
  onPick(reply: CannedReply): void;
}

/**
 * The saved replies matching the composer's `/query`. Focus stays in the textarea (it points at
 * the active row with `aria-activedescendant`), so a click must not take it away either.
 */
export function SlashMenu({ id, query, snapshot, matches, active, optionId, onPick }: SlashMenuProps) {
  const status =
    snapshot.status === "error"
      ? `Saved replies could not be loaded: ${snapshot.message}`
      : snapshot.status !== "loaded"
        ? "Loading saved replies…"
        : matches.length === 0
          ? snapshot.replies.length === 0
            ? "Your workspace has no saved replies yet (Assistant → Settings → Saved replies). Escape closes this."
            : `No saved reply matches “/${query}”. Escape closes this.`
          : null;
  return (
    <div className="slash-menu">
      {status ? (
        <p className="slash-menu__status" role="status">
          {status}
        </p>
      ) : (
        <ul id={id} className="slash-menu__list" role="listbox" aria-label="Saved replies">
          {matches.map((r, i) => (
            <li
              key={r.id}
              id={optionId(i)}
              role="option"
              aria-selected={i === active}
              className={`slash-menu__option${i === active ? " slash-menu__option--active" : ""}`}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => onPick(r)}
            >
              <span className="slash-menu__head">
                <code className="slash-menu__shortcut">/{r.shortcut}</code>
                <span className="slash-menu__title">{r.title}</span>
              </span>
              <span className="slash-menu__text">{r.text}</span>
            </li>
          ))}
        </ul>
      )}
      <p className="slash-menu__keys" aria-hidden="true">
        ↑↓ to choose · Enter to insert · Esc to close
      </p>
    </div>
  );
}
