//! The node's door for sessions and HTTP handlers: what they may ask of the node's parts, and
//! nothing more. Sessions never touch the store, the registry or the AI fence themselves: a
//! read that the fence must learn from (a catch-up, a history) seeds it here, so the fence
//! stays the node's invariant.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use protocol::canned::CannedReply;
use protocol::{AuditEntry, ConversationEvent, Note, Seq, VisitorContext};
use tokio_util::sync::CancellationToken;

use super::{HISTORY_LIMIT, Hub};
use crate::auth::{OperatorVerifier, VisitorTokens};
use crate::profile::OperatorProfile;
use crate::registry::{ConnKind, ConnRx, Presence};
use crate::store::{ConversationMeta, StoreError};

/// What a dashboard's `open` reads, in one round trip's time.
#[derive(Debug)]
pub struct Opened {
    pub events: Vec<ConversationEvent>,
    pub meta: ConversationMeta,
    pub notes: Vec<Note>,
    pub context: Option<VisitorContext>,
    /// The visitor's other conversations, newest first.
    pub earlier: Vec<ConversationMeta>,
    /// The latest brief, as a dashboard should read it.
    pub brief: Option<protocol::BriefState>,
    /// Its follow-up, when nobody was available for it once.
    pub follow_up: Option<protocol::FollowUp>,
}

/// An AI draft being written, whole, for a client that opened the conversation mid-reply.
#[derive(Debug)]
pub struct DraftSoFar {
    pub draft_id: String,
    pub epoch: u64,
    pub text: String,
}

impl Hub {
    // ---- connections ------------------------------------------------------------------------

    /// A new connection of this node, with its bounded queue (`--outbound-queue`), and who is
    /// behind it for presence.
    pub fn connect(&self, kind: ConnKind, presence: Option<Presence>) -> ConnRx {
        let rx = self
            .inner
            .registry
            .register(kind, self.inner.config.outbound_queue);
        if let Some(presence) = presence {
            self.inner.registry.set_presence(rx.id, presence);
        }
        rx
    }

    /// Open connections by kind: (widgets, operators).
    pub fn connection_counts(&self) -> (usize, usize) {
        self.inner.registry.counts()
    }

    /// Cancelled when the node shuts down.
    pub fn stopping(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Run `task` as part of the node: shutdown waits for it (within the grace).
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.inner.tasks.spawn(task);
    }

    /// Whether the store answers within `limit` (`/readyz`).
    pub async fn store_ready(&self, limit: Duration) -> bool {
        matches!(
            tokio::time::timeout(limit, self.inner.conversations.ping()).await,
            Ok(Ok(()))
        )
    }

    // ---- limits -----------------------------------------------------------------------------

    /// A WebSocket connect from `ip` (`--connect-rate`): `Err` with when to retry.
    pub fn take_connect(&self, ip: IpAddr) -> Result<(), Duration> {
        self.inner.connect_limits.take(&ip, Instant::now())
    }

    /// A visitor message to `workspace_id` (`--workspace-message-rate`).
    pub fn take_workspace_message(&self, workspace_id: &str) -> Result<(), Duration> {
        self.inner
            .workspace_limits
            .take(workspace_id, Instant::now())
    }

    /// An avatar upload by `key` (`workspace/operator`).
    pub fn take_upload(&self, key: &str) -> Result<(), Duration> {
        self.inner.upload_limits.take(key, Instant::now())
    }

    /// An attachment upload's turn for `key` (a sender), or how long to wait.
    pub fn take_file_upload(&self, key: &str) -> Result<(), Duration> {
        self.inner.file_limits.take(key, Instant::now())
    }

    // ---- tokens -----------------------------------------------------------------------------

    /// The operator token verifier (`--dev` signs demo tokens with it).
    pub fn operator_tokens(&self) -> &OperatorVerifier {
        &self.inner.operators
    }

    /// The visitor token issuer and verifier.
    pub fn visitor_tokens(&self) -> &VisitorTokens {
        &self.inner.visitors
    }

    // ---- reads for sessions -----------------------------------------------------------------

    /// The events of a conversation after `after`, for a client that missed them; the node's AI
    /// fence learns every change of control among them (the bus lost them: that is why the
    /// client catches up).
    pub async fn catch_up(
        &self,
        workspace_id: &str,
        conversation_id: &str,
        after: Seq,
    ) -> Result<Vec<ConversationEvent>, StoreError> {
        let events = self
            .inner
            .conversations
            .history(workspace_id, conversation_id, after, HISTORY_LIMIT)
            .await?;
        for event in &events {
            if let Some(epoch) = event.kind.control_epoch() {
                self.inner.fence.seed(conversation_id, epoch);
            }
        }
        Ok(events)
    }

