use std::sync::Arc;

use super::*;
use crate::store::Store;
use testkit::RedisServer;

use crate::topology::{RedisConn, Topology};

async fn store(server: &RedisServer) -> Arc<dyn Store> {
    Arc::new(
        RedisStore::new(
            RedisConn::for_tests(&server.url()).await,
            crate::util::random_id("t") + ":",
            RETENTION,
        )
        .expect("prefix"),
    )
}

const RETENTION: u64 = 3600;

/// How a node publishes conversation `c`'s new events on `topic` in the append script.
fn announce(
    bus: &crate::bus::redis::RedisBus,
    topic: &crate::bus::Topic,
    published_us: u64,
) -> Announce {
    use crate::bus::{Bus, BusMessage};
    let channel = bus.channel(topic).expect("redis channel");
    let (head, tail) = BusMessage::event_envelope(channel.origin, "c", published_us);
    Announce {
        channel: channel.name,
        head,
        tail,
    }
}

/// Conversation `c` of workspace `ws`, created at 1.
async fn create_c(store: &dyn Store) {
    create(store, "c").await;
}

/// Conversation `id` of workspace `ws` (visitor `v`), created at 1.
async fn create(store: &dyn Store, id: &str) {
    store
        .create(NewConversation {
            id: id.into(),
            visitor_id: "v".into(),
            workspace_id: "ws".into(),
            visitor_label: "V".into(),
            at: 1,
        })
        .await
        .expect("create");
}

/// A node's store on `server` under `prefix` (several nodes: one prefix, several stores).
async fn node_store(server: &RedisServer, prefix: &str) -> RedisStore {
    RedisStore::new(RedisConn::for_tests(&server.url()).await, prefix, RETENTION).expect("prefix")
}

/// Two nodes' stores on `server` under `prefix`, and conversation `c` with the visitor's first
/// message, appended by the first node.
async fn two_nodes_after_one_message(
    server: &RedisServer,
    prefix: &str,
) -> (RedisStore, RedisStore) {
    let (a, b) = (
        node_store(server, prefix).await,
        node_store(server, prefix).await,
    );
    create_c(&a).await;
    a.append("ws", "c", say(1), Writer::Visitor, 2)
        .await
        .expect("append");
    (a, b)
}

/// Node `b` hands conversation `c` to operator `op` at `at`; node `a`'s next message (the
/// visitor's `n`, at `at + 1`) sees it: the new holder, and the whole meta as a fresh read gives it.
async fn a_sees_bs_takeover(a: &RedisStore, b: &RedisStore, op: &str, n: u32, at: u64) {
    let op = crate::store::conformance::op(op);
    b.takeover("ws", "c", &op, at).await.expect("takeover");
    let next = a
        .append("ws", "c", say(n), Writer::Visitor, at + 1)
        .await
        .expect("append");
    assert_eq!(next.meta.control.holder, protocol::Holder::Operator(op));
    assert_eq!(next.meta, b.get("ws", "c").await.expect("get").expect("c"));
}

/// The visitor's message number `n` (client id `x{n}`).
fn say(n: u32) -> NewEvent {
    NewEvent::Message {
        author: protocol::Author::Visitor,
        text: format!("hi {n}"),
        client_id: Some(format!("x{n}")),
        attachments: Vec::new(),
    }
}

#[test]
fn a_script_reply_is_four_parts_or_an_error() {
    let reply = |parts: &[&str]| ScriptReply::new(parts.join(&REPLY_SEPARATOR.to_string()));
    let ok = reply(&["ok", "", "c1\u{1f}ws", ""]).expect("four parts");
    assert_eq!(ok.parts(), ["ok", "", "c1\u{1f}ws", ""]);
    assert!(matches!(reply(&["not_found"]), Err(StoreError::NotFound)));
    // Three parts or five: an error, never parts shifted into the wrong place.
    for bad in [&["ok", "", ""][..], &["ok", "", "", "", ""], &["ok"]] {
        assert!(
            matches!(reply(bad), Err(StoreError::Unavailable(_))),
            "{bad:?}"
        );
    }
    // The event and the holder are JSON, which escapes the separator.
    let json = serde_json::to_string(&format!("a{REPLY_SEPARATOR}b")).expect("json");
    assert!(!json.contains(REPLY_SEPARATOR), "{json}");
}

