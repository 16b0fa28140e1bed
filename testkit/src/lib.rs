//! Test support shared by the hub's unit and integration tests, the system tests and the load
//! generator's tests: a real `redis-server` per test, alone ([`RedisServer`]), as a 3-master,
//! 3-replica Redis Cluster ([`RedisCluster`]), or as a primary, a replica and three sentinels
//! ([`RedisSentinels`]); and a real S3-compatible server ([`S3Server`]) for the attachments.
//!
//! Each server is a child process on a free port, with no persistence unless asked, killed when
//! dropped. It is never the machine's shared 6379, and it works in a temporary directory of its
//! own (`--dir`), removed after it, so that nothing it writes (a replica's synced `dump.rdb`, a
//! cluster's node file) lands in the test's working directory.
//!
//! This crate knows nothing of the hub: it hands out URLs (`redis://`, `redis+cluster://`,
//! `redis+sentinel://`) and ports, and the hub's tests connect with the hub's own topology code.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// A `redis-server` child process.
#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    child: Child,
    /// With an append-only file here (every write fsynced): survives a restart.
    dir: Option<PathBuf>,
    /// Where it works when it keeps nothing.
    _scratch: Option<TempDir>,
}

impl RedisServer {
    /// Start one and wait until it accepts connections (it says so on stdout).
    ///
    /// # Panics
    /// When `redis-server` is not installed (`./scripts/test.sh` installs it) or will not start.
    pub async fn start() -> RedisServer {
        for _ in 0..5 {
            if let Some(server) = Self::start_on(free_port()).await {
                return server;
            }
        }
        panic!("redis-server did not start");
    }

    /// Start one on `port` (e.g. again, after [`RedisServer::kill`]); `None` if it cannot bind.
    pub async fn start_on(port: u16) -> Option<RedisServer> {
        Self::spawn(port, None).await
    }

    /// One that keeps its data in `dir` (append-only file, fsync on every write, as a
    /// production Redis for the hub should), so [`RedisServer::restart`] loses nothing it
    /// acknowledged.
    pub async fn start_persistent(dir: &Path) -> RedisServer {
        for _ in 0..5 {
            if let Some(server) = Self::spawn(free_port(), Some(dir.to_owned())).await {
                return server;
            }
        }
        panic!("redis-server did not start");
    }

    /// One run under `wrapper` (a program and its arguments before `redis-server`'s, e.g.
    /// valgrind's), for a benchmark that measures the server itself; [`RedisServer::pid`] is the
    /// wrapped process. Waits for it as for any other (a wrapper that slows it is given time).
    pub async fn start_wrapped(wrapper: &[&str]) -> RedisServer {
        let wrapper: Vec<String> = wrapper.iter().map(|w| (*w).to_owned()).collect();
        for _ in 0..5 {
            if let Some(server) = Self::spawn_with(&wrapper, free_port(), None).await {
                return server;
            }
        }
        panic!("redis-server did not start under {wrapper:?}");
    }

    /// Kill it hard (SIGKILL: no chance to flush anything) and start it again on the same port
    /// and directory.
    pub async fn restart(&mut self) {
        let _ = self.child.kill().await;
        for _ in 0..50 {
            if let Some(next) = Self::spawn(self.port, self.dir.clone()).await {
                *self = next;
                return;
            }
            // The port is still being released by the kernel.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("redis-server did not restart on port {}", self.port);
    }

    async fn spawn(port: u16, dir: Option<PathBuf>) -> Option<RedisServer> {
        Self::spawn_with(&[], port, dir).await
    }

    async fn spawn_with(
        wrapper: &[String],
        port: u16,
        dir: Option<PathBuf>,
    ) -> Option<RedisServer> {
        let scratch = dir.is_none().then(|| TempDir::new("redis"));
        let mut args = base_args(port);
        match (&dir, &scratch) {
            (Some(d), _) => {
                // Later flags win: an append-only file, fsynced on every write.
                args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(String::from));
                args.extend(["--dir".to_owned(), d.to_string_lossy().into_owned()]);
            }
            (None, Some(scratch)) => args.extend(["--dir".to_owned(), scratch.path("")]),
            (None, None) => {}
        }
        // `None`: it exited (the port was taken between our probe and its bind).
        let child = spawn_ready_under(wrapper, &args, "Ready to accept connections").await?;
        Some(RedisServer {
            port,
            child,
            dir,
            _scratch: scratch,
        })
    }

