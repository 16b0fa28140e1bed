//! The HTTP edge: warp routes, WebSocket upgrades, and the serve-until-shutdown loop.
//!
//! This is the only module that knows warp. Sockets are mapped to [`WsIn`]/[`WsOut`] and handed
//! to the sessions; everything else is plain HTTP.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt, future};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::{info, warn};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use crate::assistant::Assistant;
use crate::assistant::knowledge::KnowledgeAssistant;
use crate::auth::{OperatorKey, OperatorVerifier, VisitorTokens};
use crate::bus::Bus;
use crate::bus::memory::MemoryBus;
use crate::bus::redis::RedisBus;
use crate::config::{Config, PublicKeyAlg};
use crate::directory::Directory;
use crate::node::{Hub, Parts};
use crate::session::{self, WsIn, WsOut};
use crate::store::Store;
use crate::store::memory::MemoryStore;
use crate::store::redis::RedisStore;
use crate::topology::Topology;
use crate::util::now_secs;

/// Capacity of the node's bus inbox.
const INBOX: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot connect to Redis: {0}")]
    Redis(String),
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>, StartError> {
    std::fs::read(path).map_err(|source| StartError::Read {
        path: path.clone(),
        source,
    })
}

/// Build a hub from its configuration: Redis backends when `--redis-url` is set, else the
/// embedded in-memory ones.
pub async fn build(
    config: Config,
    assistant: Option<Arc<dyn Assistant>>,
) -> Result<Hub, StartError> {
    let mut directory = match &config.workspaces {
        Some(path) => {
            let json = String::from_utf8_lossy(&read_file(path)?).into_owned();
            Directory::from_json(&json).map_err(|e| StartError::Invalid(e.to_string()))?
        }
        None => Directory::default(),
    };
    if config.dev {
        crate::dev::add_demo_workspaces(&mut directory);
    }
    let operators = operator_verifier(&config)?;
    let visitor_secret = match &config.visitor_token_secret {
        Some(s) => s.clone().into_bytes(),
        None => {
            if !config.dev {
                warn!("no --visitor-token-secret: visitors cannot resume after a restart");
            }
            crate::util::random_id("vts_").into_bytes()
        }
    };
    let visitors = VisitorTokens::new(&visitor_secret, config.visitor_token_ttl_secs);
    let assistant: Arc<dyn Assistant> = match assistant {
        Some(a) => a,
        None => assistants(&config, &directory)?,
    };
    let (store, bus, inbox): (Arc<dyn Store>, Arc<dyn Bus>, _) = match &config.redis_url {
        Some(url) => {
            let topology = Topology::parse(url).map_err(|e| StartError::Invalid(e.to_string()))?;
            // The store runs on the bus's connection (`bus::redis` says why).
            let (bus, inbox) = RedisBus::connect(&topology, config.redis_prefix.clone(), INBOX)
                .await
                .map_err(|crate::bus::BusError::Unavailable(e)| StartError::Redis(e))?;
            let store = RedisStore::new(
                bus.connection(),
                config.redis_prefix.clone(),
                config.redis_retention_secs,
            )
            .map_err(|e| StartError::Invalid(e.to_string()))?
            .wait_for_replicas(config.redis_wait_replicas, config.redis_wait_timeout_ms);
            (Arc::new(store), Arc::new(bus), inbox)
        }
        None => {
            let (bus, inbox) = MemoryBus::new();
            (Arc::new(MemoryStore::new()), Arc::new(bus), inbox)
        }
    };
    Ok(Hub::new(Parts {
        config,
        store,
        bus,
        inbox,
        directory,
        operators,
        visitors,
        assistant,
    }))
}

