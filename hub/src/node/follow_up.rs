//! When nobody is available: requests for a human outside working hours, the conversations
//! waiting for follow-up, the email a visitor leaves, and the emails of operators' answers.
//!
//! A request for a human outside the workspace's hours (`directory::Availability`) gets an
//! `outside_hours` event instead of alerting the team; it, like a request that expired
//! unanswered (`housekeeping.rs`), puts the conversation on the follow-up list. An operator's
//! message takes it off; while the visitor is away and left an address, the message is also
//! emailed ([`Hub::mail_loop`]), once across nodes (`store::follow_up` says how).

use futures_util::StreamExt;
use protocol::{
    Author, ErrorCode, ErrorFrame, EventKind, FollowUp, FollowUpReason, FollowUpRow,
    HumanRequestedBy,
};
use tracing::{debug, info, warn};

use super::{Hub, OperatorSession, error_frame};
use crate::bus::{BusMessage, Topic};
use crate::control::Writer;
use crate::mail::{Answer, Email, MailError, Mailer};
use crate::store::follow_up::{EmailJob, retry_delay};
use crate::store::{ConversationMeta, NewEvent, PlainEvent, StoreError};
use crate::util::{now_ms, now_secs};

/// Emails a node claims per round, and sends side by side.
const EMAILS_PER_ROUND: usize = 50;
const EMAILS_AT_ONCE: usize = 4;

impl Hub {
    /// What the workspace's visitors see when nobody is available (`welcome.away`).
    pub fn away_text(&self, ws: &str) -> protocol::AwayText {
        self.inner.directory.availability(ws).away.clone()
    }

    /// A human was asked for in `meta` (by the visitor or the assistant, `fence` being the AI's
    /// turn): outside the workspace's working hours, record `outside_hours` instead of alerting
    /// the team, and put the conversation on the follow-up list. `false` when the team is at
    /// work (the caller alerts it).
    pub(super) async fn outside_hours(
        &self,
        meta: &ConversationMeta,
        by: HumanRequestedBy,
        fence: Writer,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let availability = self.inner.directory.availability(&meta.workspace_id);
        let Some(opens_at) = availability.closed_at(now) else {
            return Ok(false);
        };
        let (ws, id) = (meta.workspace_id.as_str(), meta.id.as_str());
        let waiting = self
            .inner
            .follow_ups
            .follow_up(ws, id)
            .await?
            .is_some_and(|f| f.waiting);
        // Told once per wait: a second click changes nothing.
        if !waiting {
            let draft = NewEvent::Plain(PlainEvent::OutsideHours { by, opens_at });
            self.append_event(ws, id, draft, fence).await?;
            self.mark_follow_up(meta, FollowUpReason::OutsideHours, now)
                .await;
        }
        Ok(true)
    }

    /// A human was asked for in `meta` (by the visitor or the assistant, `fence` being the AI's
    /// turn): outside working hours [`Hub::outside_hours`], else the `human_requested` event
    /// that alerts the team.
    pub(super) async fn ask_for_human(
        &self,
        meta: &ConversationMeta,
        by: HumanRequestedBy,
        fence: Writer,
    ) -> Result<(), StoreError> {
        if self.outside_hours(meta, by, fence.clone()).await? {
            return Ok(());
        }
        let draft = NewEvent::HumanRequested { by };
        self.append_event(&meta.workspace_id, &meta.id, draft, fence)
            .await
            .map(drop)
    }

    /// Nobody was available for `meta`: it waits for follow-up (told to the team).
    pub(super) async fn mark_follow_up(
        &self,
        meta: &ConversationMeta,
        reason: FollowUpReason,
        at: u64,
    ) {
        let (ws, id) = (meta.workspace_id.as_str(), meta.id.as_str());
        match self
            .inner
            .follow_ups
            .mark_follow_up(ws, id, reason, at)
            .await
        {
            Ok(Some(f)) => {
                let m = &self.inner.metrics;
                m.bump(&m.follow_ups, 1);
                self.publish_follow_up(ws, id, f).await;
            }
            Ok(None) => {}
            Err(e) => warn!(conversation_id = id, error = %e, "follow-up not recorded"),
        }
    }

