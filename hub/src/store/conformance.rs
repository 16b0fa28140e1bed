//! Behaviour every backend must have: the conversations' part here (creating, appending under
//! the control rules, takeover and release, the Online list and the sweeps); the team and
//! profiles in `conformance_team.rs`, the desk in `conformance_desk.rs`. Each backend's tests
//! call these.
//!
//! [`conformance_tests!`] turns the suite into one `#[tokio::test]` per behaviour, for a backend's
//! test module: `crate::store::conformance_tests!(make_store())`.

use super::*;
use crate::control::Actor;
use protocol::{EventKind, FollowUpReason, Holder, ReleaseReason, Role};
use std::sync::Arc;

pub fn op(id: &str) -> OperatorRef {
    OperatorRef {
        id: id.into(),
        name: id.to_uppercase(),
        display_name: None,
        avatar_url: None,
    }
}

pub async fn new(store: &dyn Store, id: &str) -> ConversationMeta {
    store
        .create(NewConversation {
            id: id.into(),
            visitor_id: "v".into(),
            workspace_id: "ws".into(),
            visitor_label: "Visitor".into(),
            at: 10,
        })
        .await
        .expect("create")
}

fn msg(author: Author, text: &str, client_id: Option<&str>) -> NewEvent {
    NewEvent::Message {
        author,
        text: text.into(),
        client_id: client_id.map(Into::into),
        attachments: Vec::new(),
    }
}