#[test]
fn a_script_carries_only_the_common_functions_it_uses() {
    let append = script(include_str!("../lua/append.lua"), RETENTION).source;
    for used in ["record", "pack", "result"] {
        assert!(
            append.contains(&format!("local function {used}(")),
            "{used}"
        );
    }
    for unused in ["exists", "touch", "hand_back", "push"] {
        assert!(
            !append.contains(&format!("local function {unused}(")),
            "{unused}"
        );
    }
    // Through other functions: release calls hand_back, which calls push (which calls record)
    // and new_version.
    let release = script(include_str!("../lua/release.lua"), RETENTION).source;
    for used in [
        "exists",
        "hand_back",
        "push",
        "record",
        "new_version",
        "result",
        "pack",
    ] {
        assert!(
            release.contains(&format!("local function {used}(")),
            "{used}"
        );
    }
    // What is not a function is kept: the keys every script names.
    assert!(append.contains("local meta, history, online, held, humanwait, dedupe = KEYS[1]"));
}

#[test]
fn packed_meta_unpacks_by_position_and_no_json_value_holds_the_separator() {
    let packed = ["c1", "ws", "", "5"].join(&META_SEPARATOR.to_string());
    assert_eq!(unpack(&packed), [Some("c1"), Some("ws"), None, Some("5")]);
    // The JSON fields (holder, last message) escape control characters.
    let json = serde_json::to_string(&format!("a{META_SEPARATOR}b")).expect("json");
    assert!(!json.contains(META_SEPARATOR), "{json}");
    // A value that held it would read as a wrong field count: an error, not a mix-up.
    let bad = vec![Some("x".to_owned()); META_FIELDS.len() + 1];
    assert!(parse_meta("c", &bad).is_err());
}

#[tokio::test]
async fn conversations_are_kept_for_the_retention_period_after_their_last_write() {
    let server = RedisServer::start().await;
    let conn = server.manager().await;
    let store = node_store(&server, "keep:").await;
    create_c(&store).await;
    let period_ms = RETENTION as i64 * 1000;
    let keys = ["keep:{ws}:c:c", "keep:{ws}:c:c:ev", "keep:{ws}:c:c:d"];
    let mut conn = conn;
    let ttls = async |conn: &mut redis::aio::ConnectionManager| {
        let mut out = Vec::new();
        for key in keys {
            let ttl: i64 = conn.pttl(key).await.expect("pttl");
            out.push(ttl);
        }
        out
    };
    // The first write renews the keys to 1.1 periods, the dedupe hash it made too.
    store
        .append("ws", "c", say(1), Writer::Visitor, 2)
        .await
        .expect("append");
    for ttl in ttls(&mut conn).await {
        assert!(ttl > period_ms && ttl <= period_ms * 11 / 10, "ttl {ttl}");
    }
    // Within a tenth of a period of that, writes leave the TTLs alone (two commands saved
    // on every message)…
    for key in keys {
        let _: bool = conn.pexpire(key, 5_000).await.expect("pexpire");
    }
    let soon = 2 + period_ms as u64 / 10 - 1;
    store
        .append("ws", "c", say(2), Writer::Visitor, soon)
        .await
        .expect("append");
    for ttl in ttls(&mut conn).await {
        assert!(ttl <= 5_000, "renewed too early: ttl {ttl}");
    }
    // …and the first write after it renews them: the keys always outlive the last
    // activity by the retention period.
    let later = 2 + period_ms as u64 / 10;
    store
        .append("ws", "c", say(3), Writer::Visitor, later)
        .await
        .expect("append");
    for ttl in ttls(&mut conn).await {
        assert!(ttl > period_ms, "not renewed: ttl {ttl}");
    }
    // A conversation whose first message with a client id comes after the last renewal: the
    // dedupe hash it makes expires with the others, not never.
    let other = ["keep:{ws}:c:o", "keep:{ws}:c:o:ev", "keep:{ws}:c:o:d"];
    create(&store, "o").await;
    let no_id = NewEvent::Message {
        author: protocol::Author::Visitor,
        text: "no client id".into(),
        client_id: None,
        attachments: Vec::new(),
    };
    store
        .append("ws", "o", no_id, Writer::Visitor, 2)
        .await
        .expect("append");
    let exists: bool = conn.exists(other[2]).await.expect("exists");
    assert!(!exists, "no dedupe hash before a client id");
    store
        .append("ws", "o", say(1), Writer::Visitor, 3)
        .await
        .expect("append");
    for key in other {
        let ttl: i64 = conn.pttl(key).await.expect("pttl");
        assert!(
            ttl > period_ms && ttl <= period_ms * 11 / 10,
            "{key}: ttl {ttl}"
        );
    }
}

