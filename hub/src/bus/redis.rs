//! The Redis bus: fan-out across nodes through Redis pub/sub (sharded pub/sub on Redis
//! Cluster: `SSUBSCRIBE`/`SPUBLISH`, so that a message is sent by the shard that owns its
//! channel's slot, not broadcast to every shard).
//!
//! A node has one Redis connection ([`RedisConn`], per shard on Cluster), speaking RESP3, shared
//! by the store's commands, the bus's publications and its subscriptions, whose pushes arrive on
//! a channel; redis-rs resubscribes it by itself after a reconnect. One connection, not a
//! subscriber of its own: a node subscribes to the conversations its clients are in, so the
//! append script's `PUBLISH` of a visitor's message comes back to the node that ran it. On the
//! script's own connection Redis puts that push and the script's reply in one output buffer,
//! written at once and read at once; on a second connection it cost Redis a write and the node
//! a read and a wakeup per message, for a payload it drops (docs/benchmarks.md, "What made it
//! fast"). Channels carry their workspace's hash tag, like its keys, so the script may publish
//! to them on Cluster too.
//!
//! Pub/sub is at most once: whatever was published while the connection was down is lost, so on
//! every disconnection the bus hands the node a [`BusMessage::Resync`], and the node tells each
//! local client to catch up from the store by sequence number. The same after the bus had to
//! subscribe again by itself: after following a new Sentinel primary, or when Cluster moved a
//! slot away under a subscription (the old owner unsubscribes it, and redis-rs does not
//! subscribe again for it).
//!
//! A payload is the publishing node's origin tag ([`ORIGIN_LEN`] characters, random per node)
//! followed by the [`BusMessage`]'s JSON. Redis sends a publication to every subscriber, its
//! publisher included; the publisher has already given it to its own clients, so its bus drops
//! it on the tag alone, without parsing it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use redis::{AsyncCommands, PushInfo, PushKind};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::warn;

use super::{Bus, BusError, BusMessage, Channel, Inbox, Topic};
use crate::topology::{RedisConn, Topology};

/// How long the heartbeat's PING may take before Redis counts as away.
const PING_WITHIN: std::time::Duration = std::time::Duration::from_millis(500);

/// Length of a node's origin tag at the start of every payload.
pub const ORIGIN_LEN: usize = 20;

pub struct RedisBus {
    conn: RedisConn,
    prefix: String,
    sink: Arc<PushSink>,
}

/// Where the connection's pushes go: decoded and put in the node's inbox right in the
/// connection's own task (no task between them), without waiting. The inbox is bounded: when it
/// is full, the message is dropped and the node owes its clients a `Resync`, sent as soon as
/// there is room (at the next push or heartbeat), exactly as after a lost connection.
struct PushSink {
    prefix: String,
    /// This node's tag, put before every payload it publishes.
    origin: String,
    tx: mpsc::Sender<(Topic, BusMessage)>,
    /// Whether the subscriber connection was alive at the last sign of it.
    healthy: AtomicBool,
    /// A message was dropped on a full inbox: a `Resync` is owed.
    behind: AtomicBool,
    /// Every channel the node is subscribed to: subscribed again after the bus moved to a new
    /// primary, or when Redis unsubscribed one by itself.
    channels: Mutex<HashSet<String>>,
    /// Channels Redis unsubscribed by itself (a Cluster slot moved): the next heartbeat
    /// subscribes them again.
    dropped: Mutex<Vec<String>>,
    /// Channels this node is unsubscribing from now: their confirmations are its own.
    leaving: Mutex<HashSet<String>>,
}