/// The assistant of each workspace: its own backend from the workspaces file, else the
/// knowledge-file assistant (`--knowledge`, or the built-in demo).
fn assistants(config: &Config, directory: &Directory) -> Result<Arc<dyn Assistant>, StartError> {
    use crate::assistant::openai::OpenAiAssistant;
    use crate::assistant::webhook::WebhookAssistant;
    use crate::directory::AssistantConfig;

    let delay = Duration::from_millis(config.assistant_delay_ms);
    let knowledge = |path: &PathBuf| -> Result<Arc<dyn Assistant>, StartError> {
        let json = String::from_utf8_lossy(&read_file(path)?).into_owned();
        Ok(Arc::new(
            KnowledgeAssistant::from_json(&json, delay)
                .map_err(|e| StartError::Invalid(e.to_string()))?,
        ))
    };
    // Secrets come from the environment, named in the file; a missing one stops the start
    // rather than failing every visitor later.
    let env = |workspace: &str, name: &str| {
        std::env::var(name).map_err(|_| {
            StartError::Invalid(format!(
                "workspace {workspace}: environment variable {name} is not set"
            ))
        })
    };
    let default = match &config.knowledge {
        Some(path) => knowledge(path)?,
        None => Arc::new(KnowledgeAssistant::demo(delay)),
    };
    let mut by_workspace = std::collections::HashMap::new();
    for (workspace, backend) in directory.assistants() {
        let invalid = |e: crate::assistant::AssistantError| {
            StartError::Invalid(format!("workspace {workspace}: {e}"))
        };
        let a: Arc<dyn Assistant> = match backend {
            AssistantConfig::Knowledge { file } => knowledge(file)?,
            AssistantConfig::Openai(c) => {
                let key = match &c.api_key_env {
                    Some(name) => Some(env(workspace, name)?),
                    None => None,
                };
                Arc::new(OpenAiAssistant::new(c.clone(), key).map_err(invalid)?)
            }
            AssistantConfig::Webhook(c) => {
                let secret = match (&c.secret_env, &c.secret_file) {
                    (Some(name), None) => env(workspace, name)?.into_bytes(),
                    (None, Some(path)) => {
                        let mut s = read_file(path)?;
                        // A trailing newline of the file is not part of the secret.
                        while s.last().is_some_and(u8::is_ascii_whitespace) {
                            s.pop();
                        }
                        s
                    }
                    _ => {
                        return Err(StartError::Invalid(format!(
                            "workspace {workspace}: the webhook needs secret_env or secret_file"
                        )));
                    }
                };
                Arc::new(WebhookAssistant::new(c.clone(), secret).map_err(invalid)?)
            }
        };
        by_workspace.insert(workspace.to_owned(), a);
    }
    if by_workspace.is_empty() {
        return Ok(default);
    }
    Ok(Arc::new(crate::assistant::Assistants {
        default,
        by_workspace,
    }))
}

/// The operator token verifier the configuration asks for.
pub fn operator_verifier(config: &Config) -> Result<OperatorVerifier, StartError> {
    if let Some(path) = &config.operator_jwt_keys {
        if config.operator_jwt_secret.is_some() || config.operator_jwt_public_key.is_some() {
            return Err(StartError::Invalid(
                "set --operator-jwt-keys or a single key, not both".into(),
            ));
        }
        let json = String::from_utf8_lossy(&read_file(path)?).into_owned();
        return OperatorVerifier::from_key_file(&json, config.operator_jwt_issuer.as_deref())
            .map_err(|e| StartError::Invalid(e.to_string()));
    }
    let key = match (&config.operator_jwt_secret, &config.operator_jwt_public_key) {
        (Some(_), Some(_)) => {
            return Err(StartError::Invalid(
                "set either --operator-jwt-secret or --operator-jwt-public-key, not both".into(),
            ));
        }
        (Some(secret), None) => OperatorKey::Hs256Secret(secret.clone().into_bytes()),
        (None, Some(path)) => match config.operator_jwt_alg {
            PublicKeyAlg::Rs256 => OperatorKey::RsaPem(read_file(path)?),
            PublicKeyAlg::Es256 => OperatorKey::EcPem(read_file(path)?),
        },
        (None, None) if config.dev => {
            OperatorKey::Hs256Secret(crate::dev::DEV_OPERATOR_SECRET.as_bytes().to_vec())
        }
        (None, None) => {
            return Err(StartError::Invalid(
                "no operator key: set --operator-jwt-secret or --operator-jwt-public-key (or use --dev)"
                    .into(),
            ));
        }
    };
    OperatorVerifier::new(key, config.operator_jwt_issuer.as_deref())
        .map_err(|e| StartError::Invalid(e.to_string()))
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub hub: Hub,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stop accepting, close every session with `going_away`, and wait up to the configured
    /// grace for them to finish. Returns `false` when the grace ran out.
    pub async fn shutdown(self) -> bool {
        self.hub.shutdown();
        let grace = Duration::from_millis(self.hub.config().shutdown_grace_ms);
        let drained = self.hub.drain(grace).await;
        if !drained {
            warn!("shutdown grace ran out with sessions still open");
        }
        let _ = self.server.await;
        drained
    }
}