/// Every message reads the meta hash: it stays the same size however long the conversation,
/// and a message stored by a node that kept its dedupe entry in the meta (`d:{key}`, before
/// the dedupe hash) is still recognised when it is sent again.
#[tokio::test]
async fn the_meta_does_not_grow_with_the_conversation() {
    let server = RedisServer::start().await;
    let mut conn = server.manager().await;
    let store = node_store(&server, "grow:").await;
    create_c(&store).await;
    let meta = "grow:{ws}:c:c";
    store
        .append("ws", "c", say(1), Writer::Visitor, 2)
        .await
        .expect("append");
    let fields: usize = conn.hlen(meta).await.expect("hlen");
    for n in 2..=300 {
        store
            .append("ws", "c", say(n), Writer::Visitor, 2 + n as u64)
            .await
            .expect("append");
    }
    let after: usize = conn.hlen(meta).await.expect("hlen");
    assert_eq!(after, fields);
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(meta)
        .query_async(&mut conn)
        .await
        .expect("encoding");
    assert_eq!(encoding, "listpack");
    // Each message is still one, the first as the last.
    for n in [1, 300] {
        let again = store
            .append("ws", "c", say(n), Writer::Visitor, 1_000)
            .await
            .expect("append");
        assert!(again.duplicate, "message {n}");
        assert_eq!(again.event.seq, u64::from(n));
    }
    // An entry of the older layout: the visitor's x9 stored as seq 9 by an older node.
    let _: () = conn.hdel("grow:{ws}:c:c:d", "v:x9").await.expect("hdel");
    let _: () = conn.hset(meta, "d:v:x9", "9").await.expect("hset");
    let again = store
        .append("ws", "c", say(9), Writer::Visitor, 1_001)
        .await
        .expect("append");
    assert!(again.duplicate);
    assert_eq!(again.event.seq, 9);
}

/// Each test gets its own redis-server, killed when the test drops it.
async fn fresh() -> (RedisServer, Arc<dyn Store>) {
    let server = RedisServer::start().await;
    let store = store(&server).await;
    (server, store)
}

crate::store::conformance_tests!(fresh().await);

/// Two nodes on one Redis: a node's copy of a conversation's slow-changing fields (known.rs)
/// is not used once another node has changed them, and a message costs only the short reply
/// while nothing did.
#[tokio::test]
async fn a_nodes_copy_of_the_meta_gives_way_to_another_nodes_change() {
    let server = RedisServer::start().await;
    let (a, b) = two_nodes_after_one_message(&server, "two:").await;
    let held = a
        .known
        .get("ws", "c")
        .expect("a holds the fields after a whole reply");
    let second = a
        .append("ws", "c", say(2), Writer::Visitor, 3)
        .await
        .expect("append");
    assert!(
        Arc::ptr_eq(&held, &a.known.get("ws", "c").expect("held")),
        "a short reply"
    );
    assert_eq!(
        second.meta,
        b.get("ws", "c").await.expect("get").expect("c")
    );
    a_sees_bs_takeover(&a, &b, "o", 3, 4).await;
    assert_ne!(a.known.get("ws", "c").expect("held").cv, held.cv);
}

