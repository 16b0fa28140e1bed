//! A participant of one conversation that behaves like the real widget and dashboard: it keeps
//! the highest `seq` it has, queues its messages (with client ids) until they are acknowledged,
//! and when its socket dies it reconnects through nginx with backoff, resumes after its last
//! `seq` (`hello` with `visitor_token` and `last_seq`, or `open` with `after_seq`) and re-sends
//! every unacknowledged message with the same client id.
//!
//! It records everything it saw, so a test can check the view for gaps and duplicates.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use protocol::PROTOCOL_VERSION;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::client::{Client, Incoming};
use crate::{WAIT, WORKSPACE};

/// Resolves at `at`, or never.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Who the participant is.
#[derive(Debug, Clone)]
pub enum Role {
    /// The visitor's widget, with its token.
    Visitor { token: String },
    /// An operator's dashboard, with its JWT.
    Operator { token: String },
}

/// What a participant saw and did, for the test's checks.
#[derive(Debug, Default, Clone)]
pub struct View {
    pub name: String,
    /// Every event `seq` received, in arrival order (history replays included).
    pub seqs: Vec<u64>,
    /// The events by `seq` (the last copy when one came twice).
    pub events: BTreeMap<u64, Value>,
    /// Own messages: client id → the seq of its ack.
    pub acked: BTreeMap<String, u64>,
    /// Own messages sent (client ids in order).
    pub sent: Vec<String>,
    /// How many times it re-sent a message after a reconnect.
    pub resent: usize,
    /// Messages refused as `retryable` (store unavailable) and sent again.
    pub retried: usize,
    pub reconnects: usize,
    /// For each reconnect: how long it was without a socket, from losing one to the next
    /// handshake done (history received).
    pub offline: Vec<Duration>,
    /// For each own message: from its first send to its `ack` (re-sends included), with when
    /// it was sent.
    pub ack_latency: Vec<(std::time::Instant, Duration)>,
    /// The nodes it was served by, in order.
    pub nodes: Vec<SocketAddr>,
}

impl View {
    /// Seqs received more than once.
    pub fn duplicates(&self) -> usize {
        self.seqs.len() - self.seqs.iter().collect::<BTreeSet<_>>().len()
    }

    /// Seqs of `1..=last` never received.
    pub fn missing(&self, last: u64) -> Vec<u64> {
        let have: BTreeSet<u64> = self.seqs.iter().copied().collect();
        (1..=last).filter(|s| !have.contains(s)).collect()
    }

    /// Whether the seqs arrived in strictly increasing order.
    pub fn in_order(&self) -> bool {
        self.seqs.windows(2).all(|w| w[0] < w[1])
    }

    /// Client ids of messages (from anyone) seen, with how often each was seen.
    pub fn client_ids_seen(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for s in &self.seqs {
            if let Some(id) = self.events[s]["client_id"].as_str() {
                *out.entry(id.to_owned()).or_insert(0) += 1;
            }
        }
        out
    }
}

/// A participant task's settings.
#[derive(Debug, Clone)]
pub struct Participant {
    pub name: String,
    pub role: Role,
    pub conversation_id: String,
    /// Where it reconnects: nginx.
    pub lb: SocketAddr,
    /// How many messages it sends, one every `interval`.
    pub messages: usize,
    pub interval: Duration,
}

/// What the task reports while it runs.
#[derive(Debug)]
pub enum Progress {
    /// This many of its messages are acknowledged so far.
    Acked(String, usize),
}

