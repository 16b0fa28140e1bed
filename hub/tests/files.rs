//! Attachments both ways, over the hub's real HTTP API and sockets: a visitor's screenshot and
//! an operator's PDF, their signed links and how they are served; who may reach what; hostile
//! files refused with clear codes; the store itself on a local directory, in memory and on a
//! real S3-compatible server; and files deleted with their conversation.

mod common;

use common::{BinResponse, TestHub, Visitor, http_bin};
use hub::Config;
use hub::files::{FileStore, Variant};
use hub::profile::samples;
use protocol::Role;
use serde_json::{Value, json};

async fn upload(th: &TestHub, token: &str, query: &str, bytes: &[u8]) -> BinResponse {
    let auth = format!("Bearer {token}");
    http_bin(
        th.addr(),
        "POST",
        &format!("/api/files?{query}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/octet-stream"),
        ],
        bytes,
    )
    .await
}

async fn links(th: &TestHub, token: &str, cid: &str, ids: &[&str]) -> BinResponse {
    let auth = format!("Bearer {token}");
    let body = json!({"conversation_id": cid, "ids": ids}).to_string();
    http_bin(
        th.addr(),
        "POST",
        "/api/files/links",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .await
}

async fn get(th: &TestHub, url: &str) -> BinResponse {
    http_bin(th.addr(), "GET", url, &[], b"").await
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n".to_vec()
}

#[tokio::test]
async fn a_screenshot_goes_up_a_pdf_comes_back_and_each_side_reaches_only_its_own() {
    let th = TestHub::start().await;
    let mut v = th.visitor().await;
    let cid = v.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    martin.open(&cid).await;

    // The visitor pastes a screenshot: a PNG carrying a text chunk with a location.
    let shot = samples::png_with_text(600, "GPS 48.8584 2.2945");
    let up = upload(&th, &v.token, "name=screen%20shot.png", &shot).await;
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    assert_eq!(up.header("access-control-allow-origin"), Some("*"));
    let a = up.json();
    assert_eq!(
        (a["kind"].as_str(), a["content_type"].as_str()),
        (Some("image"), Some("image/png"))
    );
    assert_eq!(
        (a["width"].as_u64(), a["height"].as_u64()),
        (Some(600), Some(600))
    );
    let id = a["id"].as_str().expect("id").to_owned();

    // A message of the file alone: an ordinary message (acked, in history, on the Online row).
    v.client
        .send(json!({"type": "message", "client_id": "v1", "text": "", "attachments": [id]}))
        .await;
    let ack = v.client.until_type("ack").await;
    assert_eq!(ack["client_id"], "v1");
    let ev = martin.until_event("message").await;
    assert_eq!(ev["attachments"][0]["id"], id.as_str());
    assert_eq!(ev["attachments"][0]["name"], "screen shot.png");
    // Re-sent, it is deduplicated like any message.
    v.client
        .send(json!({"type": "message", "client_id": "v1", "text": "", "attachments": [id]}))
        .await;
    assert_eq!(v.client.until_type("ack").await["seq"], ack["seq"]);

    // Martin's links: the file and its thumbnail, served so that nothing can run.
    let l = links(
        &th,
        &th.token("martin", "demo-pro", Role::Operator),
        &cid,
        &[&id],
    )
    .await;
    assert_eq!(l.status, 200, "{}", String::from_utf8_lossy(&l.body));
    let link = &l.json()["links"][0];
    let file = get(&th, link["url"].as_str().expect("url")).await;
    assert_eq!(file.status, 200);
    assert_eq!(file.header("content-type"), Some("image/png"));
    assert_eq!(file.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        file.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    assert!(
        file.header("content-disposition")
            .is_some_and(|d| d.starts_with("inline"))
    );
    assert!(
        !file.body.windows(3).any(|w| w == b"GPS"),
        "metadata survived"
    );
    let img = image::load_from_memory(&file.body).expect("a PNG");
    assert_eq!((img.width(), img.height()), (600, 600));
    let thumb = get(&th, link["thumbnail_url"].as_str().expect("thumb")).await;
    let t = image::load_from_memory(&thumb.body).expect("a PNG");
    assert_eq!((t.width(), t.height()), (320, 320));
    // A forged or altered link: refused.
    let url = link["url"].as_str().expect("url");
    let forged = url.replace("/file?", "/thumb?");
    assert_eq!(get(&th, &forged).await.status, 401);
    let (path, _) = url.split_once('?').expect("query");
    assert_eq!(get(&th, path).await.status, 401);
    assert_eq!(
        get(&th, &format!("{path}?exp=99999999999&sig=00"))
            .await
            .status,
        401
    );

    // Martin takes over and answers with a PDF: the visitor downloads it, as a download only.
    assert_eq!(martin.takeover(&cid).await["type"], "control");
    let mtoken = th.token("martin", "demo-pro", Role::Operator);
    let up = upload(
        &th,
        &mtoken,
        &format!("conversation_id={cid}&name=return-label.pdf"),
        &pdf(),
    )
    .await;
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let label = up.json()["id"].as_str().expect("id").to_owned();
    martin
        .send(json!({"type": "message", "conversation_id": cid, "client_id": "o1", "text": "Here is your label.", "attachments": [label]}))
        .await;
    let sent = martin
        .until(|f| f["type"] == "ack" || f["type"] == "error")
        .await;
    assert_eq!(sent["type"], "ack", "{sent}");
    let got = v
        .client
        .until(|f| f["type"] == "event" && f["event"]["text"] == "Here is your label.")
        .await;
    assert_eq!(
        got["event"]["attachments"][0]["content_type"],
        "application/pdf"
    );
    let l = links(&th, &v.token, &cid, &[&label]).await;
    let link = &l.json()["links"][0];
    assert!(link.get("thumbnail_url").is_none());
    let file = get(&th, link["url"].as_str().expect("url")).await;
    assert_eq!(file.body, pdf());
    assert_eq!(file.header("content-type"), Some("application/pdf"));
    assert!(
        file.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment; filename=\"return-label.pdf\"")),
        "{:?}",
        file.header("content-disposition")
    );

    // Each side attaches only its own side's files; nobody reaches another's conversation.
    v.client
        .send(json!({"type": "message", "client_id": "v2", "text": "x", "attachments": [label]}))
        .await;
    assert_eq!(
        v.client.until_type("error").await["code"],
        "invalid_attachment"
    );
    let other = th.visitor().await;
    assert_eq!(links(&th, &other.token, &cid, &[&id]).await.status, 404);
    let up = upload(&th, &other.token, &format!("conversation_id={cid}"), &shot).await;
    assert_eq!(up.status, 404);
    let stranger = th.token("eve", "demo-basic", Role::Owner);
    assert_eq!(links(&th, &stranger, &cid, &[&id]).await.status, 404);
    let l = links(&th, &other.token, &other.conversation_id, &[&id]).await;
    assert_eq!(
        l.json()["links"],
        json!([]),
        "another conversation's file is not there"
    );
    assert_eq!(links(&th, "not-a-token", &cid, &[&id]).await.status, 401);

    // History (resumed from 0) carries the attachments, not the bytes.
    let back = Visitor::connect(th.addr(), "demo-pro", Some(&v.token), Some(0)).await;
    let files: Vec<&Value> = back.history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e.get("attachments").is_some())
        .collect();
    assert_eq!(files.len(), 2);
}