    /// A widget's history after `after` and the conversation as it is now (`None`: gone).
    pub async fn resume(
        &self,
        workspace_id: &str,
        conversation_id: &str,
        after: Seq,
    ) -> Result<Option<(Vec<ConversationEvent>, ConversationMeta)>, StoreError> {
        let store = &self.inner.conversations;
        // Both in one round trip's time on the node's multiplexed connection.
        let (events, meta) = tokio::join!(
            store.history(workspace_id, conversation_id, after, HISTORY_LIMIT),
            store.get(workspace_id, conversation_id),
        );
        let events = events?;
        Ok(meta?.map(|meta| (events, meta)))
    }

    /// What a dashboard's `open` shows: the events after `after`, the conversation, and the
    /// desk's panels. The desk's parts are best effort: a failure to read them leaves a panel
    /// short, never the conversation unopened.
    pub async fn open(
        &self,
        workspace_id: &str,
        conversation_id: &str,
        after: Seq,
        earlier_limit: usize,
    ) -> Result<Opened, StoreError> {
        let (conversations, desk) = (&self.inner.conversations, &self.inner.desk);
        let (ws, id) = (workspace_id, conversation_id);
        // All in one round trip's time on the node's multiplexed connection.
        let (events, meta, notes, context, earlier, brief, follow_up) = tokio::join!(
            conversations.history(ws, id, after, HISTORY_LIMIT),
            conversations.get(ws, id),
            desk.notes(ws, id, after),
            desk.context(ws, id),
            desk.earlier(ws, id, earlier_limit),
            desk.brief(ws, id),
            self.follow_up_of(ws, id),
        );
        let events = events?;
        let meta = meta?.ok_or(StoreError::NotFound)?;
        Ok(Opened {
            events,
            meta,
            notes: notes.unwrap_or_default(),
            context: context.ok().flatten(),
            earlier: earlier.unwrap_or_default(),
            brief: brief.ok().flatten().map(|b| self.brief_as_read(b)),
            follow_up,
        })
    }

    /// The notes of a conversation written after the event `after`.
    pub async fn notes_after(
        &self,
        workspace_id: &str,
        conversation_id: &str,
        after: Seq,
    ) -> Result<Vec<Note>, StoreError> {
        self.inner
            .desk
            .notes(workspace_id, conversation_id, after)
            .await
    }

    /// After a history read under control epoch `epoch`: the AI's draft so far, when one is
    /// being written and this node has it whole. The fence learns `epoch` first, so a draft
    /// older than it is neither offered here nor relayed after it.
    pub fn draft_so_far(&self, conversation_id: &str, epoch: u64) -> Option<DraftSoFar> {
        let fence = &self.inner.fence;
        fence.seed(conversation_id, epoch);
        fence.snapshot(conversation_id).map(|d| DraftSoFar {
            draft_id: d.draft_id,
            epoch: d.epoch,
            text: d.text,
        })
    }

    /// The latest `limit` audit entries of a workspace, oldest first.
    pub async fn audit_log(
        &self,
        workspace_id: &str,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.team.audit(workspace_id, limit).await
    }

    // ---- profiles and saved replies (the HTTP API) ------------------------------------------

    pub async fn saved_profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
    ) -> Result<Option<OperatorProfile>, StoreError> {
        self.inner.profiles.profile(workspace_id, operator_id).await
    }

    /// Save (replace) an operator's profile.
    pub async fn save_profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
        profile: &OperatorProfile,
    ) -> Result<(), StoreError> {
        self.inner
            .profiles
            .save_profile(workspace_id, operator_id, profile)
            .await
    }

    /// An avatar's PNG by its hash, if it was uploaded to this workspace.
    pub async fn avatar(
        &self,
        workspace_id: &str,
        hash: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.profiles.avatar(workspace_id, hash).await
    }

    pub async fn put_avatar(
        &self,
        workspace_id: &str,
        hash: &str,
        png: &[u8],
    ) -> Result<(), StoreError> {
        self.inner
            .profiles
            .put_avatar(workspace_id, hash, png)
            .await
    }

    pub async fn canned_replies(&self, workspace_id: &str) -> Result<Vec<CannedReply>, StoreError> {
        self.inner.desk.canned_replies(workspace_id).await
    }

    /// Create (`create`) or replace a saved reply; its shortcut must be the workspace's only one.
    pub async fn save_canned_reply(
        &self,
        workspace_id: &str,
        reply: &CannedReply,
        create: bool,
    ) -> Result<(), StoreError> {
        self.inner
            .desk
            .save_canned_reply(workspace_id, reply, create)
            .await
    }

    pub async fn delete_canned_reply(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        self.inner.desk.delete_canned_reply(workspace_id, id).await
    }
}

/// The node's parts, for the crate's own unit tests (sessions driven on channels).
#[cfg(test)]
impl Hub {
    pub(crate) fn test_registry(&self) -> &crate::registry::Registry {
        &self.inner.registry
    }

    pub(crate) fn test_desk(&self) -> &dyn crate::store::DeskStore {
        &*self.inner.desk
    }
}
