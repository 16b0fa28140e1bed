//! A conversation's history as the chat messages an LLM reads (pure).
//!
//! Visitors are `user`, the AI is `assistant`. A human teammate's turns are `assistant` turns
//! too (they spoke for the business), labelled with who wrote them, and the takeover and the
//! hand-back are `system` notes. The hand-back note is the marker that stops the well-known
//! loop: the model is told the human session ended and that it should carry on, not ask for a
//! human again unless the visitor asks.

use protocol::{Author, ConversationEvent, EventKind, HumanRequestedBy};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    fn new(role: &str, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// What the model is told when a teammate hands the conversation back.
pub const HAND_BACK_MARKER: &str = "The human session has ended: the teammate handed the conversation back to you. Continue helping the visitor from here, taking what the teammate said into account. Do not ask for a human again unless the visitor asks for one.";

/// What the model is told when a teammate takes over.
pub fn takeover_note(name: &str) -> String {
    format!(
        "A human teammate, {name}, took over the conversation. The messages marked as theirs were written by them, not by you."
    )
}

/// The messages for a backend: the system prompt, then the history.
pub fn chat_messages(system_prompt: &str, transcript: &[ConversationEvent]) -> Vec<ChatMessage> {
    let mut out = Vec::with_capacity(transcript.len() + 1);
    if !system_prompt.is_empty() {
        out.push(ChatMessage::new("system", system_prompt));
    }
    for e in transcript {
        match &e.kind {
            EventKind::Message {
                author,
                text,
                attachments,
                ..
            } => {
                // A model reads files as a note of what was attached (no backend receives the
                // bytes): enough to say "I see you sent a screenshot".
                let with_files;
                let text = if attachments.is_empty() {
                    text.as_str()
                } else {
                    with_files = format!("{text}{}", files_note(attachments))
                        .trim()
                        .to_owned();
                    with_files.as_str()
                };
                out.push(match author {
                    Author::Visitor => ChatMessage::new("user", text),
                    Author::Ai => ChatMessage::new("assistant", text),
                    Author::Operator(op) => ChatMessage::new(
                        "assistant",
                        format!("[Human teammate {}]: {text}", op.name),
                    ),
                })
            }
            EventKind::OperatorJoined { operator, .. } => {
                out.push(ChatMessage::new("system", takeover_note(&operator.name)));
            }
            EventKind::OperatorLeft { .. } => {
                out.push(ChatMessage::new("system", HAND_BACK_MARKER));
            }
            // One teammate handed over to another: the model sees the new one join.
            EventKind::OperatorTransferred { to, .. } => {
                out.push(ChatMessage::new("system", takeover_note(&to.name)));
            }
            EventKind::HumanRequested { by } => out.push(ChatMessage::new(
                "system",
                match by {
                    HumanRequestedBy::Visitor => {
                        "The visitor asked for a human; the team was alerted."
                    }
                    HumanRequestedBy::Assistant => "You asked for a human; the team was alerted.",
                },
            )),
            EventKind::HumanRequestExpired { .. } => out.push(ChatMessage::new(
                "system",
                "No teammate was available. Keep helping the visitor yourself.",
            )),
            EventKind::OutsideHours { .. } => out.push(ChatMessage::new(
                "system",
                "The team is away (outside working hours). Keep helping the visitor yourself.",
            )),
            // The address is the team's business: a model is only told there is one.
            EventKind::FollowUpEmail { .. } => out.push(ChatMessage::new(
                "system",
                "The visitor left an email address; the team will answer there.",
            )),
        }
    }
    out
}

/// `[Attached: shot.png (image), label.pdf (PDF)]`, after a message's text.
pub fn files_note(attachments: &[protocol::Attachment]) -> String {
    let names: Vec<String> = attachments
        .iter()
        .map(|a| {
            let kind = match a.kind {
                protocol::AttachmentKind::Image => "image",
                protocol::AttachmentKind::Pdf => "PDF",
            };
            format!("{} ({kind})", a.name)
        })
        .collect();
    format!(" [Attached: {}]", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{OperatorRef, ReleaseReason};

    use crate::assistant::samples::{ev, msg};

    #[test]
    fn a_hand_back_carries_the_operator_turns_and_the_end_marker() {
        let martin = OperatorRef {
            id: "martin".into(),
            name: "Martin Keller".into(),
            display_name: None,
            avatar_url: None,
        };
        let t = [
            msg(1, Author::Visitor, "Where is my order?"),
            msg(2, Author::Ai, "Let me get a human."),
            ev(
                3,
                EventKind::HumanRequested {
                    by: HumanRequestedBy::Assistant,
                },
            ),
            ev(
                4,
                EventKind::OperatorJoined {
                    operator: martin.clone(),
                    epoch: 1,
                },
            ),
            msg(5, Author::Operator(martin.clone()), "It ships tomorrow."),
            ev(
                6,
                EventKind::OperatorLeft {
                    operator: martin,
                    epoch: 1,
                    reason: ReleaseReason::Ended,
                    by: None,
                },
            ),
            msg(7, Author::Visitor, "Thanks! And returns?"),
        ];
        let m = chat_messages("Be nice.", &t);
        let roles: Vec<&str> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(
            roles,
            [
                "system",
                "user",
                "assistant",
                "system",
                "system",
                "assistant",
                "system",
                "user"
            ]
        );
        assert_eq!(
            m[5].content,
            "[Human teammate Martin Keller]: It ships tomorrow."
        );
        assert_eq!(m[6].content, HAND_BACK_MARKER);
        assert_eq!(m[7].content, "Thanks! And returns?");
    }

    #[test]
    fn no_system_prompt_no_system_message() {
        let m = chat_messages("", &[msg(1, Author::Visitor, "hi")]);
        assert_eq!(m, [ChatMessage::new("user", "hi")]);
    }
}
