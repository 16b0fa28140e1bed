//! The fate of each takeover of the set-up's wave, as the operator who sent it sees it.
//!
//! An operator sends `open` then `takeover` for each conversation given to it. Each
//! conversation's frames take effect in order (docs/protocol.md), so the first answer naming the
//! conversation is the `open`'s (`history`, or an `error`) and the next the `takeover`'s
//! (`control`, or an `error`). A refusal is either retryable (sent again after its
//! `retry_after_ms`) or final; a takeover with no answer by the wave's deadline timed out, the
//! one outcome the `team` benchmark must never see.

use std::collections::BTreeMap;

/// Where one conversation's set-up stands (absent: done, or never started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// `open` and `takeover` sent; the `open`'s answer comes first.
    Opening,
    /// The `open` was answered; `reopen`: it was refused (retryably), so send it again.
    TakingOver { reopen: bool },
}

/// An answer naming a conversation being set up.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    History,
    Control,
    Error { code: &'a str, retryable: bool },
}

/// What the operator does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still waiting (the `open` was answered; or an answer that is no step of the set-up).
    Wait,
    /// The `open` was refused; the `takeover`'s answer is still to come.
    OpenRefused { code: String, retryable: bool },
    /// The takeover succeeded; `reopen`: send `open` again (it was refused).
    Answered { reopen: bool },
    /// The takeover was refused: `retry` it (with the `open` too if `reopen`), or give up.
    Refused {
        code: String,
        retry: bool,
        reopen: bool,
    },
}

/// The next state (`None`: done with this conversation) and what to do, for one answer.
pub fn step(state: Pending, answer: Answer<'_>) -> (Option<Pending>, Outcome) {
    match (state, answer) {
        (Pending::Opening, Answer::History) => {
            (Some(Pending::TakingOver { reopen: false }), Outcome::Wait)
        }
        (Pending::Opening, Answer::Error { code, retryable }) => (
            Some(Pending::TakingOver { reopen: retryable }),
            Outcome::OpenRefused {
                code: code.to_owned(),
                retryable,
            },
        ),
        // Not expected (the `open`'s answer comes first), but the takeover did succeed.
        (Pending::Opening, Answer::Control) => (None, Outcome::Answered { reopen: false }),
        (Pending::TakingOver { reopen }, Answer::Control) => (None, Outcome::Answered { reopen }),
        (Pending::TakingOver { reopen }, Answer::Error { code, retryable }) => (
            None,
            Outcome::Refused {
                code: code.to_owned(),
                retry: retryable,
                reopen,
            },
        ),
        (s @ Pending::TakingOver { .. }, Answer::History) => (Some(s), Outcome::Wait),
    }
}

/// The wave's tally over all operators.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Takeovers answered with `control` (after retries, if any).
    pub answered: u64,
    /// Takeover refusals by code, every attempt counted (a retried one may succeed later).
    pub refused: BTreeMap<String, u64>,
    /// Refusals that were not retryable: those takeovers never happened.
    pub refused_final: u64,
    /// `open` refusals by code.
    pub open_refused: BTreeMap<String, u64>,
    /// Takeovers sent again after a retryable refusal.
    pub retried: u64,
}

impl Tally {
    /// Count an outcome; returns whether it ends the conversation's set-up.
    pub fn count(&mut self, outcome: &Outcome) -> bool {
        match outcome {
            Outcome::Wait => false,
            Outcome::OpenRefused { code, .. } => {
                *self.open_refused.entry(code.clone()).or_default() += 1;
                false
            }
            Outcome::Answered { .. } => {
                self.answered += 1;
                true
            }
            Outcome::Refused { code, retry, .. } => {
                *self.refused.entry(code.clone()).or_default() += 1;
                if *retry {
                    self.retried += 1;
                    false
                } else {
                    self.refused_final += 1;
                    true
                }
            }
        }
    }

    /// Takeovers still without a final answer out of `total`: at the deadline, timed out.
    pub fn unanswered(&self, total: u64) -> u64 {
        total.saturating_sub(self.answered + self.refused_final)
    }

    /// `code n, code n` or `none`.
    pub fn codes(m: &BTreeMap<String, u64>) -> String {
        if m.is_empty() {
            return "none".into();
        }
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable() -> Answer<'static> {
        Answer::Error {
            code: "unavailable",
            retryable: true,
        }
    }

    #[test]
    fn open_then_control_is_answered() {
        let (s, o) = step(Pending::Opening, Answer::History);
        assert_eq!(
            (s, &o),
            (Some(Pending::TakingOver { reopen: false }), &Outcome::Wait)
        );
        let (s, o) = step(s.expect("taking over"), Answer::Control);
        assert_eq!((s, &o), (None, &Outcome::Answered { reopen: false }));
        let mut t = Tally::default();
        assert!(t.count(&o));
        assert_eq!(t.answered, 1);
        assert_eq!(t.unanswered(3), 2);
    }

    #[test]
    fn a_refused_open_is_sent_again_with_or_after_the_takeover() {
        let mut t = Tally::default();
        let (s, o) = step(Pending::Opening, unavailable());
        assert!(!t.count(&o));
        let s = s.expect("taking over");
        assert_eq!(s, Pending::TakingOver { reopen: true });
        // The takeover itself went through: reopen after it.
        let (s2, o2) = step(s, Answer::Control);
        assert_eq!((s2, &o2), (None, &Outcome::Answered { reopen: true }));
        // Or it was refused too: retry both.
        let (s3, o3) = step(s, unavailable());
        assert_eq!(
            (s3, &o3),
            (
                None,
                &Outcome::Refused {
                    code: "unavailable".into(),
                    retry: true,
                    reopen: true
                }
            )
        );
        assert!(!t.count(&o3));
        assert_eq!(t.open_refused.get("unavailable"), Some(&1));
        assert_eq!(t.refused.get("unavailable"), Some(&1));
        assert_eq!((t.retried, t.refused_final, t.unanswered(1)), (1, 0, 1));
    }

    #[test]
    fn a_final_refusal_ends_the_takeover_without_answering_it() {
        let mut t = Tally::default();
        let (_, o) = step(
            Pending::TakingOver { reopen: false },
            Answer::Error {
                code: "already_controlled",
                retryable: false,
            },
        );
        assert!(t.count(&o));
        assert_eq!((t.answered, t.refused_final, t.unanswered(1)), (0, 1, 0));
        assert_eq!(Tally::codes(&t.refused), "already_controlled 1");
        assert_eq!(Tally::codes(&BTreeMap::new()), "none");
    }

    #[test]
    fn a_history_while_taking_over_changes_nothing() {
        let s = Pending::TakingOver { reopen: false };
        assert_eq!(step(s, Answer::History), (Some(s), Outcome::Wait));
    }
}
