//! What sessions ask of the node: messages, takeover, release, requests for a human, presence
//! and typing. Each becomes one atomic store step, then its publication.

use super::Hub;
use super::OperatorSession;
use super::error_frame;
use crate::bus::BusMessage;
use crate::bus::Topic;
use crate::control::Writer;
use crate::store::Announce;
use crate::store::Appended;
use crate::store::ConversationMeta;
use crate::store::NewEvent;
use crate::store::StoreError;
use crate::util::now_ms;
use protocol::AuditAction;
use protocol::AuditEntry;
use protocol::Author;
use protocol::ErrorCode;
use protocol::ErrorFrame;
use protocol::EventKind;
use protocol::Holder;
use protocol::HumanRequestedBy;
use protocol::OperatorRef;
use tracing::warn;

/// Most takeovers one node runs at once; see [`Hub::control_turn`].
pub const CONTROL_IN_FLIGHT: usize = 64;
/// How long a takeover waits for its turn before it is refused as `unavailable`.
const CONTROL_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
/// When a takeover refused for a busy node is told to retry.
const CONTROL_RETRY_MS: u32 = 250;

impl Hub {
    // ---- conversation actions ---------------------------------------------------------------

    /// The conversation, if it belongs to the operator's workspace. Other workspaces' ids get
    /// exactly the same answer as ids that do not exist (the store looks them up under the
    /// operator's workspace, where they are not).
    pub async fn conversation_for(
        &self,
        op: &OperatorSession,
        conversation_id: &str,
    ) -> Result<ConversationMeta, ErrorFrame> {
        match self
            .inner
            .conversations
            .get(&op.workspace.id, conversation_id)
            .await
        {
            Ok(Some(meta)) => Ok(meta),
            Ok(None) => Err(error_frame(&StoreError::NotFound, conversation_id)),
            Err(e) => Err(error_frame(&e, conversation_id)),
        }
    }

    /// `files`: ids of files this visitor uploaded to the conversation (none: no store read).
    pub async fn visitor_message(
        &self,
        ws: &str,
        conversation_id: &str,
        client_id: String,
        text: String,
        files: Option<Box<Vec<String>>>,
    ) -> Result<Appended, ErrorFrame> {
        let attachments = self
            .attachments_for(
                ws,
                conversation_id,
                files.as_deref(),
                &crate::store::desk::Uploader::Visitor,
            )
            .await
            .map_err(|e| e.client(client_id.clone()))?;
        let draft = NewEvent::Message {
            author: Author::Visitor,
            text,
            client_id: Some(client_id.clone()),
            attachments,
        };
        let appended = self
            .append_event(ws, conversation_id, draft, Writer::Visitor)
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
        files: Option<Box<Vec<String>>>,
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
        let uploader = crate::store::desk::Uploader::Operator {
            id: op.claims.sub.clone(),
        };
        let attachments = self
            .attachments_for(
                &op.workspace.id,
                conversation_id,
                files.as_deref(),
                &uploader,
            )
            .await
            .map_err(|e| e.client(client_id.clone()))?;
        let draft = NewEvent::Message {
            author,
            text,
            client_id: Some(client_id.clone()),
            attachments,
        };
        let fence = Writer::Operator(op.claims.sub.clone());
        let appended = self
            .append_event(&op.workspace.id, conversation_id, draft, fence)
            .await
            .map_err(|e| error_frame(&e, conversation_id).client(client_id))?;
        if !appended.duplicate {
            let m = &self.inner.metrics;
            m.add(&m.messages_in_operator, 1);
            if appended.meta.follow_up {
                self.follow_up_answered(&appended.meta, appended.event.seq)
                    .await;
            }
        }
        Ok(appended)
    }

