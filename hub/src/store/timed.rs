//! A store decorator that times every operation and counts failures, for `/metrics`.
//! With the Redis store each operation is one round trip, so this is the Redis latency.

use crate::store::ConversationStore;
use crate::store::DeskStore;
use crate::store::ProfileStore;
use crate::store::TeamStore;
use crate::store::{EmailJob, FollowUpStore};
use protocol::{FollowUp, FollowUpReason};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use protocol::{
    AuditActor, AuditEntry, BriefState, Colleague, ConversationEvent, ConversationId, Millis,
    OperatorRef, ReleaseReason, Seq, TeamMember, WorkspaceId,
};

use super::{
    Announce, Appended, ControlChange, ConversationMeta, Holding, NewConversation, NewEvent, Store,
    StoreError,
};
use crate::control::{Actor, Writer};
use crate::metrics::Metrics;
use crate::profile::OperatorProfile;
use crate::store::{NewNote, RecentCursor};
use protocol::canned::CannedReply;
use protocol::{Note, VisitorContext};

#[derive(Debug)]
pub struct TimedStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl TimedStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn record<T>(&self, start: Instant, result: Result<T, StoreError>) -> Result<T, StoreError> {
        self.metrics.store_latency.observe(start.elapsed());
        if matches!(result, Err(StoreError::Unavailable(_))) {
            self.metrics.add(&self.metrics.store_errors, 1);
        }
        result
    }
}

/// Time one delegated call.
macro_rules! timed {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {{
        let start = Instant::now();
        let result = $self.inner.$method($($arg),*).await;
        $self.record(start, result)
    }};
}

#[async_trait]
impl ConversationStore for TimedStore {
    async fn create(&self, new: NewConversation) -> Result<ConversationMeta, StoreError> {
        timed!(self.create(new))
    }

    async fn get(&self, ws: &str, id: &str) -> Result<Option<ConversationMeta>, StoreError> {
        timed!(self.get(ws, id))
    }

    async fn append(
        &self,
        ws: &str,
        id: &str,
        draft: NewEvent,
        fence: Writer,
        at: Millis,
    ) -> Result<Appended, StoreError> {
        timed!(self.append(ws, id, draft, fence, at))
    }

    async fn append_announced(
        &self,
        ws: &str,
        id: &str,
        draft: NewEvent,
        fence: Writer,
        at: Millis,
        announce: &Announce,
    ) -> Result<(Appended, bool), StoreError> {
        timed!(self.append_announced(ws, id, draft, fence, at, announce))
    }

    async fn takeover(
        &self,
        ws: &str,
        id: &str,
        operator: &OperatorRef,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        timed!(self.takeover(ws, id, operator, at))
    }

    async fn release(
        &self,
        ws: &str,
        id: &str,
        actor: &Actor,
        force: bool,
        seen_epoch: Option<u64>,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        timed!(self.release(ws, id, actor, force, seen_epoch, at))
    }

    async fn transfer(
        &self,
        ws: &str,
        id: &str,
        actor: &Actor,
        to: &OperatorRef,
        seen_epoch: u64,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        timed!(self.transfer(ws, id, actor, to, seen_epoch, at))
    }