    /// `redis://…/` for a hub's `--redis-url`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A plain connection, for looking at the server from the side.
    pub async fn manager(&self) -> redis::aio::ConnectionManager {
        let client = redis::Client::open(format!("{}?protocol=resp3", self.url())).expect("url");
        redis::aio::ConnectionManager::new(client)
            .await
            .expect("connect")
    }

    /// Watch the commands clients send (Redis `MONITOR`), to count round trips.
    pub async fn monitor(&self) -> Monitor {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        stream.write_all(b"MONITOR\r\n").await.expect("monitor");
        let mut lines = BufReader::new(stream).lines();
        let ok = lines.next_line().await.expect("read").unwrap_or_default();
        assert_eq!(ok, "+OK");
        Monitor {
            lines,
            url: self.url(),
        }
    }

    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// Its process id, while it runs (the wrapper's, under [`RedisServer::start_wrapped`]).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL and wait for the exit, without a runtime (for a harness's drop). Returns its pid
    /// if it is still running ten seconds later.
    pub fn stop_now(&mut self) -> Option<u32> {
        kill_and_wait(&mut self.child)
    }
}

/// SIGKILL a child and wait for its exit, without a runtime (for a harness's drop). Returns its
/// pid if it is still running ten seconds later.
pub fn kill_and_wait(child: &mut Child) -> Option<u32> {
    let pid = child.id()?;
    let _ = child.start_kill();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while matches!(child.try_wait(), Ok(None)) {
        if std::time::Instant::now() > deadline {
            return Some(pid);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    None
}

/// A `MONITOR` connection.
#[derive(Debug)]
pub struct Monitor {
    lines: tokio::io::Lines<BufReader<tokio::net::TcpStream>>,
    url: String,
}

impl Monitor {
    /// The commands clients sent since the last call (commands run inside scripts are not
    /// round trips and are left out). Ends at a marker this sends itself, so no wait is guessed.
    pub async fn round_trips(&mut self) -> Vec<String> {
        self.commands().await.0
    }

    /// The commands since the last call: those clients sent, and those run inside scripts.
    pub async fn commands(&mut self) -> (Vec<String>, Vec<String>) {
        let marker = unique("marker-");
        let client = redis::Client::open(self.url.as_str()).expect("url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        let _: String = redis::cmd("ECHO")
            .arg(&marker)
            .query_async(&mut conn)
            .await
            .expect("echo");
        let (mut sent, mut scripted) = (Vec::new(), Vec::new());
        while let Ok(Some(line)) = self.lines.next_line().await {
            if line.contains(&marker) {
                break;
            }
            // `+1700000000.123456 [0 127.0.0.1:5555] "evalsha" "…"`: keep the command name.
            let cmd = line.split('"').nth(1).unwrap_or_default().to_lowercase();
            if line.contains(" lua]") {
                scripted.push(cmd);
            } else {
                sent.push(cmd);
            }
        }
        (sent, scripted)
    }
}

/// A `redis-server` on `port` of 127.0.0.1, without persistence.
fn base_args(port: u16) -> Vec<String> {
    [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    .map(String::from)
    .to_vec()
}

/// Whether a `CLUSTER NODES` line's slot ranges (fields 9 on) hold `slot`.
fn serves_slot(line: &str, slot: i64) -> bool {
    line.split(' ')
        .skip(8)
        .any(|range| match range.split_once('-') {
            Some((a, b)) => {
                a.parse::<i64>().is_ok_and(|a| a <= slot)
                    && b.parse::<i64>().is_ok_and(|b| slot <= b)
            }
            None => range.parse::<i64>() == Ok(slot),
        })
}

/// A child `redis-server` (or sentinel) started with `args`, once its log says `ready`.
async fn spawn_ready(args: &[String], ready: &str) -> Option<Child> {
    spawn_ready_under(&[], args, ready).await
}

/// [`spawn_ready`], `redis-server` run by `wrapper` (its program and arguments) when not empty.
async fn spawn_ready_under(wrapper: &[String], args: &[String], ready: &str) -> Option<Child> {
    let (program, before) = match wrapper.split_first() {
        Some((program, rest)) => (
            program.as_str(),
            [rest, &["redis-server".to_owned()]].concat(),
        ),
        None => ("redis-server", Vec::new()),
    };
    let mut child = Command::new(program)
        .args(before)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server is installed (./scripts/test.sh installs it)");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains(ready) {
            // Keep draining its log so it never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Some(child);
        }
    }
    let _ = child.wait().await;
    None
}

/// A name no other call of this process or another one makes: `prefix`, the pid, a count and
/// the time.
fn unique(prefix: &str) -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}{}-{}-{nanos}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh directory for a server's files, removed by [`TempDir`]'s drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique(&format!("tc-{what}-")));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn path(&self, file: &str) -> String {
        self.0.join(file).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Ask one server a question, on a short-lived connection.
async fn ask<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    cmd.query_async(&mut conn).await
}

