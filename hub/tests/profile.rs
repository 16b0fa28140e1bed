//! The operator profile over HTTP, and what visitors see of it at a takeover.

mod common;

use common::{BinResponse, TestHub, http_bin};
use hub::profile::samples;
use protocol::Role;
use serde_json::{Value, json};

async fn call(
    th: &TestHub,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> BinResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http_bin(th.addr(), method, path, &headers, body).await
}

async fn get(th: &TestHub, token: &str) -> BinResponse {
    call(
        th,
        "GET",
        "/api/profile",
        Some(token),
        "application/json",
        b"",
    )
    .await
}

async fn put(th: &TestHub, token: &str, body: Value) -> BinResponse {
    let body = body.to_string();
    call(
        th,
        "PUT",
        "/api/profile",
        Some(token),
        "application/json",
        body.as_bytes(),
    )
    .await
}

async fn upload(th: &TestHub, token: &str, bytes: &[u8]) -> BinResponse {
    call(
        th,
        "POST",
        "/api/profile/avatar",
        Some(token),
        "image/png",
        bytes,
    )
    .await
}

/// A refusal is problem details with the code and status of the table.
fn problem(r: &BinResponse, code: &str, status: u16) -> Value {
    assert_eq!(
        r.status,
        status,
        "{} {:?}",
        r.head,
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let p = r.json();
    assert_eq!(p["code"], code, "{p}");
    assert_eq!(p["status"], status);
    assert_eq!(p["type"], format!("urn:take-control:problem:{code}"));
    assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(p["detail"].as_str().is_some_and(|t| !t.is_empty()));
    p
}

#[tokio::test]
async fn without_a_profile_visitors_will_see_human() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let r = get(&th, &token).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["saved"], false);
    assert_eq!(v["visitor_name"], "Human");
    assert_eq!(v["account_name"], "martin account");
    assert_eq!(v["display_name"], Value::Null);
    assert_eq!(v["avatar_url"], Value::Null);
}

#[tokio::test]
async fn upload_save_and_serve_an_avatar() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let up = upload(&th, &token, &samples::png(300, 300)).await;
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let url = up.json()["avatar_url"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with("/avatars/demo-pro/") && url.ends_with(".png"),
        "{url}"
    );
    assert_eq!(
        get(&th, &token).await.json()["saved"],
        false,
        "an upload alone changes nothing"
    );

    let saved = put(
        &th,
        &token,
        json!({"display_name": " Martin from Support ", "avatar_url": url}),
    )
    .await;
    assert_eq!(
        saved.status,
        200,
        "{}",
        String::from_utf8_lossy(&saved.body)
    );
    let v = get(&th, &token).await.json();
    assert_eq!(v["saved"], true);
    assert_eq!(v["display_name"], "Martin from Support");
    assert_eq!(v["visitor_name"], "Martin from Support");
    assert_eq!(v["avatar_url"], url.as_str());

    let img = call(&th, "GET", &url, None, "image/png", b"").await;
    assert_eq!(img.status, 200);
    assert_eq!(img.header("content-type"), Some("image/png"));
    assert_eq!(
        img.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        img.header("cross-origin-resource-policy"),
        Some("cross-origin")
    );
    let decoded = image::load_from_memory(&img.body).expect("a PNG");
    assert_eq!((decoded.width(), decoded.height()), (256, 256));

    // An empty name means the account name; the avatar can be removed.
    let v = put(&th, &token, json!({"display_name": "", "avatar_url": null}))
        .await
        .json();
    assert_eq!(v["visitor_name"], "martin account");
    assert_eq!(v["avatar_url"], Value::Null);
}

#[tokio::test]
async fn profile_changes_are_audited() {
    let th = TestHub::start().await;
    let mut olivia = th.operator("olivia", Role::Owner).await;
    olivia.send(json!({"type": "subscribe_team"})).await;
    olivia.until_type("audit_snapshot").await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    assert_eq!(
        put(&th, &token, json!({"display_name": "M"})).await.status,
        200
    );
    let log = th.hub().audit_log("demo-pro", 10).await.expect("audit");
    let last = log.last().expect("an entry");
    assert_eq!(last.action, protocol::AuditAction::ProfileChanged);
    assert_eq!(last.actor.as_ref().expect("actor").id, "martin");
    // Owners watching the team see it live.
    let live = olivia.until_type("audit_entry").await;
    assert_eq!(live["entry"]["action"], "profile_changed");
    assert_eq!(live["entry"]["actor"]["id"], "martin");
}

#[tokio::test]
async fn no_token_is_unauthorized() {
    let th = TestHub::start().await;
    let r = call(&th, "GET", "/api/profile", None, "application/json", b"").await;
    problem(&r, "unauthorized", 401);
    let r = call(
        &th,
        "GET",
        "/api/profile",
        Some("not-a-jwt"),
        "application/json",
        b"",
    )
    .await;
    problem(&r, "unauthorized", 401);
}

#[tokio::test]
async fn an_expired_token_is_refused_as_expired() {
    let th = TestHub::start().await;
    let token = th.token_with_exp("martin", "demo-pro", Role::Operator, 1_000_000);
    problem(&get(&th, &token).await, "token_expired", 401);
}

