//! The hub node: the one place where client actions become store steps and bus messages, and
//! where bus messages become local deliveries.
//!
//! ```text
//! session ──action──▶ Hub ──atomic step──▶ Store
//!                      │
//!                      └──publish──▶ Bus ──▶ (every node) dispatcher ──▶ Registry ──▶ sessions
//! ```
//!
//! The node also runs the assistant's generations (cancellable, fenced by control epoch) and the
//! sweeper that takes idle conversations off the Online list.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use protocol::{
    AuditAction, AuditActor, AuditEntry, Author, ConversationEvent, ConversationSummary,
    DraftState, ErrorCode, ErrorFrame, EventKind, Holder, HumanRequestedBy, OperatorIdentity,
    OperatorRef, ServerFrame, WorkspaceId, WorkspaceInfo,
};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::assistant::{Assistant, AssistantError};
use crate::auth::{OperatorClaims, OperatorVerifier, VisitorTokens};
use crate::bus::{Bus, BusMessage, Inbox, Topic};
use crate::config::Config;
use crate::control::{Actor, ControlError, Fence, HoldCheck};
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::ratelimit::KeyedLimiter;
use crate::registry::{ConnId, Delivery, Frames, Outbound, Registry};
use crate::store::{
    Announce, Appended, ConversationMeta, Draft, NewConversation, Store, StoreError,
};
use crate::util::{now_ms, now_secs, random_id, visitor_label};

/// How often a conversation's Online list row may be re-published.
pub const ONLINE_COALESCE: Duration = Duration::from_millis(200);

/// Most Online rows in one bus publication (a row is a few hundred bytes of JSON).
const ROWS_PER_PUBLICATION: usize = 64;

/// A round's changed rows as publications: one per workspace (in pieces of at most
/// [`ROWS_PER_PUBLICATION`]), since every publication is a round trip to Redis and a push to
/// each node that lists the workspace.
fn row_publications(
    by_workspace: HashMap<WorkspaceId, Vec<ConversationSummary>>,
) -> Vec<(Topic, BusMessage)> {
    let mut out = Vec::new();
    for (workspace_id, rows) in by_workspace {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let summaries = rows.by_ref().take(ROWS_PER_PUBLICATION).collect();
            out.push((
                Topic::Workspace(workspace_id.clone()),
                BusMessage::Summaries {
                    workspace_id: workspace_id.clone(),
                    summaries,
                },
            ));
        }
    }
    out
}

/// An Online list row waiting for the next publication round.
#[derive(Debug)]
struct PendingRow {
    workspace_id: WorkspaceId,
    active: bool,
    summary: ConversationSummary,
}

/// Least time between two pieces of one AI draft (25 a second read as smooth typing).
pub const DRAFT_INTERVAL: Duration = Duration::from_millis(40);

/// Why a generation's loop woke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// The backend wrote more.
    Changed,
    /// A change was held back by `DRAFT_INTERVAL`, which has now passed.
    Due,
    /// A node missed a piece: send the whole draft.
    SnapshotWanted,
}

/// A piece of a draft, as `Hub::draft` publishes it.
#[derive(Debug, Clone, Copy)]
struct DraftPiece<'a> {
    draft_id: &'a str,
    epoch: u64,
    offset: u32,
    text: &'a str,
}

/// Most events a `history` frame carries.
pub const HISTORY_LIMIT: usize = 5000;

/// What the visitor reads when the assistant's backend failed (timed out, errored, answered
/// nonsense).
pub const FALLBACK_TEXT: &str = "Sorry, I can't answer right now. Please try again in a moment, or ask for a human and a teammate will help you.";

/// A generation running on this node.
#[derive(Debug)]
struct Generation {
    id: u64,
    draft_id: String,
    cancel: CancellationToken,
    /// Another node (or this one) missed a piece of the draft: send the whole text next.
    snapshot: Arc<tokio::sync::Notify>,
}

/// A cheap handle to the node; clone it freely.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub registry: Registry,
    pub directory: Directory,
    pub operators: OperatorVerifier,
    pub visitors: VisitorTokens,
    pub assistant: Arc<dyn Assistant>,
    pub metrics: Arc<Metrics>,
    /// Cancelled when the node shuts down.
    pub shutdown: CancellationToken,
    /// Every session and background task, so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// The running generation of each conversation.
    generations: DashMap<String, Generation>,
    /// What this node has delivered of each conversation's control and AI draft.
    pub fence: crate::drafts::Fence,
    /// Online list rows changed since the last publication, as the operation that changed each
    /// one left it (conversation id → row).
    changed_rows: DashMap<String, PendingRow>,
    next_generation: std::sync::atomic::AtomicU64,
    /// Serializes bus (un)subscription per topic, so a leave and a join racing on the same topic
    /// can never leave the bus unsubscribed while a local client listens.
    topic_locks: DashMap<Topic, Arc<Mutex<bool>>>,
    /// WebSocket connects per client IP (see `--connect-rate`).
    pub connect_limits: KeyedLimiter<std::net::IpAddr>,
    /// Visitor messages per workspace (see `--workspace-message-rate`).
    pub workspace_limits: KeyedLimiter<String>,
    /// Avatar uploads per `workspace/operator` (see `crate::api`).
    pub upload_limits: KeyedLimiter<String>,
}

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct OperatorSession {
    pub claims: OperatorClaims,
    pub workspace: WorkspaceInfo,
}

impl OperatorSession {
    pub fn identity(&self) -> OperatorIdentity {
        OperatorIdentity {
            id: self.claims.sub.clone(),
            name: self.claims.name.clone(),
            role: self.claims.role,
            workspace_id: self.workspace.id.clone(),
        }
    }

    /// How this operator appears without their profile (visitors see "Human"). Takeovers use
    /// [`Hub::operator_ref`], which adds the saved profile.
    pub fn operator_ref(&self) -> OperatorRef {
        crate::profile::operator_ref(&self.claims.sub, &self.claims.name, None)
    }

    /// How this operator appears in `meta`: as the holder, with the profile they took control
    /// with (a profile saved mid-session applies from the next takeover); otherwise without one.
    pub fn author_in(&self, meta: &ConversationMeta) -> Author {
        match self.holding(meta) {
            Some(me) => Author::Operator(me.clone()),
            None => Author::Operator(self.operator_ref()),
        }
    }

    /// This operator as `meta`'s holder, if they hold it.
    pub fn holding<'m>(&self, meta: &'m ConversationMeta) -> Option<&'m OperatorRef> {
        match &meta.control.holder {
            Holder::Operator(r) if r.id == self.claims.sub => Some(r),
            _ => None,
        }
    }

    fn actor(&self) -> Actor {
        Actor {
            operator: self.operator_ref(),
            role: self.claims.role,
        }
    }

    /// This operator as an audit actor and team member.
    pub fn audit_actor(&self) -> AuditActor {
        AuditActor {
            id: self.claims.sub.clone(),
            name: self.claims.name.clone(),
            role: self.claims.role,
        }
    }
}

