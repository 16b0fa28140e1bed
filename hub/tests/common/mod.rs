//! Test harness: a hub on port 0 and real WebSocket clients.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hub::assistant::{Assistant, AssistantError, Reply, ReplyRequest};
use hub::auth::{OPERATOR_AUDIENCE, OperatorClaims};
use hub::server::Running;
use hub::{Config, Hub};
use protocol::{PROTOCOL_VERSION, Role, ServerFrame};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// Upper bound on waiting for a frame: a failure guard, never a synchronisation.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestHub {
    pub running: Running,
}

impl TestHub {
    pub async fn start() -> Self {
        Self::with(Config::for_tests(), None).await
    }

    pub async fn with(config: Config, assistant: Option<Arc<dyn Assistant>>) -> Self {
        let hub = hub::server::build(config, assistant)
            .await
            .expect("build hub");
        let running = hub::server::start(hub).await.expect("start hub");
        TestHub { running }
    }

    pub fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    pub fn hub(&self) -> &Hub {
        &self.running.hub
    }

    /// A token for any operator of any workspace, signed with the dev key.
    pub fn token(&self, id: &str, workspace: &str, role: Role) -> String {
        self.token_with_exp(id, workspace, role, hub::util::now_secs() + 3600)
    }

    pub fn token_with_exp(&self, id: &str, workspace: &str, role: Role, exp: u64) -> String {
        self.hub()
            .operator_tokens()
            .sign(&OperatorClaims {
                sub: id.into(),
                ws: workspace.into(),
                role,
                name: format!("{id} account"),
                exp,
                aud: Some(OPERATOR_AUDIENCE.into()),
                iss: None,
            })
            .expect("dev key signs")
    }

    pub async fn visitor(&self) -> Visitor {
        Visitor::connect(self.addr(), "demo-pro", None, None).await
    }

    pub async fn operator(&self, id: &str, role: Role) -> Client {
        self.operator_in(id, "demo-pro", role).await
    }

    pub async fn operator_in(&self, id: &str, workspace: &str, role: Role) -> Client {
        let mut c = Client::connect(self.addr(), "/ws/operator").await;
        c.send(json!({"type": "hello", "protocol": PROTOCOL_VERSION, "token": self.token(id, workspace, role)}))
            .await;
        let ready = c.frame().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        c
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr, path: &str) -> Client {
        let (ws, _) = connect_async(format!("ws://{addr}{path}"))
            .await
            .expect("connect");
        Client { ws }
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(v.to_string()).await;
    }

    pub async fn send_text(&mut self, t: String) {
        self.ws.send(Message::text(t)).await.expect("send");
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.expect("send");
    }

