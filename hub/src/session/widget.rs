//! A visitor's widget session: `hello` (new or resumed conversation), messages, typing.

use futures_util::{Sink, Stream};
use protocol::decode;
use protocol::{
    Author, ErrorCode, ErrorFrame, PROTOCOL_VERSION, ServerFrame, VisitorContext, WidgetFrame,
};

use super::{
    Conn, Flow, Gone, Handler, RateKind, WsIn, WsOut, check_protocol, heartbeat_ms, read_hello,
    refuse, run_loop,
};
use crate::bus::Topic;
use crate::node::{Hub, error_frame};
use crate::registry::{ConnKind, Presence};

/// `origin`: the `Origin` header of the upgrade request, checked against the workspace's
/// allowed origins.
pub async fn run<S, R>(hub: Hub, mut sink: S, mut stream: R, origin: Option<String>)
where
    S: Sink<WsOut> + Unpin + Send,
    R: Stream<Item = WsIn> + Unpin,
{
    let (workspace_id, token, last_seq, context, fresh) = match Box::pin(read_hello(
        &hub,
        &mut sink,
        &mut stream,
        decode::widget_frame,
    ))
    .await
    {
        None => return,
        Some(WidgetFrame::Hello {
            protocol,
            workspace_id,
            visitor_token,
            last_seq,
            context,
            new_conversation,
        }) => {
            if let Err(e) = check_protocol(protocol) {
                return Box::pin(refuse(&mut sink, e)).await;
            }
            let context = context.map(|c| c.bounded()).unwrap_or_default();
            let last_seq = if new_conversation {
                0
            } else {
                last_seq.unwrap_or(0)
            };
            (
                workspace_id,
                visitor_token,
                last_seq,
                context,
                new_conversation,
            )
        }
        Some(_) => {
            return Box::pin(refuse(
                &mut sink,
                ErrorFrame::new(ErrorCode::HandshakeRequired),
            ))
            .await;
        }
    };
    let (meta, token) = match Box::pin(hub.visitor_sign_in(
        &workspace_id,
        token.as_deref(),
        origin.as_deref(),
        fresh,
    ))
    .await
    {
        Ok(ok) => ok,
        Err(e) => return Box::pin(refuse(&mut sink, e)).await,
    };

    let conversation_id = meta.id.clone();
    let presence = Presence::Visitor {
        ws: meta.workspace_id.clone(),
        id: conversation_id.clone(),
    };
    let mut conn = Conn::new(
        hub.clone(),
        sink,
        ConnKind::Widget,
        meta.workspace_id.clone(),
        Some(presence),
    );
    // Subscribe before reading history: whatever happens in between arrives twice and the
    // cursor drops the second copy, rather than being missed.
    let topic = Topic::conversation(&meta.workspace_id, &conversation_id);
    Box::pin(hub.subscribe(conn.rx.id, topic)).await;
    Box::pin(hub.visitor_presence(&meta.workspace_id, &conversation_id, 1)).await;
    tracing::info!(workspace_id = %meta.workspace_id, conversation_id, "visitor connected");
    let context = (context != VisitorContext::default()).then(|| Box::new(context));
    if let Some(context) = &context {
        let reported = VisitorContext::clone(context);
        Box::pin(hub.visitor_context(&meta.workspace_id, &conversation_id, reported)).await;
    }
    let mut handler = WidgetHandler {
        conversation_id: conversation_id.clone(),
        workspace_id: meta.workspace_id.clone(),
        context,
    };
    let started = Box::pin(handler.start(&mut conn, &meta, token, last_seq)).await;
    drop(meta);
    if started.is_ok() {
        run_loop(&mut conn, &mut stream, &mut handler).await;
    }
    Box::pin(hub.unregister(conn.rx.id)).await;
    Box::pin(hub.visitor_presence(&handler.workspace_id, &conversation_id, -1)).await;
    hub.metrics().bump(&hub.metrics().sessions_closed, 1);
    tracing::info!(conversation_id, "visitor disconnected");
}

/// A visitor's socket after `hello`: its conversation, and what it does with each frame
/// ([`Handler`]). `OperatorHandler` is the dashboard's.
struct WidgetHandler {
    conversation_id: String,
    workspace_id: String,
    /// Where the visitor is: from `hello`, then each `page`. Boxed: an idle widget that
    /// reported nothing costs its session a pointer, not five empty strings' room.
    context: Option<Box<VisitorContext>>,
}

