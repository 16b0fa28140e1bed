//! The processes of a system test: Redis (one `redis-server`, or a 3-master, 3-replica Redis
//! Cluster, or a primary, a replica and three sentinels), N `hub` nodes, one nginx.
//!
//! Everything lives in a fresh directory under the system temp dir (node logs, nginx config,
//! pid and temp files), removed when the cluster is dropped unless `TC_KEEP_TMP` is set.
//! Readiness is never guessed: a hub is ready when it prints its `hub listening on` line, nginx
//! when a request through it is answered.
//!
//! A test leaves nothing running. On drop nginx is stopped as its documentation says (SIGTERM
//! to the master, which stops its workers and exits; a SIGKILL to the master would orphan the
//! workers), the hubs and Redis are killed, and each is waited for; then the drop fails the test
//! if any process the cluster started, nginx's workers included, is still alive.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testkit::{RedisCluster, RedisSentinels, RedisServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::WAIT;

/// Secret shared by every node for visitor tokens: a visitor resumes on any node.
pub const VISITOR_SECRET: &str = "system-tests-visitor-secret";

/// The nginx binary (Debian's package; `./scripts/test.sh` installs it).
const NGINX: &str = "/usr/sbin/nginx";

/// The `hub` binary of this workspace.
///
/// `cargo test --workspace` builds it before any test runs. `TC_HUB_BIN` overrides the path.
/// When it is missing (only this package's tests were asked for, on a clean tree) it is built
/// once into a separate target directory: the outer cargo may still hold the main one's lock.
pub fn hub_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TC_HUB_BIN") {
            return PathBuf::from(p);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root")
            .to_path_buf();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let bin = target.join("debug").join("hub");
        if bin.exists() {
            return bin;
        }
        let own = target.join("system-tests-hub");
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "take-control-hub", "--bin", "hub"])
            .env("CARGO_TARGET_DIR", &own)
            .current_dir(&root)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p take-control-hub failed");
        own.join("debug").join("hub")
    })
    .clone()
}

/// The nginx configuration shared with docker-compose: everything inside the `server` block.
pub fn shared_nginx_conf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/nginx/take-control.conf")
        .canonicalize()
        .expect("deploy/nginx/take-control.conf exists")
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A directory of its own for one cluster.
#[derive(Debug)]
pub struct TmpDir(pub PathBuf);

impl TmpDir {
    fn new(tag: &str) -> TmpDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "tc-system-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TmpDir(dir)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        if std::env::var_os("TC_KEEP_TMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// One `hub` process.
#[derive(Debug)]
pub struct Node {
    pub index: usize,
    pub addr: SocketAddr,
    child: Child,
    pub log: PathBuf,
}

impl Node {
    async fn start(index: usize, args: &[String], log: PathBuf) -> Node {
        let file = std::fs::File::create(&log).expect("node log");
        let mut child = Command::new(hub_bin())
            .args(args)
            .env("TC_LOG", "info")
            // Attachments in memory: a test's hubs write nothing into the working directory.
            .env("TC_FILE_STORE", "memory:")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", hub_bin().display()));
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .ok()
            .and_then(|l| l.ok().flatten())
            .unwrap_or_default();
        let Some(url) = first.strip_prefix("hub listening on http://") else {
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("node {index} did not start (first line {first:?}); its log:\n{log_text}");
        };
        let addr: SocketAddr = url.trim().parse().expect("listen address");
        // Keep draining stdout so the node never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Node {
            index,
            addr,
            child,
            log,
        }
    }

    /// `kill -9`: no shutdown, no goodbye to its clients, its Redis connections just drop.
    /// The node's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGKILL and wait for the exit, without a runtime (for drop); its pid if still alive.

    fn stop_now(&mut self) -> Option<u32> {
        testkit::kill_and_wait(&mut self.child)
    }