pub async fn sequences_are_gap_free_and_dedupe(store: Arc<dyn Store>) {
    new(&*store, "c1").await;
    let a = store
        .append(
            "ws",
            "c1",
            msg(Author::Visitor, "one", Some("x")),
            Writer::Visitor,
            11,
        )
        .await
        .expect("append");
    assert_eq!((a.event.seq, a.duplicate), (1, false));
    let b = store
        .append(
            "ws",
            "c1",
            msg(Author::Visitor, "two", Some("y")),
            Writer::Visitor,
            12,
        )
        .await
        .expect("append");
    assert_eq!(b.event.seq, 2);
    let again = store
        .append(
            "ws",
            "c1",
            msg(Author::Visitor, "one", Some("x")),
            Writer::Visitor,
            13,
        )
        .await
        .expect("append");
    assert_eq!((again.event.seq, again.duplicate), (1, true));
    assert_eq!(again.meta.last_seq, 2);
    // The meta an append returns is the conversation as it now stands (Redis builds it from
    // what its script read and wrote, without reading it again).
    let now = store.get("ws", "c1").await.expect("get").expect("c1");
    assert_eq!(b.meta, now);
    assert_eq!(again.meta, now);
    assert_eq!(
        now.last_message.as_ref().map(|m| m.text.as_str()),
        Some("two")
    );
    let h = store.history("ws", "c1", 0, 100).await.expect("history");
    assert_eq!(h.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    // What an append returns is exactly what it stored; a duplicate returns the first.
    assert_eq!(h, [a.event.clone(), b.event]);
    assert_eq!(again.event, a.event);
    let h = store.history("ws", "c1", 1, 100).await.expect("history");
    assert_eq!(h.iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
}

/// Whatever changed a conversation between two messages, the meta the second append returns is
/// the conversation as it then stands. (The Redis store keeps a copy of the fields that change
/// rarely and has the script check its version: every change must invalidate it.)
pub async fn an_appends_meta_is_the_conversation_as_it_stands(store: Arc<dyn Store>) {
    new(&*store, "m").await;
    let a = actor("a", Role::Operator);
    let mut n = 0;
    // Who writes the message after each change: the fence and the author.
    let mut check =
        async |store: &Arc<dyn Store>, after: &str, (writer, author): (Writer, Author)| {
            n += 1;
            let appended = store
                .append(
                    "ws",
                    "m",
                    msg(author, &format!("after {after}"), Some(&format!("k{n}"))),
                    writer,
                    100 + n,
                )
                .await
                .expect("append");
            let now = store.get("ws", "m").await.expect("get").expect("m");
            assert_eq!(appended.meta, now, "after {after}");
        };
    let visitor = || (Writer::Visitor, Author::Visitor);
    let operator = |id: &str| (Writer::Operator(id.into()), Author::Operator(op(id)));
    check(&store, "creation", visitor()).await;
    check(&store, "a message", visitor()).await;
    store
        .visitor_presence("ws", "m", 1, 90)
        .await
        .expect("presence");
    check(&store, "the visitor connecting", visitor()).await;
    // An event that is no message keeps the last message's preview.
    let plain = store
        .append(
            "ws",
            "m",
            NewEvent::Plain(PlainEvent::OutsideHours {
                by: HumanRequestedBy::Visitor,
                opens_at: Some(1_000),
            }),
            Writer::Visitor,
            104,
        )
        .await
        .expect("plain");
    let now = store.get("ws", "m").await.expect("get").expect("m");
    assert_eq!(plain.meta, now, "an event that is no message");
    assert_eq!(
        now.last_message.map(|m| m.text),
        Some("after the visitor connecting".to_owned())
    );
    store
        .append(
            "ws",
            "m",
            NewEvent::HumanRequested {
                by: HumanRequestedBy::Visitor,
            },
            Writer::Visitor,
            105,
        )
        .await
        .expect("request");
    check(&store, "a request for a human", visitor()).await;
    store.expire_human_requests(200, 200).await.expect("expire");
    check(&store, "the request expiring", visitor()).await;
    store
        .mark_follow_up("ws", "m", FollowUpReason::Unanswered, 201)
        .await
        .expect("follow-up");
    check(&store, "a follow-up", visitor()).await;
    store
        .takeover("ws", "m", &op("a"), 202)
        .await
        .expect("takeover");
    check(&store, "a takeover", operator("a")).await;
    store
        .follow_up_answered("ws", "m", 9, None)
        .await
        .expect("answered");
    check(&store, "a follow-up answered", visitor()).await;
    store
        .transfer("ws", "m", &a, &op("b"), 1, 203)
        .await
        .expect("transfer");
    check(&store, "a transfer", operator("b")).await;
    store
        .release("ws", "m", &actor("b", Role::Operator), false, None, 204)
        .await
        .expect("release");
    check(&store, "a release", (Writer::Ai { epoch: 3 }, Author::Ai)).await;
    store
        .visitor_presence("ws", "m", -1, 205)
        .await
        .expect("presence");
    check(&store, "the visitor leaving", visitor()).await;
}

pub async fn concurrent_appends_get_distinct_seqs(store: Arc<dyn Store>) {
    new(&*store, "c2").await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let cid = format!("m{i}");
            store
                .append(
                    "ws",
                    "c2",
                    msg(Author::Visitor, "hi", Some(&cid)),
                    Writer::Visitor,
                    20,
                )
                .await
                .expect("append")
                .event
                .seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.expect("join"));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
}

pub async fn control_is_exclusive_and_fences_ai(store: Arc<dyn Store>) {
    new(&*store, "c3").await;
    let before = store.get("ws", "c3").await.expect("get").expect("exists");
    assert_eq!(before.control.holder, Holder::Ai);
    let started = before.control.epoch;
    let change = store
        .takeover("ws", "c3", &op("a"), 30)
        .await
        .expect("takeover");
    assert!(matches!(
        change.event.as_ref().map(|e| &e.kind),
        Some(EventKind::OperatorJoined { .. })
    ));
    let refused = store.takeover("ws", "c3", &op("b"), 31).await;
    assert!(matches!(
        refused,
        Err(StoreError::Control(ControlError::AlreadyControlled(ref h))) if h.id == "a"
    ));
    let ai = store
        .append(
            "ws",
            "c3",
            msg(Author::Ai, "late", None),
            Writer::Ai { epoch: started },
            32,
        )
        .await;
    assert!(matches!(
        ai,
        Err(StoreError::Control(ControlError::StaleEpoch))
    ));
    let by_b = store
        .append(
            "ws",
            "c3",
            msg(Author::Operator(op("b")), "hi", Some("1")),
            Writer::Operator("b".into()),
            33,
        )
        .await;
    assert!(matches!(
        by_b,
        Err(StoreError::Control(ControlError::NotHolder))
    ));
    let written = store
        .append(
            "ws",
            "c3",
            msg(Author::Operator(op("a")), "hi", Some("1")),
            Writer::Operator("a".into()),
            34,
        )
        .await
        .expect("holder writes");
    assert_eq!(
        Some(written.meta),
        store.get("ws", "c3").await.expect("get")
    );
    let plain = Actor {
        operator: op("b"),
        role: Role::Operator,
    };
    assert!(matches!(
        store.release("ws", "c3", &plain, true, None, 35).await,
        Err(StoreError::Control(ControlError::RoleRequired))
    ));
    let editor = Actor {
        operator: op("e"),
        role: Role::Editor,
    };
    let released = store
        .release("ws", "c3", &editor, true, None, 36)
        .await
        .expect("force");
    assert_eq!(released.meta.control.holder, Holder::Ai);
    let h = store.history("ws", "c3", 0, 100).await.expect("history");
    assert_eq!(h.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    // Nothing of the fenced AI reply is anywhere.
    assert!(!h.iter().any(|e| matches!(
        &e.kind,
        EventKind::Message {
            author: Author::Ai,
            ..
        }
    )));
}

pub async fn concurrent_takeovers_have_one_winner(store: Arc<dyn Store>) {
    for round in 0..20 {
        let id = format!("race{round}");
        new(&*store, &id).await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = store.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .takeover("ws", &id, &op(&format!("op{i}")), 40)
                    .await
                    .is_ok()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.expect("join"));
        }
        assert_eq!(wins, 1, "round {round}");
    }
}

