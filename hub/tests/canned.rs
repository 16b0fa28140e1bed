//! The saved replies HTTP API: who may manage them, what a reply must be, shortcut uniqueness,
//! the workspace boundary, and problem details for every refusal.

mod common;

use common::{BinResponse, TestHub, http_bin};
use protocol::Role;
use serde_json::{Value, json};

async fn call(
    th: &TestHub,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> BinResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http_bin(th.addr(), method, path, &headers, body.as_bytes()).await
}

fn problem(r: &BinResponse, code: &str, status: u16) {
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
    assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{p}");
}

fn reply(title: &str, shortcut: &str, text: &str) -> String {
    json!({"title": title, "shortcut": shortcut, "text": text}).to_string()
}

async fn list(th: &TestHub, token: &str) -> Vec<Value> {
    let r = call(th, "GET", "/api/canned-replies", Some(token), "").await;
    assert_eq!(r.status, 200, "{}", r.head);
    r.json()["replies"].as_array().expect("replies").clone()
}

#[tokio::test]
async fn owners_and_editors_manage_saved_replies_and_everyone_reads_them() {
    let th = TestHub::start().await;
    let owner = th.token("nora", "demo-pro", Role::Owner);
    let editor = th.token("eddie", "demo-pro", Role::Editor);
    let operator = th.token("martin", "demo-pro", Role::Operator);
    let stranger = th.token("olga", "demo-basic", Role::Owner);

    let created = call(
        &th,
        "POST",
        "/api/canned-replies",
        Some(&owner),
        &reply(
            " Refund timing ",
            "refund",
            "Refunds reach your card within 5 business days.",
        ),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.head);
    let made = created.json();
    assert_eq!(made["title"], "Refund timing");
    assert_eq!(made["updated_by"], "nora");
    let id = made["id"].as_str().expect("id").to_owned();
    // Every operator reads them; an operator may not write.
    assert_eq!(list(&th, &operator).await, std::slice::from_ref(&made));
    let r = call(
        &th,
        "POST",
        "/api/canned-replies",
        Some(&operator),
        &reply("Hi", "hi", "Hello!"),
    )
    .await;
    problem(&r, "role_required", 403);
    let r = call(
        &th,
        "DELETE",
        &format!("/api/canned-replies/{id}"),
        Some(&operator),
        "",
    )
    .await;
    problem(&r, "role_required", 403);
    // A shortcut is unique; an editor changes a reply.
    let r = call(
        &th,
        "POST",
        "/api/canned-replies",
        Some(&editor),
        &reply("Other", "refund", "x"),
    )
    .await;
    problem(&r, "shortcut_taken", 409);
    let r = call(
        &th,
        "PUT",
        &format!("/api/canned-replies/{id}"),
        Some(&editor),
        &reply("Refund timing", "refund", "Refunds take 5 days."),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(
        list(&th, &operator).await[0]["text"],
        "Refunds take 5 days."
    );
    // Another workspace sees none of them and cannot touch them.
    assert!(list(&th, &stranger).await.is_empty());
    let r = call(
        &th,
        "PUT",
        &format!("/api/canned-replies/{id}"),
        Some(&stranger),
        &reply("Mine", "mine", "x"),
    )
    .await;
    problem(&r, "not_found", 404);
    let r = call(
        &th,
        "DELETE",
        &format!("/api/canned-replies/{id}"),
        Some(&stranger),
        "",
    )
    .await;
    problem(&r, "not_found", 404);
    // Deleted once.
    let r = call(
        &th,
        "DELETE",
        &format!("/api/canned-replies/{id}"),
        Some(&owner),
        "",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.head);
    let r = call(
        &th,
        "DELETE",
        &format!("/api/canned-replies/{id}"),
        Some(&owner),
        "",
    )
    .await;
    problem(&r, "not_found", 404);
    assert!(list(&th, &owner).await.is_empty());
}

#[tokio::test]
async fn bad_saved_replies_are_refused_and_nothing_is_stored() {
    let th = TestHub::start().await;
    let owner = th.token("nora", "demo-pro", Role::Owner);
    for (body, code, status) in [
        ("not json".to_owned(), "invalid_body", 422),
        (
            json!({"title": "t", "shortcut": "s"}).to_string(),
            "invalid_body",
            422,
        ),
        (
            json!({"title": "t", "shortcut": "s", "text": "x", "extra": 1}).to_string(),
            "invalid_body",
            422,
        ),
        (reply("\u{200b}", "s", "x"), "invalid_canned_reply", 422),
        (
            reply(&"t".repeat(81), "s", "x"),
            "invalid_canned_reply",
            422,
        ),
        (reply("t", "Refund", "x"), "invalid_canned_reply", 422),
        (reply("t", "(.*)", "x"), "invalid_canned_reply", 422),
        (reply("t", "%[", "x"), "invalid_canned_reply", 422),
        (reply("t", "s", "   "), "invalid_canned_reply", 422),
        (
            reply("t", "s", &"x".repeat(4001)),
            "invalid_canned_reply",
            422,
        ),
    ] {
        let r = call(&th, "POST", "/api/canned-replies", Some(&owner), &body).await;
        problem(&r, code, status);
    }
    let r = call(
        &th,
        "POST",
        "/api/canned-replies",
        None,
        &reply("t", "s", "x"),
    )
    .await;
    problem(&r, "unauthorized", 401);
    let r = call(
        &th,
        "GET",
        "/api/canned-replies",
        Some("forged.token.here"),
        "",
    )
    .await;
    problem(&r, "unauthorized", 401);
    let r = call(
        &th,
        "PUT",
        "/api/canned-replies/cr_nope",
        Some(&owner),
        &reply("t", "s", "x"),
    )
    .await;
    problem(&r, "not_found", 404);
    assert!(list(&th, &owner).await.is_empty());
}
