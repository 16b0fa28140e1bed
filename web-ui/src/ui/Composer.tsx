import { useEffect, useId, useLayoutEffect, useRef, useState, type ClipboardEvent, type KeyboardEvent } from "react";
import type { Attachment, CannedReply } from "../protocol/frames";
import { LIMITS } from "../protocol/frames";
import type { ConversationState, InterruptedReply, SuggestionState } from "../client/state";
import { isBlank, trimBlank } from "../client/visible";
import type { RepliesSnapshot } from "../api/cannedReplies";
import { filterReplies, findSlashQuery, insertReply } from "../text/slash";
import { SlashMenu } from "./SlashMenu";
import { InterruptedPanel, SuggestionPanel, type AssistActions } from "./AssistPanels";
import { FileChips } from "./Attachments";
import { FILE_ACCEPT, type PendingFile } from "../api/files";

export type ComposerMode = "reply" | "note";

export interface ComposerActions {
  /** `attachments`: the uploaded files in the box (the text may then be empty). */
  send(text: string, attachments?: Attachment[]): void;
  note(text: string, attachments?: Attachment[]): void;
  setTyping(active: boolean): void;
  release(force: boolean): void;
}

export interface ComposerProps {
  /** The operator holds the conversation and its visitor can be written to. */
  canReply: boolean;
  /** Why Reply is not available, shown beside Note mode. */
  replyHint?: string | undefined;
  /** The operator holds the conversation: End hands it back to the AI. */
  holding: boolean;
  pending: ConversationState["pending"];
  connected: boolean;
  replies: RepliesSnapshot;
  /** The slash menu opened while the replies are not loaded (or failed to): fetch them. */
  onNeedReplies(): void;
  actions: ComposerActions;
  /**
   * The box's text when the caller keeps it (per conversation, in the client state); without it
   * the composer keeps its own.
   */
  draft?: { text: string; onChange(text: string): void } | undefined;
  /**
   * For the holder: Suggest, the suggestion it brought and the reply a takeover interrupted, all
   * put into the box (`draft`) for editing, never sent by themselves.
   */
  assist?: { interrupted: InterruptedReply | null; suggestion: SuggestionState | null; actions: AssistActions } | undefined;
  /**
   * Files for the next reply or note (kept per conversation, in the client state): 📎, paste
   * and (on the conversation) drag and drop give them to `attach`, which uploads each at once.
   */
  files?: { list: PendingFile[]; attach(files: File[]): void; remove(key: string): void } | undefined;
}

const NO_FILES: PendingFile[] = [];

/** `caretAfterInsert`: the end of whatever the box holds after the change. */
const END = -1;

/** How long after the last keystroke "typing" switches off. */
const TYPING_IDLE_MS = 3_000;

/**
 * The message box under a conversation. Reply writes to the visitor (only while the operator
 * holds it); Note writes an internal note, which any operator may add whoever holds it and the
 * visitor never sees (no typing signal either). `/` opens the saved replies.
 */
