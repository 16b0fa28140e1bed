//! The memory store's follow-ups: each conversation's [`Record`] lives in its desk, behind its
//! lock, so every step is atomic as in Redis.

use async_trait::async_trait;
use protocol::{FollowUp, FollowUpReason, Millis, Seq};

use super::{Conversation, MemoryStore, lock};
use crate::store::follow_up::{EmailJob, FollowUpStore, Record};
use crate::store::{ConversationMeta, StoreError};

impl MemoryStore {
    /// Apply `step` to the conversation's record; its view when `step` changed it.
    fn follow_up_step(
        &self,
        ws: &str,
        id: &str,
        step: impl FnOnce(&mut Record) -> bool,
    ) -> Result<Option<FollowUp>, StoreError> {
        let conv = self.conversation(ws, id)?;
        let mut c = lock(&conv);
        let changed = step(&mut c.desk.state().follow_up);
        sync_flag(&mut c);
        Ok(if changed {
            c.desk.follow_up().and_then(Record::view)
        } else {
            None
        })
    }
}

fn sync_flag(c: &mut Conversation) {
    c.meta.follow_up = c.desk.follow_up().is_some_and(Record::flag);
}

#[async_trait]
impl FollowUpStore for MemoryStore {
    async fn mark_follow_up(
        &self,
        ws: &str,
        id: &str,
        reason: FollowUpReason,
        at: Millis,
    ) -> Result<Option<FollowUp>, StoreError> {
        self.follow_up_step(ws, id, |r| r.mark(reason, at))
    }

    async fn set_follow_up_email(
        &self,
        ws: &str,
        id: &str,
        email: &str,
    ) -> Result<Option<FollowUp>, StoreError> {
        self.follow_up_step(ws, id, |r| r.set_email(email))
    }

    async fn follow_up_answered(
        &self,
        ws: &str,
        id: &str,
        seq: Seq,
        email_due: Option<Millis>,
    ) -> Result<Option<FollowUp>, StoreError> {
        self.follow_up_step(ws, id, |r| r.answered(seq, email_due))
    }

    async fn follow_up(&self, ws: &str, id: &str) -> Result<Option<FollowUp>, StoreError> {
        let conv = self.conversation(ws, id)?;
        let c = lock(&conv);
        Ok(c.desk.follow_up().and_then(Record::view))
    }

    async fn follow_ups(
        &self,
        ws: &str,
        limit: usize,
    ) -> Result<Vec<(ConversationMeta, FollowUp)>, StoreError> {
        let mut out: Vec<(ConversationMeta, FollowUp)> = self
            .conversations
            .iter()
            .filter_map(|e| {
                let c = lock(e.value());
                let f = c.desk.follow_up()?;
                (c.meta.workspace_id == ws && f.waiting)
                    .then(|| Some((c.meta.clone(), f.view()?)))
                    .flatten()
            })
            .collect();
        out.sort_by(|a, b| (a.1.since, &a.0.id).cmp(&(b.1.since, &b.0.id)));
        out.truncate(limit);
        Ok(out)
    }

    async fn claim_emails(
        &self,
        now: Millis,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<EmailJob>, StoreError> {
        let mut jobs = Vec::new();
        for e in self.conversations.iter() {
            if jobs.len() >= limit {
                break;
            }
            let mut c = lock(e.value());
            // Most conversations never had a follow-up: leave their desks unallocated.
            if c.desk
                .follow_up()
                .is_none_or(|r| r.due.is_none_or(|due| due > now))
            {
                continue;
            }
            let (ws, id) = (c.meta.workspace_id.clone(), c.meta.id.clone());
            let visitor = c.desk.visitor_id().to_owned();
            let claim = crate::util::random_id("m");
            let job = c
                .desk
                .state()
                .follow_up
                .claim((&ws, &id, &visitor), now, lease_ms, &claim);
            if let Some(job) = job {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    async fn email_sent(&self, job: &EmailJob, at: Millis) -> Result<Option<FollowUp>, StoreError> {
        self.follow_up_step(&job.workspace_id, &job.conversation_id, |r| r.sent(job, at))
    }

    async fn email_failed(
        &self,
        job: &EmailJob,
        error: &str,
        retry_at: Option<Millis>,
    ) -> Result<Option<FollowUp>, StoreError> {
        self.follow_up_step(&job.workspace_id, &job.conversation_id, |r| {
            r.failed(job, error, retry_at)
        })
    }
}