    /// The next text frame, as JSON.
    pub async fn frame(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait bound")
                .expect("socket open")
                .expect("frame");
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).expect("json frame");
                    // Every frame the hub sends is a valid ServerFrame.
                    serde_json::from_value::<ServerFrame>(v.clone())
                        .unwrap_or_else(|e| panic!("not a ServerFrame: {e}: {v}"));
                    return v;
                }
                Message::Close(c) => panic!("closed unexpectedly: {c:?}"),
                _ => continue,
            }
        }
    }

    /// Skip frames until one matches; returns it.
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let f = self.frame().await;
            if pred(&f) {
                return f;
            }
        }
    }

    /// Every frame up to and including the first that matches `pred`.
    pub async fn until_collect(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let f = self.frame().await;
            let last = pred(&f);
            seen.push(f);
            if last {
                return seen;
            }
        }
    }

    /// Like [`Client::until`], but a close is an answer too: `Err` with its close frame.
    pub async fn until_or_closed(
        &mut self,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value, Option<CloseFrame>> {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait bound");
            match next {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("json frame");
                    if pred(&v) {
                        return Ok(v);
                    }
                }
                Some(Ok(Message::Close(c))) => return Err(c),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// Skip frames until one of `type` arrives.
    pub async fn until_type(&mut self, t: &str) -> Value {
        self.until(|f| f["type"] == t).await
    }

    /// Skip to the first Online view row that matches `pred` (a row is sent when it is new to
    /// the window or changed); returns the row.
    pub async fn until_row(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let f = self.until_type("online_view").await;
            if let Some(row) = f["rows"]
                .as_array()
                .and_then(|r| r.iter().find(|r| pred(r)))
            {
                return row.clone();
            }
        }
    }

    /// Skip to the first Online view whose window no longer lists `conversation_id`.
    pub async fn until_gone(&mut self, conversation_id: &str) -> Value {
        self.until(|f| {
            f["type"] == "online_view"
                && f["ids"]
                    .as_array()
                    .is_some_and(|ids| !ids.iter().any(|i| i == conversation_id))
        })
        .await
    }

    /// Skip to the next history event (an `event` frame) of the given event type.
    pub async fn until_event(&mut self, event_type: &str) -> Value {
        self.until(|f| f["type"] == "event" && f["event"]["type"] == event_type)
            .await["event"]
            .clone()
    }

    /// Frames until the socket closes, and the close frame.
    pub async fn closed(&mut self) -> (Vec<Value>, Option<CloseFrame>) {
        let mut frames = Vec::new();
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close within the wait bound");
            match next {
                Some(Ok(Message::Text(t))) => {
                    frames.push(serde_json::from_str(&t).expect("json"));
                }
                Some(Ok(Message::Close(c))) => return (frames, c),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (frames, None),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Drain until the server acknowledges, so the hub has seen the close.
        while let Some(Ok(_)) = self.ws.next().await {}
    }
}

/// A visitor's widget.
pub struct Visitor {
    pub client: Client,
    pub conversation_id: String,
    pub token: String,
    pub welcome: Value,
    pub history: Value,
}

impl Visitor {
    pub async fn connect(
        addr: SocketAddr,
        workspace: &str,
        token: Option<&str>,
        last_seq: Option<u64>,
    ) -> Visitor {
        let mut client = Client::connect(addr, "/ws/widget").await;
        let mut hello =
            json!({"type": "hello", "protocol": PROTOCOL_VERSION, "workspace_id": workspace});
        if let Some(t) = token {
            hello["visitor_token"] = json!(t);
        }
        if let Some(s) = last_seq {
            hello["last_seq"] = json!(s);
        }
        client.send(hello).await;
        let welcome = client.frame().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let history = client.frame().await;
        assert_eq!(history["type"], "history", "{history}");
        Visitor {
            conversation_id: welcome["conversation_id"].as_str().expect("id").to_owned(),
            token: welcome["visitor_token"].as_str().expect("token").to_owned(),
            client,
            welcome,
            history,
        }
    }

    /// Like [`Visitor::connect`] for a new conversation, but `None` when the hub refuses the
    /// handshake (e.g. its store is unavailable: close 4008).
    pub async fn connect_or_refused(addr: SocketAddr, workspace: &str) -> Option<Visitor> {
        let mut client = Client::connect(addr, "/ws/widget").await;
        client
            .send(json!({"type": "hello", "protocol": PROTOCOL_VERSION, "workspace_id": workspace}))
            .await;
        let (frames, close) = {
            let first = tokio::time::timeout(WAIT, client.ws.next())
                .await
                .expect("an answer within the wait bound");
            match first {
                Some(Ok(Message::Text(t))) => {
                    let welcome: Value = serde_json::from_str(&t).expect("json");
                    if welcome["type"] != "welcome" {
                        return None;
                    }
                    let history = client.frame().await;
                    return Some(Visitor {
                        conversation_id: welcome["conversation_id"]
                            .as_str()
                            .expect("id")
                            .to_owned(),
                        token: welcome["visitor_token"].as_str().expect("token").to_owned(),
                        client,
                        welcome,
                        history,
                    });
                }
                other => (other, ()),
            }
        };
        let _ = (frames, close);
        None
    }

    /// Send a message and wait for its ack; returns the seq.
    pub async fn say(&mut self, client_id: &str, text: &str) -> u64 {
        self.client
            .send(json!({"type": "message", "client_id": client_id, "text": text}))
            .await;
        let ack = self
            .client
            .until(|f| f["type"] == "ack" && f["client_id"] == client_id)
            .await;
        ack["seq"].as_u64().expect("seq")
    }
}

impl Client {
    pub async fn open(&mut self, conversation_id: &str) -> Value {
        self.send(json!({"type": "open", "conversation_id": conversation_id}))
            .await;
        self.until(|f| f["type"] == "history" && f["conversation_id"] == conversation_id)
            .await
    }

    pub async fn takeover(&mut self, conversation_id: &str) -> Value {
        self.send(json!({"type": "takeover", "conversation_id": conversation_id}))
            .await;
        self.until(|f| {
            (f["type"] == "control" || f["type"] == "error")
                && f["conversation_id"] == conversation_id
        })
        .await
    }

    pub async fn release(&mut self, conversation_id: &str, force: bool) -> Value {
        self.send(json!({"type": "release", "conversation_id": conversation_id, "force": force}))
            .await;
        self.until(|f| {
            (f["type"] == "control" || f["type"] == "error")
                && f["conversation_id"] == conversation_id
        })
        .await
    }

    pub async fn say(&mut self, conversation_id: &str, client_id: &str, text: &str) -> Value {
        self.send(json!({"type": "message", "conversation_id": conversation_id, "client_id": client_id, "text": text}))
            .await;
        self.until(|f| (f["type"] == "ack" || f["type"] == "error") && f["client_id"] == client_id)
            .await
    }
}

/// A history's events as `type:author kind` (`operator_joined:` for events without an author).
pub fn event_kinds(events: &Value) -> Vec<String> {
    events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["type"].as_str().unwrap_or(""),
                e["author"]["kind"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// An assistant the test controls: each reply waits for a permit, and reports when it starts.
#[derive(Debug)]
pub struct GatedAssistant {
    pub permits: Semaphore,
    started: mpsc::UnboundedSender<()>,
}

impl GatedAssistant {
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Self {
                permits: Semaphore::new(0),
                started: tx,
            }),
            rx,
        )
    }
}

