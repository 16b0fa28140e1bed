//! Team oversight: presence and the audit log, live across nodes, for owners and editors only.

mod common;

use common::TestHub;
use protocol::Role;
use serde_json::{Value, json};
use testkit::RedisServer;

async fn node(redis: &RedisServer) -> TestHub {
    let mut config = hub::Config::for_tests();
    config.redis_url = Some(redis.url());
    config.redis_prefix = "team:".into();
    config.visitor_token_secret = Some("shared".into());
    config.sweep_interval_ms = 50;
    TestHub::with(config, None).await
}

fn member<'a>(snapshot: &'a Value, id: &str) -> Option<&'a Value> {
    snapshot["members"]
        .as_array()?
        .iter()
        .find(|m| m["id"] == id)
}

fn holds(snapshot: &Value, id: &str, cid: &str) -> bool {
    member(snapshot, id).is_some_and(|m| {
        m["holding"]
            .as_array()
            .is_some_and(|h| h.iter().any(|c| c["conversation_id"] == cid))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_on_a_third_node_sees_operators_on_two_others_live() {
    let redis = RedisServer::start().await;
    let (a, b, c) = (node(&redis).await, node(&redis).await, node(&redis).await);
    let mut martin = a.operator("martin", Role::Operator).await;
    let _nora = b.operator("nora", Role::Operator).await;
    let mut olivia = c.operator("olivia", Role::Owner).await;
    olivia.send(json!({"type": "subscribe_team"})).await;
    let team = olivia.until_type("team_snapshot").await;
    for id in ["martin", "nora", "olivia"] {
        assert_eq!(member(&team, id).expect(id)["online"], true, "{id}: {team}");
    }
    olivia.until_type("audit_snapshot").await;

    let visitor = a.visitor().await;
    let cid = visitor.conversation_id.clone();
    assert_eq!(martin.takeover(&cid).await["type"], "control");
    // The audit entry, then the team as it now is (published in that order).
    let entry = olivia.until_type("audit_entry").await;
    assert_eq!(entry["entry"]["action"], "takeover");
    assert_eq!(entry["entry"]["actor"]["id"], "martin");
    let team = olivia
        .until(|f| f["type"] == "team_snapshot" && holds(f, "martin", &cid))
        .await;
    assert!(
        member(&team, "martin").expect("martin")["holding"][0]["since"]
            .as_u64()
            .expect("since")
            > 0
    );

    // Force-release from the panel (the owner need not have the conversation open). The
    // answer and the audit entry may come in either order: the release runs beside the
    // session's deliveries.
    olivia
        .send(json!({"type": "release", "conversation_id": cid, "force": true}))
        .await;
    let (mut answer, mut entry) = (None, None);
    while answer.is_none() || entry.is_none() {
        let f = olivia.frame().await;
        match f["type"].as_str() {
            Some("control" | "error") => answer = Some(f),
            Some("audit_entry") => entry = Some(f),
            _ => {}
        }
    }
    assert_eq!(answer.expect("answer")["type"], "control");
    let entry = entry.expect("audit entry");
    assert_eq!(
        (
            &entry["entry"]["action"],
            &entry["entry"]["reason"],
            &entry["entry"]["holder_id"]
        ),
        (
            &json!("release"),
            &json!("force_released"),
            &json!("martin")
        )
    );
    olivia
        .until(|f| f["type"] == "team_snapshot" && !holds(f, "martin", &cid))
        .await;

    // Nora disconnects from node b: the owner on node c sees her go offline.
    drop(_nora);
    olivia
        .until(|f| {
            f["type"] == "team_snapshot" && member(f, "nora").is_some_and(|m| m["online"] == false)
        })
        .await;
}

#[tokio::test]
async fn plain_operators_cannot_read_presence_or_audit() {
    let th = TestHub::start().await;
    let mut nora = th.operator("nora", Role::Operator).await;
    nora.send(json!({"type": "subscribe_team"})).await;
    let err = nora.until_type("error").await;
    assert_eq!(err["code"], "role_required");

    let (status, body) = http_with_token(&th, &th.token("nora", "demo-pro", Role::Operator)).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = common::http(th.addr(), "GET", "/api/audit", None).await;
    assert_eq!(status, 401);
    let (status, _) = http_with_token(&th, "forged.token.here").await;
    assert_eq!(status, 401);
}

async fn http_with_token(th: &TestHub, token: &str) -> (u16, String) {
    let auth = format!("Bearer {token}");
    common::http_with(
        th.addr(),
        "GET",
        "/api/audit",
        &[("Authorization", &auth)],
        None,
    )
    .await
}

#[tokio::test]
async fn the_audit_log_records_every_kind_of_release_and_exports_it() {
    let mut config = hub::Config::for_tests();
    config.holder_grace_ms = 300;
    config.holder_idle_ms = 60_000;
    config.sweep_interval_ms = 20;
    let th = TestHub::with(config, None).await;
    let mut eddie = th.operator("eddie", Role::Editor).await;
    eddie.send(json!({"type": "subscribe_team"})).await;
    eddie.until_type("audit_snapshot").await;
    // ended
    let v1 = th.visitor().await;
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.takeover(&v1.conversation_id).await;
    martin.release(&v1.conversation_id, false).await;
    let e = eddie
        .until(|f| f["type"] == "audit_entry" && f["entry"]["action"] == "release")
        .await;
    assert_eq!(
        (&e["entry"]["reason"], &e["entry"]["actor"]["id"]),
        (&json!("ended"), &json!("martin"))
    );

    // force_released
    let v2 = th.visitor().await;
    martin.takeover(&v2.conversation_id).await;
    eddie.release(&v2.conversation_id, true).await;
    let e = eddie
        .until(|f| f["type"] == "audit_entry" && f["entry"]["action"] == "release")
        .await;
    assert_eq!(
        (&e["entry"]["reason"], &e["entry"]["holder_id"]),
        (&json!("force_released"), &json!("martin"))
    );

    // disconnected (automatic: no actor)
    let v3 = th.visitor().await;
    let mut nora = th.operator("nora", Role::Operator).await;
    nora.takeover(&v3.conversation_id).await;
    nora.close().await;
    let e = eddie
        .until(|f| f["type"] == "audit_entry" && f["entry"]["action"] == "release")
        .await;
    assert_eq!(
        (&e["entry"]["reason"], &e["entry"]["holder_id"]),
        (&json!("disconnected"), &json!("nora"))
    );
    assert!(e["entry"].get("actor").is_none());

    // plan refused (basic workspace: its own log)
    let v4 = common::Visitor::connect(th.addr(), "demo-basic", None, None).await;
    let mut bob = th.operator_in("bob", "demo-basic", Role::Owner).await;
    assert_eq!(
        bob.takeover(&v4.conversation_id).await["code"],
        "plan_required"
    );
    let basic = th.hub().audit_log("demo-basic", 10).await.expect("audit");
    assert_eq!(basic.len(), 1);
    assert_eq!(basic[0].action, protocol::AuditAction::PlanRefused);

    // The export has them all, oldest first, as JSON lines.
    let (status, body) = http_with_token(&th, &th.token("eddie", "demo-pro", Role::Editor)).await;
    assert_eq!(status, 200);
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let reasons: Vec<&str> = lines.iter().filter_map(|l| l["reason"].as_str()).collect();
    assert_eq!(reasons, ["ended", "force_released", "disconnected"]);
    assert_eq!(
        lines.iter().filter(|l| l["action"] == "takeover").count(),
        3
    );
}

#[tokio::test]
async fn an_idle_release_is_audited_as_automatic_idle() {
    let mut config = hub::Config::for_tests();
    config.holder_idle_ms = 400;
    config.holder_warn_ms = 100;
    config.sweep_interval_ms = 20;
    let th = TestHub::with(config, None).await;
    let mut olivia = th.operator("olivia", Role::Owner).await;
    olivia.send(json!({"type": "subscribe_team"})).await;
    olivia.until_type("audit_snapshot").await;
    let v = th.visitor().await;
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.takeover(&v.conversation_id).await;
    let e = olivia
        .until(|f| f["type"] == "audit_entry" && f["entry"]["action"] == "release")
        .await;
    assert_eq!(
        (&e["entry"]["reason"], &e["entry"]["holder_id"]),
        (&json!("idle"), &json!("martin"))
    );
    assert!(e["entry"].get("actor").is_none());
}
