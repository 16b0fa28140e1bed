//! Publications and subscriptions: a node's changes to the bus and to its own clients at
//! once, bus subscriptions that follow the local clients, what the bus delivers routed to the
//! local connections (through the AI fence for drafts and typing), and the coalesced Online list
//! rows.

use super::Hub;
use super::frame_json;
use crate::bus::BusMessage;
use crate::bus::Inbox;
use crate::bus::Topic;
use crate::registry::ConnId;
use crate::registry::Delivery;
use crate::registry::Frames;
use crate::registry::Outbound;
use crate::store::ConversationMeta;
use dashmap::DashMap;
use protocol::ConversationEvent;
use protocol::ConversationSummary;
use protocol::DraftState;
use protocol::EventKind;
use protocol::ServerFrame;
use protocol::WorkspaceId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tracing::warn;

/// How often a conversation's Online list row may be re-published, and how often each
/// dashboard's view and each team watcher is brought up to date (`online.rs`).
pub const ONLINE_COALESCE: Duration = Duration::from_millis(250);

/// Most Online rows in one bus publication (a row is a few hundred bytes of JSON).
pub(super) const ROWS_PER_PUBLICATION: usize = 64;

/// A round's changed rows as publications: one per workspace (in pieces of at most
/// [`ROWS_PER_PUBLICATION`]), since every publication is a round trip to Redis and a push to
/// each node that lists the workspace.
pub(super) fn row_publications(
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

/// What fan-out keeps between calls: the rows waiting for the next round, and the bus
/// subscription of each topic.
#[derive(Debug, Default)]
pub(super) struct Fanout {
    /// Online list rows changed since the last publication, as the operation that changed each
    /// one left it (conversation id → row).
    changed_rows: DashMap<String, PendingRow>,
    /// Serializes bus (un)subscription per topic, so a leave and a join racing on the same
    /// topic can never leave the bus unsubscribed while a local client listens; `true` while
    /// subscribed.
    topic_locks: DashMap<Topic, Arc<Mutex<bool>>>,
}

/// An Online list row waiting for the next publication round.
#[derive(Debug)]
struct PendingRow {
    workspace_id: WorkspaceId,
    active: bool,
    summary: ConversationSummary,
}

/// [`EventFrame`]'s JSON around an event's own: the same bytes (a test compares them), with
/// the event serialized once per message, for the store and every local recipient alike.
pub(super) fn event_frame(conversation_id: &str, event_json: &str) -> Arc<str> {
    const HEAD: &[u8] = br#"{"type":"event","conversation_id":"#;
    const EVENT: &[u8] = br#","event":"#;
    let mut out = Vec::with_capacity(
        HEAD.len() + conversation_id.len() + 2 + EVENT.len() + event_json.len() + 1,
    );
    out.extend_from_slice(HEAD);
    // A string always serializes (and escapes what it must).
    let _ = serde_json::to_writer(&mut out, conversation_id);
    out.extend_from_slice(EVENT);
    out.extend_from_slice(event_json.as_bytes());
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default().into()
}

/// [`ServerFrame::Event`] from borrowed parts: the same JSON (a test compares them), without
/// copying the event and its conversation id into a frame first.
#[derive(serde::Serialize)]
#[serde(tag = "type", rename = "event")]
pub(super) struct EventFrame<'a> {
    pub(super) conversation_id: &'a str,
    pub(super) event: &'a ConversationEvent,
}

