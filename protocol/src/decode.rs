//! Decoding of client frames: size first, then JSON, then shape, then content limits.
//!
//! Never panics on any input (a property test feeds it arbitrary bytes). On failure it says
//! exactly which [`ErrorCode`] applies, so the hub answers with the documented error.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::codes::ErrorCode;
use crate::frames::{ClientId, ConversationId, ErrorFrame, OperatorFrame, WidgetFrame};
use crate::limits;

/// Why a frame was refused, with a message for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DecodeError {
    pub code: ErrorCode,
    pub message: String,
    /// For a refused `message` or `note`: its conversation (operators name it) and its
    /// `client_id`, so the client knows which one was refused.
    pub conversation_id: Option<ConversationId>,
    pub client_id: Option<ClientId>,
}

impl DecodeError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            conversation_id: None,
            client_id: None,
        }
    }
}

/// The `error` frame that answers a refused frame.
impl From<DecodeError> for ErrorFrame {
    fn from(e: DecodeError) -> Self {
        let mut frame = ErrorFrame::with_message(e.code, e.message);
        frame.conversation_id = e.conversation_id;
        frame.client_id = e.client_id;
        frame
    }
}

/// Limits a decoder enforces (the hub's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_frame_bytes: usize,
    pub max_message_chars: usize,
    /// Most files one message or note carries.
    pub max_attachments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: limits::MAX_FRAME_BYTES,
            max_message_chars: limits::MAX_MESSAGE_CHARS,
            max_attachments: limits::MAX_ATTACHMENTS_PER_MESSAGE,
        }
    }
}

/// Every frame type a widget may send.
pub const WIDGET_TYPES: &[&str] = &[
    "hello",
    "page",
    "message",
    "typing",
    "request_human",
    "follow_up_email",
];
/// Every frame type a dashboard may send.
pub const OPERATOR_TYPES: &[&str] = &[
    "hello",
    "subscribe_online",
    "unsubscribe_online",
    "open",
    "close",
    "takeover",
    "release",
    "transfer",
    "colleagues",
    "suggest",
    "message",
    "typing",
    "subscribe_team",
    "note",
    "recent",
    "search",
    "follow_ups",
];

/// Decode a frame from a visitor's widget.
pub fn widget_frame(text: &str, limits: &Limits) -> Result<WidgetFrame, DecodeError> {
    let frame: WidgetFrame = decode(text, limits, WIDGET_TYPES, OPERATOR_TYPES)?;
    match &frame {
        WidgetFrame::Message {
            client_id,
            text,
            attachments,
        } => check_message(None, client_id, text, attachments.as_deref(), limits)?,
        WidgetFrame::Page { url, title } => {
            check_len("url", url, limits::MAX_URL_CHARS)?;
            if let Some(title) = title {
                check_len("title", title, limits::MAX_TITLE_CHARS)?;
            }
        }
        WidgetFrame::FollowUpEmail { email } if !crate::follow_up::plausible_email(email) => {
            return Err(DecodeError::new(
                ErrorCode::InvalidEmail,
                "email is not an address a mail server would take",
            ));
        }
        _ => {}
    }
    Ok(frame)
}

/// Decode a frame from an operator's dashboard.
pub fn operator_frame(text: &str, limits: &Limits) -> Result<OperatorFrame, DecodeError> {
    let frame: OperatorFrame = decode(text, limits, OPERATOR_TYPES, &[])?;
    match &frame {
        OperatorFrame::Message {
            conversation_id,
            client_id,
            text,
            attachments,
        }
        | OperatorFrame::Note {
            conversation_id,
            client_id,
            text,
            attachments,
        } => check_message(
            Some(conversation_id),
            client_id,
            text,
            attachments.as_deref(),
            limits,
        )?,
        OperatorFrame::Search { query } => {
            if crate::visible::is_blank(query) {
                return Err(DecodeError::new(
                    ErrorCode::InvalidFrame,
                    "search query is empty",
                ));
            }
            check_len("query", query, limits::MAX_QUERY_CHARS)?;
        }
        OperatorFrame::Transfer {
            note: Some(note), ..
        } => {
            check_len("note", note, limits::MAX_MESSAGE_CHARS)?;
        }
        OperatorFrame::SubscribeOnline { limit, query, .. } => {
            if *limit == 0 || *limit > limits::MAX_ONLINE_WINDOW {
                return Err(DecodeError::new(
                    ErrorCode::InvalidFrame,
                    format!(
                        "limit must be between 1 and {} rows",
                        limits::MAX_ONLINE_WINDOW
                    ),
                ));
            }
            if let Some(query) = query {
                check_len("query", query, limits::MAX_ONLINE_QUERY_CHARS)?;
            }
        }
        _ => {}
    }
    Ok(frame)
}

/// What a `message` frame written as the widget and the dashboard write it
/// (`{"type":"message",` first) reads as, straight from the JSON. serde reads an internally
/// tagged enum by first buffering every field of the object into an intermediate tree, a copy
/// of every message's text; this reads the same fields directly. Whatever it does not read
/// (other spellings, a second `type`, a missing or mistyped field) goes the enum's way, so the
/// result, or the error, is the enum's in every case (a property test compares them).
trait MessageFastPath: Sized {
    /// `text` starts with [`MESSAGE_PREFIX`] (`decode` checks it once for both frame kinds).
    fn message(text: &str) -> Option<Self>;
}

const MESSAGE_PREFIX: &str = r#"{"type":"message","#;

