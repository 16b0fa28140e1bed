//! Running the conversation scripts: one `EVALSHA` built in one buffer (with `WAIT` after it
//! when the store waits for replicas), and the append, the hot path of every message.

use protocol::{ConversationEvent, Millis};

use super::script::{Lua, META_SEPARATOR, ScriptReply, control_error, parse_meta, unpack};
use super::{RedisStore, json, unavailable};
use crate::control::Writer;
use crate::store::{
    Announce, Appended, ConversationMeta, NewEvent, StoreError, dedupe_key, event_json, preview_of,
};

impl RedisStore {
    /// Run a conversation script with its standard keys: one round trip.
    ///
    /// The `EVALSHA` is built here in one buffer rather than through redis-rs's
    /// `ScriptInvocation`, which copies every key and argument into a vector of its own and
    /// then again into the command: 27 allocations per message on the hot path (callgrind). As
    /// there, a script the serving node does not know (first use, Redis restarted, a replica
    /// promoted) is sent whole with `EVAL`, which also caches it there: to that node only, so a
    /// Cluster shard that is failing over does not stop the others.
    pub(super) async fn run(
        &self,
        script: &Lua,
        ws: &str,
        id: &str,
        args: &[&str],
    ) -> Result<ScriptReply, StoreError> {
        self.run_with(script, ws, id, args, None).await
    }

    /// [`RedisStore::run`] for a write a client is told about: with `WAIT` after it when the
    /// store waits for replicas.
    pub(super) async fn run_acked(
        &self,
        script: &Lua,
        ws: &str,
        id: &str,
        args: &[&str],
    ) -> Result<ScriptReply, StoreError> {
        self.run_with(script, ws, id, args, self.wait).await
    }

    pub(super) async fn run_with(
        &self,
        script: &Lua,
        ws: &str,
        id: &str,
        args: &[&str],
        wait: Option<(u32, u64)>,
    ) -> Result<ScriptReply, StoreError> {
        let keys = self.keys.conversation(ws, id);
        let call = |verb: &str, body: &str| {
            let size = keys.0.iter().map(String::len).sum::<usize>()
                + args.iter().map(|a| a.len()).sum::<usize>()
                + body.len()
                + 16;
            let mut cmd = redis::Cmd::with_capacity(3 + keys.0.len() + args.len(), size);
            cmd.arg(verb)
                .arg(body)
                .arg(keys.0.len())
                .arg(&keys.0[..])
                .arg(args);
            cmd
        };
        let mut conn = self.conn.clone();
        let no_script = |e: &redis::RedisError| {
            e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
        };
        let Some((replicas, timeout_ms)) = wait else {
            let reply: String = match call("EVALSHA", &script.hash).query_async(&mut conn).await {
                Err(e) if no_script(&e) => {
                    call("EVAL", &script.source).query_async(&mut conn).await
                }
                other => other,
            }
            .map_err(unavailable)?;
            return ScriptReply::new(reply);
        };
        // The script and the WAIT in one pipeline: on Cluster it goes to the node of the
        // script's first key, where the write was made.
        let pipe = |cmd: redis::Cmd| {
            let mut pipe = redis::pipe();
            pipe.add_command(cmd)
                .cmd("WAIT")
                .arg(replicas)
                .arg(timeout_ms);
            pipe
        };
        let (reply, acked): (String, u32) = match pipe(call("EVALSHA", &script.hash))
            .query_async(&mut conn)
            .await
        {
            Err(e) if no_script(&e) => {
                pipe(call("EVAL", &script.source))
                    .query_async(&mut conn)
                    .await
            }
            other => other,
        }
        .map_err(unavailable)?;
        if acked < replicas {
            // Written on the primary, not yet on enough replicas: the client retries, and the
            // retry (deduplicated, or an unchanged takeover) waits again.
            return Err(StoreError::Unavailable(format!(
                "written, but {acked} of {replicas} replicas confirmed it within {timeout_ms} ms"
            )));
        }
        ScriptReply::new(reply)
    }