#[tokio::test]
async fn a_visitor_token_is_not_an_operator_token() {
    let th = TestHub::start().await;
    let visitor = th.visitor().await;
    problem(&get(&th, &visitor.token).await, "unauthorized", 401);
}

#[tokio::test]
async fn profiles_are_per_workspace() {
    let th = TestHub::start().await;
    let pro = th.token("martin", "demo-pro", Role::Operator);
    let basic = th.token("martin", "demo-basic", Role::Owner);
    assert_eq!(
        put(&th, &pro, json!({"display_name": "Martin at Acme"}))
            .await
            .status,
        200
    );
    let other = get(&th, &basic).await.json();
    assert_eq!(other["workspace_id"], "demo-basic");
    assert_eq!(
        other["saved"], false,
        "the same operator id elsewhere is someone else"
    );
}

#[tokio::test]
async fn another_workspaces_avatar_cannot_be_used_or_fetched_through_ours() {
    let th = TestHub::start().await;
    let pro = th.token("martin", "demo-pro", Role::Operator);
    let basic = th.token("bob", "demo-basic", Role::Owner);
    let url = upload(&th, &pro, &samples::png(200, 200)).await.json()["avatar_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let r = put(
        &th,
        &basic,
        json!({"display_name": "Bob", "avatar_url": url}),
    )
    .await;
    problem(&r, "unknown_avatar", 422);
    // The same hash under the other workspace's path does not exist.
    let hash = url.rsplit('/').next().expect("file");
    let r = call(
        &th,
        "GET",
        &format!("/avatars/demo-basic/{hash}"),
        None,
        "",
        b"",
    )
    .await;
    problem(&r, "not_found", 404);
}

#[tokio::test]
async fn a_made_up_avatar_url_is_refused() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    for url in [
        format!("/avatars/demo-pro/{}.png", "0".repeat(64)),
        "https://evil.example/a.png".to_owned(),
        "/avatars/demo-pro/../../etc/passwd".to_owned(),
    ] {
        let r = put(&th, &token, json!({"avatar_url": url})).await;
        problem(&r, "unknown_avatar", 422);
    }
}

#[tokio::test]
async fn an_invalid_name_is_refused_and_nothing_is_saved() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let p = problem(
        &put(&th, &token, json!({"display_name": "🧑‍💻".repeat(60)})).await,
        "invalid_display_name",
        422,
    );
    assert!(
        p["detail"]
            .as_str()
            .expect("detail")
            .contains("60 characters")
    );
    assert_eq!(get(&th, &token).await.json()["saved"], false);
}

#[tokio::test]
async fn names_that_break_the_layout_are_refused_with_their_reason() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let zalgo: String = "Martin"
        .chars()
        .flat_map(|c| std::iter::once(c).chain(std::iter::repeat_n('\u{336}', 40)))
        .collect();
    for (name, says) in [
        (zalgo.as_str(), "stacks 40 accents or other combining marks"),
        ("Mar\u{2028}tin", "line or paragraph separator (U+2028)"),
        ("Mar\u{2029}tin", "U+2029"),
        ("\u{202E}nitraM", "bidirectional control character (U+202E)"),
        ("Martin\u{2067}x", "U+2067"),
        ("Martin\u{200F}x", "U+200F"),
    ] {
        let p = problem(
            &put(&th, &token, json!({ "display_name": name })).await,
            "invalid_display_name",
            422,
        );
        let detail = p["detail"].as_str().expect("detail");
        assert!(detail.contains(says), "{name:?}: {detail}");
    }
    assert_eq!(get(&th, &token).await.json()["saved"], false);
}

#[tokio::test]
async fn a_malformed_profile_body_is_refused() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let r = call(
        &th,
        "PUT",
        "/api/profile",
        Some(&token),
        "application/json",
        b"{nope",
    )
    .await;
    problem(&r, "invalid_body", 422);
    let r = put(&th, &token, json!({"display_name": 7})).await;
    problem(&r, "invalid_body", 422);
    let r = put(&th, &token, json!({"nickname": "M"})).await;
    problem(&r, "invalid_body", 422);
}

#[tokio::test]
async fn a_rejected_upload_says_why() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let p = problem(
        &upload(&th, &token, &samples::png(300, 200)).await,
        "image_not_square",
        422,
    );
    assert!(p["detail"].as_str().expect("detail").contains("300×200"));
    problem(
        &upload(&th, &token, &samples::png(149, 149)).await,
        "image_too_small",
        422,
    );
    problem(
        &upload(&th, &token, &samples::png_header_only(20_000, 20_000)).await,
        "image_too_large",
        422,
    );
    problem(
        &upload(&th, &token, b"just text, named avatar.png").await,
        "not_an_image",
        415,
    );
}

#[tokio::test]
async fn a_truncated_upload_is_corrupt() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let full = samples::png(300, 300);
    problem(
        &upload(&th, &token, &full[..full.len() / 2]).await,
        "image_corrupt",
        422,
    );
}

