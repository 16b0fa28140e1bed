//! Sessions: one task per socket, from handshake to close.
//!
//! A session is generic over a [`Sink`] of [`WsOut`] and a [`Stream`] of [`WsIn`], so unit tests
//! drive it with channels and only the WebSocket edge (`server/ws.rs`) knows about real ones.
//! Both kinds of session share [`Conn`]: the outbound queue, per-conversation cursors that keep
//! every client's view gap-free and duplicate-free, heartbeats, and closing with a code.

pub mod operator;
pub mod widget;

use rustc_hash::FxHashMap;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use protocol::{CloseCode, ErrorCode, ErrorFrame, Seq, ServerFrame};
use tokio::time::Instant;

use crate::node::{Hub, frame_json};
use crate::registry::{ConnKind, ConnRx, Outbound};

/// What the transport delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsIn {
    Text(String),
    Binary,
    /// Pings and pongs: proof the peer is alive.
    Alive,
    /// The peer sent a message over the transport's hard limit.
    TooBig,
    Close,
}

/// What a session asks the transport to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsOut {
    Text(String),
    Ping,
    Close(u16, String),
}

/// The socket went away while sending.
#[derive(Debug)]
pub struct Gone;

/// Work a frame left waiting on the store (a message's append), with what its answer needs.
pub type Waiting<D> = std::pin::Pin<Box<dyn std::future::Future<Output = D> + Send>>;

/// What a frame handler tells the loop.
pub enum Flow<D> {
    Continue,
    Close(CloseCode),
    /// Keep delivering this connection's queue while `work` waits on the store; read no
    /// further frame (frames are handled in order); then answer with [`Handler::on_done`].
    /// A slow store call thus delays this client's own answer, not the frames others send it.
    Wait(Waiting<D>),
    /// Like `Wait`, but further frames are read meanwhile (up to [`MAX_IN_FLIGHT`] works at
    /// once): for work on one conversation that nothing else of the session waits on (an
    /// operator's takeover or release). A dashboard taking over fifty conversations at once
    /// has them done side by side, not one store round trip after another. The handler
    /// keeps order within a conversation by answering a frame for a conversation with work in
    /// flight with `Later`.
    Overlap(Waiting<D>),
    /// Handle this frame again once no work is in flight.
    Later(String),
}

/// Most `Flow::Overlap` works one session has in flight; beyond, it reads no further frame
/// until one is done (each holds a store call's state).
pub const MAX_IN_FLIGHT: usize = 64;

/// The next of `waiting` to finish, removed from it. Polls each: there are at most
/// [`MAX_IN_FLIGHT`], and a plain `Vec` costs an idle connection nothing, unlike a
/// `FuturesUnordered`.
fn next_done<D>(waiting: &mut Vec<Waiting<D>>) -> impl std::future::Future<Output = D> + '_ {
    std::future::poll_fn(move |cx| {
        for i in 0..waiting.len() {
            if let std::task::Poll::Ready(done) = waiting[i].as_mut().poll(cx) {
                drop(waiting.swap_remove(i));
                return std::task::Poll::Ready(done);
            }
        }
        std::task::Poll::Pending
    })
}

impl<D> std::fmt::Debug for Flow<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flow::Continue => f.write_str("Continue"),
            Flow::Close(code) => f.debug_tuple("Close").field(code).finish(),
            Flow::Wait(_) => f.write_str("Wait(..)"),
            Flow::Overlap(_) => f.write_str("Overlap(..)"),
            Flow::Later(_) => f.write_str("Later(..)"),
        }
    }
}

/// Poll `work` once, with this task's waker: its result if it is ready at once (a socket write
/// with room; an append to the in-memory store, which never waits).
async fn ready_now<F: std::future::Future + ?Sized>(
    mut work: std::pin::Pin<&mut F>,
) -> Option<F::Output> {
    match std::future::poll_fn(|cx| std::task::Poll::Ready(work.as_mut().poll(cx))).await {
        std::task::Poll::Ready(done) => Some(done),
        std::task::Poll::Pending => None,
    }
}

