//! A WebSocket client for system tests, operator tokens, and plain HTTP requests.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{EncodingKey, Header};
use protocol::{PROTOCOL_VERSION, ServerFrame};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::{WAIT, WORKSPACE};

/// A token for any operator id of the demo workspace, signed with the `--dev` secret.
pub fn operator_token(id: &str) -> String {
    operator_token_as(id, "operator")
}

/// [`operator_token`] with another role (`owner`, `editor`).
pub fn operator_token_as(id: &str, role: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + 3600;
    let claims = json!({
        "sub": id, "ws": WORKSPACE, "role": role, "name": format!("{id} account"),
        "exp": exp, "aud": "take-control-operator",
    });
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(hub::dev::DEV_OPERATOR_SECRET.as_bytes()),
    )
    .expect("sign operator token")
}

/// What the socket gave: a text frame (already checked to be a valid `ServerFrame`) or the end.
#[derive(Debug)]
pub enum Incoming {
    Frame(Value),
    /// Closed, with the close code when the peer sent one (none when the node died).
    Closed(Option<u16>),
}

/// One WebSocket, and the node that serves it.
#[derive(Debug)]
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The hub node at the other end: the address connected to, or through nginx the
    /// `X-Upstream` header the test configuration adds.
    pub node: SocketAddr,
}

impl Client {
    /// Connect to `addr` (a node, or nginx); `Err` when nothing answers the upgrade.
    pub async fn try_connect(addr: SocketAddr, path: &str) -> Result<Client, String> {
        let (ws, resp) = tokio::time::timeout(WAIT, connect_async(format!("ws://{addr}{path}")))
            .await
            .map_err(|_| "connect timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        // Through nginx, after a failed try the header lists every node tried: the last served.
        let node = match resp.headers().get("x-upstream") {
            Some(h) => h
                .to_str()
                .ok()
                .and_then(|s| s.rsplit(", ").next())
                .and_then(|s| s.parse().ok())
                .expect("X-Upstream is an address"),
            None => addr,
        };
        Ok(Client { ws, node })
    }

    pub async fn connect(addr: SocketAddr, path: &str) -> Client {
        Self::try_connect(addr, path)
            .await
            .unwrap_or_else(|e| panic!("connect to {addr}{path}: {e}"))
    }

    pub async fn try_send(&mut self, v: &Value) -> Result<(), String> {
        self.ws
            .send(Message::text(v.to_string()))
            .await
            .map_err(|e| e.to_string())
    }

    pub async fn send(&mut self, v: Value) {
        self.try_send(&v).await.expect("send");
    }

    /// The next text frame or the end of the socket; waits as long as it takes.
    pub async fn recv(&mut self) -> Incoming {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("json frame");
                    serde_json::from_value::<ServerFrame>(v.clone())
                        .unwrap_or_else(|e| panic!("not a ServerFrame: {e}: {v}"));
                    return Incoming::Frame(v);
                }
                Some(Ok(Message::Close(c))) => return Incoming::Closed(c.map(|c| c.code.into())),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Incoming::Closed(None),
            }
        }
    }

    /// The next frame within `limit`, `None` when none came.
    pub async fn frame_within(&mut self, limit: Duration) -> Option<Value> {
        match tokio::time::timeout(limit, self.recv()).await {
            Ok(Incoming::Frame(v)) => Some(v),
            Ok(Incoming::Closed(c)) => panic!("socket closed: {c:?}"),
            Err(_) => None,
        }
    }

    /// The next frame; panics when none comes within [`WAIT`].
    pub async fn frame(&mut self) -> Value {
        self.frame_within(WAIT)
            .await
            .expect("a frame within the wait bound")
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

    /// Skip to the next history event of `event_type`; returns the event.
    pub async fn until_event(&mut self, event_type: &str) -> Value {
        self.until(|f| f["type"] == "event" && f["event"]["type"] == event_type)
            .await["event"]
            .clone()
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.ws.next()).await {}
    }

    // ---- operator frames --------------------------------------------------------------------

    /// An operator's dashboard: connected to `addr` and past `hello`/`ready`.
    pub async fn operator(addr: SocketAddr, token: &str) -> Client {
        let mut c = Client::connect(addr, "/ws/operator").await;
        c.send(json!({"type": "hello", "protocol": PROTOCOL_VERSION, "token": token}))
            .await;
        let ready = c.frame().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        c
    }

    pub async fn open(&mut self, conversation_id: &str) -> Value {
        self.send(json!({"type": "open", "conversation_id": conversation_id}))
            .await;
        self.until(|f| f["type"] == "history" && f["conversation_id"] == conversation_id)
            .await
    }

    /// `takeover`; returns the answer (`control` or `error`).
    pub async fn takeover(&mut self, conversation_id: &str) -> Value {
        self.send(json!({"type": "takeover", "conversation_id": conversation_id}))
            .await;
        self.answer(conversation_id).await
    }

    /// End (`release` by the holder); returns the answer.
    pub async fn release(&mut self, conversation_id: &str) -> Value {
        self.send(json!({"type": "release", "conversation_id": conversation_id, "force": false}))
            .await;
        self.answer(conversation_id).await
    }

    async fn answer(&mut self, conversation_id: &str) -> Value {
        self.until(|f| {
            (f["type"] == "control" || f["type"] == "error")
                && f["conversation_id"] == conversation_id
        })
        .await
    }

    /// An operator message; returns the `ack` (or `error`).
    pub async fn say(&mut self, conversation_id: &str, client_id: &str, text: &str) -> Value {
        self.send(json!({"type": "message", "conversation_id": conversation_id, "client_id": client_id, "text": text}))
            .await;
        self.until(|f| (f["type"] == "ack" || f["type"] == "error") && f["client_id"] == client_id)
            .await
    }
}

