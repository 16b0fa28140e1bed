//! The client side of the protocol the load generator needs: connecting, the frames it reads,
//! operator tokens.

use std::borrow::Cow;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Bound on every handshake step, so a stuck hub fails the run instead of hanging it.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The fields of a server frame the generator looks at; everything else is skipped unparsed.
#[derive(Debug, Deserialize)]
pub struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    pub ty: Cow<'a, str>,
    #[serde(default, borrow)]
    pub conversation_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub client_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub last_seq: Option<u64>,
    #[serde(default, borrow)]
    pub event: Option<Event<'a>>,
    #[serde(default, borrow)]
    pub code: Option<Cow<'a, str>>,
    /// Of an `error`: whether the same frame may succeed later.
    #[serde(default)]
    pub retryable: Option<bool>,
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    #[serde(default, borrow)]
    pub visitor_token: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct Event<'a> {
    pub seq: u64,
    #[serde(rename = "type", borrow)]
    pub ty: Cow<'a, str>,
    #[serde(default, borrow)]
    pub author: Option<Author<'a>>,
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct Author<'a> {
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
}

/// Online-list frames are the bulk of an operator's inbound traffic and carry nothing the
/// generator measures: recognise them without parsing. (`type` is serialised first.)
pub fn is_online_frame(text: &str) -> bool {
    text.as_bytes()
        .get(..24)
        .is_some_and(|h| h.starts_with(b"{\"type\":\"online_"))
}

/// What a dashboard frame is for, as far as counting its traffic goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// `online_view` (the Online list).
    Online,
    /// `team_snapshot`, `audit_snapshot`, `audit_entry` (the team view, after `subscribe_team`).
    Team,
    /// Everything else: conversations' events, answers, errors.
    Other,
}

/// Classify a server frame by its first bytes, without parsing it (`type` is serialised first).
pub fn frame_kind(text: &str) -> FrameKind {
    if is_online_frame(text) {
        return FrameKind::Online;
    }
    let b = text.as_bytes();
    if b.starts_with(b"{\"type\":\"team_") || b.starts_with(b"{\"type\":\"audit_") {
        FrameKind::Team
    } else {
        FrameKind::Other
    }
}

/// Connect with a small read buffer: the generator holds tens of thousands of sockets and the
/// default 128 KiB per socket would make it, not the hub, the memory hog. tungstenite zeroes
/// the buffer before every read, so its size is also CPU: at 8 KiB that `memset` was 5 % of the
/// generator's time at 20,000 msg/s. 2 KiB still takes several frames per read.
pub async fn connect(url: &str, path: &str) -> anyhow::Result<Ws> {
    let config = WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(0);
    let (ws, _) = tokio::time::timeout(
        STEP_TIMEOUT,
        connect_async_with_config(format!("{url}{path}"), Some(config), true),
    )
    .await
    .context("connect timed out")?
    .with_context(|| format!("connect {url}{path}"))?;
    Ok(ws)
}

/// The next text frame (pings are answered by tungstenite itself).
pub async fn next_text(ws: &mut Ws) -> anyhow::Result<String> {
    loop {
        let msg = tokio::time::timeout(STEP_TIMEOUT, ws.next())
            .await
            .context("no frame in time")?
            .context("socket closed")??;
        match msg {
            Message::Text(t) => return Ok(t.as_str().to_owned()),
            Message::Close(c) => bail!("closed: {c:?}"),
            _ => {}
        }
    }
}

/// A protocol frame's JSON, as the clients write it (serde writes an enum's `type` first).
pub fn frame(frame: &impl serde::Serialize) -> String {
    serde_json::to_string(frame).unwrap_or_default()
}

pub async fn send(ws: &mut Ws, v: serde_json::Value) -> anyhow::Result<()> {
    ws.send(Message::text(v.to_string())).await?;
    Ok(())
}

/// A widget handshake: `hello`, then `welcome` and `history`. Returns the conversation id and
/// the history's `last_seq`.
pub async fn widget_hello(ws: &mut Ws, workspace: &str) -> anyhow::Result<(String, u64)> {
    let w = widget_handshake(ws, workspace, None).await?;
    Ok((w.conversation_id, w.last_seq))
}

/// What a widget handshake answered.
#[derive(Debug)]
pub struct Welcomed {
    pub conversation_id: String,
    pub visitor_token: String,
    /// The `history` frame's `last_seq`.
    pub last_seq: u64,
    /// The `history` frame itself.
    pub history: String,
}

