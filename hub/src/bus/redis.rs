//! The Redis bus: fan-out across nodes through Redis pub/sub.
//!
//! A node has one Redis connection, speaking RESP3, shared by the store's commands, the bus's
//! publications and its subscriptions, whose pushes arrive on a channel; redis-rs resubscribes it
//! by itself after a reconnect. One connection, not a subscriber of its own: a node subscribes to
//! the conversations its clients are in, so the append script's `PUBLISH` of a visitor's message
//! comes back to the node that ran it. On the script's own connection Redis puts that push and
//! the script's reply in one output buffer, written at once and read at once; on a second
//! connection it cost Redis a write and the node a read and a wakeup per message, for a payload
//! it drops (docs/benchmarks.md, "What made it fast").
//!
//! Pub/sub is at most once: whatever was published while the connection was down is lost, so on
//! every disconnection the bus hands the node a [`BusMessage::Resync`], and the node tells each
//! local client to catch up from the store by sequence number.
//!
//! A payload is the publishing node's origin tag ([`ORIGIN_LEN`] characters, random per node)
//! followed by the [`BusMessage`]'s JSON. Redis sends a publication to every subscriber, its
//! publisher included; the publisher has already given it to its own clients, so its bus drops
//! it on the tag alone, without parsing it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, PushInfo, PushKind};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::warn;

use super::{Bus, BusError, BusMessage, Channel, Inbox, Topic};

/// Length of a node's origin tag at the start of every payload.
pub const ORIGIN_LEN: usize = 20;

pub struct RedisBus {
    conn: ConnectionManager,
    prefix: String,
    sink: Arc<PushSink>,
}

/// Where the subscriber connection's pushes go: decoded and put in the node's inbox right in
/// the connection's own task (no task between them), without waiting. The inbox is bounded:
/// when it is full, the message is dropped and the node owes its clients a `Resync`, sent as
/// soon as there is room (at the next push or heartbeat), exactly as after a lost connection.
struct PushSink {
    prefix: String,
    /// This node's tag, put before every payload it publishes.
    origin: String,
    tx: mpsc::Sender<(Topic, BusMessage)>,
    /// Whether the subscriber connection was alive at the last sign of it.
    healthy: AtomicBool,
    /// A message was dropped on a full inbox: a `Resync` is owed.
    behind: AtomicBool,
}

/// The inbox is gone: the node stopped.
#[derive(Debug)]
struct Closed;

impl PushSink {
    fn push(&self, push: PushInfo) -> Result<(), Closed> {
        let delivery = match push.kind {
            PushKind::Message => decode(&self.prefix, &self.origin, &push.data),
            PushKind::Disconnection => {
                self.healthy.store(false, Ordering::SeqCst);
                Some(resync())
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

/// How the hub's Redis connection behaves when Redis is away: fail a request within about a
/// second (clients get `unavailable` and retry) rather than hold it through a long reconnect
/// backoff; every new request tries to reconnect.
fn connection_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500))
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)))
}

/// A client for `url` whose connections have Nagle's algorithm off. redis-rs leaves it on by
/// default; with several requests in flight on one multiplexed connection, a small write then
/// waits for the ACK of the previous one, which Redis delays up to 40 ms: the three-node
/// benchmark showed a sixth of all store calls at 25–100 ms and operators' queues overflowing
/// behind them (docs/benchmarks.md).
pub fn client(url: &str) -> redis::RedisResult<redis::Client> {
    use redis::IntoConnectionInfo;
    let info = url
        .into_connection_info()?
        .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
    redis::Client::open(info)
}