/// A failover that lost writes (Redis replicates asynchronously) takes the meta back to an
/// earlier version; the changes made after it must not give a version a node already holds for
/// other values, or the node would take its stale copy for current. Rehearsed by restoring the
/// conversation's keys as they were before a takeover, then another takeover.
#[tokio::test]
async fn a_version_lost_in_a_failover_is_never_made_again() {
    let server = RedisServer::start().await;
    let mut conn = server.manager().await;
    let (a, b) = two_nodes_after_one_message(&server, "lost:").await;
    // Everything of the conversation a failover takes back: meta, history, dedupe entries.
    let keys = ["lost:{ws}:c:c", "lost:{ws}:c:c:ev", "lost:{ws}:c:c:d"];
    let mut before = Vec::new();
    for key in keys {
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg(key)
            .query_async(&mut conn)
            .await
            .expect("dump");
        before.push(dump);
    }
    let op = crate::store::conformance::op;
    b.takeover("ws", "c", &op("first"), 3)
        .await
        .expect("takeover");
    a.append("ws", "c", say(2), Writer::Visitor, 4)
        .await
        .expect("append");
    // The failover: the takeover and the message after it are lost.
    for (key, dump) in keys.iter().zip(&before) {
        let _: () = redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(dump)
            .arg("REPLACE")
            .query_async(&mut conn)
            .await
            .expect("restore");
    }
    a_sees_bs_takeover(&a, &b, "second", 3, 5).await;
}

/// The event JSON an append hands back (the node builds its frames around it) is the stored
/// event, byte for byte, on the short reply and the whole one alike.
#[tokio::test]
async fn an_appends_event_json_is_what_it_stored() {
    let server = RedisServer::start().await;
    let mut conn = server.manager().await;
    let store = node_store(&server, "ej:").await;
    create_c(&store).await;
    for n in 1..=2u32 {
        let appended = store
            .append(
                "ws",
                "c",
                NewEvent::Message {
                    author: protocol::Author::Visitor,
                    text: format!("\"quoted\" {n}"),
                    client_id: Some(format!("x{n}")),
                    attachments: Vec::new(),
                },
                Writer::Visitor,
                10 + u64::from(n),
            )
            .await
            .expect("append");
        let id = format!("0-{}", appended.event.seq);
        let stored: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg("ej:{ws}:c:c:ev")
            .arg(&id)
            .arg(&id)
            .query_async(&mut conn)
            .await
            .expect("xrange");
        assert_eq!(
            appended.event_json.as_deref(),
            Some(stored[0].1[0].1.as_str()),
            "append {n}"
        );
    }
}

/// A store on `conn` under a prefix of its own.
fn store_on(conn: &crate::topology::RedisConn) -> Arc<dyn Store> {
    let prefix = crate::util::random_id("t") + ":";
    Arc::new(RedisStore::new(conn.clone(), prefix, RETENTION).expect("prefix"))
}

/// Every script on one shard: Redis Cluster refuses a script whose keys lie in two slots
/// (CROSSSLOT), or one that touches a key it did not declare on another node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suite_passes_on_redis_cluster() {
    let cluster = testkit::RedisCluster::start().await;
    let conn = RedisConn::for_tests(&cluster.url()).await;
    assert!(conn.is_cluster());
    crate::store::conformance::whole_suite(|| async { store_on(&conn) }).await;
}