impl MessageFastPath for WidgetFrame {
    fn message(text: &str) -> Option<Self> {
        #[derive(Deserialize)]
        struct Fields {
            // The tag, already checked by the prefix; a field, so that a second one is a
            // duplicate-field error (and falls back) instead of a silent overwrite.
            #[serde(rename = "type")]
            _tag: serde::de::IgnoredAny,
            client_id: String,
            text: String,
            #[serde(default)]
            attachments: Option<serde::de::IgnoredAny>,
        }
        let f: Fields = serde_json::from_str(text).ok()?;
        if f.attachments.is_some() {
            // Files: the enum's way (the fast path is for the common text-only message).
            return None;
        }
        Some(WidgetFrame::Message {
            client_id: f.client_id,
            text: f.text,
            attachments: None,
        })
    }
}

impl MessageFastPath for OperatorFrame {
    fn message(text: &str) -> Option<Self> {
        #[derive(Deserialize)]
        struct Fields {
            #[serde(rename = "type")]
            _tag: serde::de::IgnoredAny,
            conversation_id: String,
            client_id: String,
            text: String,
            #[serde(default)]
            attachments: Option<serde::de::IgnoredAny>,
        }
        let f: Fields = serde_json::from_str(text).ok()?;
        if f.attachments.is_some() {
            return None;
        }
        Some(OperatorFrame::Message {
            conversation_id: f.conversation_id,
            client_id: f.client_id,
            text: f.text,
            attachments: None,
        })
    }
}

fn decode<T: DeserializeOwned + MessageFastPath>(
    text: &str,
    limits: &Limits,
    own_types: &[&str],
    foreign_types: &[&str],
) -> Result<T, DecodeError> {
    if text.len() > limits.max_frame_bytes {
        return Err(DecodeError::new(
            ErrorCode::FrameTooLarge,
            format!(
                "frame of {} bytes exceeds the limit of {} bytes",
                text.len(),
                limits.max_frame_bytes
            ),
        ));
    }
    if text.starts_with(MESSAGE_PREFIX)
        && let Some(frame) = T::message(text)
    {
        return Ok(frame);
    }
    match serde_json::from_str::<T>(text) {
        Ok(frame) => Ok(frame),
        // The slow path runs only for bad frames: classify why, for a precise error code.
        Err(err) => Err(classify(text, &err, own_types, foreign_types)),
    }
}

fn classify(
    text: &str,
    err: &serde_json::Error,
    own_types: &[&str],
    foreign_types: &[&str],
) -> DecodeError {
    #[derive(Deserialize)]
    struct Tagged {
        #[serde(rename = "type")]
        kind: String,
    }
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => return DecodeError::new(ErrorCode::BadFrame, "frame is not valid JSON"),
    };
    let Ok(Tagged { kind }) = serde_json::from_value::<Tagged>(value) else {
        return DecodeError::new(
            ErrorCode::BadFrame,
            "frame must be a JSON object with a string `type`",
        );
    };
    if own_types.contains(&kind.as_str()) {
        return DecodeError::new(
            ErrorCode::InvalidFrame,
            format!("invalid `{kind}` frame: {err}"),
        );
    }
    if foreign_types.contains(&kind.as_str()) {
        return DecodeError::new(
            ErrorCode::Forbidden,
            format!("`{kind}` frames are not accepted on this endpoint"),
        );
    }
    let mut shown: String = kind.chars().take(40).collect();
    if shown.len() < kind.len() {
        shown.push('…');
    }
    DecodeError::new(
        ErrorCode::UnknownFrameType,
        format!("unknown frame type `{shown}`"),
    )
}

/// A free-text field a client reports, refused whole when over its limit.
fn check_len(field: &str, value: &str, max: usize) -> Result<(), DecodeError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(DecodeError::new(
            ErrorCode::InvalidFrame,
            format!("{field} of {chars} characters exceeds the limit of {max}"),
        ));
    }
    Ok(())
}

fn check_message(
    conversation_id: Option<&str>,
    client_id: &str,
    text: &str,
    attachments: Option<&Vec<String>>,
    limits: &Limits,
) -> Result<(), DecodeError> {
    if client_id.is_empty() || client_id.len() > limits::MAX_CLIENT_ID_BYTES {
        return Err(DecodeError::new(
            ErrorCode::InvalidClientId,
            format!(
                "client_id must be 1 to {} bytes",
                limits::MAX_CLIENT_ID_BYTES
            ),
        ));
    }
    // From here the client_id is valid: the refusal names it.
    let refused = |code, message: String| DecodeError {
        conversation_id: conversation_id.map(str::to_owned),
        client_id: Some(client_id.to_owned()),
        ..DecodeError::new(code, message)
    };
    let files = attachments.map_or(0, Vec::len);
    if files > limits.max_attachments {
        return Err(refused(
            ErrorCode::InvalidAttachment,
            format!(
                "{files} attachments; a message carries at most {}",
                limits.max_attachments
            ),
        ));
    }
    if attachments.is_some_and(|ids| {
        ids.iter().enumerate().any(|(i, id)| {
            id.is_empty() || id.len() > limits::MAX_CLIENT_ID_BYTES || ids[..i].contains(id)
        })
    }) {
        return Err(refused(
            ErrorCode::InvalidAttachment,
            "attachment ids must be distinct, 1 to 64 bytes each".into(),
        ));
    }
    // A message of files alone needs no text.
    if files == 0 && crate::visible::is_blank(text) {
        return Err(refused(
            ErrorCode::EmptyMessage,
            "message text is empty (nothing in it is visible)".into(),
        ));
    }
    let chars = text.chars().count();
    if chars > limits.max_message_chars {
        return Err(refused(
            ErrorCode::MessageTooLong,
            format!(
                "message of {chars} characters exceeds the limit of {}",
                limits.max_message_chars
            ),
        ));
    }
    Ok(())
}
