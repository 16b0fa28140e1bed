//! An operator's dashboard session: the Online list, opening conversations, takeover, release,
//! messages, typing.

use std::collections::{HashMap, HashSet};

use futures_util::{Sink, Stream};
use protocol::decode;
use protocol::{ErrorCode, ErrorFrame, OperatorFrame, OperatorRef, PROTOCOL_VERSION, ServerFrame};

use super::{
    Conn, Flow, Gone, Handler, RateKind, WsIn, WsOut, check_protocol, heartbeat_ms, read_hello,
    refuse, run_loop,
};
use crate::bus::Topic;
use crate::node::{Hub, Opened, OperatorSession, error_frame};
use crate::registry::{ConnKind, Presence};
use crate::store::ConversationMeta;

pub async fn run<S, R>(hub: Hub, mut sink: S, mut stream: R)
where
    S: Sink<WsOut> + Unpin + Send,
    R: Stream<Item = WsIn> + Unpin,
{
    let op = match read_hello(&hub, &mut sink, &mut stream, decode::operator_frame).await {
        None => return,
        Some(OperatorFrame::Hello { protocol, token }) => {
            match check_protocol(protocol).and_then(|()| hub.operator_sign_in(&token)) {
                Ok(op) => op,
                Err(e) => return refuse(&mut sink, e).await,
            }
        }
        Some(_) => return refuse(&mut sink, ErrorFrame::new(ErrorCode::HandshakeRequired)).await,
    };

    let (workspace_id, operator_id) = (op.workspace.id.clone(), op.claims.sub.clone());
    tracing::info!(workspace_id = %workspace_id, operator_id = %operator_id, "operator connected");
    let presence = Presence::Operator {
        ws: op.workspace.id.clone(),
        id: op.claims.sub.clone(),
    };
    let mut conn = Conn::new(
        hub.clone(),
        sink,
        ConnKind::Operator,
        workspace_id.clone(),
        Some(presence),
    );
    // Seen now, not at the next refresh: a holder who reconnects keeps their conversations;
    // and the team panel shows them online at once.
    hub.operator_presence(&op, 1).await;
    let who = op.clone();
    let ready = ServerFrame::Ready {
        protocol: PROTOCOL_VERSION,
        operator: op.identity(),
        workspace: op.workspace.clone(),
        heartbeat_ms: heartbeat_ms(&hub),
    };
    if conn.send(&ready).await.is_ok() {
        let mut handler = OperatorHandler {
            op: std::sync::Arc::new(op),
            held: HashMap::new(),
            in_flight: HashSet::new(),
        };
        run_loop(&mut conn, &mut stream, &mut handler).await;
    }
    if let Some(ws) = conn.online.take() {
        hub.unfollow_online(conn.rx.id, &ws).await;
    }
    hub.unregister(conn.rx.id).await;
    hub.operator_presence(&who, -1).await;
    hub.metrics().bump(&hub.metrics().sessions_closed, 1);
    tracing::info!(workspace_id = %workspace_id, operator_id = %operator_id, "operator disconnected");
}

/// Most conversations an operator session remembers holding (see `OperatorHandler::held`).
const HELD_LIMIT: usize = 256;

/// The visitor's earlier conversations a `history` lists.
const EARLIER_LIMIT: usize = 20;

/// Audit entries sent with `subscribe_team`; the full log is at `GET /api/audit`.
const AUDIT_SNAPSHOT: usize = 200;

/// An operator's socket after `hello`: what it holds and has in flight, and what it does with
/// each frame ([`Handler`]). `WidgetHandler` is the visitor's.
struct OperatorHandler {
    /// Shared with the waiting work of its messages.
    op: std::sync::Arc<OperatorSession>,
    /// Conversations this session saw its operator hold (by its own takeover or message), and
    /// how they appear there: a message to one skips the conversation read. Stale entries are
    /// harmless: the append's fence refuses a non-holder, and the refusal drops the entry.
    held: HashMap<String, OperatorRef>,
    /// Conversations with a takeover or release in flight ([`Flow::Overlap`]): a frame for one
    /// of them waits until it is done, so each conversation's frames take effect in order.
    in_flight: HashSet<String>,
}

