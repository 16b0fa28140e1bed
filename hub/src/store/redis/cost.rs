//! What a message costs Redis: the hub's append beside the Socket.IO peer's (bench/peers/socketio:
//! one script that assigns the conversation's next sequence number and appends to its stream,
//! then a `PUBLISH` by the adapter). A benchmark, not a test (ignored; run it alone, in release):
//!
//! `cargo test --release -p take-control-hub --lib append_redis_cost -- --ignored --nocapture`
//!
//! Each round runs the same traffic through both, back to back on one redis-server: 1,000
//! conversations held by operators over ten workspaces, 30 messages each per round (as `compare`'s
//! conversations have a few tens), 5,000 a second by their timestamps, five visitor messages
//! (with client ids, as the widget sends them) to one operator answer, a subscriber on every workspace's channel so each
//! publication is delivered. Redis's main-thread CPU (`INFO cpu`) over each run, per message: the
//! figure `compare` reports as "Redis µs/msg", without the nodes and the generator beside it on
//! the cores, so that a change to a script shows in minutes.
//!
//! `CALLGRIND=1` before the command: redis-server runs under valgrind's callgrind, and each
//! run's figure is the instructions Redis executed per message (counted from zero at the run's
//! start, dumped at its end): the same comparison without the box's noise, repeatable to a few
//! hundred instructions, but some fifty times slower, so over 200 conversations instead of 1,000.
//! The dumps stay in the directory it prints, for `callgrind_annotate`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use protocol::{Author, OperatorRef};

use super::*;
use crate::store::Store;
use crate::topology::RedisConn;
use testkit::RedisServer;

const WORKSPACES: usize = 10;
/// Conversations per round; fewer under callgrind, some fifty times slower.
const CONVERSATIONS: usize = 1000;
const CONVERSATIONS_CALLGRIND: usize = 200;
/// Messages per conversation in a round.
const PER_ROUND: usize = 30;
const IN_FLIGHT: usize = 64;
const ROUNDS: usize = 3;

/// The peer's script (bench/peers/socketio/server.js).
const PEER: &str = "local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[2], '0-' .. seq, 'e', ARGV[1])
return seq";

/// Redis's main thread's CPU so far, in µs.
async fn redis_cpu_us(conn: &mut redis::aio::ConnectionManager) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(conn)
        .await
        .expect("info");
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in INFO cpu"))
    };
    (field("used_cpu_user_main_thread") + field("used_cpu_sys_main_thread")) * 1e6
}

