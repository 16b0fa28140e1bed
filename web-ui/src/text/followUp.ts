/** Operator-facing words for follow-ups: why a conversation waits, and where its email stands. */
import type { EmailDelivery, FollowUpReason } from "../protocol/frames";
import { auditTime } from "./format";

export const REASON_TEXT: Record<FollowUpReason, string> = {
  outside_hours: "Outside working hours",
  unanswered: "Nobody answered in time",
};

/**
 * The email of the operators' answer: "Emailed at 10:42", "Not delivered yet: … — retrying at
 * 10:45 (attempt 2)", "Not delivered: …". Times carry the date when not today.
 */
export function deliveryText(d: EmailDelivery, now: number): string {
  switch (d.state) {
    case "scheduled":
      return `Email goes out at ${auditTime(d.at, now)}`;
    case "sent":
      return `Emailed at ${auditTime(d.at, now)}`;
    case "retrying":
      // `attempts` have failed; the one at `next_at` is the next.
      return `Not delivered yet: ${d.error} — retrying at ${auditTime(d.next_at, now)} (attempt ${d.attempts + 1})`;
    case "failed":
      return `Not delivered: ${d.error}`;
  }
}

/** The same, short enough for a list row. */
export function deliveryShort(d: EmailDelivery, now: number): string {
  switch (d.state) {
    case "scheduled":
      return `Email at ${auditTime(d.at, now)}`;
    case "sent":
      return `Emailed ${auditTime(d.at, now)}`;
    case "retrying":
      return `Email retrying ${auditTime(d.next_at, now)}`;
    case "failed":
      return "Email not delivered";
  }
}
