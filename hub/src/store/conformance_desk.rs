//! The desk's part of the conformance suite (store/desk.rs): notes, visitor context, the
//! recent list, search and saved replies, the same on every store and topology.

use super::conformance::op;
use super::*;
use protocol::limits::{MAX_CANNED_REPLIES, MAX_NOTES};
use std::sync::Arc;

async fn conversation(store: &dyn Store, ws: &str, id: &str, label: &str, at: Millis) {
    visited(store, ws, id, label, at, &format!("v-{id}")).await;
}

async fn visited(store: &dyn Store, ws: &str, id: &str, label: &str, at: Millis, visitor: &str) {
    store
        .create(NewConversation {
            visitor_id: visitor.into(),
            id: id.into(),
            workspace_id: ws.into(),
            visitor_label: label.into(),
            at,
        })
        .await
        .expect("create");
}

async fn say(store: &dyn Store, ws: &str, id: &str, text: &str, at: Millis) -> Seq {
    let draft = NewEvent::Message {
        author: Author::Visitor,
        text: text.into(),
        client_id: None,
        attachments: Vec::new(),
    };
    store
        .append(ws, id, draft, Writer::Visitor, at)
        .await
        .expect("append")
        .event
        .seq
}

fn note(author: &str, text: &str, client_id: &str) -> NewNote {
    NewNote {
        author: op(author),
        text: text.into(),
        client_id: client_id.into(),
        attachments: Vec::new(),
    }
}