impl Participant {
    /// Run on `client` (already past its handshake and, for an operator, `open` of the
    /// conversation; `initial` holds the events of that first history) until every message is
    /// acknowledged and `target` says the conversation's last seq, and it has seen that far.
    pub async fn run(
        self,
        client: Client,
        initial: Vec<Value>,
        progress: mpsc::UnboundedSender<Progress>,
        mut target: watch::Receiver<Option<u64>>,
    ) -> View {
        let mut view = View {
            name: self.name.clone(),
            ..View::default()
        };
        view.nodes.push(client.node);
        for e in initial {
            record(&mut view, e);
        }
        let mut client = Some(client);
        let mut unacked: Vec<(String, String)> = Vec::new();
        let mut tick = tokio::time::interval(self.interval);
        let mut backoff = Duration::from_millis(50);
        let mut failures = 0;
        let mut retry_at: Option<tokio::time::Instant> = None;
        let mut lost_at = tokio::time::Instant::now();
        let mut sent_at: BTreeMap<String, std::time::Instant> = BTreeMap::new();
        loop {
            let last_seen = view.seqs.iter().copied().max().unwrap_or(0);
            let done = unacked.is_empty() && view.sent.len() == self.messages;
            if done && target.borrow().is_some_and(|last| last_seen >= last) {
                break;
            }
            let Some(c) = client.as_mut() else {
                // Reconnect through nginx, as a browser would: backoff, then resume.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                match self.resume(&mut view, last_seen).await {
                    Ok(mut c) => {
                        view.reconnects += 1;
                        view.offline.push(lost_at.elapsed());
                        view.nodes.push(c.node);
                        backoff = Duration::from_millis(50);
                        let mut ok = true;
                        for (id, text) in &unacked {
                            view.resent += 1;
                            if c.try_send(&self.message(id, text)).await.is_err() {
                                ok = false;
                                break;
                            }
                        }
                        if ok {
                            client = Some(c);
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        assert!(failures < 40, "{}: cannot reconnect: {e}", self.name);
                    }
                }
                continue;
            };
            tokio::select! {
                incoming = c.recv() => match incoming {
                    Incoming::Frame(f) => match f["type"].as_str() {
                        Some("event") => record(&mut view, f["event"].clone()),
                        Some("history") => {
                            for e in f["events"].as_array().into_iter().flatten() {
                                record(&mut view, e.clone());
                            }
                        }
                        Some("ack") => {
                            backoff = Duration::from_millis(50);
                            let id = f["client_id"].as_str().expect("client_id").to_owned();
                            unacked.retain(|(u, _)| *u != id);
                            if let Some(at) = sent_at.remove(&id) {
                                view.ack_latency.push((at, at.elapsed()));
                            }
                            let seq = f["seq"].as_u64().expect("seq");
                            if let Some(old) = view.acked.insert(id.clone(), seq) {
                                assert_eq!(old, seq, "{}: {id} acked twice with different seqs", self.name);
                            }
                            let _ = progress.send(Progress::Acked(self.name.clone(), view.acked.len()));
                        }
                        // The store is briefly unavailable (Redis restarting): the protocol says
                        // retry the same frame later; the client id makes that safe.
                        Some("error") if f["retryable"] == true && f["client_id"].is_string() => {
                            view.retried += 1;
                            retry_at = Some(tokio::time::Instant::now() + backoff);
                            backoff = (backoff * 2).min(Duration::from_secs(1));
                        }
                        Some("error") => panic!("{}: {f}", self.name),
                        _ => {}
                    },
                    Incoming::Closed(_) => {
                        client = None;
                        lost_at = tokio::time::Instant::now();
                    }
                },
                _ = tick.tick(), if view.sent.len() < self.messages => {
                    let id = format!("{}-{}", self.name, view.sent.len() + 1);
                    let text = format!("message {} from {}", view.sent.len() + 1, self.name);
                    view.sent.push(id.clone());
                    sent_at.insert(id.clone(), std::time::Instant::now());
                    unacked.push((id.clone(), text.clone()));
                    if c.try_send(&self.message(&id, &text)).await.is_err() {
                        client = None;
                        lost_at = tokio::time::Instant::now();
                    }
                }
                () = sleep_until(retry_at), if retry_at.is_some() => {
                    retry_at = None;
                    for (id, text) in &unacked {
                        view.resent += 1;
                        if c.try_send(&self.message(id, text)).await.is_err() {
                            client = None;
                            lost_at = tokio::time::Instant::now();
                            break;
                        }
                    }
                }
                _ = target.changed() => {}
            }
        }
        view
    }

    fn message(&self, client_id: &str, text: &str) -> Value {
        match self.role {
            Role::Visitor { .. } => {
                json!({"type": "message", "client_id": client_id, "text": text})
            }
            Role::Operator { .. } => json!({
                "type": "message", "conversation_id": self.conversation_id,
                "client_id": client_id, "text": text,
            }),
        }
    }

