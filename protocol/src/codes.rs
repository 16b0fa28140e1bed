//! The one table of error codes and WebSocket close codes.
//!
//! Every error the hub can send is an [`ErrorCode`]; every way it can end a socket is a
//! [`CloseCode`]. Each says whether a client should retry the request or reconnect, so clients
//! never guess from message text. `docs/protocol.md` and the generated `web-ui/src/protocol/codes.ts`
//! mirror this file; a test fails when the TypeScript copy is stale.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Machine-readable reason carried by an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The text frame is not valid JSON, or lacks a `type` field.
    BadFrame,
    /// The `type` is not one this endpoint knows.
    UnknownFrameType,
    /// The frame has a known `type` but its fields are missing or of the wrong shape.
    InvalidFrame,
    /// The frame is larger than the hub's frame limit.
    FrameTooLarge,
    /// The message text is longer than the message limit.
    MessageTooLong,
    /// The message text shows nothing: empty, or only white space, zero-width and other
    /// invisible characters (see `visible`).
    EmptyMessage,
    /// The client id is empty or longer than the limit.
    InvalidClientId,
    /// An attachment id is malformed or repeated, names no file uploaded to this conversation
    /// by this side, or a message carries more than `--files-per-message` (5).
    InvalidAttachment,
    /// A frame other than `hello` arrived before the handshake.
    HandshakeRequired,
    /// A second `hello` on the same socket.
    AlreadyHandshaken,
    /// The client speaks a protocol version this hub does not.
    UnsupportedProtocol,
    /// The token is missing, malformed, forged, or meant for another audience.
    Unauthorized,
    /// The token was valid but has expired: get a fresh one and reconnect.
    TokenExpired,
    /// This kind of client may not send this frame (a visitor sending an operator frame).
    Forbidden,
    /// No such workspace.
    WorkspaceNotFound,
    /// No such conversation in the caller's workspace (ids of other workspaces look the same).
    ConversationNotFound,
    /// The workspace's plan does not include Take Control (Pro and Business do).
    PlanRequired,
    /// Another operator holds the conversation; the frame names them.
    AlreadyControlled,
    /// The AI holds the conversation: there is nothing to release and no operator may write.
    NotControlled,
    /// The caller does not hold the conversation.
    NotHolder,
    /// Only owners and editors may force-release.
    RoleRequired,
    /// A transfer to the operator who already holds the conversation, or to oneself.
    TransferToSelf,
    /// A transfer to an operator who is not online in the workspace now (or not of it).
    OperatorOffline,
    /// The conversation's control changed since the epoch the frame names (another takeover,
    /// release or transfer came first): nothing was done; look again.
    ControlChanged,
    /// A per-conversation limit is reached (internal notes: `limits::MAX_NOTES`); nothing was
    /// stored.
    LimitReached,
    /// The assistant has no suggestion for the visitor's last message (the knowledge file has
    /// no answer to it); asking again gives the same.
    NoSuggestion,
    /// The email address left for a follow-up is not one a mail server would take.
    InvalidEmail,
    /// An email address for a follow-up, but the conversation is not waiting for one (nobody
    /// was unavailable, or an operator has answered since).
    NoFollowUp,
    /// Too many frames; `retry_after_ms` says when to try again.
    RateLimited,
    /// A backend (store, bus) is unavailable for now; retry the same frame later.
    Unavailable,
    /// An unexpected failure inside the hub; retrying the same frame is safe.
    Internal,
}

