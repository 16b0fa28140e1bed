/**
 * Files in the dashboard: a message's or note's attachments in the timeline (an image is its
 * thumbnail, which opens the full image in a lightbox; a PDF a download link "📄 name (size)"),
 * and the composer's chips. Links come from `api/files.ts` (signed for a few minutes, cached per
 * conversation): a stale one is asked for again before it is used, a thumbnail that fails to
 * load is asked for once more.
 */
import { createContext, useCallback, useContext, useEffect, useRef, useState, type KeyboardEvent } from "react";
import { createPortal } from "react-dom";
import type { Attachment } from "../protocol/frames";
import { fileSize, type FilesApi, type Link, type PendingFile } from "../api/files";

/** The signed-in operator's files API (`Dashboard` provides it; without it files show as unavailable). */
export const FilesContext = createContext<FilesApi | null>(null);

type LinkState = { status: "loading" } | { status: "ready"; link: Link } | { status: "gone" };

/** A file's signed link; `fresh()` answers one that still works (asking again when it is stale), `failed()` after a load error. */
function useFileLink(conversationId: string, id: string) {
  const files = useContext(FilesContext);
  const [state, setState] = useState<LinkState>({ status: "loading" });
  const [attempt, setAttempt] = useState(0);
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
    };
  }, []);
  const fresh = useCallback(async (): Promise<Link | null> => {
    const link = files ? await files.link(conversationId, id) : null;
    if (live.current) setState(link ? { status: "ready", link } : { status: "gone" });
    return link;
  }, [files, conversationId, id]);
  useEffect(() => {
    void fresh();
  }, [fresh, attempt]);
  /** It did not load (expired early, say): ask the hub once more, then give up. */
  const failed = useCallback(() => {
    if (attempt > 0 || !files) return setState({ status: "gone" });
    files.forget(conversationId, id);
    setAttempt(1);
  }, [attempt, files, conversationId, id]);
  const current = state.status === "ready" ? state.link : null;
  const stale = () => !current || Date.now() >= current.staleAt;
  return { state, fresh, failed, stale };
}

/** The thumbnail's box, known before it loads (at most 240 × 180): the timeline does not jump. */
function thumbBox(a: Attachment): { width: number; height: number } | undefined {
  if (!a.width || !a.height) return undefined;
  const k = Math.min(1, 240 / a.width, 180 / a.height);
  return { width: Math.max(1, Math.round(a.width * k)), height: Math.max(1, Math.round(a.height * k)) };
}

export function Attachments({ conversationId, attachments }: { conversationId: string; attachments: Attachment[] | undefined }) {
  const [open, setOpen] = useState<Attachment | null>(null);
  const openers = useRef(new Map<string, HTMLButtonElement | null>());
  if (!attachments?.length) return null;
  const close = () => {
    const back = open && openers.current.get(open.id);
    setOpen(null);
    back?.focus();
  };
  return (
    <ul className="files" aria-label="Files">
      {attachments.map((a) => (
        <li key={a.id} className="files__item">
          {a.kind === "image" ? (
            <ImageThumb
              conversationId={conversationId}
              attachment={a}
              onOpen={() => setOpen(a)}
              buttonRef={(el) => void openers.current.set(a.id, el)}
            />
          ) : (
            <PdfLink conversationId={conversationId} attachment={a} />
          )}
        </li>
      ))}
      {open && <Lightbox conversationId={conversationId} attachment={open} onClose={close} />}
    </ul>
  );
}

function ImageThumb(props: { conversationId: string; attachment: Attachment; onOpen(): void; buttonRef(el: HTMLButtonElement | null): void }) {
  const a = props.attachment;
  const { state, failed } = useFileLink(props.conversationId, a.id);
  const box = thumbBox(a);
  if (state.status === "gone") return <span className="files__gone">{a.name} (unavailable)</span>;
  return (
    <button
      ref={props.buttonRef}
      type="button"
      className="files__thumb"
      onClick={props.onOpen}
      title={`${a.name} — click to enlarge`}
      aria-label={`Open ${a.name}${a.width && a.height ? ` (${a.width}×${a.height})` : ""}`}
    >
      {state.status === "ready" ? (
        <img src={state.link.thumbnail_url ?? state.link.url} alt={a.name} width={box?.width} height={box?.height} onError={failed} />
      ) : (
        <span className="files__wait" style={box}>
          Loading…
        </span>
      )}
    </button>
  );
}

