//! Files attached to messages: what a message carries, and the bodies of the files HTTP API
//! (docs/files.md).
//!
//! A file is uploaded over HTTP first (`POST /api/files`), vetted and stored by the hub, which
//! answers its [`Attachment`]; the message that carries it names it by id and is an ordinary
//! message from then on. Files are fetched through short-lived signed links
//! (`POST /api/files/links`), never by a lasting public URL.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{ConversationId, Millis};

/// An attachment's id: `f_` and random characters, unique within its conversation.
pub type AttachmentId = String;

/// A stored file, as a message carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Attachment {
    pub id: AttachmentId,
    /// The file's name as uploaded, made safe to show (at most
    /// [`crate::limits::MAX_FILE_NAME_CHARS`], no path, no control characters).
    pub name: String,
    pub kind: AttachmentKind,
    /// What it is served as: `image/png`, `image/jpeg` or `application/pdf`.
    pub content_type: String,
    /// Bytes of the stored file (an image as re-encoded, not as uploaded).
    #[ts(type = "number")]
    pub size: u64,
    /// Images: their size in pixels (a thumbnail exists too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub height: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// PNG, JPEG, WebP or GIF (its first frame) when uploaded; stored re-encoded, without
    /// metadata, as PNG or JPEG, with a thumbnail.
    Image,
    /// A PDF, checked by its signature; served only as a download.
    Pdf,
}

/// `POST /api/files/links`: signed links for files of one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FileLinksRequest {
    pub conversation_id: ConversationId,
    pub ids: Vec<AttachmentId>,
}

/// The answer: one link per file found (files of other conversations, or unknown ids, are
/// simply absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FileLinks {
    pub links: Vec<FileLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FileLink {
    pub id: AttachmentId,
    /// The file (a path on the hub, with its signature).
    pub url: String,
    /// Images: a small version for the conversation view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub thumbnail_url: Option<String>,
    /// When the links stop working (Unix ms): ask again after.
    #[ts(type = "number")]
    pub expires_at: Millis,
}

/// A file name made safe to show and to put in a `Content-Disposition` header: the last path
/// segment, control and bidirectional-control characters dropped, cut to
/// [`crate::limits::MAX_FILE_NAME_CHARS`]; `fallback` when nothing is left.
pub fn safe_file_name(raw: &str, fallback: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !crate::visible::is_bidi_control(*c) && *c != '"')
        .take(crate::limits::MAX_FILE_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if crate::visible::is_blank(&cleaned) {
        fallback.to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_controls_and_length() {
        assert_eq!(safe_file_name("C:\\Users\\x\\shot.png", "file"), "shot.png");
        assert_eq!(safe_file_name("../../etc/passwd", "file"), "passwd");
        assert_eq!(safe_file_name("a\u{202e}gnp.exe", "file"), "agnp.exe");
        assert_eq!(safe_file_name("in\"voice\r\n.pdf", "file"), "invoice.pdf");
        assert_eq!(safe_file_name("  ", "image.png"), "image.png");
        assert_eq!(safe_file_name(".hidden", "f"), "hidden");
        let long = "x".repeat(500);
        assert_eq!(
            safe_file_name(&long, "f").chars().count(),
            crate::limits::MAX_FILE_NAME_CHARS
        );
    }
}