/// The conversation a frame acts on, if any.
fn conversation_of(frame: &OperatorFrame) -> Option<&str> {
    match frame {
        OperatorFrame::Message {
            conversation_id, ..
        }
        | OperatorFrame::Open {
            conversation_id, ..
        }
        | OperatorFrame::Close { conversation_id }
        | OperatorFrame::Takeover { conversation_id }
        | OperatorFrame::Release {
            conversation_id, ..
        }
        | OperatorFrame::Transfer {
            conversation_id, ..
        }
        | OperatorFrame::Typing {
            conversation_id, ..
        }
        | OperatorFrame::Note {
            conversation_id, ..
        } => Some(conversation_id),
        OperatorFrame::Recent { .. }
        | OperatorFrame::Search { .. }
        | OperatorFrame::FollowUps {}
        | OperatorFrame::Colleagues {}
        | OperatorFrame::Suggest { .. } => None,
        OperatorFrame::Hello { .. }
        | OperatorFrame::SubscribeOnline { .. }
        | OperatorFrame::UnsubscribeOnline {}
        | OperatorFrame::SubscribeTeam {} => None,
    }
}

impl OperatorHandler {
    /// Remember (or forget) the holding `meta` shows.
    fn remember_holding(&mut self, conversation_id: &str, meta: &crate::store::ConversationMeta) {
        match self.op.holding(meta) {
            Some(me) if self.held.get(conversation_id) == Some(me) => {}
            Some(me) => {
                // Bounded: holdings that ended elsewhere (released by others, or idle) are only
                // forgotten at this session's next message there. Starting over costs one
                // conversation read per conversation.
                if self.held.len() >= HELD_LIMIT && !self.held.contains_key(conversation_id) {
                    self.held.clear();
                }
                self.held.insert(conversation_id.to_owned(), me.clone());
            }
            None => {
                self.held.remove(conversation_id);
            }
        }
    }
}

