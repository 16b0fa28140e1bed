import { useMemo, useState } from "react";
import type { AuditEntry } from "../protocol/frames";
import { auditActor, auditDetail, auditSentence, type AuditContext } from "../text/auditText";
import { auditTime } from "../text/format";
import { auditKey } from "../client/reducer";

export interface AuditLogProps {
  /** Oldest first, as the client keeps them; shown newest first. */
  entries: readonly AuditEntry[];
  /** Whether the hub's `audit_snapshot` arrived. */
  loaded: boolean;
  context: AuditContext;
  now: number;
  /** Fetches `GET /api/audit` and saves it; rejects with a readable message. */
  onDownload: () => Promise<void>;
}

/** The Audit tab (owners and editors): newest first, one sentence per entry, and the export. */
export function AuditLog({ entries, loaded, context, now, onDownload }: AuditLogProps) {
  const [download, setDownload] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null });
  const newestFirst = useMemo(() => [...entries].reverse(), [entries]);

  const start = () => {
    setDownload({ busy: true, error: null });
    onDownload().then(
      () => setDownload({ busy: false, error: null }),
      (e: unknown) => setDownload({ busy: false, error: e instanceof Error ? e.message : String(e) }),
    );
  };

  return (
    <div className="audit">
      <div className="audit__bar">
        <p className="audit__hint">Newest first. The export has the full log.</p>
        <button type="button" className="btn btn--outline btn--small" onClick={start} disabled={download.busy} aria-busy={download.busy}>
          <DownloadIcon /> {download.busy ? "Downloading…" : "Download JSON lines"}
        </button>
      </div>
      {download.error && (
        <p className="inline-error audit__error" role="alert">
          {download.error}
        </p>
      )}
      {!loaded && entries.length === 0 ? (
        <p className="online__empty">Loading the audit log…</p>
      ) : entries.length === 0 ? (
        <p className="online__empty">Nothing recorded yet. Takeovers and releases appear here live.</p>
      ) : (
        <ol className="audit__list" aria-label="Audit log, newest first">
          {newestFirst.map((e) => {
            const detail = auditDetail(e, context);
            return (
              <li key={auditKey(e)} className={`audit__row audit__row--${e.action}`}>
                <time className="audit__time" dateTime={new Date(e.at).toISOString()} title={new Date(e.at).toLocaleString()}>
                  {auditTime(e.at, now)}
                </time>
                <span className="audit__body">
                  <span className={`audit__actor${e.actor ? "" : " audit__actor--auto"}`}>{auditActor(e)}</span>
                  <span className="audit__text">{auditSentence(e, context)}</span>
                  {detail && <span className="audit__detail">{detail}</span>}
                </span>
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}

function DownloadIcon() {
  return (
    <svg className="icon" width="14" height="14" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <path d="M8 1.5v8.2M4.5 6.6 8 10.1l3.5-3.5M2.5 12.5v2h11v-2" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}
