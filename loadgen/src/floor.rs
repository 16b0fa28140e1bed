//! The floor: what relaying a message costs on this machine when the relay does nothing else.
//!
//! The CPU budgets of docs/benchmarks.md are set per relayed message. Part of that cost is not
//! the hub's code at all but the socket calls every relay needs: read the sender's frame,
//! write its acknowledgement, write the frame to the recipient. [`serve`] is a relay that does
//! exactly that over WebSocket with tokio (no JSON, no store, no authentication, no Online
//! list), and [`run`] drives it with the relay scenario's shape: visitors paced evenly, each
//! sending to one of the operators, operators answering a share of what they get. The relay's
//! CPU per message, read from `/proc` like the hub's, is the floor under any design that writes
//! each message to its recipient when it arrives; the hub's figure minus it is what the hub's
//! own work costs.
//!
//! With `--redis-url` (`relay-floor` on several nodes behind nginx) the relay also does the
//! minimum a node of a cluster must: it publishes every frame on the recipient's channel
//! (`floor:{name}`, one `PUBLISH` round trip, awaited) and subscribes to a channel for each of
//! its own connections, delivering what other nodes publish; a node skips its own publications
//! by an origin tag, as the hub does. No store: the hub's one `EVALSHA` per message becomes one
//! `PUBLISH` here.
//!
//! With `--persist` as well (`floorp`, the floor that persists), every message also costs the
//! least Redis work persistence needs: one script call ([`PERSIST`]) that assigns the
//! conversation's next sequence number and appends the frame to its stream, publishing it to
//! the recipient's node in the same step when the recipient is elsewhere; the frame is
//! acknowledged (and delivered locally) once the script answers. Nothing else: no JSON, no
//! authentication, no Online list. Against it the hub's cost is what the product adds to a
//! relay that stores every message.
//!
//! Wire (text frames): a connection's first frame is its own name (`v12`, `o3`), answered with
//! `ack 0` once the relay knows it; every later frame starts with the recipient's name and a
//! space. The relay answers each frame with `ack N` and forwards it unchanged; a frame for nobody (or for a full queue) is dropped and
//! shows up as lost.
//!
//! `--dialect socketio` drives the Socket.IO peer (`bench/peers/socketio/`) with the same
//! traffic, in Engine.IO v4 / Socket.IO v5 frames over the same raw WebSocket: the name goes in
//! the namespace connect (`40{"name":"v12"}`), each message is an event with an ack
//! (`42<id>["m","<to> <from> <t> <pad>"]`, acked `43<id>[seq]`), a delivery is
//! `42["m","…"]`, and the server's ping `2` is answered `3`. The peer stores each message with
//! one Lua call and delivers it through the Redis adapter: the work of the hub's persisted
//! path, as a team would build it with Socket.IO.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, PushInfo, PushKind};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Barrier, mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::Target;
use crate::procstat;
use crate::stats::{Hist, fmt_ms, table};
use crate::wire;

/// Frames a connection may have queued before the relay drops more (the hub's default).
const QUEUE: usize = 256;

type Peers = Arc<Mutex<HashMap<String, mpsc::Sender<Utf8Bytes>>>>;

/// Channels are `floor:` + the recipient's name.
const CHANNEL: &str = "floor:";
/// A node's tag before each payload it publishes.
const ORIGIN_LEN: usize = 8;

/// `floorp`'s one step per message (KEYS: the conversation's counter hash and stream, both
/// tagged with the conversation; ARGV: the frame, the channel to publish on or "", the
/// payload): the hub's append script without its meta, dedupe, Online list or JSON.
const PERSIST: &str = "local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[2], '0-' .. seq, 'e', ARGV[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return seq";

/// A node's link to the others through Redis pub/sub.
#[derive(Clone)]
struct Link {
    publisher: ConnectionManager,
    subscriber: ConnectionManager,
    origin: Arc<str>,
    /// `--persist`: the script every message goes through.
    persist: Option<Arc<redis::Script>>,
}