/// Notes are numbered on their own, placed after the event they follow, deduplicated per
/// author, limited, and leave the visitor's sequence untouched.
pub async fn notes_have_their_own_numbering(store: Arc<dyn Store>) {
    conversation(&*store, "ws", "n1", "Visitor", 10).await;
    say(&*store, "ws", "n1", "hello", 11).await;
    let (a, dup) = store
        .add_note("ws", "n1", note("nora", "VIP", "x"), 12)
        .await
        .expect("note");
    assert_eq!((a.id, a.after_seq, a.at, dup), (1, 1, 12, false));
    assert_eq!((a.author.id.as_str(), a.text.as_str()), ("nora", "VIP"));
    assert_eq!(a.client_id.as_deref(), Some("x"));
    // The same client id from another author is another note; from the same, the original.
    let (b, _) = store
        .add_note("ws", "n1", note("martin", "ok", "x"), 13)
        .await
        .expect("note");
    let (again, dup) = store
        .add_note("ws", "n1", note("nora", "VIP!", "x"), 14)
        .await
        .expect("note");
    assert_eq!(
        (b.id, again.id, again.text.as_str(), dup),
        (2, 1, "VIP", true)
    );
    // Notes are not events: the next message is seq 2, and history holds only messages.
    assert_eq!(say(&*store, "ws", "n1", "still there?", 15).await, 2);
    let history = store.history("ws", "n1", 0, 100).await.expect("history");
    assert_eq!(history.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    let (c, _) = store
        .add_note("ws", "n1", note("nora", "after two", "y"), 16)
        .await
        .expect("note");
    assert_eq!(c.after_seq, 2);
    let all = store.notes("ws", "n1", 0).await.expect("notes");
    assert_eq!(all.iter().map(|n| n.id).collect::<Vec<_>>(), [1, 2, 3]);
    let later = store.notes("ws", "n1", 2).await.expect("notes");
    assert_eq!(later.iter().map(|n| n.id).collect::<Vec<_>>(), [3]);
    // Another workspace's id, or none at all: not found, nothing stored.
    for (ws, id) in [("other", "n1"), ("ws", "nope")] {
        let r = store.add_note(ws, id, note("nora", "x", "z"), 17).await;
        assert!(matches!(r, Err(StoreError::NotFound)), "{ws}/{id}: {r:?}");
    }
    assert!(matches!(
        store.notes("other", "n1", 0).await,
        Err(StoreError::NotFound)
    ));
    // The limit: the last one fits, the next is refused and not stored.
    conversation(&*store, "ws", "n2", "Visitor", 10).await;
    for i in 0..MAX_NOTES {
        store
            .add_note("ws", "n2", note("nora", "n", &format!("c{i}")), 20)
            .await
            .expect("under the limit");
    }
    let over = store
        .add_note("ws", "n2", note("nora", "n", "over"), 21)
        .await;
    assert!(matches!(over, Err(StoreError::LimitReached)), "{over:?}");
    assert_eq!(
        store.notes("ws", "n2", 0).await.expect("notes").len(),
        MAX_NOTES
    );
}

pub async fn context_is_kept_per_conversation(store: Arc<dyn Store>) {
    conversation(&*store, "ws", "x1", "Visitor", 10).await;
    assert_eq!(store.context("ws", "x1").await.expect("context"), None);
    let ctx = protocol::VisitorContext {
        url: Some("https://shop.example/a".into()),
        title: Some("A".into()),
        language: Some("de-CH".into()),
        time_zone: Some("Europe/Zurich".into()),
        ..Default::default()
    };
    store.set_context("ws", "x1", &ctx).await.expect("set");
    assert_eq!(
        store.context("ws", "x1").await.expect("context"),
        Some(ctx.clone())
    );
    assert_eq!(store.context("other", "x1").await.expect("context"), None);
    let missing = store.set_context("other", "x1", &ctx).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert!(store.get("other", "x1").await.expect("get").is_none());
}

/// A brief is claimed once per stretch (racing claims: one winner), stored only for the
/// stretch claimed last, and never for another workspace's id.
pub async fn briefs_are_made_once_per_stretch(store: Arc<dyn Store>) {
    use protocol::{Brief, BriefSource, BriefState};
    conversation(&*store, "ws", "b1", "Visitor", 10).await;
    assert_eq!(store.brief("ws", "b1").await.expect("brief"), None);
    let pending = BriefState::Pending { since: 11 };
    let mut claims = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let pending = pending.clone();
        claims.push(tokio::spawn(async move {
            store
                .claim_brief("ws", "b1", 2, &pending)
                .await
                .expect("claim")
        }));
    }
    let mut won = 0;
    for c in claims {
        won += usize::from(c.await.expect("join"));
    }
    assert_eq!(won, 1, "one claim per stretch");
    assert_eq!(
        store.brief("ws", "b1").await.expect("brief"),
        Some(pending.clone())
    );
    // An older stretch cannot be claimed after a newer one.
    assert!(
        !store
            .claim_brief("ws", "b1", 0, &pending)
            .await
            .expect("claim")
    );
    let ready = BriefState::Ready {
        brief: Brief {
            wants: "A refund".into(),
            answered: "The policy".into(),
            why_human: None,
            language: Some("de".into()),
            made_by: BriefSource::Knowledge,
        },
        at: 12,
    };
    assert!(!store.set_brief("ws", "b1", 1, &ready).await.expect("set"));
    assert!(store.set_brief("ws", "b1", 2, &ready).await.expect("set"));
    assert_eq!(
        store.brief("ws", "b1").await.expect("brief"),
        Some(ready.clone())
    );
    // A later stretch replaces it; the earlier one's late result is dropped.
    assert!(
        store
            .claim_brief("ws", "b1", 4, &pending)
            .await
            .expect("claim")
    );
    assert!(!store.set_brief("ws", "b1", 2, &ready).await.expect("set"));
    assert_eq!(
        store.brief("ws", "b1").await.expect("brief"),
        Some(pending.clone())
    );
    // Another workspace's id: not found, nothing made.
    assert!(matches!(
        store.claim_brief("other", "b1", 9, &pending).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.brief("other", "b1").await,
        Err(StoreError::NotFound) | Ok(None)
    ));
}