/// Appends through a killed master: refused as unavailable while no master serves the
/// slot, then taken by the promoted replica (redis-rs follows it by itself), with the
/// sequence unbroken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_on_redis_cluster_follows_a_failover() {
    let mut cluster = testkit::RedisCluster::start().await;
    let conn = RedisConn::for_tests(&cluster.url()).await;
    let store = store_on(&conn);
    create_c(&*store).await;
    let say = |n: u64| NewEvent::Message {
        author: protocol::Author::Visitor,
        text: format!("m{n}"),
        client_id: Some(format!("c{n}")),
        attachments: Vec::new(),
    };
    store
        .append("ws", "c", say(1), Writer::Visitor, 2)
        .await
        .expect("append");
    let killed = cluster.kill_master_of("{ws}").await;
    let started = std::time::Instant::now();
    let mut refused = 0;
    let mut n = 2;
    while n < 6 {
        match store
            .append("ws", "c", say(n), Writer::Visitor, 2 + n)
            .await
        {
            Ok(a) => {
                assert_eq!(a.event.seq, n);
                n += 1;
            }
            Err(StoreError::Unavailable(e)) => {
                refused += 1;
                if started.elapsed().as_secs() > 30 {
                    panic!("no failover: {e}\n{}", cluster.describe().await);
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_ne!(cluster.master_of("{ws}").await, killed);
    println!(
        "failover: writes back after {:.2} s, {refused} refused meanwhile",
        started.elapsed().as_secs_f64()
    );
    let h = store.history("ws", "c", 0, 10).await.expect("history");
    assert_eq!(h.len(), 5);
}

/// With `--redis-wait-replicas 1`, an acknowledged message is on the replica already; with
/// no replica to confirm it, the write is answered `unavailable`, and its retry is
/// deduplicated (stored once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_write_waits_for_a_replica_when_asked() {
    let set = testkit::RedisSentinels::start().await;
    let conn = RedisConn::for_tests(&set.url()).await;
    let prefix = crate::util::random_id("w") + ":";
    let store = RedisStore::new(conn, prefix.clone(), RETENTION)
        .expect("prefix")
        .wait_for_replicas(1, 2_000);
    create_c(&store).await;
    let say = |cid: &str| NewEvent::Message {
        author: protocol::Author::Visitor,
        text: "hi".into(),
        client_id: Some(cid.into()),
        attachments: Vec::new(),
    };
    let acked = store
        .append("ws", "c", say("a"), Writer::Visitor, 2)
        .await
        .expect("append");
    let mut replica = set.replica.manager().await;
    let on_replica: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{prefix}{{ws}}:c:c:ev"))
        .arg("-")
        .arg("+")
        .query_async(&mut replica)
        .await
        .expect("xrange on the replica");
    assert_eq!(on_replica.len() as u64, acked.event.seq);

    // A lone server has no replica to confirm: unavailable, and the retry stores nothing
    // twice.
    let lone = RedisServer::start().await;
    let store = RedisStore::new(RedisConn::for_tests(&lone.url()).await, "l:", RETENTION)
        .expect("prefix")
        .wait_for_replicas(1, 20);
    create_c(&store).await;
    for _ in 0..2 {
        let refused = store.append("ws", "c", say("b"), Writer::Visitor, 3).await;
        assert!(
            matches!(refused, Err(StoreError::Unavailable(_))),
            "{refused:?}"
        );
    }
    let h = store.history("ws", "c", 0, 10).await.expect("history");
    assert_eq!(h.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suite_passes_through_sentinel() {
    let set = testkit::RedisSentinels::start().await;
    let conn = RedisConn::for_tests(&set.url()).await;
    crate::store::conformance::whole_suite(|| async { store_on(&conn) }).await;
}

/// As a node runs: its store on its bus's connection, subscribed to the conversation the
/// append script publishes to. Each reply is read past the node's own publication, which
/// Redis puts before it on that connection, and the bus drops that publication.
#[tokio::test]
async fn a_nodes_own_publication_shares_its_connection_with_the_reply_and_is_dropped() {
    use crate::bus::redis::RedisBus;
    use crate::bus::{Bus, BusMessage, Topic};
    let server = RedisServer::start().await;
    let node = || async {
        RedisBus::connect(&Topology::parse(&server.url()).expect("url"), "o:", 8)
            .await
            .expect("bus")
    };
    let (bus, mut own_inbox) = node().await;
    let (other, mut inbox) = node().await;
    // One connection per node: two nodes and the one asking.
    let mut admin = server.manager().await;
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut admin)
        .await
        .expect("client list");
    assert_eq!(clients.lines().count(), 3, "{clients}");

    let store = RedisStore::new(bus.connection(), "o:", RETENTION).expect("prefix");
    create_c(&store).await;
    let topic = Topic::conversation("ws", "c");
    bus.subscribe(&topic).await.expect("subscribe");
    other.subscribe(&topic).await.expect("subscribe");
    let announce = announce(&bus, &topic, 7);
    for n in 0..3u64 {
        let draft = NewEvent::Message {
            author: protocol::Author::Visitor,
            text: format!("m{n}"),
            client_id: Some(format!("c{n}")),
            attachments: Vec::new(),
        };
        let (appended, announced) = store
            .append_announced("ws", "c", draft, Writer::Visitor, 2 + n, &announce)
            .await
            .expect("append");
        assert!(announced);
        assert_eq!(appended.event.seq, n + 1);
        let event = BusMessage::Event {
            conversation_id: "c".into(),
            event: appended.event,
            published_us: 7,
        };
        assert_eq!(inbox.recv().await, Some((topic.clone(), event)));
    }
    // The other node's publication is the first thing in this node's inbox: its own three
    // were dropped.
    let marker = BusMessage::TeamChanged {
        workspace_id: "ws".into(),
    };
    other.publish(&topic, &marker).await.expect("publish");
    assert_eq!(own_inbox.recv().await, Some((topic, marker)));
}

#[tokio::test]
async fn an_appended_message_is_one_round_trip() {
    let server = RedisServer::start().await;
    let store = store(&server).await;
    create_c(&*store).await;
    let msg = |cid: &str| NewEvent::Message {
        author: protocol::Author::Visitor,
        text: "hi".into(),
        client_id: Some(cid.into()),
        attachments: Vec::new(),
    };
    // The first call of a script loads it (EVALSHA misses, then EVAL); measure the next.
    store
        .append("ws", "c", msg("warm"), Writer::Visitor, 2)
        .await
        .expect("append");
    let mut monitor = server.monitor().await;
    store
        .append("ws", "c", msg("x"), Writer::Visitor, 3)
        .await
        .expect("append");
    // One EVALSHA: the whole append (fence, dedupe, seq, history, Online list) in one trip,
    // and inside it one read and one write of the meta hash, the dedupe entry checked and
    // written in one command, and the history entry: Redis's work per message (the reply's
    // meta is built from what the script read and wrote). The
    // Online list is rescored once a second, the TTLs renewed once a tenth of the
    // retention period: not in this one.
    let (sent, scripted) = monitor.commands().await;
    assert_eq!(sent, ["evalsha"]);
    assert_eq!(scripted, ["hmget", "hsetnx", "xadd", "hset"]);
    // A second later, the Online list is rescored (the only set a message touches).
    store
        .append("ws", "c", msg("y0"), Writer::Visitor, 3 + 1000)
        .await
        .expect("append");
    let (_, scripted) = monitor.commands().await;
    assert_eq!(scripted, ["hmget", "hsetnx", "xadd", "zadd", "hset"]);

    // And with the publication to the other nodes folded in: still one trip.
    let node = |_| async {
        crate::bus::redis::RedisBus::connect(&Topology::parse(&server.url()).expect("url"), "b:", 8)
            .await
            .expect("bus")
    };
    let (bus, _) = node(1).await;
    let (other, mut inbox) = node(2).await;
    use crate::bus::{Bus, BusMessage, Topic};
    let topic = Topic::conversation("ws", "c");
    other.subscribe(&topic).await.expect("subscribe");
    let announce = announce(&bus, &topic, 99);
    let _ = monitor.round_trips().await; // the subscription's own commands
    let (appended, announced) = store
        .append_announced("ws", "c", msg("y"), Writer::Visitor, 4, &announce)
        .await
        .expect("append");
    assert!(announced);
    assert_eq!(monitor.round_trips().await, ["evalsha"]);
    let (got_topic, got) = inbox.recv().await.expect("published");
    assert_eq!(got_topic, topic);
    assert_eq!(
        got,
        BusMessage::Event {
            conversation_id: "c".into(),
            event: appended.event,
            published_us: 99,
        }
    );
    // A re-sent message is not published again.
    let (_, again) = store
        .append_announced("ws", "c", msg("y"), Writer::Visitor, 5, &announce)
        .await
        .expect("append");
    assert!(!again);
}
