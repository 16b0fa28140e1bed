//! One visitor's and one operator's loop: what each client of the relay sends, when, and how
//! it counts what it receives.

use super::*;

/// What the run asks an operator to do.
#[derive(Debug)]
pub(super) enum Cmd {
    /// Open and take over this conversation (index, id).
    Take(usize, String),
    /// Send the takeover again after a retryable refusal, with the `open` if that was refused.
    Retry { c: usize, id: String, reopen: bool },
}

/// Wait before a retry when the refusal names no `retry_after_ms`.
const RETRY_MS: u64 = 200;

/// The send schedule of one client inside a step.
#[derive(Debug, Default)]
struct Schedule {
    plan: Option<Plan>,
    next: Option<Instant>,
    period: Duration,
}

impl Schedule {
    /// `phase` in [0, 1): where in the shared period this client's sends fall, so that all
    /// clients together send evenly.
    fn set(&mut self, control: Control, period: impl Fn(&Plan) -> Option<Duration>, phase: f64) {
        *self = Schedule::default();
        if let Control::Run(plan) = control
            && let Some(p) = period(&plan)
        {
            self.plan = Some(plan);
            self.period = p;
            self.next = Some(plan.start + p.mul_f64(phase));
        }
    }

    /// The next due send (its scheduled time and plan), advancing the schedule.
    fn take(&mut self) -> Option<(Instant, Plan)> {
        let (t, plan) = (self.next?, self.plan?);
        if t >= plan.end {
            self.next = None;
            return None;
        }
        self.next = Some(t + self.period);
        Some((t, plan))
    }
}