    /// SIGTERM, as on every deploy: the node tells its clients `going_away` (1001), drains and
    /// exits. Waits for the exit and returns whether it was clean.
    pub async fn terminate(&mut self) -> bool {
        if let Some(pid) = self.child.id() {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        self.child.wait().await.is_ok_and(|s| s.success())
    }
}

/// The nginx process in front of the nodes, configured from `deploy/nginx/take-control.conf`.
#[derive(Debug)]
pub struct Nginx {
    pub addr: SocketAddr,
    /// The master; stopped by [`Nginx::stop`] (on drop at the latest).
    child: std::process::Child,
}

impl Nginx {
    /// The generated main configuration: process settings and temp paths under `dir`, the
    /// `upstream hubs` block for these nodes, and a server that includes the shared file.
    pub fn config(dir: &Path, port: u16, nodes: &[SocketAddr]) -> String {
        let d = dir.display();
        let servers: String = nodes
            .iter()
            .map(|a| format!("        server {a} max_fails=1 fail_timeout=10s;\n"))
            .collect();
        format!(
            "daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    log_format upstream '$remote_addr \"$request\" $status upstream=$upstream_addr';
    access_log {d}/access.log upstream;

    upstream hubs {{
        zone hubs 64k;
{servers}        keepalive 16;
    }}

    server {{
        listen 127.0.0.1:{port};
        # Tests only: which node answered, so a test can tell where a client landed.
        add_header X-Upstream $upstream_addr always;
        include {shared};
    }}
}}
",
            shared = shared_nginx_conf().display(),
        )
    }

    async fn start(dir: &Path, nodes: &[SocketAddr]) -> Nginx {
        for _ in 0..5 {
            let port = free_port();
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, Self::config(dir, port, nodes)).expect("write nginx.conf");
            let mut child = std::process::Command::new(NGINX)
                .arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.join("error.log"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nginx is installed (./scripts/test.sh installs it)");
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            // Ready when a request through it is answered by a hub; bounded, and given up
            // early when nginx exits (the port was taken between the probe and its bind).
            let deadline = Instant::now() + WAIT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if let Ok((200, _)) = crate::client::try_http(addr, "GET", "/healthz", None).await {
                    return Nginx { addr, child };
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let mut failed = Nginx { addr, child };
            failed.stop();
        }
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        panic!("nginx did not start; error.log:\n{log}");
    }
}

impl Nginx {
    /// The master's pid and its workers', while it runs.
    pub fn pids(&mut self) -> Vec<u32> {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return Vec::new();
        }
        let master = self.child.id();
        let mut pids = vec![master];
        pids.extend(children_of(master));
        pids
    }

    /// Fast shutdown: SIGTERM to the master, which stops its workers and waits for them before
    /// it exits; waited for here (a SIGKILL after [`WAIT`], which would be a bug worth seeing).
    /// Returns the processes of this nginx still alive afterwards (none, unless broken).
    pub fn stop(&mut self) -> Vec<u32> {
        let pids = self.pids();
        if pids.is_empty() {
            return Vec::new();
        }
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + WAIT;
        while matches!(self.child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        pids.into_iter().filter(|&p| alive(p)).collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let left = self.stop();
        if !left.is_empty() && !std::thread::panicking() {
            panic!("nginx processes outlived their test: {left:?}");
        }
    }
}

/// Send `kill -SIG pid` (the workspace forbids `unsafe`, so no libc call).
fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// `(parent pid, state)` of a process, from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(u32, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((ppid, state))
}

/// Running (a zombie has exited; only its entry waits to be reaped).
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(_, state)| state != 'Z')
}

/// The processes whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| stat(p).is_some_and(|(ppid, _)| ppid == pid))
        .collect()
}

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct Builder {
    tag: String,
    nodes: usize,
    assistant_delay_ms: u64,
    extra: Vec<String>,
    persistent_redis: bool,
    topology: Topology,
}

/// Which Redis a cluster's hubs share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    Standalone,
    Cluster,
    Sentinel,
}

/// The Redis of one test.
#[derive(Debug)]
pub enum Redis {
    Standalone(RedisServer),
    Cluster(RedisCluster),
    Sentinel(RedisSentinels),
}

