//! The embedded assistant: answers from a small knowledge file of questions and answers.
//!
//! Matching is deliberately simple (word overlap with each entry's question and keywords); it is
//! a stand-in that makes the product work out of the box, not a language model. When nothing
//! matches, or the visitor asks for a person, it says it will get a human and flags the
//! conversation.

use std::time::Duration;

use async_trait::async_trait;
use protocol::{Author, ConversationEvent, EventKind};
use serde::Deserialize;

use super::{Assistant, AssistantError, Reply, ReplyRequest};

/// One entry of a knowledge file.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub question: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub answer: String,
}

/// The knowledge file: a JSON array of entries.
pub const DEMO_KNOWLEDGE: &str = include_str!("../../knowledge/demo.json");

pub const HANDOFF_TEXT: &str = "I'm not sure about that one. I'm getting a human teammate to help you; they'll join this chat shortly.";
pub const ASKED_FOR_HUMAN_TEXT: &str =
    "Of course. I've asked a human teammate to join this chat; they'll be with you shortly.";
pub const AFTER_HANDBACK_TEXT: &str = "I'm not sure about that one. Ask me something else, or say \"human\" and I'll bring a teammate back.";
pub const GREETING_TEXT: &str = "Hello! I'm the assistant. How can I help you today?";

#[derive(Debug)]
pub struct KnowledgeAssistant {
    entries: Vec<(Vec<String>, String)>,
    delay: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid knowledge file: {0}")]
pub struct KnowledgeError(String);

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 2)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

const STOP_WORDS: &[&str] = &[
    "the", "and", "you", "your", "are", "can", "how", "what", "does", "for", "with", "have",
    "this", "that", "there", "where", "when", "which", "who", "why", "from", "about", "please",
    "hello", "thanks", "thank", "want", "would", "could", "need", "help",
];

const HUMAN_WORDS: &[&str] = &[
    "human",
    "person",
    "agent",
    "operator",
    "someone",
    "representative",
    "people",
];

impl KnowledgeAssistant {
    pub fn from_json(json: &str, delay: Duration) -> Result<Self, KnowledgeError> {
        let entries: Vec<Entry> =
            serde_json::from_str(json).map_err(|e| KnowledgeError(e.to_string()))?;
        Ok(Self {
            entries: entries
                .into_iter()
                .map(|e| {
                    let mut w = words(&e.question);
                    w.extend(e.keywords.iter().flat_map(|k| words(k)));
                    (w, e.answer)
                })
                .collect(),
            delay,
        })
    }

    pub fn demo(delay: Duration) -> Self {
        // The demo file ships in the binary and is tested below.
        Self::from_json(DEMO_KNOWLEDGE, delay).unwrap_or(Self {
            entries: Vec::new(),
            delay,
        })
    }

    /// The answer for one visitor message: pure, so it is tested without timing.
    pub fn answer(&self, message: &str) -> Reply {
        let asked = words(message);
        if asked.iter().any(|w| HUMAN_WORDS.contains(&w.as_str())) {
            return Reply {
                text: ASKED_FOR_HUMAN_TEXT.into(),
                needs_human: true,
            };
        }
        let best = self
            .entries
            .iter()
            .map(|(keys, answer)| (asked.iter().filter(|w| keys.contains(w)).count(), answer))
            .filter(|(score, _)| *score > 0)
            .max_by_key(|(score, _)| *score);
        match best {
            Some((_, answer)) => Reply {
                text: answer.clone(),
                needs_human: false,
            },
            None if is_greeting(message) => Reply {
                text: GREETING_TEXT.into(),
                needs_human: false,
            },
            None => Reply {
                text: HANDOFF_TEXT.into(),
                needs_human: true,
            },
        }
    }
}

fn is_greeting(message: &str) -> bool {
    let m = message.trim().to_lowercase();
    [
        "hi",
        "hello",
        "hey",
        "good morning",
        "good afternoon",
        "good evening",
    ]
    .iter()
    .any(|g| m.starts_with(g))
}

/// The visitor's last message of a transcript.
fn last_visitor_message(transcript: &[ConversationEvent]) -> Option<&str> {
    transcript.iter().rev().find_map(|e| match &e.kind {
        EventKind::Message {
            author: Author::Visitor,
            text,
            ..
        } => Some(text.as_str()),
        _ => None,
    })
}

