//! What an AI reply streamed token by token costs on the wire: bytes of `ai_draft` frames to the
//! visitor and to each watching dashboard, and what crossed Redis meanwhile.
//!
//! [`serve_backend`] is an OpenAI-compatible `/chat/completions` server that answers every
//! request with one reply of `--reply-chars` characters, streamed `--chunk-chars` at a time
//! every `--chunk-ms` (server-sent events, as OpenAI streams). The hubs' workspace uses it as
//! its assistant (`scripts/bench.sh drafts` writes the workspaces file). [`run`] connects a
//! visitor to the first URL and one dashboard per URL, each watching the conversation, has the
//! visitor ask `--replies` questions one after the other, and reads every socket until the
//! stored AI message: the drafts' bytes per reply, their text bytes apart from their envelopes,
//! and whether each socket's assembled draft was sound (complete, and a prefix of the reply).

use std::time::{Duration, Instant};

use clap::Args;
use protocol::draft::DraftText;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Target;
use crate::wire::{self, Ws};

#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long)]
    pub port: u16,
    #[arg(long, default_value_t = 2000)]
    pub reply_chars: usize,
    #[arg(long, default_value_t = 4)]
    pub chunk_chars: usize,
    /// Pause between chunks, in milliseconds (a fast model writes 100–250 tokens a second).
    #[arg(long, default_value_t = 5)]
    pub chunk_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct DraftsArgs {
    /// Replies to stream (one after the other); the report gives the mean per reply.
    #[arg(long, default_value_t = 5)]
    pub replies: usize,
    /// The reply's length, as the backend was told (to compare with what arrived).
    #[arg(long, default_value_t = 2000)]
    pub reply_chars: usize,
    /// Redis URL: its `total_net_input_bytes` and `total_net_output_bytes` are read around
    /// the run (everything the hubs sent it and it sent them: the bus, and the store's calls).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// HS256 secret to sign operator tokens with (the hub's `--operator-jwt-secret`).
    #[arg(long)]
    pub operator_jwt_secret: String,
}

/// The reply the backend streams: words of varying length, so chunks cut words anywhere.
pub fn reply_text(chars: usize) -> String {
    const WORDS: [&str; 8] = [
        "parcel ",
        "leaves ",
        "our ",
        "warehouse ",
        "within ",
        "one ",
        "business ",
        "day. ",
    ];
    WORDS
        .iter()
        .cycle()
        .flat_map(|w| w.chars())
        .take(chars)
        .collect()
}

/// Serve the fake backend until the process is stopped.
pub async fn serve_backend(args: &BackendArgs) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let reply: Vec<char> = reply_text(args.reply_chars).chars().collect();
    loop {
        let (sock, _) = listener.accept().await?;
        let chunks: Vec<String> = reply
            .chunks(args.chunk_chars.max(1))
            .map(|c| c.iter().collect())
            .collect();
        tokio::spawn(stream_reply(
            sock,
            chunks,
            Duration::from_millis(args.chunk_ms),
        ));
    }
}

async fn stream_reply(mut sock: tokio::net::TcpStream, chunks: Vec<String>, pause: Duration) {
    // Read the request: headers, then the body by its Content-Length (ignored otherwise).
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    loop {
        let n = sock.read(&mut tmp).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:")?.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < p + 4 + len {
                let n = sock.read(&mut tmp).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            break;
        }
    }
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
    if sock.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for c in chunks {
        let event =
            json!({"choices": [{"index": 0, "delta": {"content": c}, "finish_reason": null}]});
        if sock
            .write_all(format!("data: {event}\n\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(pause).await;
    }
    let stop = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    let _ = sock
        .write_all(format!("data: {stop}\n\ndata: [DONE]\n\n").as_bytes())
        .await;
}

/// What one socket received of one reply.
#[derive(Debug, Default, Clone, Copy)]
struct Received {
    frames: u64,
    bytes: u64,
    text_bytes: u64,
    /// The draft assembled from the frames was a complete prefix of the stored reply (the last
    /// piece may not have gone out: the stored message replaces the draft).
    sound: bool,
}

/// Read `ws` until the AI's stored message: the draft frames' sizes, and whether the draft
/// assembled from them (as a client does) is the stored reply.
async fn read_reply(ws: &mut Ws, conversation_id: &str) -> anyhow::Result<Received> {
    let mut r = Received::default();
    let mut draft = DraftText::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = tokio::time::timeout_at(deadline.into(), wire::next_text(ws))
            .await
            .map_err(|_| anyhow::anyhow!("no AI message within 60 s"))??;
        let f: Value = serde_json::from_str(&text)?;
        if f["conversation_id"] != conversation_id {
            continue;
        }
        match f["type"].as_str() {
            Some("ai_draft") => {
                r.frames += 1;
                r.bytes += text.len() as u64;
                let piece = f["text"].as_str().unwrap_or("");
                r.text_bytes += piece.len() as u64;
                if f["state"] == "streaming" {
                    // A hub without offsets sends the whole text each time: offset 0 reads so.
                    let offset = f["offset"].as_u64().unwrap_or(0);
                    draft.apply(u32::try_from(offset)?, piece);
                }
            }
            Some("event")
                if f["event"]["type"] == "message" && f["event"]["author"]["kind"] == "ai" =>
            {
                let stored = f["event"]["text"].as_str().unwrap_or("");
                r.sound = draft.complete() && !draft.is_empty() && stored.starts_with(draft.text());
                return Ok(r);
            }
            _ => {}
        }
    }
}