impl Link {
    async fn connect(url: &str, peers: Peers, persist: bool) -> anyhow::Result<Self> {
        use redis::IntoConnectionInfo;
        // RESP3 for pushes on a connection of their own; no Nagle, as in the hub.
        let url = format!(
            "{url}{}protocol=resp3",
            if url.contains('?') { '&' } else { '?' }
        );
        let info = url
            .as_str()
            .into_connection_info()?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = redis::Client::open(info)?;
        let origin: Arc<str> =
            format!("{:0width$x}", rand::random::<u32>(), width = ORIGIN_LEN).into();
        let own = origin.clone();
        let config = ConnectionManagerConfig::new().set_push_sender(move |push: PushInfo| {
            deliver_push(&peers, &own, &push);
            Ok::<(), std::convert::Infallible>(())
        });
        let subscriber = ConnectionManager::new_with_config(client.clone(), config).await?;
        let publisher = ConnectionManager::new(client).await?;
        Ok(Self {
            publisher,
            subscriber,
            origin,
            persist: persist.then(|| Arc::new(redis::Script::new(PERSIST))),
        })
    }
}

/// A publication from another node for one of this node's connections.
fn deliver_push(peers: &Peers, own: &str, push: &PushInfo) {
    if push.kind != PushKind::Message {
        return;
    }
    let (Some(redis::Value::BulkString(channel)), Some(redis::Value::BulkString(payload))) =
        (push.data.first(), push.data.get(1))
    else {
        return;
    };
    if payload.starts_with(own.as_bytes()) {
        return;
    }
    let to = channel.strip_prefix(CHANNEL.as_bytes()).unwrap_or_default();
    let (Ok(to), Some(Ok(text))) = (
        std::str::from_utf8(to),
        payload
            .get(ORIGIN_LEN..)
            .map(|p| Utf8Bytes::try_from(p.to_vec())),
    ) else {
        return;
    };
    if let Some(peer) = peers.lock().expect("peers lock").get(to) {
        let _ = peer.try_send(text);
    }
}

/// Accept connections on `listener` and relay between them until the process ends; with
/// `redis_url`, between the nodes sharing that Redis too, and with `persist` storing each
/// message there first (`floorp`).
pub async fn serve(
    listener: TcpListener,
    redis_url: Option<&str>,
    persist: bool,
) -> anyhow::Result<()> {
    let peers = Peers::default();
    let link = match redis_url {
        Some(url) => Some(Link::connect(url, peers.clone(), persist).await?),
        None => {
            anyhow::ensure!(!persist, "--persist needs --redis-url");
            None
        }
    };
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(relay_conn(tcp, peers.clone(), link.clone()));
    }
}

async fn relay_conn(tcp: TcpStream, peers: Peers, link: Option<Link>) {
    // The hub's socket settings: no Nagle, a small read buffer, writes flushed by the caller.
    if tcp.set_nodelay(true).is_err() {
        return;
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(512)
        .write_buffer_size(0);
    let Ok(ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let Some(Ok(Message::Text(name))) = stream.next().await else {
        return;
    };
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(QUEUE);
    peers
        .lock()
        .expect("peers lock")
        .insert(name.as_str().to_owned(), tx);
    let own_channel = format!("{CHANNEL}{name}");
    if let Some(link) = &link {
        let mut sub = link.subscriber.clone();
        if sub.subscribe(&own_channel).await.is_err() {
            return;
        }
    }
    if sink.send(Message::text("ack 0")).await.is_err() {
        return;
    }
    let mut acked = 0u64;
    // Publications in flight: like the hub's append, a frame is acknowledged once it is out.
    let mut publishing: FuturesUnordered<
        std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>,
    > = FuturesUnordered::new();
    loop {
        let ok = tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) if link.as_ref().is_some_and(|l| l.persist.is_some()) => {
                    if let Some(link) = &link {
                        publishing.push(Box::pin(persist(link, &peers, &name, text)));
                    }
                    true
                }
                Some(Ok(Message::Text(text))) => {
                    let to = text.as_str().split(' ').next().unwrap_or_default();
                    let local = peers
                        .lock()
                        .expect("peers lock")
                        .get(to)
                        .map(|peer| peer.try_send(text.clone()));
                    match (&link, local) {
                        (Some(link), None) => {
                            let mut publisher = link.publisher.clone();
                            let mut payload = Vec::with_capacity(ORIGIN_LEN + text.len());
                            payload.extend_from_slice(link.origin.as_bytes());
                            payload.extend_from_slice(text.as_bytes());
                            let channel = format!("{CHANNEL}{to}");
                            publishing.push(Box::pin(async move {
                                publisher.publish::<_, _, i64>(channel, payload).await.is_ok()
                            }));
                            true
                        }
                        _ => {
                            acked += 1;
                            sink.send(Message::text(format!("ack {acked}"))).await.is_ok()
                        }
                    }
                }
                Some(Ok(_)) => true,
                _ => false,
            },
            Some(published) = publishing.next() => {
                acked += 1;
                published && sink.send(Message::text(format!("ack {acked}"))).await.is_ok()
            }
            Some(first) = rx.recv() => {
                // Like the hub: what is queued leaves in one write.
                let mut ok = sink.feed(Message::Text(first)).await.is_ok();
                while ok {
                    let Ok(more) = rx.try_recv() else { break };
                    ok = sink.feed(Message::Text(more)).await.is_ok();
                }
                ok && sink.flush().await.is_ok()
            }
        };
        if !ok {
            break;
        }
    }
    peers.lock().expect("peers lock").remove(name.as_str());
    if let Some(link) = &link {
        let mut sub = link.subscriber.clone();
        let _ = sub.unsubscribe(&own_channel).await;
    }
}

