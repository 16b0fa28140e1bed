//! The local registry: this node's connections, what each one listens to, and its outbound
//! queue.
//!
//! Fan-out never waits on a client: each connection has a bounded queue and `try_send`. A client
//! whose queue is full is kicked (closed with `too_slow`) and resumes by sequence number when it
//! reconnects, so one stalled socket can neither block others nor grow memory.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use protocol::{ConversationId, Seq, WorkspaceId};
use rustc_hash::FxBuildHasher;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bus::Topic;

pub type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    Widget,
    Operator,
}

/// A history event, serialized once per audience.
#[derive(Debug)]
pub struct Delivery {
    pub conversation_id: Arc<str>,
    pub seq: Seq,
    /// Wall-clock microseconds when the origin node published it.
    pub published_us: u64,
    pub for_operators: Arc<str>,
    pub for_visitors: Arc<str>,
}

/// What a connection's writer receives. One pointer wide: each connection's queue allocates its
/// first block of slots up front, so the slot size is paid by every idle connection.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A sequenced event: the connection checks it against its cursor before sending.
    Event(Arc<Delivery>),
    /// An unsequenced frame, already serialized (typing, Online list changes).
    Frame(Arc<Frames>),
    /// The bus may have lost messages: catch every open conversation up from the store (the
    /// node reloads the Online lists and teams it follows itself).
    Resync,
}

/// An unsequenced frame for operators, and the copy visitors get (`None`: not for visitors).
#[derive(Debug)]
pub struct Frames {
    pub for_operators: Arc<str>,
    pub for_visitors: Option<Arc<str>>,
}

impl Outbound {
    pub fn frame(frames: Frames) -> Outbound {
        Outbound::Frame(Arc::new(frames))
    }
}

/// Who is behind a connection, for presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// An operator of workspace `ws`.
    Operator { ws: WorkspaceId, id: String },
    /// The visitor of conversation `id` of workspace `ws`.
    Visitor { ws: WorkspaceId, id: ConversationId },
}

#[derive(Debug)]
struct Conn {
    kind: ConnKind,
    presence: Option<Presence>,
    tx: mpsc::Sender<Outbound>,
    /// See [`ConnRx::stop`].
    stop: CancellationToken,
    /// The topics it is subscribed to, so leaving touches only those: scanning every topic
    /// made each disconnect cost O(all topics), 16 s of CPU for 19,950 disconnects.
    topics: Vec<Topic>,
}

/// The receiving end a session owns.
#[derive(Debug)]
pub struct ConnRx {
    pub id: ConnId,
    pub rx: mpsc::Receiver<Outbound>,
    /// Cancelled when the connection fell behind (its queue overflowed) or the node shuts down:
    /// either way its session stops. A child of the node's shutdown token, so a session watches
    /// one token of its own, not a node-wide one every connection would contend on.
    pub stop: CancellationToken,
}

/// Both maps hash with FxHash: every fan-out hashes a topic and each subscriber's id, and a fast
/// hash is safe here because the keys are the node's own (connection numbers, and ids it or its
/// configuration issued), not chosen by clients.
#[derive(Debug)]
pub struct Registry {
    shutdown: CancellationToken,
    next: AtomicU64,
    conns: DashMap<ConnId, Conn, FxBuildHasher>,
    /// Each topic's local subscribers: a list, not a set, as most topics have one or a few (a
    /// visitor's conversation), and an idle connection pays for its entry.
    topics: DashMap<Topic, Vec<ConnId>, FxBuildHasher>,
}

/// The outcome of a fan-out, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FanOut {
    pub delivered: usize,
    pub kicked: usize,
}

impl Registry {
    /// `shutdown`: the node's token; each connection's `stop` is a child of it.
    pub fn new(shutdown: &CancellationToken) -> Self {
        Self {
            shutdown: shutdown.clone(),
            next: AtomicU64::new(0),
            conns: DashMap::with_hasher(FxBuildHasher),
            topics: DashMap::with_hasher(FxBuildHasher),
        }
    }

    pub fn register(&self, kind: ConnKind, queue: usize) -> ConnRx {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(queue.max(1));
        let stop = self.shutdown.child_token();
        self.conns.insert(
            id,
            Conn {
                kind,
                presence: None,
                tx,
                stop: stop.clone(),
                topics: Vec::new(),
            },
        );
        ConnRx { id, rx, stop }
    }

