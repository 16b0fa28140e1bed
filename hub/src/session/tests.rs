//! Sessions driven through channels instead of sockets, with tokio's paused clock.

use super::*;
use futures_util::{sink, stream};
use serde_json::{Value, json};
use std::collections::HashMap;
use tokio::sync::mpsc;

type Out = mpsc::UnboundedReceiver<WsOut>;

/// Start a widget session on channel ends; returns the inbound sender and outbound receiver.
fn widget_session(hub: Hub) -> (mpsc::UnboundedSender<WsIn>, Out) {
    let (in_tx, stream) = inbound();
    let (sink, out_rx) = outbound();
    tokio::spawn(widget::run(hub, sink, stream, None));
    (in_tx, out_rx)
}

/// A session's inbound side on a channel: what the test sends, the stream the session reads.
fn inbound() -> (
    mpsc::UnboundedSender<WsIn>,
    impl Stream<Item = WsIn> + Unpin + Send,
) {
    let (in_tx, in_rx) = mpsc::unbounded_channel::<WsIn>();
    let stream = Box::pin(stream::unfold(in_rx, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    }));
    (in_tx, stream)
}

/// A session's outbound side on a channel: the sink it writes to, what the test reads.
fn outbound() -> (impl Sink<WsOut> + Unpin + Send, Out) {
    let (out_tx, out_rx) = mpsc::unbounded_channel::<WsOut>();
    let sink = Box::pin(sink::unfold(out_tx, |tx, item: WsOut| async move {
        tx.send(item).map_err(|_| Gone)?;
        Ok::<_, Gone>(tx)
    }));
    (sink, out_rx)
}

async fn text(out: &mut Out) -> Value {
    match out.recv().await.expect("output") {
        WsOut::Text(t) => serde_json::from_str(&t).expect("json"),
        other => panic!("expected text, got {other:?}"),
    }
}