    /// Append (see `lua/append.lua`), publishing the event in the same step when `announce`.
    pub(super) async fn append_with(
        &self,
        ws: &str,
        id: &str,
        draft: NewEvent,
        fence: Writer,
        at: Millis,
        announce: Option<&Announce>,
    ) -> Result<(Appended, bool), StoreError> {
        let (fence_kind, fence_arg) = match &fence {
            Writer::Visitor => ("visitor", String::new()),
            Writer::Ai { epoch } => ("ai", epoch.to_string()),
            Writer::Operator(op) => ("operator", op.clone()),
        };
        let (dedupe, preview, needs_human, kind) = match draft {
            NewEvent::Message {
                author,
                text,
                client_id,
                attachments,
            } => {
                let p = Some(preview_of(&author, &text, &attachments));
                let dd = client_id
                    .as_deref()
                    .map(|c| dedupe_key(&author, c))
                    .unwrap_or_default();
                let kind = protocol::EventKind::Message {
                    author,
                    text,
                    client_id,
                    attachments,
                };
                (dd, p, "0", kind)
            }
            NewEvent::HumanRequested { by } => (
                String::new(),
                None,
                "1",
                protocol::EventKind::HumanRequested { by },
            ),
            NewEvent::Plain(e) => (String::new(), None, "0", e.kind()),
        };
        let preview_json = preview.as_ref().map(json).transpose()?.unwrap_or_default();
        let body = json(&kind)?;
        let at_text = at.to_string();
        let known = self.known.get(ws, id);
        let reply = self
            .run_acked(
                &self.append,
                ws,
                id,
                &[
                    fence_kind,
                    &fence_arg,
                    &dedupe,
                    // After its opening brace (lua/common.lua: record).
                    body.strip_prefix('{').unwrap_or(&body),
                    &at_text,
                    &preview_json,
                    needs_human,
                    announce.map_or("", |_| self.publish),
                    announce.map_or("", |a| a.channel.as_str()),
                    announce.map_or("", |a| a.head.as_str()),
                    announce.map_or("", |a| a.tail.as_str()),
                    known.as_ref().map_or("", |k| k.cv.as_str()),
                ],
            )
            .await?;
        let [status, event, meta, extra] = reply.parts();
        let (meta, duplicate) = if status == "okc" {
            // The fields this node holds are current: the meta is them and the message's own.
            let (seq, stored_preview) = meta.split_once(META_SEPARATOR).unwrap_or((meta, ""));
            let corrupt =
                |what: &str| StoreError::Unavailable(format!("corrupt append reply: {what}"));
            let seq = seq.parse().map_err(|_| corrupt("seq"))?;
            let preview = match preview {
                Some(p) => Some(p),
                None if stored_preview.is_empty() => None,
                None => {
                    let stored = serde_json::from_str(stored_preview);
                    Some(stored.map_err(|_| corrupt("preview"))?)
                }
            };
            let known = known.ok_or_else(|| corrupt("a short reply unasked"))?;
            (known.meta(seq, at, preview), false)
        } else {
            if let Some(e) = control_error(status, extra) {
                return Err(e);
            }
            let meta = self.meta(id, meta)?;
            if status == "ok" {
                self.known.remember(extra, &meta);
            }
            (meta, status == "duplicate")
        };
        // A new event is the one just serialized, under the seq the meta now ends at: not
        // parsed back, and its JSON made from the kind's (the bytes the script stored). A
        // duplicate is the first one's, as stored.
        let (event, event_json) = if duplicate {
            (Self::event(event)?, None)
        } else {
            let json = event_json(meta.last_seq, at, &body);
            let event = ConversationEvent {
                seq: meta.last_seq,
                at,
                kind,
            };
            (event, Some(json))
        };
        let appended = Appended {
            event,
            duplicate,
            meta,
            event_json,
        };
        // A duplicate was published when it was first stored.
        let announced = announce.is_some() && !appended.duplicate;
        Ok((appended, announced))
    }

    /// A script's packed meta.
    pub(super) fn meta(&self, id: &str, packed: &str) -> Result<ConversationMeta, StoreError> {
        parse_meta(id, &unpack(packed))
    }

    pub(super) fn event(json: &str) -> Result<ConversationEvent, StoreError> {
        serde_json::from_str(json)
            .map_err(|e| StoreError::Unavailable(format!("corrupt event: {e}")))
    }
}
