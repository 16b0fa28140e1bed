//! Follow-ups: conversations whose request for a human went unanswered, and the emails of the
//! operators' answers to visitors who have gone (see `protocol::follow_up`).
//!
//! [`Record`] is the whole state machine, pure: the memory store runs it behind each
//! conversation's lock, and `lua/follow_up.lua` applies exactly the same rules in one Redis
//! step. The conformance suite (`conformance_follow_up.rs`) holds both to them.
//!
//! An email is sent at most once across nodes: a node *claims* a due email for a lease longer
//! than its SMTP time-out (one claimer per lease, by an atomic step), and only the claim's
//! holder may record it sent or failed. A node that dies mid-send leaves the claim to expire,
//! and the email is sent again once, with the same `Message-ID`.

use async_trait::async_trait;
use protocol::{ConversationId, EmailDelivery, FollowUp, FollowUpReason, Millis, Seq, WorkspaceId};

use super::{ConversationMeta, StoreError};

/// An email of an operator's answer, claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailJob {
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    /// The conversation's visitor (the email's reopen link resumes as them).
    pub visitor_id: String,
    pub email: String,
    /// The operator messages to send: every one with `from_seq <= seq <= upto_seq`.
    pub from_seq: Seq,
    pub upto_seq: Seq,
    /// 1 for the first try.
    pub attempt: u32,
    /// Names this claim: only it may record the outcome.
    pub claim: String,
}

/// The follow-up part of the store.
#[async_trait]
pub trait FollowUpStore: Send + Sync + std::fmt::Debug {
    /// Nobody was available for the conversation at `at`: it waits for follow-up. `None` when it
    /// was waiting already (nothing changed).
    async fn mark_follow_up(
        &self,
        ws: &str,
        id: &str,
        reason: FollowUpReason,
        at: Millis,
    ) -> Result<Option<FollowUp>, StoreError>;

    /// The visitor left `email` (checked by the caller). `None` when the conversation is not
    /// waiting for follow-up (nothing stored).
    async fn set_follow_up_email(
        &self,
        ws: &str,
        id: &str,
        email: &str,
    ) -> Result<Option<FollowUp>, StoreError>;

    /// An operator wrote message `seq`: the conversation stops waiting. With `email_due` (the
    /// visitor is away) and an email on file, the message is to be emailed then; an email
    /// already due keeps its time and takes this message too. `None` when nothing changed.
    async fn follow_up_answered(
        &self,
        ws: &str,
        id: &str,
        seq: Seq,
        email_due: Option<Millis>,
    ) -> Result<Option<FollowUp>, StoreError>;

    /// The conversation's follow-up, if it ever had one.
    async fn follow_up(&self, ws: &str, id: &str) -> Result<Option<FollowUp>, StoreError>;

    /// The workspace's conversations waiting for follow-up, the longest waiting first, at most
    /// `limit`.
    async fn follow_ups(
        &self,
        ws: &str,
        limit: usize,
    ) -> Result<Vec<(ConversationMeta, FollowUp)>, StoreError>;

    /// Emails due at `now`, at most `limit`, each claimed for `lease_ms`: until the lease ends
    /// no other caller, on any node, is given the same one.
    async fn claim_emails(
        &self,
        now: Millis,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<EmailJob>, StoreError>;

    /// The mail server accepted `job` at `at`. `None` when the claim is no longer the job's
    /// (it expired and another took it): nothing recorded.
    async fn email_sent(&self, job: &EmailJob, at: Millis) -> Result<Option<FollowUp>, StoreError>;

    /// Sending `job` failed with `error`: try again at `retry_at`, or give up (`None`).
    async fn email_failed(
        &self,
        job: &EmailJob,
        error: &str,
        retry_at: Option<Millis>,
    ) -> Result<Option<FollowUp>, StoreError>;
}

/// A conversation's follow-up state: the rules, without storage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// `None` until the conversation first waited for follow-up.
    pub reason: Option<FollowUpReason>,
    pub since: Millis,
    pub waiting: bool,
    pub email: Option<String>,
    pub delivery: Option<EmailDelivery>,
    /// The operator messages still to email: `mail_from..=mail_upto`.
    pub mail_from: Seq,
    pub mail_upto: Seq,
    /// When the pending email is due (or its claim's lease ends); `None`: nothing pending.
    pub due: Option<Millis>,
    /// Failed tries of the pending email.
    pub attempts: u32,
    pub claim: Option<String>,
}