#[async_trait::async_trait]
impl Assistant for GatedAssistant {
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, AssistantError> {
        let transcript = req.transcript;
        let _ = self.started.send(());
        self.permits
            .acquire()
            .await
            .map_err(|_| AssistantError::Failed("closed".into()))?
            .forget();
        Ok(Reply {
            text: format!("AI reply after {} events", transcript.len()),
            needs_human: false,
        })
    }
}

/// One HTTP/1.1 request over a plain TCP socket; returns (status, body).
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    http_with(addr, method, path, &[], body).await
}

/// [`http`] with extra request headers.
pub async fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String) {
    let text = http_raw(addr, method, path, headers, body).await;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

/// The whole response, status line and headers included.
pub async fn http_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> String {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    let (head, body) = http_bytes(addr, method, path, &all, body.unwrap_or("").as_bytes()).await;
    format!("{head}\r\n\r\n{}", String::from_utf8_lossy(&body))
}

/// A response with a binary body.
#[derive(Debug)]
pub struct BinResponse {
    pub status: u16,
    /// The status line and headers.
    pub head: String,
    pub body: Vec<u8>,
}

impl BinResponse {
    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

/// One request with a binary body (sent with its Content-Length); the headers are sent as given.
pub async fn http_bin(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> BinResponse {
    let (head, body) = http_bytes(addr, method, path, headers, body).await;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    BinResponse { status, head, body }
}

async fn http_bytes(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    // A server may refuse from the headers alone and close before reading the body.
    let _ = s.write_all(body).await;
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("response within the wait bound")
        .expect("read");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let body = out.get(split + 4..).unwrap_or_default().to_vec();
    (head, body)
}

/// A minimal temporary file, removed on drop (no dependency for one file).
pub mod tempfile_lite {
    use std::path::PathBuf;

    pub struct File {
        pub path: PathBuf,
    }

    impl File {
        pub fn new(contents: &str) -> File {
            let path = std::env::temp_dir().join(format!(
                "tc-workspaces-{}-{}.json",
                std::process::id(),
                hub::util::random_id("")
            ));
            std::fs::write(&path, contents).expect("write temp file");
            File { path }
        }
    }

    impl Drop for File {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