#[async_trait]
impl Assistant for KnowledgeAssistant {
    /// The knowledge file's answer, at once (no typing pause: the operator asked for it);
    /// nothing when the file has none (its "I'll get a human" is no reply for a human to send).
    async fn suggest(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
        let last = last_visitor_message(req.transcript)
            .ok_or_else(|| AssistantError::Failed("no visitor message".into()))?;
        match self.answer(last) {
            Reply {
                needs_human: true, ..
            } => Err(AssistantError::NoAnswer),
            reply => Ok(reply),
        }
    }

    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
        let transcript = req.transcript;
        let Some(last) = last_visitor_message(transcript) else {
            return Err(AssistantError::Failed("no visitor message".into()));
        };
        let mut reply = self.answer(last);
        // Right after a teammate handed the conversation back, "I don't know" must not loop
        // straight into asking for a human again: only the visitor asking does that.
        if reply.needs_human && reply.text == HANDOFF_TEXT && handed_back(transcript) {
            reply = Reply {
                text: AFTER_HANDBACK_TEXT.into(),
                needs_human: false,
            };
        }
        // The "thinking" pause visitors expect, then the reply appears word by word, as a
        // streaming model's would (both configurable; 0 in tests).
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay / 2).await;
            let words: Vec<&str> = reply.text.split_inclusive(' ').collect();
            let step = self.delay / 2 / u32::try_from(words.len().max(1)).unwrap_or(1);
            let mut so_far = String::new();
            for w in words {
                so_far.push_str(w);
                req.draft.set(&so_far);
                tokio::time::sleep(step).await;
            }
        }
        Ok(reply)
    }
}

/// Whether a teammate handed the conversation back and nobody asked for a human since.
fn handed_back(transcript: &[ConversationEvent]) -> bool {
    for e in transcript.iter().rev() {
        match e.kind {
            EventKind::OperatorLeft { .. } => return true,
            EventKind::HumanRequested { .. } | EventKind::HumanRequestExpired { .. } => {
                return false;
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> KnowledgeAssistant {
        KnowledgeAssistant::from_json(DEMO_KNOWLEDGE, Duration::ZERO).expect("demo file parses")
    }

    #[test]
    fn answers_from_the_knowledge_file() {
        let r = demo().answer("How long does shipping take?");
        assert!(!r.needs_human);
        assert!(r.text.to_lowercase().contains("ship"), "{}", r.text);
    }

    #[test]
    fn unknown_questions_ask_for_a_human() {
        let r = demo().answer("Quantum flux capacitor warranty?");
        assert_eq!(
            r,
            Reply {
                text: HANDOFF_TEXT.into(),
                needs_human: true
            }
        );
    }

    #[test]
    fn asking_for_a_person_asks_for_a_human() {
        assert!(demo().answer("Can I talk to a human please").needs_human);
    }

    #[test]
    fn greetings_are_answered() {
        assert_eq!(demo().answer("Hi there").text, GREETING_TEXT);
    }

    use crate::assistant::samples::{ev, msg};

    fn visitor(seq: u64, text: &str) -> ConversationEvent {
        msg(seq, Author::Visitor, text)
    }

    async fn reply_to(transcript: &[ConversationEvent]) -> Reply {
        let draft = crate::assistant::Draft::detached();
        let req = ReplyRequest {
            workspace_id: "ws",
            conversation_id: "c",
            transcript,
            draft: &draft,
            images: &[],
        };
        demo().reply(&req).await.expect("a reply")
    }

    #[tokio::test]
    async fn after_a_hand_back_it_does_not_ask_for_a_human_again() {
        let op = protocol::OperatorRef {
            id: "martin".into(),
            name: "Martin".into(),
            display_name: None,
            avatar_url: None,
        };
        let mut t = vec![
            visitor(1, "Quantum flux?"),
            ev(
                2,
                EventKind::HumanRequested {
                    by: protocol::HumanRequestedBy::Assistant,
                },
            ),
            ev(
                3,
                EventKind::OperatorJoined {
                    operator: op.clone(),
                    epoch: 1,
                },
            ),
            ev(
                4,
                EventKind::OperatorLeft {
                    operator: op,
                    epoch: 1,
                    reason: protocol::ReleaseReason::Ended,
                    by: None,
                },
            ),
            visitor(5, "And the flux capacitor colour?"),
        ];
        let r = reply_to(&t).await;
        assert_eq!(r.text, AFTER_HANDBACK_TEXT);
        assert!(!r.needs_human);
        // Asking for a person still works after a hand-back.
        t.push(visitor(6, "I want a human"));
        assert!(reply_to(&t).await.needs_human);
        // Without a hand-back, an unknown question asks for a human.
        assert!(reply_to(&[visitor(1, "Quantum flux?")]).await.needs_human);
    }

    #[test]
    fn malformed_knowledge_is_an_error() {
        assert!(KnowledgeAssistant::from_json("{", Duration::ZERO).is_err());
    }
}
