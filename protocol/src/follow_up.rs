//! When nobody is available: the away text the widget shows, and the follow-up a conversation
//! waits for once a request for a human went unanswered (outside working hours, or nobody took
//! over in time).
//!
//! A conversation is *waiting for follow-up* from then until an operator writes in it. If the
//! visitor left an email address, an operator's messages written while the visitor is away are
//! also sent there, with a link that reopens the conversation in the widget.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{ConversationSummary, Millis};

/// The longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// What the widget shows when nobody is available, from the workspace's settings (sent in
/// `welcome`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AwayText {
    /// Shown when a human is asked for outside working hours, or nobody answered in time.
    pub message: String,
    /// Shown under the email field: what the address will be used for.
    pub email_consent: String,
}

/// Why a conversation waits for follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpReason {
    /// A human was asked for outside the workspace's working hours.
    OutsideHours,
    /// Nobody took over within the hub's wait (`--human-wait-ms`).
    Unanswered,
}

/// Where the email of an operator's answer stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EmailDelivery {
    /// To be sent at `at` (messages written shortly after one another go in one email).
    Scheduled {
        #[ts(type = "number")]
        at: Millis,
    },
    /// Accepted by the mail server at `at`.
    Sent {
        #[ts(type = "number")]
        at: Millis,
    },
    /// The last attempt failed for a reason that may pass (the server was down, or answered
    /// "try later"); the next is at `next_at`.
    Retrying {
        attempts: u32,
        #[ts(type = "number")]
        next_at: Millis,
        error: String,
    },
    /// Given up: the server refused the address or the message, or every attempt failed.
    Failed { attempts: u32, error: String },
}

/// A conversation's follow-up, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FollowUp {
    pub reason: FollowUpReason,
    /// When the request for a human went unanswered.
    #[ts(type = "number")]
    pub since: Millis,
    /// On the follow-up list: no operator has written in the conversation since.
    pub waiting: bool,
    /// The address the visitor left, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub email: Option<String>,
    /// The latest email of an operator's answer, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub delivery: Option<EmailDelivery>,
}

/// A row of the follow-up list: the conversation and its follow-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FollowUpRow {
    pub conversation: ConversationSummary,
    pub follow_up: FollowUp,
}

/// Whether `email` looks like an address a mail server would take: one `@`, a dot-free local
/// part may not be empty, a domain with a dot, no spaces or control characters, at most
/// [`MAX_EMAIL_CHARS`]. The hub checks it again with its mail library before sending.
pub fn plausible_email(email: &str) -> bool {
    if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let clean = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    clean(local)
        && clean(domain)
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !local.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_emails() {
        for ok in ["a@b.co", "first.last+tag@mail.example.org", "ü@exämple.de"] {
            assert!(plausible_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.co",
            "a@.co",
            "a@b.co.",
            "a b@c.de",
            "a@b@c.de",
            "a@b.co\n",
            &format!("{}@b.co", "x".repeat(260)),
        ] {
            assert!(!plausible_email(bad), "{bad:?}");
        }
    }
}