/// `url` asking for RESP3 (unless it names a protocol): pushes share the connection with
/// replies only in RESP3.
pub fn resp3_url(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

fn unavailable(e: redis::RedisError) -> BusError {
    BusError::Unavailable(e.to_string())
}

impl RedisBus {
    /// Connect to `url` (channels named `prefix` + topic key) and start delivering to the
    /// returned inbox, which holds at most `capacity` messages. The node's store runs on the
    /// same connection ([`RedisBus::connection`]).
    pub async fn connect(
        url: &str,
        prefix: impl Into<String>,
        capacity: usize,
    ) -> Result<(Self, Inbox), BusError> {
        let prefix = prefix.into();
        let client = client(&resp3_url(url)).map_err(unavailable)?;
        let (tx, inbox) = mpsc::channel(capacity);
        let origin = crate::util::random_id("");
        debug_assert_eq!(origin.len(), ORIGIN_LEN);
        let sink = Arc::new(PushSink {
            prefix: prefix.clone(),
            origin: origin.clone(),
            tx,
            healthy: AtomicBool::new(true),
            behind: AtomicBool::new(false),
        });
        let pushes = sink.clone();
        let config = connection_config()
            .set_push_sender(move |push: PushInfo| pushes.push(push))
            .set_automatic_resubscription();
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        Ok((Self { conn, prefix, sink }, inbox))
    }

    /// The node's connection, for its store: a script's publication to this node then comes
    /// back with the script's reply (module docs).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn channel_name(&self, topic: &Topic) -> String {
        format!("{}{}", self.prefix, topic.key())
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
    let key = channel.strip_prefix(prefix)?;
    let topic = if let Some(id) = key.strip_prefix("conv:") {
        Topic::Conversation(id.to_owned())
    } else if let Some(id) = key.strip_prefix("team:") {
        Topic::Team(id.to_owned())
    } else {
        Topic::Workspace(key.strip_prefix("ws:")?.to_owned())
    };
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
        let _: i64 = conn
            .publish(self.channel_name(topic), payload)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn channel(&self, topic: &Topic) -> Option<Channel<'_>> {
        Some(Channel {
            name: self.channel_name(topic),
            origin: &self.sink.origin,
        })
    }

    async fn subscribe(&self, topic: &Topic) -> Result<(), BusError> {
        let mut conn = self.conn.clone();
        conn.subscribe(self.channel_name(topic))
            .await
            .map_err(unavailable)
    }

    async fn unsubscribe(&self, topic: &Topic) -> Result<(), BusError> {
        let mut conn = self.conn.clone();
        conn.unsubscribe(self.channel_name(topic))
            .await
            .map_err(unavailable)
    }

    /// A PING on the node's connection: after an outage, this request is what makes the
    /// connection manager reconnect (and resubscribe). When it answers again after having
    /// failed, everything published meanwhile was missed: resync the node's clients. A resync
    /// owed after a full inbox goes out here too, once there is room.
    async fn heartbeat(&self) -> Result<(), BusError> {
        let mut conn = self.conn.clone();
        let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
        match pong {
            Ok(_) => {
                if !self.sink.healthy.swap(true, Ordering::SeqCst) {
                    self.sink.behind.store(true, Ordering::SeqCst);
                }
                let _ = self.sink.settle();
                Ok(())
            }
            Err(e) => {
                self.sink.healthy.store(false, Ordering::SeqCst);
                Err(unavailable(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RedisServer;

    #[test]
    fn redis_connections_have_nagle_off() {
        for url in [
            "redis://127.0.0.1:6390/",
            "redis://127.0.0.1:6390/?protocol=resp3",
        ] {
            let c = client(url).expect("a valid url");
            assert!(c.get_connection_info().tcp_settings().nodelay(), "{url}");
        }
    }

    fn msg(n: u64) -> BusMessage {
        BusMessage::Removed {
            workspace_id: "ws".into(),
            conversation_id: format!("c{n}"),
        }
    }

    async fn bus(server: &RedisServer, prefix: &str) -> (RedisBus, Inbox) {
        RedisBus::connect(&server.url(), prefix, 64)
            .await
            .expect("connect")
    }

    #[tokio::test]
    async fn delivers_across_nodes_only_what_each_subscribed() {
        let server = RedisServer::start().await;
        let (a, mut inbox_a) = bus(&server, "t1:").await;
        let (b, mut inbox_b) = bus(&server, "t1:").await;
        let t = Topic::Conversation("c".into());
        b.subscribe(&t).await.expect("subscribe");
        a.publish(&Topic::Conversation("other".into()), &msg(0))
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
        let (b, mut inbox_b) = RedisBus::connect(&server.url(), "t3:", 2)
            .await
            .expect("connect");
        let t = Topic::Conversation("c".into());
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

    #[tokio::test]
    async fn a_killed_subscription_resyncs_and_resubscribes() {
        let server = RedisServer::start().await;
        let (a, _inbox_a) = bus(&server, "t2:").await;
        let (b, mut inbox_b) = bus(&server, "t2:").await;
        let t = Topic::Conversation("c".into());
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
            let receivers: i64 = conn.publish("t2:conv:c", payload).await.expect("publish");
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