#[tokio::test]
async fn hostile_files_are_refused_with_clear_codes_and_limits_hold() {
    let mut config = Config::for_tests();
    config.files_per_conversation = 2;
    config.file_max_bytes = 1024 * 1024;
    let th = TestHub::with(config, None).await;
    let v = th.visitor().await;
    let refused = |r: BinResponse| (r.status, r.json()["code"].as_str().unwrap_or("").to_owned());
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    assert_eq!(
        refused(upload(&th, &v.token, "name=x.svg", svg).await),
        (415, "unsupported_file_type".into())
    );
    let html = b"<!doctype html><script>alert(document.cookie)</script>";
    assert_eq!(
        refused(upload(&th, &v.token, "name=x.pdf", html).await),
        (415, "unsupported_file_type".into())
    );
    let truncated = &pdf()[..30];
    assert_eq!(
        refused(upload(&th, &v.token, "name=x.pdf", truncated).await),
        (422, "file_corrupt".into())
    );
    let bomb = samples::png_header_only(60_000, 60_000);
    assert_eq!(
        refused(upload(&th, &v.token, "", &bomb).await),
        (422, "image_too_large".into())
    );
    // 36 megapixels of zeros that deflate to a fraction of a megabyte: refused from the header.
    let idat = samples::png_idat_bomb(6000, 0);
    assert!(idat.len() < 1024 * 1024, "a small file: {}", idat.len());
    assert_eq!(
        refused(upload(&th, &v.token, "", &idat).await),
        (422, "image_too_large".into())
    );
    // 16 bits per channel over the decode budget: refused before decoding too.
    let deep = samples::png16(4096);
    assert_eq!(
        refused(upload(&th, &v.token, "", &deep).await).1,
        "image_too_large"
    );
    let big = vec![7u8; 1024 * 1024 + 10];
    assert_eq!(refused(upload(&th, &v.token, "", &big).await).0, 413);
    let png = samples::png(40, 40);
    assert_eq!(
        refused(upload(&th, &v.token, "", &png[..png.len() - 20]).await),
        (422, "image_corrupt".into())
    );
    // The sender's budget is a burst of 10, then one a second: uploads sent back to back run
    // into it, and the refusal says when to come back.
    let mut limited = None;
    for _ in 0..30 {
        let r = upload(&th, &v.token, "", &png).await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the upload budget ran out");
    assert_eq!(r.json()["code"], "rate_limited");
    assert!(r.header("retry-after").is_some());
    // Two files fit a conversation; a third does not.
    let v = th.visitor().await;
    for _ in 0..2 {
        assert_eq!(upload(&th, &v.token, "", &png).await.status, 201);
    }
    assert_eq!(
        refused(upload(&th, &v.token, "", &png).await),
        (409, "too_many_files".into())
    );
    // Without a token, nothing is read.
    let r = http_bin(th.addr(), "POST", "/api/files", &[], &png).await;
    assert_eq!(r.status, 401);
    // The widget's browser asks first (CORS preflight).
    let pre = http_bin(
        th.addr(),
        "OPTIONS",
        "/api/files",
        &[("Origin", "https://shop.example")],
        b"",
    )
    .await;
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
    assert!(
        pre.header("access-control-allow-headers")
            .is_some_and(|h| h.contains("authorization"))
    );
}

#[tokio::test]
async fn a_message_cannot_carry_too_many_or_unknown_files() {
    let mut config = Config::for_tests();
    config.files_per_message = 2;
    let th = TestHub::with(config, None).await;
    let mut v = th.visitor().await;
    let ids: Vec<String> = (0..3).map(|i| format!("f_{i:020}")).collect();
    v.client
        .send(json!({"type": "message", "client_id": "v1", "text": "x", "attachments": ids}))
        .await;
    let e = v.client.until_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["client_id"].as_str()),
        (Some("invalid_attachment"), Some("v1"))
    );
    v.client
        .send(json!({"type": "message", "client_id": "v2", "text": "", "attachments": ["f_aaaaaaaaaaaaaaaaaaaa"]}))
        .await;
    assert_eq!(
        v.client.until_type("error").await["code"],
        "invalid_attachment"
    );
    // Neither was stored.
    let back = Visitor::connect(th.addr(), "demo-pro", Some(&v.token), Some(0)).await;
    assert_eq!(back.history["events"], json!([]));
}

