/**
 * Operator-facing text for every `ErrorCode`. The `Record` makes the compiler insist on an entry
 * for each code, so a code added to the protocol cannot reach the screen as a bare identifier.
 * The generated `ERROR_CODES` descriptions are the base; entries only add what an operator can do.
 */
import { ERROR_CODES, type ErrorCode } from "../protocol/codes";
import { LIMITS, type ErrorFrame } from "../protocol/frames";
import { MAX_FILES as MAX_ATTACHMENTS } from "../api/files";

type Copy = (err: ErrorFrame) => string;

const base: Copy = (err) => ERROR_CODES[err.code].description;

const COPY: Record<ErrorCode, Copy> = {
  // Malformed frames are this dashboard's bug, not the operator's; say so plainly.
  bad_frame: (e) => `${base(e)} This is a bug in the dashboard; please reload.`,
  unknown_frame_type: (e) => `${base(e)} The dashboard may be newer or older than the hub; please reload.`,
  invalid_frame: (e) => `${base(e)} This is a bug in the dashboard; please reload.`,
  frame_too_large: (e) => `${base(e)} Try a shorter message.`,
  message_too_long: (e) => `${base(e)} Shorten the message and send it again.`,
  empty_message: base,
  invalid_client_id: (e) => `${base(e)} This is a bug in the dashboard; please reload.`,
  // Files uploaded to another conversation (a stale chip), one twice, or more than a message carries.
  invalid_attachment: (e) =>
    `${base(e)} Remove the files from the message, attach them again (at most ${MAX_ATTACHMENTS} per message) and send it again.`,
  handshake_required: (e) => `${base(e)} Reconnecting should fix this.`,
  already_handshaken: base,
  unsupported_protocol: (e) => `${base(e)} Reload the page to get a matching dashboard.`,
  unauthorized: (e) => `${base(e)} Sign in again.`,
  token_expired: base,
  forbidden: base,
  workspace_not_found: base,
  conversation_not_found: (e) => `${base(e)} It may have ended.`,
  plan_required: () => "Take Control is a Pro feature: upgrade to the Pro or Business plan to answer visitors yourself.",
  already_controlled: (e) =>
    e.holder ? `${e.holder.name} is already handling this conversation.` : base(e),
  not_controlled: (e) => `${base(e)} Take Control before writing.`,
  not_holder: (e) => `${base(e)} Someone else took over or it was handed back to the AI.`,
  role_required: base,
  // The Transfer dialog never offers the holder or yourself; this means control moved meanwhile.
  transfer_to_self: (e) => `${base(e)} Choose another teammate.`,
  operator_offline: (e) => `${base(e)} They may have just signed out; choose someone who is online.`,
  control_changed: (e) => `${base(e)} Check who handles it now, then transfer again if it still needs it.`,
  limit_reached: (e) => `${base(e)} A conversation keeps at most ${LIMITS.maxNotes} internal notes.`,
  no_suggestion: (e) => `${base(e)} Write the reply yourself.`,
  // A visitor's refusals (the email prompt): a dashboard never sends the frame.
  invalid_email: base,
  no_follow_up: base,
  rate_limited: (e) =>
    e.retry_after_ms !== undefined
      ? `${base(e)} Retrying in ${Math.ceil(e.retry_after_ms / 1000)} s.`
      : base(e),
  unavailable: base,
  internal: base,
};

export function describeError(err: ErrorFrame): string {
  return COPY[err.code](err);
}

/**
 * A refused Suggest, in words about the suggestion: the generic copy would promise a retry
 * (`rate_limited`) or speak of writing, which a Suggest does not do.
 */
const SUGGEST_COPY: Partial<Record<ErrorCode, Copy>> = {
  unavailable: () => "The assistant could not suggest a reply just now. Try again in a moment, or write the reply yourself.",
  no_suggestion: () => "The assistant has no suggestion for the visitor's last message. Write the reply yourself.",
  not_holder: () => "You are no longer handling this conversation, so the assistant cannot suggest a reply to you.",
  not_controlled: () => "The AI assistant is handling this conversation. Take Control to ask it for a suggested reply.",
  rate_limited: (e) =>
    e.retry_after_ms !== undefined
      ? `Too many requests. Wait ${Math.ceil(e.retry_after_ms / 1000)} s before asking for another suggestion.`
      : "Too many requests. Wait a moment before asking for another suggestion.",
};

export function describeSuggestError(err: ErrorFrame): string {
  return (SUGGEST_COPY[err.code] ?? describeError)(err);
}