async fn sleep_opt(t: Option<Instant>) {
    match t {
        Some(t) => sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Either a text frame or the end of the socket (with why).
enum Inbound {
    Text(tokio_tungstenite::tungstenite::Utf8Bytes),
    Other,
    Closed(String),
}

fn inbound(m: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> Inbound {
    match m {
        Some(Ok(Message::Text(t))) => Inbound::Text(t),
        Some(Ok(Message::Close(c))) => Inbound::Closed(format!("closed by hub: {c:?}")),
        Some(Ok(_)) => Inbound::Other,
        Some(Err(e)) => Inbound::Closed(format!("socket error: {e}")),
        None => Inbound::Closed("socket ended".into()),
    }
}

/// A pending message: send time (ns since base), step, counted.
type Pending = HashMap<u64, (u64, usize, bool)>;

fn on_ack(ctx: &Ctx, pending: &mut Pending, n: u64, side: &mut Side, visitor: bool) {
    if let Some((t, step, counted)) = pending.remove(&n) {
        ctx.all_acked.fetch_add(1, Ordering::Relaxed);
        side.acked.insert(n);
        if counted {
            let lat = ctx.ns(Instant::now()).saturating_sub(t);
            ctx.stats.with(step, |s| {
                s.ack.record_ns(lat);
                if visitor {
                    s.visitor_acked += 1;
                } else {
                    s.operator_acked += 1;
                }
            });
        }
    }
}

/// After `Stop`, how long every client still reads, until all that was sent is answered and
/// delivered: a client whose last scheduled send left late (the generator lags on a busy
/// machine) may have sent it just as the run stopped, and closing at once would count it never
/// answered (its sender gone) or lost (its recipient gone), though the hub handles it a few
/// milliseconds later.
const DRAIN_ON_STOP: Duration = Duration::from_secs(5);

/// Every message sent in the run answered and delivered: the clients may close.
fn drained(ctx: &Ctx) -> bool {
    let sent = ctx.all_sent.load(Ordering::Relaxed);
    ctx.all_acked.load(Ordering::Relaxed) >= sent
        && ctx.all_delivered.load(Ordering::Relaxed) >= sent
}

/// Never-answered messages a side keeps the details of, for the report.
const UNANSWERED_KEPT: usize = 10;

impl Side {
    /// What is still pending when the side stops: never answered.
    fn close_pending(&mut self, pending: &Pending) {
        self.unacked += pending.len() as u64;
        let room = UNANSWERED_KEPT.saturating_sub(self.unanswered.len());
        self.unanswered
            .extend(pending.iter().take(room).map(|(n, (t, _, _))| (*n, *t)));
    }
}

/// An `error` naming message `n` of this side: answered, by a refusal (its code is in the
/// run's errors). Without this, a refused message would be counted as never answered.
fn on_refused(ctx: &Ctx, pending: &mut Pending, n: u64, side: &mut Side) {
    if pending.remove(&n).is_some() {
        ctx.all_acked.fetch_add(1, Ordering::Relaxed);
        side.refused += 1;
    }
}

/// The number in a client id of ours (`v3-17`, `o3-17`).
fn client_number(client_id: Option<&str>) -> Option<u64> {
    client_id?.rsplit_once('-')?.1.parse().ok()
}

/// A message event from the other side: count it, and time it on first arrival.
fn on_message(ctx: &Ctx, text: &str, side: &mut Side, to_operator: bool) {
    let Some(tag) = wire::parse_tag(text) else {
        return;
    };
    let k = side.seen.entry(tag.n).or_insert(0);
    *k += 1;
    if *k == 1 {
        ctx.all_delivered.fetch_add(1, Ordering::Relaxed);
    }
    if *k == 1 && tag.in_window {
        let lat = ctx.ns(Instant::now()).saturating_sub(tag.t_ns);
        ctx.stats.with(tag.step, |s| {
            if to_operator {
                s.v2o.record_ns(lat);
                s.v2o_delivered += 1;
            } else {
                s.o2v.record_ns(lat);
                s.o2v_delivered += 1;
            }
        });
    }
}

/// A visitor's loop. Returns its record of the conversation and whether the socket was lost.
pub(super) async fn visitor(
    ctx: Arc<Ctx>,
    c: usize,
    mut ws: Ws,
    last_seq: u64,
    mut ctl: watch::Receiver<Control>,
) -> (Side, bool) {
    let mut side = Side {
        seqs: Seqs {
            last: last_seq,
            ..Seqs::default()
        },
        ..Side::default()
    };
    let mut pending = Pending::new();
    let mut sched = Schedule::default();
    let mut n = 0u64;
    let phase = c as f64 / ctx.visitors as f64;
    let mut lost = false;
    // Set at `Stop`: send nothing more, wait for what is unanswered until then.
    let mut stopping: Option<Instant> = None;
    loop {
        if stopping.is_some() && drained(&ctx) {
            break;
        }
        tokio::select! {
            r = ctl.changed(), if stopping.is_none() => {
                let control = *ctl.borrow_and_update();
                if r.is_err() { break }
                if matches!(control, Control::Stop) {
                    sched = Schedule::default();
                    stopping = Some(Instant::now() + DRAIN_ON_STOP);
                    continue;
                }
                sched.set(control, |p| p.visitor_period, phase);
            }
            _ = sleep_opt(stopping) => break,
            // While stopping: look again at what the others have answered and delivered.
            () = tokio::time::sleep(Duration::from_millis(20)), if stopping.is_some() => {}
            _ = sleep_opt(sched.next) => {
                let Some((t, plan)) = sched.take() else { continue };
                n += 1;
                let counted = t >= plan.window;
                let sent_ns = ctx.ns(Instant::now());
                let text = wire::message_text('v', c, n, plan.step, counted, sent_ns, &ctx.pad);
                // The protocol's own frame: `type` first, as the widget writes it (`json!` sorts
                // the keys, which the hub reads on a slower path).
                let frame = wire::frame(&protocol::WidgetFrame::Message {
                    client_id: format!("v{c}-{n}"),
                    text,
                    attachments: None,
                });
                pending.insert(n, (sent_ns, plan.step, counted));
                ctx.all_sent.fetch_add(1, Ordering::Relaxed);
                if counted {
                    ctx.count_sent(plan.step, t, sent_ns, true);
                }
                if let Err(e) = ws.send(Message::text(frame)).await {
                    ctx.error(Some(plan.step), format!("visitor send: {e}"));
                    lost = true;
                    break;
                }
            }
            m = ws.next() => {
                let text = match inbound(m) {
                    Inbound::Text(t) => t,
                    Inbound::Other => continue,
                    Inbound::Closed(why) => {
                        ctx.error(None, format!("visitor {c}: {why}"));
                        lost = true;
                        break;
                    }
                };
                let Ok(f) = serde_json::from_str::<Frame<'_>>(&text) else {
                    ctx.error(None, format!("visitor {c}: unparsable frame {text}"));
                    continue;
                };
                match f.ty.as_ref() {
                    "ack" => {
                        if let Some(k) = f.client_id.as_deref().and_then(|id| id.rsplit_once('-')).and_then(|(_, k)| k.parse().ok()) {
                            on_ack(&ctx, &mut pending, k, &mut side, true);
                        }
                    }
                    "event" => {
                        let Some(ev) = f.event else { continue };
                        if !side.seqs.see(ev.seq) { continue }
                        match (ev.ty.as_ref(), ev.author.as_ref().map(|a| a.kind.as_ref())) {
                            ("message", Some("operator")) => {
                                on_message(&ctx, ev.text.as_deref().unwrap_or(""), &mut side, false);
                            }
                            ("message", Some("ai")) => {
                                ctx.ai_messages.fetch_add(1, Ordering::Relaxed);
                            }
                            ("operator_joined", _) => {
                                let sent = ctx.takeover_sent[c].load(Ordering::Relaxed);
                                if sent > 0 {
                                    let lat = ctx.ns(Instant::now()).saturating_sub(sent);
                                    ctx.takeover.lock().unwrap_or_else(|e| e.into_inner()).record_ns(lat);
                                }
                                ctx.joined.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {}
                        }
                    }
                    "error" => {
                        let step = sched.plan.map(|p| p.step);
                        ctx.error(step, format!("visitor {c}: {text}"));
                        if let Some(k) = client_number(f.client_id.as_deref()) {
                            on_refused(&ctx, &mut pending, k, &mut side);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    side.close_pending(&pending);
    let _ = ws.close(None).await;
    (side, lost)
}

/// An operator's loop: takes the conversations it is given (retrying refused takeovers through
/// `retries`, its own command queue), replies round robin.
pub(super) async fn operator(
    ctx: Arc<Ctx>,
    j: usize,
    mut ws: Ws,
    mut ctl: watch::Receiver<Control>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    retries: mpsc::UnboundedSender<Cmd>,
) -> (HashMap<usize, Side>, bool) {
    // Conversations whose `open` + `takeover` are not answered yet.
    let mut setup: HashMap<usize, wave::Pending> = HashMap::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut sides: HashMap<usize, Side> = HashMap::new();
    let mut mine: Vec<(usize, String)> = Vec::new();
    let mut next_conv = 0usize;
    let mut counters: HashMap<usize, u64> = HashMap::new();
    let mut pending: HashMap<usize, Pending> = HashMap::new();
    let mut sched = Schedule::default();
    let phase = j as f64 / ctx.operators as f64;
    let mut lost = false;
    let mut stopping: Option<Instant> = None;
    loop {
        if stopping.is_some() && drained(&ctx) {
            break;
        }
        tokio::select! {
            r = ctl.changed(), if stopping.is_none() => {
                let control = *ctl.borrow_and_update();
                if r.is_err() { break }
                if matches!(control, Control::Stop) {
                    sched = Schedule::default();
                    stopping = Some(Instant::now() + DRAIN_ON_STOP);
                    continue;
                }
                sched.set(control, |p| p.operator_period, phase);
            }
            _ = sleep_opt(stopping) => break,
            // While stopping: look again at what the others have answered and delivered.
            () = tokio::time::sleep(Duration::from_millis(20)), if stopping.is_some() => {}
            Some(cmd) = cmds.recv() => {
                let (c, id, open) = match cmd {
                    Cmd::Take(c, id) => {
                        by_id.insert(id.clone(), c);
                        sides.entry(c).or_default();
                        mine.push((c, id.clone()));
                        // Timed from the first attempt, as the visitor waits.
                        ctx.takeover_sent[c].store(ctx.ns(Instant::now()).max(1), Ordering::Relaxed);
                        (c, id, true)
                    }
                    Cmd::Retry { c, id, reopen } => (c, id, reopen),
                };
                setup.insert(c, if open { wave::Pending::Opening } else { wave::Pending::TakingOver { reopen: false } });
                if open && wire::send(&mut ws, json!({"type": "open", "conversation_id": id})).await.is_err() {
                    lost = true;
                    break;
                }
                if wire::send(&mut ws, json!({"type": "takeover", "conversation_id": id})).await.is_err() {
                    lost = true;
                    break;
                }
            }
            _ = sleep_opt(sched.next) => {
                let Some((t, plan)) = sched.take() else { continue };
                if mine.is_empty() { continue }
                let (c, id) = &mine[next_conv % mine.len()];
                next_conv += 1;
                let n = counters.entry(*c).or_insert(0);
                *n += 1;
                let counted = t >= plan.window;
                let sent_ns = ctx.ns(Instant::now());
                let text = wire::message_text('o', *c, *n, plan.step, counted, sent_ns, &ctx.pad);
                let frame = wire::frame(&protocol::OperatorFrame::Message {
                    conversation_id: id.clone(),
                    client_id: format!("o{c}-{n}"),
                    text,
                    attachments: None,
                });
                pending.entry(*c).or_default().insert(*n, (sent_ns, plan.step, counted));
                ctx.all_sent.fetch_add(1, Ordering::Relaxed);
                if counted {
                    ctx.count_sent(plan.step, t, sent_ns, false);
                }
                if let Err(e) = ws.send(Message::text(frame)).await {
                    ctx.error(Some(plan.step), format!("operator send: {e}"));
                    lost = true;
                    break;
                }
            }
            m = ws.next() => {
                let text = match inbound(m) {
                    Inbound::Text(t) => t,
                    Inbound::Other => continue,
                    Inbound::Closed(why) => {
                        ctx.error(None, format!("operator {j}: {why}"));
                        lost = true;
                        break;
                    }
                };
                // The Online list's and the team view's frames are only counted.
                if ctx.dash[j].count(wire::frame_kind(&text), text.len()) { continue }
                let Ok(f) = serde_json::from_str::<Frame<'_>>(&text) else {
                    ctx.error(None, format!("operator {j}: unparsable frame {text}"));
                    continue;
                };
                let conv = f.conversation_id.as_deref().and_then(|id| by_id.get(id)).copied();
                // An answer to the set-up's `open` or `takeover`.
                if let Some(c) = conv
                    && let Some(&state) = setup.get(&c)
                {
                    let answer = match f.ty.as_ref() {
                        "history" => Some(wave::Answer::History),
                        "control" => Some(wave::Answer::Control),
                        "error" => Some(wave::Answer::Error {
                            code: f.code.as_deref().unwrap_or("?"),
                            retryable: f.retryable.unwrap_or(false),
                        }),
                        _ => None,
                    };
                    if let Some(answer) = answer {
                        let (next, outcome) = wave::step(state, answer);
                        match next {
                            Some(s) => setup.insert(c, s),
                            None => setup.remove(&c),
                        };
                        ctx.wave.lock().unwrap_or_else(|e| e.into_inner()).count(&outcome);
                        match outcome {
                            wave::Outcome::Answered { reopen: true } => {
                                let id = mine.iter().find(|(k, _)| *k == c).map(|(_, id)| id.clone()).unwrap_or_default();
                                if wire::send(&mut ws, json!({"type": "open", "conversation_id": id})).await.is_err() {
                                    lost = true;
                                    break;
                                }
                            }
                            wave::Outcome::Refused { retry: true, reopen, .. } => {
                                let id = f.conversation_id.as_deref().unwrap_or_default().to_owned();
                                let wait = Duration::from_millis(f.retry_after_ms.unwrap_or(RETRY_MS));
                                let retries = retries.clone();
                                tokio::spawn(async move {
                                    tokio::time::sleep(wait).await;
                                    let _ = retries.send(Cmd::Retry { c, id, reopen });
                                });
                            }
                            _ => {}
                        }
                        // Refusals are in the wave's tally, not among the errors.
                        if f.ty == "error" { continue }
                    }
                }
                match (f.ty.as_ref(), conv) {
                    ("history", Some(c)) => {
                        if let Some(s) = sides.get_mut(&c) {
                            s.seqs.last = s.seqs.last.max(f.last_seq.unwrap_or(0));
                        }
                    }
                    ("control", Some(_)) => {
                        ctx.controls.fetch_add(1, Ordering::Relaxed);
                    }
                    ("ack", Some(c)) => {
                        let k = f.client_id.as_deref().and_then(|id| id.rsplit_once('-')).and_then(|(_, k)| k.parse().ok());
                        if let (Some(k), Some(side), Some(p)) = (k, sides.get_mut(&c), pending.get_mut(&c)) {
                            on_ack(&ctx, p, k, side, false);
                        }
                    }
                    ("event", Some(c)) => {
                        let (Some(ev), Some(side)) = (f.event, sides.get_mut(&c)) else { continue };
                        if !side.seqs.see(ev.seq) { continue }
                        match (ev.ty.as_ref(), ev.author.as_ref().map(|a| a.kind.as_ref())) {
                            ("message", Some("visitor")) => {
                                on_message(&ctx, ev.text.as_deref().unwrap_or(""), side, true);
                            }
                            ("message", Some("ai")) => {
                                ctx.ai_messages.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {}
                        }
                    }
                    ("error", c) => {
                        let step = sched.plan.map(|p| p.step);
                        ctx.error(step, format!("operator {j}: {text}"));
                        let k = client_number(f.client_id.as_deref());
                        if let (Some(c), Some(k)) = (c, k)
                            && let (Some(side), Some(p)) = (sides.get_mut(&c), pending.get_mut(&c))
                        {
                            on_refused(&ctx, p, k, side);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    for (c, p) in pending {
        if let Some(s) = sides.get_mut(&c) {
            s.close_pending(&p);
        }
    }
    let _ = ws.close(None).await;
    (sides, lost)
}