impl Record {
    /// What operators see; `None` before the conversation ever waited.
    pub fn view(&self) -> Option<FollowUp> {
        Some(FollowUp {
            reason: self.reason?,
            since: self.since,
            waiting: self.waiting,
            email: self.email.clone(),
            delivery: self.delivery.clone(),
        })
    }

    /// Whether an operator's message changes it (the meta's `follow_up` flag).
    pub fn flag(&self) -> bool {
        self.waiting || self.email.is_some()
    }

    pub fn mark(&mut self, reason: FollowUpReason, at: Millis) -> bool {
        if self.waiting {
            return false;
        }
        self.reason = Some(reason);
        self.since = at;
        self.waiting = true;
        true
    }

    pub fn set_email(&mut self, email: &str) -> bool {
        if !self.waiting {
            return false;
        }
        self.email = Some(email.to_owned());
        true
    }

    pub fn answered(&mut self, seq: Seq, email_due: Option<Millis>) -> bool {
        let mut changed = std::mem::replace(&mut self.waiting, false);
        if let (Some(due), Some(_)) = (email_due, &self.email) {
            self.mail_upto = self.mail_upto.max(seq);
            if self.due.is_none() {
                // After an email given up, the next one carries what it failed to deliver too.
                if !matches!(self.delivery, Some(EmailDelivery::Failed { .. })) {
                    self.mail_from = seq;
                }
                self.due = Some(due);
                self.attempts = 0;
                self.delivery = Some(EmailDelivery::Scheduled { at: due });
                changed = true;
            }
        }
        changed
    }

    /// Claim the pending email if it is due at `now` (its lease ends at `now + lease_ms`).
    pub fn claim(
        &mut self,
        (ws, id, visitor_id): (&str, &str, &str),
        now: Millis,
        lease_ms: u64,
        claim: &str,
    ) -> Option<EmailJob> {
        let email = self.email.clone()?;
        if self.due? > now {
            return None;
        }
        self.due = Some(now + lease_ms);
        self.claim = Some(claim.to_owned());
        Some(EmailJob {
            workspace_id: ws.to_owned(),
            conversation_id: id.to_owned(),
            visitor_id: visitor_id.to_owned(),
            email,
            from_seq: self.mail_from,
            upto_seq: self.mail_upto,
            attempt: self.attempts + 1,
            claim: claim.to_owned(),
        })
    }

    pub fn sent(&mut self, job: &EmailJob, at: Millis) -> bool {
        if self.claim.as_deref() != Some(job.claim.as_str()) {
            return false;
        }
        self.claim = None;
        self.attempts = 0;
        if self.mail_upto > job.upto_seq {
            // An operator wrote again while this one was being sent: that goes next, now.
            self.mail_from = job.upto_seq + 1;
            self.due = Some(at);
            self.delivery = Some(EmailDelivery::Scheduled { at });
        } else {
            self.due = None;
            self.delivery = Some(EmailDelivery::Sent { at });
        }
        true
    }

    pub fn failed(&mut self, job: &EmailJob, error: &str, retry_at: Option<Millis>) -> bool {
        if self.claim.as_deref() != Some(job.claim.as_str()) {
            return false;
        }
        self.claim = None;
        self.attempts = job.attempt;
        let error = error.to_owned();
        self.due = retry_at;
        self.delivery = Some(match retry_at {
            Some(next_at) => EmailDelivery::Retrying {
                attempts: job.attempt,
                next_at,
                error,
            },
            None => EmailDelivery::Failed {
                attempts: job.attempt,
                error,
            },
        });
        true
    }
}

