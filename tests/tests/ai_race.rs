//! An AI reply being generated on the visitor's node while an operator on another node takes
//! over: the reply is cancelled or fenced, never stored, never delivered, and nothing of the AI's
//! live turn (draft, typing) reaches the visitor after the join.

use serde_json::json;
use system::cluster::Builder;
use system::{Client, Cluster, Visitor, operator_token};

const ROUNDS: usize = 20;

fn is_ai_typing(f: &serde_json::Value, active: bool) -> bool {
    f["type"] == "typing" && f["author"]["kind"] == "ai" && f["active"] == active
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_in_flight_never_lands_after_a_takeover_from_another_node() {
    ai_race(Cluster::builder("ai-race")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_in_flight_never_lands_after_a_takeover_on_redis_cluster() {
    ai_race(Cluster::builder("ai-race-rc").redis_cluster()).await;
}

async fn ai_race(builder: Builder) {
    let cluster = builder.assistant_delay_ms(300).start().await;
    let lb = cluster.lb();
    let token = operator_token("racer");
    let (mut frames, mut ai_before_takeover) = (0, 0);
    for round in 0..ROUNDS {
        let mut visitor = Visitor::connect(lb, None, None).await;
        let cid = visitor.conversation_id.clone();
        // The operator connects straight to a node other than the visitor's, where the
        // generation runs.
        let other = cluster
            .nodes
            .iter()
            .map(|n| n.addr)
            .find(|a| *a != visitor.client.node)
            .expect("another node");
        let mut op = Client::operator(other, &token).await;

        visitor
            .client
            .send(json!({"type": "message", "client_id": "v1", "text": "How long does shipping take?"}))
            .await;
        // Generation started on the visitor's node (the ack comes before, or around it).
        visitor.client.until(|f| is_ai_typing(f, true)).await;
        let control = op.takeover(&cid).await;
        assert_eq!(control["type"], "control", "round {round}: {control}");

        // Everything the visitor is sent from here until the generation has finished on every
        // node and a marker from the operator has arrived after it (whatever the generation
        // published was published before the marker). The join and the fenced reply's end may
        // come in either order: the visitor's node stops the generation (a fenced append) and
        // tells its own clients at once, while the takeover reaches it through Redis.
        let is_joined =
            |f: &serde_json::Value| f["type"] == "event" && f["event"]["type"] == "operator_joined";
        let mut seen = Vec::new();
        while !seen.iter().any(is_joined) {
            seen.push(visitor.client.frame().await);
            frames += 1;
        }
        cluster.generations_finished().await;
        op.say(&cid, "marker", "marker").await;
        loop {
            let f = visitor.client.frame().await;
            frames += 1;
            let marker = f["type"] == "event" && f["event"]["text"] == "marker";
            seen.push(f);
            if marker {
                break;
            }
        }
        let joined_at = seen.iter().position(is_joined).expect("operator_joined");
        let ai_after = seen[joined_at..]
            .iter()
            .filter(|f| {
                (f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
                    || f["type"] == "ai_draft"
                    || is_ai_typing(f, true)
                    || is_ai_typing(f, false)
            })
            .count();
        assert_eq!(ai_after, 0, "round {round}: {seen:?}");
        ai_before_takeover += seen[..joined_at]
            .iter()
            .filter(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
            .count();

        // The stored history agrees.
        let history = system::client::history(lb, &cid).await;
        let joined = history
            .iter()
            .position(|e| e["type"] == "operator_joined")
            .expect("operator_joined stored");
        assert!(
            history[joined..]
                .iter()
                .all(|e| e["author"]["kind"] != "ai"),
            "round {round}: {history:?}"
        );
        visitor.client.close().await;
        op.close().await;
    }
    println!(
        "ai race on {}: {ROUNDS} rounds, visitor messages sent {ROUNDS}, visitor frames received \
         {frames}, AI messages after takeover 0, AI messages that won before the takeover \
         {ai_before_takeover}, lost 0, duplicated 0",
        cluster.redis.kind()
    );
}