/// `floorp`: store `text` (from connection `name`) with one script call, published to the
/// recipient's node in the same step when it is elsewhere, then deliver it here when the
/// recipient is local; `true` once stored.
fn persist(
    link: &Link,
    peers: &Peers,
    name: &str,
    text: Utf8Bytes,
) -> impl std::future::Future<Output = bool> + Send + 'static {
    let to = text
        .as_str()
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    let local = peers.lock().expect("peers lock").get(&to).cloned();
    // A conversation is its visitor's: the sender's name, or the recipient's.
    let conversation = if name.starts_with('v') { name } else { &to };
    let keys = (
        format!("floorp:{{{conversation}}}:m"),
        format!("floorp:{{{conversation}}}:ev"),
    );
    let (channel, payload) = match local {
        Some(_) => (String::new(), Vec::new()),
        None => {
            let mut payload = Vec::with_capacity(ORIGIN_LEN + text.len());
            payload.extend_from_slice(link.origin.as_bytes());
            payload.extend_from_slice(text.as_bytes());
            (format!("{CHANNEL}{to}"), payload)
        }
    };
    let script = link.persist.clone();
    let mut conn = link.publisher.clone();
    async move {
        let Some(script) = script else { return false };
        let stored = script
            .key(keys.0)
            .key(keys.1)
            .arg(text.as_str())
            .arg(channel)
            .arg(payload)
            .invoke_async::<i64>(&mut conn)
            .await
            .is_ok();
        if let (true, Some(peer)) = (stored, local) {
            let _ = peer.try_send(text);
        }
        stored
    }
}

/// What the relay under test speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Dialect {
    /// `relay-floor`'s own frames.
    #[default]
    Floor,
    /// Socket.IO v5 over Engine.IO v4 (the Socket.IO peer).
    Socketio,
}