/// Poll `check` until it holds (a server's own report of its state, not a guessed wait), or
/// panic after `secs` seconds naming `what`.
async fn until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A Redis Cluster of three masters and three replicas, each a child process on a free port.
/// Nodes time out after [`RedisCluster::NODE_TIMEOUT_MS`], so a killed master's replica takes
/// over within a few seconds.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<(u16, Option<Child>)>,
    _dir: TempDir,
}

impl RedisCluster {
    pub const NODE_TIMEOUT_MS: u64 = 1000;

    pub async fn start() -> RedisCluster {
        let dir = TempDir::new("cluster");
        let mut nodes = Vec::new();
        while nodes.len() < 6 {
            let port = free_port();
            let mut args = base_args(port);
            args.extend(
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &dir.path(&format!("nodes-{port}.conf")),
                    "--cluster-node-timeout",
                    &Self::NODE_TIMEOUT_MS.to_string(),
                    "--dir",
                    &dir.path(""),
                ]
                .map(String::from),
            );
            if let Some(child) = spawn_ready(&args, "Ready to accept connections").await {
                nodes.push((port, Some(child)));
            }
        }
        let mut create = std::process::Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for (port, _) in &nodes {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli is installed");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = RedisCluster { nodes, _dir: dir };
        cluster.until_settled().await;
        // A replica that has not synced with its master yet cannot take over from it.
        let ports = cluster.live_ports();
        until(30, "every replica synced", || {
            let ports = ports.clone();
            async move {
                let mut synced = 0;
                for port in ports {
                    let info: String = ask(port, redis::cmd("INFO").arg("replication"))
                        .await
                        .unwrap_or_default();
                    synced += usize::from(info.contains("master_link_status:up"));
                }
                synced == 3
            }
        })
        .await;
        cluster
    }