/// The one place where a store failure becomes what the client is told.
pub fn error_frame(err: &StoreError, conversation_id: &str) -> ErrorFrame {
    let frame = match err {
        StoreError::NotFound => ErrorFrame::new(ErrorCode::ConversationNotFound),
        StoreError::Unavailable(_) => ErrorFrame::new(ErrorCode::Unavailable),
        StoreError::Control(c) => {
            let mut f = ErrorFrame::with_message(c.code(), c.to_string());
            if let ControlError::AlreadyControlled(holder) = c {
                f.holder = Some(holder.clone());
            }
            f
        }
    };
    frame.conversation(conversation_id)
}

/// Everything a node is made of; `server::build` assembles it from the configuration.
#[derive(Debug)]
pub struct Parts {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    /// Where `bus` delivers this node's messages.
    pub inbox: Inbox,
    pub directory: Directory,
    pub operators: OperatorVerifier,
    pub visitors: VisitorTokens,
    pub assistant: Arc<dyn Assistant>,
}

impl Hub {
    /// Assemble a node and start its background tasks (needs a tokio runtime).
    pub fn new(parts: Parts) -> Hub {
        let Parts {
            config,
            store,
            bus,
            inbox,
            directory,
            operators,
            visitors,
            assistant,
        } = parts;
        let metrics = Arc::new(Metrics::default());
        // Every store call is timed and its failures counted, whatever the backend.
        let store: Arc<dyn Store> =
            Arc::new(crate::store::timed::TimedStore::new(store, metrics.clone()));
        let connect_limits = KeyedLimiter::new(config.connect_rate, config.connect_burst);
        let workspace_limits = KeyedLimiter::new(
            config.workspace_message_rate,
            config.workspace_message_burst,
        );
        let shutdown = CancellationToken::new();
        let hub = Hub {
            inner: Arc::new(Inner {
                connect_limits,
                workspace_limits,
                upload_limits: KeyedLimiter::new(
                    crate::ratelimit::UPLOAD_RATE,
                    crate::ratelimit::UPLOAD_BURST,
                ),
                config,
                store,
                bus,
                registry: Registry::new(&shutdown),
                directory,
                operators,
                visitors,
                assistant,
                metrics,
                shutdown,
                tasks: TaskTracker::new(),
                generations: DashMap::new(),
                fence: crate::drafts::Fence::new(),
                changed_rows: DashMap::new(),
                next_generation: std::sync::atomic::AtomicU64::new(0),
                topic_locks: DashMap::new(),
            }),
        };
        hub.inner.tasks.spawn(hub.clone().dispatch(inbox));
        hub.inner.tasks.spawn(hub.clone().housekeeping());
        hub.inner.tasks.spawn(hub.clone().online_rows());
        hub
    }