    /// A new socket through nginx, past the handshake, with the missed events recorded.
    async fn resume(&self, view: &mut View, last_seen: u64) -> Result<Client, String> {
        let mut c = Client::try_connect(
            self.lb,
            match self.role {
                Role::Visitor { .. } => "/ws/widget",
                Role::Operator { .. } => "/ws/operator",
            },
        )
        .await?;
        let hello = match &self.role {
            Role::Visitor { token } => json!({
                "type": "hello", "protocol": PROTOCOL_VERSION, "workspace_id": WORKSPACE,
                "visitor_token": token, "last_seq": last_seen,
            }),
            Role::Operator { token } => {
                json!({"type": "hello", "protocol": PROTOCOL_VERSION, "token": token})
            }
        };
        c.try_send(&hello).await?;
        let first = next(&mut c).await?;
        match &self.role {
            Role::Visitor { .. } => {
                if first["type"] != "welcome" || first["conversation_id"] != self.conversation_id {
                    return Err(format!("unexpected {first}"));
                }
            }
            Role::Operator { .. } => {
                if first["type"] != "ready" {
                    return Err(format!("unexpected {first}"));
                }
                c.try_send(&json!({
                    "type": "open", "conversation_id": self.conversation_id, "after_seq": last_seen,
                }))
                .await?;
            }
        }
        loop {
            let f = next(&mut c).await?;
            // The store is away (`unavailable`, retryable): try again after the backoff, as the
            // dashboard does, rather than wait for a history that is not coming.
            if f["type"] == "error" && f["retryable"] == true {
                return Err(format!("refused during resume: {f}"));
            }
            if f["type"] == "history" {
                for e in f["events"].as_array().into_iter().flatten() {
                    record(view, e.clone());
                }
                return Ok(c);
            }
        }
    }
}

async fn next(c: &mut Client) -> Result<Value, String> {
    match tokio::time::timeout(WAIT, c.recv()).await {
        Ok(Incoming::Frame(f)) => Ok(f),
        Ok(Incoming::Closed(code)) => Err(format!("closed during resume: {code:?}")),
        Err(_) => Err("no frame during resume".into()),
    }
}

fn record(view: &mut View, event: Value) {
    let seq = event["seq"].as_u64().expect("event seq");
    view.seqs.push(seq);
    view.events.insert(seq, event);
}

/// Several participants of one conversation running at once, and the test's handle on them.
#[derive(Debug)]
pub struct Flow {
    conversation_id: String,
    lb: SocketAddr,
    expected: BTreeMap<String, usize>,
    acked: BTreeMap<String, usize>,
    progress: mpsc::UnboundedReceiver<Progress>,
    target: watch::Sender<Option<u64>>,
    tasks: Vec<tokio::task::JoinHandle<View>>,
}

impl Flow {
    /// The common shape of the fault tests: a visitor and the operator holding their
    /// conversation, both through nginx at `lb` but on different nodes, each sending `messages`
    /// every `interval`. Returns the running flow and the two nodes.
    pub async fn visitor_and_operator_apart(
        lb: SocketAddr,
        operator_id: &str,
        messages: usize,
        interval: Duration,
    ) -> (Flow, SocketAddr, SocketAddr) {
        let visitor = crate::Visitor::connect(lb, None, None).await;
        let cid = visitor.conversation_id.clone();
        let token = crate::operator_token(operator_id);
        let mut operator = Client::operator(lb, &token).await;
        while operator.node == visitor.client.node {
            operator.close().await;
            operator = Client::operator(lb, &token).await;
        }
        let control = operator.takeover(&cid).await;
        assert_eq!(control["type"], "control", "{control}");
        let operator_history = operator.open(&cid).await;
        let (visitor_node, operator_node) = (visitor.client.node, operator.node);
        let events = |h: &Value| h["events"].as_array().cloned().unwrap_or_default();
        let participant = |name: &str, role| Participant {
            name: name.into(),
            role,
            conversation_id: cid.clone(),
            lb,
            messages,
            interval,
        };
        let flow = Flow::start(vec![
            (
                participant(
                    "visitor",
                    Role::Visitor {
                        token: visitor.token.clone(),
                    },
                ),
                visitor.client,
                events(&visitor.history),
            ),
            (
                participant("martin", Role::Operator { token }),
                operator,
                events(&operator_history),
            ),
        ]);
        (flow, visitor_node, operator_node)
    }

    /// Start each participant on its connected client with the events its history held.
    pub fn start(list: Vec<(Participant, Client, Vec<Value>)>) -> Flow {
        let (ptx, progress) = mpsc::unbounded_channel();
        let (target, trx) = watch::channel(None);
        let first = &list.first().expect("participants").0;
        let (conversation_id, lb) = (first.conversation_id.clone(), first.lb);
        let mut expected = BTreeMap::new();
        let mut tasks = Vec::new();
        for (p, c, initial) in list {
            expected.insert(p.name.clone(), p.messages);
            tasks.push(tokio::spawn(p.run(c, initial, ptx.clone(), trx.clone())));
        }
        Flow {
            conversation_id,
            lb,
            acked: expected.keys().map(|k| (k.clone(), 0)).collect(),
            expected,
            progress,
            target,
            tasks,
        }
    }