export function Composer({ canReply, replyHint, holding, pending, connected, replies, onNeedReplies, actions, draft, assist, files }: ComposerProps) {
  const id = useId();
  const [ownText, setOwnText] = useState("");
  const text = draft ? draft.text : ownText;
  const setText = draft ? draft.onChange : setOwnText;
  const [caret, setCaret] = useState(0);
  const [chosen, setChosen] = useState<ComposerMode>(canReply ? "reply" : "note");
  // Taking over means replying; losing control leaves only notes. Set while rendering (not in
  // an effect) so the box never shows a mode that does not apply.
  const [couldReply, setCouldReply] = useState(canReply);
  if (couldReply !== canReply) {
    setCouldReply(canReply);
    setChosen(canReply ? "reply" : "note");
  }
  const mode: ComposerMode = canReply ? chosen : "note";

  // A `/` the operator closed with Escape stays closed until they type another one.
  const [dismissed, setDismissed] = useState<number | null>(null);
  const [active, setActive] = useState({ key: "", index: 0 });
  const typing = useRef(false);
  const idle = useRef<ReturnType<typeof setTimeout> | null>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const pickerRef = useRef<HTMLInputElement>(null);
  const caretAfterInsert = useRef<number | null>(null);

  const stopTyping = () => {
    if (idle.current !== null) clearTimeout(idle.current);
    idle.current = null;
    if (typing.current) actions.setTyping(false);
    typing.current = false;
  };

  useEffect(() => {
    return () => {
      if (idle.current !== null) clearTimeout(idle.current);
    };
  }, []);

  // Landing in the box right after Take Control saves the operator a click; opening a
  // conversation to read it must not pull focus out of the list.
  useEffect(() => {
    if (canReply) inputRef.current?.focus();
  }, [canReply]);

  useLayoutEffect(() => {
    const wanted = caretAfterInsert.current;
    const el = inputRef.current;
    if (wanted === null || !el) return;
    caretAfterInsert.current = null;
    const at = wanted === END ? el.value.length : wanted;
    el.focus();
    el.setSelectionRange(at, at);
    setCaret(at);
  });

  /** Text put in the box from outside it (a suggestion, the interrupted reply): focus at its end. */
  const intoBox = (act: () => void) => () => {
    caretAfterInsert.current = END;
    act();
  };

  const slash = findSlashQuery(text, caret);
  const menuOpen = slash !== null && slash.start !== dismissed;
  const all = replies.status === "loaded" ? replies.replies : [];
  const matches = menuOpen ? filterReplies(all, slash.query) : [];
  const activeKey = menuOpen ? `${slash.start}:${slash.query}` : "";
  const activeIndex = active.key === activeKey ? Math.min(active.index, Math.max(0, matches.length - 1)) : 0;

  useEffect(() => {
    if (menuOpen && (replies.status === "idle" || replies.status === "error")) onNeedReplies();
  }, [menuOpen, replies.status, onNeedReplies]);

  const changed = (value: string, at: number) => {
    setText(value);
    setCaret(at);
    if (dismissed !== null && value[dismissed] !== "/") setDismissed(null);
    if (mode !== "reply" || isBlank(value)) return stopTyping();
    if (!typing.current) actions.setTyping(true);
    typing.current = true;
    if (idle.current !== null) clearTimeout(idle.current);
    idle.current = setTimeout(stopTyping, TYPING_IDLE_MS);
  };

  const pick = (reply: CannedReply) => {
    if (!slash) return;
    const next = insertReply(text, slash, caret, reply.text);
    caretAfterInsert.current = next.caret;
    changed(next.text, next.caret);
  };

  const trimmed = trimBlank(text);
  const tooLong = text.length > LIMITS.maxMessageChars;
  const fileList = files?.list ?? NO_FILES;
  const attachments = fileList.flatMap((f) => (f.status === "ready" && f.attachment ? [f.attachment] : []));
  // A file still uploading has no id to send yet.
  const uploading = fileList.some((f) => f.status === "uploading");
  // Messages and notes may be written while reconnecting: they are queued and sent once back.
  const canSend = (trimmed !== "" || attachments.length > 0) && !tooLong && !uploading;

  const submit = () => {
    if (!canSend) return;
    // Files only when there are some: a plain message is called as it always was.
    const withFiles: [Attachment[]] | [] = attachments.length > 0 ? [attachments] : [];
    if (mode === "reply") actions.send(trimmed, ...withFiles);
    else actions.note(trimmed, ...withFiles);
    setText("");
    setCaret(0);
    stopTyping();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    // `isComposing`: Enter that confirms an IME composition (Japanese, Chinese…) must not send.
    if (e.nativeEvent.isComposing) return;
    if (menuOpen) {
      const n = matches.length;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (n > 0) setActive({ key: activeKey, index: (activeIndex + (e.key === "ArrowDown" ? 1 : n - 1)) % n });
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setDismissed(slash.start);
        return;
      }
      if (e.key === "Enter" && !e.shiftKey) {
        // Enter in the list chooses; it never sends, not even when nothing matches.
        e.preventDefault();
        const r = matches[activeIndex];
        if (r) pick(r);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      submit();
    }
  };

  // A screenshot pasted into the box is attached; text pasted with it is pasted as usual.
  const onPaste = (e: ClipboardEvent<HTMLTextAreaElement>) => {
    const pasted = [...e.clipboardData.files];
    if (!files || pasted.length === 0) return;
    if (!e.clipboardData.getData("text/plain")) e.preventDefault();
    files.attach(pasted);
  };

  const choose = (m: ComposerMode) => {
    if (m === mode) return;
    if (m === "note") stopTyping();
    setChosen(m);
    inputRef.current?.focus();
  };

  const suggestion = assist?.suggestion ?? null;
  const asking = suggestion?.status === "pending";
  const listId = `${id}-replies`;
  const optionId = (i: number) => `${id}-reply-${i}`;
  const note = mode === "note";

  return (
    <div className={`controlbar controlbar--compose${note ? " controlbar--note" : ""}`}>
      {assist && holding && assist.interrupted && (
        <InterruptedPanel
          interrupted={assist.interrupted}
          onUse={intoBox(assist.actions.useInterrupted)}
          onDiscard={intoBox(assist.actions.discardInterrupted)}
          onDismiss={assist.actions.dismissInterrupted}
        />
      )}
      {assist && holding && suggestion && (
        <SuggestionPanel suggestion={suggestion} onInsert={intoBox(assist.actions.insertSuggestion)} onDismiss={assist.actions.dismissSuggestion} />
      )}
      <div className="composer__top">
        <div className="composer__modes" role="group" aria-label="Write a">
          <button
            type="button"
            className="composer__mode"
            aria-pressed={mode === "reply"}
            disabled={!canReply}
            title={canReply ? "Write to the visitor" : replyHint}
            onClick={() => choose("reply")}
          >
            Reply
          </button>
          <button type="button" className="composer__mode composer__mode--note" aria-pressed={note} title="Only your team sees notes" onClick={() => choose("note")}>
            Note
          </button>
        </div>
        <p className="composer__hint">
          {note ? (
            <>
              <strong>Internal note:</strong> only your team sees it, never the visitor.
              {!canReply && replyHint ? ` ${replyHint}` : ""}
            </>
          ) : (
            "Type / for saved replies."
          )}
        </p>
        {assist && holding && (
          <button
            type="button"
            className="btn btn--outline btn--small composer__suggest"
            disabled={!canReply || !connected || asking}
            aria-busy={asking}
            title="Ask the assistant for a reply to the visitor's last message, to edit before you send it"
            onClick={assist.actions.suggest}
          >
            {asking ? "Asking the assistant…" : "Suggest"}
          </button>
        )}
      </div>
      {files && (
        <FileChips
          files={fileList}
          onRemove={(key) => {
            files.remove(key);
            inputRef.current?.focus();
          }}
        />
      )}
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        {files && (
          <>
            <button
              type="button"
              className="composer__attach"
              aria-label="Attach files"
              title="Attach images or PDFs (or paste, or drop them on the conversation)"
              onClick={() => pickerRef.current?.click()}
            >
              <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                <path
                  fill="currentColor"
                  d="M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6h-1.5Z"
                />
              </svg>
            </button>
            <input
              ref={pickerRef}
              type="file"
              multiple
              accept={FILE_ACCEPT}
              hidden
              aria-label="Choose files to attach"
              onChange={(e) => {
                files.attach([...(e.currentTarget.files ?? [])]);
                e.currentTarget.value = ""; // the same file chosen again is a new attachment
              }}
            />
          </>
        )}
        <div className="composer__field">
          {menuOpen && (
            <SlashMenu id={listId} query={slash.query} snapshot={replies} matches={matches} active={activeIndex} optionId={optionId} onPick={pick} />
          )}
          <textarea
            ref={inputRef}
            className="composer__input"
            aria-label={note ? "Internal note" : "Message to the visitor"}
            aria-autocomplete="list"
            aria-controls={menuOpen && matches.length > 0 ? listId : undefined}
            aria-activedescendant={menuOpen && matches.length > 0 ? optionId(activeIndex) : undefined}
            placeholder={
              note
                ? "Write a note for your team… (Enter adds it, / for saved replies)"
                : "Write to the visitor… (Enter sends, Shift+Enter for a new line)"
            }
            rows={2}
            value={text}
            onChange={(e) => changed(e.target.value, e.target.selectionStart)}
            onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
            onKeyDown={onKeyDown}
            onPaste={onPaste}
            onBlur={stopTyping}
          />
        </div>
        <div className="composer__actions">
          {text.length > LIMITS.maxMessageChars * 0.9 && (
            <span className={`composer__count${tooLong ? " composer__count--over" : ""}`}>
              {text.length} / {LIMITS.maxMessageChars}
            </span>
          )}
          <button
            type="submit"
            className={`btn ${note ? "btn--note" : "btn--primary"}`}
            disabled={!canSend}
            title={uploading ? "Wait until the files have uploaded" : undefined}
          >
            {note ? "Add note" : "Send"}
          </button>
          {holding && (
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
          )}
        </div>
      </form>
    </div>
  );
}
