//! An AI reply streamed in many pieces, watched from three nodes: it arrives whole and sound
//! everywhere, and a dashboard that opens the conversation mid-reply sees the whole draft so far,
//! whether its node has the draft (a snapshot right after `history`) or joined the stream late
//! and missed its beginning (the node asks the generating node for a snapshot).

use protocol::draft::DraftText;
use serde_json::{Value, json};
use system::{Client, Cluster, Visitor, operator_token};

/// What one socket saw of the reply.
#[derive(Debug, Default)]
struct Seen {
    draft: DraftText,
    pieces: usize,
    /// Offsets of the draft frames, in order.
    offsets: Vec<u64>,
    stored: Option<String>,
}

/// Read one frame of `c` into `seen`; `true` once it was the AI's stored message.
async fn read_one(c: &mut Client, cid: &str, seen: &mut Seen) -> bool {
    let f: Value = c.frame().await;
    if f["conversation_id"] != cid {
        return false;
    }
    if f["type"] == "ai_draft" && f["state"] == "streaming" {
        let offset = f["offset"].as_u64().expect("offset");
        seen.offsets.push(offset);
        seen.pieces += 1;
        seen.draft.apply(
            u32::try_from(offset).expect("offset"),
            f["text"].as_str().expect("text"),
        );
    }
    let stored = f["type"] == "event"
        && f["event"]["type"] == "message"
        && f["event"]["author"]["kind"] == "ai";
    if stored {
        seen.stored = f["event"]["text"].as_str().map(str::to_owned);
    }
    stored
}

/// Read `c` until the AI's stored message, assembling the draft as a client does.
async fn watch(c: &mut Client, cid: &str, mut seen: Seen) -> Seen {
    while !read_one(c, cid, &mut seen).await {}
    seen
}

fn assert_sound(who: &str, seen: &Seen) {
    let stored = seen.stored.as_deref().expect("stored reply");
    assert!(seen.draft.complete(), "{who}: every piece placed: {seen:?}");
    assert!(
        !seen.draft.is_empty() && stored.starts_with(seen.draft.text()),
        "{who}: the draft is the reply's beginning: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_reply_arrives_whole_on_every_node_and_late_dashboards_get_the_draft_so_far() {
    // Two seconds of "thinking", then the reply word by word over two more.
    let cluster = Cluster::builder("drafts")
        .assistant_delay_ms(4000)
        .start()
        .await;
    let [n0, n1, n2] = [0, 1, 2].map(|i| cluster.nodes[i].addr);
    let mut visitor = Visitor::connect(n0, None, None).await;
    let cid = visitor.conversation_id.clone();
    // Watching from the start, on another node.
    let mut early = Client::operator(n1, &operator_token("early")).await;
    early.open(&cid).await;

    visitor
        .client
        .send(json!({"type": "message", "client_id": "v1", "text": "How long does shipping take?"}))
        .await;
    let mut v_seen = Seen::default();
    while v_seen.pieces == 0 {
        assert!(
            !read_one(&mut visitor.client, &cid, &mut v_seen).await,
            "the reply streamed before it was stored"
        );
    }

    // Mid-reply: one dashboard on the generating node (which has the whole draft), one on a node
    // with no client in the conversation until now (which has none of it).
    let mut on_origin = Client::operator(n0, &operator_token("late-origin")).await;
    on_origin.open(&cid).await;
    let mut on_other = Client::operator(n2, &operator_token("late-other")).await;
    on_other.open(&cid).await;

    let (v_seen, early_seen, origin_seen, other_seen) = tokio::join!(
        watch(&mut visitor.client, &cid, v_seen),
        watch(&mut early, &cid, Seen::default()),
        watch(&mut on_origin, &cid, Seen::default()),
        watch(&mut on_other, &cid, Seen::default()),
    );

    assert_sound("visitor", &v_seen);
    assert_sound("early dashboard", &early_seen);
    assert_sound("late dashboard on the generating node", &origin_seen);
    assert_sound("late dashboard on another node", &other_seen);
    assert!(
        early_seen.pieces >= 5 && early_seen.offsets[1..].iter().any(|&o| o > 0),
        "the reply travelled in pieces placed by offset: {early_seen:?}"
    );
    // The generating node had the draft: the late dashboard got it whole right after its history.
    assert_eq!(
        origin_seen.offsets.first(),
        Some(&0),
        "a snapshot first: {origin_seen:?}"
    );
    // The other node missed the beginning: a piece it could not place, then the snapshot.
    assert!(
        other_seen.offsets.contains(&0),
        "repaired by a snapshot: {other_seen:?}"
    );
    // Everyone ends with the same text.
    assert_eq!(early_seen.draft.text(), v_seen.draft.text());
    assert_eq!(early_seen.draft.text(), origin_seen.draft.text());
    assert_eq!(early_seen.draft.text(), other_seen.draft.text());
    assert_eq!(early_seen.stored, other_seen.stored);
}