/// Read and decode the first frame within the handshake timeout. `None` when it failed: the
/// client has then been told why and the socket closed.
pub(crate) async fn read_hello<S, R, F>(
    hub: &Hub,
    sink: &mut S,
    stream: &mut R,
    decode: fn(&str, &protocol::decode::Limits) -> Result<F, protocol::decode::DecodeError>,
) -> Option<F>
where
    S: Sink<WsOut> + Unpin,
    R: Stream<Item = WsIn> + Unpin,
{
    let text = match first_text(hub, stream).await {
        Ok(t) => t,
        Err(code) => {
            send_close(sink, code).await;
            return None;
        }
    };
    match decode(&text, &hub.config().decode_limits()) {
        Ok(frame) => Some(frame),
        Err(e) => {
            refuse(sink, ErrorFrame::with_message(e.code, e.message)).await;
            None
        }
    }
}

/// Refuse a protocol version this hub does not speak.
pub(crate) fn check_protocol(protocol: u32) -> Result<(), ErrorFrame> {
    if protocol == protocol::PROTOCOL_VERSION {
        return Ok(());
    }
    Err(ErrorFrame::with_message(
        ErrorCode::UnsupportedProtocol,
        format!(
            "this hub speaks protocol {}, not {protocol}",
            protocol::PROTOCOL_VERSION
        ),
    ))
}

/// Read the first frame within the handshake timeout.
async fn first_text<R>(hub: &Hub, stream: &mut R) -> Result<String, CloseCode>
where
    R: Stream<Item = WsIn> + Unpin,
{
    let deadline = hub.config().handshake_timeout();
    match tokio::time::timeout(deadline, stream.next()).await {
        Err(_) => Err(CloseCode::HANDSHAKE_TIMEOUT),
        Ok(Some(WsIn::Text(t))) => Ok(t),
        Ok(Some(WsIn::TooBig)) => Err(CloseCode::MESSAGE_TOO_BIG),
        Ok(Some(WsIn::Binary | WsIn::Alive)) => Err(CloseCode::PROTOCOL_ERROR),
        Ok(Some(WsIn::Close) | None) => Err(CloseCode::NORMAL),
    }
}

/// How long a close frame may take to go out. A client that does not read gets its socket
/// dropped instead.
const CLOSE_WRITE_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) async fn send_close<S>(sink: &mut S, code: CloseCode)
where
    S: Sink<WsOut> + Unpin,
{
    let close = sink.send(WsOut::Close(code.code, code.name.to_owned()));
    let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, close).await;
}

/// Refuse a handshake: an error frame that says why, then the matching close code.
pub(crate) async fn refuse<S>(sink: &mut S, error: ErrorFrame)
where
    S: Sink<WsOut> + Unpin,
{
    let code = CloseCode::for_handshake_error(error.code);
    let _ = sink
        .send(WsOut::Text(
            frame_json(&ServerFrame::Error(error)).to_string(),
        ))
        .await;
    send_close(sink, code).await;
}

/// Which rate a client frame counts against.
#[derive(Debug, Clone, Copy)]
pub enum RateKind {
    Message,
    Typing,
}

impl RateKind {
    fn name(self) -> &'static str {
        match self {
            RateKind::Message => "message",
            RateKind::Typing => "typing",
        }
    }
}

/// Most queued frames written before one flush.
const BATCH: usize = 64;

/// Run a socket operation, giving up when the connection is stopped (its queue overflowed
/// while this waited on a full socket, or the node shuts down) or after `limit`: a stalled
/// reader can never pin its session, or memory, forever.
async fn guarded<E>(
    stop: &tokio_util::sync::CancellationToken,
    limit: std::time::Duration,
    op: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), Gone> {
    let mut op = std::pin::pin!(op);
    // Almost every write finishes at its first poll (the socket has room). Only one that has to
    // wait pays for a timer and a watch on `stop`: both cost locks, per frame, on the hot path.
    let first = ready_now(op.as_mut()).await.map(|r| r.map_err(|_| Gone));
    if let Some(r) = first {
        return r;
    }
    tokio::select! {
        biased;
        () = stop.cancelled() => Err(Gone),
        r = tokio::time::timeout(limit, op) => match r {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        },
    }
}

