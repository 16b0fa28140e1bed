//! The follow-ups' part of the conformance suite (store/follow_up.rs): the same rules on every
//! store and topology, and one claimer per due email however many nodes race for it.

use super::conformance::new;
use super::follow_up::EmailJob;
use super::*;
use protocol::{EmailDelivery, FollowUpReason};
use std::sync::Arc;

async fn flag(store: &dyn Store, id: &str) -> bool {
    store
        .get("ws", id)
        .await
        .expect("get")
        .expect("exists")
        .follow_up
}

/// A conversation waits from the first time nobody was available until an operator writes;
/// the address is taken only while it waits; the list holds the waiting ones, oldest first,
/// per workspace.
pub async fn follow_ups_wait_until_answered(store: Arc<dyn Store>) {
    new(&*store, "f1").await;
    new(&*store, "f2").await;
    assert_eq!(store.follow_up("ws", "f1").await.expect("read"), None);
    assert_eq!(
        store
            .set_follow_up_email("ws", "f1", "a@b.co")
            .await
            .expect("email"),
        None,
        "not waiting: no address taken"
    );
    let f = store
        .mark_follow_up("ws", "f1", FollowUpReason::OutsideHours, 100)
        .await
        .expect("mark")
        .expect("changed");
    assert_eq!(
        (f.reason, f.since, f.waiting),
        (FollowUpReason::OutsideHours, 100, true)
    );
    assert!(flag(&*store, "f1").await);
    assert_eq!(
        store
            .mark_follow_up("ws", "f1", FollowUpReason::Unanswered, 200)
            .await
            .expect("mark"),
        None,
        "already waiting"
    );
    store
        .mark_follow_up("ws", "f2", FollowUpReason::Unanswered, 50)
        .await
        .expect("mark");
    let f = store
        .set_follow_up_email("ws", "f1", "ana@example.com")
        .await
        .expect("email")
        .expect("taken");
    assert_eq!(f.email.as_deref(), Some("ana@example.com"));
    let list = store.follow_ups("ws", 10).await.expect("list");
    let ids: Vec<&str> = list.iter().map(|(m, _)| m.id.as_str()).collect();
    assert_eq!(ids, ["f2", "f1"], "the longest waiting first");
    assert_eq!(list[1].1.email.as_deref(), Some("ana@example.com"));
    assert_eq!(store.follow_ups("ws", 1).await.expect("list").len(), 1);
    assert!(
        store
            .follow_ups("other", 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(matches!(
        store
            .mark_follow_up("other", "f1", FollowUpReason::Unanswered, 1)
            .await,
        Err(StoreError::NotFound)
    ));

    // Answered with the visitor here: off the list, nothing to email; the address stays.
    let f = store
        .follow_up_answered("ws", "f1", 4, None)
        .await
        .expect("answer")
        .expect("changed");
    assert!(!f.waiting);
    assert_eq!(f.delivery, None);
    assert!(flag(&*store, "f1").await, "the address is still on file");
    assert_eq!(
        store
            .follow_up_answered("ws", "f1", 5, None)
            .await
            .expect("answer"),
        None
    );
    // Without an address, an answer leaves nothing to follow.
    store
        .follow_up_answered("ws", "f2", 2, Some(10))
        .await
        .expect("answer");
    assert!(!flag(&*store, "f2").await);
    assert!(store.follow_ups("ws", 10).await.expect("list").is_empty());
    assert_eq!(
        store
            .follow_up("ws", "f1")
            .await
            .expect("read")
            .map(|f| f.waiting),
        Some(false)
    );
}

async fn claim(store: &dyn Store, now: Millis) -> Vec<EmailJob> {
    store.claim_emails(now, 1_000, 10).await.expect("claim")
}

/// Answers to a visitor who is away are emailed in one batch when due; only the claim that
/// was given the email records its outcome; failures retry when told, then give up.
pub async fn emails_are_claimed_once_and_recorded_by_their_claim(store: Arc<dyn Store>) {
    new(&*store, "e1").await;
    store
        .mark_follow_up("ws", "e1", FollowUpReason::Unanswered, 100)
        .await
        .expect("mark");
    store
        .set_follow_up_email("ws", "e1", "ana@example.com")
        .await
        .expect("email");
    let f = store
        .follow_up_answered("ws", "e1", 3, Some(1_000))
        .await
        .expect("answer")
        .expect("changed");
    assert_eq!(f.delivery, Some(EmailDelivery::Scheduled { at: 1_000 }));
    store
        .follow_up_answered("ws", "e1", 4, Some(1_500))
        .await
        .expect("answer");
    assert!(claim(&*store, 999).await.is_empty(), "not due yet");
    let jobs = claim(&*store, 1_000).await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(
        (
            job.conversation_id.as_str(),
            job.email.as_str(),
            job.from_seq,
            job.upto_seq,
            job.attempt
        ),
        ("e1", "ana@example.com", 3, 4, 1)
    );
    assert_eq!(job.visitor_id, "v");
    assert!(
        claim(&*store, 1_500).await.is_empty(),
        "claimed until its lease ends"
    );
    // The lease ended: another node claims it; the first claim can record nothing.
    let again = claim(&*store, 2_000).await;
    assert_eq!(again.len(), 1);
    assert_eq!(store.email_sent(job, 2_100).await.expect("sent"), None);
    let f = store
        .email_failed(&again[0], "connection refused", Some(5_000))
        .await
        .expect("failed")
        .expect("recorded");
    assert_eq!(
        f.delivery,
        Some(EmailDelivery::Retrying {
            attempts: 1,
            next_at: 5_000,
            error: "connection refused".into()
        })
    );
    assert!(claim(&*store, 4_999).await.is_empty());
    let retry = claim(&*store, 5_000).await;
    assert_eq!(retry[0].attempt, 2);
    // Written while the retry was on its way: it goes next.
    store
        .follow_up_answered("ws", "e1", 6, Some(9_000))
        .await
        .expect("answer");
    let f = store
        .email_sent(&retry[0], 5_100)
        .await
        .expect("sent")
        .expect("recorded");
    assert_eq!(f.delivery, Some(EmailDelivery::Scheduled { at: 5_100 }));
    let next = claim(&*store, 5_100).await;
    assert_eq!(
        (next[0].from_seq, next[0].upto_seq, next[0].attempt),
        (5, 6, 1)
    );
    let f = store
        .email_failed(&next[0], "550 no such user", None)
        .await
        .expect("failed")
        .expect("recorded");
    assert!(matches!(
        f.delivery,
        Some(EmailDelivery::Failed { attempts: 1, .. })
    ));
    assert!(claim(&*store, 1_000_000).await.is_empty(), "given up");
    // The next answer's email carries what the one given up did not deliver.
    store
        .follow_up_answered("ws", "e1", 8, Some(2_000_000))
        .await
        .expect("answer");
    let after = claim(&*store, 2_000_000).await;
    assert_eq!(
        (after[0].from_seq, after[0].upto_seq, after[0].attempt),
        (5, 8, 1)
    );
}

/// Nodes racing for the same due email: exactly one is given it.
pub async fn racing_claims_have_one_winner(store: Arc<dyn Store>) {
    new(&*store, "r1").await;
    store
        .mark_follow_up("ws", "r1", FollowUpReason::Unanswered, 1)
        .await
        .expect("mark");
    store
        .set_follow_up_email("ws", "r1", "a@b.co")
        .await
        .expect("email");
    store
        .follow_up_answered("ws", "r1", 2, Some(10))
        .await
        .expect("answer");
    let racers = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_emails(10, 60_000, 10).await.expect("claim") })
    });
    let mut won = 0;
    for r in racers {
        won += r.await.expect("task").len();
    }
    assert_eq!(won, 1);
}

pub async fn whole_suite<F, Fut>(make: &F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Store>>,
{
    follow_ups_wait_until_answered(make().await).await;
    emails_are_claimed_once_and_recorded_by_their_claim(make().await).await;
    racing_claims_have_one_winner(make().await).await;
}
