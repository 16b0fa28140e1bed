//! Saved ("canned") replies: the HTTP API's bodies and the rules a reply must meet.
//!
//! Owners and editors manage a workspace's replies (`/api/canned-replies`); every operator reads
//! them, and the composer offers them after `/`. Choosing one inserts its text for editing: a
//! saved reply is never sent by itself. Errors are [`crate::profile::Problem`]s.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::limits::{MAX_CANNED_TITLE_CHARS, MAX_MESSAGE_CHARS, MAX_SHORTCUT_CHARS};
use crate::{Millis, OperatorId};

/// A saved reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CannedReply {
    pub id: String,
    pub title: String,
    /// What follows `/` in the composer: lowercase letters, digits, `-` and `_`; unique in the
    /// workspace.
    pub shortcut: String,
    pub text: String,
    #[ts(type = "number")]
    pub updated_at: Millis,
    pub updated_by: OperatorId,
}

/// Body of `POST /api/canned-replies` and `PUT /api/canned-replies/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CannedReplyInput {
    pub title: String,
    pub shortcut: String,
    pub text: String,
}

/// `GET /api/canned-replies`: every reply of the workspace, by shortcut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CannedReplyList {
    pub replies: Vec<CannedReply>,
}

impl CannedReplyInput {
    /// The input with its title and text trimmed, or which field is wrong and why.
    pub fn validated(self) -> Result<CannedReplyInput, String> {
        let title = crate::visible::trim_blank(&self.title).to_owned();
        let text = crate::visible::trim_blank(&self.text).to_owned();
        let shortcut = self.shortcut.trim().to_owned();
        if title.is_empty() {
            return Err("title: must show something".into());
        }
        if title.chars().count() > MAX_CANNED_TITLE_CHARS {
            return Err(format!(
                "title: at most {MAX_CANNED_TITLE_CHARS} characters"
            ));
        }
        if shortcut.is_empty() || shortcut.chars().count() > MAX_SHORTCUT_CHARS {
            return Err(format!("shortcut: 1 to {MAX_SHORTCUT_CHARS} characters"));
        }
        if !shortcut
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err("shortcut: only lowercase letters, digits, '-' and '_'".into());
        }
        if text.is_empty() {
            return Err("text: must show something".into());
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(format!(
                "text: at most {MAX_MESSAGE_CHARS} characters, like a message"
            ));
        }
        Ok(CannedReplyInput {
            title,
            shortcut,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(title: &str, shortcut: &str, text: &str) -> CannedReplyInput {
        CannedReplyInput {
            title: title.into(),
            shortcut: shortcut.into(),
            text: text.into(),
        }
    }

    #[test]
    fn a_reply_needs_a_title_a_plain_shortcut_and_a_text_of_message_size() {
        let ok = input(" Refunds ", "refund", " We refund within 14 days. ").validated();
        assert_eq!(
            ok,
            Ok(input("Refunds", "refund", "We refund within 14 days."))
        );
        for (bad, field) in [
            (input("\u{200B}", "a", "t"), "title"),
            (input(&"t".repeat(81), "a", "t"), "title"),
            (input("t", "", "t"), "shortcut"),
            (input("t", "Refund", "t"), "shortcut"),
            (input("t", "a b", "t"), "shortcut"),
            (input("t", "(.*)", "t"), "shortcut"),
            (input("t", "%[", "t"), "shortcut"),
            (input("t", &"a".repeat(33), "t"), "shortcut"),
            (input("t", "a", "   "), "text"),
            (input("t", "a", &"x".repeat(MAX_MESSAGE_CHARS + 1)), "text"),
        ] {
            let err = bad.clone().validated().expect_err(&format!("{bad:?}"));
            assert!(err.starts_with(field), "{bad:?}: {err}");
        }
    }
}
