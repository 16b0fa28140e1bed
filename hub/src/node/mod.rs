//! The hub node: the one place where client actions become store steps and bus messages, and
//! where bus messages become local deliveries.
//!
//! ```text
//! session ──action──▶ Hub ──atomic step──▶ Store
//!                      │
//!                      └──publish──▶ Bus ──▶ (every node) dispatcher ──▶ Registry ──▶ sessions
//! ```
//!
//! [`Hub`] is the façade sessions and the HTTP API hold; its work is split by concern:
//! - [`actions`]: what sessions ask (messages, takeover, release, requests for a human, presence,
//!   typing), each one atomic store step and its publication;
//! - [`fanout`]: publishing to the bus and to this node's clients, bus subscriptions, routing
//!   what the bus delivers to local connections (through the AI fence), the Online list rows;
//! - [`assistant`]: the AI's generations, cancellable and fenced by control epoch, their drafts
//!   in pieces;
//! - [`housekeeping`]: presence, auto-release, expiry of requests for a human, idle sweeps;
//! - [`follow_up`]: when nobody is available: working hours, the email prompt, follow-ups and
//!   their emails.
//!
//! This file holds the node's parts, its construction and shutdown, and sign-in.

use std::sync::Arc;
use std::time::Duration;

use protocol::{
    AuditActor, Author, ErrorCode, ErrorFrame, Holder, OperatorIdentity, OperatorRef, WorkspaceInfo,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use crate::assistant::Assistant;
use crate::auth::{OperatorClaims, OperatorVerifier, VisitorTokens};
use crate::bus::{Bus, Inbox};
use crate::config::Config;
use crate::control::{Actor, ControlError};
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::ratelimit::KeyedLimiter;
use crate::registry::Registry;
use crate::store::{
    ConversationMeta, ConversationStore, DeskStore, FollowUpStore, NewConversation, ProfileStore,
    Store, StoreError, TeamStore,
};
use crate::util::{now_ms, now_secs, random_id, visitor_label};

mod actions;
mod assistant;
mod brief;
mod desk;
mod door;
mod fanout;
mod files;
mod follow_up;
mod housekeeping;
mod online;

pub use assistant::{DRAFT_INTERVAL, FALLBACK_TEXT};
pub use door::{DraftSoFar, Opened};
pub use fanout::ONLINE_COALESCE;
pub use files::Served;

/// Most events a `history` frame carries.
pub const HISTORY_LIMIT: usize = 5000;

/// A cheap handle to the node; clone it freely.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    /// The store, a part per concern; each of the node's files uses the parts it needs.
    conversations: Arc<dyn ConversationStore>,
    team: Arc<dyn TeamStore>,
    profiles: Arc<dyn ProfileStore>,
    desk: Arc<dyn DeskStore>,
    follow_ups: Arc<dyn FollowUpStore>,
    bus: Arc<dyn Bus>,
    registry: Registry,
    directory: Directory,
    operators: OperatorVerifier,
    visitors: VisitorTokens,
    assistant: Arc<dyn Assistant>,
    files: crate::files::FileStore,
    links: crate::files::LinkSigner,
    mailer: Option<crate::mail::Mailer>,
    metrics: Arc<Metrics>,
    /// Cancelled when the node shuts down.
    shutdown: CancellationToken,
    /// Every session and background task, so shutdown can wait for them.
    tasks: TaskTracker,
    /// The running generation of each conversation.
    generations: assistant::Generations,
    /// What this node has delivered of each conversation's control and AI draft.
    fence: crate::drafts::AiFence,
    /// Rows waiting for their round, bus subscriptions.
    fanout: fanout::Fanout,
    /// Turns among the takeovers this node runs at once (`actions.rs`).
    control_gate: tokio::sync::Semaphore,
    /// The Online lists and teams this node's dashboards follow.
    online: online::Followers,
    /// WebSocket connects per client IP (see `--connect-rate`).
    connect_limits: KeyedLimiter<std::net::IpAddr>,
    /// Visitor messages per workspace (see `--workspace-message-rate`).
    workspace_limits: KeyedLimiter<String>,
    /// Avatar uploads per `workspace/operator` (see `crate::api`).
    upload_limits: KeyedLimiter<String>,
    /// Attachment uploads per sender (see `crate::api::files`).
    file_limits: KeyedLimiter<String>,
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
        StoreError::LimitReached => ErrorFrame::with_message(
            ErrorCode::LimitReached,
            format!(
                "this conversation has {} internal notes, the most it keeps; nothing was stored",
                protocol::limits::MAX_NOTES
            ),
        ),
        // Saved replies answer over HTTP (api.rs); a socket never meets this.
        StoreError::ShortcutTaken => ErrorFrame::new(ErrorCode::Internal),
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
    /// Where attachments are kept, and the signer of their links.
    pub files: crate::files::FileStore,
    pub links: crate::files::LinkSigner,
    /// Sends follow-up emails; `None`: no SMTP server configured.
    pub mailer: Option<crate::mail::Mailer>,
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
            files,
            links,
            mailer,
        } = parts;
        let metrics = Arc::new(Metrics::default());
        // Every store call is timed and its failures counted, whatever the backend.
        let store = Arc::new(crate::store::timed::TimedStore::new(store, metrics.clone()));
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
                file_limits: KeyedLimiter::new(
                    crate::ratelimit::FILE_UPLOAD_RATE,
                    crate::ratelimit::FILE_UPLOAD_BURST,
                ),
                config,
                conversations: store.clone(),
                team: store.clone(),
                profiles: store.clone(),
                desk: store.clone(),
                follow_ups: store,
                bus,
                registry: Registry::new(&shutdown),
                directory,
                operators,
                visitors,
                assistant,
                files,
                links,
                mailer,
                metrics,
                shutdown,
                tasks: TaskTracker::new(),
                generations: assistant::Generations::default(),
                fence: crate::drafts::AiFence::new(),
                fanout: fanout::Fanout::default(),
                online: online::Followers::default(),
                control_gate: tokio::sync::Semaphore::new(actions::CONTROL_IN_FLIGHT),
            }),
        };
        hub.inner.tasks.spawn(hub.clone().dispatch(inbox));
        hub.inner.tasks.spawn(hub.clone().housekeeping());
        hub.inner.tasks.spawn(hub.clone().bus_watch());
        hub.inner.tasks.spawn(hub.clone().online_rows());
        hub.inner.tasks.spawn(hub.clone().file_sweeps());
        if hub.inner.mailer.is_some() {
            hub.inner.tasks.spawn(hub.clone().mail_loop());
        }
        hub
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
    /// `fresh`: a new conversation even when the token's still exists (the widget's "New
    /// conversation"); the visitor stays the same, so their earlier ones are listed for the
    /// team.
    pub async fn visitor_sign_in(
        &self,
        workspace_id: &str,
        token: Option<&str>,
        origin: Option<&str>,
        fresh: bool,
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
        let mut visitor_id = None;
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
            visitor_id = Some(claims.visitor_id().to_owned());
            match self.inner.conversations.get(&claims.ws, &claims.sub).await {
                Ok(Some(_)) if fresh => {}
                Ok(Some(meta)) => return Ok((meta, token.to_owned())),
                // The conversation is gone (an in-memory hub restarted): start afresh below.
                Ok(None) => {}
                Err(e) => return Err(error_frame(&e, &claims.sub)),
            }
        }
        let id = random_id("cv_");
        let visitor_id = visitor_id.unwrap_or_else(|| random_id("vi_"));
        let meta = self
            .inner
            .conversations
            .create(NewConversation {
                id: id.clone(),
                workspace_id: workspace_id.to_owned(),
                visitor_label: visitor_label(&visitor_id),
                visitor_id: visitor_id.clone(),
                at: now_ms(),
            })
            .await
            .map_err(|e| error_frame(&e, &id))?;
        let token = self
            .inner
            .visitors
            .issue(&id, workspace_id, &visitor_id, now_secs());
        Ok((meta, token))
    }
}