    pub fn inner(&self) -> &Inner {
        &self.inner
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Begin shutdown: sessions close with `going_away`, background tasks stop.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Wait up to `grace` for every session and task to finish; `false` when time ran out.
    pub async fn drain(&self, grace: Duration) -> bool {
        self.inner.tasks.close();
        tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_ok()
    }

    // ---- sign-in -------------------------------------------------------------------------

    pub fn operator_sign_in(&self, token: &str) -> Result<OperatorSession, ErrorFrame> {
        let claims = self
            .inner
            .operators
            .verify(token)
            .map_err(|e| ErrorFrame::with_message(e.code(), e.to_string()))?;
        let workspace = self
            .inner
            .directory
            .get(&claims.ws)
            .cloned()
            .ok_or_else(|| ErrorFrame::new(ErrorCode::WorkspaceNotFound))?;
        Ok(OperatorSession { claims, workspace })
    }

    /// A visitor's conversation: the one their token names, or a new one.
    pub async fn visitor_sign_in(
        &self,
        workspace_id: &str,
        token: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(ConversationMeta, String), ErrorFrame> {
        if self.inner.directory.get(workspace_id).is_none() {
            return Err(ErrorFrame::new(ErrorCode::WorkspaceNotFound));
        }
        if !self.inner.directory.origin_allowed(workspace_id, origin) {
            // A page the workspace did not list tries to embed its widget.
            return Err(ErrorFrame::with_message(
                ErrorCode::Forbidden,
                format!(
                    "origin {} may not open this workspace's widget",
                    origin.unwrap_or("(none)")
                ),
            ));
        }
        if let Some(token) = token {
            let claims = self
                .inner
                .visitors
                .verify(token)
                .map_err(|e| ErrorFrame::with_message(e.code(), e.to_string()))?;
            if claims.ws != workspace_id {
                return Err(ErrorFrame::with_message(
                    ErrorCode::Unauthorized,
                    "visitor token is for another workspace",
                ));
            }
            match self.inner.store.get(&claims.sub).await {
                Ok(Some(meta)) => return Ok((meta, token.to_owned())),
                // The conversation is gone (an in-memory hub restarted): start afresh below.
                Ok(None) => {}
                Err(e) => return Err(error_frame(&e, &claims.sub)),
            }
        }
        let id = random_id("cv_");
        let meta = self
            .inner
            .store
            .create(NewConversation {
                id: id.clone(),
                workspace_id: workspace_id.to_owned(),
                visitor_label: visitor_label(),
                at: now_ms(),
            })
            .await
            .map_err(|e| error_frame(&e, &id))?;
        let token = self.inner.visitors.issue(&id, workspace_id, now_secs());
        Ok((meta, token))
    }

    // ---- conversation actions ---------------------------------------------------------------

    /// The conversation, if it belongs to the operator's workspace. Other workspaces' ids get
    /// exactly the same answer as ids that do not exist.
    pub async fn conversation_for(
        &self,
        op: &OperatorSession,
        conversation_id: &str,
    ) -> Result<ConversationMeta, ErrorFrame> {
        match self.inner.store.get(conversation_id).await {
            Ok(Some(meta)) if meta.workspace_id == op.workspace.id => Ok(meta),
            Ok(_) => Err(error_frame(&StoreError::NotFound, conversation_id)),
            Err(e) => Err(error_frame(&e, conversation_id)),
        }
    }

    pub async fn visitor_message(
        &self,
        conversation_id: &str,
        client_id: String,
        text: String,
    ) -> Result<Appended, ErrorFrame> {
        let draft = Draft::Message {
            author: Author::Visitor,
            text,
            client_id: Some(client_id.clone()),
        };
        let appended = self
            .append_event(conversation_id, draft, Fence::Visitor)
            .await
            .map_err(|e| error_frame(&e, conversation_id).client(client_id))?;
        if !appended.duplicate {
            let m = &self.inner.metrics;
            m.add(&m.messages_in_visitor, 1);
            if appended.meta.control.holder == Holder::Ai {
                self.start_reply(&appended.meta);
            }
        }
        Ok(appended)
    }

    /// `held`: how this operator appears as the conversation's holder, when their session knows
    /// it (from its own takeover or last message there). That proves the workspace and names
    /// the author, so the message costs one store call, the append, whose fence still checks
    /// the holder. Without it, the conversation is read first.
    pub async fn operator_message(
        &self,
        op: &OperatorSession,
        conversation_id: &str,
        client_id: String,
        text: String,
        held: Option<&OperatorRef>,
    ) -> Result<Appended, ErrorFrame> {
        let author = match held {
            Some(me) => Author::Operator(me.clone()),
            None => self
                .conversation_for(op, conversation_id)
                .await
                .map(|meta| op.author_in(&meta))
                .map_err(|e| e.client(client_id.clone()))?,
        };
        let draft = Draft::Message {
            author,
            text,
            client_id: Some(client_id.clone()),
        };
        let fence = Fence::Operator(op.claims.sub.clone());
        let appended = self
            .append_event(conversation_id, draft, fence)
            .await
            .map_err(|e| error_frame(&e, conversation_id).client(client_id))?;
        if !appended.duplicate {
            let m = &self.inner.metrics;
            m.add(&m.messages_in_operator, 1);
        }
        Ok(appended)
    }

    /// Store an event and publish it (unless it is a re-sent duplicate). When the store can
    /// publish in the same atomic step (Redis), it does: one round trip for the whole message.
    async fn append_event(
        &self,
        conversation_id: &str,
        draft: Draft,
        fence: Fence,
    ) -> Result<Appended, StoreError> {
        let store = &self.inner.store;
        let topic = Topic::Conversation(conversation_id.to_owned());
        let published_us = crate::util::now_us();
        let (appended, announced) = match self.inner.bus.channel(&topic) {
            Some(channel) => {
                let (head, tail) =
                    BusMessage::event_envelope(channel.origin, conversation_id, published_us);
                let announce = Announce {
                    channel: channel.name,
                    head,
                    tail,
                };
                store
                    .append_announced(conversation_id, draft, fence, now_ms(), &announce)
                    .await?
            }
            None => (
                store
                    .append(conversation_id, draft, fence, now_ms())
                    .await?,
                false,
            ),
        };
        if !appended.duplicate {
            let announced_at = announced.then_some(published_us);
            self.publish_event(&appended.meta, &appended.event, announced_at)
                .await;
        }
        Ok(appended)
    }

    /// How `op` appears at a takeover: with their saved profile, read now, so a profile applies
    /// to every takeover after it was saved. Without the store, the takeover itself fails; a
    /// failed read here only costs the profile, never the takeover.
    pub async fn operator_ref(&self, op: &OperatorSession) -> OperatorRef {
        let profile = match self
            .inner
            .store
            .profile(&op.workspace.id, &op.claims.sub)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, operator = %op.claims.sub, "profile unavailable at takeover");
                None
            }
        };
        crate::profile::operator_ref(&op.claims.sub, &op.claims.name, profile.as_ref())
    }

    pub async fn takeover(
        &self,
        op: &OperatorSession,
        conversation_id: &str,
    ) -> Result<ConversationMeta, ErrorFrame> {
        // The conversation's workspace and the operator's profile in one round trip's time
        // (both ride the node's multiplexed connection). A refused takeover has read the
        // profile for nothing, which is rare; every accepted one saves a round trip.
        let (found, me) = tokio::join!(
            self.conversation_for(op, conversation_id),
            self.operator_ref(op)
        );
        found?;
        if let Err(e) = crate::control::check_plan(op.workspace.plan) {
            self.audit(
                &op.workspace.id,
                AuditEntry {
                    at: now_ms(),
                    actor: Some(op.audit_actor()),
                    action: AuditAction::PlanRefused,
                    conversation_id: Some(conversation_id.to_owned()),
                    reason: None,
                    holder_id: None,
                },
            )
            .await;
            return Err(error_frame(&e.into(), conversation_id));
        }
        let change = self
            .inner
            .store
            .takeover(conversation_id, &me, now_ms())
            .await
            .map_err(|e| error_frame(&e, conversation_id))?;
        if let Some(event) = &change.event {
            // Stop the local generation now; other nodes stop theirs when the event reaches
            // them, and the epoch fence refuses whatever still finishes.
            self.cancel_reply(conversation_id);
            let m = &self.inner.metrics;
            m.bump(&m.takeovers, 1);
            self.publish_event(&change.meta, event, None).await;
            let entry = AuditEntry {
                at: event.at,
                actor: Some(op.audit_actor()),
                action: AuditAction::Takeover,
                conversation_id: Some(conversation_id.to_owned()),
                reason: None,
                holder_id: None,
            };
            // In this order: a team panel shows the entry, then the team as it now is.
            self.audit(&op.workspace.id, entry).await;
            self.team_changed(&op.workspace.id).await;
        }
        Ok(change.meta)
    }

    pub async fn release(
        &self,
        op: &OperatorSession,
        conversation_id: &str,
        force: bool,
    ) -> Result<ConversationMeta, ErrorFrame> {
        self.conversation_for(op, conversation_id).await?;
        let change = self
            .inner
            .store
            .release(conversation_id, &op.actor(), force, now_ms())
            .await
            .map_err(|e| error_frame(&e, conversation_id))?;
        if let Some(event) = &change.event {
            self.publish_event(&change.meta, event, None).await;
            self.resume_ai(&change.meta);
            if let EventKind::OperatorLeft {
                reason, operator, ..
            } = &event.kind
            {
                self.inner.metrics.release(*reason);
                self.audit(
                    &op.workspace.id,
                    AuditEntry {
                        at: event.at,
                        actor: Some(op.audit_actor()),
                        action: AuditAction::Release,
                        conversation_id: Some(conversation_id.to_owned()),
                        reason: Some(*reason),
                        holder_id: (operator.id != op.claims.sub).then(|| operator.id.clone()),
                    },
                )
                .await;
            }
            self.team_changed(&op.workspace.id).await;
        }
        Ok(change.meta)
    }

    /// Record an audit entry and show it live to the workspace's owners and editors.
    pub async fn audit(&self, workspace_id: &str, entry: AuditEntry) {
        if let Err(e) = self.inner.store.record_audit(workspace_id, &entry).await {
            warn!(workspace_id, error = %e, "audit entry not recorded");
            return;
        }
        let msg = BusMessage::Audit {
            workspace_id: workspace_id.to_owned(),
            entry,
        };
        self.publish(&Topic::Team(workspace_id.to_owned()), msg)
            .await;
    }

    /// Tell every node's team watchers that presence or holdings changed.
    pub async fn team_changed(&self, workspace_id: &str) {
        let msg = BusMessage::TeamChanged {
            workspace_id: workspace_id.to_owned(),
        };
        self.publish(&Topic::Team(workspace_id.to_owned()), msg)
            .await;
    }

    /// The team as the presence panel shows it: online means connected and seen within the
    /// holder grace (a crashed node's operators drop out after it).
    pub async fn team(&self, workspace_id: &str) -> Result<Vec<protocol::TeamMember>, StoreError> {
        let since = now_ms().saturating_sub(self.inner.config.holder_grace_ms);
        self.inner.store.team(workspace_id, since).await
    }

    /// An operator socket opened or closed.
    pub async fn operator_presence(&self, op: &OperatorSession, delta: i32) {
        let ws = &op.workspace.id;
        match self
            .inner
            .store
            .operator_presence(ws, &op.audit_actor(), delta, now_ms())
            .await
        {
            Ok(()) => self.team_changed(ws).await,
            Err(e) => warn!(workspace_id = %ws, error = %e, "operator presence not recorded"),
        }
    }

    pub async fn typing(&self, conversation_id: &str, author: Author, active: bool) {
        let msg = BusMessage::Typing {
            conversation_id: conversation_id.to_owned(),
            author,
            active,
            epoch: None,
        };
        self.publish(&Topic::Conversation(conversation_id.to_owned()), msg)
            .await;
    }

    /// A visitor socket opened or closed: update presence and the Online list.
    pub async fn visitor_presence(&self, conversation_id: &str, delta: i32) {
        match self
            .inner
            .store
            .visitor_presence(conversation_id, delta, now_ms())
            .await
        {
            Ok(meta) => self.publish_summary(&meta).await,
            Err(e) => warn!(conversation_id, error = %e, "visitor presence not recorded"),
        }
    }

    // ---- subscriptions ----------------------------------------------------------------------

    pub async fn subscribe(&self, conn: ConnId, topic: Topic) {
        self.inner.registry.subscribe(conn, &topic);
        self.sync_topic(topic).await;
    }

    pub async fn unsubscribe(&self, conn: ConnId, topic: Topic) {
        if self.inner.registry.unsubscribe(conn, &topic) {
            self.sync_topic(topic).await;
        }
    }

    pub async fn unregister(&self, conn: ConnId) {
        for topic in self.inner.registry.unregister(conn) {
            self.sync_topic(topic).await;
        }
    }

    /// Make the bus subscription of `topic` match whether any local client listens to it.
    async fn sync_topic(&self, topic: Topic) {
        let lock = self
            .inner
            .topic_locks
            .entry(topic.clone())
            .or_default()
            .clone();
        let mut subscribed = lock.lock().await;
        let wanted = self.inner.registry.has_subscribers(&topic) || self.generating(&topic);
        if wanted == *subscribed {
            return;
        }
        let result = if wanted {
            self.inner.bus.subscribe(&topic).await
        } else {
            self.inner.bus.unsubscribe(&topic).await
        };
        match result {
            Ok(()) => *subscribed = wanted,
            Err(e) => warn!(topic = topic.key(), error = %e, "bus subscription not changed"),
        }
        if !wanted {
            if let Topic::Conversation(id) = &topic {
                self.inner.fence.forget(id);
            }
            drop(subscribed);
            // Keep the lock table from growing with every conversation ever seen.
            self.inner
                .topic_locks
                .remove_if(&topic, |_, l| Arc::strong_count(l) == 1);
        }
    }

    fn generating(&self, topic: &Topic) -> bool {
        matches!(topic, Topic::Conversation(id) if self.inner.generations.contains_key(id))
    }

    // ---- publishing -------------------------------------------------------------------------

    /// To the other nodes through the bus, then to this node's own clients straight from here
    /// (the bus never hands a node its own publications back). By value: `dispatch_one`
    /// consumes it, no copy per publication.
    async fn publish(&self, topic: &Topic, msg: BusMessage) {
        self.publish_to_others(topic, &msg).await;
        self.dispatch_one(topic, msg);
    }

    /// The bus half of [`Hub::publish`].
    async fn publish_to_others(&self, topic: &Topic, msg: &BusMessage) {
        if let Err(e) = self.inner.bus.publish(topic, msg).await {
            // The event is stored: subscribers catch up by sequence number.
            self.inner
                .metrics
                .bump(&self.inner.metrics.publish_errors, 1);
            warn!(topic = topic.key(), error = %e, "publish failed");
        }
    }

    /// `announced_at`: when the store already published it to the other nodes, in the same step
    /// as storing it (`Store::append_announced`); then only this node's clients get it here.
    async fn publish_event(
        &self,
        meta: &ConversationMeta,
        event: &ConversationEvent,
        announced_at: Option<u64>,
    ) {
        let topic = Topic::Conversation(meta.id.clone());
        let published_us = announced_at.unwrap_or_else(crate::util::now_us);
        // Once announced, the store has published it to the other nodes in the same step; a
        // single node has none to tell. Either way no copy of the event is made for the bus.
        if announced_at.is_none() && !self.inner.bus.single_node() {
            let msg = BusMessage::Event {
                conversation_id: meta.id.clone(),
                event: event.clone(),
                published_us,
            };
            self.publish_to_others(&topic, &msg).await;
        }
        self.dispatch_event(&topic, &meta.id, event, published_us);
        self.publish_summary(meta).await;
    }

    /// Mark a conversation's Online list row as changed. Rows are published at most once per
    /// [`ONLINE_COALESCE`] per conversation: a busy conversation does not send every dashboard a
    /// row per message (the load generator saw dashboards of a busy workspace fall behind and get
    /// cut off without this). The row is the one `meta` (the result of the store operation that
    /// changed it) gives; of two racing operations, the one that saw the later event wins.
    async fn publish_summary(&self, meta: &ConversationMeta) {
        let refresh = |row: &mut PendingRow| {
            if meta.last_seq >= row.summary.last_seq {
                row.active = meta.active;
                meta.update_summary(&mut row.summary);
            }
        };
        // Usually the row is pending already (a busy conversation): no key to allocate.
        if let Some(mut row) = self.inner.changed_rows.get_mut(meta.id.as_str()) {
            refresh(&mut row);
            return;
        }
        match self.inner.changed_rows.entry(meta.id.clone()) {
            // Marked by another task between the two lookups.
            dashmap::Entry::Occupied(mut row) => refresh(row.get_mut()),
            dashmap::Entry::Vacant(slot) => {
                slot.insert(PendingRow {
                    workspace_id: meta.workspace_id.clone(),
                    active: meta.active,
                    summary: meta.summary(),
                });
            }
        }
    }

    /// Publish the rows marked since the last round.
    async fn flush_rows(&self) {
        let mut by_workspace: HashMap<WorkspaceId, Vec<ConversationSummary>> = HashMap::new();
        let ids: Vec<String> = self
            .inner
            .changed_rows
            .iter()
            .map(|e| e.key().clone())
            .collect();
        for id in ids {
            let Some((_, row)) = self.inner.changed_rows.remove(&id) else {
                continue;
            };
            let (workspace_id, summary) = if row.active && row.summary.visitor_online {
                // It cannot have left the list since: only conversations without a visitor
                // connected are swept, and its visitor leaving makes a newer row, read below.
                (row.workspace_id, row.summary)
            } else {
                // Any node may have swept it off the list meanwhile: a stale copy must not
                // bring it back, so read it fresh (the rare case: no visitor connected).
                match self.inner.store.get(&id).await {
                    Ok(Some(meta)) if meta.active => (meta.workspace_id.clone(), meta.summary()),
                    Ok(_) => continue,
                    Err(e) => {
                        warn!(conversation_id = id, error = %e, "online row not published");
                        continue;
                    }
                }
            };
            by_workspace.entry(workspace_id).or_default().push(summary);
        }
        for (topic, msg) in row_publications(by_workspace) {
            self.publish(&topic, msg).await;
        }
    }

    async fn online_rows(self) {
        let mut ticker = tokio::time::interval(ONLINE_COALESCE);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                _ = ticker.tick() => self.flush_rows().await,
            }
        }
    }

    // ---- the assistant ----------------------------------------------------------------------

    /// Start the assistant on the conversation's latest message, under its current epoch.
    /// A newer visitor message replaces a running generation.
    fn start_reply(&self, meta: &ConversationMeta) {
        let token = self.inner.shutdown.child_token();
        let generation = self
            .inner
            .next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let draft_id = random_id("d_");
        let snapshot = Arc::new(tokio::sync::Notify::new());
        if let Some(old) = self.inner.generations.insert(
            meta.id.clone(),
            Generation {
                id: generation,
                draft_id: draft_id.clone(),
                cancel: token.clone(),
                snapshot: snapshot.clone(),
            },
        ) {
            old.cancel.cancel();
        }
        let hub = self.clone();
        let conversation_id = meta.id.clone();
        let workspace_id = meta.workspace_id.clone();
        let epoch = meta.control.epoch;
        let timeout = Duration::from_millis(self.inner.config.assistant_timeout_ms);
        self.inner.metrics.bump(&self.inner.metrics.ai_started, 1);
        self.inner.metrics.add(&self.inner.metrics.ai_running, 1);
        self.inner.tasks.spawn(async move {
            let topic = Topic::Conversation(conversation_id.clone());
            // Listen to the conversation while generating, wherever its clients are: a node that
            // missed a piece of the draft asks this one for a snapshot on it.
            hub.sync_topic(topic.clone()).await;
            hub.ai_typing(&conversation_id, epoch, true).await;
            let (draft, mut partial) = crate::assistant::Draft::new();
            let generate = hub.generate(&conversation_id, &workspace_id, &draft);
            tokio::pin!(generate);
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            let mut pieces = protocol::draft::DraftPieces::new();
            let mut streamed = false;
            // When the next piece may go, and whether a change waits for it.
            let mut next_piece = tokio::time::Instant::now();
            let mut waiting = false;
            // One task drives the backend and publishes its draft. Pieces go at most every
            // DRAFT_INTERVAL: a backend streaming a token at a time would otherwise cost a frame
            // per token to the visitor, to every watching dashboard and across the bus. The
            // watch channel keeps only the latest text, so a piece covers every step since the
            // last; and no draft frame can follow the final `done`/`discarded`.
            let outcome = loop {
                let wake = tokio::select! {
                    biased;
                    () = token.cancelled() => break None,
                    reply = &mut generate => break Some(reply),
                    () = &mut deadline => break Some(Err(AssistantError::Timeout)),
                    () = snapshot.notified(), if streamed => Wake::SnapshotWanted,
                    () = tokio::time::sleep_until(next_piece), if waiting => Wake::Due,
                    Ok(()) = partial.changed(), if !waiting => Wake::Changed,
                };
                if wake == Wake::Changed && tokio::time::Instant::now() < next_piece {
                    waiting = true;
                    continue;
                }
                waiting = false;
                let text = partial.borrow_and_update().clone();
                let snapshot = wake == Wake::SnapshotWanted;
                if let Some((offset, piece)) = pieces.next(&text, snapshot) {
                    streamed = true;
                    next_piece = tokio::time::Instant::now() + DRAFT_INTERVAL;
                    let piece = DraftPiece {
                        draft_id: &draft_id,
                        epoch,
                        offset,
                        text: piece,
                    };
                    hub.draft(&conversation_id, piece, DraftState::Streaming)
                        .await;
                }
            };
            let metrics = &hub.inner.metrics;
            let end = match outcome {
                None => {
                    metrics.bump(&metrics.ai_cancelled, 1);
                    DraftState::Discarded
                }
                Some(Err(e)) => {
                    warn!(conversation_id, kind = e.kind(), error = %e, "assistant failed");
                    metrics.ai_failure(e.kind());
                    hub.append_fallback(&conversation_id, epoch).await;
                    DraftState::Discarded
                }
                Some(Ok(reply)) => {
                    if hub.append_reply(&conversation_id, epoch, reply).await {
                        DraftState::Done
                    } else {
                        DraftState::Discarded
                    }
                }
            };
            if streamed {
                let piece = DraftPiece {
                    draft_id: &draft_id,
                    epoch,
                    offset: pieces.sent_len(),
                    text: "",
                };
                hub.draft(&conversation_id, piece, end).await;
            }
            hub.ai_typing(&conversation_id, epoch, false).await;
            hub.inner
                .generations
                .remove_if(&conversation_id, |_, g| g.id == generation);
            hub.sync_topic(topic).await;
            hub.inner
                .metrics
                .ai_running
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        });
    }

    /// Show (or end) the AI's draft reply to everyone in the conversation.
    async fn draft(&self, conversation_id: &str, piece: DraftPiece<'_>, state: DraftState) {
        let msg = BusMessage::AiDraft {
            conversation_id: conversation_id.to_owned(),
            draft_id: piece.draft_id.to_owned(),
            epoch: piece.epoch,
            offset: piece.offset,
            text: piece.text.to_owned(),
            state,
        };
        self.publish(&Topic::Conversation(conversation_id.to_owned()), msg)
            .await;
    }

    /// The AI is thinking (or stopped), in the turn of control epoch `epoch`.
    async fn ai_typing(&self, conversation_id: &str, epoch: u64, active: bool) {
        let msg = BusMessage::Typing {
            conversation_id: conversation_id.to_owned(),
            author: Author::Ai,
            active,
            epoch: Some(epoch),
        };
        self.publish(&Topic::Conversation(conversation_id.to_owned()), msg)
            .await;
    }

    async fn generate(
        &self,
        conversation_id: &str,
        workspace_id: &str,
        draft: &crate::assistant::Draft,
    ) -> Result<crate::assistant::Reply, AssistantError> {
        let transcript = self
            .inner
            .store
            .history(conversation_id, 0, HISTORY_LIMIT)
            .await
            .map_err(|e| AssistantError::Failed(format!("history unavailable: {e}")))?;
        let req = crate::assistant::ReplyRequest {
            workspace_id,
            conversation_id,
            transcript: &transcript,
            draft,
        };
        self.inner.assistant.reply(&req).await
    }

    /// The backend failed: tell the visitor briefly, under the same fence as a reply (never
    /// after a takeover), so the conversation is never left hanging.
    async fn append_fallback(&self, conversation_id: &str, epoch: u64) {
        let draft = Draft::Message {
            author: Author::Ai,
            text: FALLBACK_TEXT.into(),
            client_id: None,
        };
        if let Err(e) = self
            .append_event(conversation_id, draft, Fence::Ai { epoch })
            .await
        {
            debug!(conversation_id, error = %e, "fallback not stored");
        }
    }

    /// Store a finished reply; `false` when it was fenced off or not stored.
    async fn append_reply(
        &self,
        conversation_id: &str,
        epoch: u64,
        reply: crate::assistant::Reply,
    ) -> bool {
        let metrics = &self.inner.metrics;
        let draft = Draft::Message {
            author: Author::Ai,
            text: reply.text,
            client_id: None,
        };
        let fence = Fence::Ai { epoch };
        match self
            .append_event(conversation_id, draft, fence.clone())
            .await
        {
            Ok(_) => metrics.bump(&metrics.ai_replies, 1),
            Err(StoreError::Control(_)) => {
                debug!(conversation_id, "AI reply fenced off by a takeover");
                metrics.bump(&metrics.ai_fenced, 1);
                return false;
            }
            Err(e) => {
                warn!(conversation_id, error = %e, "AI reply not stored");
                metrics.ai_failure("store");
                return false;
            }
        }
        if reply.needs_human {
            let draft = Draft::HumanRequested {
                by: HumanRequestedBy::Assistant,
            };
            if let Err(e) = self.append_event(conversation_id, draft, fence).await {
                debug!(conversation_id, error = %e, "request for a human not stored");
            }
        }
        true
    }

    fn cancel_reply(&self, conversation_id: &str) {
        if let Some((_, g)) = self.inner.generations.remove(conversation_id) {
            g.cancel.cancel();
        }
    }

    /// A node missed a piece of the draft `draft_id`: if it is this node's, send it whole.
    fn snapshot_wanted(&self, conversation_id: &str, draft_id: &str) {
        if let Some(g) = self.inner.generations.get(conversation_id)
            && g.draft_id == draft_id
        {
            g.snapshot.notify_one();
        }
    }

    // ---- background tasks -------------------------------------------------------------------

    /// Route what the bus delivers to local connections.
    async fn dispatch(self, mut inbox: Inbox) {
        loop {
            let (topic, msg) = tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                next = inbox.recv() => match next {
                    Some(m) => m,
                    None => return,
                },
            };
            self.dispatch_one(&topic, msg);
        }
    }

    fn dispatch_one(&self, topic: &Topic, msg: BusMessage) {
        match msg {
            BusMessage::Event {
                conversation_id,
                event,
                published_us,
            } => self.dispatch_event(topic, &conversation_id, &event, published_us),
            BusMessage::DraftWanted {
                conversation_id,
                draft_id,
            } => self.snapshot_wanted(&conversation_id, &draft_id),
            BusMessage::Resync => {
                let m = &self.inner.metrics;
                m.bump(&m.resyncs, 1);
                let out = self.inner.registry.broadcast(&Outbound::Resync);
                m.bump(&m.slow_closes, out.kicked as u64);
            }
            other => self.dispatch_frames(topic, other),
        }
    }

    /// Hand an event to this node's subscribers of `topic`. Borrowed: an event stored and
    /// published here is delivered without a copy of it.
    fn dispatch_event(
        &self,
        topic: &Topic,
        conversation_id: &str,
        event: &ConversationEvent,
        published_us: u64,
    ) {
        if matches!(event.kind, EventKind::OperatorJoined { .. }) {
            // A takeover made on any node silences this node's generation, whoever listens.
            self.cancel_reply(conversation_id);
        }
        if !self.inner.registry.has_subscribers(topic) {
            // Nobody here listens (any more): skip serializing it.
            return;
        }
        let json = |event: &ConversationEvent| {
            frame_json(&EventFrame {
                conversation_id,
                event,
            })
        };
        let for_operators = json(event);
        // Most events (a visitor's or the AI's message) read the same for both: serialized
        // once then.
        let for_visitors = if event.kind.names_an_operator() {
            json(&event.for_visitor())
        } else {
            for_operators.clone()
        };
        let item = Outbound::Event(Arc::new(Delivery {
            seq: event.seq,
            published_us,
            for_operators,
            for_visitors,
            conversation_id: conversation_id.into(),
        }));
        match event.kind {
            // A change of control raises the node's AI fence in the same step as it is queued.
            EventKind::OperatorJoined { epoch, .. } | EventKind::OperatorLeft { epoch, .. } => {
                self.inner
                    .fence
                    .control(conversation_id, epoch, || self.fan_out(topic, &item));
            }
            _ => self.fan_out(topic, &item),
        }
    }

    /// Every other bus message: the frames it makes, for this node's subscribers of `topic`.
    fn dispatch_frames(&self, topic: &Topic, msg: BusMessage) {
        if !self.inner.registry.has_subscribers(topic) {
            // Nobody here listens (any more): skip serializing it.
            return;
        }
        let item = match msg {
            // Dispatched by `dispatch_one`.
            BusMessage::Event { .. } | BusMessage::Resync | BusMessage::DraftWanted { .. } => {
                return;
            }
            BusMessage::Typing {
                conversation_id,
                author,
                active,
                epoch,
            } => {
                let for_visitors = frame_json(&ServerFrame::Typing {
                    conversation_id: conversation_id.clone(),
                    author: author.for_visitor(),
                    active,
                });
                let item = Outbound::frame(Frames {
                    for_operators: frame_json(&ServerFrame::Typing {
                        conversation_id: conversation_id.clone(),
                        author,
                        active,
                    }),
                    for_visitors: Some(for_visitors),
                });
                match epoch {
                    Some(epoch) => {
                        let verdict = self.inner.fence.typing(&conversation_id, epoch, || {
                            self.fan_out(topic, &item);
                        });
                        self.count_fenced(verdict);
                    }
                    None => self.fan_out(topic, &item),
                }
                return;
            }
            BusMessage::AiDraft {
                conversation_id,
                draft_id,
                epoch,
                offset,
                text,
                state,
            } => {
                self.dispatch_draft(topic, conversation_id, draft_id, epoch, offset, text, state);
                return;
            }
            BusMessage::Summaries { summaries, .. } => {
                for summary in summaries {
                    let row = Outbound::frame(Frames {
                        for_operators: frame_json(&ServerFrame::OnlineUpdate {
                            conversation: summary,
                        }),
                        for_visitors: None,
                    });
                    self.fan_out(topic, &row);
                }
                return;
            }
            BusMessage::Removed {
                conversation_id, ..
            } => Outbound::frame(Frames {
                for_operators: frame_json(&ServerFrame::OnlineRemove { conversation_id }),
                for_visitors: None,
            }),
            BusMessage::TeamChanged { workspace_id } => {
                Outbound::TeamRefresh(Arc::new(workspace_id))
            }
            BusMessage::Audit { entry, .. } => Outbound::frame(Frames {
                for_operators: frame_json(&ServerFrame::AuditEntry { entry }),
                for_visitors: None,
            }),
            BusMessage::ControlWarning {
                conversation_id,
                holder_id,
                release_at,
            } => Outbound::frame(Frames {
                for_operators: frame_json(&ServerFrame::ControlWarning {
                    conversation_id,
                    holder_id,
                    reason: protocol::ReleaseReason::Idle,
                    release_at,
                }),
                for_visitors: None,
            }),
        };
        self.fan_out(topic, &item);
    }

    /// A piece of an AI draft, through the node's fence.
    #[allow(clippy::too_many_arguments)]
    fn dispatch_draft(
        &self,
        topic: &Topic,
        conversation_id: String,
        draft_id: String,
        epoch: u64,
        offset: u32,
        text: String,
        state: DraftState,
    ) {
        let piece = crate::drafts::Piece {
            draft_id: &draft_id,
            epoch,
            offset,
            text: &text,
            state,
        };
        let verdict = self.inner.fence.draft(&conversation_id, piece, || {
            let frame = frame_json(&ServerFrame::AiDraft {
                conversation_id: conversation_id.clone(),
                draft_id: draft_id.clone(),
                epoch,
                offset,
                text: text.clone(),
                state,
            });
            self.fan_out(
                topic,
                &Outbound::frame(Frames {
                    for_operators: frame.clone(),
                    for_visitors: Some(frame),
                }),
            );
        });
        self.count_fenced(verdict);
        if verdict == crate::drafts::Verdict::DeliveredWantSnapshot {
            let hub = self.clone();
            let topic = topic.clone();
            self.inner.tasks.spawn(async move {
                let msg = BusMessage::DraftWanted {
                    conversation_id,
                    draft_id,
                };
                hub.publish(&topic, msg).await;
            });
        }
    }

    fn count_fenced(&self, verdict: crate::drafts::Verdict) {
        if verdict == crate::drafts::Verdict::Stale {
            let m = &self.inner.metrics;
            m.bump(&m.ai_frames_fenced, 1);
        }
    }

    /// Queue `item` for every local subscriber of `topic`; a full queue closes its connection.
    fn fan_out(&self, topic: &Topic, item: &Outbound) {
        let out = self.inner.registry.fan_out(topic, item);
        if out.kicked > 0 {
            let m = &self.inner.metrics;
            m.bump(&m.slow_closes, out.kicked as u64);
        }
    }

    /// The node's periodic work: refresh the presence of its clients, release holdings whose
    /// holder is gone or idle (and warn before), count vanished visitors offline, and take idle
    /// conversations off the Online list. Every node does it; the store steps are atomic and
    /// exact, so doing it on several nodes at once changes nothing twice.
    async fn housekeeping(self) {
        let every = self.inner.config.housekeeping_interval();
        let sweep_every = Duration::from_millis(self.inner.config.sweep_interval_ms.max(10));
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            self.heal_bus().await;
            let now = std::time::Instant::now();
            self.inner.connect_limits.prune(now);
            self.inner.workspace_limits.prune(now);
            self.inner.upload_limits.prune(now);
            if let Err(e) = self.refresh_presence().await {
                warn!(error = %e, "presence not refreshed");
            }
            if let Err(e) = self.check_holdings().await {
                warn!(error = %e, "holdings not checked");
            }
            if let Err(e) = self.expire_human_requests().await {
                warn!(error = %e, "human requests not checked");
            }
            if last_sweep.elapsed() >= sweep_every {
                last_sweep = tokio::time::Instant::now();
                if let Err(e) = self.sweep_idle().await {
                    warn!(error = %e, "idle sweep failed");
                }
            }
            let m = &self.inner.metrics;
            m.bump(&m.housekeeping_rounds, 1);
        }
    }

    /// Keep the bus subscribed to what local clients need: revive a dead subscriber (the
    /// heartbeat) and retry subscriptions that failed while the bus was away.
    async fn heal_bus(&self) {
        if let Err(e) = self.inner.bus.heartbeat().await {
            debug!(error = %e, "bus heartbeat failed");
            return;
        }
        for topic in self.inner.registry.topics() {
            self.sync_topic(topic).await;
        }
    }

    /// Tell the store this node's operators and visitors are still here.
    pub async fn refresh_presence(&self) -> Result<(), StoreError> {
        let (operators, visitors) = self.inner.registry.present();
        let now = now_ms();
        let store = &self.inner.store;
        store.operators_seen(&operators, now).await?;
        store.visitors_seen(&visitors, now).await?;
        let cutoff = now.saturating_sub(self.inner.config.holder_grace_ms);
        for meta in store.expire_visitors(cutoff).await? {
            self.publish_summary(&meta).await;
        }
        Ok(())
    }

    async fn check_holdings(&self) -> Result<(), StoreError> {
        let limits = self.inner.config.hold_limits();
        let store = &self.inner.store;
        for h in store.holdings().await? {
            let now = now_ms();
            match crate::control::check_hold(now, h.seen, h.active, &limits) {
                HoldCheck::Keep => {}
                HoldCheck::Warn { release_at } => {
                    if store.mark_warned(&h.conversation_id, h.epoch).await? {
                        let msg = BusMessage::ControlWarning {
                            conversation_id: h.conversation_id.clone(),
                            holder_id: h.holder_id.clone(),
                            release_at,
                        };
                        self.publish(&Topic::Conversation(h.conversation_id), msg)
                            .await;
                    }
                }
                HoldCheck::Release(reason) => {
                    let change = store
                        .auto_release(&h.conversation_id, &h.holder_id, h.epoch, reason, now)
                        .await?;
                    // `None`: another node got there first, or the holder acted meanwhile.
                    if let Some(event) = &change.event {
                        info!(
                            conversation_id = h.conversation_id,
                            ?reason,
                            "control returned to the AI"
                        );
                        self.inner.metrics.release(reason);
                        self.audit(
                            &h.workspace_id,
                            AuditEntry {
                                at: now,
                                actor: None,
                                action: AuditAction::Release,
                                conversation_id: Some(h.conversation_id.clone()),
                                reason: Some(reason),
                                holder_id: Some(h.holder_id.clone()),
                            },
                        )
                        .await;
                        self.team_changed(&h.workspace_id).await;
                        self.publish_event(&change.meta, event, None).await;
                        self.resume_ai(&change.meta);
                    }
                }
            }
        }
        Ok(())
    }

    /// Requests for a human nobody answered in time: the visitor is told (the event), the
    /// conversation stops waiting, and the AI carries on with the next message.
    async fn expire_human_requests(&self) -> Result<(), StoreError> {
        let now = now_ms();
        let cutoff = now.saturating_sub(self.inner.config.human_wait_ms);
        for (meta, event) in self.inner.store.expire_human_requests(cutoff, now).await? {
            let m = &self.inner.metrics;
            m.bump(&m.human_requests_expired, 1);
            info!(
                conversation_id = meta.id,
                "nobody answered the request for a human"
            );
            self.publish_event(&meta, &event, None).await;
        }
        Ok(())
    }

    /// The visitor asks for a human. Nothing to do while an operator holds the conversation or
    /// a request is already waiting (a second click must not alert the team twice).
    pub async fn request_human(&self, conversation_id: &str) -> Result<(), ErrorFrame> {
        let meta = match self.inner.store.get(conversation_id).await {
            Ok(Some(meta)) => meta,
            Ok(None) => return Err(error_frame(&StoreError::NotFound, conversation_id)),
            Err(e) => return Err(error_frame(&e, conversation_id)),
        };
        if meta.needs_human || !matches!(meta.control.holder, Holder::Ai) {
            return Ok(());
        }
        let draft = Draft::HumanRequested {
            by: HumanRequestedBy::Visitor,
        };
        let fence = Fence::Ai {
            epoch: meta.control.epoch,
        };
        match self.append_event(conversation_id, draft, fence).await {
            // An operator took over meanwhile: the visitor has their human.
            Ok(_) | Err(StoreError::Control(_)) => Ok(()),
            Err(e) => Err(error_frame(&e, conversation_id)),
        }
    }

    /// After a hand-back, the AI answers a visitor message that nobody answered (the visitor
    /// wrote last), so the conversation never stalls between the human and the AI.
    fn resume_ai(&self, meta: &ConversationMeta) {
        let visitor_waiting = meta
            .last_message
            .as_ref()
            .is_some_and(|m| m.author == protocol::AuthorKind::Visitor);
        if visitor_waiting && matches!(meta.control.holder, Holder::Ai) {
            self.start_reply(meta);
        }
    }

    async fn sweep_idle(&self) -> Result<(), StoreError> {
        let idle_ms = self.inner.config.conversation_idle_secs * 1000;
        let cutoff = now_ms().saturating_sub(idle_ms);
        for meta in self.inner.store.deactivate_idle(cutoff).await? {
            let msg = BusMessage::Removed {
                workspace_id: meta.workspace_id.clone(),
                conversation_id: meta.id.clone(),
            };
            self.publish(&Topic::Workspace(meta.workspace_id), msg)
                .await;
        }
        Ok(())
    }
}