/// Conversations that left the Online list, newest first, paged by cursor, without those that
/// came back; search by every word, by label and id, never across workspaces.
pub async fn recent_and_search(store: Arc<dyn Store>) {
    conversation(&*store, "ws", "r1", "Visitor 1A", 10).await;
    say(&*store, "ws", "r1", "My parcel is late", 11).await;
    conversation(&*store, "ws", "r2", "Visitor 2B", 10).await;
    say(&*store, "ws", "r2", "Refund for my parcel please", 12).await;
    conversation(&*store, "ws", "r3", "Visitor 3C", 10).await;
    say(&*store, "ws", "r3", "Do you ship to Zürich?", 13).await;
    conversation(&*store, "other", "q1", "Visitor 9Z", 10).await;
    say(&*store, "other", "q1", "parcel parcel", 14).await;
    // Nothing left the list yet: nothing recent, nothing indexed.
    assert!(
        store
            .recent("ws", None, 10)
            .await
            .expect("recent")
            .is_empty()
    );
    let parcel = vec!["parcel".to_owned()];
    assert!(
        store
            .search("ws", &parcel, 10)
            .await
            .expect("search")
            .is_empty()
    );
    let gone = store.deactivate_idle(100).await.expect("sweep");
    assert_eq!(gone.len(), 4);

    let ids = |metas: Vec<ConversationMeta>| metas.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.recent("ws", None, 10).await.expect("recent")),
        ["r3", "r2", "r1"]
    );
    let first = store.recent("ws", None, 2).await.expect("recent");
    let cursor = RecentCursor {
        at: first[1].last_activity_at,
        id: first[1].id.clone(),
    };
    assert_eq!(ids(first), ["r3", "r2"]);
    assert_eq!(
        ids(store.recent("ws", Some(&cursor), 2).await.expect("page")),
        ["r1"]
    );

    assert_eq!(
        ids(store.search("ws", &parcel, 10).await.expect("search")),
        ["r2", "r1"]
    );
    let both = vec!["refund".to_owned(), "parcel".to_owned()];
    assert_eq!(
        ids(store.search("ws", &both, 10).await.expect("search")),
        ["r2"]
    );
    let accented = desk::query_words("ZÜRICH");
    assert_eq!(
        ids(store.search("ws", &accented, 10).await.expect("search")),
        ["r3"]
    );
    let label = desk::query_words("2b");
    assert_eq!(
        ids(store.search("ws", &label, 10).await.expect("search")),
        ["r2"]
    );
    let by_id = desk::query_words("R1");
    assert_eq!(
        ids(store.search("ws", &by_id, 10).await.expect("search")),
        ["r1"]
    );
    let none = vec!["parcel".to_owned(), "absent".to_owned()];
    assert!(
        store
            .search("ws", &none, 10)
            .await
            .expect("search")
            .is_empty()
    );
    assert!(
        store
            .search("ws", &[], 10)
            .await
            .expect("search")
            .is_empty()
    );
    assert_eq!(
        ids(store.search("other", &parcel, 10).await.expect("search")),
        ["q1"]
    );

    // Back on the Online list: not recent (still found by search, by what was indexed).
    say(&*store, "ws", "r1", "me again", 200).await;
    assert_eq!(
        ids(store.recent("ws", None, 10).await.expect("recent")),
        ["r3", "r2"]
    );
    // Off again: recent again, at its new activity, and its new words are indexed.
    store.deactivate_idle(300).await.expect("sweep");
    assert_eq!(
        ids(store.recent("ws", None, 10).await.expect("recent")),
        ["r1", "r3", "r2"]
    );
    let again = vec!["again".to_owned()];
    assert_eq!(
        ids(store.search("ws", &again, 10).await.expect("search")),
        ["r1"]
    );
}

/// A visitor's other conversations, newest first; another visitor's and another workspace's
/// are not among them.
pub async fn earlier_conversations_of_a_visitor(store: Arc<dyn Store>) {
    visited(&*store, "ws", "e1", "Visitor 1", 10, "vi_a").await;
    visited(&*store, "ws", "e2", "Visitor 1", 20, "vi_a").await;
    visited(&*store, "ws", "e3", "Visitor 1", 30, "vi_a").await;
    visited(&*store, "ws", "f1", "Visitor 2", 40, "vi_b").await;
    visited(&*store, "other", "g1", "Visitor 1", 50, "vi_a").await;
    let ids = |metas: Vec<ConversationMeta>| metas.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.earlier("ws", "e3", 10).await.expect("earlier")),
        ["e2", "e1"]
    );
    assert_eq!(
        ids(store.earlier("ws", "e1", 10).await.expect("earlier")),
        ["e3", "e2"]
    );
    assert_eq!(
        ids(store.earlier("ws", "e3", 1).await.expect("earlier")),
        ["e2"]
    );
    assert!(
        store
            .earlier("ws", "f1", 10)
            .await
            .expect("earlier")
            .is_empty()
    );
    assert!(
        store
            .earlier("other", "g1", 10)
            .await
            .expect("earlier")
            .is_empty()
    );
    let foreign = store.earlier("other", "e1", 10).await;
    assert!(
        !matches!(foreign, Ok(ref v) if !v.is_empty()),
        "{foreign:?}"
    );
}

