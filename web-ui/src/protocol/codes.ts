// Generated from the Rust `protocol` crate. Do not edit by hand:
// UPDATE_TS=1 cargo test -p take-control-protocol --test typescript

export type ErrorCode = "bad_frame" | "unknown_frame_type" | "invalid_frame" | "frame_too_large" | "message_too_long" | "empty_message" | "invalid_client_id" | "invalid_attachment" | "handshake_required" | "already_handshaken" | "unsupported_protocol" | "unauthorized" | "token_expired" | "forbidden" | "workspace_not_found" | "conversation_not_found" | "plan_required" | "already_controlled" | "not_controlled" | "not_holder" | "role_required" | "transfer_to_self" | "operator_offline" | "control_changed" | "limit_reached" | "no_suggestion" | "invalid_email" | "no_follow_up" | "rate_limited" | "unavailable" | "internal";

export interface ErrorCodeInfo { retryable: boolean; description: string }

export const ERROR_CODES: Record<ErrorCode, ErrorCodeInfo> = {
  bad_frame: { retryable: false, description: "The frame is not valid JSON or has no `type`." },
  unknown_frame_type: { retryable: false, description: "This endpoint does not know that frame type." },
  invalid_frame: { retryable: false, description: "The frame's fields are missing or malformed." },
  frame_too_large: { retryable: false, description: "The frame exceeds the size limit." },
  message_too_long: { retryable: false, description: "The message text exceeds the length limit." },
  empty_message: { retryable: false, description: "The message text is empty." },
  invalid_client_id: { retryable: false, description: "The client id is empty or too long." },
  invalid_attachment: { retryable: false, description: "An attachment is unknown in this conversation, repeated, or one too many." },
  handshake_required: { retryable: false, description: "Send `hello` first." },
  already_handshaken: { retryable: false, description: "This socket has already sent `hello`." },
  unsupported_protocol: { retryable: false, description: "The hub does not speak this protocol version." },
  unauthorized: { retryable: false, description: "The token is missing, invalid, or not meant for this endpoint." },
  token_expired: { retryable: false, description: "The token has expired; get a fresh one." },
  forbidden: { retryable: false, description: "This client may not send this frame." },
  workspace_not_found: { retryable: false, description: "No such workspace." },
  conversation_not_found: { retryable: false, description: "No such conversation in this workspace." },
  plan_required: { retryable: false, description: "Take Control needs the Pro or Business plan." },
  already_controlled: { retryable: false, description: "Another operator is handling this conversation." },
  not_controlled: { retryable: false, description: "The AI assistant is handling this conversation." },
  not_holder: { retryable: false, description: "You are not handling this conversation." },
  role_required: { retryable: false, description: "Only owners and editors can do this." },
  transfer_to_self: { retryable: false, description: "The conversation is already theirs." },
  operator_offline: { retryable: false, description: "That operator is not online in this workspace." },
  control_changed: { retryable: false, description: "Someone else changed who handles this conversation first; nothing was done." },
  limit_reached: { retryable: false, description: "This conversation has reached the limit for this; nothing was stored." },
  no_suggestion: { retryable: false, description: "The assistant has no suggestion for this message." },
  invalid_email: { retryable: false, description: "That does not look like an email address." },
  no_follow_up: { retryable: false, description: "This conversation is not waiting for a follow-up." },
  rate_limited: { retryable: true, description: "Too many requests; slow down." },
  unavailable: { retryable: true, description: "The service is temporarily unavailable; retry shortly." },
  internal: { retryable: true, description: "Something went wrong in the hub; retry." },
};

export interface CloseCodeInfo { code: number; name: string; reconnect: boolean; description: string }