/// Each command's calls and time per message since the last `CONFIG RESETSTAT` (`INFO
/// commandstats`; a script's time includes the commands it calls).
async fn commands(conn: &mut redis::aio::ConnectionManager, messages: f64) -> String {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .expect("info");
    let mut out: Vec<(String, f64, f64)> = stats
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let mut fields = rest.split(',').filter_map(|f| f.split_once('='));
            let calls: f64 = fields.next()?.1.parse().ok()?;
            let usec: f64 = fields.next()?.1.parse().ok()?;
            (name != "info" && name != "config|resetstat")
                .then(|| (name.to_owned(), calls / messages, usec / messages))
        })
        .collect();
    out.sort_by(|a, b| b.2.total_cmp(&a.2));
    out.iter()
        .map(|(name, calls, us)| format!("{name} {calls:.2} ({us:.2} µs)"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn channel(k: usize) -> String {
    format!("bench:{{ws{k}}}:c")
}

/// What message `i` of a run over `conversations` is: its conversation's workspace and index,
/// and whether the holder wrote it.
fn message(i: usize, conversations: usize) -> (usize, usize, bool) {
    let c = i % conversations;
    (c % WORKSPACES, c, (i / conversations) % 6 == 5)
}

/// A redis-server under callgrind, counted in windows.
struct Callgrind {
    pid: u32,
    /// Where its dumps go: `redis.out.1`, `redis.out.2`… one per window.
    dir: std::path::PathBuf,
    dumps: usize,
}

impl Callgrind {
    fn control(&self, what: &str) {
        let status = std::process::Command::new("callgrind_control")
            .arg(what)
            .arg(self.pid.to_string())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("callgrind_control (valgrind) is installed");
        assert!(status.success(), "callgrind_control {what}");
    }

    /// Count from zero.
    fn zero(&self) {
        self.control("--zero");
    }

    /// The instructions counted since [`Callgrind::zero`].
    fn dump(&mut self) -> u64 {
        self.control("--dump");
        self.dumps += 1;
        let file = self.dir.join(format!("redis.out.{}", self.dumps));
        let text = std::fs::read_to_string(&file).expect("the window's dump");
        text.lines()
            .find_map(|l| {
                l.strip_prefix("summary: ")
                    .or_else(|| l.strip_prefix("totals: "))
            })
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no total in {}", file.display()))
    }
}

fn text(i: usize) -> String {
    format!("message {i} from the benchmark, about the length of a short chat line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run alone, in release"]
async fn append_redis_cost() {
    let mut callgrind = None;
    let server = if std::env::var_os("CALLGRIND").is_some_and(|v| v == "1") {
        let dir = std::env::temp_dir().join(format!("tc-append-cost-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dump dir");
        let out = format!("--callgrind-out-file={}", dir.join("redis.out").display());
        let server =
            RedisServer::start_wrapped(&["valgrind", "--tool=callgrind", out.as_str()]).await;
        println!("callgrind dumps: {}", dir.display());
        callgrind = Some(Callgrind {
            pid: server.pid().expect("pid"),
            dir,
            dumps: 0,
        });
        server
    } else {
        RedisServer::start().await
    };
    let conversations = if callgrind.is_some() {
        CONVERSATIONS_CALLGRIND
    } else {
        CONVERSATIONS
    };
    let messages = conversations * PER_ROUND;
    let mut admin = server.manager().await;
    let received = Arc::new(AtomicU64::new(0));
    // Every workspace's channel has a subscriber, as every node subscribes its workspaces.
    let client = redis::Client::open(server.url()).expect("url");
    let mut sub = client.get_async_pubsub().await.expect("pubsub");
    for k in 0..WORKSPACES {
        sub.subscribe(channel(k)).await.expect("subscribe");
    }
    let counter = received.clone();
    tokio::spawn(async move {
        let mut messages = sub.on_message();
        while messages.next().await.is_some() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::new(RedisConn::for_tests(&server.url()).await, "hub:", 3600).expect("prefix"),
    );
    let operator = |c: usize| OperatorRef {
        id: format!("op{}", c % 20),
        name: format!("Operator {}", c % 20),
        display_name: Some("Martin from Support".into()),
        avatar_url: Some("/avatars/ws/0123456789abcdef0123456789abcdef.png".into()),
    };
    for c in 0..conversations {
        let ws = format!("ws{}", c % WORKSPACES);
        store
            .create(NewConversation {
                id: format!("c{c}"),
                visitor_id: format!("v{c}"),
                workspace_id: ws.clone(),
                visitor_label: format!("Visitor {c}"),
                at: 1,
            })
            .await
            .expect("create");
        store
            .takeover(&ws, &format!("c{c}"), &operator(c), 2)
            .await
            .expect("takeover");
    }
    let peer = redis::Script::new(PEER);
    let peer_conn = server.manager().await;
    let mut sent = 0u64;
    let mut rows = Vec::new();
    for round in 0..ROUNDS {
        for system in ["hub", "peer"] {
            let base = round * messages;
            let _: () = redis::cmd("CONFIG")
                .arg("RESETSTAT")
                .query_async(&mut admin)
                .await
                .expect("resetstat");
            let before = redis_cpu_us(&mut admin).await;
            if let Some(cg) = &callgrind {
                cg.zero();
            }
            let started = Instant::now();
            let store = &store;
            let (peer, peer_conn) = (&peer, &peer_conn);
            futures_util::stream::iter(base..base + messages)
                .map(|i| async move {
                    let (k, c, by_operator) = message(i, conversations);
                    let (ws, id) = (format!("ws{k}"), format!("c{c}"));
                    if system == "hub" {
                        let (author, fence) = if by_operator {
                            let op = operator(c);
                            (Author::Operator(op.clone()), Writer::Operator(op.id))
                        } else {
                            (Author::Visitor, Writer::Visitor)
                        };
                        let (head, tail) =
                            crate::bus::BusMessage::event_envelope("o1234567", &id, 1);
                        let announce = Announce {
                            channel: channel(k),
                            head,
                            tail,
                        };
                        let draft = NewEvent::Message {
                            author,
                            text: text(i),
                            client_id: Some(format!("m{i}")),
                            attachments: Vec::new(),
                        };
                        let (appended, announced) = store
                            .append_announced(&ws, &id, draft, fence, 10 + i as u64 / 5, &announce)
                            .await
                            .expect("append");
                        assert!(announced && !appended.duplicate);
                    } else {
                        let mut conn = peer_conn.clone();
                        let frame = format!("{id} v{c} {i} {}", text(i));
                        let _: u64 = peer
                            .key(format!("peer:{{ws{k}}}:{id}"))
                            .key(format!("peer:{{ws{k}}}:{id}:ev"))
                            .arg(&frame)
                            .invoke_async(&mut conn)
                            .await
                            .expect("peer script");
                        let _: u64 = redis::cmd("PUBLISH")
                            .arg(channel(k))
                            .arg(&frame)
                            .query_async(&mut conn)
                            .await
                            .expect("publish");
                    }
                })
                .buffer_unordered(IN_FLIGHT)
                .collect::<()>()
                .await;
            sent += messages as u64;
            // Every publication delivered before the window closes: its cost is in it.
            while received.load(Ordering::Relaxed) < sent {
                tokio::task::yield_now().await;
            }
            let elapsed = started.elapsed();
            // Under callgrind, the instructions; else the CPU time.
            let cost = match &mut callgrind {
                Some(cg) => cg.dump() as f64,
                None => redis_cpu_us(&mut admin).await - before,
            };
            let commands = commands(&mut admin, messages as f64).await;
            rows.push((round, system, cost / messages as f64, elapsed, commands));
        }
    }
    let unit = if callgrind.is_some() {
        "Redis instructions/msg"
    } else {
        "Redis µs/msg"
    };
    println!(
        "\n| round | system | {unit} | wall s | commands: calls and µs per message |\n| --- | --- | --- | --- | --- |"
    );
    for (round, system, cost, elapsed, commands) in &rows {
        println!(
            "| {} | {system} | {cost:.2} | {:.2} | {commands} |",
            round + 1,
            elapsed.as_secs_f64()
        );
    }
    for pair in rows.chunks(2) {
        println!(
            "round {}: hub ÷ peer {:.2}",
            pair[0].0 + 1,
            pair[0].2 / pair[1].2
        );
    }
}
