import type { ConversationSummary, VisitorContext } from "../protocol/frames";
import { relativeTime } from "../text/format";
import { languageName, localTime, safeHttpUrl } from "../text/visitorContext";

export interface VisitorPanelProps {
  context: VisitorContext | null;
  earlier: ConversationSummary[];
  now: number;
  /** The conversation on screen, so its own row (if listed) is not offered again. */
  currentId: string;
  onOpen(id: string): void;
}

/** A URL as a link when it is http(s); anything else (a `javascript:` URL) as plain text. */
function Url({ url }: { url: string }) {
  const href = safeHttpUrl(url);
  if (href === null) return <span className="visitor-panel__url">{url}</span>;
  return (
    <a className="visitor-panel__url" href={href} target="_blank" rel="noopener noreferrer nofollow" title={url}>
      {url}
    </a>
  );
}

/** Beside the conversation: where the visitor is (updated live) and their earlier conversations. */
export function VisitorPanel({ context, earlier, now, currentId, onOpen }: VisitorPanelProps) {
  const c = context ?? {};
  const time = localTime(c.time_zone, now);
  const language = languageName(c.language);
  const others = earlier.filter((e) => e.id !== currentId);
  const nothing = !c.url && !c.title && !c.referrer && !language && !c.time_zone;

  return (
    <aside className="visitor-panel" aria-label="About the visitor">
      <h3 className="visitor-panel__heading">Visitor</h3>
      {nothing ? (
        <p className="visitor-panel__muted">The visitor's widget has not said where they are.</p>
      ) : (
        <dl className="visitor-panel__facts">
          {(c.title || c.url) && (
            <div className="visitor-panel__fact" data-fact="page">
              <dt>Current page</dt>
              <dd>
                {c.title && <span className="visitor-panel__title">{c.title}</span>}
                {c.url && <Url url={c.url} />}
              </dd>
            </div>
          )}
          {c.referrer && (
            <div className="visitor-panel__fact" data-fact="referrer">
              <dt>Came from</dt>
              <dd>
                <Url url={c.referrer} />
              </dd>
            </div>
          )}
          {language && (
            <div className="visitor-panel__fact" data-fact="language">
              <dt>Language</dt>
              <dd>{language}</dd>
            </div>
          )}
          {c.time_zone && (
            <div className="visitor-panel__fact" data-fact="time">
              <dt>Local time</dt>
              <dd>
                {time ?? "unknown"} <span className="visitor-panel__muted">({c.time_zone})</span>
              </dd>
            </div>
          )}
        </dl>
      )}

      <h3 className="visitor-panel__heading">Earlier conversations</h3>
      {others.length === 0 ? (
        <p className="visitor-panel__muted">None.</p>
      ) : (
        <ul className="visitor-panel__earlier">
          {others.map((e) => (
            <li key={e.id}>
              <button type="button" className="visitor-panel__open" onClick={() => onOpen(e.id)}>
                <span className="visitor-panel__when">
                  <time dateTime={new Date(e.last_activity_at).toISOString()}>{relativeTime(e.last_activity_at, now)}</time>
                </span>
                <span className="visitor-panel__preview">{e.last_message?.text ?? "No messages"}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}