async fn redis_net_bytes(url: &str) -> anyhow::Result<(u64, u64)> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(&mut conn)
        .await?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
            .unwrap_or(0u64)
    };
    Ok((
        field("total_net_input_bytes"),
        field("total_net_output_bytes"),
    ))
}

pub async fn run(target: &Target, args: &DraftsArgs) -> anyhow::Result<String> {
    let workspace = target.workspace(0);
    // Socket 0 is the visitor's (on the first URL); then one dashboard per URL.
    let mut sockets = vec![wire::connect(target.url(0), "/ws/widget").await?];
    let (conversation_id, _) = wire::widget_hello(&mut sockets[0], workspace).await?;
    for (i, url) in target.urls.iter().enumerate() {
        let mut ws = wire::connect(url, "/ws/operator").await?;
        let token =
            wire::operator_token(&args.operator_jwt_secret, &format!("watcher{i}"), workspace)?;
        wire::operator_hello(&mut ws, &token).await?;
        wire::send(
            &mut ws,
            json!({"type": "open", "conversation_id": conversation_id}),
        )
        .await?;
        loop {
            let f: Value = serde_json::from_str(&wire::next_text(&mut ws).await?)?;
            if f["type"] == "history" {
                break;
            }
        }
        sockets.push(ws);
    }
    let before = match &args.redis_url {
        Some(u) => Some(redis_net_bytes(u).await?),
        None => None,
    };
    let started = Instant::now();
    let mut received: Vec<Vec<Received>> = vec![Vec::new(); sockets.len()];
    for n in 0..args.replies {
        let msg = json!({"type": "message", "client_id": format!("q{n}"), "text": format!("Question {n}?")});
        wire::send(&mut sockets[0], msg).await?;
        // Every socket read at once: one left unread could fall behind and be cut off.
        let replies = futures_util::future::try_join_all(
            sockets
                .iter_mut()
                .map(|ws| read_reply(ws, &conversation_id)),
        )
        .await?;
        for (i, r) in replies.into_iter().enumerate() {
            received[i].push(r);
        }
    }
    let elapsed = started.elapsed();
    let after = match &args.redis_url {
        Some(u) => Some(redis_net_bytes(u).await?),
        None => None,
    };

    let replies = args.replies.max(1) as f64;
    let mean = |rs: &[Received]| {
        let sum = |f: fn(&Received) -> u64| rs.iter().map(f).sum::<u64>() as f64 / replies;
        (
            sum(|r| r.frames),
            sum(|r| r.bytes),
            sum(|r| r.text_bytes),
            rs.iter().all(|r| r.sound),
        )
    };
    let chars = args.reply_chars as f64;
    let mut out = format!(
        "drafts: {} replies of {} characters, streamed by the backend in chunks, in {:.1} s\n\n\
         | socket | draft frames per reply | bytes per reply | text bytes | text / reply | bytes / reply | draft sound |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
        args.replies,
        args.reply_chars,
        elapsed.as_secs_f64()
    );
    let mut row = |label: String, rs: &[Received]| {
        let (frames, bytes, text, sound) = mean(rs);
        out.push_str(&format!(
            "| {label} | {frames:.0} | {bytes:.0} | {text:.0} | {:.2}× | {:.2}× | {} |\n",
            text / chars,
            bytes / chars,
            if sound { "yes" } else { "NO" }
        ));
    };
    row("visitor (node 1)".into(), &received[0]);
    for (w, rs) in received[1..].iter().enumerate() {
        row(format!("dashboard on node {}", w + 1), rs);
    }
    if let (Some((in0, out0)), Some((in1, out1))) = (before, after) {
        let input = (in1 - in0) as f64 / replies;
        let output = (out1 - out0) as f64 / replies;
        out.push_str(&format!(
            "\nRedis per reply (bus and store together): {input:.0} bytes in ({:.2}× the reply), \
             {output:.0} bytes out ({:.2}×)\n",
            input / chars,
            output / chars
        ));
    }
    Ok(out)
}