impl OperatorHandler {
    async fn handle<S>(
        &mut self,
        conn: &mut Conn<S>,
        frame: OperatorFrame,
    ) -> Result<Flow<Done>, Gone>
    where
        S: Sink<WsOut> + Unpin + Send,
    {
        let hub = conn.hub.clone();
        let answered = match frame {
            OperatorFrame::Message {
                conversation_id,
                client_id,
                text,
                attachments,
            } => {
                return self
                    .message(conn, conversation_id, client_id, text, attachments)
                    .await;
            }
            OperatorFrame::Hello { .. } => {
                conn.send_error(ErrorFrame::new(ErrorCode::AlreadyHandshaken))
                    .await
            }
            OperatorFrame::SubscribeOnline {
                filter,
                order,
                offset,
                limit,
                query,
            } => {
                let request = crate::online::Request {
                    filter,
                    order,
                    offset,
                    limit,
                    query,
                };
                conn.online = Some(self.op.workspace.id.clone());
                // The view's frames come through the connection's queue, like the list's
                // later changes.
                match hub.follow_online(conn.rx.id, &self.op, request).await {
                    Ok(()) => Ok(()),
                    Err(e) => conn.send_error(error_frame(&e, "")).await,
                }
            }
            OperatorFrame::SubscribeTeam {} => self.subscribe_team(conn).await,
            OperatorFrame::UnsubscribeOnline {} => {
                if let Some(ws) = conn.online.take() {
                    hub.unfollow_online(conn.rx.id, &ws).await;
                }
                Ok(())
            }
            OperatorFrame::Open {
                conversation_id,
                after_seq,
            } => {
                self.open(conn, conversation_id, after_seq.unwrap_or(0))
                    .await
            }
            OperatorFrame::Close { conversation_id } => {
                conn.cursors.remove(&conversation_id);
                hub.unsubscribe(
                    conn.rx.id,
                    Topic::conversation(&self.op.workspace.id, conversation_id),
                )
                .await;
                Ok(())
            }
            // Side by side with the session's other takeovers and releases (see `Flow::Overlap`).
            OperatorFrame::Takeover { conversation_id } => {
                self.in_flight.insert(conversation_id.clone());
                let op = self.op.clone();
                return Ok(Flow::Overlap(Box::pin(async move {
                    let result = hub.takeover(&op, &conversation_id).await;
                    Done::Control {
                        conversation_id,
                        result,
                    }
                })));
            }
            OperatorFrame::Release {
                conversation_id,
                force,
                epoch,
            } => {
                self.in_flight.insert(conversation_id.clone());
                let op = self.op.clone();
                return Ok(Flow::Overlap(Box::pin(async move {
                    let result = hub.release(&op, &conversation_id, force, epoch).await;
                    Done::Control {
                        conversation_id,
                        result,
                    }
                })));
            }
            OperatorFrame::Transfer {
                conversation_id,
                to,
                epoch,
                note,
            } => {
                self.in_flight.insert(conversation_id.clone());
                let op = self.op.clone();
                return Ok(Flow::Overlap(Box::pin(async move {
                    let result = hub
                        .transfer(&op, &conversation_id, &to, epoch, note.as_deref())
                        .await;
                    Done::Control {
                        conversation_id,
                        result,
                    }
                })));
            }
            // The assistant may think for seconds: the session goes on meanwhile, and the
            // answer goes to this connection alone.
            OperatorFrame::Suggest { conversation_id } => {
                if !conn
                    .allow(RateKind::Message, &conversation_id, None)
                    .await?
                {
                    return Ok(Flow::Continue);
                }
                let op = self.op.clone();
                return Ok(Flow::Overlap(Box::pin(async move {
                    let answer = hub.suggest(&op, &conversation_id).await;
                    Done::Answer(answer.map(|text| ServerFrame::Suggestion {
                        conversation_id,
                        text,
                    }))
                })));
            }
            OperatorFrame::Colleagues {} => match hub.colleagues(&self.op.workspace.id).await {
                Ok(operators) => conn.send(&ServerFrame::Colleagues { operators }).await,
                Err(e) => conn.send_error(error_frame(&e, "")).await,
            },
            OperatorFrame::Typing {
                conversation_id,
                active,
            } => self.typing(conn, conversation_id, active).await,
            OperatorFrame::Note {
                conversation_id,
                client_id,
                text,
                attachments,
            } => {
                if !conn
                    .allow(RateKind::Message, &conversation_id, Some(&client_id))
                    .await?
                {
                    return Ok(Flow::Continue);
                }
                // The author gets the note like every other operator with the conversation
                // open, from the fan-out; a re-sent one (published once, before) or one for
                // a conversation this session has not opened is answered here.
                match hub
                    .add_note(
                        &self.op,
                        &conversation_id,
                        client_id.clone(),
                        text,
                        attachments,
                    )
                    .await
                {
                    Ok((note, duplicate))
                        if duplicate || !conn.cursors.contains_key(&conversation_id) =>
                    {
                        conn.send(&ServerFrame::Note {
                            conversation_id,
                            note,
                        })
                        .await
                    }
                    Ok(_) => Ok(()),
                    Err(e) => conn.send_error(e).await,
                }
            }
            OperatorFrame::FollowUps {} => match hub.follow_ups(&self.op).await {
                Ok(conversations) => conn.send(&ServerFrame::FollowUps { conversations }).await,
                Err(e) => conn.send_error(e).await,
            },
            OperatorFrame::Recent { cursor } => {
                match hub.recent_page(&self.op, cursor.as_deref()).await {
                    Ok(page) => {
                        conn.send(&ServerFrame::Recent {
                            cursor,
                            conversations: page.conversations,
                            next_cursor: page.next_cursor,
                        })
                        .await
                    }
                    Err(e) => conn.send_error(e).await,
                }
            }
            OperatorFrame::Search { query } => {
                // A search reads more than a message writes: it shares the message budget.
                if !conn.allow(RateKind::Message, "", None).await? {
                    return Ok(Flow::Continue);
                }
                match hub.search(&self.op, &query).await {
                    Ok(conversations) => {
                        conn.send(&ServerFrame::SearchResults {
                            query,
                            conversations,
                        })
                        .await
                    }
                    Err(e) => conn.send_error(e).await,
                }
            }
        };
        answered.map(|()| Flow::Continue)
    }

