//! The HTTP edge: the serve-until-shutdown loop, and what it is made of.
//!
//! - `wiring.rs`: the composition root, configuration → [`Hub`] ([`build`]);
//! - `routes.rs`: the route table, which mounts each module's routes (`api`, `dev`, the sockets);
//! - `ws.rs`: the WebSocket upgrade, sockets mapped to [`WsIn`](crate::session::WsIn) and
//!   [`WsOut`](crate::session::WsOut) and handed to the sessions;
//! - here: binding, the accept loop with its limits on slow clients, and shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::node::Hub;

mod routes;
#[cfg(test)]
mod tests;
mod wiring;
mod ws;

use routes::Routes;
pub use wiring::{StartError, build, operator_verifier};

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
    let server = tokio::spawn(serve(listener, routes::routes(hub.clone()), hub.clone()));
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