/// Serialize a frame. Our frames always serialize; should one ever not, clients get an
/// `internal` error instead of a dropped socket.
pub fn frame_json(frame: &impl serde::Serialize) -> Arc<str> {
    frame_text(frame).into()
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
    use super::fanout::{EventFrame, ROWS_PER_PUBLICATION, event_frame, row_publications};
    use std::collections::HashMap;

    use protocol::{ConversationEvent, ConversationSummary, EventKind, ServerFrame};

    use super::*;
    use crate::bus::{BusMessage, Topic};
    use crate::registry::ConnKind;
    use crate::registry::Outbound;

    /// The borrowed event frame writes what `ServerFrame::Event` writes, byte for byte, for
    /// operators and for visitors; and so does the frame built around the event's JSON as the
    /// Redis store makes it (`store::event_json`, from the kind's JSON alone).
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
                attachments: Vec::new(),
            },
            EventKind::Message {
                author: Author::Operator(martin.clone()),
                text: "On its way".into(),
                client_id: None,
                attachments: Vec::new(),
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
                let kind_json = serde_json::to_string(&event.kind).expect("kind");
                let stored = crate::store::event_json(event.seq, event.at, &kind_json);
                assert_eq!(stored, serde_json::to_string(&event).expect("event"));
                let around = event_frame("conv-1", &stored);
                let owned = frame_text(&ServerFrame::Event {
                    conversation_id: "conv-1".into(),
                    event,
                });
                assert_eq!(borrowed, owned);
                assert_eq!(&*around, owned);
            }
        }
    }

    /// The ids of the Online view frames queued for a dashboard connection, one list per frame.
    fn online_frames(rx: &mut crate::registry::ConnRx) -> Vec<Vec<String>> {
        let mut frames = Vec::new();
        while let Ok(item) = rx.rx.try_recv() {
            if let Outbound::Frame(f) = item {
                let v: serde_json::Value = serde_json::from_str(&f.for_operators).expect("json");
                assert_eq!(v["type"], "online_view");
                let ids = v["ids"].as_array().expect("ids").iter();
                frames.push(
                    ids.map(|i| i.as_str().unwrap_or_default().to_owned())
                        .collect(),
                );
            }
        }
        frames
    }

    pub(crate) fn session(hub: &Hub, ws: &str, id: &str, role: protocol::Role) -> OperatorSession {
        let claims = OperatorClaims {
            sub: id.into(),
            ws: ws.into(),
            role,
            name: format!("{id} account"),
            exp: now_secs() + 3600,
            aud: Some("take-control-operator".into()),
            iss: None,
        };
        let token = hub.inner.operators.sign(&claims).expect("dev key signs");
        hub.operator_sign_in(&token).expect("sign in")
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

    /// An embedded hub with one visitor's conversation, and Martin signed in.
    async fn one_conversation() -> (Hub, ConversationMeta, OperatorSession) {
        let hub = crate::server::build(Config::for_tests(), None)
            .await
            .expect("hub");
        let (meta, _) = hub
            .visitor_sign_in("demo-pro", None, None, false)
            .await
            .expect("sign in");
        let martin = session(&hub, "demo-pro", "martin", protocol::Role::Operator);
        (hub, meta, martin)
    }

    /// A takeover beyond the node's turns waits briefly, then is refused as `unavailable` with
    /// when to retry, never left to time out; once a turn is free it goes through.
    #[tokio::test(start_paused = true)]
    async fn a_takeover_beyond_the_nodes_turns_is_refused_with_a_retry_hint() {
        let (hub, meta, martin) = one_conversation().await;
        let busy = hub
            .inner
            .control_gate
            .acquire_many(u32::try_from(actions::CONTROL_IN_FLIGHT).expect("fits"))
            .await
            .expect("all turns");
        let refused = hub.takeover(&martin, &meta.id).await.expect_err("busy");
        assert_eq!(refused.code, ErrorCode::Unavailable);
        assert_eq!(refused.retry_after_ms, Some(250));
        assert_eq!(refused.conversation_id.as_deref(), Some(meta.id.as_str()));
        drop(busy);
        let meta = hub.takeover(&martin, &meta.id).await.expect("a turn");
        assert!(matches!(meta.control.holder, Holder::Operator(_)));
    }

    /// A row waiting for its round is published as the operation that changed it left it,
    /// except when no visitor is connected: then any node's idle sweep may have taken the
    /// conversation off the list meanwhile, and the stale copy would list it again, with
    /// nothing left to remove it. (Paused clock: the background rounds do not interleave.)
    #[tokio::test(start_paused = true)]
    async fn a_pending_row_never_lists_a_swept_conversation_again() {
        let (hub, meta, martin) = one_conversation().await;
        let mut dashboard = hub.inner.registry.register(ConnKind::Operator, 64);
        hub.follow_online(dashboard.id, &martin, crate::online::Request::default())
            .await
            .expect("follow");
        assert_eq!(online_frames(&mut dashboard), [vec![meta.id.clone()]]);

        hub.visitor_presence(&meta.workspace_id, &meta.id, 1).await;
        hub.flush_rows().await;
        hub.online_tick().await;
        assert_eq!(online_frames(&mut dashboard), [vec![meta.id.clone()]]);

        // The visitor leaves; before the next round, the conversation is swept off the list.
        hub.visitor_presence(&meta.workspace_id, &meta.id, -1).await;
        let swept = hub
            .inner
            .conversations
            .deactivate_idle(protocol::Millis::MAX)
            .await;
        assert_eq!(swept.expect("sweep").len(), 1);
        hub.flush_rows().await;
        hub.online_tick().await;
        // The stale pending row was not published: nothing changed for the view. (The
        // sweeping node publishes the removal; this sweep, called directly, did not.)
        assert!(online_frames(&mut dashboard).is_empty());
    }
}