/// A listening socket whose accepted connections have Nagle's algorithm off. Chat frames are
/// small and latency-bound: with Nagle on, a frame can wait for the peer's delayed ACK (40 ms on
/// Linux), which the load generator measured. warp accepts the connections itself, so the option
/// is set on the listener, from which Linux copies it to every accepted socket.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Bind and serve `hub` until it is shut down.
pub async fn start(hub: Hub) -> Result<Running, StartError> {
    let addr = hub.config().listen;
    let listener = listen(addr).map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let server = tokio::spawn(serve(listener, routes(hub.clone()), hub.clone()));
    info!(%addr, "hub listening");
    Ok(Running { addr, hub, server })
}

/// The TCP peer of a request, set by [`serve`] (warp's own `addr::remote` is filled only by
/// warp's server loop).
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

/// What a slow or stalled client may hold, from the configuration.
#[derive(Debug, Clone, Copy)]
struct HttpLimits {
    header: Duration,
    body: Duration,
    /// 0: unlimited.
    pending_per_ip: usize,
}

/// The accept loop: HTTP/1 connections with a time-out on each request's header (hyper's, from
/// the first byte or, kept alive, from the previous answer) and body ([`TimedBody`]), and a
/// bound on the connections one IP has waiting on it ([`Pending`]). Serving ends when the hub
/// shuts down: no more accepts, idle connections closed, answers in progress finished.
/// Upgraded WebSockets are the sessions' own (drained by `Running::shutdown`).
async fn serve(listener: TcpListener, routes: Routes, hub: Hub) {
    let config = hub.config();
    let limits = HttpLimits {
        header: config.http_header_timeout(),
        body: config.http_body_timeout(),
        // Behind a proxy every connection comes from the proxy: it bounds its own clients.
        pending_per_ip: if config.client_ip_header.is_some() {
            0
        } else {
            config.http_pending_per_ip
        },
    };
    let shutdown = hub.stopping();
    let pending = Arc::new(Pending::new(limits.pending_per_ip));
    let connections = tokio_util::task::TaskTracker::new();
    let service = warp::service(routes);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let Some(slot) = pending.enter(peer.ip()) else {
            // A fixed answer, written only if the socket takes it at once: a client that
            // holds this many connections open gets nothing that could wait on it.
            let _ = stream.try_write(TOO_MANY_PENDING);
            tracing::debug!(%peer, "refused: too many unfinished requests from this address");
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(service.clone());
        let handler = hyper::service::service_fn(move |req: warp::http::Request<Incoming>| {
            let expired = Arc::new(AtomicBool::new(false));
            let mut req = req.map(|body| TimedBody::new(body, limits.body, expired.clone()));
            req.extensions_mut().insert(Peer(peer));
            let answer = hyper::service::Service::call(&service, req);
            async move {
                let res = answer.await?;
                if expired.load(Ordering::Relaxed) {
                    return Ok(crate::api::request_timeout(limits.body));
                }
                Ok::<_, Infallible>(res)
            }
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(limits.header);
        let conn = http
            .serve_connection(TokioIo::new(stream), handler)
            .with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            // Ends at the upgrade too: a WebSocket no longer counts as pending.
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                () = shutdown.cancelled() => {
                    // Finish the answer in progress, take no new request.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    connections.close();
    // A client still sending a header or body has until its time-out; shutdown waits for it
    // no longer than its grace.
    let grace = Duration::from_millis(hub.config().shutdown_grace_ms);
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        warn!("shutdown grace ran out with HTTP requests unfinished");
    }
}

type Routes = warp::filters::BoxedFilter<(warp::reply::Response,)>;

const TOO_MANY_PENDING: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\n\
content-length: 66\r\n\r\n\
{\"error\":\"rate_limited\",\"message\":\"too many unfinished requests\"}\n";

/// As warp and hyper do: errors of one connection (reset before it was accepted) are
/// nothing; others (out of file descriptors) are logged and accepting pauses a moment.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// HTTP connections per client IP that are not done: waiting for a request, reading one,
/// answering it, before their WebSocket upgrade. Each holds a file descriptor and a task,
/// so one address may hold only so many.
#[derive(Debug)]
struct Pending {
    limit: usize,
    by_ip: std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>,
}

/// One counted connection; dropping it uncounts it.
#[derive(Debug)]
struct PendingSlot {
    pending: Arc<Pending>,
    ip: IpAddr,
}

impl Pending {
    fn new(limit: usize) -> Self {
        Pending {
            limit,
            by_ip: Default::default(),
        }
    }

    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<PendingSlot> {
        if self.limit > 0 {
            let mut by_ip = self.by_ip.lock().unwrap_or_else(|e| e.into_inner());
            let n = by_ip.entry(ip).or_default();
            if *n >= self.limit {
                return None;
            }
            *n += 1;
        }
        Some(PendingSlot {
            pending: self.clone(),
            ip,
        })
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        if self.pending.limit == 0 {
            return;
        }
        let mut by_ip = self.pending.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

/// A request body that must arrive within a time-out from the end of the header. Past it,
/// the read fails and `expired` tells the server loop to answer `408 request_timeout`
/// (the connection then closes: hyper keeps none alive with a body left unread).
struct TimedBody {
    inner: Incoming,
    deadline: tokio::time::Instant,
    /// Armed when the body first has to wait.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl TimedBody {
    fn new(inner: Incoming, timeout: Duration, expired: Arc<AtomicBool>) -> Self {
        TimedBody {
            inner,
            deadline: tokio::time::Instant::now() + timeout,
            timer: None,
            expired,
        }
    }
}

impl http_body::Body for TimedBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err("the request body did not arrive in time".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

fn with_hub(hub: Hub) -> impl Filter<Extract = (Hub,), Error = Infallible> + Clone {
    warp::any().map(move || hub.clone())
}

fn routes(hub: Hub) -> Routes {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::json(&serde_json::json!({"status": "ok"})).into_response());
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_hub(hub.clone()))
        .then(|hub: Hub| async move {
            if hub.store_ready(Duration::from_secs(2)).await {
                warp::reply::json(&serde_json::json!({"ready": true})).into_response()
            } else {
                warp::reply::with_status(
                    warp::reply::json(
                        &serde_json::json!({"ready": false, "reason": "store unavailable"}),
                    ),
                    StatusCode::SERVICE_UNAVAILABLE,
                )
                .into_response()
            }
        });
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(warp::header::optional::<String>("authorization"))
        .and(with_hub(hub.clone()))
        .map(|auth: Option<String>, hub: Hub| {
            if let Some(token) = &hub.config().metrics_token
                && auth.as_deref() != Some(format!("Bearer {token}").as_str())
            {
                return warp::reply::with_status("unauthorized\n", StatusCode::UNAUTHORIZED)
                    .into_response();
            }
            let (widgets, operators) = hub.connection_counts();
            let body = hub.metrics().render(widgets, operators);
            warp::reply::with_header(body, "content-type", "text/plain; version=0.0.4")
                .into_response()
        });
    let audit = warp::path!("api" / "audit")
        .and(warp::get())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::query::<std::collections::HashMap<String, String>>())
        .and(with_hub(hub.clone()))
        .then(audit_export);
    let widget = warp::path!("ws" / "widget")
        .and(ws_upgrade())
        .and(with_hub(hub.clone()))
        .and(warp::header::optional::<String>("origin"))
        .and(client_ip(hub.config().client_ip_header.clone()))
        .map(
            |up: Upgrade, hub: Hub, origin: Option<String>, ip: Option<IpAddr>| {
                upgrade(up, hub, Kind::Widget(origin), ip)
            },
        );
    let operator = warp::path!("ws" / "operator")
        .and(ws_upgrade())
        .and(with_hub(hub.clone()))
        .and(client_ip(hub.config().client_ip_header.clone()))
        .map(|up: Upgrade, hub: Hub, ip: Option<IpAddr>| upgrade(up, hub, Kind::Operator, ip));
    let mut api = healthz
        .or(readyz)
        .unify()
        .or(metrics)
        .unify()
        .or(audit)
        .unify()
        .or(crate::api::routes(hub.clone()))
        .unify()
        .or(widget)
        .unify()
        .or(operator)
        .unify()
        .boxed();
    if hub.config().dev {
        api = api.or(dev_routes(hub.clone())).unify().boxed();
    }
    if let Some(dir) = hub.config().static_dir.clone() {
        let index = dir.join("index.html");
        // The widget script is embedded by customers' sites: revalidated on every load (its
        // name carries no hash, and a fix must reach visitors at once), loadable cross-origin.
        let widget_js = warp::path!("widget.js")
            .and(warp::get().or(warp::head()).unify())
            .and(warp::fs::file(dir.join("widget.js")))
            .map(|f: warp::fs::File| {
                let mut res = f.into_response();
                let h = res.headers_mut();
                use warp::http::header::{self, HeaderValue};
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                h.insert(
                    header::HeaderName::from_static("cross-origin-resource-policy"),
                    HeaderValue::from_static("cross-origin"),
                );
                h.insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
                res
            });
        api = api.or(widget_js).unify().boxed();
        // HEAD too: uptime checks and proxies probe the dashboard with it.
        let get_or_head = || warp::get().or(warp::head()).unify();
        let files = get_or_head()
            .and(warp::fs::dir(dir))
            .map(|f: warp::fs::File| f.into_response());
        // Client-side routes of the SPA all load index.html.
        let spa = get_or_head()
            .and(warp::fs::file(index))
            .map(|f: warp::fs::File| f.into_response());
        let dashboard = files
            .or(spa)
            .unify()
            .with(warp::reply::with::headers(dashboard_headers()))
            .map(warp::Reply::into_response);
        api = api.or(dashboard).unify().boxed();
    }
    api.recover(not_found).unify().boxed()
}

/// Headers of the dashboard's pages: it loads only its own scripts and styles, talks only to
/// this origin, and may not be framed (clickjacking a "Take Control" button is not a feature).
fn dashboard_headers() -> warp::http::HeaderMap {
    use warp::http::header::{self, HeaderValue};
    let mut h = warp::http::HeaderMap::new();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; \
             img-src 'self' data: blob: https:; style-src 'self' 'unsafe-inline'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_have_nagle_off() {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0))).expect("listen");
        let addr = listener.local_addr().expect("addr");
        let client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (accepted, _) = listener.accept().await.expect("accept");
        assert!(
            accepted.nodelay().expect("nodelay"),
            "inherited from the listener"
        );
        drop(client);
    }
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

/// `GET /api/audit`: the workspace's audit log as JSON lines, oldest first, for owners and
/// editors (`Authorization: Bearer <operator token>`); `?limit=N` for the newest N.
async fn audit_export(
    auth: Option<String>,
    query: std::collections::HashMap<String, String>,
    hub: Hub,
) -> warp::reply::Response {
    let refuse = |status: StatusCode, code: protocol::ErrorCode, message: &str| {
        let body = serde_json::json!({ "error": code, "message": message });
        warp::reply::with_status(warp::reply::json(&body), status).into_response()
    };
    let Some(token) = auth.as_deref().and_then(|a| a.strip_prefix("Bearer ")) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            protocol::ErrorCode::Unauthorized,
            "send Authorization: Bearer <operator token>",
        );
    };
    let op = match hub.operator_sign_in(token) {
        Ok(op) => op,
        Err(e) => return refuse(StatusCode::UNAUTHORIZED, e.code, &e.message),
    };
    if !op.claims.role.may_force_release() {
        return refuse(
            StatusCode::FORBIDDEN,
            protocol::ErrorCode::RoleRequired,
            "only owners and editors can read the audit log",
        );
    }
    let limit = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(crate::store::AUDIT_KEEP);
    match hub.audit_log(&op.workspace.id, limit).await {
        Ok(entries) => {
            let mut body = String::new();
            for e in &entries {
                if let Ok(line) = serde_json::to_string(e) {
                    body.push_str(&line);
                    body.push('\n');
                }
            }
            warp::reply::with_header(body, "content-type", "application/x-ndjson").into_response()
        }
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            protocol::ErrorCode::Unavailable,
            "the store is unavailable; retry",
        ),
    }
}