#[tokio::test]
async fn an_oversized_upload_is_refused_from_its_length() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let big = vec![0u8; protocol::limits::MAX_AVATAR_BYTES + 4096];
    problem(&upload(&th, &token, &big).await, "payload_too_large", 413);
}

#[tokio::test]
async fn uploads_are_rate_limited_per_operator() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let png = samples::png(150, 150);
    for _ in 0..5 {
        assert_eq!(upload(&th, &token, &png).await.status, 201);
    }
    let r = upload(&th, &token, &png).await;
    problem(&r, "rate_limited", 429);
    let after: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("secs");
    assert!((1..=10).contains(&after), "{after}");
    // Another operator has their own bucket.
    let nora = th.token("nora", "demo-pro", Role::Operator);
    assert_eq!(upload(&th, &nora, &png).await.status, 201);
}

#[tokio::test]
async fn visitors_see_the_profile_from_the_next_takeover_on() {
    let th = TestHub::start().await;
    let token = th.token("martin", "demo-pro", Role::Operator);
    let url = upload(&th, &token, &samples::png(200, 200)).await.json()["avatar_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let saved = put(
        &th,
        &token,
        json!({"display_name": "Martin from Support", "avatar_url": url}),
    )
    .await;
    assert_eq!(saved.status, 200);

    let mut visitor = th.visitor().await;
    let cid = visitor.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    assert_eq!(martin.takeover(&cid).await["type"], "control");
    let joined = visitor.client.until_event("operator_joined").await;
    assert_eq!(joined["operator"]["name"], "Martin from Support");
    assert_eq!(joined["operator"]["avatar_url"], url.as_str());
    assert!(!joined.to_string().contains("martin account"));

    // A profile saved mid-session applies from the next takeover: this one keeps its own.
    assert_eq!(
        put(&th, &token, json!({"display_name": "Someone Else"}))
            .await
            .status,
        200
    );
    martin.say(&cid, "o1", "Hello!").await;
    let msg = visitor.client.until_event("message").await;
    assert_eq!(msg["author"]["name"], "Martin from Support");
    assert_eq!(msg["author"]["avatar_url"], url.as_str());

    martin.release(&cid, false).await;
    let left = visitor.client.until_event("operator_left").await;
    assert_eq!(left["operator"]["name"], "Martin from Support");
    assert_eq!(martin.takeover(&cid).await["type"], "control");
    let again = visitor.client.until_event("operator_joined").await;
    assert_eq!(again["operator"]["name"], "Someone Else");
    assert_eq!(
        again["operator"].get("avatar_url"),
        None,
        "removed with the second save"
    );
}

#[tokio::test]
async fn a_profile_saved_on_one_node_applies_on_another() {
    let redis = testkit::RedisServer::start().await;
    let node = |prefix: &str| {
        let mut c = hub::Config::for_tests();
        c.redis_url = Some(redis.url());
        c.redis_prefix = prefix.to_owned();
        c
    };
    let a = TestHub::with(node("p:"), None).await;
    let b = TestHub::with(node("p:"), None).await;
    let token = a.token("martin", "demo-pro", Role::Operator);
    let url = upload(&a, &token, &samples::png(200, 200)).await.json()["avatar_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(
        put(
            &a,
            &token,
            json!({"display_name": "Martin", "avatar_url": url})
        )
        .await
        .status,
        200
    );
    assert_eq!(get(&b, &token).await.json()["display_name"], "Martin");
    assert_eq!(call(&b, "GET", &url, None, "", b"").await.status, 200);

    let mut visitor = b.visitor().await;
    let mut martin = b.operator("martin", Role::Operator).await;
    martin.takeover(&visitor.conversation_id).await;
    let joined = visitor.client.until_event("operator_joined").await;
    assert_eq!(joined["operator"]["name"], "Martin");
}

#[tokio::test]
async fn paths_under_avatars_that_are_no_avatar_are_not_found() {
    // With the dashboard served: these once fell back to its index.html with 200.
    let dir = std::env::temp_dir().join(hub::util::random_id("spa-"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("index.html"), "<!doctype html><title>x</title>").expect("write");
    let mut config = hub::Config::for_tests();
    config.static_dir = Some(dir.clone());
    let th = TestHub::with(config, None).await;
    let hash = "a".repeat(64);
    for path in [
        format!("/avatars//{hash}.png"),
        format!("/avatars/demo-pro/../{hash}.png"),
        format!("/avatars/demo-pro/x/{hash}.png"),
        "/avatars/demo-pro".to_owned(),
        "/avatars/".to_owned(),
        format!("/avatars/demo-pro/{hash}.png"),
        "/avatars/demo-pro/not-a-hash.png".to_owned(),
    ] {
        let r = call(&th, "GET", &path, None, "text/plain", b"").await;
        problem(&r, "not_found", 404);
    }
    // The dashboard's own routes still load it.
    let spa = call(&th, "GET", "/conversations/x", None, "text/plain", b"").await;
    assert_eq!(spa.status, 200);
    std::fs::remove_dir_all(dir).ok();
}
