//! Follow-up emails across three nodes behind nginx, one Redis and one real SMTP server
//! (aiosmtpd): every node's mail loop races for the same due emails, and each answer reaches
//! its visitor exactly once; the team's dashboards, wherever they are, see each follow-up
//! start waiting and each email sent.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use system::{Client, Cluster, Visitor, operator_token};
use testkit::SmtpServer;

const VISITORS: usize = 12;

fn follow_up<'v>(f: &'v Value) -> Option<(&'v str, &'v Value)> {
    (f["type"] == "follow_up")
        .then(|| (f["conversation_id"].as_str().unwrap_or(""), &f["follow_up"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_is_emailed_once_whichever_nodes_race_for_it() {
    let smtp = SmtpServer::start().await;
    let cluster = Cluster::builder("followup")
        .arg("--smtp-url", &smtp.url())
        .arg("--smtp-from", "help@demo.example")
        .arg("--follow-up-delay-ms", "0")
        .arg("--human-wait-ms", "300")
        .start()
        .await;
    let lb = cluster.lb();
    let mut watcher = Client::operator(lb, &operator_token("watcher")).await;
    watcher.send(json!({"type": "subscribe_online"})).await;
    watcher.until_type("online_view").await;

    // Visitors on every node ask for a human nobody gives them, leave an address, and go.
    let mut ids = BTreeMap::new();
    for i in 0..VISITORS {
        let mut v = Visitor::connect(lb, None, None).await;
        v.client.send(json!({"type": "request_human"})).await;
        v.client.until_event("human_request_expired").await;
        let email = format!("visitor{i}@example.com");
        v.client
            .send(json!({"type": "follow_up_email", "email": email}))
            .await;
        v.client.until_event("follow_up_email").await;
        ids.insert(v.conversation_id.clone(), email);
        v.client.close().await;
    }
    let mut waiting = BTreeSet::new();
    while waiting.len() < VISITORS {
        let f = watcher
            .until(|f| {
                follow_up(f).is_some_and(|(_, f)| f["email"].is_string() && f["waiting"] == true)
            })
            .await;
        waiting.insert(follow_up(&f).expect("follow_up").0.to_owned());
    }
    assert_eq!(waiting, ids.keys().cloned().collect());

    // Every visitor seen gone (rows arrive when they change: keep the latest of each).
    let mut lister = Client::operator(lb, &operator_token("lister")).await;
    lister.send(json!({"type": "subscribe_online"})).await;
    let mut online: BTreeMap<String, bool> = BTreeMap::new();
    while ids.keys().any(|id| online.get(id) != Some(&false)) {
        let view = lister.until_type("online_view").await;
        for r in view["rows"].as_array().expect("rows") {
            let id = r["id"].as_str().expect("id").to_owned();
            online.insert(id, r["visitor_online"] == true);
        }
    }

    // Operators on several nodes answer.
    let mut operators = Vec::new();
    for n in 0..3 {
        let mut op = Client::operator(lb, &operator_token(&format!("op{n}"))).await;
        op.send(json!({"type": "subscribe_online"})).await;
        op.until_type("online_view").await;
        operators.push(op);
    }
    for (i, id) in ids.keys().enumerate() {
        let op = &mut operators[i % 3];
        op.takeover(id).await;
        op.say(
            id,
            &format!("a-{i}"),
            &format!("Answer number {i} for you."),
        )
        .await;
    }

    let mut sent = BTreeSet::new();
    while sent.len() < VISITORS {
        let f = watcher
            .until(|f| follow_up(f).is_some_and(|(_, f)| f["delivery"]["state"] == "sent"))
            .await;
        sent.insert(follow_up(&f).expect("follow_up").0.to_owned());
    }
    // Every email recorded sent, none left due: the mail server holds all there will be.
    let mails = smtp.until_messages(VISITORS).await;
    assert_eq!(mails.len(), VISITORS, "one email per answer, none twice");
    for (i, (id, email)) in ids.iter().enumerate() {
        let to_them: Vec<&String> = mails
            .iter()
            .filter(|m| m.contains(&format!("To: {email}")))
            .collect();
        assert_eq!(to_them.len(), 1, "{email}: {to_them:?}");
        assert!(
            to_them[0].contains(&format!("Answer number {i} for you.")),
            "{}",
            to_them[0]
        );
        assert!(to_them[0].contains(&format!("<fu-{id}-")), "{}", to_them[0]);
    }
    let message_ids: BTreeSet<&str> = mails
        .iter()
        .filter_map(|m| m.lines().find(|l| l.starts_with("Message-ID:")))
        .collect();
    assert_eq!(message_ids.len(), VISITORS);
}