/// The state every session has after its handshake.
pub struct Conn<S> {
    pub hub: Hub,
    pub sink: S,
    pub kind: ConnKind,
    pub rx: ConnRx,
    /// The workspace this connection belongs to: every conversation it reads is looked up
    /// under it.
    pub workspace: String,
    /// Last sequence number sent, per open conversation. FxHash, as in the registry: every
    /// delivered event looks its conversation up here, and the keys are ids of conversations
    /// the client was allowed to open, not strings it chose.
    pub cursors: FxHashMap<String, Seq>,
    /// The workspace whose Online list this connection follows, if any.
    pub online: Option<String>,
    /// Writes are buffered until the next flush.
    batching: bool,
    /// How fast this client may send messages and typing frames.
    pub limits: crate::ratelimit::ConnLimits,
}

impl<S> std::fmt::Debug for Conn<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.rx.id)
            .field("kind", &self.kind)
            .field("cursors", &self.cursors)
            .finish_non_exhaustive()
    }
}

impl<S> Conn<S>
where
    S: Sink<WsOut> + Unpin,
{
    /// `presence`: who is behind the connection (the node counts operators and visitors).
    pub fn new(
        hub: Hub,
        sink: S,
        kind: ConnKind,
        workspace: String,
        presence: Option<crate::registry::Presence>,
    ) -> Self {
        let limits = crate::ratelimit::ConnLimits::new(hub.config());
        let rx = hub.connect(kind, presence);
        Self {
            hub,
            sink,
            kind,
            rx,
            workspace,
            cursors: FxHashMap::default(),
            online: None,
            batching: false,
            limits,
        }
    }

    pub async fn send(&mut self, frame: &ServerFrame) -> Result<(), Gone> {
        self.send_raw(crate::node::frame_text(frame)).await
    }

    /// Take a token from `bucket`; `false` (after telling the client when to retry) when empty.
    pub async fn allow(
        &mut self,
        kind: RateKind,
        conversation_id: &str,
        client_id: Option<&str>,
    ) -> Result<bool, Gone> {
        let now = std::time::Instant::now();
        let bucket = match kind {
            RateKind::Message => &mut self.limits.messages,
            RateKind::Typing => &mut self.limits.typing,
        };
        let Err(wait) = bucket.take(now) else {
            return Ok(true);
        };
        let message = format!(
            "too many {} frames; retry in {} ms",
            kind.name(),
            wait.as_millis().max(1)
        );
        self.send_error(rate_limited(message, wait, conversation_id, client_id))
            .await?;
        Ok(false)
    }

    pub async fn send_error(&mut self, error: ErrorFrame) -> Result<(), Gone> {
        self.send(&ServerFrame::Error(error)).await
    }

    async fn send_raw(&mut self, text: String) -> Result<(), Gone> {
        self.write(WsOut::Text(text)).await?;
        let m = self.hub.metrics();
        m.add(&m.frames_out, 1);
        Ok(())
    }

    /// Write to the socket (buffered while the session loop handles one step; it flushes once
    /// at the step's end).
    async fn write(&mut self, out: WsOut) -> Result<(), Gone> {
        let limit = self.hub.config().idle_timeout();
        if self.batching {
            guarded(&self.rx.stop, limit, self.sink.feed(out)).await
        } else {
            guarded(&self.rx.stop, limit, self.sink.send(out)).await
        }
    }

    async fn flush(&mut self) -> Result<(), Gone> {
        let limit = self.hub.config().idle_timeout();
        guarded(&self.rx.stop, limit, self.sink.flush()).await
    }

    /// Deliver `first` (if any) and whatever else is already queued (up to [`BATCH`]), then
    /// flush once: under load a burst costs one socket write instead of one per frame.
    pub async fn deliver_batch(&mut self, first: Option<Outbound>) -> Result<(), Gone> {
        self.batching = true;
        let mut result = match first {
            Some(item) => self.deliver(item).await,
            None => Ok(()),
        };
        for _ in 1..BATCH {
            if result.is_err() {
                break;
            }
            match self.rx.rx.try_recv() {
                Ok(item) => result = self.deliver(item).await,
                Err(_) => break,
            }
        }
        self.batching = false;
        result?;
        self.flush().await
    }

    /// Handle one client frame with writes buffered, then send its answers together with what
    /// it queued for this same connection: a visitor's message is appended and fanned out
    /// before its handler returns, so its `ack` and the echoed `event` leave in one write.
    async fn handle_text<H: Handler<S>>(
        &mut self,
        handler: &mut H,
        text: String,
    ) -> Result<Flow<H::Done>, Gone>
    where
        S: Send,
    {
        self.batching = true;
        let flow = handler.on_text(self, text).await;
        self.batching = false;
        match flow? {
            // Done at once: answered by `finish`, in the same write as what `on_text` buffered.
            Flow::Wait(mut work) => match ready_now(work.as_mut()).await {
                Some(done) => self.finish(handler, done).await.map(|()| Flow::Continue),
                None => self.deliver_batch(None).await.map(|()| Flow::Wait(work)),
            },
            Flow::Overlap(mut work) => match ready_now(work.as_mut()).await {
                Some(done) => self.finish(handler, done).await.map(|()| Flow::Continue),
                None => self.deliver_batch(None).await.map(|()| Flow::Overlap(work)),
            },
            flow => self.deliver_batch(None).await.map(|()| flow),
        }
    }

    /// Answer a frame whose waiting work finished, with what queued meanwhile, in one write.
    async fn finish<H: Handler<S>>(&mut self, handler: &mut H, done: H::Done) -> Result<(), Gone>
    where
        S: Send,
    {
        self.batching = true;
        let answered = handler.on_done(self, done).await;
        self.batching = false;
        answered?;
        self.deliver_batch(None).await
    }

    fn pick(&self, for_operators: &str, for_visitors: Option<&str>) -> Option<String> {
        match self.kind {
            ConnKind::Operator => Some(for_operators.to_owned()),
            ConnKind::Widget => for_visitors.map(str::to_owned),
        }
    }

    /// Send a conversation's events after `after`, from the store, and move its cursor.
    pub async fn catch_up(&mut self, conversation_id: &str) -> Result<(), Gone> {
        let Some(&cursor) = self.cursors.get(conversation_id) else {
            return Ok(());
        };
        let m = self.hub.metrics();
        m.bump(&m.catch_ups, 1);
        let events = match self
            .hub
            .catch_up(&self.workspace, conversation_id, cursor)
            .await
        {
            Ok(events) => events,
            Err(e) => {
                // The client would otherwise sit on a gap until the next event: close with
                // "reconnect", so it resumes by sequence number once the store is back.
                tracing::debug!(conversation_id, error = %e, "catch-up failed; asking the client to reconnect");
                self.close(CloseCode::UNAVAILABLE).await;
                return Err(Gone);
            }
        };
        for event in events {
            let seq = event.seq;
            let event = match self.kind {
                ConnKind::Operator => event,
                ConnKind::Widget => event.for_visitor(),
            };
            self.send(&ServerFrame::Event {
                conversation_id: conversation_id.to_owned(),
                event,
            })
            .await?;
            self.cursors.insert(conversation_id.to_owned(), seq);
        }
        Ok(())
    }

    /// The notes an operator may have missed while the bus was away: every note written after
    /// the last event they had seen (`seen`) is sent again (the dashboard keeps each note once,
    /// by id). Best effort: a failure leaves them for the next open.
    async fn catch_up_notes(&mut self, conversation_id: &str, seen: u64) -> Result<(), Gone> {
        let notes = self
            .hub
            .notes_after(&self.workspace, conversation_id, seen)
            .await;
        for note in notes.unwrap_or_default() {
            self.send(&ServerFrame::Note {
                conversation_id: conversation_id.to_owned(),
                note,
            })
            .await?;
        }
        Ok(())
    }

    /// Deliver one item of the outbound queue, keeping each conversation gap-free.
    pub async fn deliver(&mut self, item: Outbound) -> Result<(), Gone> {
        match item {
            Outbound::Frame(f) => match self.pick(&f.for_operators, f.for_visitors.as_deref()) {
                Some(text) => self.send_raw(text).await,
                None => Ok(()),
            },
            Outbound::Resync => {
                let open: Vec<(String, u64)> =
                    self.cursors.iter().map(|(c, s)| (c.clone(), *s)).collect();
                for (conversation_id, seen) in open {
                    self.catch_up(&conversation_id).await?;
                    if self.kind == ConnKind::Operator {
                        self.catch_up_notes(&conversation_id, seen).await?;
                    }
                }
                Ok(())
            }
            Outbound::Event(d) => {
                let Some(cursor) = self.cursors.get_mut(&*d.conversation_id) else {
                    // Closed meanwhile.
                    return Ok(());
                };
                if d.seq <= *cursor {
                    // Already sent by a history or a catch-up.
                    Ok(())
                } else if d.seq == *cursor + 1 {
                    // Moved before the send: a failed send ends the session anyway.
                    *cursor = d.seq;
                    if let Some(text) = self.pick(&d.for_operators, Some(&d.for_visitors)) {
                        self.send_raw(text).await?;
                        let waited = crate::util::now_us().saturating_sub(d.published_us);
                        self.hub
                            .metrics()
                            .delivery_latency
                            .observe(std::time::Duration::from_micros(waited));
                    }
                    Ok(())
                } else {
                    // Something in between was missed (reordered or lost on the bus): the store
                    // has it all, in order.
                    self.catch_up(&d.conversation_id).await
                }
            }
        }
    }

    /// After a `history`: the AI's draft so far, when one is being written and this node has it
    /// whole (see [`Hub::draft_so_far`]). `epoch`: the control epoch the history was read under.
    pub async fn send_draft(&mut self, conversation_id: &str, epoch: u64) -> Result<(), Gone> {
        match self.hub.draft_so_far(conversation_id, epoch) {
            Some(d) => {
                self.send(&ServerFrame::AiDraft {
                    conversation_id: conversation_id.to_owned(),
                    draft_id: d.draft_id,
                    epoch: d.epoch,
                    offset: 0,
                    text: d.text,
                    state: protocol::DraftState::Streaming,
                })
                .await
            }
            None => Ok(()),
        }
    }

    pub async fn send_team_snapshot(&mut self, workspace_id: &str) -> Result<(), Gone> {
        match self.hub.team(workspace_id).await {
            Ok(members) => self.send(&ServerFrame::TeamSnapshot { members }).await,
            Err(e) => self.send_error(crate::node::error_frame(&e, "")).await,
        }
    }

    pub async fn close(&mut self, code: CloseCode) {
        send_close(&mut self.sink, code).await;
    }
}