    /// Every live node reports the cluster ok and a master for every slot it knows.
    async fn until_settled(&self) {
        let ports: Vec<u16> = self.live_ports();
        until(30, "cluster_state:ok on every node", || {
            let ports = ports.clone();
            async move {
                for port in ports {
                    let info: String = match ask(port, redis::cmd("CLUSTER").arg("INFO")).await {
                        Ok(info) => info,
                        Err(_) => return false,
                    };
                    if !info.contains("cluster_state:ok") {
                        return false;
                    }
                }
                true
            }
        })
        .await;
    }

    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|(_, c)| c.is_some())
            .map(|(p, _)| *p)
            .collect()
    }

    /// `redis+cluster://…` for a hub's `--redis-url`.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .live_ports()
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// The port of the master that serves `key`'s slot now. Each node's view of the cluster is
    /// asked in turn: right after a failover one may still list the old master (as failed) and
    /// not yet the new one, while another already does.
    pub async fn master_of(&self, key: &str) -> u16 {
        let slot: i64 = ask(
            self.live_ports()[0],
            redis::cmd("CLUSTER").arg("KEYSLOT").arg(key),
        )
        .await
        .expect("keyslot");
        for port in self.live_ports() {
            let Ok(nodes) = ask::<String>(port, redis::cmd("CLUSTER").arg("NODES")).await else {
                continue;
            };
            for line in nodes.lines() {
                let f: Vec<&str> = line.split(' ').collect();
                if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
                    continue;
                }
                if serves_slot(line, slot) {
                    let addr = f[1].split('@').next().unwrap_or_default();
                    return addr
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.parse().ok())
                        .expect("port");
                }
            }
        }
        panic!("no node's view has a master serving slot {slot}");
    }

    /// Give the slot of `key` (which must hold no keys) to another master, as a resharding
    /// does: `CLUSTER SETSLOT … NODE` on the new owner, the old one, then the rest. Returns the
    /// old owner's port and the new one's.
    pub async fn move_slot_of(&self, key: &str) -> (u16, u16) {
        let ports = self.live_ports();
        let slot: i64 = ask(ports[0], redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
            .await
            .expect("keyslot");
        let from = self.master_of(key).await;
        let mut masters = Vec::new();
        for port in &ports {
            let info: String = ask(*port, redis::cmd("INFO").arg("replication"))
                .await
                .expect("info");
            if info.contains("role:master") {
                masters.push(*port);
            }
        }
        let to = *masters
            .iter()
            .find(|p| **p != from)
            .expect("another master");
        let id: String = ask(to, redis::cmd("CLUSTER").arg("MYID"))
            .await
            .expect("myid");
        let mut order = vec![to, from];
        order.extend(masters.iter().filter(|p| **p != to && **p != from));
        for port in order {
            let _: () = ask(
                port,
                redis::cmd("CLUSTER")
                    .arg("SETSLOT")
                    .arg(slot)
                    .arg("NODE")
                    .arg(&id),
            )
            .await
            .expect("setslot");
        }
        until(30, "the slot's new owner known to every node", || {
            let ports = ports.clone();
            async move {
                for port in ports {
                    let Ok(nodes) = ask::<String>(port, redis::cmd("CLUSTER").arg("NODES")).await
                    else {
                        return false;
                    };
                    let owner = nodes.lines().find(|l| serves_slot(l, slot));
                    if !owner.is_some_and(|l| l.contains(&format!("127.0.0.1:{to}@"))) {
                        return false;
                    }
                }
                true
            }
        })
        .await;
        (from, to)
    }

    /// SIGKILL the master serving `key`; returns its port. Its replica is promoted by the
    /// cluster itself ([`RedisCluster::until_failed_over`] waits for it).
    pub async fn kill_master_of(&mut self, key: &str) -> u16 {
        let port = self.master_of(key).await;
        // Replication is asynchronous: a master killed the instant after a write may take
        // it with it, and the promoted replica would then lack data the test has seen
        // acknowledged. The failure rehearsed here is a lost node, not lost writes, so
        // the replica catches up first.
        let caught_up: redis::RedisResult<i64> =
            ask(port, redis::cmd("WAIT").arg(1).arg(5_000)).await;
        assert_eq!(caught_up, Ok(1), "the replica of {port} did not catch up");
        let node = self
            .nodes
            .iter_mut()
            .find(|(p, _)| *p == port)
            .expect("node");
        if let Some(mut child) = node.1.take() {
            let _ = child.kill().await;
        }
        port
    }

    /// Wait until a live master serves `key`'s slot again (a replica was promoted).
    pub async fn until_failed_over(&self, key: &str, killed: u16) {
        let ports = self.live_ports();
        until(30, "a replica promoted", || {
            let ports = ports.clone();
            async move {
                let Ok(nodes) = ask::<String>(ports[0], redis::cmd("CLUSTER").arg("NODES")).await
                else {
                    return false;
                };
                nodes.lines().any(|l| {
                    let f: Vec<&str> = l.split(' ').collect();
                    f.len() >= 9
                        && f[2].contains("master")
                        && !f[2].contains("fail")
                        && !f[1].starts_with(&format!("127.0.0.1:{killed}@"))
                        && f[7] == "connected"
                })
            }
        })
        .await;
        let _ = key;
        self.until_settled().await;
    }

    /// The pids of its processes still running.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter_map(|(_, c)| c.as_ref().and_then(Child::id))
            .collect()
    }

    /// `CLUSTER NODES` as a live node sees it, for a failing test's message.
    pub async fn describe(&self) -> String {
        let port = self.live_ports()[0];
        ask::<String>(port, redis::cmd("CLUSTER").arg("NODES"))
            .await
            .unwrap_or_else(|e| e.to_string())
    }

    /// Each process still running, for a harness's drop: SIGKILL and wait.
    pub fn stop_now(&mut self) -> Vec<u32> {
        self.nodes
            .iter_mut()
            .filter_map(|(_, c)| c.as_mut().and_then(kill_and_wait))
            .collect()
    }
}

/// One primary, one replica and three sentinels (quorum 2) watching them as
/// [`RedisSentinels::MASTER`]; sentinels call a primary down after
/// [`RedisSentinels::DOWN_AFTER_MS`].
#[derive(Debug)]
pub struct RedisSentinels {
    pub primary: RedisServer,
    pub replica: RedisServer,
    sentinels: Vec<(u16, Child)>,
    _dir: TempDir,
}

impl RedisSentinels {
    pub const MASTER: &str = "hubmaster";
    pub const DOWN_AFTER_MS: u64 = 1000;