impl ErrorCode {
    /// Every code, in table order.
    pub const ALL: &'static [ErrorCode] = &[
        Self::BadFrame,
        Self::UnknownFrameType,
        Self::InvalidFrame,
        Self::FrameTooLarge,
        Self::MessageTooLong,
        Self::EmptyMessage,
        Self::InvalidClientId,
        Self::InvalidAttachment,
        Self::HandshakeRequired,
        Self::AlreadyHandshaken,
        Self::UnsupportedProtocol,
        Self::Unauthorized,
        Self::TokenExpired,
        Self::Forbidden,
        Self::WorkspaceNotFound,
        Self::ConversationNotFound,
        Self::PlanRequired,
        Self::AlreadyControlled,
        Self::NotControlled,
        Self::NotHolder,
        Self::RoleRequired,
        Self::TransferToSelf,
        Self::OperatorOffline,
        Self::ControlChanged,
        Self::LimitReached,
        Self::NoSuggestion,
        Self::InvalidEmail,
        Self::NoFollowUp,
        Self::RateLimited,
        Self::Unavailable,
        Self::Internal,
    ];

    /// Wire spelling (`snake_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadFrame => "bad_frame",
            Self::UnknownFrameType => "unknown_frame_type",
            Self::InvalidFrame => "invalid_frame",
            Self::FrameTooLarge => "frame_too_large",
            Self::MessageTooLong => "message_too_long",
            Self::EmptyMessage => "empty_message",
            Self::InvalidClientId => "invalid_client_id",
            Self::InvalidAttachment => "invalid_attachment",
            Self::HandshakeRequired => "handshake_required",
            Self::AlreadyHandshaken => "already_handshaken",
            Self::UnsupportedProtocol => "unsupported_protocol",
            Self::Unauthorized => "unauthorized",
            Self::TokenExpired => "token_expired",
            Self::Forbidden => "forbidden",
            Self::WorkspaceNotFound => "workspace_not_found",
            Self::ConversationNotFound => "conversation_not_found",
            Self::PlanRequired => "plan_required",
            Self::AlreadyControlled => "already_controlled",
            Self::NotControlled => "not_controlled",
            Self::NotHolder => "not_holder",
            Self::RoleRequired => "role_required",
            Self::TransferToSelf => "transfer_to_self",
            Self::OperatorOffline => "operator_offline",
            Self::ControlChanged => "control_changed",
            Self::LimitReached => "limit_reached",
            Self::NoSuggestion => "no_suggestion",
            Self::InvalidEmail => "invalid_email",
            Self::NoFollowUp => "no_follow_up",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// Whether sending the same frame again later can succeed.
    pub fn retryable(self) -> bool {
        matches!(self, Self::RateLimited | Self::Unavailable | Self::Internal)
    }

    /// One sentence for people: used in docs and as the default error text.
    pub fn description(self) -> &'static str {
        match self {
            Self::BadFrame => "The frame is not valid JSON or has no `type`.",
            Self::UnknownFrameType => "This endpoint does not know that frame type.",
            Self::InvalidFrame => "The frame's fields are missing or malformed.",
            Self::FrameTooLarge => "The frame exceeds the size limit.",
            Self::MessageTooLong => "The message text exceeds the length limit.",
            Self::EmptyMessage => "The message text is empty.",
            Self::InvalidClientId => "The client id is empty or too long.",
            Self::InvalidAttachment => {
                "An attachment is unknown in this conversation, repeated, or one too many."
            }
            Self::HandshakeRequired => "Send `hello` first.",
            Self::AlreadyHandshaken => "This socket has already sent `hello`.",
            Self::UnsupportedProtocol => "The hub does not speak this protocol version.",
            Self::Unauthorized => "The token is missing, invalid, or not meant for this endpoint.",
            Self::TokenExpired => "The token has expired; get a fresh one.",
            Self::Forbidden => "This client may not send this frame.",
            Self::WorkspaceNotFound => "No such workspace.",
            Self::ConversationNotFound => "No such conversation in this workspace.",
            Self::PlanRequired => "Take Control needs the Pro or Business plan.",
            Self::AlreadyControlled => "Another operator is handling this conversation.",
            Self::NotControlled => "The AI assistant is handling this conversation.",
            Self::NotHolder => "You are not handling this conversation.",
            Self::RoleRequired => "Only owners and editors can do this.",
            Self::TransferToSelf => "The conversation is already theirs.",
            Self::OperatorOffline => "That operator is not online in this workspace.",
            Self::ControlChanged => {
                "Someone else changed who handles this conversation first; nothing was done."
            }
            Self::LimitReached => {
                "This conversation has reached the limit for this; nothing was stored."
            }
            Self::NoSuggestion => "The assistant has no suggestion for this message.",
            Self::InvalidEmail => "That does not look like an email address.",
            Self::NoFollowUp => "This conversation is not waiting for a follow-up.",
            Self::RateLimited => "Too many requests; slow down.",
            Self::Unavailable => "The service is temporarily unavailable; retry shortly.",
            Self::Internal => "Something went wrong in the hub; retry.",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A WebSocket close code the hub uses, and what a client should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseCode {
    pub code: u16,
    pub name: &'static str,
    /// `true`: reconnect (with backoff) and resume by sequence number.
    /// `false`: terminal; reconnecting with the same credentials fails the same way.
    pub reconnect: bool,
    pub description: &'static str,
}

impl CloseCode {
    pub const NORMAL: CloseCode = CloseCode {
        code: 1000,
        name: "normal",
        reconnect: false,
        description: "The session ended normally.",
    };
    pub const GOING_AWAY: CloseCode = CloseCode {
        code: 1001,
        name: "going_away",
        reconnect: true,
        description: "The hub node is shutting down; reconnect and resume.",
    };
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode {
        code: 1009,
        name: "message_too_big",
        reconnect: false,
        description: "A WebSocket message exceeded the hard transport limit.",
    };
    pub const INTERNAL: CloseCode = CloseCode {
        code: 1011,
        name: "internal",
        reconnect: true,
        description: "Unexpected failure in the hub; reconnect and resume.",
    };
    pub const PROTOCOL_ERROR: CloseCode = CloseCode {
        code: 4000,
        name: "protocol_error",
        reconnect: false,
        description: "The handshake was malformed or sent no `hello`.",
    };
    pub const UNAUTHORIZED: CloseCode = CloseCode {
        code: 4001,
        name: "unauthorized",
        reconnect: false,
        description: "The token was missing, invalid, or for another audience.",
    };
    pub const TOKEN_EXPIRED: CloseCode = CloseCode {
        code: 4002,
        name: "token_expired",
        reconnect: true,
        description: "The token expired; reconnect with a fresh token.",
    };
    pub const UNSUPPORTED_PROTOCOL: CloseCode = CloseCode {
        code: 4003,
        name: "unsupported_protocol",
        reconnect: false,
        description: "The client's protocol version is not supported.",
    };
    pub const HANDSHAKE_TIMEOUT: CloseCode = CloseCode {
        code: 4004,
        name: "handshake_timeout",
        reconnect: true,
        description: "No `hello` arrived in time.",
    };
    pub const TOO_SLOW: CloseCode = CloseCode {
        code: 4005,
        name: "too_slow",
        reconnect: true,
        description: "The client fell behind its outbound queue; reconnect and resume by sequence number.",
    };
    pub const IDLE_TIMEOUT: CloseCode = CloseCode {
        code: 4006,
        name: "idle_timeout",
        reconnect: true,
        description: "Nothing was heard from the client for too long.",
    };
    pub const WORKSPACE_NOT_FOUND: CloseCode = CloseCode {
        code: 4007,
        name: "workspace_not_found",
        reconnect: false,
        description: "The workspace in the handshake does not exist.",
    };
    pub const UNAVAILABLE: CloseCode = CloseCode {
        code: 4008,
        name: "unavailable",
        reconnect: true,
        description: "A backend was unavailable (during the handshake, or while catching up on missed events); reconnect with backoff and resume.",
    };

    /// Every close code, in table order.
    pub const ALL: &'static [CloseCode] = &[
        Self::NORMAL,
        Self::GOING_AWAY,
        Self::MESSAGE_TOO_BIG,
        Self::INTERNAL,
        Self::PROTOCOL_ERROR,
        Self::UNAUTHORIZED,
        Self::TOKEN_EXPIRED,
        Self::UNSUPPORTED_PROTOCOL,
        Self::HANDSHAKE_TIMEOUT,
        Self::TOO_SLOW,
        Self::IDLE_TIMEOUT,
        Self::WORKSPACE_NOT_FOUND,
        Self::UNAVAILABLE,
    ];

    /// The close code for a handshake that failed with `error`.
    pub fn for_handshake_error(error: ErrorCode) -> CloseCode {
        match error {
            ErrorCode::Unauthorized | ErrorCode::Forbidden => Self::UNAUTHORIZED,
            ErrorCode::TokenExpired => Self::TOKEN_EXPIRED,
            ErrorCode::UnsupportedProtocol => Self::UNSUPPORTED_PROTOCOL,
            ErrorCode::WorkspaceNotFound => Self::WORKSPACE_NOT_FOUND,
            ErrorCode::Unavailable => Self::UNAVAILABLE,
            ErrorCode::Internal => Self::INTERNAL,
            _ => Self::PROTOCOL_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn error_codes_spell_like_serde_and_are_unique() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).expect("serialize");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!(seen.insert(code.as_str()));
        }
    }

    #[test]
    fn close_codes_are_unique_and_in_valid_ranges() {
        let mut seen = HashSet::new();
        for c in CloseCode::ALL {
            assert!(seen.insert(c.code), "duplicate close code {}", c.code);
            assert!((1000..=1011).contains(&c.code) || (4000..=4999).contains(&c.code));
        }
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        let retryable: Vec<_> = ErrorCode::ALL.iter().filter(|c| c.retryable()).collect();
        assert_eq!(
            retryable,
            [
                &ErrorCode::RateLimited,
                &ErrorCode::Unavailable,
                &ErrorCode::Internal
            ]
        );
    }
}