/// A session's frame handler.
pub trait Handler<S: Sink<WsOut> + Unpin> {
    /// What a frame's waiting work hands back (see [`Flow::Wait`]).
    type Done: Send + 'static;

    fn on_text(
        &mut self,
        conn: &mut Conn<S>,
        text: String,
    ) -> impl std::future::Future<Output = Result<Flow<Self::Done>, Gone>> + Send;

    /// Answer a frame whose work (see [`Flow::Wait`]) has finished.
    fn on_done(
        &mut self,
        conn: &mut Conn<S>,
        done: Self::Done,
    ) -> impl std::future::Future<Output = Result<(), Gone>> + Send;
}

/// The loop both kinds of session run after the handshake.
pub async fn run_loop<S, R, H>(conn: &mut Conn<S>, stream: &mut R, handler: &mut H)
where
    S: Sink<WsOut> + Unpin + Send,
    R: Stream<Item = WsIn> + Unpin,
    H: Handler<S>,
{
    let heartbeat = conn.hub.config().heartbeat();
    let idle = conn.hub.config().idle_timeout();
    let shutdown = conn.hub.stopping();
    // One watch for the whole session, made once: a fresh `cancelled()` per turn of the loop
    // would register and deregister a waiter (two locks) per frame.
    let stop = conn.rx.stop.clone();
    let mut stopped = std::pin::pin!(stop.cancelled());
    let mut ticker = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    let mut last_heard = Instant::now();
    // Work in flight (`Flow::Wait`, `Flow::Overlap`); `blocked`: a `Wait` is among it, so no
    // frame is read until all is done; `later`: a frame to handle once nothing is in flight.
    let mut waiting: Vec<Waiting<H::Done>> = Vec::new();
    let mut blocked = false;
    let mut later: Option<String> = None;
    loop {
        let result = tokio::select! {
            biased;
            () = &mut stopped => {
                if !waiting.is_empty() {
                    // Let a message that may already be stored finish its step (the AI's turn
                    // starts there), briefly; the client re-sends it unacknowledged anyway.
                    let all = futures_util::future::join_all(waiting.drain(..));
                    let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, all).await;
                }
                let code = if shutdown.is_cancelled() {
                    CloseCode::GOING_AWAY
                } else {
                    CloseCode::TOO_SLOW
                };
                Box::pin(conn.close(code)).await;
                return;
            }
            done = next_done(&mut waiting), if !waiting.is_empty() => {
                match Box::pin(conn.finish(handler, done)).await {
                    Ok(()) if waiting.is_empty() => {
                        blocked = false;
                        match later.take() {
                            Some(text) => Box::pin(conn.handle_text(handler, text)).await,
                            None => Ok(Flow::Continue),
                        }
                    }
                    other => other.map(|()| Flow::Continue),
                }
            }
            incoming = stream.next(), if !blocked && later.is_none() && waiting.len() < MAX_IN_FLIGHT => {
                last_heard = Instant::now();
                match incoming {
                    // Boxed, here and below: these futures are large and short-lived, and an
                    // idle connection (most of them) should not carry their size for its whole
                    // life (docs/benchmarks.md, idle).
                    Some(WsIn::Text(text)) => Box::pin(conn.handle_text(handler, text)).await,
                    Some(WsIn::Binary) => Box::pin(conn
                        .send_error(ErrorFrame::with_message(
                            ErrorCode::BadFrame,
                            "binary frames are not supported; send JSON text frames",
                        )))
                        .await
                        .map(|()| Flow::Continue),
                    Some(WsIn::Alive) => Ok(Flow::Continue),
                    Some(WsIn::TooBig) => Ok(Flow::Close(CloseCode::MESSAGE_TOO_BIG)),
                    Some(WsIn::Close) | None => return,
                }
            }
            Some(item) = conn.rx.rx.recv() => Box::pin(conn.deliver_batch(Some(item))).await.map(|()| Flow::Continue),
            _ = ticker.tick() => {
                if last_heard.elapsed() >= idle {
                    Ok(Flow::Close(CloseCode::IDLE_TIMEOUT))
                } else {
                    Box::pin(conn.write(WsOut::Ping)).await.map(|()| Flow::Continue)
                }
            }
        };
        match result {
            Ok(Flow::Continue) => {}
            Ok(Flow::Wait(work)) => {
                waiting.push(work);
                blocked = true;
            }
            Ok(Flow::Overlap(work)) => waiting.push(work),
            Ok(Flow::Later(text)) if waiting.is_empty() => {
                // A handler asks to wait only for work in flight; nothing is: a bug, and
                // waiting here would stall the session, so the frame is refused.
                tracing::error!(len = text.len(), "frame deferred with no work in flight");
                if Box::pin(conn.send_error(ErrorFrame::new(ErrorCode::Internal)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Ok(Flow::Later(text)) => later = Some(text),
            Ok(Flow::Close(code)) => {
                Box::pin(conn.close(code)).await;
                return;
            }
            Err(Gone) => return,
        }
    }
}

/// A `rate_limited` refusal saying when to retry.
pub fn rate_limited(
    message: impl Into<String>,
    wait: std::time::Duration,
    conversation_id: &str,
    client_id: Option<&str>,
) -> ErrorFrame {
    let mut e =
        ErrorFrame::with_message(ErrorCode::RateLimited, message).conversation(conversation_id);
    e.client_id = client_id.map(str::to_owned);
    e.retry_after_ms = Some(u32::try_from(wait.as_millis().max(1)).unwrap_or(u32::MAX));
    e
}

/// How long a heartbeat interval is, for `welcome`/`ready`.
pub(crate) fn heartbeat_ms(hub: &Hub) -> u32 {
    u32::try_from(hub.config().idle_timeout().as_millis()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