    /// The conversation the participants are in.
    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    /// The acknowledged counts by participant, as last reported.
    pub fn acked(&self) -> &BTreeMap<String, usize> {
        &self.acked
    }

    /// Wait until `pred` holds of the acknowledged counts by participant (bounded).
    pub async fn until_acked(&mut self, pred: impl Fn(&BTreeMap<String, usize>) -> bool) {
        let deadline = tokio::time::Instant::now() + 6 * WAIT;
        while !pred(&self.acked) {
            match tokio::time::timeout_at(deadline, self.progress.recv()).await {
                Ok(Some(Progress::Acked(name, n))) => {
                    self.acked.insert(name, n);
                }
                Ok(None) => panic!("every participant stopped"),
                Err(_) => panic!("acks stalled at {:?}", self.acked),
            }
        }
    }

    /// Wait until every message is acknowledged, read the conversation's final history, tell
    /// every participant its last seq, and collect their views. Returns the views and the
    /// history.
    pub async fn finish(mut self) -> (Vec<View>, Vec<Value>) {
        let expected = self.expected.clone();
        self.until_acked(|a| expected.iter().all(|(k, n)| a.get(k) == Some(n)))
            .await;
        let history = crate::client::history(self.lb, &self.conversation_id).await;
        let last = history.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0);
        let _ = self.target.send(Some(last));
        let mut views = Vec::new();
        for t in self.tasks {
            let view = tokio::time::timeout(6 * WAIT, t)
                .await
                .expect("participants catch up within the bound")
                .expect("participant task");
            views.push(view);
        }
        (views, history)
    }
}

/// Check every view and the history: gap-free, in order, no duplicates; every acknowledged
/// message stored exactly once with its acked seq; every participant saw every message. Prints
/// the counts and returns the total of messages sent.
pub fn check(label: &str, views: &[View], history: &[Value]) -> usize {
    let last = history.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0);
    let seqs: Vec<u64> = history.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>(), "history is gap-free");
    let mut stored: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in history {
        if let Some(id) = e["client_id"].as_str() {
            stored
                .entry(id.to_owned())
                .or_default()
                .push(e["seq"].as_u64().unwrap_or(0));
        }
    }
    let (mut sent, mut lost, mut duplicated_in_history) = (0, 0, 0);
    for v in views {
        sent += v.sent.len();
        for id in &v.sent {
            match stored.get(id).map(Vec::as_slice) {
                None | Some([]) => lost += 1,
                Some([seq]) => assert_eq!(Some(seq), v.acked.get(id), "{id}: acked seq is stored"),
                Some(_) => duplicated_in_history += 1,
            }
        }
    }
    println!(
        "{label}: history {last} events; messages sent {sent}, lost {lost}, stored twice \
         {duplicated_in_history}"
    );
    for v in views {
        let missing = v.missing(last);
        let nodes: Vec<String> = v.nodes.iter().map(|a| a.port().to_string()).collect();
        println!(
            "{label}: {:>8}: sent {}, acked {}, re-sent after reconnect {}, reconnects {} (node \
             ports {}), events received {}, missing {}, duplicated {}, in order {}",
            v.name,
            v.sent.len(),
            v.acked.len(),
            v.resent,
            v.reconnects,
            nodes.join(" → "),
            v.seqs.len(),
            missing.len(),
            v.duplicates(),
            v.in_order(),
        );
        assert!(missing.is_empty(), "{}: missing seqs {missing:?}", v.name);
        assert_eq!(v.duplicates(), 0, "{}: duplicated seqs", v.name);
        assert!(v.in_order(), "{}: out of order {:?}", v.name, v.seqs);
        // Every message (anyone's) seen exactly once by this participant.
        let ids = v.client_ids_seen();
        for others in views {
            for id in &others.sent {
                assert_eq!(ids.get(id), Some(&1), "{} saw {id} once", v.name);
            }
        }
    }
    assert_eq!(lost, 0);
    assert_eq!(duplicated_in_history, 0);
    sent
}