/// The inbox is gone: the node stopped.
#[derive(Debug)]
struct Closed;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PushSink {
    fn push(&self, push: PushInfo) -> Result<(), Closed> {
        let delivery = match push.kind {
            PushKind::Message | PushKind::SMessage => {
                decode(&self.prefix, &self.origin, &push.data)
            }
            PushKind::Disconnection => {
                self.healthy.store(false, Ordering::SeqCst);
                Some(resync())
            }
            PushKind::SUnsubscribe | PushKind::Unsubscribe => {
                // Ours are in `leaving` while they are sent: one subscribed and not leaving
                // was Redis's own doing.
                if let Some(redis::Value::BulkString(ch)) = push.data.first()
                    && let Ok(ch) = std::str::from_utf8(ch)
                    && lock(&self.channels).contains(ch)
                    && !lock(&self.leaving).contains(ch)
                {
                    lock(&self.dropped).push(ch.to_owned());
                }
                None
            }
            _ => None,
        };
        let Some(delivery) = delivery else {
            return Ok(());
        };
        if !self.settle()? {
            // Still no room for the owed resync: this message is covered by it.
            return Ok(());
        }
        match self.tx.try_send(delivery) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.behind.store(true, Ordering::SeqCst);
                Ok(())
            }
            Err(TrySendError::Closed(_)) => Err(Closed),
        }
    }

    /// Send the resync owed after a dropped message, if any and if there is room: `true` when
    /// nothing is owed any more.
    fn settle(&self) -> Result<bool, Closed> {
        if !self.behind.load(Ordering::SeqCst) {
            return Ok(true);
        }
        match self.tx.try_send(resync()) {
            Ok(()) => {
                self.behind.store(false, Ordering::SeqCst);
                Ok(true)
            }
            Err(TrySendError::Full(_)) => Ok(false),
            Err(TrySendError::Closed(_)) => Err(Closed),
        }
    }
}

fn resync() -> (Topic, BusMessage) {
    (Topic::Workspace(String::new()), BusMessage::Resync)
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: redis::RedisError) -> BusError {
    BusError::Unavailable(e.to_string())
}

impl RedisBus {
    /// Connect to `topology` (channels named `prefix` + topic key) and start delivering to the
    /// returned inbox, which holds at most `capacity` messages. The node's store runs on the
    /// same connection ([`RedisBus::connection`]).
    pub async fn connect(
        topology: &Topology,
        prefix: impl Into<String>,
        capacity: usize,
    ) -> Result<(Self, Inbox), BusError> {
        let prefix = prefix.into();
        let (tx, inbox) = mpsc::channel(capacity);
        let origin = crate::util::random_id("");
        debug_assert_eq!(origin.len(), ORIGIN_LEN);
        let sink = Arc::new(PushSink {
            prefix: prefix.clone(),
            origin,
            tx,
            healthy: AtomicBool::new(true),
            behind: AtomicBool::new(false),
            channels: Mutex::new(HashSet::new()),
            dropped: Mutex::new(Vec::new()),
            leaving: Mutex::new(HashSet::new()),
        });
        let pushes = sink.clone();
        let conn = RedisConn::connect(
            topology,
            Arc::new(move |push| {
                // A stopped node's inbox: nothing left to deliver to.
                let _ = pushes.push(push);
            }),
        )
        .await
        .map_err(unavailable)?;
        Ok((Self { conn, prefix, sink }, inbox))
    }

    /// The node's connection, for its store: a script's publication to this node then comes
    /// back with the script's reply (module docs).
    pub fn connection(&self) -> RedisConn {
        self.conn.clone()
    }

    fn channel_name(&self, topic: &Topic) -> String {
        let mut name = self.prefix.clone();
        topic.write_key(&mut name);
        name
    }

    /// Subscribe again to what the node had (after a move to a new primary), or to what Redis
    /// dropped: `true` if there was any, and then the node owes its clients a resync.
    async fn resubscribe(&self, all: bool) -> Result<bool, BusError> {
        let channels: Vec<String> = if all {
            lock(&self.sink.channels).iter().cloned().collect()
        } else {
            std::mem::take(&mut *lock(&self.sink.dropped))
        };
        let mut again = false;
        for (n, ch) in channels.iter().enumerate() {
            if !lock(&self.sink.channels).contains(ch) {
                continue;
            }
            if let Err(e) = self.conn.subscribe(ch).await {
                // Tried again at the next heartbeat.
                lock(&self.sink.dropped).extend(channels[n..].iter().cloned());
                return Err(unavailable(e));
            }
            again = true;
        }
        Ok(again)
    }
}