    pub async fn start() -> RedisSentinels {
        let primary = RedisServer::start().await;
        let replica = loop {
            let port = free_port();
            // The replica writes the primary's data it syncs (`dump.rdb`) into its `--dir`.
            let scratch = TempDir::new("replica");
            let mut args = base_args(port);
            args.extend(["--replicaof", "127.0.0.1", &primary.port.to_string()].map(String::from));
            args.extend(["--dir".to_owned(), scratch.path("")]);
            if let Some(child) = spawn_ready(&args, "Ready to accept connections").await {
                break RedisServer {
                    port,
                    child,
                    dir: None,
                    _scratch: Some(scratch),
                };
            }
        };
        let dir = TempDir::new("sentinel");
        let mut sentinels = Vec::new();
        while sentinels.len() < 3 {
            let port = free_port();
            let conf = dir.path(&format!("sentinel-{port}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\nsentinel monitor {m} 127.0.0.1 {p} 2\n\
                     sentinel down-after-milliseconds {m} {down}\n\
                     sentinel failover-timeout {m} 5000\nsentinel parallel-syncs {m} 1\n",
                    m = Self::MASTER,
                    p = primary.port,
                    down = Self::DOWN_AFTER_MS,
                ),
            )
            .expect("sentinel.conf");
            let args = vec![conf, "--sentinel".to_owned()];
            if let Some(child) = spawn_ready(&args, "+monitor master").await {
                sentinels.push((port, child));
            }
        }
        let set = RedisSentinels {
            primary,
            replica,
            sentinels,
            _dir: dir,
        };
        // Ready when every sentinel knows the replica and the two other sentinels, and the
        // replica has synced: only then can they agree on a failover.
        let ports: Vec<u16> = set.sentinels.iter().map(|(p, _)| *p).collect();
        let replica_port = set.replica.port;
        until(30, "sentinels see each other and the replica", || {
            let ports = ports.clone();
            async move {
                for port in ports {
                    let others: redis::RedisResult<Vec<redis::Value>> = ask(
                        port,
                        redis::cmd("SENTINEL").arg("SENTINELS").arg(Self::MASTER),
                    )
                    .await;
                    let replicas: redis::RedisResult<Vec<redis::Value>> = ask(
                        port,
                        redis::cmd("SENTINEL").arg("REPLICAS").arg(Self::MASTER),
                    )
                    .await;
                    if !matches!((others, replicas), (Ok(o), Ok(r)) if o.len() == 2 && r.len() == 1)
                    {
                        return false;
                    }
                }
                let info: String = ask(replica_port, redis::cmd("INFO").arg("replication"))
                    .await
                    .unwrap_or_default();
                info.contains("master_link_status:up")
            }
        })
        .await;
        set
    }