async fn hub() -> Hub {
    crate::server::build(crate::Config::for_tests(), None)
        .await
        .expect("hub")
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_pinged_then_closed_idle() {
    let hub = hub().await;
    let (tx, mut out) = widget_session(hub.clone());
    let hello = json!({"type": "hello", "protocol": 1, "workspace_id": "demo-pro"});
    tx.send(WsIn::Text(hello.to_string())).expect("send");
    assert_eq!(text(&mut out).await["type"], "welcome");
    assert_eq!(text(&mut out).await["type"], "history");
    // The paused clock jumps straight to each timer: a ping per heartbeat, then the close.
    let mut pings = 0;
    loop {
        match out.recv().await.expect("output") {
            WsOut::Ping => pings += 1,
            WsOut::Close(code, _) => {
                assert_eq!(code, CloseCode::IDLE_TIMEOUT.code);
                break;
            }
            WsOut::Text(_) => {}
        }
    }
    // Silence is checked at each heartbeat: the close comes at the first one past the limit.
    let (idle, beat) = (hub.config().idle_timeout_ms, hub.config().heartbeat_ms);
    let expected = idle.div_ceil(beat) - 1;
    assert_eq!(pings, expected);
}

#[tokio::test(start_paused = true)]
async fn pongs_keep_a_client_alive() {
    let hub = hub().await;
    let (tx, mut out) = widget_session(hub.clone());
    let hello = json!({"type": "hello", "protocol": 1, "workspace_id": "demo-pro"});
    tx.send(WsIn::Text(hello.to_string())).expect("send");
    text(&mut out).await;
    text(&mut out).await;
    // Answer ten pings: well past the idle timeout, and still open.
    for _ in 0..10 {
        match out.recv().await.expect("output") {
            WsOut::Ping => tx.send(WsIn::Alive).expect("pong"),
            other => panic!("expected a ping, got {other:?}"),
        }
    }
    assert!(10 * hub.config().heartbeat_ms > hub.config().idle_timeout_ms);
}

/// A sink that reports each frame, and each flush as `None`: what leaves in one write.
struct Recorder(mpsc::UnboundedSender<Option<WsOut>>);

impl Sink<WsOut> for Recorder {
    type Error = Gone;
    fn poll_ready(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Gone>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn start_send(self: std::pin::Pin<&mut Self>, item: WsOut) -> Result<(), Gone> {
        self.0.send(Some(item)).map_err(|_| Gone)
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Gone>> {
        std::task::Poll::Ready(self.0.send(None).map_err(|_| Gone))
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Gone>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// The frames of the next write that has any.
async fn next_write(out: &mut mpsc::UnboundedReceiver<Option<WsOut>>) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        match out.recv().await.expect("output") {
            Some(WsOut::Text(t)) => frames.push(serde_json::from_str(&t).expect("json")),
            Some(other) => panic!("unexpected {other:?}"),
            None if frames.is_empty() => {}
            None => return frames,
        }
    }
}

#[tokio::test]
async fn a_messages_ack_and_its_echoed_event_leave_in_one_write() {
    let (in_tx, stream) = inbound();
    let (out_tx, mut out) = mpsc::unbounded_channel();
    tokio::spawn(widget::run(hub().await, Recorder(out_tx), stream, None));
    let hello = json!({"type": "hello", "protocol": 1, "workspace_id": "demo-pro"});
    in_tx.send(WsIn::Text(hello.to_string())).expect("send");
    assert_eq!(next_write(&mut out).await[0]["type"], "welcome");
    assert_eq!(next_write(&mut out).await[0]["type"], "history");
    let message = json!({"type": "message", "client_id": "c1", "text": "hello?"});
    in_tx.send(WsIn::Text(message.to_string())).expect("send");
    // One socket write, not two: the loop flushes once per step.
    let write = next_write(&mut out).await;
    assert!(write.len() >= 2, "{write:?}");
    assert_eq!(write[0]["type"], "ack");
    assert_eq!(write[1]["type"], "event");
    assert_eq!(write[1]["event"]["client_id"], "c1");
}

/// A handler whose first frame waits on a gate; it records the order it reads frames in.
struct Gated {
    gate: Option<tokio::sync::oneshot::Receiver<()>>,
    read: mpsc::UnboundedSender<String>,
}

impl<S: Sink<WsOut> + Unpin + Send> Handler<S> for Gated {
    type Done = String;

    async fn on_text(&mut self, _: &mut Conn<S>, text: String) -> Result<Flow<String>, Gone> {
        self.read.send(text.clone()).map_err(|_| Gone)?;
        Ok(match self.gate.take() {
            Some(gate) => Flow::Wait(Box::pin(async move {
                let _ = gate.await;
                text
            })),
            None => Flow::Continue,
        })
    }

    async fn on_done(&mut self, conn: &mut Conn<S>, done: String) -> Result<(), Gone> {
        conn.send_raw(format!("done: {done}")).await
    }
}

#[tokio::test]
async fn a_frame_waiting_on_the_store_does_not_hold_up_deliveries_or_order() {
    let hub = hub().await;
    let (in_tx, mut stream) = inbound();
    let (sink, mut out) = outbound();
    let mut conn = Conn::new(hub.clone(), sink, ConnKind::Operator, "w".into(), None);
    let topic = crate::bus::Topic::Workspace("w".into());
    hub.test_registry().subscribe(conn.rx.id, &topic);
    let (open, gate) = tokio::sync::oneshot::channel();
    let (read_tx, mut read) = mpsc::unbounded_channel();
    let mut handler = Gated {
        gate: Some(gate),
        read: read_tx,
    };
    tokio::spawn(async move { run_loop(&mut conn, &mut stream, &mut handler).await });

    in_tx.send(WsIn::Text("first".into())).expect("send");
    assert_eq!(read.recv().await.as_deref(), Some("first"));
    in_tx.send(WsIn::Text("second".into())).expect("send");
    let frame = Outbound::frame(crate::registry::Frames {
        for_operators: "to the operator".into(),
        for_visitors: None,
    });
    hub.test_registry().fan_out(&topic, &frame);
    // Delivered while "first" waits (the bound only turns a hang into a failure)...
    let delivered = tokio::time::timeout(std::time::Duration::from_secs(10), out.recv()).await;
    assert_eq!(
        delivered.expect("delivered while the first frame waits"),
        Some(WsOut::Text("to the operator".into()))
    );
    // ...and "second", queued before that frame, not read yet: the loop would have taken it
    // first (it looks at the socket before the queue).
    assert!(read.try_recv().is_err());
    open.send(()).expect("gate");
    assert_eq!(out.recv().await, Some(WsOut::Text("done: first".into())));
    assert_eq!(read.recv().await.as_deref(), Some("second"));
}

/// A handler whose frames `key` wait on a gate each, side by side (`Flow::Overlap`), and
/// which defers a frame for a key with work in flight (`Flow::Later`), as the operator
/// session does for a conversation.
struct Overlapping {
    gates: HashMap<String, tokio::sync::oneshot::Receiver<()>>,
    in_flight: std::collections::HashSet<String>,
    read: mpsc::UnboundedSender<String>,
}

impl<S: Sink<WsOut> + Unpin + Send> Handler<S> for Overlapping {
    type Done = String;

    async fn on_text(&mut self, _: &mut Conn<S>, text: String) -> Result<Flow<String>, Gone> {
        let key = text.split(':').next().unwrap_or("").to_owned();
        if self.in_flight.contains(&key) {
            return Ok(Flow::Later(text));
        }
        self.read.send(text.clone()).map_err(|_| Gone)?;
        Ok(match self.gates.remove(&text) {
            Some(gate) => {
                self.in_flight.insert(key);
                Flow::Overlap(Box::pin(async move {
                    let _ = gate.await;
                    text
                }))
            }
            None => Flow::Continue,
        })
    }

    async fn on_done(&mut self, conn: &mut Conn<S>, done: String) -> Result<(), Gone> {
        self.in_flight.remove(done.split(':').next().unwrap_or(""));
        conn.send_raw(format!("done: {done}")).await
    }
}

#[tokio::test]
async fn overlapping_work_runs_side_by_side_and_a_keys_frames_stay_in_order() {
    let hub = hub().await;
    let (in_tx, mut stream) = inbound();
    let (sink, mut out) = outbound();
    let mut conn = Conn::new(hub.clone(), sink, ConnKind::Operator, "w".into(), None);
    let (open_a, gate_a) = tokio::sync::oneshot::channel();
    let (open_b, gate_b) = tokio::sync::oneshot::channel();
    let (read_tx, mut read) = mpsc::unbounded_channel();
    let mut handler = Overlapping {
        gates: HashMap::from([("a:1".to_owned(), gate_a), ("b:1".to_owned(), gate_b)]),
        in_flight: Default::default(),
        read: read_tx,
    };
    tokio::spawn(async move { run_loop(&mut conn, &mut stream, &mut handler).await });

    for frame in ["a:1", "b:1", "a:2", "c:1"] {
        in_tx.send(WsIn::Text(frame.into())).expect("send");
    }
    // "b:1" is read while "a:1" waits: the two are in flight together.
    assert_eq!(read.recv().await.as_deref(), Some("a:1"));
    assert_eq!(read.recv().await.as_deref(), Some("b:1"));
    // The one that finishes first is answered first.
    open_b.send(()).expect("gate");
    assert_eq!(out.recv().await, Some(WsOut::Text("done: b:1".into())));
    // "a:2" waits for "a:1", and "c:1" behind it: neither is read yet.
    assert!(read.try_recv().is_err());
    open_a.send(()).expect("gate");
    assert_eq!(out.recv().await, Some(WsOut::Text("done: a:1".into())));
    assert_eq!(read.recv().await.as_deref(), Some("a:2"));
    assert_eq!(read.recv().await.as_deref(), Some("c:1"));
}

#[tokio::test(start_paused = true)]
async fn no_hello_closes_with_handshake_timeout() {
    let (_tx, mut out) = widget_session(hub().await);
    match out.recv().await.expect("output") {
        WsOut::Close(code, _) => assert_eq!(code, CloseCode::HANDSHAKE_TIMEOUT.code),
        other => panic!("expected a close, got {other:?}"),
    }
}

/// A note stored while the bus was away (so never fanned out) reaches an operator who has the
/// conversation open when the node resyncs its clients.
#[tokio::test]
async fn a_resync_sends_the_notes_the_bus_may_have_lost() {
    let hub = hub().await;
    let (meta, _) = hub
        .visitor_sign_in("demo-pro", None, None, false)
        .await
        .expect("conversation");
    let (in_tx, stream) = inbound();
    let (sink, mut out) = outbound();
    tokio::spawn(operator::run(hub.clone(), sink, stream));
    let token = crate::dev::token_for(hub.operator_tokens(), "olivia", crate::util::now_secs(), 60)
        .expect("token");
    let send = |v: Value| in_tx.send(WsIn::Text(v.to_string())).expect("send");
    send(json!({"type": "hello", "protocol": 1, "token": token}));
    assert_eq!(text(&mut out).await["type"], "ready");
    send(json!({"type": "open", "conversation_id": meta.id}));
    assert_eq!(text(&mut out).await["type"], "history");
    // Stored, not published: as if its publication was lost with the bus.
    let note = crate::store::NewNote {
        author: crate::profile::operator_ref("eddie", "Eddie Editor", None),
        text: "written during the outage".into(),
        client_id: "n1".into(),
        attachments: Vec::new(),
    };
    hub.test_desk()
        .add_note("demo-pro", &meta.id, note, 1)
        .await
        .expect("note");
    hub.test_registry()
        .broadcast(&crate::registry::Outbound::Resync);
    // Bounded: without the catch-up no note ever comes.
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let f = text(&mut out).await;
            if f["type"] == "note" {
                break f;
            }
        }
    })
    .await
    .expect("the lost note after the resync");
    assert_eq!(got["note"]["text"], "written during the outage");
    assert_eq!(got["conversation_id"], meta.id.as_str());
}
