import { useEffect, useLayoutEffect, useRef, useState, type DragEvent } from "react";
import type { ConversationSummary } from "../protocol/frames";
import { controlView, isReadOnly, planHasTakeControl, timeline, visibleDraft } from "../client/selectors";
import { initialColleagues, type ColleaguesState, type ConversationState, type Session } from "../client/state";
import type { AssistActions } from "./AssistPanels";
import { Avatar } from "./Avatar";
import { BriefCard } from "./BriefCard";
import { Composer, type ComposerActions } from "./Composer";
import { ControlBar, type ControlActions } from "./ControlBar";
import { FollowUpBanner } from "./FollowUpBanner";
import type { RepliesSnapshot } from "../api/cannedReplies";
import { itemKey, TimelineRow } from "./Timeline";
import { VisitorPanel } from "./VisitorPanel";

export type ConversationActions = ControlActions &
  ComposerActions &
  AssistActions & {
    /** The composer's text for this conversation (kept in the client state). */
    setComposer(text: string): void;
    /** Fold the brief away, or open it again. */
    toggleBrief(): void;
    retry(clientId: string): void;
    retryNote(clientId: string): void;
    dismissError(): void;
    /** Open another conversation (one of the visitor's earlier ones). */
    open(conversationId: string): void;
    /** The composer's `/` menu needs the saved replies. */
    loadReplies(): void;
    /** Files for the composer (chosen, pasted or dropped): each is uploaded at once. */
    attach(files: File[]): void;
    /** × on a composer file's chip. */
    removeFile(key: string): void;
  };

export interface ConversationViewProps {
  conversation: ConversationState;
  /** Its row in the Online list, when it is there. */
  summary: ConversationSummary | undefined;
  /** The visitor's label when the conversation is not in the Online list (Recent, search). */
  fallbackLabel?: string | undefined;
  session: Session;
  connected: boolean;
  replies?: RepliesSnapshot;
  now?: number;
  actions: ConversationActions;
  /** Who is online to transfer to (the Transfer dialog's list). */
  colleagues?: ColleaguesState;
  /** An operator's name when known, for "(transferred by …)". */
  nameOf?: (operatorId: string) => string | undefined;
}

const NO_REPLIES: RepliesSnapshot = { status: "loaded", replies: [] };

export function ConversationView(props: ConversationViewProps) {
  const { conversation: c, summary, session, connected, actions } = props;
  const label = summary?.visitor_label ?? props.fallbackLabel ?? "Visitor";
  const control = controlView(c, session);
  // The Online list follows presence live; the history frame only knew it at open time.
  const visitorOnline = summary?.visitor_online ?? c.visitorOnline;
  const readOnly = isReadOnly(c, summary);
  const canReply = control.kind === "self" && !readOnly;
  const replyHint = readOnly
    ? "The visitor has left, so nobody can reply here."
    : control.kind === "other"
      ? `${control.name} is handling this conversation.`
      : "Take Control to reply to the visitor.";
  const items = timeline(c);
  const draft = visibleDraft(c);
  const logRef = useRef<HTMLOListElement>(null);

  // Follow new messages, unless the operator scrolled up to read older ones.
  const pinned = useRef(true);
  useLayoutEffect(() => {
    const el = logRef.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [items.length, c.typing.visitor, c.typing.ai, draft?.text]);

  // Notes come with Take Control (the hub refuses them on Basic and Standard), and files with them.
  const composing = planHasTakeControl(session.workspace.plan) && (c.loaded || control.kind !== "unknown");
  // Files dropped anywhere on the conversation go to the composer; without this the browser
  // would open a file dropped beside it in place of the dashboard.
  const [dropping, setDropping] = useState(false);
  const carriesFiles = (e: DragEvent) => composing && e.dataTransfer.types.includes("Files");
  const drop = {
    onDragOver: (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      setDropping(true);
    },
    onDragLeave: (e: DragEvent) => {
      if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDropping(false);
    },
    onDrop: (e: DragEvent) => {
      setDropping(false);
      if (!carriesFiles(e)) return;
      e.preventDefault();
      actions.attach([...e.dataTransfer.files]);
    },
  };

  const holderText =
    control.kind === "ai" ? "AI assistant" : control.kind === "self" ? "You" : control.kind === "other" ? control.name : "…";

  return (
    <div className="conversation-layout">
      <section className={`conversation${dropping ? " conversation--drop" : ""}`} aria-label={`Conversation with ${label}`} {...drop}>
        <header className="conversation__header">
          <div>
            <h2 className="conversation__title">{label}</h2>
            <p className="conversation__sub">
              <span className={`presence presence--${visitorOnline ? "online" : "offline"}`} aria-hidden="true" />
              {visitorOnline ? "Online" : "Offline"}
              {readOnly && <span className="badge badge--readonly">Read-only</span>}
              <span className="dot-sep" aria-hidden="true">·</span>
              Handled by <strong>{holderText}</strong>
              {c.needsHuman && control.kind === "ai" && <span className="badge badge--waiting">Needs human</span>}
            </p>
          </div>
        </header>

        {/* Pinned above the history: what a teammate needs first when a visitor is handed over. */}
        {c.brief && <BriefCard brief={c.brief} collapsed={c.briefCollapsed} onToggle={actions.toggleBrief} />}
        {c.followUp && <FollowUpBanner followUp={c.followUp} visitorOnline={visitorOnline} now={props.now ?? Date.now()} />}

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
            <TimelineRow
              key={itemKey(item)}
              item={item}
              conversationId={c.id}
              session={session}
              visitorLabel={label}
              onRetry={actions.retry}
              onRetryNote={actions.retryNote}
              nameOf={props.nameOf}
            />
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
          readOnly={readOnly}
          transfer={
            c.control
              ? { visitorLabel: label, epoch: c.control.epoch, colleagues: props.colleagues ?? initialColleagues, request: c.transfer }
              : undefined
          }
        />
        {composing && (
          <Composer
            canReply={canReply}
            replyHint={replyHint}
            holding={control.kind === "self"}
            pending={c.pending}
            connected={connected}
            replies={props.replies ?? NO_REPLIES}
            onNeedReplies={actions.loadReplies}
            actions={actions}
            draft={{ text: c.composer, onChange: actions.setComposer }}
            assist={{ interrupted: c.interrupted, suggestion: c.suggestion, actions }}
            files={{ list: c.composerFiles, attach: actions.attach, remove: actions.removeFile }}
          />
        )}
      </section>
      <VisitorPanel context={c.context} earlier={c.earlier} now={props.now ?? Date.now()} currentId={c.id} onOpen={actions.open} />
    </div>
  );
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