    /// `redis+sentinel://…/hubmaster` for a hub's `--redis-url`.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|(p, _)| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+sentinel://{}/{}", hosts.join(","), Self::MASTER)
    }

    /// The primary's port as the sentinels name it now.
    pub async fn named_primary(&self) -> Option<u16> {
        let addr: Option<(String, String)> = ask(
            self.sentinels[0].0,
            redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(Self::MASTER),
        )
        .await
        .ok()?;
        addr.and_then(|(_, port)| port.parse().ok())
    }

    /// SIGKILL the primary, without waiting for the failover.
    pub async fn kill_primary_now(&mut self) {
        let _ = self.primary.child.kill().await;
    }

    /// SIGKILL the primary and wait until the sentinels name the replica in its place.
    pub async fn kill_primary(&mut self) {
        self.kill_primary_now().await;
        let (this, replica) = (&*self, self.replica.port);
        until(30, "the sentinels promote the replica", || async move {
            this.named_primary().await == Some(replica)
        })
        .await;
    }

    /// The pids of its processes still running.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = [self.primary.pid(), self.replica.pid()]
            .into_iter()
            .flatten()
            .collect();
        pids.extend(self.sentinels.iter().filter_map(|(_, c)| c.id()));
        pids
    }

    /// Each process still running, for a harness's drop: SIGKILL and wait.
    pub fn stop_now(&mut self) -> Vec<u32> {
        let mut left: Vec<u32> = [self.primary.stop_now(), self.replica.stop_now()]
            .into_iter()
            .flatten()
            .collect();
        left.extend(
            self.sentinels
                .iter_mut()
                .filter_map(|(_, c)| kill_and_wait(c)),
        );
        left
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A real S3-compatible server on a free port: s3s's file-system backend (`s3s-fs`) behind its
/// HTTP service, in a temporary directory, with one bucket and one access key, serving until
/// dropped. The hub's object store client talks to it over HTTP with AWS signatures, exactly
/// as to AWS S3, MinIO or R2.
#[derive(Debug)]
pub struct S3Server {
    pub port: u16,
    pub bucket: &'static str,
    task: tokio::task::JoinHandle<()>,
    _dir: TempDir,
}

impl S3Server {
    pub const ACCESS_KEY: &'static str = "tc-test-access";
    pub const SECRET_KEY: &'static str = "tc-test-secret";

    /// # Panics
    /// When the directory or the port cannot be had.
    pub async fn start() -> S3Server {
        use hyper_util::rt::TokioIo;
        use s3s::auth::SimpleAuth;
        use s3s::service::S3ServiceBuilder;

        let dir = TempDir::new("s3");
        let bucket = "tc-files";
        std::fs::create_dir_all(dir.0.join(bucket)).expect("bucket dir");
        let fs = s3s_fs::FileSystem::new(&dir.0).expect("s3s-fs root");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(Self::ACCESS_KEY, Self::SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let service = service.clone();
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        S3Server {
            port,
            bucket,
            task,
            _dir: dir,
        }
    }

    /// The store URL (`--file-store`).
    pub fn url(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    /// The client's settings, as `object_store`'s S3 configuration keys (the `AWS_*`
    /// environment variables of a deployment): the endpoint over plain HTTP, the key, a region.
    pub fn options(&self) -> Vec<(&'static str, String)> {
        vec![
            ("aws_endpoint", format!("http://127.0.0.1:{}", self.port)),
            ("aws_allow_http", "true".into()),
            ("aws_access_key_id", Self::ACCESS_KEY.into()),
            ("aws_secret_access_key", Self::SECRET_KEY.into()),
            ("aws_region", "us-east-1".into()),
            ("aws_virtual_hosted_style_request", "false".into()),
        ]
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A real SMTP server on a port of its own: Python's `aiosmtpd` (installed by
/// `./scripts/test.sh`) with its Maildir handler, keeping every message it accepts in a
/// temporary directory, until dropped. The hub's mail client talks SMTP to it as to any
/// mail server.
#[derive(Debug)]
pub struct SmtpServer {
    pub port: u16,
    child: Child,
    dir: TempDir,
}

impl SmtpServer {
    /// # Panics
    /// When aiosmtpd is not installed, or does not answer within 30 s.
    pub async fn start() -> SmtpServer {
        Self::start_on(free_port()).await
    }

    /// On `port` (a server that was down coming back: retries then reach it).
    ///
    /// # Panics
    /// As [`SmtpServer::start`].
    pub async fn start_on(port: u16) -> SmtpServer {
        let dir = TempDir::new("smtp");
        let maildir = dir.0.join("mail");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 is installed");
        let mut server = SmtpServer { port, child, dir };
        // Ready when it greets: `220 …` on a fresh connection.
        until(
            30,
            "aiosmtpd greeting (./scripts/test.sh installs aiosmtpd)",
            || async {
                use tokio::io::AsyncReadExt;
                let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                    return false;
                };
                let mut greeting = [0u8; 3];
                s.read_exact(&mut greeting).await.is_ok() && &greeting == b"220"
            },
        )
        .await;
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("aiosmtpd exited: {status}");
        }
        server
    }

    /// A port no server listens on yet (for a server that is down at first).
    pub fn free_port() -> u16 {
        free_port()
    }

    /// `--smtp-url` for it.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message it accepted, as received (headers and body), oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut found: Vec<(std::time::SystemTime, String)> = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.dir.0.join("mail").join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let at = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                if let Ok(text) = std::fs::read_to_string(e.path()) {
                    found.push((at, readable(&text)));
                }
            }
        }
        found.sort_by_key(|(at, _)| *at);
        found.into_iter().map(|(_, t)| t).collect()
    }

    /// The messages, once it has accepted at least `n` (within 30 s).
    ///
    /// # Panics
    /// When fewer arrive in time.
    pub async fn until_messages(&self, n: usize) -> Vec<String> {
        until(30, &format!("{n} messages accepted"), || async {
            self.messages().len() >= n
        })
        .await;
        self.messages()
    }
}

/// A message as a person reads it: a quoted-printable body decoded (soft line breaks joined,
/// `=XX` turned back into bytes), the headers as they came.
fn readable(message: &str) -> String {
    let message = message.replace("\r\n", "\n");
    let Some((head, body)) = message.split_once("\n\n") else {
        return message;
    };
    if !head
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: quoted-printable")
    {
        return message;
    }
    let joined = body.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    format!("{head}\n\n{}", String::from_utf8_lossy(&out))
}