/** A download through a temporary link: same origin, so `download` keeps the name. */
function download(url: string, name: string) {
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

function PdfLink({ conversationId, attachment: a }: { conversationId: string; attachment: Attachment }) {
  const { state, fresh, stale } = useFileLink(conversationId, a.id);
  if (state.status === "gone") return <span className="files__gone">📄 {a.name} (unavailable)</span>;
  const refresh = () => void (stale() && fresh());
  return (
    <a
      className="files__pdf"
      dir="auto"
      href={state.status === "ready" ? state.link.url : undefined}
      download={a.name}
      onPointerEnter={refresh}
      onFocus={refresh}
      onClick={(e) => {
        if (!stale()) return;
        // Stale (or not there yet): wait for a link that works, then download that.
        e.preventDefault();
        void fresh().then((l) => l && download(l.url, a.name));
      }}
    >
      <span aria-hidden="true">📄 </span>
      {a.name} ({fileSize(a.size)})
    </a>
  );
}

/** The full image over the dashboard: Escape, Close or a click beside it closes it (focus goes back to the thumbnail). */
function Lightbox({ conversationId, attachment: a, onClose }: { conversationId: string; attachment: Attachment; onClose(): void }) {
  const { state, failed } = useFileLink(conversationId, a.id);
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => closeRef.current?.focus(), []);
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      onClose();
    }
    // Modal: Tab goes round its own controls, not to the dashboard behind it.
    if (e.key === "Tab") {
      const stops = [...e.currentTarget.querySelectorAll<HTMLElement>("a[href], button")];
      const edge = e.shiftKey ? stops[0] : stops.at(-1);
      if (document.activeElement === edge) {
        e.preventDefault();
        (e.shiftKey ? stops.at(-1) : stops[0])?.focus();
      }
    }
  };
  return createPortal(
    <div className="lightbox" role="dialog" aria-modal="true" aria-label={a.name} onKeyDown={onKeyDown} onClick={(e) => e.target === e.currentTarget && onClose()}>
      <figure className="lightbox__figure">
        {state.status === "ready" ? (
          <img className="lightbox__img" src={state.link.url} alt={a.name} onError={failed} />
        ) : (
          <p className="lightbox__wait">{state.status === "gone" ? "This image is unavailable." : "Loading…"}</p>
        )}
        <figcaption className="lightbox__caption">
          <span className="lightbox__name" dir="auto">
            {a.name}
          </span>
          <span>
            {a.width && a.height ? `${a.width}×${a.height} · ` : ""}
            {fileSize(a.size)}
          </span>
          {state.status === "ready" && (
            <a href={state.link.url} target="_blank" rel="noopener noreferrer">
              Open in new tab
            </a>
          )}
          <button ref={closeRef} type="button" className="btn btn--outline btn--small" onClick={onClose}>
            Close
          </button>
        </figcaption>
      </figure>
    </div>,
    document.body,
  );
}

/** The composer's files: name and size, "uploading…", or why it was refused; × removes one. */
export function FileChips({ files, onRemove }: { files: PendingFile[]; onRemove(key: string): void }) {
  if (files.length === 0) return null;
  return (
    <ul className="chips" aria-label="Attached files">
      {files.map((f) => (
        <li key={f.key} className={`chip chip--${f.status}`}>
          <span dir="auto" role={f.status === "failed" ? "alert" : undefined}>
            {/* Once uploaded: the name and size the hub stored (an image is re-encoded). */}
            {f.status === "failed" ? f.error : f.attachment ? `${f.attachment.name} (${fileSize(f.attachment.size)})` : `${f.name}: uploading…`}
          </span>
          <button type="button" className="chip__remove" aria-label={`Remove ${f.name}`} onClick={() => onRemove(f.key)}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
