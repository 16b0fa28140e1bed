//! The operator profile HTTP API: bodies, and the table of problem codes its errors carry.
//!
//! Errors are RFC 9457 problem details (`application/problem+json`): [`Problem`] with a
//! machine-readable [`ProblemCode`] whose HTTP status is fixed by this table. The dashboard gets
//! the TypeScript copy (`web-ui/src/protocol/`), so it never parses the human text.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Millis, OperatorId, WorkspaceId};

/// `GET /api/profile` and the answer to `PUT /api/profile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProfileView {
    pub operator_id: OperatorId,
    pub workspace_id: WorkspaceId,
    /// The name in the operator's token.
    pub account_name: String,
    /// Whether the operator has saved a profile. Until then visitors see "Human".
    pub saved: bool,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    /// The name visitors see at the next takeover.
    pub visitor_name: String,
    #[ts(type = "number | null")]
    pub updated_at: Option<Millis>,
}

/// Body of `PUT /api/profile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// Trimmed; empty or absent means "use my account name".
    #[serde(default)]
    #[ts(optional)]
    pub display_name: Option<String>,
    /// A URL returned by `POST /api/profile/avatar` for this workspace; `null`: no avatar.
    #[serde(default)]
    #[ts(optional)]
    pub avatar_url: Option<String>,
}

/// Answer to `POST /api/profile/avatar` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AvatarUploaded {
    pub avatar_url: String,
    pub width: u32,
    pub height: u32,
}

/// An RFC 9457 problem details body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Problem {
    /// `urn:take-control:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What exactly was wrong with this request, for people.
    pub detail: String,
    pub code: ProblemCode,
}

impl Problem {
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("urn:take-control:problem:{}", code.as_str()),
            title: code.title().to_owned(),
            status: code.status(),
            detail: detail.into(),
            code,
        }
    }
}

/// Machine-readable reason of a refused profile or avatar request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// No operator token, or an invalid one.
    Unauthorized,
    /// The operator token has expired.
    TokenExpired,
    /// The token's workspace is not served by this hub.
    WorkspaceNotFound,
    /// The request body is not the JSON this endpoint takes.
    InvalidBody,
    /// The display name is too long or contains control characters.
    InvalidDisplayName,
    /// The upload is not an image at all.
    NotAnImage,
    /// An image, but not PNG, JPEG or WebP.
    UnsupportedImageFormat,
    /// Width and height differ.
    ImageNotSquare,
    /// Smaller than the minimum side.
    ImageTooSmall,
    /// Larger than the maximum side (decompression-bomb guard).
    ImageTooLarge,
    /// The upload exceeds the byte limit.
    PayloadTooLarge,
    /// The image's header is fine but its data is truncated or corrupt.
    ImageCorrupt,
    /// The avatar URL was not uploaded to this workspace.
    UnknownAvatar,
    /// Too many requests; see `Retry-After`.
    RateLimited,
    /// The store is unavailable; retry.
    Unavailable,
    /// No such resource.
    NotFound,
    /// Only owners and editors may do this (manage saved replies).
    RoleRequired,
    /// A saved reply's title, shortcut or text is empty, too long or malformed.
    InvalidCannedReply,
    /// Another saved reply of the workspace has this shortcut.
    ShortcutTaken,
    /// The workspace has `limits::MAX_CANNED_REPLIES` saved replies already.
    TooManyReplies,
    /// The request's body did not arrive within the body read time-out.
    RequestTimeout,
    /// An attachment that is neither an accepted image nor a PDF (SVG, HTML, …).
    UnsupportedFileType,
    /// A PDF cut short (no end marker).
    FileCorrupt,
    /// The conversation holds `--files-per-conversation` files already.
    TooManyFiles,
}