impl Redis {
    /// The hubs' `--redis-url`.
    pub fn url(&self) -> String {
        match self {
            Redis::Standalone(r) => r.url(),
            Redis::Cluster(c) => c.url(),
            Redis::Sentinel(s) => s.url(),
        }
    }

    /// What it is, for a test's report.
    pub fn kind(&self) -> &'static str {
        match self {
            Redis::Standalone(_) => "one redis-server",
            Redis::Cluster(_) => "Redis Cluster (3 masters, 3 replicas)",
            Redis::Sentinel(_) => "Sentinel (primary, replica, 3 sentinels)",
        }
    }

    /// The one `redis-server` of a standalone cluster.
    pub fn server(&self) -> &RedisServer {
        match self {
            Redis::Standalone(r) => r,
            other => panic!("not a standalone Redis: {other:?}"),
        }
    }

    pub fn server_mut(&mut self) -> &mut RedisServer {
        match self {
            Redis::Standalone(r) => r,
            other => panic!("not a standalone Redis: {other:?}"),
        }
    }

    pub fn cluster(&mut self) -> &mut RedisCluster {
        match self {
            Redis::Cluster(c) => c,
            other => panic!("not a Redis Cluster: {other:?}"),
        }
    }

    pub fn sentinels(&mut self) -> &mut RedisSentinels {
        match self {
            Redis::Sentinel(s) => s,
            other => panic!("not a Sentinel set: {other:?}"),
        }
    }

    fn pids(&self) -> Vec<u32> {
        match self {
            Redis::Standalone(r) => r.pid().into_iter().collect(),
            Redis::Cluster(c) => c.pids(),
            Redis::Sentinel(s) => s.pids(),
        }
    }

    fn stop_now(&mut self) -> Vec<u32> {
        match self {
            Redis::Standalone(r) => r.stop_now().into_iter().collect(),
            Redis::Cluster(c) => c.stop_now(),
            Redis::Sentinel(s) => s.stop_now(),
        }
    }
}

impl Builder {
    /// The hubs on a Redis Cluster of three masters and three replicas.
    pub fn redis_cluster(mut self) -> Self {
        self.topology = Topology::Cluster;
        self
    }

    /// The hubs on the primary three sentinels name (with one replica).
    pub fn redis_sentinel(mut self) -> Self {
        self.topology = Topology::Sentinel;
        self
    }

    /// Redis with an fsynced append-only file in the test's directory, so it can be restarted.
    pub fn persistent_redis(mut self) -> Self {
        self.persistent_redis = true;
        self
    }

    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    pub fn assistant_delay_ms(mut self, ms: u64) -> Self {
        self.assistant_delay_ms = ms;
        self
    }

    /// Another flag for every node, e.g. `.arg("--holder-grace-ms", "500")`.
    pub fn arg(mut self, flag: &str, value: &str) -> Self {
        self.extra.push(flag.into());
        self.extra.push(value.into());
        self
    }

