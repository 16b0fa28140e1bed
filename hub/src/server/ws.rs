//! The WebSocket edge: the upgrade (the hub's own, for its small read buffers), the per-IP
//! connect limit, and the mapping of tungstenite's messages to the sessions' [`WsIn`] and
//! [`WsOut`]. The sessions never see a socket.

use std::convert::Infallible;
use std::net::IpAddr;

use futures_util::{SinkExt, StreamExt, future};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::Peer;
use super::routes::Routes;
use crate::node::Hub;
use crate::session::{self, WsIn, WsOut};

/// `/ws/widget` (with the page's `Origin`) and `/ws/operator`.
pub(super) fn routes(hub: Hub) -> Routes {
    let ip_header = hub.config().client_ip_header.clone();
    let with_hub = warp::any().map(move || hub.clone());
    let widget = warp::path!("ws" / "widget")
        .and(ws_upgrade())
        .and(with_hub.clone())
        .and(warp::header::optional::<String>("origin"))
        .and(client_ip(ip_header.clone()))
        .map(
            |up: Upgrade, hub: Hub, origin: Option<String>, ip: Option<IpAddr>| {
                upgrade(up, hub, Kind::Widget(origin), ip)
            },
        );
    let operator = warp::path!("ws" / "operator")
        .and(ws_upgrade())
        .and(with_hub)
        .and(client_ip(ip_header))
        .map(|up: Upgrade, hub: Hub, ip: Option<IpAddr>| upgrade(up, hub, Kind::Operator, ip));
    widget.or(operator).unify().boxed()
}

#[derive(Debug, Clone)]
enum Kind {
    /// With the page's `Origin`.
    Widget(Option<String>),
    Operator,
}

/// The client's IP: the TCP peer, or the proxy's header when `--client-ip-header` names one.
fn client_ip(
    header: Option<String>,
) -> impl Filter<Extract = (Option<IpAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<Peer>()
        .and(warp::header::headers_cloned())
        .map(move |peer: Option<Peer>, headers: warp::http::HeaderMap| {
            let from_header = header.as_deref().and_then(|name| {
                let v = headers.get(name)?.to_str().ok()?;
                // X-Forwarded-For lists the client first.
                v.split(',').next()?.trim().parse().ok()
            });
            from_header.or(peer.map(|p| p.0.ip()))
        })
}

/// A WebSocket upgrade request. The hub accepts upgrades itself instead of with warp's `ws()`,
/// whose configuration cannot set tungstenite's read buffer: 128 KiB allocated and zeroed per
/// connection by default, which was 90 % of an idle widget's memory (docs/benchmarks.md).
struct Upgrade {
    key: String,
    on_upgrade: Option<OnUpgrade>,
}

/// Each connection's read buffer, zeroed before every read: chat frames are small (a widget's
/// message with a few lines of text is about 200 bytes; a larger frame takes more reads, and
/// grows the buffer as needed). Every idle widget keeps one: 1 KiB put the hub at 8.0–8.2 KiB
/// per idle connection, over its budget of 8; 512 bytes, at 7.5.
const READ_BUFFER: usize = 512;
/// Written frames are buffered up to this before tungstenite writes without a flush (the
/// sessions flush each batch themselves).
const WRITE_BUFFER: usize = 16 * 1024;

/// A `GET` with `Connection: upgrade`, `Upgrade: websocket`, version 13 and a key (RFC 6455 4.2.1).
fn ws_upgrade() -> impl Filter<Extract = (Upgrade,), Error = Rejection> + Clone {
    warp::get()
        .and(warp::header::<String>("connection"))
        .and(warp::header::<String>("upgrade"))
        .and(warp::header::<String>("sec-websocket-version"))
        .and(warp::header::<String>("sec-websocket-key"))
        .and(warp::ext::optional::<OnUpgrade>())
        .and_then(
            |connection: String,
             upgrade: String,
             version: String,
             key: String,
             on_upgrade: Option<OnUpgrade>| async move {
                let upgrades = connection
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
                if upgrades
                    && upgrade.trim().eq_ignore_ascii_case("websocket")
                    && version.trim() == "13"
                {
                    Ok(Upgrade { key, on_upgrade })
                } else {
                    Err(warp::reject::reject())
                }
            },
        )
}

fn upgrade(up: Upgrade, hub: Hub, kind: Kind, ip: Option<IpAddr>) -> warp::reply::Response {
    // Refused before the upgrade: a connect flood costs a header parse, not a session.
    if let Some(ip) = ip
        && let Err(wait) = hub.take_connect(ip)
    {
        let m = hub.metrics();
        m.add(&m.connects_refused, 1);
        let secs = wait.as_secs().max(1);
        let body = serde_json::json!({
            "error": "rate_limited",
            "message": format!("too many connections from this address; retry in {secs} s"),
            "retry_after_ms": wait.as_millis() as u64,
        });
        let mut res =
            warp::reply::with_status(warp::reply::json(&body), StatusCode::TOO_MANY_REQUESTS)
                .into_response();
        res.headers_mut()
            .insert(warp::http::header::RETRY_AFTER, secs.into());
        return res;
    }
    // The transport's hard cap sits above the protocol's frame limit, so a frame that is merely
    // too large gets a `frame_too_large` error frame and the socket lives on.
    let hard_cap = hub
        .config()
        .max_frame_bytes
        .saturating_mul(4)
        .max(256 * 1024);
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(hard_cap))
        .max_frame_size(Some(hard_cap));
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(up.key.as_bytes());
    if let Some(on_upgrade) = up.on_upgrade {
        hub.clone().spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                    serve_socket(ws, hub, kind).await;
                }
                Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
            }
        });
    }
    let mut res = warp::reply::Response::default();
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    use warp::http::header::{CONNECTION, HeaderValue, SEC_WEBSOCKET_ACCEPT, UPGRADE};
    h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(SEC_WEBSOCKET_ACCEPT, v);
    }
    res
}

async fn serve_socket<S>(socket: WebSocketStream<S>, hub: Hub, kind: Kind)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    let (sink, stream) = socket.split();
    let sink = sink.with(|out: WsOut| future::ready(Ok::<_, WsError>(to_message(out))));
    let stream = stream.map(from_message);
    futures_util::pin_mut!(sink);
    futures_util::pin_mut!(stream);
    match kind {
        Kind::Widget(origin) => session::widget::run(hub, sink, stream, origin).await,
        Kind::Operator => session::operator::run(hub, sink, stream).await,
    }
}

fn to_message(out: WsOut) -> Message {
    match out {
        WsOut::Text(t) => Message::text(t),
        WsOut::Ping => Message::Ping(bytes::Bytes::new()),
        WsOut::Close(code, reason) => Message::Close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        })),
    }
}

fn from_message(m: Result<Message, WsError>) -> WsIn {
    match m {
        Ok(Message::Text(t)) => WsIn::Text(t.as_str().to_owned()),
        Ok(Message::Binary(_)) => WsIn::Binary,
        Ok(Message::Close(_)) => WsIn::Close,
        Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => WsIn::Alive,
        Err(WsError::Capacity(_)) => WsIn::TooBig,
        Err(_) => WsIn::Close,
    }
}