impl ProblemCode {
    /// Every code, in table order.
    pub const ALL: &'static [ProblemCode] = &[
        Self::Unauthorized,
        Self::TokenExpired,
        Self::WorkspaceNotFound,
        Self::InvalidBody,
        Self::InvalidDisplayName,
        Self::NotAnImage,
        Self::UnsupportedImageFormat,
        Self::ImageNotSquare,
        Self::ImageTooSmall,
        Self::ImageTooLarge,
        Self::PayloadTooLarge,
        Self::ImageCorrupt,
        Self::UnknownAvatar,
        Self::RateLimited,
        Self::Unavailable,
        Self::NotFound,
        Self::RoleRequired,
        Self::InvalidCannedReply,
        Self::ShortcutTaken,
        Self::TooManyReplies,
        Self::RequestTimeout,
        Self::UnsupportedFileType,
        Self::FileCorrupt,
        Self::TooManyFiles,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::TokenExpired => "token_expired",
            Self::WorkspaceNotFound => "workspace_not_found",
            Self::InvalidBody => "invalid_body",
            Self::InvalidDisplayName => "invalid_display_name",
            Self::NotAnImage => "not_an_image",
            Self::UnsupportedImageFormat => "unsupported_image_format",
            Self::ImageNotSquare => "image_not_square",
            Self::ImageTooSmall => "image_too_small",
            Self::ImageTooLarge => "image_too_large",
            Self::PayloadTooLarge => "payload_too_large",
            Self::ImageCorrupt => "image_corrupt",
            Self::UnknownAvatar => "unknown_avatar",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::NotFound => "not_found",
            Self::RoleRequired => "role_required",
            Self::InvalidCannedReply => "invalid_canned_reply",
            Self::ShortcutTaken => "shortcut_taken",
            Self::TooManyReplies => "too_many_replies",
            Self::RequestTimeout => "request_timeout",
            Self::UnsupportedFileType => "unsupported_file_type",
            Self::FileCorrupt => "file_corrupt",
            Self::TooManyFiles => "too_many_files",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            Self::Unauthorized | Self::TokenExpired => 401,
            Self::WorkspaceNotFound | Self::RoleRequired => 403,
            Self::NotFound => 404,
            Self::RequestTimeout => 408,
            Self::ShortcutTaken | Self::TooManyReplies | Self::TooManyFiles => 409,
            Self::PayloadTooLarge => 413,
            Self::NotAnImage | Self::UnsupportedImageFormat | Self::UnsupportedFileType => 415,
            Self::InvalidBody
            | Self::InvalidDisplayName
            | Self::ImageNotSquare
            | Self::ImageTooSmall
            | Self::ImageTooLarge
            | Self::ImageCorrupt
            | Self::FileCorrupt
            | Self::UnknownAvatar
            | Self::InvalidCannedReply => 422,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
        }
    }

    /// The problem type's short summary (the same for every occurrence).
    pub fn title(self) -> &'static str {
        match self {
            Self::Unauthorized => "Sign in again",
            Self::TokenExpired => "Your session has expired",
            Self::WorkspaceNotFound => "Unknown workspace",
            Self::InvalidBody => "Malformed request",
            Self::InvalidDisplayName => "Display name not accepted",
            Self::NotAnImage => "Not an image",
            Self::UnsupportedImageFormat => "Unsupported image format",
            Self::ImageNotSquare => "Image is not square",
            Self::ImageTooSmall => "Image is too small",
            Self::ImageTooLarge => "Image is too large",
            Self::PayloadTooLarge => "File is too large",
            Self::ImageCorrupt => "Image is damaged",
            Self::UnknownAvatar => "Unknown avatar",
            Self::RateLimited => "Too many requests",
            Self::Unavailable => "Temporarily unavailable",
            Self::NotFound => "Not found",
            Self::RoleRequired => "Owners and editors only",
            Self::InvalidCannedReply => "Saved reply not accepted",
            Self::ShortcutTaken => "Shortcut already in use",
            Self::TooManyReplies => "Too many saved replies",
            Self::RequestTimeout => "Request took too long",
            Self::UnsupportedFileType => "File type not accepted",
            Self::FileCorrupt => "File is damaged",
            Self::TooManyFiles => "Too many files in this conversation",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