    async fn history(
        &self,
        ws: &str,
        id: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<ConversationEvent>, StoreError> {
        timed!(self.history(ws, id, after, limit))
    }

    async fn active(&self, workspace_id: &str) -> Result<Vec<ConversationMeta>, StoreError> {
        timed!(self.active(workspace_id))
    }

    async fn visitor_presence(
        &self,
        ws: &str,
        id: &str,
        delta: i32,
        at: Millis,
    ) -> Result<ConversationMeta, StoreError> {
        timed!(self.visitor_presence(ws, id, delta, at))
    }

    async fn deactivate_idle(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError> {
        timed!(self.deactivate_idle(cutoff))
    }

    async fn holdings(&self) -> Result<Vec<Holding>, StoreError> {
        timed!(self.holdings())
    }

    async fn auto_release(
        &self,
        ws: &str,
        id: &str,
        holder_id: &str,
        epoch: u64,
        reason: ReleaseReason,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        timed!(self.auto_release(ws, id, holder_id, epoch, reason, at))
    }

    async fn mark_warned(&self, ws: &str, id: &str, epoch: u64) -> Result<bool, StoreError> {
        timed!(self.mark_warned(ws, id, epoch))
    }

    async fn visitors_seen(
        &self,
        ids: &[(WorkspaceId, ConversationId)],
        at: Millis,
    ) -> Result<(), StoreError> {
        timed!(self.visitors_seen(ids, at))
    }

    async fn expire_visitors(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError> {
        timed!(self.expire_visitors(cutoff))
    }

    async fn expire_human_requests(
        &self,
        cutoff: Millis,
        at: Millis,
    ) -> Result<Vec<(ConversationMeta, ConversationEvent)>, StoreError> {
        timed!(self.expire_human_requests(cutoff, at))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        timed!(self.ping())
    }
}

#[async_trait]
impl TeamStore for TimedStore {
    async fn operators_seen(
        &self,
        operators: &[(WorkspaceId, String)],
        at: Millis,
    ) -> Result<(), StoreError> {
        timed!(self.operators_seen(operators, at))
    }

    async fn operator_presence(
        &self,
        workspace_id: &str,
        operator: &AuditActor,
        delta: i32,
        at: Millis,
    ) -> Result<(), StoreError> {
        timed!(self.operator_presence(workspace_id, operator, delta, at))
    }

    async fn team(
        &self,
        workspace_id: &str,
        online_since: Millis,
    ) -> Result<Vec<TeamMember>, StoreError> {
        timed!(self.team(workspace_id, online_since))
    }

    async fn colleagues(
        &self,
        workspace_id: &str,
        online_since: Millis,
    ) -> Result<Vec<Colleague>, StoreError> {
        timed!(self.colleagues(workspace_id, online_since))
    }

    async fn record_audit(&self, workspace_id: &str, entry: &AuditEntry) -> Result<(), StoreError> {
        timed!(self.record_audit(workspace_id, entry))
    }

    async fn audit(&self, workspace_id: &str, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        timed!(self.audit(workspace_id, limit))
    }
}

#[async_trait]
impl ProfileStore for TimedStore {
    async fn profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
    ) -> Result<Option<OperatorProfile>, StoreError> {
        timed!(self.profile(workspace_id, operator_id))
    }

    async fn save_profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
        profile: &OperatorProfile,
    ) -> Result<(), StoreError> {
        timed!(self.save_profile(workspace_id, operator_id, profile))
    }

    async fn put_avatar(
        &self,
        workspace_id: &str,
        hash: &str,
        png: &[u8],
    ) -> Result<(), StoreError> {
        timed!(self.put_avatar(workspace_id, hash, png))
    }

    async fn avatar(&self, workspace_id: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        timed!(self.avatar(workspace_id, hash))
    }
}

#[async_trait]
impl DeskStore for TimedStore {
    async fn add_note(
        &self,
        ws: &str,
        id: &str,
        note: NewNote,
        at: Millis,
    ) -> Result<(Note, bool), StoreError> {
        timed!(self.add_note(ws, id, note, at))
    }

    async fn notes(&self, ws: &str, id: &str, after: Seq) -> Result<Vec<Note>, StoreError> {
        timed!(self.notes(ws, id, after))
    }

    async fn set_context(
        &self,
        ws: &str,
        id: &str,
        context: &VisitorContext,
    ) -> Result<(), StoreError> {
        timed!(self.set_context(ws, id, context))
    }

    async fn context(&self, ws: &str, id: &str) -> Result<Option<VisitorContext>, StoreError> {
        timed!(self.context(ws, id))
    }

