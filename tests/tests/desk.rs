//! The operator's desk across hub nodes on one Redis: internal notes never reach a widget (live
//! or resumed from seq 0) and leave no gap in its sequence; the visitor's context and page
//! changes reach operators on another node; a conversation that left the Online list is in
//! Recent and found by a word from it.

use serde_json::{Value, json};
use system::{Client, Cluster, Visitor, WORKSPACE, operator_token};

fn is_note(f: &Value, client_id: &str) -> bool {
    f["type"] == "note" && f["note"]["client_id"] == client_id
}

/// Every `seq` of a history frame, checked 1, 2, 3, … with no gap.
fn gap_free(history: &Value) -> u64 {
    let seqs: Vec<u64> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "a widget's history has a gap");
    seqs.len() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_reach_every_operator_and_never_a_widget() {
    let cluster = Cluster::builder("desk-notes").start().await;
    let (a, b) = (cluster.nodes[0].addr, cluster.nodes[1].addr);
    // The visitor on node B, the note's author on node A, a teammate on node B.
    let mut visitor = Visitor::connect(b, None, None).await;
    let cid = visitor.conversation_id.clone();
    let mut nora = Client::operator(a, &operator_token("nora")).await;
    let mut martin = Client::operator(b, &operator_token("martin")).await;
    nora.open(&cid).await;
    martin.open(&cid).await;

    let note = |client_id: &str, text: &str| json!({"type": "note", "conversation_id": cid, "client_id": client_id, "text": text});
    // While the AI holds the conversation.
    nora.send(note("n1", "SECRET-NOTE-1 VIP customer")).await;
    let first = nora.until(|f| is_note(f, "n1")).await;
    assert_eq!(first["note"]["id"], 1, "{first}");
    assert_eq!(
        martin.until(|f| is_note(f, "n1")).await["note"],
        first["note"]
    );
    visitor.say("v1", "Where is my parcel?").await;
    nora.send(note("n2", "SECRET-NOTE-2 check the carrier"))
        .await;
    martin.until(|f| is_note(f, "n2")).await;
    // A re-sent note is answered with the original and stored once.
    nora.send(note("n1", "SECRET-NOTE-1 again")).await;
    let again = nora.until(|f| is_note(f, "n1")).await;
    assert_eq!(again["note"], first["note"]);
    // After a takeover, from the holder's teammate too.
    assert_eq!(nora.takeover(&cid).await["type"], "control");
    martin
        .send(note("n3", "SECRET-NOTE-3 from a teammate"))
        .await;
    nora.until(|f| is_note(f, "n3")).await;
    let marker = nora.say(&cid, "o1", "marker").await;
    assert_eq!(marker["type"], "ack", "{marker}");

    // Everything the widget was sent, live, up to the marker: no note, no note text.
    let mut live = Vec::new();
    loop {
        let f = visitor.client.frame().await;
        let done = f["type"] == "event" && f["event"]["text"] == "marker";
        live.push(f);
        if done {
            break;
        }
    }
    for f in &live {
        assert_ne!(f["type"], "note", "a widget got a note: {f}");
        assert!(!f.to_string().contains("SECRET-NOTE"), "note text in {f}");
    }
    // Resumed from seq 0, on either node and through the load balancer: gap-free, note-free.
    let last = marker["seq"].as_u64().expect("seq");
    for addr in [a, b, cluster.lb()] {
        let resumed = Visitor::connect(addr, Some(&visitor.token), Some(0)).await;
        assert_eq!(gap_free(&resumed.history), last, "resumed on {addr}");
        let text = resumed.history.to_string();
        assert!(
            !text.contains("SECRET-NOTE") && !text.contains("\"notes\""),
            "{text}"
        );
        resumed.client.close().await;
    }
    // An operator opening it gets the three notes, in order, after the events they follow.
    let mut late = Client::operator(cluster.lb(), &operator_token("late")).await;
    let history = late.open(&cid).await;
    let notes = history["notes"].as_array().expect("notes");
    let ids: Vec<u64> = notes
        .iter()
        .map(|n| n["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(notes[0]["after_seq"], 0);
    assert!(notes[2]["after_seq"].as_u64() > notes[1]["after_seq"].as_u64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_notes_are_refused_and_nothing_is_stored() {
    let cluster = Cluster::builder("desk-bad").start().await;
    let visitor = Visitor::connect(cluster.lb(), None, None).await;
    let cid = visitor.conversation_id.clone();
    let mut op = Client::operator(cluster.lb(), &operator_token("nora")).await;
    for (frame, code) in [
        (
            json!({"type": "note", "conversation_id": cid, "client_id": "n1", "text": " \u{200b} "}),
            "empty_message",
        ),
        (
            json!({"type": "note", "conversation_id": cid, "client_id": "n2", "text": "x".repeat(4001)}),
            "message_too_long",
        ),
        (
            json!({"type": "note", "conversation_id": cid, "client_id": "", "text": "hi"}),
            "invalid_client_id",
        ),
        (
            json!({"type": "note", "conversation_id": "cv_of_someone_else", "client_id": "n3", "text": "hi"}),
            "conversation_not_found",
        ),
        (json!({"type": "search", "query": "   "}), "invalid_frame"),
        (
            json!({"type": "search", "query": "q".repeat(201)}),
            "invalid_frame",
        ),
        (
            json!({"type": "recent", "cursor": "not-a-cursor"}),
            "invalid_frame",
        ),
    ] {
        op.send(frame.clone()).await;
        let err = op.until_type("error").await;
        assert_eq!(err["code"], code, "{frame} -> {err}");
    }
    // A widget may not send a note.
    let mut w = visitor.client;
    w.send(json!({"type": "note", "conversation_id": cid, "client_id": "n", "text": "hi"}))
        .await;
    assert_eq!(w.until_type("error").await["code"], "forbidden");
    let history = op.open(&cid).await;
    assert!(history.get("notes").is_none(), "{history}");
}

/// The widget's hello with a context.
async fn visitor_with_context(addr: std::net::SocketAddr, context: Value) -> Visitor {
    let mut client = Client::connect(addr, "/ws/widget").await;
    client
        .send(
            json!({"type": "hello", "protocol": 1, "workspace_id": WORKSPACE, "context": context}),
        )
        .await;
    let welcome = client.frame().await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let history = client.frame().await;
    Visitor {
        conversation_id: welcome["conversation_id"].as_str().expect("id").to_owned(),
        token: welcome["visitor_token"].as_str().expect("token").to_owned(),
        client,
        welcome,
        history,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_recent_and_search_across_nodes() {
    let cluster = Cluster::builder("desk-find")
        .arg("--conversation-idle-secs", "1")
        .arg("--sweep-interval-ms", "100")
        .start()
        .await;
    let (a, b) = (cluster.nodes[0].addr, cluster.nodes[1].addr);
    let mut op = Client::operator(a, &operator_token("nora")).await;
    op.send(json!({"type": "subscribe_online"})).await;
    op.until_type("online_view").await;
    let context = json!({
        "url": "javascript:alert(1)", "title": "Order #1042", "language": "de-CH",
        "time_zone": "Europe/Zurich", "referrer": "https://r.example/".repeat(200),
    });
    let mut visitor = visitor_with_context(b, context).await;
    let cid = visitor.conversation_id.clone();
    assert!(
        visitor.history.get("context").is_none(),
        "a widget is not sent the context"
    );
    let history = op.open(&cid).await;
    // Kept as text (the dashboard never makes it a link); the over-long referrer dropped.
    assert_eq!(
        history["context"],
        json!({"url": "javascript:alert(1)", "title": "Order #1042", "language": "de-CH", "time_zone": "Europe/Zurich"})
    );
    // A page change on node B reaches the operator on node A; an over-long one is refused.
    visitor
        .client
        .send(json!({"type": "page", "url": format!("https://shop.example/{}", "x".repeat(2100))}))
        .await;
    assert_eq!(
        visitor.client.until_type("error").await["code"],
        "invalid_frame"
    );
    visitor
        .client
        .send(json!({"type": "page", "url": "https://shop.example/returns", "title": "Returns"}))
        .await;
    let moved = op.until_type("visitor_context").await;
    assert_eq!(
        moved["context"]["url"], "https://shop.example/returns",
        "{moved}"
    );
    assert_eq!(moved["context"]["language"], "de-CH");

    visitor.say("v1", "My zebracorn parcel never arrived").await;
    visitor.client.close().await;
    // Off the Online list once idle (the sweep, on whichever node): then Recent and search.
    op.until_gone(&cid).await;
    let mut other = Client::operator(b, &operator_token("martin")).await;
    other.send(json!({"type": "recent"})).await;
    let recent = other.until_type("recent").await;
    assert_eq!(recent["conversations"][0]["id"], cid, "{recent}");
    for (query, found) in [
        ("ZEBRACORN", true),
        ("zebracorn parcel", true),
        ("zebracorn unicorn", false),
        ("(.*) %[ ^$", false),
        ("zebra.*", false),
    ] {
        other.send(json!({"type": "search", "query": query})).await;
        let r = other
            .until(|f| f["type"] == "search_results" && f["query"] == query)
            .await;
        let ids: Vec<&str> = r["conversations"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert_eq!(ids.contains(&cid.as_str()), found, "{query}: {r}");
    }
    // Opened from the results: its history, its visitor gone.
    let h = other.open(&cid).await;
    assert_eq!(h["visitor_online"], false);
    assert!(h.to_string().contains("zebracorn"));

    // The same visitor starts a new conversation: the team sees the first beside it.
    let mut again = Client::connect(a, "/ws/widget").await;
    again
        .send(
            json!({"type": "hello", "protocol": 1, "workspace_id": WORKSPACE,
                     "visitor_token": visitor.token, "last_seq": 3, "new_conversation": true}),
        )
        .await;
    let welcome = again.until_type("welcome").await;
    let second = welcome["conversation_id"].as_str().expect("id").to_owned();
    assert_ne!(second, cid);
    assert_eq!(welcome["visitor_label"], visitor.welcome["visitor_label"]);
    let history = again.until_type("history").await;
    assert_eq!(
        history["events"],
        json!([]),
        "a new conversation starts empty"
    );
    let h = other.open(&second).await;
    let earlier: Vec<&str> = h["earlier"]
        .as_array()
        .expect("earlier")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(earlier, [cid.as_str()]);
    // A stranger's conversation lists none of them.
    let stranger = Visitor::connect(b, None, None).await;
    assert!(
        other
            .open(&stranger.conversation_id)
            .await
            .get("earlier")
            .is_none()
    );
}

/// Every frame of `c` up to the event whose text is "marker" (included).
async fn frames_to_marker(c: &mut Client) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let f = c.frame().await;
        let done = f["type"] == "event" && f["event"]["text"] == "marker";
        frames.push(f);
        if done {
            return frames;
        }
    }
}

fn is_brief(f: &Value, state: &str) -> bool {
    f["type"] == "brief" && f["brief"]["state"] == state
}

/// `takeover`, keeping the frames that came before its answer (`control` or `error`).
async fn takeover_keeping(c: &mut Client, cid: &str) -> (Value, Vec<Value>) {
    c.send(json!({"type": "takeover", "conversation_id": cid}))
        .await;
    let mut before = Vec::new();
    loop {
        let f = c.frame().await;
        if (f["type"] == "control" || f["type"] == "error") && f["conversation_id"] == cid {
            return (f, before);
        }
        before.push(f);
    }
}

/// The ready brief among `seen`, or the next one `c` receives.
async fn brief_ready(c: &mut Client, seen: Vec<Value>) -> Value {
    match seen.into_iter().find(|f| is_brief(f, "ready")) {
        Some(f) => f,
        None => c.until(|f| is_brief(f, "ready")).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_brief_is_made_once_for_every_node_and_brief_and_suggestions_never_reach_a_widget() {
    let cluster = Cluster::builder("desk-brief").start().await;
    let [a, b, c] = [0, 1, 2].map(|i| cluster.nodes[i].addr);
    // The visitor on node C; dashboards on A and B with the conversation open.
    let mut visitor = Visitor::connect(c, None, None).await;
    let cid = visitor.conversation_id.clone();
    let mut nora = Client::operator(a, &operator_token("nora")).await;
    let mut martin = Client::operator(b, &operator_token("martin")).await;
    nora.open(&cid).await;
    martin.open(&cid).await;
    visitor.say("v1", "How long does shipping take?").await;
    visitor
        .client
        .until(|f| f["type"] == "event" && f["event"]["author"]["kind"] == "ai")
        .await;
    // The visitor asks for a human and, at once, both operators race to take over: one brief
    // is made, whichever node gets there first, and both dashboards see it.
    visitor.client.send(json!({"type": "request_human"})).await;
    let ((m, before_m), (n, before_n)) = tokio::join!(
        takeover_keeping(&mut martin, &cid),
        takeover_keeping(&mut nora, &cid)
    );
    let winners = [&m, &n].iter().filter(|a| a["type"] == "control").count();
    assert_eq!(winners, 1, "{m} {n}");
    // The brief, made from the request, may reach a dashboard before its takeover's answer.
    let on_a = brief_ready(&mut nora, before_n).await;
    let on_b = brief_ready(&mut martin, before_m).await;
    assert_eq!(on_a["brief"], on_b["brief"]);
    let brief = &on_a["brief"]["brief"];
    assert_eq!(brief["wants"], "How long does shipping take?");
    assert_eq!(brief["made_by"], "knowledge");
    let mut made = 0;
    for node in [a, b, c] {
        let (_, metrics) = system::http(node, "GET", "/metrics", None).await;
        made += metrics
            .lines()
            .find_map(|l| l.strip_prefix("tc_briefs_total{outcome=\"made\"} "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .expect("tc_briefs_total exported");
    }
    assert_eq!(
        made, 1,
        "one brief for the request and the takeover, on all nodes together"
    );

    // A suggestion for the holder, to the holder's dashboard alone.
    let (holder, other) = if m["type"] == "control" {
        (&mut martin, &mut nora)
    } else {
        (&mut nora, &mut martin)
    };
    holder
        .send(json!({"type": "suggest", "conversation_id": cid}))
        .await;
    let suggestion = holder.until_type("suggestion").await;
    let text = suggestion["text"].as_str().expect("text").to_owned();
    let marker = holder.say(&cid, "o1", "marker").await;
    assert_eq!(marker["type"], "ack", "{marker}");
    let seen_by_other = frames_to_marker(other).await;
    assert!(
        !seen_by_other.iter().any(|f| f["type"] == "suggestion"),
        "a teammate got the holder's suggestion"
    );
    // The widget, live and resumed from seq 0 on every node: no brief, no suggestion.
    let live = frames_to_marker(&mut visitor.client).await;
    let wants = brief["wants"].as_str().expect("wants").to_owned();
    for f in &live {
        assert!(
            f["type"] != "brief" && f["type"] != "suggestion",
            "a widget got {f}"
        );
        // The question itself is the visitor's own message: look for the brief's framing.
        assert!(!f.to_string().contains("made_by"), "{f}");
    }
    // The suggestion was never sent: the AI's earlier answer is the only copy of its text.
    let copies = live
        .iter()
        .filter(|f| f.to_string().contains(text.as_str()))
        .count();
    assert!(
        copies <= 1,
        "the suggestion's text reached the widget: {live:?}"
    );
    for addr in [a, b, c, cluster.lb()] {
        let resumed = Visitor::connect(addr, Some(&visitor.token), Some(0)).await;
        let h = resumed.history.to_string();
        assert!(!h.contains("\"brief\"") && !h.contains("made_by"), "{h}");
        resumed.client.close().await;
    }
    // A dashboard opening it later, through the load balancer, reads the same brief.
    let mut late = Client::operator(cluster.lb(), &operator_token("late")).await;
    let history = late.open(&cid).await;
    assert_eq!(history["brief"], on_a["brief"]);
    assert_eq!(history["brief"]["brief"]["wants"], wants.as_str());
}