impl Hub {
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
    pub(super) async fn sync_topic(&self, topic: Topic) {
        let lock = self
            .inner
            .fanout
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
            if let Topic::Conversation { id, .. } = &topic {
                self.inner.fence.forget(id);
            }
            drop(subscribed);
            // Keep the lock table from growing with every conversation ever seen.
            self.inner
                .fanout
                .topic_locks
                .remove_if(&topic, |_, l| Arc::strong_count(l) == 1);
        }
    }

    pub(super) fn generating(&self, topic: &Topic) -> bool {
        matches!(topic, Topic::Conversation { id, .. } if self.inner.generations.running(id))
    }

    // ---- publishing -------------------------------------------------------------------------

    /// To the other nodes through the bus, then to this node's own clients straight from here
    /// (the bus never hands a node its own publications back). By value: `dispatch_one`
    /// consumes it, no copy per publication.
    pub(super) async fn publish(&self, topic: &Topic, msg: BusMessage) {
        self.publish_to_others(topic, &msg).await;
        self.dispatch_one(topic, msg);
    }

    /// The bus half of [`Hub::publish`].
    pub(super) async fn publish_to_others(&self, topic: &Topic, msg: &BusMessage) {
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
    pub(super) async fn publish_event(
        &self,
        meta: &ConversationMeta,
        event: &ConversationEvent,
        announced_at: Option<u64>,
    ) {
        self.publish_event_json(meta, event, None, announced_at)
            .await;
    }

    /// [`Hub::publish_event`], with the event's JSON when the store made it
    /// (`Appended::event_json`): this node's frames are built around it.
    pub(super) async fn publish_event_json(
        &self,
        meta: &ConversationMeta,
        event: &ConversationEvent,
        event_json: Option<&str>,
        announced_at: Option<u64>,
    ) {
        let topic = Topic::conversation(&meta.workspace_id, &meta.id);
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
        self.dispatch_event(&topic, &meta.id, event, event_json, published_us);
        self.publish_summary(meta).await;
    }

    /// Mark a conversation's Online list row as changed. Rows are published at most once per
    /// [`ONLINE_COALESCE`] per conversation: a busy conversation does not send every dashboard a
    /// row per message (the load generator saw dashboards of a busy workspace fall behind and get
    /// cut off without this). The row is the one `meta` (the result of the store operation that
    /// changed it) gives; of two racing operations, the one that saw the later event wins.
    pub(super) async fn publish_summary(&self, meta: &ConversationMeta) {
        let refresh = |row: &mut PendingRow| {
            if meta.last_seq >= row.summary.last_seq {
                row.active = meta.active;
                meta.update_summary(&mut row.summary);
            }
        };
        // Usually the row is pending already (a busy conversation): no key to allocate.
        if let Some(mut row) = self.inner.fanout.changed_rows.get_mut(meta.id.as_str()) {
            refresh(&mut row);
            return;
        }
        match self.inner.fanout.changed_rows.entry(meta.id.clone()) {
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
    pub(super) async fn flush_rows(&self) {
        let mut by_workspace: HashMap<WorkspaceId, Vec<ConversationSummary>> = HashMap::new();
        let ids: Vec<String> = self
            .inner
            .fanout
            .changed_rows
            .iter()
            .map(|e| e.key().clone())
            .collect();
        for id in ids {
            let Some((_, row)) = self.inner.fanout.changed_rows.remove(&id) else {
                continue;
            };
            let (workspace_id, summary) = if row.active && row.summary.visitor_online {
                // It cannot have left the list since: only conversations without a visitor
                // connected are swept, and its visitor leaving makes a newer row, read below.
                (row.workspace_id, row.summary)
            } else {
                // Any node may have swept it off the list meanwhile: a stale copy must not
                // bring it back, so read it fresh (the rare case: no visitor connected).
                match self.inner.conversations.get(&row.workspace_id, &id).await {
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

    pub(super) async fn online_rows(self) {
        let mut ticker = tokio::time::interval(ONLINE_COALESCE);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                _ = ticker.tick() => {
                    self.flush_rows().await;
                    self.online_tick().await;
                }
            }
        }
    }

    // ---- background tasks -------------------------------------------------------------------

    /// Route what the bus delivers to local connections.
    pub(super) async fn dispatch(self, mut inbox: Inbox) {
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

    pub(super) fn dispatch_one(&self, topic: &Topic, msg: BusMessage) {
        match msg {
            BusMessage::Event {
                conversation_id,
                event,
                published_us,
            } => self.dispatch_event(topic, &conversation_id, &event, None, published_us),
            BusMessage::DraftWanted {
                conversation_id,
                draft_id,
            } => self.snapshot_wanted(&conversation_id, &draft_id),
            BusMessage::Resync => {
                let m = &self.inner.metrics;
                m.bump(&m.resyncs, 1);
                let out = self.inner.registry.broadcast(&Outbound::Resync);
                m.bump(&m.slow_closes, out.kicked as u64);
                self.online_resync();
            }
            other => self.dispatch_frames(topic, other),
        }
    }

    /// Hand an event to this node's subscribers of `topic`. Borrowed: an event stored and
    /// published here is delivered without a copy of it.
    /// `event_json`: the event's JSON when the store made it (the frames are built around it
    /// instead of serializing the event again).
    pub(super) fn dispatch_event(
        &self,
        topic: &Topic,
        conversation_id: &str,
        event: &ConversationEvent,
        event_json: Option<&str>,
        published_us: u64,
    ) {
        if let EventKind::OperatorJoined { operator, .. } = &event.kind {
            // A takeover made on any node silences this node's generation, whoever listens.
            self.cancel_reply(conversation_id, &operator.id);
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
        let for_operators = match event_json {
            Some(event_json) => event_frame(conversation_id, event_json),
            None => json(event),
        };
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
        match event.kind.control_epoch() {
            // A change of control raises the node's AI fence in the same step as it is queued.
            Some(epoch) => {
                self.inner
                    .fence
                    .control(conversation_id, epoch, || self.fan_out(topic, &item));
            }
            None => self.fan_out(topic, &item),
        }
    }

    /// Every other bus message: the frames it makes, for this node's subscribers of `topic`.
    pub(super) fn dispatch_frames(&self, topic: &Topic, msg: BusMessage) {
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
            // The Online list: this node's copy of it changes, and the views see it at the next
            // tick (online.rs).
            BusMessage::Summaries {
                workspace_id,
                summaries,
            } => {
                self.online_changed(&workspace_id, super::online::Change::Rows(summaries));
                return;
            }
            BusMessage::Removed {
                workspace_id,
                conversation_id,
            } => {
                self.online_changed(
                    &workspace_id,
                    super::online::Change::Removed(conversation_id),
                );
                return;
            }
            BusMessage::TeamChanged { workspace_id } => {
                self.team_dirty(workspace_id);
                return;
            }
            // To the operator who took over only: never to a visitor or another operator.
            BusMessage::Interrupted {
                workspace_id,
                conversation_id,
                holder_id,
                draft_id,
                text,
            } => {
                let conversation = Topic::conversation(workspace_id, conversation_id.as_str());
                let frame = ServerFrame::InterruptedReply {
                    conversation_id,
                    draft_id,
                    text,
                };
                // Published on the workspace's topic, which every dashboard follows for the
                // Online list (the holder may have taken over without opening it); delivered
                // to the holder's connections on either topic, once each.
                self.fan_out_to_operator(&[topic, &conversation], &holder_id, &frame);
                return;
            }
            // To the recipient's dashboards only.
            BusMessage::TransferReceived {
                to,
                conversation_id,
                visitor_label,
                by,
                note,
                ..
            } => {
                let frame = ServerFrame::TransferReceived {
                    conversation_id,
                    visitor_label,
                    by,
                    note,
                };
                self.fan_out_to_operator(&[topic], &to, &frame);
                return;
            }
            // Operators only, by construction: no copy for visitors is made.
            BusMessage::Note {
                conversation_id,
                note,
            } => Outbound::frame(Frames {
                for_operators: frame_json(&ServerFrame::Note {
                    conversation_id,
                    note,
                }),
                for_visitors: None,
            }),
            BusMessage::Brief {
                conversation_id,
                brief,
            } => Outbound::frame(Frames {
                for_operators: frame_json(&ServerFrame::Brief {
                    conversation_id,
                    brief,
                }),
                for_visitors: None,
            }),
            BusMessage::Context {
                conversation_id,
                context,
            } => Outbound::frame(Frames {
                for_operators: frame_json(&ServerFrame::VisitorContext {
                    conversation_id,
                    context,
                }),
                for_visitors: None,
            }),
            BusMessage::FollowUp {
                conversation_id,
                follow_up,
                ..
            } => Outbound::frame(Frames {
                for_operators: frame_json(&ServerFrame::FollowUp {
                    conversation_id,
                    follow_up: Box::new(follow_up),
                }),
                for_visitors: None,
            }),
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
    pub(super) fn dispatch_draft(
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

    pub(super) fn count_fenced(&self, verdict: crate::drafts::Verdict) {
        if verdict == crate::drafts::Verdict::Stale {
            let m = &self.inner.metrics;
            m.bump(&m.ai_frames_fenced, 1);
        }
    }

    /// Queue `frame` (for operators only: no visitor copy is made) for the local connections of
    /// `operator` subscribed to any of `topics`, once each; a full queue closes its connection.
    pub(super) fn fan_out_to_operator(
        &self,
        topics: &[&Topic],
        operator: &str,
        frame: &ServerFrame,
    ) {
        let item = Outbound::frame(Frames {
            for_operators: frame_json(frame),
            for_visitors: None,
        });
        let out = self
            .inner
            .registry
            .fan_out_to_operator(topics, operator, &item);
        let m = &self.inner.metrics;
        m.bump(&m.slow_closes, out.kicked as u64);
    }

    /// Queue `item` for every local subscriber of `topic`; a full queue closes its connection.
    pub(super) fn fan_out(&self, topic: &Topic, item: &Outbound) {
        let out = self.inner.registry.fan_out(topic, item);
        if out.kicked > 0 {
            let m = &self.inner.metrics;
            m.bump(&m.slow_closes, out.kicked as u64);
        }
    }
}
