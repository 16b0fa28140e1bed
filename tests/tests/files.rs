//! Attachments across three nodes sharing one store: a file uploaded through one node is named
//! by a message sent through another, seen by an operator on the third, and served, through a
//! link the third signed, by the first: every node reads the same store and checks links with
//! the same key (derived from the shared visitor token secret).

use std::net::SocketAddr;

use serde_json::{Value, json};
use system::{Client, Cluster, Visitor, operator_token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request with a binary body; the status and the body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{auth}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(system::WAIT, s.read_to_end(&mut out))
        .await
        .expect("an answer within the wait bound")
        .expect("read");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let status = String::from_utf8_lossy(&out[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, out[split + 4..].to_vec())
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_goes_up_through_one_node_and_down_through_another() {
    let dir = std::env::temp_dir().join(hub::util::random_id("tc-files-cluster-"));
    let cluster = Cluster::builder("files")
        .arg("--file-store", dir.to_str().expect("path"))
        .start()
        .await;
    let [n0, n1, n2] = [0, 1, 2].map(|i| cluster.nodes[i].addr);
    let mut visitor = Visitor::connect(n0, None, None).await;
    let cid = visitor.conversation_id.clone();
    let mut martin = Client::operator(n2, &operator_token("martin")).await;
    martin.open(&cid).await;

    // Up through node 1.
    let png = hub::profile::samples::png(200, 120);
    let (status, body) = request(
        n1,
        "POST",
        "/api/files?name=shot.png",
        Some(&visitor.token),
        &png,
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();

    // Through nginx, as browsers upload: a file far above the 64 KB nginx allows other
    // requests is passed on whole (the hub's own limit applies).
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend(std::iter::repeat_n(b'%', 300 * 1024));
    pdf.extend_from_slice(b"\n%%EOF\n");
    let (status, body) = request(
        cluster.lb(),
        "POST",
        "/api/files?name=label.pdf",
        Some(&visitor.token),
        &pdf,
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));

    // Named by a message through node 0; seen on node 2.
    visitor
        .client
        .send(json!({"type": "message", "client_id": "v1", "text": "", "attachments": [id]}))
        .await;
    let ack = visitor
        .client
        .until(|f| f["type"] == "ack" || f["type"] == "error")
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let event = martin.until_event("message").await;
    assert_eq!(event["attachments"][0]["id"], id.as_str());

    // Links signed by node 2, served by node 0 (and node 1): the same bytes.
    let token = operator_token("martin");
    let req = json!({"conversation_id": cid, "ids": [id]}).to_string();
    let (status, body) =
        request(n2, "POST", "/api/files/links", Some(&token), req.as_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let links = json_of(&body);
    let url = links["links"][0]["url"].as_str().expect("url");
    for node in [n0, n1] {
        let (status, file) = request(node, "GET", url, None, b"").await;
        assert_eq!(status, 200, "node {node}");
        let img = image::load_from_memory(&file).expect("an image");
        assert_eq!((img.width(), img.height()), (200, 120));
    }
    let thumb = links["links"][0]["thumbnail_url"].as_str().expect("thumb");
    assert_eq!(request(n1, "GET", thumb, None, b"").await.0, 200);
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}