    async fn subscribe_team<S>(&mut self, conn: &mut Conn<S>) -> Result<(), Gone>
    where
        S: Sink<WsOut> + Unpin + Send,
    {
        if !self.op.claims.role.may_force_release() {
            return conn
                .send_error(ErrorFrame::with_message(
                    ErrorCode::RoleRequired,
                    "only owners and editors can follow the team and the audit log",
                ))
                .await;
        }
        let hub = conn.hub.clone();
        let ws = self.op.workspace.id.clone();
        hub.subscribe(conn.rx.id, Topic::Team(ws.clone())).await;
        conn.send_team_snapshot(&ws).await?;
        match hub.audit_log(&ws, AUDIT_SNAPSHOT).await {
            Ok(entries) => conn.send(&ServerFrame::AuditSnapshot { entries }).await,
            Err(e) => conn.send_error(error_frame(&e, "")).await,
        }
    }

    async fn typing<S>(
        &mut self,
        conn: &mut Conn<S>,
        conversation_id: String,
        active: bool,
    ) -> Result<(), Gone>
    where
        S: Sink<WsOut> + Unpin + Send,
    {
        if !conn.allow(RateKind::Typing, &conversation_id, None).await? {
            return Ok(());
        }
        let hub = conn.hub.clone();
        // Typing into a conversation of another workspace must not reach it.
        let meta = match hub.conversation_for(&self.op, &conversation_id).await {
            Ok(meta) => meta,
            Err(e) => return conn.send_error(e).await,
        };
        hub.typing(
            &self.op.workspace.id,
            &conversation_id,
            self.op.author_in(&meta),
            active,
        )
        .await;
        Ok(())
    }

    /// A message: the rate check now, the append as waiting work (see [`Flow::Wait`]).
    async fn message<S>(
        &mut self,
        conn: &mut Conn<S>,
        conversation_id: String,
        client_id: String,
        text: String,
        attachments: Option<Box<Vec<String>>>,
    ) -> Result<Flow<Done>, Gone>
    where
        S: Sink<WsOut> + Unpin + Send,
    {
        if !conn
            .allow(RateKind::Message, &conversation_id, Some(&client_id))
            .await?
        {
            return Ok(Flow::Continue);
        }
        let (hub, op) = (conn.hub.clone(), self.op.clone());
        let held = self.held.get(&conversation_id).cloned();
        Ok(Flow::Wait(Box::pin(async move {
            let result = hub
                .operator_message(
                    &op,
                    &conversation_id,
                    client_id.clone(),
                    text,
                    attachments,
                    held.as_ref(),
                )
                .await;
            Done::Message(Sent {
                conversation_id,
                client_id,
                result,
            })
        })))
    }