export const CLOSE_CODES: Record<number, CloseCodeInfo> = {
  1000: { code: 1000, name: "normal", reconnect: false, description: "The session ended normally." },
  1001: { code: 1001, name: "going_away", reconnect: true, description: "The hub node is shutting down; reconnect and resume." },
  1009: { code: 1009, name: "message_too_big", reconnect: false, description: "A WebSocket message exceeded the hard transport limit." },
  1011: { code: 1011, name: "internal", reconnect: true, description: "Unexpected failure in the hub; reconnect and resume." },
  4000: { code: 4000, name: "protocol_error", reconnect: false, description: "The handshake was malformed or sent no `hello`." },
  4001: { code: 4001, name: "unauthorized", reconnect: false, description: "The token was missing, invalid, or for another audience." },
  4002: { code: 4002, name: "token_expired", reconnect: true, description: "The token expired; reconnect with a fresh token." },
  4003: { code: 4003, name: "unsupported_protocol", reconnect: false, description: "The client's protocol version is not supported." },
  4004: { code: 4004, name: "handshake_timeout", reconnect: true, description: "No `hello` arrived in time." },
  4005: { code: 4005, name: "too_slow", reconnect: true, description: "The client fell behind its outbound queue; reconnect and resume by sequence number." },
  4006: { code: 4006, name: "idle_timeout", reconnect: true, description: "Nothing was heard from the client for too long." },
  4007: { code: 4007, name: "workspace_not_found", reconnect: false, description: "The workspace in the handshake does not exist." },
  4008: { code: 4008, name: "unavailable", reconnect: true, description: "A backend was unavailable (during the handshake, or while catching up on missed events); reconnect with backoff and resume." },
};

export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL: 1011,
  PROTOCOL_ERROR: 4000,
  UNAUTHORIZED: 4001,
  TOKEN_EXPIRED: 4002,
  UNSUPPORTED_PROTOCOL: 4003,
  HANDSHAKE_TIMEOUT: 4004,
  TOO_SLOW: 4005,
  IDLE_TIMEOUT: 4006,
  WORKSPACE_NOT_FOUND: 4007,
  UNAVAILABLE: 4008,
} as const;

export type ProblemCode = "unauthorized" | "token_expired" | "workspace_not_found" | "invalid_body" | "invalid_display_name" | "not_an_image" | "unsupported_image_format" | "image_not_square" | "image_too_small" | "image_too_large" | "payload_too_large" | "image_corrupt" | "unknown_avatar" | "rate_limited" | "unavailable" | "not_found" | "role_required" | "invalid_canned_reply" | "shortcut_taken" | "too_many_replies" | "request_timeout" | "unsupported_file_type" | "file_corrupt" | "too_many_files";

export interface ProblemCodeInfo { status: number; title: string }

export const PROBLEM_CODES: Record<ProblemCode, ProblemCodeInfo> = {
  unauthorized: { status: 401, title: "Sign in again" },
  token_expired: { status: 401, title: "Your session has expired" },
  workspace_not_found: { status: 403, title: "Unknown workspace" },
  invalid_body: { status: 422, title: "Malformed request" },
  invalid_display_name: { status: 422, title: "Display name not accepted" },
  not_an_image: { status: 415, title: "Not an image" },
  unsupported_image_format: { status: 415, title: "Unsupported image format" },
  image_not_square: { status: 422, title: "Image is not square" },
  image_too_small: { status: 422, title: "Image is too small" },
  image_too_large: { status: 422, title: "Image is too large" },
  payload_too_large: { status: 413, title: "File is too large" },
  image_corrupt: { status: 422, title: "Image is damaged" },
  unknown_avatar: { status: 422, title: "Unknown avatar" },
  rate_limited: { status: 429, title: "Too many requests" },
  unavailable: { status: 503, title: "Temporarily unavailable" },
  not_found: { status: 404, title: "Not found" },
  role_required: { status: 403, title: "Owners and editors only" },
  invalid_canned_reply: { status: 422, title: "Saved reply not accepted" },
  shortcut_taken: { status: 409, title: "Shortcut already in use" },
  too_many_replies: { status: 409, title: "Too many saved replies" },
  request_timeout: { status: 408, title: "Request took too long" },
  unsupported_file_type: { status: 415, title: "File type not accepted" },
  file_corrupt: { status: 422, title: "File is damaged" },
  too_many_files: { status: 409, title: "Too many files in this conversation" },
};