    /// Remove a connection and its subscriptions; returns the topics that lost their last
    /// local subscriber.
    pub fn unregister(&self, id: ConnId) -> Vec<Topic> {
        let Some((_, conn)) = self.conns.remove(&id) else {
            return Vec::new();
        };
        conn.topics
            .into_iter()
            .filter(|topic| self.leave(id, topic))
            .collect()
    }

    /// Returns `true` when this is the topic's first local subscriber.
    pub fn subscribe(&self, id: ConnId, topic: &Topic) -> bool {
        // The connection's own list first: a connection that is gone (unregistered) must not
        // leave a subscriber behind that nothing would ever remove.
        match self.conns.get_mut(&id) {
            Some(mut conn) => {
                if !conn.topics.contains(topic) {
                    // Exactly: most connections hold one topic for their whole life.
                    conn.topics.reserve_exact(1);
                    conn.topics.push(topic.clone());
                }
            }
            None => return false,
        }
        let mut subs = self.topics.entry(topic.clone()).or_default();
        let first = subs.is_empty();
        if !subs.contains(&id) {
            subs.reserve_exact(1);
            subs.push(id);
        }
        first
    }

    /// Returns `true` when the topic has no local subscriber left.
    pub fn unsubscribe(&self, id: ConnId, topic: &Topic) -> bool {
        if let Some(mut conn) = self.conns.get_mut(&id) {
            conn.topics.retain(|t| t != topic);
        }
        self.leave(id, topic)
    }

    /// Take `id` off `topic`'s subscribers; `true` when that emptied it.
    fn leave(&self, id: ConnId, topic: &Topic) -> bool {
        let removed = self.topics.remove_if_mut(topic, |_, subs| {
            subs.retain(|s| *s != id);
            subs.is_empty()
        });
        removed.is_some()
    }

    /// Every topic with a local subscriber.
    pub fn topics(&self) -> Vec<Topic> {
        self.topics.iter().map(|t| t.key().clone()).collect()
    }