/// A pushed publication, unless it is this node's own (`own`: its origin tag) or not ours.
fn decode(prefix: &str, own: &str, data: &[redis::Value]) -> Option<(Topic, BusMessage)> {
    let (Some(redis::Value::BulkString(channel)), Some(redis::Value::BulkString(payload))) =
        (data.first(), data.get(1))
    else {
        return None;
    };
    if payload.starts_with(own.as_bytes()) {
        return None;
    }
    let channel = std::str::from_utf8(channel).ok()?;
    let topic = Topic::from_key(channel.strip_prefix(prefix)?)?;
    match BusMessage::from_json(payload.get(ORIGIN_LEN..)?) {
        Ok(msg) => Some((topic, msg)),
        Err(e) => {
            warn!(channel, error = %e, "undecodable bus message dropped");
            None
        }
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, topic: &Topic, message: &BusMessage) -> Result<(), BusError> {
        let mut payload = self.sink.origin.clone().into_bytes();
        serde_json::to_writer(&mut payload, message)
            .map_err(|e| BusError::Unavailable(e.to_string()))?;
        let mut conn = self.conn.clone();
        let channel = self.channel_name(topic);
        let _: i64 = if self.conn.is_cluster() {
            conn.spublish(channel, payload).await
        } else {
            conn.publish(channel, payload).await
        }
        .map_err(unavailable)?;
        Ok(())
    }

    fn channel(&self, topic: &Topic) -> Option<Channel<'_>> {
        Some(Channel {
            name: self.channel_name(topic),
            origin: &self.sink.origin,
        })
    }

    /// `channels` follows what the node believes it is subscribed to (its own record moves only
    /// when a call succeeds): in before the call, out again if the call failed; out only after
    /// an unsubscribe succeeded (its confirmation arrives meanwhile, marked by `leaving`). A channel the node still counts as subscribed is then always
    /// subscribed again after a move, even one whose unsubscribe failed while Redis was away.
    async fn subscribe(&self, topic: &Topic) -> Result<(), BusError> {
        let channel = self.channel_name(topic);
        lock(&self.sink.channels).insert(channel.clone());
        let result = self.conn.subscribe(&channel).await.map_err(unavailable);
        if result.is_err() {
            lock(&self.sink.channels).remove(&channel);
        }
        result
    }

    async fn unsubscribe(&self, topic: &Topic) -> Result<(), BusError> {
        let channel = self.channel_name(topic);
        lock(&self.sink.leaving).insert(channel.clone());
        let result = self.conn.unsubscribe(&channel).await.map_err(unavailable);
        if result.is_ok() {
            lock(&self.sink.channels).remove(&channel);
        }
        lock(&self.sink.leaving).remove(&channel);
        result
    }

    /// Follow a moved Sentinel primary, subscribe again to what Redis dropped, and PING (on
    /// Cluster, every primary): after an outage, this request is what makes the connection
    /// reconnect (and resubscribe). When it answers again after having failed, or after the bus
    /// had to subscribe again, everything published meanwhile was missed: resync the node's
    /// clients. A resync owed after a full inbox goes out here too, once there is room.
    async fn heartbeat(&self) -> Result<(), BusError> {
        let result = async {
            let moved = self.conn.follow().await.map_err(unavailable)?;
            let again = self.resubscribe(moved).await?;
            if moved || again {
                self.sink.behind.store(true, Ordering::SeqCst);
            }
            // Bounded: a ping to a dead primary waits out connection and response timeouts,
            // and the next beat's question to the sentinels must not wait behind it.
            match tokio::time::timeout(PING_WITHIN, self.conn.ping()).await {
                Ok(pong) => pong.map_err(unavailable),
                Err(_) => Err(BusError::Unavailable("no PONG in time".into())),
            }
        }
        .await;
        match result {
            Ok(()) => {
                if !self.sink.healthy.swap(true, Ordering::SeqCst) {
                    self.sink.behind.store(true, Ordering::SeqCst);
                }
                let _ = self.sink.settle();
                Ok(())
            }
            Err(e) => {
                self.sink.healthy.store(false, Ordering::SeqCst);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::RedisServer;

    fn topology(url: &str) -> Topology {
        Topology::parse(url).expect("a test server's URL")
    }

    fn msg(n: u64) -> BusMessage {
        BusMessage::Removed {
            workspace_id: "ws".into(),
            conversation_id: format!("c{n}"),
        }
    }

    async fn bus(server: &RedisServer, prefix: &str) -> (RedisBus, Inbox) {
        RedisBus::connect(&topology(&server.url()), prefix, 64)
            .await
            .expect("connect")
    }

    #[tokio::test]
    async fn delivers_across_nodes_only_what_each_subscribed() {
        let server = RedisServer::start().await;
        let (a, mut inbox_a) = bus(&server, "t1:").await;
        let (b, mut inbox_b) = bus(&server, "t1:").await;
        let t = Topic::conversation("ws", "c");
        b.subscribe(&t).await.expect("subscribe");
        a.publish(&Topic::conversation("ws", "other"), &msg(0))
            .await
            .expect("publish");
        a.publish(&t, &msg(1)).await.expect("publish");
        a.publish(&t, &msg(2)).await.expect("publish");
        assert_eq!(inbox_b.recv().await, Some((t.clone(), msg(1))));
        assert_eq!(inbox_b.recv().await, Some((t.clone(), msg(2))));
        // Node a subscribed to nothing: it got nothing (checked after b got everything).
        assert!(inbox_a.try_recv().is_err());
        // Subscribed, a node gets the others' publications and never its own back: Redis sends
        // a's msg 5 to a before b's msg 6, and a's bus drops it.
        a.subscribe(&t).await.expect("subscribe");
        a.publish(&t, &msg(5)).await.expect("publish");
        b.publish(&t, &msg(6)).await.expect("publish");
        assert_eq!(inbox_a.recv().await, Some((t.clone(), msg(6))));
        assert_eq!(inbox_b.recv().await, Some((t.clone(), msg(5))));
        b.unsubscribe(&t).await.expect("unsubscribe");
        let w = Topic::Workspace("ws".into());
        b.subscribe(&w).await.expect("subscribe");
        a.publish(&t, &msg(3)).await.expect("publish");
        a.publish(&w, &msg(4)).await.expect("publish");
        // Pub/sub keeps order per publisher connection: msg 3 would have come first.
        assert_eq!(inbox_b.recv().await, Some((w, msg(4))));
    }

    #[tokio::test]
    async fn a_full_inbox_drops_and_owes_a_resync() {
        let server = RedisServer::start().await;
        let (a, _) = bus(&server, "t3:").await;
        let (b, mut inbox_b) = RedisBus::connect(&topology(&server.url()), "t3:", 2)
            .await
            .expect("connect");
        let t = Topic::conversation("ws", "c");
        b.subscribe(&t).await.expect("subscribe");
        for n in 1..=5 {
            a.publish(&t, &msg(n)).await.expect("publish");
        }
        // The PING's answer comes after the five pushes on b's connection: by then two are in
        // the inbox and three were dropped, and there is no room for the resync yet.
        b.heartbeat().await.expect("heartbeat");
        assert_eq!(inbox_b.recv().await, Some((t.clone(), msg(1))));
        assert_eq!(inbox_b.recv().await, Some((t.clone(), msg(2))));
        assert!(inbox_b.try_recv().is_err());
        // With room again, the next sign of life sends the resync before anything newer.
        a.publish(&t, &msg(6)).await.expect("publish");
        assert_eq!(
            inbox_b.recv().await.map(|(_, m)| m),
            Some(BusMessage::Resync)
        );
        assert_eq!(inbox_b.recv().await, Some((t.clone(), msg(6))));
        // Nothing more is owed.
        b.heartbeat().await.expect("heartbeat");
        a.publish(&t, &msg(7)).await.expect("publish");
        assert_eq!(inbox_b.recv().await, Some((t, msg(7))));
    }

    /// Sharded pub/sub on Redis Cluster: a publication reaches only the nodes subscribed, and
    /// when the channel's slot moves to another shard (whose old owner unsubscribes it by
    /// itself), the heartbeat subscribes again there and the node is told to resync.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sharded_subscription_follows_its_slot_to_another_shard() {
        let cluster = testkit::RedisCluster::start().await;
        let node = || async {
            RedisBus::connect(&topology(&cluster.url()), "t5:", 64)
                .await
                .expect("connect")
        };
        let (a, mut inbox_a) = node().await;
        let (b, mut inbox_b) = node().await;
        let t = Topic::conversation("ws", "c");
        b.subscribe(&t).await.expect("subscribe");
        a.publish(&t, &msg(1)).await.expect("publish");
        assert_eq!(inbox_b.recv().await, Some((t.clone(), msg(1))));

        let (from, to) = cluster.move_slot_of("{ws}").await;
        assert_ne!(from, to);
        // Publish until b has it again: each SPUBLISH says how many subscribers the shard that
        // owns the slot now has, so this waits on the server's own count, with b's heartbeat
        // (what its node runs every 250 ms) in between.
        let mut n = 10;
        let started = std::time::Instant::now();
        loop {
            let _ = b.heartbeat().await;
            let mut conn = a.connection();
            let payload = format!(
                "{}{}",
                "o".repeat(ORIGIN_LEN),
                serde_json::to_string(&msg(n)).expect("json")
            );
            let receivers: i64 = conn.spublish("t5:{ws}:conv:c", payload).await.unwrap_or(0);
            if receivers == 1 {
                break;
            }
            assert!(started.elapsed().as_secs() < 30, "never subscribed again");
            n += 1;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let mut got = Vec::new();
        while got.last() != Some(&msg(n)) {
            got.push(inbox_b.recv().await.expect("inbox").1);
        }
        assert!(got.contains(&BusMessage::Resync), "{got:?}");
        assert!(inbox_a.try_recv().is_err(), "a subscribed to nothing");
    }

    #[tokio::test]
    async fn a_killed_subscription_resyncs_and_resubscribes() {
        let server = RedisServer::start().await;
        let (a, _inbox_a) = bus(&server, "t2:").await;
        let (b, mut inbox_b) = bus(&server, "t2:").await;
        let t = Topic::conversation("ws", "c");
        b.subscribe(&t).await.expect("subscribe");
        let mut admin = server.manager().await;
        let killed: i64 = redis::cmd("CLIENT")
            .arg(&["KILL", "TYPE", "pubsub"])
            .query_async(&mut admin)
            .await
            .expect("client kill");
        assert_eq!(killed, 1);
        // The node is told to catch up from the store…
        let (_, first) = inbox_b.recv().await.expect("resync");
        assert_eq!(first, BusMessage::Resync);
        // …and the subscription comes back by itself. Publish until it does: each publish
        // reports how many subscribers got it, so this waits on the server's own count.
        let mut n = 10;
        loop {
            let mut conn = server.manager().await;
            let payload = format!(
                "{}{}",
                "o".repeat(ORIGIN_LEN),
                serde_json::to_string(&msg(n)).expect("json")
            );
            let receivers: i64 = conn
                .publish("t2:{ws}:conv:c", payload)
                .await
                .expect("publish");
            if receivers == 1 {
                break;
            }
            n += 1;
            tokio::task::yield_now().await;
        }
        assert_eq!(inbox_b.recv().await, Some((t.clone(), msg(n))));
        drop(a);
    }
}