/// The store through one interface, on each backend: what goes in comes out, a conversation
/// is one prefix, and deleting it leaves nothing.
async fn store_round_trip(store: FileStore) {
    let id = "f_abcdefghij0123456789";
    store
        .put("ws", "cv_a", id, Variant::File, b"one".to_vec())
        .await
        .expect("put");
    store
        .put("ws", "cv_a", id, Variant::Thumb, b"two".to_vec())
        .await
        .expect("put");
    store
        .put("ws", "cv_b", id, Variant::File, b"three".to_vec())
        .await
        .expect("put");
    assert_eq!(
        store
            .get("ws", "cv_a", id, Variant::File)
            .await
            .expect("get")
            .as_deref(),
        Some(&b"one"[..])
    );
    assert_eq!(
        store
            .get("ws", "cv_c", id, Variant::File)
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store.get("ws", "..", id, Variant::File).await.expect("get"),
        None
    );
    let mut convs = store.conversations().await.expect("list");
    convs.sort();
    assert_eq!(
        convs,
        [
            ("ws".to_owned(), "cv_a".to_owned()),
            ("ws".to_owned(), "cv_b".to_owned())
        ]
    );
    assert_eq!(
        store
            .delete_conversation("ws", "cv_a")
            .await
            .expect("delete"),
        2
    );
    assert_eq!(
        store
            .get("ws", "cv_a", id, Variant::Thumb)
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store.conversations().await.expect("list"),
        [("ws".to_owned(), "cv_b".to_owned())]
    );
}

#[tokio::test]
async fn the_store_works_the_same_on_a_directory_in_memory_and_on_s3() {
    let dir = std::env::temp_dir().join(hub::util::random_id("tc-files-"));
    store_round_trip(FileStore::open(dir.to_str().expect("path")).expect("dir")).await;
    let _ = std::fs::remove_dir_all(&dir);
    store_round_trip(FileStore::open("memory:").expect("memory")).await;
    let s3 = testkit::S3Server::start().await;
    store_round_trip(FileStore::open_with(&s3.url(), &s3.options()).expect("s3")).await;
}

#[tokio::test]
async fn files_are_deleted_with_their_conversation() {
    // One directory, two hubs in turn: the second (a restart, with a fresh memory store) has
    // none of the first's conversations, so their files are orphans and its sweep deletes them.
    let dir = std::env::temp_dir().join(hub::util::random_id("tc-files-"));
    let mut config = Config::for_tests();
    config.file_store = dir.to_string_lossy().into_owned();
    let first = TestHub::with(config.clone(), None).await;
    let v = first.visitor().await;
    let up = upload(&first, &v.token, "", &samples::png(30, 30)).await;
    assert_eq!(up.status, 201);
    // The first hub keeps them: its conversation exists.
    assert_eq!(first.hub().sweep_files().await, 0);
    let second = TestHub::with(config, None).await;
    assert_eq!(
        second.hub().sweep_files().await,
        2,
        "the file and its thumbnail"
    );
    assert_eq!(first.hub().sweep_files().await, 0);
    let l = links(
        &first,
        &v.token,
        &v.conversation_id,
        &[up.json()["id"].as_str().expect("id")],
    )
    .await;
    let url = l.json()["links"][0]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(get(&first, &url).await.status, 404, "gone from the store");
    let _ = std::fs::remove_dir_all(&dir);
}