    pub fn has_subscribers(&self, topic: &Topic) -> bool {
        self.topics.get(topic).is_some_and(|s| !s.is_empty())
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Open connections by kind: (widgets, operators).
    pub fn counts(&self) -> (usize, usize) {
        let widgets = self
            .conns
            .iter()
            .filter(|c| c.kind == ConnKind::Widget)
            .count();
        (widgets, self.conns.len() - widgets)
    }

    /// Offer `item` to every local subscriber of `topic` without waiting.
    pub fn fan_out(&self, topic: &Topic, item: &Outbound) -> FanOut {
        let mut out = FanOut::default();
        if let Some(subs) = self.topics.get(topic) {
            for id in subs.iter() {
                if let Some(conn) = self.conns.get(id) {
                    offer(&conn, item, &mut out);
                }
            }
        }
        out
    }

    /// Offer `item` once to each local connection of operator `operator` that is subscribed to
    /// any of `topics` (a dashboard on the Online list, or with the conversation open).
    pub fn fan_out_to_operator(
        &self,
        topics: &[&Topic],
        operator: &str,
        item: &Outbound,
    ) -> FanOut {
        let mut out = FanOut::default();
        let mut offered: Vec<ConnId> = Vec::new();
        for topic in topics {
            let Some(subs) = self.topics.get(*topic) else {
                continue;
            };
            for id in subs.iter() {
                if offered.contains(id) {
                    continue;
                }
                if let Some(conn) = self.conns.get(id)
                    && matches!(&conn.presence, Some(Presence::Operator { id, .. }) if id == operator)
                {
                    offered.push(*id);
                    offer(&conn, item, &mut out);
                }
            }
        }
        out
    }

    /// Offer `item` to one connection without waiting.
    pub fn send_to(&self, id: ConnId, item: &Outbound) -> FanOut {
        let mut out = FanOut::default();
        if let Some(conn) = self.conns.get(&id) {
            offer(&conn, item, &mut out);
        }
        out
    }

    /// Offer `item` to every local connection without waiting.
    pub fn broadcast(&self, item: &Outbound) -> FanOut {
        let mut out = FanOut::default();
        for conn in self.conns.iter() {
            offer(&conn, item, &mut out);
        }
        out
    }

    pub fn set_presence(&self, id: ConnId, presence: Presence) {
        if let Some(mut conn) = self.conns.get_mut(&id) {
            conn.presence = Some(presence);
        }
    }

    /// Operators and visitors connected to this node, deduplicated.
    /// Each as (workspace, operator id) and (workspace, conversation id).
    pub fn present(
        &self,
    ) -> (
        Vec<(WorkspaceId, String)>,
        Vec<(WorkspaceId, ConversationId)>,
    ) {
        let (mut operators, mut visitors) = (HashSet::new(), HashSet::new());
        for conn in self.conns.iter() {
            match &conn.presence {
                Some(Presence::Operator { ws, id }) => operators.insert((ws.clone(), id.clone())),
                Some(Presence::Visitor { ws, id }) => visitors.insert((ws.clone(), id.clone())),
                None => false,
            };
        }
        (
            operators.into_iter().collect(),
            visitors.into_iter().collect(),
        )
    }

    pub fn kind(&self, id: ConnId) -> Option<ConnKind> {
        self.conns.get(&id).map(|c| c.kind)
    }
}

/// Queue `item` for `conn`, or kick it when its queue is full.
fn offer(conn: &Conn, item: &Outbound, out: &mut FanOut) {
    match conn.tx.try_send(item.clone()) {
        Ok(()) => out.delivered += 1,
        Err(mpsc::error::TrySendError::Full(_)) => {
            if !conn.stop.is_cancelled() {
                conn.stop.cancel();
                out.kicked += 1;
            }
        }
        // The session is ending; its cleanup removes it.
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Outbound {
        Outbound::frame(Frames {
            for_operators: "o".into(),
            for_visitors: Some("v".into()),
        })
    }

    #[test]
    fn a_queue_slot_is_one_pointer_and_a_tag() {
        assert_eq!(std::mem::size_of::<Outbound>(), 16);
    }

    #[test]
    fn first_and_last_subscriber_are_reported() {
        let r = Registry::new(&CancellationToken::new());
        let a = r.register(ConnKind::Operator, 4);
        let b = r.register(ConnKind::Operator, 4);
        let t = Topic::conversation("ws", "c");
        assert!(r.subscribe(a.id, &t));
        assert!(!r.subscribe(b.id, &t));
        assert!(!r.unsubscribe(a.id, &t));
        assert_eq!(r.unregister(b.id), vec![t.clone()]);
        assert!(!r.has_subscribers(&t));
    }

    #[test]
    fn leaving_reports_exactly_the_topics_it_emptied() {
        let r = Registry::new(&CancellationToken::new());
        let (a, b) = (
            r.register(ConnKind::Operator, 4),
            r.register(ConnKind::Operator, 4),
        );
        let (shared, own, dropped) = (
            Topic::Workspace("w".into()),
            Topic::conversation("ws", "c1"),
            Topic::conversation("ws", "c2"),
        );
        for t in [&shared, &own, &dropped] {
            r.subscribe(a.id, t);
        }
        r.subscribe(a.id, &own); // twice: still one subscription
        r.subscribe(b.id, &shared);
        assert!(r.unsubscribe(a.id, &dropped));
        assert_eq!(r.unregister(a.id), vec![own.clone()]);
        assert!(r.has_subscribers(&shared) && !r.has_subscribers(&own));
        // Gone: it cannot subscribe again, and leaving twice changes nothing.
        assert!(!r.subscribe(a.id, &own) && !r.has_subscribers(&own));
        assert!(r.unregister(a.id).is_empty());
        assert_eq!(r.unregister(b.id), vec![shared]);
    }

    #[test]
    fn the_node_shutting_down_stops_every_connection() {
        let shutdown = CancellationToken::new();
        let r = Registry::new(&shutdown);
        let (a, b) = (
            r.register(ConnKind::Operator, 1),
            r.register(ConnKind::Widget, 1),
        );
        assert!(!a.stop.is_cancelled());
        shutdown.cancel();
        assert!(a.stop.is_cancelled() && b.stop.is_cancelled());
    }

    #[tokio::test]
    async fn a_full_queue_kicks_only_that_connection() {
        let r = Registry::new(&CancellationToken::new());
        let mut fast = r.register(ConnKind::Operator, 2);
        let slow = r.register(ConnKind::Widget, 2);
        let t = Topic::Workspace("w".into());
        r.subscribe(fast.id, &t);
        r.subscribe(slow.id, &t);
        for _ in 0..2 {
            assert_eq!(r.fan_out(&t, &frame()).delivered, 2);
            fast.rx.recv().await.expect("frame");
        }
        let third = r.fan_out(&t, &frame());
        assert_eq!((third.delivered, third.kicked), (1, 1));
        assert!(slow.stop.is_cancelled());
        assert!(!fast.stop.is_cancelled());
        // Kicked once, counted once.
        assert_eq!(r.fan_out(&t, &frame()).kicked, 0);
    }
}
