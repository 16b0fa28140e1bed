/**
 * A conversation's follow-up, above its history: since when it waits and why, the address the
 * visitor left, whether a reply now also goes by email, and where the last email stands.
 */
import type { FollowUp } from "../protocol/frames";
import { deliveryText, REASON_TEXT } from "../text/followUp";
import { auditTime } from "../text/format";

export interface FollowUpBannerProps {
  followUp: FollowUp;
  visitorOnline: boolean;
  now: number;
}

export function FollowUpBanner({ followUp: f, visitorOnline, now }: FollowUpBannerProps) {
  // Answered, and nothing by email: nothing left to say.
  if (!f.waiting && f.email === undefined && f.delivery === undefined) return null;
  return (
    <section className={`follow-up${f.waiting ? " follow-up--waiting" : ""}`} aria-label="Follow-up">
      {f.waiting && (
        <p className="follow-up__title">
          <strong>Waiting for follow-up</strong> since {auditTime(f.since, now)} · {REASON_TEXT[f.reason]}
        </p>
      )}
      {f.email !== undefined ? (
        <p>
          Visitor's email: <bdi className="follow-up__email">{f.email}</bdi>
        </p>
      ) : (
        f.waiting && <p className="follow-up__muted">The visitor left no email: they see your answer when they come back to the chat.</p>
      )}
      {f.email !== undefined && !visitorOnline && (
        <p>
          Your reply will also be emailed to <bdi className="follow-up__email">{f.email}</bdi>.
        </p>
      )}
      {f.delivery && (
        <p className={`follow-up__delivery follow-up__delivery--${f.delivery.state}`} aria-live="polite">
          {deliveryText(f.delivery, now)}
        </p>
      )}
    </section>
  );
}