    async fn claim_brief(
        &self,
        ws: &str,
        id: &str,
        stretch: u64,
        pending: &BriefState,
    ) -> Result<bool, StoreError> {
        timed!(self.claim_brief(ws, id, stretch, pending))
    }

    async fn set_brief(
        &self,
        ws: &str,
        id: &str,
        stretch: u64,
        state: &BriefState,
    ) -> Result<bool, StoreError> {
        timed!(self.set_brief(ws, id, stretch, state))
    }

    async fn brief(&self, ws: &str, id: &str) -> Result<Option<BriefState>, StoreError> {
        timed!(self.brief(ws, id))
    }

    async fn add_file(
        &self,
        ws: &str,
        id: &str,
        file: &crate::store::desk::StoredFile,
        max: usize,
    ) -> Result<(), StoreError> {
        timed!(self.add_file(ws, id, file, max))
    }

    async fn files(
        &self,
        ws: &str,
        id: &str,
        ids: &[String],
    ) -> Result<Vec<crate::store::desk::StoredFile>, StoreError> {
        timed!(self.files(ws, id, ids))
    }

    async fn recent(
        &self,
        ws: &str,
        after: Option<&RecentCursor>,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        timed!(self.recent(ws, after, limit))
    }

    async fn search(
        &self,
        ws: &str,
        words: &[String],
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        timed!(self.search(ws, words, limit))
    }

    async fn earlier(
        &self,
        ws: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        timed!(self.earlier(ws, id, limit))
    }

    async fn canned_replies(&self, ws: &str) -> Result<Vec<CannedReply>, StoreError> {
        timed!(self.canned_replies(ws))
    }

    async fn save_canned_reply(
        &self,
        ws: &str,
        reply: &CannedReply,
        create: bool,
    ) -> Result<(), StoreError> {
        timed!(self.save_canned_reply(ws, reply, create))
    }

    async fn delete_canned_reply(&self, ws: &str, id: &str) -> Result<(), StoreError> {
        timed!(self.delete_canned_reply(ws, id))
    }
}

#[async_trait]
impl FollowUpStore for TimedStore {
    async fn mark_follow_up(
        &self,
        ws: &str,
        id: &str,
        reason: FollowUpReason,
        at: Millis,
    ) -> Result<Option<FollowUp>, StoreError> {
        timed!(self.mark_follow_up(ws, id, reason, at))
    }

    async fn set_follow_up_email(
        &self,
        ws: &str,
        id: &str,
        email: &str,
    ) -> Result<Option<FollowUp>, StoreError> {
        timed!(self.set_follow_up_email(ws, id, email))
    }

    async fn follow_up_answered(
        &self,
        ws: &str,
        id: &str,
        seq: Seq,
        email_due: Option<Millis>,
    ) -> Result<Option<FollowUp>, StoreError> {
        timed!(self.follow_up_answered(ws, id, seq, email_due))
    }

    async fn follow_up(&self, ws: &str, id: &str) -> Result<Option<FollowUp>, StoreError> {
        timed!(self.follow_up(ws, id))
    }

    async fn follow_ups(
        &self,
        ws: &str,
        limit: usize,
    ) -> Result<Vec<(ConversationMeta, FollowUp)>, StoreError> {
        timed!(self.follow_ups(ws, limit))
    }

    async fn claim_emails(
        &self,
        now: Millis,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<EmailJob>, StoreError> {
        timed!(self.claim_emails(now, lease_ms, limit))
    }

    async fn email_sent(&self, job: &EmailJob, at: Millis) -> Result<Option<FollowUp>, StoreError> {
        timed!(self.email_sent(job, at))
    }

    async fn email_failed(
        &self,
        job: &EmailJob,
        error: &str,
        retry_at: Option<Millis>,
    ) -> Result<Option<FollowUp>, StoreError> {
        timed!(self.email_failed(job, error, retry_at))
    }
}
