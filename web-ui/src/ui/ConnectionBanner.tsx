import { useEffect, useState } from "react";
import type { Connection } from "../client/state";

export interface ConnectionBannerProps {
  connection: Connection;
  onReconnect(): void;
  /** Offered when the hub refused the credentials: reconnecting with them cannot help. */
  onSignIn?: (() => void) | undefined;
}

/** Says plainly when the dashboard is not live, why, and what happens next. */
export function ConnectionBanner({ connection, onReconnect, onSignIn }: ConnectionBannerProps) {
  switch (connection.status) {
    case "idle":
    case "connected":
      return null;
    case "connecting":
      // The first connection is usually instant; a banner would only flash. Retries do show.
      if (connection.attempt === 0) return null;
      return (
        <div className="banner banner--warn" role="status">
          Reconnecting to the hub…
        </div>
      );
    case "reconnecting":
      return (
        <div className="banner banner--warn" role="status">
          <span>
            {connection.notice?.text ?? connection.close.description} <Countdown key={connection.attempt} ms={connection.delayMs} />
          </span>
          <button type="button" className="link-button" onClick={onReconnect}>
            Reconnect now
          </button>
        </div>
      );
    case "stopped": {
      const why = connection.notice?.text ?? connection.close?.description ?? "You are signed out.";
      const credentials =
        connection.close?.code === 4001 || connection.close?.code === 4002 || connection.notice?.code === "unauthorized";
      return (
        <div className="banner banner--error" role="alert">
          <span>Disconnected. {why}</span>
          {credentials && onSignIn ? (
            <button type="button" className="link-button" onClick={onSignIn}>
              Sign in again
            </button>
          ) : (
            <button type="button" className="link-button" onClick={onReconnect}>
              Reconnect
            </button>
          )}
        </div>
      );
    }
  }
}

function Countdown({ ms }: { ms: number }) {
  const [end] = useState(() => Date.now() + ms);
  const [left, setLeft] = useState(ms);
  useEffect(() => {
    const t = setInterval(() => setLeft(Math.max(0, end - Date.now())), 500);
    return () => clearInterval(t);
  }, [end]);
  const s = Math.ceil(left / 1000);
  return <>{s > 0 ? `Retrying in ${s} s.` : "Retrying…"}</>;
}