    async fn open<S>(
        &mut self,
        conn: &mut Conn<S>,
        conversation_id: String,
        after: u64,
    ) -> Result<(), Gone>
    where
        S: Sink<WsOut> + Unpin + Send,
    {
        let hub = conn.hub.clone();
        let ws = &self.op.workspace.id;
        // Subscribe before reading history: whatever happens in between arrives twice and the
        // cursor drops the second copy, rather than being missed. No read first: both reads
        // are under the operator's workspace, where another workspace's id is not found (and
        // its topic, named with this workspace, carries nothing of the other's).
        let topic = Topic::conversation(ws, &conversation_id);
        hub.subscribe(conn.rx.id, topic.clone()).await;
        let Opened {
            events,
            meta,
            notes,
            context,
            earlier,
            brief,
            follow_up,
        } = match hub.open(ws, &conversation_id, after, EARLIER_LIMIT).await {
            Ok(opened) => opened,
            Err(e) => {
                hub.unsubscribe(conn.rx.id, topic).await;
                return conn.send_error(error_frame(&e, &conversation_id)).await;
            }
        };
        let earlier = earlier.iter().map(ConversationMeta::summary).collect();
        let last = events.last().map_or(after.min(meta.last_seq), |e| e.seq);
        conn.cursors.insert(conversation_id.clone(), last);
        conn.send(&ServerFrame::History {
            conversation_id: conversation_id.clone(),
            events,
            control: meta.control.clone(),
            last_seq: last,
            visitor_online: meta.visitor_connections > 0,
            needs_human: meta.needs_human,
            notes,
            context: context.map(Box::new),
            earlier,
            brief: brief.map(Box::new),
            follow_up: follow_up.map(Box::new),
        })
        .await?;
        conn.send_draft(&conversation_id, meta.control.epoch).await
    }
}

/// The answer to `takeover` and `release`: the new control state, or why not.
async fn answer_control<S>(
    conn: &mut Conn<S>,
    conversation_id: String,
    result: Result<crate::store::ConversationMeta, ErrorFrame>,
) -> Result<(), Gone>
where
    S: Sink<WsOut> + Unpin + Send,
{
    match result {
        Ok(meta) => {
            conn.send(&ServerFrame::Control {
                conversation_id,
                control: meta.control,
            })
            .await
        }
        Err(e) => conn.send_error(e).await,
    }
}

/// An operator message's outcome.
struct Sent {
    conversation_id: String,
    client_id: String,
    result: Result<crate::store::Appended, ErrorFrame>,
}

/// What a frame's waiting work hands back.
enum Done {
    Message(Sent),
    /// A frame for this connection alone (a suggestion), or why not.
    Answer(Result<ServerFrame, ErrorFrame>),
    /// A takeover's or release's new control state, or why not.
    Control {
        conversation_id: String,
        result: Result<crate::store::ConversationMeta, ErrorFrame>,
    },
}

impl<S> Handler<S> for OperatorHandler
where
    S: Sink<WsOut> + Unpin + Send,
{
    type Done = Done;

    async fn on_text(&mut self, conn: &mut Conn<S>, text: String) -> Result<Flow<Done>, Gone> {
        let limits = conn.hub.config().decode_limits();
        match decode::operator_frame(&text, &limits) {
            Ok(frame) => {
                if conversation_of(&frame).is_some_and(|c| self.in_flight.contains(c)) {
                    return Ok(Flow::Later(text));
                }
                self.handle(conn, frame).await
            }
            Err(e) => conn
                .send_error(ErrorFrame::from(e))
                .await
                .map(|()| Flow::Continue),
        }
    }

    async fn on_done(&mut self, conn: &mut Conn<S>, done: Done) -> Result<(), Gone> {
        let sent = match done {
            Done::Message(sent) => sent,
            Done::Answer(Ok(frame)) => return conn.send(&frame).await,
            Done::Answer(Err(e)) => return conn.send_error(e).await,
            Done::Control {
                conversation_id,
                result,
            } => {
                self.in_flight.remove(&conversation_id);
                match &result {
                    Ok(meta) => self.remember_holding(&conversation_id, meta),
                    Err(_) => {
                        self.held.remove(&conversation_id);
                    }
                }
                return answer_control(conn, conversation_id, result).await;
            }
        };
        let Sent {
            conversation_id,
            client_id,
            result,
        } = sent;
        match result {
            Ok(a) => {
                self.remember_holding(&conversation_id, &a.meta);
                conn.send(&ServerFrame::Ack {
                    conversation_id,
                    client_id,
                    seq: a.event.seq,
                })
                .await
            }
            Err(e) => {
                self.held.remove(&conversation_id);
                conn.send_error(e).await
            }
        }
    }
}