/// A widget handshake, new (`resume` `None`) or resuming with a visitor token after a seq.
pub async fn widget_handshake(
    ws: &mut Ws,
    workspace: &str,
    resume: Option<(&str, u64)>,
) -> anyhow::Result<Welcomed> {
    let mut hello =
        json!({"type": "hello", "protocol": protocol::PROTOCOL_VERSION, "workspace_id": workspace});
    if let Some((token, last_seq)) = resume {
        hello["visitor_token"] = json!(token);
        hello["last_seq"] = json!(last_seq);
    }
    send(ws, hello).await?;
    let welcome = next_text(ws).await?;
    let f: Frame<'_> = serde_json::from_str(&welcome)?;
    if f.ty != "welcome" {
        bail!("expected welcome, got {welcome}");
    }
    let conversation_id = f
        .conversation_id
        .context("welcome without conversation_id")?
        .into_owned();
    let visitor_token = f
        .visitor_token
        .context("welcome without visitor_token")?
        .into_owned();
    let history = next_text(ws).await?;
    let h: Frame<'_> = serde_json::from_str(&history)?;
    if h.ty != "history" {
        bail!("expected history, got {history}");
    }
    let last_seq = h.last_seq.unwrap_or(0);
    Ok(Welcomed {
        conversation_id,
        visitor_token,
        last_seq,
        history,
    })
}

/// An operator handshake: `hello` with a token, `ready`.
pub async fn operator_hello(ws: &mut Ws, token: &str) -> anyhow::Result<()> {
    send(
        ws,
        json!({"type": "hello", "protocol": protocol::PROTOCOL_VERSION, "token": token}),
    )
    .await?;
    let ready = next_text(ws).await?;
    let f: Frame<'_> = serde_json::from_str(&ready)?;
    if f.ty != "ready" {
        bail!("expected ready, got {ready}");
    }
    Ok(())
}

/// An HS256 operator token as the team's backend would sign it (claims: README, "Operator
/// tokens").
pub fn operator_token(secret: &str, id: &str, workspace: &str) -> anyhow::Result<String> {
    operator_token_as(secret, id, workspace, "operator")
}

/// [`operator_token`] with another role claim (`owner`, `editor`).
pub fn operator_token_as(
    secret: &str,
    id: &str,
    workspace: &str,
    role: &str,
) -> anyhow::Result<String> {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        + 24 * 3600;
    let claims = json!({
        "sub": id, "ws": workspace, "role": role, "name": format!("Load {id}"),
        "exp": exp, "aud": "take-control-operator",
    });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

/// The text of a measured message: who, which conversation and number, which step, whether it
/// counts (`w=1`: scheduled inside the measured window), and when it was sent.
pub fn message_text(
    who: char,
    conv: usize,
    n: u64,
    step: usize,
    in_window: bool,
    t_ns: u64,
    pad: &str,
) -> String {
    format!(
        "{who} c={conv} n={n} s={step} w={} t={t_ns} {pad}",
        u8::from(in_window)
    )
}

/// The parsed fields of [`message_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub who: char,
    pub conv: usize,
    pub n: u64,
    pub step: usize,
    pub in_window: bool,
    pub t_ns: u64,
}

pub fn parse_tag(text: &str) -> Option<Tag> {
    let mut parts = text.split(' ');
    let who = parts.next()?.chars().next()?;
    let mut field = |key: &str| -> Option<u64> { parts.next()?.strip_prefix(key)?.parse().ok() };
    let conv = field("c=")? as usize;
    let n = field("n=")?;
    let step = field("s=")? as usize;
    let in_window = field("w=")? == 1;
    let t_ns = field("t=")?;
    Some(Tag {
        who,
        conv,
        n,
        step,
        in_window,
        t_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_round_trips() {
        let t = message_text('v', 12, 7, 2, true, 123_456_789, "xx");
        assert_eq!(
            parse_tag(&t),
            Some(Tag {
                who: 'v',
                conv: 12,
                n: 7,
                step: 2,
                in_window: true,
                t_ns: 123_456_789
            })
        );
        assert_eq!(parse_tag("Where is my parcel?"), None);
    }

    #[test]
    fn online_frames_are_recognised() {
        assert!(is_online_frame(
            r#"{"type":"online_view","filter":"all","offset":0,"total":0,"ids":[]}"#
        ));
        assert!(!is_online_frame(
            r#"{"type":"event","conversation_id":"x"}"#
        ));
    }

    #[test]
    fn frames_are_classified_by_their_type() {
        let kind = |t: &str| frame_kind(t);
        assert_eq!(
            kind(r#"{"type":"online_view","filter":"all"}"#),
            FrameKind::Online
        );
        assert_eq!(
            kind(r#"{"type":"team_snapshot","members":[]}"#),
            FrameKind::Team
        );
        assert_eq!(
            kind(r#"{"type":"audit_snapshot","entries":[]}"#),
            FrameKind::Team
        );
        assert_eq!(
            kind(r#"{"type":"audit_entry","entry":{}}"#),
            FrameKind::Team
        );
        assert_eq!(
            kind(r#"{"type":"control","conversation_id":"x"}"#),
            FrameKind::Other
        );
        // A message whose text mentions a type is not mistaken for one.
        assert_eq!(
            kind(r#"{"type":"event","event":{"text":"{\"type\":\"online_view\"}"}}"#),
            FrameKind::Other
        );
        assert_eq!(kind(""), FrameKind::Other);
    }
}