const DEV_CHAT: &str = include_str!("../assets/dev-chat.html");
/// A sample shop page with the widget embedded by its one script tag (`/widget.js` comes from
/// the built web-ui in `--static-dir`).
const DEMO_SITE: &str = include_str!("../assets/demo-site.html");

#[derive(Debug, Deserialize)]
struct DevLogin {
    operator_id: String,
}

fn dev_routes(hub: Hub) -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let list = warp::path!("dev" / "operators")
        .and(warp::get())
        .map(|| warp::reply::json(&crate::dev::DEMO_OPERATORS).into_response());
    let login = warp::path!("dev" / "login")
        .and(warp::post())
        .and(warp::body::content_length_limit(4096))
        .and(warp::body::json())
        .and(with_hub(hub))
        .map(|body: DevLogin, hub: Hub| {
            match crate::dev::token_for(
                hub.operator_tokens(),
                &body.operator_id,
                now_secs(),
                12 * 3600,
            ) {
                Some(token) => {
                    warp::reply::json(&serde_json::json!({ "token": token })).into_response()
                }
                None => warp::reply::with_status(
                    warp::reply::json(&serde_json::json!({ "error": "unknown demo operator" })),
                    StatusCode::NOT_FOUND,
                )
                .into_response(),
            }
        });
    // A bare visitor chat, so `./scripts/run.sh` shows both sides of a conversation.
    let chat = warp::path!("dev" / "chat")
        .and(warp::get())
        .map(|| warp::reply::html(DEV_CHAT).into_response());
    let demo = warp::path!("dev" / "demo")
        .and(warp::get())
        .map(|| warp::reply::html(DEMO_SITE).into_response());
    list.or(login)
        .unify()
        .or(chat)
        .unify()
        .or(demo)
        .unify()
        .boxed()
}

async fn not_found(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    let (status, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, "not found")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (StatusCode::PAYLOAD_TOO_LARGE, "payload too large")
    } else if rejection
        .find::<warp::filters::body::BodyDeserializeError>()
        .is_some()
    {
        (StatusCode::BAD_REQUEST, "invalid JSON body")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else {
        (StatusCode::BAD_REQUEST, "bad request")
    };
    Ok(warp::reply::with_status(
        warp::reply::json(&serde_json::json!({ "error": message })),
        status,
    )
    .into_response())
}