    /// The visitor of `conversation_id` leaves `email` (checked by the decoder) for the team's
    /// answer. Refused with `no_follow_up` unless the conversation waits for follow-up.
    pub async fn follow_up_email(
        &self,
        ws: &str,
        conversation_id: &str,
        email: &str,
    ) -> Result<(), ErrorFrame> {
        // The decoder's check is the protocol's; the mail library's is the one that sends.
        if email.parse::<lettre::Address>().is_err() {
            return Err(ErrorFrame::new(ErrorCode::InvalidEmail).conversation(conversation_id));
        }
        let changed = self
            .inner
            .follow_ups
            .set_follow_up_email(ws, conversation_id, email)
            .await
            .map_err(|e| error_frame(&e, conversation_id))?;
        let Some(follow_up) = changed else {
            return Err(ErrorFrame::new(ErrorCode::NoFollowUp).conversation(conversation_id));
        };
        let draft = NewEvent::Plain(PlainEvent::FollowUpEmail {
            email: email.to_owned(),
        });
        self.append_event(ws, conversation_id, draft, Writer::Visitor)
            .await
            .map_err(|e| error_frame(&e, conversation_id))?;
        self.publish_follow_up(ws, conversation_id, follow_up).await;
        Ok(())
    }

    /// An operator wrote message `seq` in `meta` (which has a follow-up): it stops waiting, and
    /// while the visitor is away the message is emailed to the address they left.
    pub(super) async fn follow_up_answered(&self, meta: &ConversationMeta, seq: u64) {
        let away = meta.visitor_connections == 0 && self.inner.mailer.is_some();
        let due = away.then(|| now_ms() + self.inner.config.follow_up_delay_ms);
        let (ws, id) = (meta.workspace_id.as_str(), meta.id.as_str());
        match self
            .inner
            .follow_ups
            .follow_up_answered(ws, id, seq, due)
            .await
        {
            Ok(Some(f)) => self.publish_follow_up(ws, id, f).await,
            Ok(None) => {}
            Err(e) => warn!(conversation_id = id, error = %e, "follow-up answer not recorded"),
        }
    }

    /// The operator's workspace's conversations waiting for follow-up (`follow_ups`).
    pub async fn follow_ups(&self, op: &OperatorSession) -> Result<Vec<FollowUpRow>, ErrorFrame> {
        let rows = self
            .inner
            .follow_ups
            .follow_ups(&op.workspace.id, protocol::limits::MAX_FOLLOW_UPS)
            .await
            .map_err(|e| error_frame(&e, ""))?;
        Ok(rows
            .into_iter()
            .map(|(meta, follow_up)| FollowUpRow {
                conversation: meta.summary(),
                follow_up,
            })
            .collect())
    }

    /// The conversation's follow-up, for an operator's `history`.
    pub(super) async fn follow_up_of(&self, ws: &str, id: &str) -> Option<FollowUp> {
        match self.inner.follow_ups.follow_up(ws, id).await {
            Ok(f) => f,
            Err(e) => {
                debug!(conversation_id = id, error = %e, "follow-up not read");
                None
            }
        }
    }

    async fn publish_follow_up(&self, ws: &str, id: &str, follow_up: FollowUp) {
        let msg = BusMessage::FollowUp {
            workspace_id: ws.to_owned(),
            conversation_id: id.to_owned(),
            follow_up,
        };
        self.publish(&Topic::Workspace(ws.to_owned()), msg).await;
    }