fn actor(id: &str, role: Role) -> Actor {
    Actor {
        operator: op(id),
        role,
    }
}

pub async fn transfer_hands_over_in_one_step(store: Arc<dyn Store>) {
    new(&*store, "t").await;
    let a = actor("a", Role::Operator);
    store
        .takeover("ws", "t", &op("a"), 20)
        .await
        .expect("takeover");
    // Refusals, in the rules' order, change nothing.
    let refused = |r: Result<ControlChange, StoreError>| match r {
        Err(StoreError::Control(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        refused(store.transfer("ws", "t", &a, &op("n"), 0, 21).await),
        ControlError::ControlChanged
    );
    assert_eq!(
        refused(
            store
                .transfer("ws", "t", &actor("b", Role::Operator), &op("n"), 1, 21)
                .await
        ),
        ControlError::RoleRequired
    );
    assert_eq!(
        refused(store.transfer("ws", "t", &a, &op("a"), 1, 21).await),
        ControlError::TransferToSelf
    );
    assert_eq!(
        refused(store.release("ws", "t", &a, false, Some(0), 21).await),
        ControlError::ControlChanged
    );
    assert!(matches!(
        store.transfer("ws", "nope", &a, &op("n"), 1, 21).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.transfer("other", "t", &a, &op("n"), 1, 21).await,
        Err(StoreError::NotFound)
    ));
    let moved = store
        .transfer("ws", "t", &a, &op("n"), 1, 22)
        .await
        .expect("transfer");
    assert_eq!(moved.meta.control.holder, Holder::Operator(op("n")));
    assert_eq!(moved.meta.control.epoch, 2);
    assert_eq!(
        Some(&moved.meta),
        store.get("ws", "t").await.expect("get").as_ref()
    );
    let event = moved.event.expect("an event");
    assert_eq!(
        event.kind,
        EventKind::OperatorTransferred {
            from: Box::new(op("a")),
            to: Box::new(op("n")),
            epoch: 2,
            by: None,
        }
    );
    assert_eq!((event.seq, event.at), (2, 22));
    // The AI may write at no epoch; the recipient may, the previous holder not.
    for epoch in [0, 1, 2] {
        assert!(matches!(
            store
                .append(
                    "ws",
                    "t",
                    msg(Author::Ai, "x", None),
                    Writer::Ai { epoch },
                    23
                )
                .await,
            Err(StoreError::Control(ControlError::StaleEpoch))
        ));
    }
    assert!(matches!(
        store
            .append(
                "ws",
                "t",
                msg(Author::Operator(op("a")), "x", Some("a1")),
                Writer::Operator("a".into()),
                23,
            )
            .await,
        Err(StoreError::Control(ControlError::NotHolder))
    ));
    store
        .append(
            "ws",
            "t",
            msg(Author::Operator(op("n")), "Nora here", Some("n1")),
            Writer::Operator("n".into()),
            24,
        )
        .await
        .expect("the recipient writes");
    // The holding is the recipient's, from the transfer on (auto-release applies to them).
    let held: Vec<_> = store
        .holdings()
        .await
        .expect("holdings")
        .into_iter()
        .filter(|h| h.conversation_id == "t")
        .map(|h| (h.holder_id, h.epoch))
        .collect();
    assert_eq!(held, [("n".to_string(), 2)]);
    // An owner transfers someone else's; `by` names them.
    let owner = actor("boss", Role::Owner);
    let again = store
        .transfer("ws", "t", &owner, &op("m"), 2, 25)
        .await
        .expect("owner transfers");
    assert!(matches!(
        again.event.map(|e| e.kind),
        Some(EventKind::OperatorTransferred { by: Some(b), .. }) if b == "boss"
    ));
    // A release under the current epoch applies.
    store
        .release("ws", "t", &actor("m", Role::Operator), false, Some(3), 26)
        .await
        .expect("release");
    let kinds: Vec<_> = store
        .history("ws", "t", 0, 100)
        .await
        .expect("history")
        .iter()
        .map(|e| match &e.kind {
            EventKind::OperatorJoined { .. } => "joined",
            EventKind::OperatorTransferred { .. } => "transferred",
            EventKind::OperatorLeft { .. } => "left",
            EventKind::Message { .. } => "message",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["joined", "transferred", "message", "transferred", "left"]
    );
}

pub async fn racing_transfers_and_releases_have_one_winner(store: Arc<dyn Store>) {
    for round in 0..20 {
        let id = format!("tr{round}");
        new(&*store, &id).await;
        store
            .takeover("ws", &id, &op("a"), 40)
            .await
            .expect("takeover");
        let mut tasks = Vec::new();
        for i in 0..12 {
            let store = store.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                let (holder, owner) = (actor("a", Role::Operator), actor("boss", Role::Owner));
                let to = op(&format!("n{i}"));
                match i % 4 {
                    0 => store.transfer("ws", &id, &holder, &to, 1, 41).await,
                    1 => store.transfer("ws", &id, &owner, &to, 1, 41).await,
                    2 => store.release("ws", &id, &holder, false, Some(1), 41).await,
                    _ => store.release("ws", &id, &owner, true, Some(1), 41).await,
                }
                .is_ok()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.expect("join"));
        }
        assert_eq!(wins, 1, "round {round}");
        let h = store.history("ws", &id, 0, 100).await.expect("history");
        assert_eq!(h.len(), 2, "one joined, one change: round {round}");
    }
}

pub async fn unknown_ids_are_not_found(store: Arc<dyn Store>) {
    assert!(store.get("ws", "nope").await.expect("get").is_none());
    assert!(matches!(
        store
            .append(
                "ws",
                "nope",
                msg(Author::Visitor, "x", None),
                Writer::Visitor,
                1
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.takeover("ws", "nope", &op("a"), 1).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.history("ws", "nope", 0, 10).await,
        Err(StoreError::NotFound)
    ));
    // A conversation asked for under another workspace is not found, and nothing is written
    // to it (another workspace's token never reaches it).
    new(store.as_ref(), "mine").await;
    assert!(store.get("other", "mine").await.expect("get").is_none());
    assert!(matches!(
        store
            .append(
                "other",
                "mine",
                msg(Author::Visitor, "x", None),
                Writer::Visitor,
                11
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.takeover("other", "mine", &op("a"), 11).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.history("other", "mine", 0, 10).await,
        Err(StoreError::NotFound)
    ));
    let mine = store.get("ws", "mine").await.expect("get").expect("mine");
    assert_eq!((mine.last_seq, mine.control.holder), (0, Holder::Ai));
}

pub async fn holdings_auto_release_once_and_warn_once(store: Arc<dyn Store>) {
    new(&*store, "h1").await;
    new(&*store, "h2").await;
    assert!(store.holdings().await.expect("holdings").is_empty());
    store
        .takeover("ws", "h1", &op("a"), 100)
        .await
        .expect("takeover");
    store
        .operators_seen(&[("ws".into(), "a".into())], 150)
        .await
        .expect("seen");
    let h = store.holdings().await.expect("holdings");
    assert_eq!(h.len(), 1);
    assert_eq!(
        (
            h[0].conversation_id.as_str(),
            h[0].holder_id.as_str(),
            h[0].epoch,
            h[0].seen,
            h[0].active
        ),
        ("h1", "a", 1, 150, 100)
    );
    // The holder writing counts as activity.
    store
        .append(
            "ws",
            "h1",
            msg(Author::Operator(op("a")), "hi", Some("1")),
            Writer::Operator("a".into()),
            200,
        )
        .await
        .expect("append");
    assert_eq!(store.holdings().await.expect("holdings")[0].active, 200);
    assert!(store.mark_warned("ws", "h1", 1).await.expect("warn"));
    assert!(!store.mark_warned("ws", "h1", 1).await.expect("warn"));
    // A stale decision (wrong epoch or holder) changes nothing.
    let stale = store
        .auto_release("ws", "h1", "a", 0, ReleaseReason::Idle, 300)
        .await
        .expect("auto");
    assert!(stale.event.is_none());
    let stale = store
        .auto_release("ws", "h1", "b", 1, ReleaseReason::Idle, 300)
        .await
        .expect("auto");
    assert!(stale.event.is_none());
    let done = store
        .auto_release("ws", "h1", "a", 1, ReleaseReason::Disconnected, 300)
        .await
        .expect("auto");
    assert!(matches!(
        done.event.map(|e| e.kind),
        Some(EventKind::OperatorLeft {
            reason: ReleaseReason::Disconnected,
            ..
        })
    ));
    assert_eq!(done.meta.control.holder, Holder::Ai);
    // Exactly once: the same decision again is a no-op.
    let again = store
        .auto_release("ws", "h1", "a", 1, ReleaseReason::Disconnected, 301)
        .await
        .expect("auto");
    assert!(again.event.is_none());
    assert!(store.holdings().await.expect("holdings").is_empty());
    // A new holding can be warned again.
    store
        .takeover("ws", "h1", &op("a"), 400)
        .await
        .expect("takeover");
    assert!(store.mark_warned("ws", "h1", 3).await.expect("warn"));
    assert!(matches!(
        store
            .auto_release("ws", "nope", "a", 1, ReleaseReason::Idle, 1)
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn ghost_visitors_expire(store: Arc<dyn Store>) {
    new(&*store, "g1").await;
    new(&*store, "g2").await;
    store
        .visitor_presence("ws", "g1", 1, 100)
        .await
        .expect("presence");
    store
        .visitor_presence("ws", "g2", 1, 100)
        .await
        .expect("presence");
    // g2's node keeps refreshing; g1's node died.
    store
        .visitors_seen(&[("ws".into(), "g2".into())], 500)
        .await
        .expect("seen");
    let gone = store.expire_visitors(300).await.expect("expire");
    assert_eq!(
        gone.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["g1"]
    );
    assert_eq!(gone[0].visitor_connections, 0);
    assert!(store.expire_visitors(300).await.expect("expire").is_empty());
    assert_eq!(
        store
            .get("ws", "g2")
            .await
            .expect("get")
            .expect("g2")
            .visitor_connections,
        1
    );
}

pub async fn unanswered_human_requests_expire_once(store: Arc<dyn Store>) {
    let ask = |id: &'static str, at| {
        let store = store.clone();
        async move {
            store
                .append(
                    "ws",
                    id,
                    NewEvent::HumanRequested {
                        by: HumanRequestedBy::Visitor,
                    },
                    Writer::Visitor,
                    at,
                )
                .await
                .expect("request")
        }
    };
    new(&*store, "h1").await;
    new(&*store, "h2").await;
    new(&*store, "h3").await;
    let asked = ask("h1", 100).await.meta;
    assert!(asked.needs_human);
    assert_eq!(Some(asked), store.get("ws", "h1").await.expect("get"));
    ask("h2", 100).await;
    ask("h3", 400).await;
    // h2 gets an operator: its request was answered.
    store
        .takeover("ws", "h2", &op("a"), 150)
        .await
        .expect("takeover");

    assert!(
        store
            .expire_human_requests(50, 60)
            .await
            .expect("expire")
            .is_empty()
    );
    let expired = store.expire_human_requests(300, 320).await.expect("expire");
    assert_eq!(expired.len(), 1, "{expired:?}");
    let (meta, event) = &expired[0];
    assert_eq!(meta.id, "h1");
    assert!(!meta.needs_human);
    assert_eq!(
        event.kind,
        protocol::EventKind::HumanRequestExpired { waited_ms: 220 }
    );
    assert_eq!(event.seq, meta.last_seq);
    assert!(
        store
            .expire_human_requests(300, 330)
            .await
            .expect("again")
            .is_empty()
    );
    // h3 expires later; a new request on h1 starts a new wait.
    ask("h1", 500).await;
    let later = store
        .expire_human_requests(1_000, 1_000)
        .await
        .expect("expire");
    let mut ids: Vec<_> = later.iter().map(|(m, _)| m.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["h1", "h3"]);
}

pub async fn online_list_and_idle(store: Arc<dyn Store>) {
    assert!(
        store
            .active("no-such-workspace")
            .await
            .expect("active")
            .is_empty()
    );
    new(&*store, "o1").await;
    new(&*store, "o2").await;
    store
        .append(
            "ws",
            "o2",
            msg(Author::Visitor, "later", None),
            Writer::Visitor,
            50,
        )
        .await
        .expect("append");
    let list = store.active("ws").await.expect("active");
    let ids: Vec<_> = list.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(&ids[..2], ["o2", "o1"]);
    let on = store
        .visitor_presence("ws", "o1", 1, 10)
        .await
        .expect("presence");
    assert_eq!(on.visitor_connections, 1);
    // o1 is idle but its visitor is online: it stays. o2 goes.
    let gone = store.deactivate_idle(100).await.expect("sweep");
    let gone: Vec<_> = gone.iter().map(|m| m.id.as_str()).collect();
    assert!(gone.contains(&"o2") && !gone.contains(&"o1"));
    store
        .visitor_presence("ws", "o1", -1, 10)
        .await
        .expect("presence");
    let gone = store.deactivate_idle(100).await.expect("sweep");
    assert!(gone.iter().any(|m| m.id == "o1"));
    assert!(store.deactivate_idle(100).await.expect("sweep").is_empty());
    // New activity brings it back.
    let back = store
        .append(
            "ws",
            "o1",
            msg(Author::Visitor, "back", None),
            Writer::Visitor,
            200,
        )
        .await
        .expect("append");
    assert!(back.meta.active);
}

/// The whole suite, one behaviour after another, each on a store from `make` (a fresh key
/// prefix on one server, say): for topologies too costly to start once per behaviour.
pub async fn whole_suite<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Store>>,
{
    sequences_are_gap_free_and_dedupe(make().await).await;
    concurrent_appends_get_distinct_seqs(make().await).await;
    an_appends_meta_is_the_conversation_as_it_stands(make().await).await;
    control_is_exclusive_and_fences_ai(make().await).await;
    concurrent_takeovers_have_one_winner(make().await).await;
    transfer_hands_over_in_one_step(make().await).await;
    racing_transfers_and_releases_have_one_winner(make().await).await;
    unknown_ids_are_not_found(make().await).await;
    holdings_auto_release_once_and_warn_once(make().await).await;
    ghost_visitors_expire(make().await).await;
    super::conformance_team::team_presence_and_audit(make().await).await;
    unanswered_human_requests_expire_once(make().await).await;
    super::conformance_team::profiles_and_avatars_per_workspace(make().await).await;
    online_list_and_idle(make().await).await;
    super::conformance_follow_up::whole_suite(&make).await;
    super::conformance_desk::whole_suite(make).await;
}

/// Runs the whole conformance suite as tests. `$make` is evaluated once per test and gives
/// `(guard, store)`: the guard (a server process, say) lives until the test ends.
macro_rules! conformance_tests {
    ($make:expr) => {
        #[tokio::test]
        async fn sequences_are_gap_free_and_dedupe() {
            let (_guard, store) = $make;
            crate::store::conformance::sequences_are_gap_free_and_dedupe(store).await;
        }

        #[tokio::test]
        async fn an_appends_meta_is_the_conversation_as_it_stands() {
            let (_guard, store) = $make;
            crate::store::conformance::an_appends_meta_is_the_conversation_as_it_stands(store)
                .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_appends_get_distinct_seqs() {
            let (_guard, store) = $make;
            crate::store::conformance::concurrent_appends_get_distinct_seqs(store).await;
        }

        #[tokio::test]
        async fn control_is_exclusive_and_fences_ai() {
            let (_guard, store) = $make;
            crate::store::conformance::control_is_exclusive_and_fences_ai(store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_takeovers_have_one_winner() {
            let (_guard, store) = $make;
            crate::store::conformance::concurrent_takeovers_have_one_winner(store).await;
        }

        #[tokio::test]
        async fn transfer_hands_over_in_one_step() {
            let (_guard, store) = $make;
            crate::store::conformance::transfer_hands_over_in_one_step(store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn racing_transfers_and_releases_have_one_winner() {
            let (_guard, store) = $make;
            crate::store::conformance::racing_transfers_and_releases_have_one_winner(store).await;
        }

        #[tokio::test]
        async fn unknown_ids_are_not_found() {
            let (_guard, store) = $make;
            crate::store::conformance::unknown_ids_are_not_found(store).await;
        }

        #[tokio::test]
        async fn holdings_auto_release_once_and_warn_once() {
            let (_guard, store) = $make;
            crate::store::conformance::holdings_auto_release_once_and_warn_once(store).await;
        }

        #[tokio::test]
        async fn ghost_visitors_expire() {
            let (_guard, store) = $make;
            crate::store::conformance::ghost_visitors_expire(store).await;
        }

        #[tokio::test]
        async fn team_presence_and_audit() {
            let (_guard, store) = $make;
            crate::store::conformance_team::team_presence_and_audit(store).await;
        }

        #[tokio::test]
        async fn unanswered_human_requests_expire_once() {
            let (_guard, store) = $make;
            crate::store::conformance::unanswered_human_requests_expire_once(store).await;
        }

        #[tokio::test]
        async fn profiles_and_avatars_per_workspace() {
            let (_guard, store) = $make;
            crate::store::conformance_team::profiles_and_avatars_per_workspace(store).await;
        }

        #[tokio::test]
        async fn online_list_and_idle() {
            let (_guard, store) = $make;
            crate::store::conformance::online_list_and_idle(store).await;
        }

        #[tokio::test]
        async fn notes_have_their_own_numbering() {
            let (_guard, store) = $make;
            crate::store::conformance_desk::notes_have_their_own_numbering(store).await;
        }

        #[tokio::test]
        async fn context_is_kept_per_conversation() {
            let (_guard, store) = $make;
            crate::store::conformance_desk::context_is_kept_per_conversation(store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn briefs_are_made_once_per_stretch() {
            let (_guard, store) = $make;
            crate::store::conformance_desk::briefs_are_made_once_per_stretch(store).await;
        }

        #[tokio::test]
        async fn recent_and_search() {
            let (_guard, store) = $make;
            crate::store::conformance_desk::recent_and_search(store).await;
        }

        #[tokio::test]
        async fn earlier_conversations_of_a_visitor() {
            let (_guard, store) = $make;
            crate::store::conformance_desk::earlier_conversations_of_a_visitor(store).await;
        }

        #[tokio::test]
        async fn canned_replies_per_workspace() {
            let (_guard, store) = $make;
            crate::store::conformance_desk::canned_replies_per_workspace(store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_shortcuts_have_one_winner() {
            let (_guard, store) = $make;
            crate::store::conformance_desk::concurrent_shortcuts_have_one_winner(store).await;
        }

        #[tokio::test]
        async fn follow_ups_wait_until_answered() {
            let (_guard, store) = $make;
            crate::store::conformance_follow_up::follow_ups_wait_until_answered(store).await;
        }

        #[tokio::test]
        async fn emails_are_claimed_once_and_recorded_by_their_claim() {
            let (_guard, store) = $make;
            crate::store::conformance_follow_up::emails_are_claimed_once_and_recorded_by_their_claim(store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn racing_claims_have_one_winner() {
            let (_guard, store) = $make;
            crate::store::conformance_follow_up::racing_claims_have_one_winner(store).await;
        }
    };
}
pub(crate) use conformance_tests;