/// Serialize a frame. Our frames always serialize; should one ever not, clients get an
/// `internal` error instead of a dropped socket.
pub fn frame_json(frame: &impl serde::Serialize) -> Arc<str> {
    frame_text(frame).into()
}

/// [`ServerFrame::Event`] from borrowed parts: the same JSON (a test compares them), without
/// copying the event and its conversation id into a frame first.
#[derive(serde::Serialize)]
#[serde(tag = "type", rename = "event")]
struct EventFrame<'a> {
    conversation_id: &'a str,
    event: &'a ConversationEvent,
}

/// [`frame_json`] for a frame sent to one connection: no shared copy needed.
pub fn frame_text(frame: &impl serde::Serialize) -> String {
    // Most frames are a few hundred bytes: one allocation instead of growing from 128.
    let mut out = Vec::with_capacity(512);
    match serde_json::to_writer(&mut out, frame) {
        // serde_json writes UTF-8 only.
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(e) => {
            warn!(error = %e, "frame did not serialize");
            r#"{"type":"error","code":"internal","message":"frame did not serialize","retryable":true}"#
                .into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ConnKind;

    /// The borrowed event frame writes what `ServerFrame::Event` writes, byte for byte, for
    /// operators and for visitors.
    #[test]
    fn the_borrowed_event_frame_is_the_protocols() {
        let martin = OperatorRef {
            id: "op-martin".into(),
            name: "Martin \"M\" Ruiz".into(),
            display_name: Some("Martin from Support".into()),
            avatar_url: Some("/avatars/m.png".into()),
        };
        let kinds = [
            EventKind::Message {
                author: Author::Visitor,
                text: "Where is my parcel?\n\u{1f}é".into(),
                client_id: Some("c-1".into()),
            },
            EventKind::Message {
                author: Author::Operator(martin.clone()),
                text: "On its way".into(),
                client_id: None,
            },
            EventKind::OperatorJoined {
                operator: martin,
                epoch: 3,
            },
        ];
        for kind in kinds {
            let event = ConversationEvent {
                seq: 7,
                at: 1_700_000_000_000,
                kind,
            };
            for event in [event.clone(), event.for_visitor()] {
                let borrowed = frame_text(&EventFrame {
                    conversation_id: "conv-1",
                    event: &event,
                });
                let owned = frame_text(&ServerFrame::Event {
                    conversation_id: "conv-1".into(),
                    event,
                });
                assert_eq!(borrowed, owned);
            }
        }
    }

    /// Online list frames queued for a dashboard connection, as their `type`s.
    fn online_frames(rx: &mut crate::registry::ConnRx) -> Vec<String> {
        let mut kinds = Vec::new();
        while let Ok(item) = rx.rx.try_recv() {
            if let Outbound::Frame(f) = item {
                let v: serde_json::Value = serde_json::from_str(&f.for_operators).expect("json");
                kinds.push(v["type"].as_str().unwrap_or_default().to_owned());
            }
        }
        kinds
    }

    #[test]
    fn a_rounds_rows_go_out_in_one_publication_per_workspace() {
        let row = |id: usize| ConversationSummary {
            id: format!("c{id}"),
            visitor_label: "Visitor".into(),
            started_at: 0,
            last_activity_at: 0,
            last_message: None,
            control: protocol::ControlState {
                holder: Holder::Ai,
                epoch: 0,
            },
            needs_human: false,
            visitor_online: true,
            last_seq: 0,
        };
        let by_workspace = HashMap::from([
            ("busy".to_owned(), (0..70).map(row).collect::<Vec<_>>()),
            ("quiet".to_owned(), vec![row(100)]),
        ]);
        let mut sizes: Vec<(String, usize)> = row_publications(by_workspace)
            .into_iter()
            .map(|(topic, msg)| match msg {
                BusMessage::Summaries {
                    workspace_id,
                    summaries,
                } => {
                    assert_eq!(topic, Topic::Workspace(workspace_id.clone()));
                    (workspace_id, summaries.len())
                }
                other => panic!("not rows: {other:?}"),
            })
            .collect();
        sizes.sort();
        assert_eq!(
            sizes,
            [
                ("busy".to_owned(), 70 - ROWS_PER_PUBLICATION),
                ("busy".to_owned(), ROWS_PER_PUBLICATION),
                ("quiet".to_owned(), 1)
            ]
        );
    }

    /// A row waiting for its round is published as the operation that changed it left it,
    /// except when no visitor is connected: then any node's idle sweep may have taken the
    /// conversation off the list meanwhile, and the stale copy would list it again, with
    /// nothing left to remove it. (Paused clock: the background rounds do not interleave.)
    #[tokio::test(start_paused = true)]
    async fn a_pending_row_never_lists_a_swept_conversation_again() {
        let hub = crate::server::build(Config::for_tests(), None)
            .await
            .expect("hub");
        let (meta, _) = hub
            .visitor_sign_in("demo-pro", None, None)
            .await
            .expect("sign in");
        let mut dashboard = hub.inner.registry.register(ConnKind::Operator, 64);
        hub.subscribe(dashboard.id, Topic::Workspace(meta.workspace_id.clone()))
            .await;

        hub.visitor_presence(&meta.id, 1).await;
        hub.flush_rows().await;
        assert_eq!(online_frames(&mut dashboard), ["online_update"]);

        // The visitor leaves; before the next round, the conversation is swept off the list.
        hub.visitor_presence(&meta.id, -1).await;
        let swept = hub.inner.store.deactivate_idle(protocol::Millis::MAX).await;
        assert_eq!(swept.expect("sweep").len(), 1);
        hub.flush_rows().await;
        assert!(online_frames(&mut dashboard).is_empty());
    }
}