impl WidgetHandler {
    async fn start<S>(
        &mut self,
        conn: &mut Conn<S>,
        meta: &crate::store::ConversationMeta,
        token: String,
        last_seq: u64,
    ) -> Result<(), Gone>
    where
        S: Sink<WsOut> + Unpin + Send,
    {
        conn.send(&ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            conversation_id: meta.id.clone(),
            visitor_token: token,
            visitor_label: meta.visitor_label.clone(),
            control: meta.control.for_visitor(),
            heartbeat_ms: heartbeat_ms(&conn.hub),
            away: Box::new(conn.hub.away_text(&meta.workspace_id)),
        })
        .await?;
        let (events, current) = match conn
            .hub
            .resume(&meta.workspace_id, &meta.id, last_seq)
            .await
        {
            Ok(Some(read)) => read,
            Ok(None) => return Ok(()),
            Err(e) => return conn.send_error(error_frame(&e, &meta.id)).await,
        };
        let last = events
            .last()
            .map_or(last_seq.min(current.last_seq), |e| e.seq);
        conn.cursors.insert(meta.id.clone(), last);
        conn.send(&ServerFrame::History {
            conversation_id: meta.id.clone(),
            events: events.iter().map(|e| e.for_visitor()).collect(),
            control: current.control.for_visitor(),
            last_seq: last,
            visitor_online: true,
            needs_human: current.needs_human,
            // The desk's fields are the team's: never sent to a widget.
            notes: Vec::new(),
            context: None,
            earlier: Vec::new(),
            brief: None,
            follow_up: None,
        })
        .await?;
        conn.send_draft(&meta.id, current.control.epoch).await
    }
}

/// A visitor message's outcome: its client id, and the stored event or why not.
type Sent = (String, Result<crate::store::Appended, ErrorFrame>);

impl<S> Handler<S> for WidgetHandler
where
    S: Sink<WsOut> + Unpin + Send,
{
    type Done = Sent;

    async fn on_done(&mut self, conn: &mut Conn<S>, (client_id, sent): Sent) -> Result<(), Gone> {
        match sent {
            Ok(a) => {
                conn.send(&ServerFrame::Ack {
                    conversation_id: self.conversation_id.clone(),
                    client_id,
                    seq: a.event.seq,
                })
                .await
            }
            Err(e) => conn.send_error(e).await,
        }
    }

    async fn on_text(&mut self, conn: &mut Conn<S>, text: String) -> Result<Flow<Sent>, Gone> {
        let limits = conn.hub.config().decode_limits();
        let frame = match decode::widget_frame(&text, &limits) {
            Ok(f) => f,
            Err(e) => {
                conn.send_error(ErrorFrame::from(e)).await?;
                return Ok(Flow::Continue);
            }
        };
        match frame {
            WidgetFrame::Hello { .. } => {
                conn.send_error(ErrorFrame::new(ErrorCode::AlreadyHandshaken))
                    .await?;
            }
            WidgetFrame::Message {
                client_id,
                text,
                attachments,
            } => {
                if !conn
                    .allow(RateKind::Message, &self.conversation_id, Some(&client_id))
                    .await?
                {
                    return Ok(Flow::Continue);
                }
                let hub = conn.hub.clone();
                // The workspace's share of this node, whichever connections the flood uses.
                if let Err(wait) = hub.take_workspace_message(&self.workspace_id) {
                    conn.send_error(super::rate_limited(
                        "this site's chat is receiving too many messages; retry shortly",
                        wait,
                        &self.conversation_id,
                        Some(&client_id),
                    ))
                    .await?;
                    return Ok(Flow::Continue);
                }
                let (ws, conversation_id) =
                    (self.workspace_id.clone(), self.conversation_id.clone());
                return Ok(Flow::Wait(Box::pin(async move {
                    let sent = hub
                        .visitor_message(
                            &ws,
                            &conversation_id,
                            client_id.clone(),
                            text,
                            attachments,
                        )
                        .await;
                    (client_id, sent)
                })));
            }
            WidgetFrame::Page { url, title } => {
                if !conn
                    .allow(RateKind::Typing, &self.conversation_id, None)
                    .await?
                {
                    return Ok(Flow::Continue);
                }
                let mut next = self.context.as_deref().cloned().unwrap_or_default();
                next.url = Some(url);
                next.title = title;
                let next = next.bounded();
                if self.context.as_deref() != Some(&next) {
                    self.context = Some(Box::new(next.clone()));
                    // Boxed: awaited inline, its future would enlarge every widget's task,
                    // idle ones included, by its size.
                    let hub = conn.hub.clone();
                    Box::pin(hub.visitor_context(&self.workspace_id, &self.conversation_id, next))
                        .await;
                }
            }
            WidgetFrame::Typing { active } => {
                if !conn
                    .allow(RateKind::Typing, &self.conversation_id, None)
                    .await?
                {
                    return Ok(Flow::Continue);
                }
                conn.hub
                    .typing(
                        &self.workspace_id,
                        &self.conversation_id,
                        Author::Visitor,
                        active,
                    )
                    .await;
            }
            WidgetFrame::RequestHuman {} => {
                // Counted as a message: a button someone can click in a loop.
                if !conn
                    .allow(RateKind::Message, &self.conversation_id, None)
                    .await?
                {
                    return Ok(Flow::Continue);
                }
                let hub = conn.hub.clone();
                if let Err(e) = hub
                    .request_human(&self.workspace_id, &self.conversation_id)
                    .await
                {
                    conn.send_error(e).await?;
                }
            }
            WidgetFrame::FollowUpEmail { email } => {
                if !conn
                    .allow(RateKind::Message, &self.conversation_id, None)
                    .await?
                {
                    return Ok(Flow::Continue);
                }
                let hub = conn.hub.clone();
                if let Err(e) = hub
                    .follow_up_email(&self.workspace_id, &self.conversation_id, email.trim())
                    .await
                {
                    conn.send_error(e).await?;
                }
            }
        }
        Ok(Flow::Continue)
    }
}