/// A visitor's widget past its handshake.
#[derive(Debug)]
pub struct Visitor {
    pub client: Client,
    pub conversation_id: String,
    pub token: String,
    pub welcome: Value,
    pub history: Value,
}

impl Visitor {
    /// A new conversation, or with `token` the visitor's own resumed after `last_seq`.
    pub async fn connect(addr: SocketAddr, token: Option<&str>, last_seq: Option<u64>) -> Visitor {
        let client = Client::connect(addr, "/ws/widget").await;
        Self::handshake(client, token, last_seq).await
    }

    pub async fn handshake(
        mut client: Client,
        token: Option<&str>,
        last_seq: Option<u64>,
    ) -> Visitor {
        let mut hello =
            json!({"type": "hello", "protocol": PROTOCOL_VERSION, "workspace_id": WORKSPACE});
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

    /// Send a message and wait for its ack; returns the seq.
    pub async fn say(&mut self, client_id: &str, text: &str) -> u64 {
        self.client
            .send(json!({"type": "message", "client_id": client_id, "text": text}))
            .await;
        let ack = self
            .client
            .until(|f| (f["type"] == "ack" || f["type"] == "error") && f["client_id"] == client_id)
            .await;
        ack["seq"].as_u64().unwrap_or_else(|| panic!("ack: {ack}"))
    }
}

/// The whole history of a conversation, read by a fresh operator socket on `addr`.
pub async fn history(addr: SocketAddr, conversation_id: &str) -> Vec<Value> {
    let mut reader = Client::operator(addr, &operator_token("history-reader")).await;
    let h = reader.open(conversation_id).await;
    let mut events: Vec<Value> = h["events"].as_array().expect("events").clone();
    let last = h["last_seq"].as_u64().expect("last_seq");
    // More than one `history` frame holds follow as `event` frames.
    while events.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0) < last {
        events.push(reader.until_type("event").await["event"].clone());
    }
    reader.close().await;
    events
}

/// One HTTP/1.1 request over a plain TCP socket; `Err` when the connection fails.
pub async fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, &req).await
}

/// Write `request` (whole, its connection to be closed by the server after the answer) and read
/// the answer to its end: its status and body.
pub async fn exchange(addr: SocketAddr, request: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    s.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .map_err(|_| "response timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// [`try_http`] that panics on a connection failure.
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    try_http(addr, method, path, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}
