//! The brief an operator reads at a request for a human or a takeover, and the extractive one
//! the embedded assistant makes without a model (pure: a function of the transcript).
//!
//! The brief covers the stretch the AI ran the conversation: the events after the last time a
//! teammate handed it back (or all of them).

use protocol::{Author, Brief, BriefSource, ConversationEvent, EventKind, HumanRequestedBy};

/// What a backend is given to make a brief.
#[derive(Debug)]
pub struct BriefRequest<'a> {
    pub workspace_id: &'a str,
    pub conversation_id: &'a str,
    /// The whole history, oldest first.
    pub transcript: &'a [ConversationEvent],
    /// The visitor's language as the widget reported it (BCP 47), when it did.
    pub language: Option<&'a str>,
}

/// How many of the visitor's (and of the AI's) latest messages the extractive brief quotes.
const QUOTED: usize = 3;

/// The events of the stretch the AI ran: after the last hand-back.
pub fn stretch(transcript: &[ConversationEvent]) -> &[ConversationEvent] {
    let start = transcript
        .iter()
        .rposition(|e| matches!(e.kind, EventKind::OperatorLeft { .. }))
        .map_or(0, |i| i + 1);
    &transcript[start..]
}

/// The extractive brief: the visitor's latest messages, the AI's latest answers, the request
/// for a human and what it followed, the language the widget reported.
pub fn extract(req: &BriefRequest<'_>) -> Brief {
    let events = stretch(req.transcript);
    let said_by = |who: fn(&Author) -> bool| -> Vec<&str> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Message { author, text, .. } if who(author) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    };
    let visitor = said_by(|a| matches!(a, Author::Visitor));
    let ai = said_by(|a| matches!(a, Author::Ai));
    let latest = |v: &[&str]| v[v.len().saturating_sub(QUOTED)..].join(" / ");
    let wants = if visitor.is_empty() {
        "The visitor has not written yet.".to_owned()
    } else {
        latest(&visitor)
    };
    let answered = if ai.is_empty() {
        "The AI has not answered yet.".to_owned()
    } else {
        latest(&ai)
    };
    let why_human = events.iter().enumerate().rev().find_map(|(i, e)| {
        let EventKind::HumanRequested { by } = e.kind else {
            return None;
        };
        let before = events[..i].iter().rev().find_map(|e| match &e.kind {
            EventKind::Message {
                author: Author::Visitor,
                text,
                ..
            } => Some(text.as_str()),
            _ => None,
        });
        Some(match (by, before) {
            (HumanRequestedBy::Visitor, _) => "The visitor asked for a person.".to_owned(),
            (HumanRequestedBy::Assistant, Some(q)) => {
                format!("The assistant could not answer: \u{201c}{q}\u{201d}")
            }
            (HumanRequestedBy::Assistant, None) => "The assistant asked for a person.".to_owned(),
        })
    });
    Brief {
        wants,
        answered,
        why_human,
        language: req.language.map(str::to_owned),
        made_by: BriefSource::Knowledge,
    }
    .bounded()
}

/// A transcript as plain lines for a model to summarise: who said what, and the requests for
/// a human and changes of hands.
pub fn as_text(transcript: &[ConversationEvent]) -> String {
    let mut out = String::new();
    for e in stretch(transcript) {
        let line = match &e.kind {
            EventKind::Message { author, text, .. } => match author {
                Author::Visitor => format!("Visitor: {text}"),
                Author::Ai => format!("AI assistant: {text}"),
                Author::Operator(op) => format!("Teammate {}: {text}", op.name),
            },
            EventKind::HumanRequested {
                by: HumanRequestedBy::Visitor,
            } => "[The visitor asked for a human.]".to_owned(),
            EventKind::HumanRequested {
                by: HumanRequestedBy::Assistant,
            } => "[The AI asked for a human.]".to_owned(),
            EventKind::HumanRequestExpired { .. } => "[Nobody came in time.]".to_owned(),
            EventKind::OutsideHours { .. } => {
                "[A human was asked for outside working hours.]".to_owned()
            }
            EventKind::FollowUpEmail { .. } => {
                "[The visitor left an email address for an answer.]".to_owned()
            }
            EventKind::OperatorJoined { operator, .. } => {
                format!("[Teammate {} joined.]", operator.name)
            }
            EventKind::OperatorTransferred { to, .. } => {
                format!("[Teammate {} took over from a colleague.]", to.name)
            }
            EventKind::OperatorLeft { .. } => continue,
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{OperatorRef, ReleaseReason};

    use crate::assistant::samples::{ev, msg};

    fn req(t: &[ConversationEvent]) -> BriefRequest<'_> {
        BriefRequest {
            workspace_id: "ws",
            conversation_id: "c",
            transcript: t,
            language: Some("de-DE"),
        }
    }

    #[test]
    fn the_extractive_brief_quotes_the_stretch_since_the_last_hand_back() {
        let martin = OperatorRef {
            id: "m".into(),
            name: "Martin".into(),
            display_name: None,
            avatar_url: None,
        };
        let t = [
            msg(1, Author::Visitor, "Old question"),
            ev(
                2,
                EventKind::OperatorLeft {
                    operator: martin,
                    epoch: 2,
                    reason: ReleaseReason::Ended,
                    by: None,
                },
            ),
            msg(3, Author::Visitor, "My boots leak"),
            msg(4, Author::Ai, "Sorry to hear that."),
            msg(5, Author::Visitor, "Quantum flux?"),
            ev(
                6,
                EventKind::HumanRequested {
                    by: HumanRequestedBy::Assistant,
                },
            ),
        ];
        let b = extract(&req(&t));
        assert_eq!(b.wants, "My boots leak / Quantum flux?");
        assert_eq!(b.answered, "Sorry to hear that.");
        assert_eq!(
            b.why_human.as_deref(),
            Some("The assistant could not answer: \u{201c}Quantum flux?\u{201d}")
        );
        assert_eq!(b.language.as_deref(), Some("de-DE"));
        assert_eq!(b.made_by, BriefSource::Knowledge);
        assert!(!as_text(&t).contains("Old question"));
    }

    #[test]
    fn a_takeover_without_a_request_has_no_reason_and_parts_are_bounded() {
        let long = "x".repeat(5000);
        let t = [msg(1, Author::Visitor, &long)];
        let b = extract(&req(&t));
        assert_eq!(b.why_human, None);
        assert_eq!(b.answered, "The AI has not answered yet.");
        assert_eq!(
            b.wants.chars().count(),
            protocol::limits::MAX_BRIEF_PART_CHARS + 1
        );
        let none = extract(&req(&[]));
        assert_eq!(none.wants, "The visitor has not written yet.");
    }
}