impl Dialect {
    fn path(self) -> &'static str {
        match self {
            Dialect::Floor => "/ws/floor",
            Dialect::Socketio => "/ws/socket.io/?EIO=4&transport=websocket",
        }
    }

    /// What the watched relay processes are called in the report.
    fn label(self) -> &'static str {
        match self {
            Dialect::Floor => "relay-floor",
            Dialect::Socketio => "socketio",
        }
    }

    /// Name the connection and wait until the relay knows it.
    async fn hello(self, ws: &mut wire::Ws, name: &str) -> anyhow::Result<()> {
        match self {
            Dialect::Floor => {
                ws.send(Message::text(name.to_owned())).await?;
                let known = wire::next_text(ws).await?;
                anyhow::ensure!(known == "ack 0", "{name}: the relay answered {known:?}");
            }
            Dialect::Socketio => {
                let open = wire::next_text(ws).await?;
                anyhow::ensure!(open.starts_with('0'), "{name}: no Engine.IO open: {open:?}");
                ws.send(Message::text(format!(r#"40{{"name":"{name}"}}"#)))
                    .await?;
                loop {
                    let answer = wire::next_text(ws).await?;
                    if answer == "2" {
                        ws.send(Message::text("3")).await?;
                        continue;
                    }
                    anyhow::ensure!(answer.starts_with("40"), "{name}: refused: {answer:?}");
                    break;
                }
            }
        }
        Ok(())
    }

    /// The frame that sends `text` (the `n`th of this connection).
    fn frame(self, text: String, n: u64) -> String {
        match self {
            Dialect::Floor => text,
            // Names, digits and the filler: nothing in `text` needs escaping in JSON.
            Dialect::Socketio => format!(r#"42{n}["m","{text}"]"#),
        }
    }

    /// A received frame as `relay-floor` would have sent it (`ack N` or the message), or what
    /// to answer straight away (a pong).
    fn read(self, frame: &str) -> Read<'_> {
        match self {
            Dialect::Floor => Read::Text(frame),
            Dialect::Socketio => {
                if frame == "2" {
                    Read::Pong
                } else if frame.starts_with("43") {
                    Read::Ack
                } else if let Some(text) = frame
                    .strip_prefix(r#"42["m",""#)
                    .and_then(|t| t.strip_suffix(r#""]"#))
                {
                    Read::Text(text)
                } else {
                    Read::Nothing
                }
            }
        }
    }
}

/// A frame read, in `relay-floor`'s terms.
enum Read<'a> {
    Text(&'a str),
    Ack,
    Pong,
    Nothing,
}

#[derive(Debug, Clone, Args)]
pub struct FloorArgs {
    /// What the relay speaks.
    #[arg(long, value_enum, default_value = "floor")]
    pub dialect: Dialect,
    #[arg(long, default_value_t = 200)]
    pub visitors: usize,
    #[arg(long, default_value_t = 20)]
    pub operators: usize,
    /// Visitor messages per second, all visitors together.
    #[arg(long, default_value_t = 5000.0)]
    pub rate: f64,
    /// Operator answers per message an operator receives.
    #[arg(long, default_value_t = 0.2)]
    pub operator_ratio: f64,
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    #[arg(long, default_value_t = 8.0)]
    pub duration_secs: f64,
    /// Bytes of filler per message, to match the hub's frames in size (~300 bytes).
    #[arg(long, default_value_t = 240)]
    pub pad: usize,
}

#[derive(Debug, Default)]
struct Counters {
    /// Sent inside the measured window.
    sent: AtomicU64,
    /// Of those, delivered to the recipient.
    delivered: AtomicU64,
    acked: AtomicU64,
}

#[derive(Debug)]
pub struct FloorReport {
    pub sent: u64,
    pub delivered: u64,
    pub acked: u64,
    pub relay_cpu_us_per_msg: Option<f64>,
    pub text: String,
}

struct Plan {
    start: Instant,
    window: (Duration, Duration),
    counters: Counters,
    latency: Mutex<Hist>,
    pad: String,
}

impl Plan {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn in_window(&self, t_ns: u64) -> bool {
        let t = Duration::from_nanos(t_ns);
        t >= self.window.0 && t < self.window.1
    }

    /// A message to `to`: recipient, sender, send time, filler.
    fn message(&self, to: &str, from: &str) -> String {
        let t = self.now_ns();
        if self.in_window(t) {
            self.counters.sent.fetch_add(1, Ordering::Relaxed);
        }
        format!("{to} {from} {t} {}", self.pad)
    }

    /// A frame that reached its recipient (acks are counted apart). Returns the sender.
    fn received<'a>(&self, text: &'a str) -> Option<&'a str> {
        if let Some(n) = text.strip_prefix("ack ") {
            if n.parse::<u64>().is_ok() {
                self.counters.acked.fetch_add(1, Ordering::Relaxed);
            }
            return None;
        }
        let mut parts = text.split(' ');
        let (_to, from, t) = (parts.next()?, parts.next()?, parts.next()?.parse().ok()?);
        if self.in_window(t) {
            self.counters.delivered.fetch_add(1, Ordering::Relaxed);
            let now = self.now_ns();
            self.latency
                .lock()
                .expect("latency lock")
                .record_ns(now.saturating_sub(t));
        }
        Some(from)
    }
}

pub async fn run(target: &Target, args: &FloorArgs) -> anyhow::Result<FloorReport> {
    anyhow::ensure!(
        args.visitors > 0 && args.operators > 0,
        "need visitors and operators"
    );
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let watched = target.watched()?;
    let warmup = Duration::from_secs_f64(args.warmup_secs);
    let window_len = Duration::from_secs_f64(args.duration_secs);
    // Everyone connects and names itself before the first message (a frame sent to someone
    // not yet there would be dropped and counted lost).
    let ready = Arc::new(Barrier::new(args.visitors + args.operators + 1));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = Vec::new();
    for m in 0..args.operators {
        let ws = wire::connect(target.url(m), args.dialect.path()).await?;
        conns.push((format!("o{m}"), ws));
    }
    for i in 0..args.visitors {
        let ws = wire::connect(target.url(i), args.dialect.path()).await?;
        conns.push((format!("v{i}"), ws));
    }
    // The clock starts once everyone is connected: the warm-up is traffic, not handshakes.
    let start = Instant::now();
    let plan = Arc::new(Plan {
        start,
        window: (warmup, warmup + window_len),
        counters: Counters::default(),
        latency: Mutex::new(Hist::default()),
        pad: "x".repeat(args.pad),
    });
    let period = Duration::from_secs_f64(args.visitors as f64 / args.rate);
    let answer_every = (1.0 / args.operator_ratio.max(1e-9)).round().max(1.0) as u64;
    let mut tasks = Vec::new();
    for (i, (name, mut ws)) in conns.into_iter().enumerate() {
        let (plan, ready, mut stop) = (plan.clone(), ready.clone(), stop_rx.clone());
        let visitor = name.starts_with('v');
        let operator = if visitor {
            let v = i - args.operators;
            Some(format!("o{}", v % args.operators))
        } else {
            None
        };
        // Visitors start evenly spread over one period, so the offered load is smooth.
        let offset = if visitor {
            period.mul_f64((i - args.operators) as f64 / args.visitors as f64)
        } else {
            Duration::ZERO
        };
        let dialect = args.dialect;
        tasks.push(tokio::spawn(async move {
            dialect.hello(&mut ws, &name).await?;
            ready.wait().await;
            let mut n = 0u64;
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut got = 0u64;
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tick.tick(), if visitor => {
                        let to = operator.as_deref().unwrap_or_default();
                        let text = plan.message(to, &name);
                        n += 1;
                        ws.send(Message::text(dialect.frame(text, n))).await?;
                    }
                    frame = ws.next() => {
                        let Some(Ok(Message::Text(frame))) = frame else {
                            anyhow::bail!("{name}: socket closed");
                        };
                        let text = match dialect.read(frame.as_str()) {
                            Read::Text(text) => text,
                            Read::Ack => {
                                plan.counters.acked.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            Read::Pong => {
                                ws.send(Message::text("3")).await?;
                                continue;
                            }
                            Read::Nothing => continue,
                        };
                        let Some(from) = plan.received(text) else { continue };
                        got += 1;
                        if !visitor && got.is_multiple_of(answer_every) {
                            let reply = plan.message(from, &name);
                            n += 1;
                            ws.send(Message::text(dialect.frame(reply, n))).await?;
                        }
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    ready.wait().await;
    tokio::time::sleep_until((start + warmup).into()).await;
    target.hook("start", 0).await;
    let before = procstat::sample_all(&watched);
    tokio::time::sleep_until((start + warmup + window_len).into()).await;
    let after = procstat::sample_all(&watched);
    target.hook("end", 0).await;
    // Let what the window sent arrive (it is counted by when it was sent).
    let sent = plan.counters.sent.load(Ordering::Relaxed);
    crate::settle(|| plan.counters.delivered.load(Ordering::Relaxed) >= sent).await;
    let _ = stop_tx.send(true);
    for t in tasks {
        t.await??;
    }
    let delivered = plan.counters.delivered.load(Ordering::Relaxed);
    let acked = plan.counters.acked.load(Ordering::Relaxed);
    let mut rows = Vec::new();
    for (w, (b, a)) in watched.iter().zip(before.iter().zip(after.iter())) {
        let (Some(b), Some(a)) = (b, a) else { continue };
        // The relay's processes are watched as hubs ("hub", "hub2"…).
        let label = if w.is_hub {
            w.label.replacen("hub", args.dialect.label(), 1)
        } else {
            w.label.clone()
        };
        rows.push(vec![
            label,
            format!("{:.0} %", procstat::cpu_share(b, a) * 100.0),
            format!("{:.1}", a.rss_kib as f64 / 1024.0),
        ]);
    }
    let (relay_cpu, _) = procstat::hub_totals(&watched, &before, &after);
    let servers_us = procstat::servers_cpu_us(&watched, &before, &after);
    let per_msg = relay_cpu.map(|c| c.us as f64 / sent.max(1) as f64);
    let sys_per_msg = relay_cpu.map(|c| c.sys_us as f64 / sent.max(1) as f64);
    let lat = plan.latency.lock().expect("latency lock").clone();
    let fmt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1}"));
    let mut text = table(
        &[
            "offered visitor msg/s",
            "sent in window (v+o)",
            "delivered",
            "delivery ms p50/p99/max",
            "relay CPU µs/msg",
            "of which system",
        ],
        &[vec![
            format!("{:.0}", args.rate),
            sent.to_string(),
            delivered.to_string(),
            format!(
                "{} / {} / {}",
                fmt_ms(lat.ms(0.5)),
                fmt_ms(lat.ms(0.99)),
                fmt_ms(lat.max_ms())
            ),
            fmt(per_msg),
            fmt(sys_per_msg),
        ]],
    );
    text.push('\n');
    text.push_str(&table(&["process", "CPU (of one core)", "RSS MiB"], &rows));
    text.push_str(&format!(
        "\nlost {} (sent in the window, never delivered), acknowledgements {acked}\n",
        sent.saturating_sub(delivered)
    ));
    // One line for ./scripts/bench.sh compare (duplicates are not told apart here: 0 is what
    // relay-floor and the peer can do, never verified).
    let (node_us, node_sys_us, redis_us) =
        crate::CompareRow::per_process(&watched, &before, &after, sent);
    text.push_str(&crate::compare_line(&crate::CompareRow {
        system: args.dialect.label(),
        rate: args.rate,
        sent,
        servers_us_per_msg: servers_us as f64 / sent.max(1) as f64,
        p50_ms: lat.ms(0.5),
        p99_ms: lat.ms(0.99),
        p999_ms: lat.ms(0.999),
        lost: sent.saturating_sub(delivered),
        duplicated: None,
        node_us_per_msg: node_us,
        node_sys_us_per_msg: node_sys_us,
        redis_us_per_msg: redis_us,
    }));
    Ok(FloorReport {
        sent,
        delivered,
        acked,
        relay_cpu_us_per_msg: per_msg,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socketio_frames_read_back_as_the_floors() {
        let d = Dialect::Socketio;
        let frame = d.frame("o1 v2 123 xx".into(), 7);
        assert_eq!(frame, r#"427["m","o1 v2 123 xx"]"#);
        // A delivery is the event without an ack id; its text is what relay-floor would send.
        assert!(matches!(
            d.read(r#"42["m","o1 v2 123 xx"]"#),
            Read::Text("o1 v2 123 xx")
        ));
        assert!(matches!(d.read("437[12]"), Read::Ack));
        assert!(matches!(d.read("2"), Read::Pong));
        assert!(matches!(d.read(r#"42["other",1]"#), Read::Nothing));
        // The floor's own frames pass through.
        assert!(matches!(Dialect::Floor.read("ack 3"), Read::Text("ack 3")));
        assert_eq!(Dialect::Floor.frame("o1 v2".into(), 1), "o1 v2");
    }
}
