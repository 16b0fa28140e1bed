//! The operator's desk: what the store keeps beside a conversation's events for the people
//! answering it (internal notes, the visitor's context, saved replies) and how conversations
//! are found again after they leave the Online list (recent list, search). The rules shared by
//! every store are here; each store implements them in its own `desk.rs`.
//!
//! Search is a per-workspace inverted index of words, written once per conversation when it
//! leaves the Online list (never per message: the message path stays one script). A word is a
//! run of letters and digits, lowercased, of 2 to [`MAX_WORD_CHARS`] characters; a query is cut
//! into words by the same rule, so nothing a visitor or an operator types is ever a pattern
//! (regex, Lua or glob) anywhere.

use protocol::{Attachment, ConversationEvent, EventKind, Millis, OperatorRef};
use serde::{Deserialize, Serialize};

/// An internal note to store.
#[derive(Debug, Clone)]
pub struct NewNote {
    pub author: OperatorRef,
    pub text: String,
    pub client_id: String,
    pub attachments: Vec<Attachment>,
}

/// Who uploaded a file: only they may attach it to a message (an operator's file may go on any
/// operator's message or note: the team shares its files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Uploader {
    Visitor,
    Operator { id: String },
}

/// An uploaded file as the store records it beside its conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub attachment: Attachment,
    pub by: Uploader,
}

impl NewNote {
    /// The idempotency key of a note: per author, like a message's.
    pub fn dedupe_key(&self) -> String {
        format!("{}:{}", self.author.id, self.client_id)
    }
}

/// Where a page of the recent list ends: its last conversation's activity time and id (the
/// order is activity descending, then id descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentCursor {
    pub at: Millis,
    pub id: String,
}

impl RecentCursor {
    /// `"{at}:{id}"`, what `recent` frames carry.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.at, self.id)
    }

    pub fn decode(s: &str) -> Option<RecentCursor> {
        let (at, id) = s.split_once(':')?;
        let at = at.parse().ok()?;
        if id.is_empty() || id.len() > 64 {
            return None;
        }
        Some(RecentCursor { at, id: id.into() })
    }

    /// Whether a conversation at (`at`, `id`) comes after this cursor in the recent order.
    pub fn precedes(&self, at: Millis, id: &str) -> bool {
        at < self.at || (at == self.at && id < self.id.as_str())
    }
}

/// The order of the recent list and of search results: most recent activity first, then id
/// descending (what [`RecentCursor::precedes`] pages through, and Redis's reverse order of
/// equal scores).
pub fn sort_newest_first(metas: &mut [crate::store::ConversationMeta]) {
    metas.sort_by(|a, b| {
        b.last_activity_at
            .cmp(&a.last_activity_at)
            .then_with(|| b.id.cmp(&a.id))
    });
}

/// Longest word indexed (longer runs are cut there: a query word is cut the same way).
pub const MAX_WORD_CHARS: usize = 32;

/// Most distinct words indexed per conversation (a long one is found by its first ones).
pub const MAX_WORDS_PER_CONVERSATION: usize = 2000;

/// The words of `text`, lowercased, in order, repeats included.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().nth(1).is_some())
        .map(|w| {
            w.chars()
                .take(MAX_WORD_CHARS)
                .flat_map(char::to_lowercase)
                .collect()
        })
}

/// The distinct words a conversation is found by: its messages', its visitor label's and its
/// id. (Not its notes': search finds what was said in the conversation.)
pub fn index_words<'e>(
    id: &str,
    label: &str,
    events: impl IntoIterator<Item = &'e ConversationEvent>,
) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut add = |w: String| {
        if out.len() < MAX_WORDS_PER_CONVERSATION && seen.insert(w.clone()) {
            out.push(w);
        }
    };
    add(id.to_lowercase());
    words(label).for_each(&mut add);
    for e in events {
        if let EventKind::Message { text, .. } = &e.kind {
            words(text).for_each(&mut add);
        }
    }
    out
}

/// The words of a query, distinct; empty when it has none (only punctuation, single letters).
pub fn query_words(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let whole = query.trim().to_lowercase();
    // A conversation id (`cv_…`) is one word of the index, searched as it is.
    if whole.starts_with("cv_") && !whole.contains(char::is_whitespace) {
        return vec![whole];
    }
    for w in words(query) {
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Author;

    #[test]
    fn words_are_lowercased_runs_of_letters_and_digits() {
        let got: Vec<String> = words("Où est mon colis #1042? (.*) %[ a Straße").collect();
        assert_eq!(got, ["où", "est", "mon", "colis", "1042", "straße"]);
        assert_eq!(query_words("(.*) %[ ^$"), Vec::<String>::new());
        assert_eq!(query_words("Refund REFUND parcel"), ["refund", "parcel"]);
        assert_eq!(query_words(" cv_AbC12 "), ["cv_abc12"]);
        let long = "x".repeat(40);
        assert_eq!(query_words(&long), ["x".repeat(MAX_WORD_CHARS)]);
    }

    #[test]
    fn a_conversation_is_indexed_by_its_messages_label_and_id() {
        let msg = |text: &str| ConversationEvent {
            seq: 1,
            at: 1,
            kind: EventKind::Message {
                author: Author::Visitor,
                text: text.into(),
                client_id: None,
                attachments: Vec::new(),
            },
        };
        let events = [msg("My parcel is late"), msg("parcel 1042")];
        let got = index_words("cv_Q1", "Visitor 7F3A", &events);
        assert_eq!(
            got,
            [
                "cv_q1", "visitor", "7f3a", "my", "parcel", "is", "late", "1042"
            ]
        );
    }

    #[test]
    fn cursors_round_trip_and_order() {
        let c = RecentCursor {
            at: 10,
            id: "cv_b".into(),
        };
        assert_eq!(RecentCursor::decode(&c.encode()), Some(c.clone()));
        assert!(c.precedes(9, "cv_z") && c.precedes(10, "cv_a"));
        assert!(!c.precedes(10, "cv_b") && !c.precedes(11, "cv_a"));
        for bad in ["", "x:cv", "10:", "10"] {
            assert_eq!(RecentCursor::decode(bad), None, "{bad}");
        }
    }
}