    pub async fn start(self) -> Cluster {
        let dir = TmpDir::new(&self.tag);
        let redis = match self.topology {
            Topology::Standalone if self.persistent_redis => {
                let data = dir.0.join("redis");
                std::fs::create_dir_all(&data).expect("redis dir");
                Redis::Standalone(RedisServer::start_persistent(&data).await)
            }
            Topology::Standalone => Redis::Standalone(RedisServer::start().await),
            Topology::Cluster => Redis::Cluster(RedisCluster::start().await),
            Topology::Sentinel => Redis::Sentinel(RedisSentinels::start().await),
        };
        let prefix = format!("sys-{}-{}:", self.tag, std::process::id());
        let mut args: Vec<String> = [
            "--listen",
            "127.0.0.1:0",
            "--dev",
            "--assistant-delay-ms",
            &self.assistant_delay_ms.to_string(),
            "--redis-url",
            &redis.url(),
            "--redis-prefix",
            &prefix,
            "--visitor-token-secret",
            VISITOR_SECRET,
            // These tests send far faster than a person; rate limits are tested in hub/tests.
            "--message-rate",
            "0",
            "--typing-rate",
            "0",
            "--connect-rate",
            "0",
            "--workspace-message-rate",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(self.extra.iter().cloned());
        let mut nodes = Vec::new();
        for i in 0..self.nodes {
            nodes.push(Node::start(i, &args, dir.0.join(format!("hub-{i}.log"))).await);
        }
        let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
        let nginx = Nginx::start(&dir.0, &addrs).await;
        Cluster {
            nginx,
            nodes,
            redis,
            dir,
            args,
            generation: 0,
        }
    }
}

/// Redis, the hub nodes and nginx of one test. Dropping it stops them all and fails the test
/// if one outlives it (see the module's doc).
#[derive(Debug)]
pub struct Cluster {
    pub nginx: Nginx,
    pub nodes: Vec<Node>,
    pub redis: Redis,
    pub dir: TmpDir,
    /// Every node's arguments (`--listen 127.0.0.1:0` among them).
    args: Vec<String>,
    /// Nodes replaced so far (names their logs).
    generation: usize,
}

impl Cluster {
    /// Three nodes, the assistant answering at once; `tag` names the temp dir and key prefix.
    pub fn builder(tag: &str) -> Builder {
        Builder {
            tag: tag.into(),
            nodes: 3,
            assistant_delay_ms: 0,
            extra: Vec::new(),
            persistent_redis: false,
            topology: Topology::Standalone,
        }
    }

    /// One step of a rolling upgrade: SIGTERM node `i` (it tells its clients `going_away`,
    /// drains and exits), then start a new process in its place, on the same address (nginx's
    /// upstream is fixed). Returns whether the old one exited cleanly.
    pub async fn replace_node(&mut self, i: usize) -> bool {
        let addr = self.nodes[i].addr;
        let clean = self.nodes[i].terminate().await;
        self.generation += 1;
        let mut args = self.args.clone();
        if let Some(at) = args.iter().position(|a| a == "--listen") {
            args[at + 1] = addr.to_string();
        }
        let log = self
            .dir
            .0
            .join(format!("hub-{i}-gen{}.log", self.generation));
        self.nodes[i] = Node::start(i, &args, log).await;
        assert_eq!(
            self.nodes[i].addr, addr,
            "the new node took the old one's address"
        );
        clean
    }

    /// nginx's address: where clients connect.
    pub fn lb(&self) -> SocketAddr {
        self.nginx.addr
    }

    /// Every process this cluster started that is running now: Redis, the hubs, nginx's master
    /// and workers.
    pub fn pids(&mut self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.nodes.iter().filter_map(Node::pid).collect();
        pids.extend(self.redis.pids());
        pids.extend(self.nginx.pids());
        pids
    }

    /// Wait until no node has an AI generation running (every one finished, its last draft and
    /// typing frames published), read from each node's `tc_ai_generations_running`.
    pub async fn generations_finished(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut running = 0;
            for node in &self.nodes {
                let (status, body) = crate::http(node.addr, "GET", "/metrics", None).await;
                assert_eq!(status, 200, "node {} /metrics", node.index);
                running += body
                    .lines()
                    .find_map(|l| l.strip_prefix("tc_ai_generations_running "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .expect("tc_ai_generations_running exported");
            }
            if running == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{running} generations never finished"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The node listening on `addr`.
    pub fn node_at(&self, addr: SocketAddr) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.addr == addr)
            .unwrap_or_else(|| panic!("no node at {addr}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // nginx first, so no client is proxied to a hub that is going; its own drop checks it.
        let mut left = self.nginx.stop();
        for node in &mut self.nodes {
            left.extend(node.stop_now());
        }
        left.extend(self.redis.stop_now());
        if !left.is_empty() && !std::thread::panicking() {
            panic!("processes outlived their test: {left:?}");
        }
    }
}