    /// Send the follow-up emails that are due, a round every housekeeping interval, until
    /// shutdown. Runs only with `--smtp-url`.
    pub(super) async fn mail_loop(self) {
        let Some(mailer) = self.inner.mailer.clone() else {
            return;
        };
        // A claim outlives the slowest delivery (the SMTP time-out) with room to record it.
        let lease = 2 * self.inner.config.smtp_timeout_ms + 5_000;
        let mut ticker = tokio::time::interval(self.inner.config.housekeeping_interval());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let jobs = match self
                .inner
                .follow_ups
                .claim_emails(now_ms(), lease, EMAILS_PER_ROUND)
                .await
            {
                Ok(jobs) => jobs,
                Err(e) => {
                    warn!(error = %e, "due emails not read");
                    continue;
                }
            };
            futures_util::stream::iter(jobs)
                .for_each_concurrent(EMAILS_AT_ONCE, |job| self.deliver(&mailer, job))
                .await;
        }
    }

    /// Send one claimed email and record the outcome (told to the team).
    async fn deliver(&self, mailer: &Mailer, job: EmailJob) {
        let (ws, id) = (job.workspace_id.as_str(), job.conversation_id.as_str());
        let outcome = match self.compose(mailer, &job).await {
            Ok(Some(email)) => mailer.send(&email).await,
            // Nothing of an operator in the range (gone with its retention): nothing to send.
            Ok(None) => Ok(()),
            Err(e) => Err(MailError::Transient(e.to_string())),
        };
        let m = &self.inner.metrics;
        let now = now_ms();
        let recorded = match outcome {
            Ok(()) => {
                m.bump(&m.emails_sent, 1);
                info!(
                    conversation_id = id,
                    attempt = job.attempt,
                    "follow-up emailed"
                );
                self.inner.follow_ups.email_sent(&job, now).await
            }
            Err(e) => {
                let (c, s) = (&self.inner.config, e.to_string());
                let retry = match e {
                    MailError::Transient(_) => {
                        retry_delay(c.smtp_retry_ms, job.attempt, c.smtp_attempts)
                    }
                    MailError::Permanent(_) => None,
                };
                m.bump(
                    if retry.is_some() {
                        &m.emails_retrying
                    } else {
                        &m.emails_failed
                    },
                    1,
                );
                warn!(conversation_id = id, attempt = job.attempt, error = %s, "follow-up email not sent");
                let retry_at = retry.map(|d| now + d);
                self.inner.follow_ups.email_failed(&job, &s, retry_at).await
            }
        };
        match recorded {
            Ok(Some(f)) => self.publish_follow_up(ws, id, f).await,
            Ok(None) => debug!(
                conversation_id = id,
                "email claim expired before it was recorded"
            ),
            Err(e) => warn!(conversation_id = id, error = %e, "email outcome not recorded"),
        }
    }

    /// The email of `job`: the operators' messages in its range, and the link back.
    async fn compose(&self, mailer: &Mailer, job: &EmailJob) -> Result<Option<Email>, StoreError> {
        let (ws, id) = (job.workspace_id.as_str(), job.conversation_id.as_str());
        let events = self
            .inner
            .conversations
            .history(ws, id, job.from_seq.saturating_sub(1), super::HISTORY_LIMIT)
            .await?;
        let answers: Vec<Answer> = events
            .into_iter()
            .filter(|e| e.seq <= job.upto_seq)
            .filter_map(|e| match e.kind {
                EventKind::Message {
                    author: Author::Operator(op),
                    text,
                    attachments,
                    ..
                } => Some(Answer {
                    author: op.for_visitor().name,
                    text,
                    files: attachments.into_iter().map(|a| a.name).collect(),
                }),
                _ => None,
            })
            .collect();
        if answers.is_empty() {
            return Ok(None);
        }
        let workspace = self
            .inner
            .directory
            .get(ws)
            .map_or_else(|| ws.to_owned(), |w| w.name.clone());
        let page = match self.inner.directory.availability(ws).chat_url.clone() {
            Some(url) => Some(url),
            None => self
                .inner
                .desk
                .context(ws, id)
                .await?
                .and_then(|c| c.url)
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        };
        let link = page.map(|p| {
            let token = self
                .inner
                .visitors
                .issue(id, ws, &job.visitor_id, now_secs());
            crate::mail::reopen_link(&p, &token)
        });
        let (subject, body) = crate::mail::compose(&workspace, &answers, link.as_deref());
        Ok(Some(Email {
            to: job.email.clone(),
            from_name: workspace,
            subject,
            body,
            message_id: format!("<fu-{id}-{}@{}>", job.upto_seq, mailer.domain()),
        }))
    }
}