fn reply(id: &str, shortcut: &str) -> protocol::canned::CannedReply {
    protocol::canned::CannedReply {
        id: id.into(),
        title: format!("Title {id}"),
        shortcut: shortcut.into(),
        text: format!("Text of {id}"),
        updated_at: 1,
        updated_by: "nora".into(),
    }
}

pub async fn canned_replies_per_workspace(store: Arc<dyn Store>) {
    store
        .save_canned_reply("ws", &reply("a", "refund"), true)
        .await
        .expect("create");
    store
        .save_canned_reply("ws", &reply("b", "hello"), true)
        .await
        .expect("create");
    let taken = store
        .save_canned_reply("ws", &reply("c", "refund"), true)
        .await;
    assert!(matches!(taken, Err(StoreError::ShortcutTaken)), "{taken:?}");
    // Replacing keeps its own shortcut or takes a free one; not another's.
    let mut changed = reply("a", "refund");
    changed.text = "New text".into();
    store
        .save_canned_reply("ws", &changed, false)
        .await
        .expect("replace");
    let clash = store
        .save_canned_reply("ws", &reply("a", "hello"), false)
        .await;
    assert!(matches!(clash, Err(StoreError::ShortcutTaken)), "{clash:?}");
    let missing = store
        .save_canned_reply("ws", &reply("zz", "zz"), false)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let all = store.canned_replies("ws").await.expect("list");
    assert_eq!(
        all.iter()
            .map(|r| (r.id.as_str(), r.shortcut.as_str()))
            .collect::<Vec<_>>(),
        [("b", "hello"), ("a", "refund")]
    );
    assert_eq!(all[1].text, "New text");
    // Another workspace sees none of them, may use the same shortcut, and cannot delete them.
    assert!(
        store
            .canned_replies("other")
            .await
            .expect("list")
            .is_empty()
    );
    store
        .save_canned_reply("other", &reply("o", "refund"), true)
        .await
        .expect("own");
    let foreign = store.delete_canned_reply("other", "a").await;
    assert!(matches!(foreign, Err(StoreError::NotFound)), "{foreign:?}");
    store.delete_canned_reply("ws", "a").await.expect("delete");
    let twice = store.delete_canned_reply("ws", "a").await;
    assert!(matches!(twice, Err(StoreError::NotFound)), "{twice:?}");
    // The limit.
    for i in 1..MAX_CANNED_REPLIES {
        store
            .save_canned_reply("ws", &reply(&format!("m{i}"), &format!("s{i}")), true)
            .await
            .expect("under the limit");
    }
    let over = store
        .save_canned_reply("ws", &reply("over", "over"), true)
        .await;
    assert!(matches!(over, Err(StoreError::LimitReached)), "{over:?}");
    assert_eq!(
        store.canned_replies("ws").await.expect("list").len(),
        MAX_CANNED_REPLIES
    );
}

/// Two editors saving the same shortcut at once: exactly one wins.
pub async fn concurrent_shortcuts_have_one_winner(store: Arc<dyn Store>) {
    let saves = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .save_canned_reply("ws", &reply(&format!("r{i}"), "same"), true)
                .await
        })
    });
    let results = futures_util::future::join_all(saves).await;
    let won = results.iter().filter(|r| matches!(r, Ok(Ok(())))).count();
    assert_eq!(won, 1, "{results:?}");
    assert_eq!(store.canned_replies("ws").await.expect("list").len(), 1);
}

pub async fn whole_suite<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Store>>,
{
    notes_have_their_own_numbering(make().await).await;
    context_is_kept_per_conversation(make().await).await;
    briefs_are_made_once_per_stretch(make().await).await;
    recent_and_search(make().await).await;
    earlier_conversations_of_a_visitor(make().await).await;
    canned_replies_per_workspace(make().await).await;
    concurrent_shortcuts_have_one_winner(make().await).await;
}