    /// Store an event and publish it (unless it is a re-sent duplicate). When the store can
    /// publish in the same atomic step (Redis), it does: one round trip for the whole message.
    pub(super) async fn append_event(
        &self,
        ws: &str,
        conversation_id: &str,
        draft: NewEvent,
        fence: Writer,
    ) -> Result<Appended, StoreError> {
        let store = &self.inner.conversations;
        let topic = Topic::conversation(ws, conversation_id);
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
                    .append_announced(ws, conversation_id, draft, fence, now_ms(), &announce)
                    .await?
            }
            None => (
                store
                    .append(ws, conversation_id, draft, fence, now_ms())
                    .await?,
                false,
            ),
        };
        if !appended.duplicate {
            let announced_at = announced.then_some(published_us);
            self.publish_event_json(
                &appended.meta,
                &appended.event,
                appended.event_json.as_deref(),
                announced_at,
            )
            .await;
            if let EventKind::HumanRequested { .. } = appended.event.kind {
                // For whoever answers: made while they are alerted, off this path.
                self.start_brief(ws, conversation_id, appended.meta.control.epoch);
            }
        }
        Ok(appended)
    }

    /// How `op` appears at a takeover: with their saved profile, read now, so a profile applies
    /// to every takeover after it was saved. Without the store, the takeover itself fails; a
    /// failed read here only costs the profile, never the takeover.
    pub async fn operator_ref(&self, op: &OperatorSession) -> OperatorRef {
        self.operator_ref_of(&op.workspace.id, &op.claims.sub, &op.claims.name)
            .await
    }

    /// How operator `id` (account name `name`) of `ws` appears now: with their saved profile,
    /// or without it when the store cannot say (a change of control never fails for it).
    async fn operator_ref_of(&self, ws: &str, id: &str, name: &str) -> OperatorRef {
        let profile = match self.inner.profiles.profile(ws, id).await {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, operator = %id, "profile unavailable for a change of control");
                None
            }
        };
        crate::profile::operator_ref(id, name, profile.as_ref())
    }

    /// A turn among the changes of control this node runs at once ([`CONTROL_IN_FLIGHT`]). A
    /// shift's wave of takeovers (thousands in the same second) otherwise put all their store
    /// work in flight together, and on a busy node the last of it outlived the store's response
    /// time-out: failures nobody asked for, visitors closed with `unavailable`. Beyond the bound
    /// a takeover waits its turn briefly, then is refused with a clear, retryable `unavailable`
    /// and when to retry (the dashboard and the load generator retry).
    async fn control_turn(
        &self,
        conversation_id: &str,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, ErrorFrame> {
        match tokio::time::timeout(CONTROL_WAIT, self.inner.control_gate.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                let mut e = ErrorFrame::with_message(
                    ErrorCode::Unavailable,
                    "this node is busy with other takeovers; retry shortly",
                )
                .conversation(conversation_id);
                e.retry_after_ms = Some(CONTROL_RETRY_MS);
                Err(e)
            }
        }
    }

    pub async fn takeover(
        &self,
        op: &OperatorSession,
        conversation_id: &str,
    ) -> Result<ConversationMeta, ErrorFrame> {
        if let Err(e) = crate::control::check_plan(op.workspace.plan) {
            // Not found before not allowed, as for every other frame.
            self.conversation_for(op, conversation_id).await?;
            self.audit(
                &op.workspace.id,
                AuditEntry {
                    at: now_ms(),
                    actor: Some(op.audit_actor()),
                    action: AuditAction::PlanRefused,
                    conversation_id: Some(conversation_id.to_owned()),
                    reason: None,
                    holder_id: None,
                    to: None,
                },
            )
            .await;
            return Err(error_frame(&e.into(), conversation_id));
        }
        let _turn = self.control_turn(conversation_id).await?;
        // No read first: the takeover script looks the conversation up under the operator's
        // workspace, so another workspace's id is not found there (one round trip less).
        let me = self.operator_ref(op).await;
        let change = self
            .inner
            .conversations
            .takeover(&op.workspace.id, conversation_id, &me, now_ms())
            .await
            .map_err(|e| error_frame(&e, conversation_id))?;
        if let Some(event) = &change.event {
            // Stop the local generation now; other nodes stop theirs when the event reaches
            // them, and the epoch fence refuses whatever still finishes.
            self.cancel_reply(conversation_id, &op.claims.sub);
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
                to: None,
            };
            // In this order: a team panel shows the entry, then the team as it now is.
            self.audit(&op.workspace.id, entry).await;
            self.team_changed(&op.workspace.id).await;
            // The stretch the AI ran is the epoch before this one; a request for a human in
            // it had its brief made already.
            let stretch = change.meta.control.epoch.saturating_sub(1);
            self.start_brief(&op.workspace.id, conversation_id, stretch);
        }
        Ok(change.meta)
    }

    pub async fn release(
        &self,
        op: &OperatorSession,
        conversation_id: &str,
        force: bool,
        seen_epoch: Option<u64>,
    ) -> Result<ConversationMeta, ErrorFrame> {
        // As for a takeover: under the operator's workspace, another's id is not found.
        let change = self
            .inner
            .conversations
            .release(
                &op.workspace.id,
                conversation_id,
                &op.actor(),
                force,
                seen_epoch,
                now_ms(),
            )
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
                        to: None,
                    },
                )
                .await;
            }
            self.team_changed(&op.workspace.id).await;
        }
        Ok(change.meta)
    }

    /// Hand a held conversation to operator `to` (see `control::transfer`): one store step,
    /// then its event, the audit entry, the team, the note for the recipient and their alert.
    pub async fn transfer(
        &self,
        op: &OperatorSession,
        conversation_id: &str,
        to: &str,
        seen_epoch: u64,
        note: Option<&str>,
    ) -> Result<ConversationMeta, ErrorFrame> {
        let ws = &op.workspace.id;
        if let Err(e) = crate::control::check_plan(op.workspace.plan) {
            self.conversation_for(op, conversation_id).await?;
            return Err(error_frame(&e.into(), conversation_id));
        }
        let _turn = self.control_turn(conversation_id).await?;
        // Presence is checked here, not in the store's step: it is soft state (a socket may
        // close a moment later), and the recipient's dashboards learn of the transfer either
        // way; what must be atomic, the change of holder, is.
        let colleagues = self
            .colleagues(ws)
            .await
            .map_err(|e| error_frame(&e, conversation_id))?;
        let Some(recipient) = colleagues.into_iter().find(|c| c.id == to) else {
            return Err(ErrorFrame::new(ErrorCode::OperatorOffline).conversation(conversation_id));
        };
        let to_ref = self.operator_ref_of(ws, to, &recipient.name).await;
        let change = self
            .inner
            .conversations
            .transfer(
                ws,
                conversation_id,
                &op.actor(),
                &to_ref,
                seen_epoch,
                now_ms(),
            )
            .await
            .map_err(|e| error_frame(&e, conversation_id))?;
        let Some(event) = &change.event else {
            return Ok(change.meta);
        };
        let m = &self.inner.metrics;
        m.bump(&m.transfers, 1);
        self.publish_event(&change.meta, event, None).await;
        let from = match &event.kind {
            EventKind::OperatorTransferred { from, .. } => Some(from.id.clone()),
            _ => None,
        };
        self.audit(
            ws,
            AuditEntry {
                at: event.at,
                actor: Some(op.audit_actor()),
                action: AuditAction::Transfer,
                conversation_id: Some(conversation_id.to_owned()),
                reason: None,
                holder_id: from.filter(|f| *f != op.claims.sub),
                to: Some(to.to_owned()),
            },
        )
        .await;
        self.team_changed(ws).await;
        let note = note
            .filter(|n| !protocol::visible::is_blank(n))
            .map(str::to_owned);
        if let Some(text) = &note {
            // Kept with the conversation like any note: the recipient reads it there too. Its
            // client id names the transfer, so a re-sent transfer cannot store it twice.
            let client_id = format!("transfer-{}", event.seq);
            if let Err(e) = self
                .add_note(op, conversation_id, client_id, text.clone(), None)
                .await
            {
                warn!(conversation_id, error = ?e.code, "transfer note not stored");
            }
        }
        let msg = BusMessage::TransferReceived {
            workspace_id: ws.clone(),
            to: to.to_owned(),
            conversation_id: conversation_id.to_owned(),
            visitor_label: change.meta.visitor_label.clone(),
            by: op.operator_ref(),
            note,
        };
        self.publish(&Topic::Workspace(ws.clone()), msg).await;
        Ok(change.meta)
    }

    /// The operators online in the workspace now (the Transfer menu), as the team panel
    /// counts them.
    pub async fn colleagues(
        &self,
        workspace_id: &str,
    ) -> Result<Vec<protocol::Colleague>, StoreError> {
        self.inner
            .team
            .colleagues(workspace_id, self.online_since())
            .await
    }

    /// Online means connected and seen within the holder grace: a crashed node's operators
    /// drop out after it.
    fn online_since(&self) -> protocol::Millis {
        now_ms().saturating_sub(self.inner.config.holder_grace_ms)
    }

    /// Record an audit entry and show it live to the workspace's owners and editors.
    pub async fn audit(&self, workspace_id: &str, entry: AuditEntry) {
        if let Err(e) = self.inner.team.record_audit(workspace_id, &entry).await {
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

    /// The team as the presence panel shows it (online: see [`Hub::online_since`]).
    pub async fn team(&self, workspace_id: &str) -> Result<Vec<protocol::TeamMember>, StoreError> {
        self.inner
            .team
            .team(workspace_id, self.online_since())
            .await
    }

    /// An operator socket opened or closed.
    pub async fn operator_presence(&self, op: &OperatorSession, delta: i32) {
        let ws = &op.workspace.id;
        match self
            .inner
            .team
            .operator_presence(ws, &op.audit_actor(), delta, now_ms())
            .await
        {
            Ok(()) => self.team_changed(ws).await,
            Err(e) => warn!(workspace_id = %ws, error = %e, "operator presence not recorded"),
        }
    }

    pub async fn typing(&self, ws: &str, conversation_id: &str, author: Author, active: bool) {
        let msg = BusMessage::Typing {
            conversation_id: conversation_id.to_owned(),
            author,
            active,
            epoch: None,
        };
        self.publish(&Topic::conversation(ws, conversation_id), msg)
            .await;
    }

    /// A visitor socket opened or closed: update presence and the Online list.
    pub async fn visitor_presence(&self, ws: &str, conversation_id: &str, delta: i32) {
        match self
            .inner
            .conversations
            .visitor_presence(ws, conversation_id, delta, now_ms())
            .await
        {
            Ok(meta) => self.publish_summary(&meta).await,
            Err(e) => warn!(conversation_id, error = %e, "visitor presence not recorded"),
        }
    }

    /// The visitor asks for a human. Nothing to do while an operator holds the conversation or
    /// a request is already waiting (a second click must not alert the team twice).
    pub async fn request_human(&self, ws: &str, conversation_id: &str) -> Result<(), ErrorFrame> {
        let meta = match self.inner.conversations.get(ws, conversation_id).await {
            Ok(Some(meta)) => meta,
            Ok(None) => return Err(error_frame(&StoreError::NotFound, conversation_id)),
            Err(e) => return Err(error_frame(&e, conversation_id)),
        };
        if meta.needs_human || !matches!(meta.control.holder, Holder::Ai) {
            return Ok(());
        }
        let fence = Writer::Ai {
            epoch: meta.control.epoch,
        };
        match self
            .ask_for_human(&meta, HumanRequestedBy::Visitor, fence)
            .await
        {
            // An operator took over meanwhile: the visitor has their human.
            Ok(_) | Err(StoreError::Control(_)) => Ok(()),
            Err(e) => Err(error_frame(&e, conversation_id)),
        }
    }
}
