//! Test support shared by unit, integration and system tests: a real `redis-server` per test.
//!
//! Each server is a child process on a free port, with no persistence, killed when dropped. It is
//! never the machine's shared 6379.

use std::net::TcpListener;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// A `redis-server` child process.
#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    child: Child,
    /// With an append-only file here (every write fsynced): survives a restart.
    dir: Option<std::path::PathBuf>,
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
    pub async fn start_persistent(dir: &std::path::Path) -> RedisServer {
        for _ in 0..5 {
            if let Some(server) = Self::spawn(free_port(), Some(dir.to_owned())).await {
                return server;
            }
        }
        panic!("redis-server did not start");
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

    async fn spawn(port: u16, dir: Option<std::path::PathBuf>) -> Option<RedisServer> {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--loglevel", "notice"]);
        match &dir {
            Some(d) => {
                cmd.args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                    .arg(d);
            }
            None => {
                cmd.args(["--appendonly", "no"]);
            }
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (./scripts/test.sh installs it)");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("Ready to accept connections") {
                // Keep draining its log so it never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return Some(RedisServer { port, child, dir });
            }
        }
        // It exited (the port was taken between our probe and its bind).
        let _ = child.wait().await;
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A connection speaking what the hub's does (RESP3, Nagle off), so that the store's tests
    /// read replies as the hub reads them.
    pub async fn manager(&self) -> redis::aio::ConnectionManager {
        let client =
            crate::bus::redis::client(&crate::bus::redis::resp3_url(&self.url())).expect("url");
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

    /// Its process id, while it runs.
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
        let marker = crate::util::random_id("marker-");
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
