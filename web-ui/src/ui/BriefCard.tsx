/**
 * The brief for the team, pinned above the conversation's history: what the visitor wants, what
 * the AI answered, why a human was asked for. Made by the workspace's assistant when a human is
 * asked for or someone takes over; the visitor never sees it.
 */
import { useId } from "react";
import type { BriefSource, BriefState } from "../protocol/frames";
import { languageName } from "../text/visitorContext";

export interface BriefCardProps {
  brief: BriefState;
  collapsed: boolean;
  onToggle(): void;
}

const MADE_BY: Record<BriefSource, string> = { knowledge: "knowledge", openai: "OpenAI", webhook: "webhook" };

/** A BCP 47 tag from the widget gets its name ("German (de-DE)"); a model's "German" stays as it is. */
function language(value: string): string {
  return /^[a-z]{2,3}(-[a-z0-9]{1,8})*$/i.test(value) ? (languageName(value) ?? value) : value;
}

export function BriefCard({ brief, collapsed, onToggle }: BriefCardProps) {
  const id = useId();
  switch (brief.state) {
    case "pending":
      return (
        <p className="brief brief--pending" role="status">
          Preparing a brief…
        </p>
      );
    case "unavailable":
      return (
        <p className="brief brief--unavailable">
          No brief this time (<span dir="auto">{brief.reason}</span>)
        </p>
      );
    case "ready": {
      const b = brief.brief;
      const bodyId = `${id}-body`;
      return (
        <section className="brief brief--ready" aria-labelledby={`${id}-title`}>
          <div className="brief__head">
            <button
              type="button"
              id={`${id}-title`}
              className="brief__toggle"
              aria-expanded={!collapsed}
              aria-controls={bodyId}
              onClick={onToggle}
            >
              <svg className="brief__chevron icon" viewBox="0 0 16 16" width="12" height="12" aria-hidden="true" focusable="false">
                <path fill="currentColor" d="M5 3l6 5-6 5V3Z" />
              </svg>
              Brief
            </button>
            {/* Folded away, the first line still says what it is about. */}
            {collapsed && (
              <span className="brief__summary" dir="auto">
                {b.wants}
              </span>
            )}
          </div>
          <div id={bodyId} className="brief__body" hidden={collapsed}>
            <dl className="brief__facts">
              <div className="brief__fact">
                <dt>Wants</dt>
                <dd dir="auto">{b.wants}</dd>
              </div>
              <div className="brief__fact">
                <dt>AI answered</dt>
                <dd dir="auto">{b.answered}</dd>
              </div>
              {b.why_human !== undefined && (
                <div className="brief__fact">
                  <dt>Why a human</dt>
                  <dd dir="auto">{b.why_human}</dd>
                </div>
              )}
              {b.language !== undefined && (
                <div className="brief__fact">
                  <dt>Language</dt>
                  <dd dir="auto">{language(b.language)}</dd>
                </div>
              )}
            </dl>
            <p className="brief__by">by {MADE_BY[b.made_by]} assistant</p>
          </div>
        </section>
      );
    }
  }
}