/// When the next try of an email that failed `attempt` times goes: `base_ms` after the first
/// failure, doubling after each, at most an hour; `None` once `max_attempts` were made.
pub fn retry_delay(base_ms: u64, attempt: u32, max_attempts: u32) -> Option<u64> {
    if attempt >= max_attempts {
        return None;
    }
    let doubled = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
    Some(doubled.min(3_600_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting_with_email() -> Record {
        let mut r = Record::default();
        assert!(r.mark(FollowUpReason::Unanswered, 10));
        assert!(r.set_email("ana@example.com"));
        r
    }

    #[test]
    fn marking_twice_keeps_the_first_and_an_email_needs_a_wait() {
        let mut r = Record::default();
        assert!(!r.set_email("a@b.co"), "not waiting: no address taken");
        assert!(r.mark(FollowUpReason::OutsideHours, 10));
        assert!(!r.mark(FollowUpReason::Unanswered, 20));
        assert_eq!(
            (r.reason, r.since),
            (Some(FollowUpReason::OutsideHours), 10)
        );
        assert!(r.set_email("a@b.co"));
        assert!(r.flag());
    }

    #[test]
    fn answers_batch_into_one_email_and_later_ones_go_next() {
        let mut r = waiting_with_email();
        assert!(r.answered(5, Some(100)));
        assert!(!r.waiting);
        // A second message before it is due rides along, due time unchanged.
        assert!(!r.answered(7, Some(150)));
        assert_eq!((r.mail_from, r.mail_upto, r.due), (5, 7, Some(100)));
        assert!(
            r.claim(("ws", "c", "v"), 99, 60_000, "k1").is_none(),
            "not due yet"
        );
        let job = r.claim(("ws", "c", "v"), 100, 60_000, "k1").expect("due");
        assert_eq!((job.from_seq, job.upto_seq, job.attempt), (5, 7, 1));
        assert!(
            r.claim(("ws", "c", "v"), 101, 60_000, "k2").is_none(),
            "leased"
        );
        // Written while it was sent: the next email starts after it.
        r.answered(9, Some(200));
        assert!(r.sent(&job, 120));
        assert_eq!((r.mail_from, r.due), (8, Some(120)));
        let next = r.claim(("ws", "c", "v"), 120, 60_000, "k3").expect("next");
        assert_eq!((next.from_seq, next.upto_seq), (8, 9));
        assert!(r.sent(&next, 130));
        assert_eq!(r.due, None);
        assert_eq!(r.delivery, Some(EmailDelivery::Sent { at: 130 }));
    }

    #[test]
    fn only_the_claim_records_and_failures_retry_then_give_up() {
        let mut r = waiting_with_email();
        r.answered(5, Some(100));
        let stale = r.claim(("ws", "c", "v"), 100, 10, "k1").expect("due");
        // The lease ran out and another node claimed it.
        let job = r
            .claim(("ws", "c", "v"), 110, 10, "k2")
            .expect("re-claimed");
        assert!(!r.sent(&stale, 111), "a stale claim records nothing");
        assert!(r.failed(&job, "connection refused", Some(500)));
        assert_eq!(
            r.delivery,
            Some(EmailDelivery::Retrying {
                attempts: 1,
                next_at: 500,
                error: "connection refused".into()
            })
        );
        let again = r.claim(("ws", "c", "v"), 500, 10, "k3").expect("retry");
        assert_eq!(again.attempt, 2);
        assert!(r.failed(&again, "550 no such user", None));
        assert_eq!(r.due, None);
        assert!(matches!(
            r.delivery,
            Some(EmailDelivery::Failed { attempts: 2, .. })
        ));
    }

    #[test]
    fn without_an_address_or_with_the_visitor_here_nothing_is_emailed() {
        let mut r = Record::default();
        r.mark(FollowUpReason::Unanswered, 1);
        assert!(r.answered(3, Some(10)), "it stops waiting");
        assert_eq!((r.due, r.delivery.clone(), r.flag()), (None, None, false));
        let mut r = waiting_with_email();
        assert!(r.answered(3, None));
        assert_eq!(r.due, None);
        assert!(r.flag(), "the address stays on file for later answers");
    }

    #[test]
    fn retries_back_off_to_an_hour_then_stop() {
        assert_eq!(retry_delay(30_000, 1, 6), Some(30_000));
        assert_eq!(retry_delay(30_000, 2, 6), Some(60_000));
        assert_eq!(retry_delay(30_000, 5, 6), Some(480_000));
        assert_eq!(retry_delay(30_000, 6, 6), None);
        assert_eq!(retry_delay(3_000_000, 3, 9), Some(3_600_000));
    }
}
