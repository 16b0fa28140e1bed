//! The Redis store: conversations shared by every node.
//!
//! Each state change is one Lua script, so it is atomic and one round trip: the scripts in
//! `lua/` apply the rules of [`crate::control`] (the conformance suite in `store/conformance.rs`
//! runs against this store and the memory store alike, and against each Redis topology).
//!
//! Every key of a workspace carries the workspace as its hash tag, `{workspace}`: on Redis
//! Cluster all of them lie in one slot, so every script declares each key it touches and runs
//! on one shard, and a message stays one round trip. The cost: one workspace's traffic is
//! served by one shard (docs/architecture.md). Layout, under a configurable prefix `P`:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P{ws}:c:{id}` | hash | meta: workspace, label, times, `seq`, `epoch`, `holder_id`, `holder`, flags; and idempotency: `d:{dedupe key}` → seq |
//! | `P{ws}:c:{id}:ev` | stream | history; entry id `0-{seq}`, field `e` = the event's JSON |
//! | `P{ws}:online` | sorted set | the Online list, scored by last activity (what the idle sweep reads) |
//! | `P{ws}:held` | set | the workspace's held conversations (auto-release, team panel) |
//! | `P{ws}:humanwait` | sorted set | conversations waiting for a human, by request time |
//! | `P{ws}:opseen` | hash | operator id → when a node last saw them connected |
//! | `P{ws}:team`, `P{ws}:opconn` | hash | operators who connected, their open sockets |
//! | `P{ws}:audit` | stream | the audit log, capped |
//! | `P{ws}:profiles` | hash | operator id → saved profile (JSON) |
//! | `P{ws}:avatars` | hash | SHA-256 hex → avatar PNG bytes |
//! | `Pworkspaces` | set | every workspace that has had a conversation: what the sweeps walk (written when a conversation is created, never per message) |

use std::collections::HashMap;

use async_trait::async_trait;
use protocol::{
    AuditActor, AuditEntry, ControlState, ConversationEvent, ConversationId, HeldConversation,
    Holder, MessagePreview, Millis, OperatorRef, ReleaseReason, Seq, TeamMember, WorkspaceId,
};
use redis::AsyncCommands;

use super::{
    AUDIT_KEEP, Announce, Appended, ControlChange, ConversationMeta, Draft, Holding,
    NewConversation, Store, StoreError, dedupe_key, preview, sort_team,
};
use crate::control::{Actor, ControlError, Fence};
use crate::profile::OperatorProfile;
use crate::topology::RedisConn;

const COMMON: &str = include_str!("lua/common.lua");

/// The meta hash fields the hub reads, in the order every read returns them (`HMGET` here and
/// in the scripts, where this list is substituted for `__META__`). Fields only the scripts use
/// (`holder_act`, `vseen`, `human_at`, `warned`, `kept_at`, `listed_at`, the `d:` dedupe
/// entries) stay in Redis: every value read is parsed on every message.
const META_FIELDS: [&str; 13] = [
    "id",
    "ws",
    "label",
    "started",
    "last_act",
    "last_msg",
    "holder_id",
    "holder",
    "epoch",
    "needs_human",
    "vconn",
    "seq",
    "active",
];

/// A meta hash as read: [`META_FIELDS`]' values, `None` where a field is missing.
type MetaValues = Vec<Option<String>>;

/// A script's text with the meta fields substituted: `__META__` is the list, `__META_N__` its
/// length, `__AT_{field}__` a field's position in it. Constants, not Lua tables: a script's top
/// level runs on every call, and a table built there cost Redis more than the `HMGET` it saved.
fn lua(body: &str) -> String {
    let fields: Vec<String> = META_FIELDS.iter().map(|f| format!("'{f}'")).collect();
    let mut body = body
        .replace("__META__", &fields.join(", "))
        .replace("__META_N__", &META_FIELDS.len().to_string());
    for (i, f) in META_FIELDS.iter().enumerate() {
        body = body.replace(&format!("__AT_{f}__"), &(i + 1).to_string());
    }
    body
}

/// A conversation script: its text, and the SHA-1 that `EVALSHA` names it by.
struct Lua {
    hash: String,
    source: String,
}

fn script(body: &str, retention_secs: u64) -> Lua {
    // Renewed a tenth of the period after the last renewal, to 1.1 periods (common.lua: push).
    let period_ms = retention_secs.max(1) * 1000;
    let common = COMMON
        .replace("__RENEW_MS__", &(period_ms / 10).to_string())
        .replace("__TTL_MS__", &(period_ms + period_ms / 10).to_string());
    let source = lua(&format!("{common}\n{body}"));
    Lua {
        hash: redis::Script::new(&source).get_hash().to_owned(),
        source,
    }
}

/// Most conversations taken off the Online list per sweep call and workspace.
const SWEEP_BATCH: usize = 500;

/// Workspaces swept side by side: each sweep is a few round trips per workspace.
const SWEEP_CONCURRENCY: usize = 16;

/// Key names (module docs: the layout). Every key of a workspace starts with `P{ws}:`, its
/// hash tag; `P` itself holds no brace (checked when the store is made).
#[derive(Debug, Clone)]
struct Keys {
    prefix: String,
}

/// A conversation's keys, in the order every conversation script takes them (`common.lua`).
struct ConvKeys([String; 5]);

impl Keys {
    fn tag(&self, ws: &str) -> String {
        format!("{}{{{ws}}}:", self.prefix)
    }

    fn of(&self, ws: &str, what: &str) -> String {
        format!("{}{what}", self.tag(ws))
    }

    fn meta(&self, ws: &str, id: &str) -> String {
        format!("{}c:{id}", self.tag(ws))
    }

    /// The conversation's id from its meta key (the members of the workspace's sets).
    fn id_of<'k>(&self, ws: &str, meta_key: &'k str) -> &'k str {
        let tag = self.tag(ws);
        meta_key
            .strip_prefix(tag.as_str())
            .and_then(|k| k.strip_prefix("c:"))
            .unwrap_or(meta_key)
    }

    fn conversation(&self, ws: &str, id: &str) -> ConvKeys {
        let tag = self.tag(ws);
        let meta = format!("{tag}c:{id}");
        let history = format!("{meta}:ev");
        ConvKeys([
            meta,
            history,
            format!("{tag}online"),
            format!("{tag}held"),
            format!("{tag}humanwait"),
        ])
    }

    fn workspaces(&self) -> String {
        format!("{}workspaces", self.prefix)
    }
}

impl ConvKeys {
    fn meta(&self) -> &str {
        &self.0[0]
    }

    fn history(&self) -> &str {
        &self.0[1]
    }
}

pub struct RedisStore {
    conn: RedisConn,
    keys: Keys,
    /// `SPUBLISH` on Redis Cluster (sharded pub/sub), else `PUBLISH`: the append script's.
    publish: &'static str,
    /// Replicas that must have an acknowledged write, and how long to wait for them
    /// ([`RedisStore::wait_for_replicas`]).
    wait: Option<(u32, u64)>,
    retention_secs: u64,
    append: Lua,
    takeover: Lua,
    release: Lua,
    presence: Lua,
    deactivate: Lua,
    auto_release: Lua,
    warned: Lua,
    expire_visitor: Lua,
    expire_human: Lua,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(crate::topology::describe(&e))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// What every script returns (`result` in common.lua): status, event JSON, the meta fields packed
/// (see [`unpack`]) and an extra value, in one string, [`REPLY_SEPARATOR`] between them. One bulk
/// string, not an array of four: redis-rs's reply parser costs about 1,400 instructions per
/// value, whatever its length (docs/benchmarks.md, "What made it fast").
struct ScriptReply(String);

/// Between the parts of a script's reply: like [`META_SEPARATOR`], a control character none of
/// them can hold.
const REPLY_SEPARATOR: char = '\u{1e}';

impl ScriptReply {
    /// A script's reply, checked: `NotFound` for a missing conversation (the script's whole
    /// reply then), an error unless it has its four parts.
    fn new(text: String) -> Result<Self, StoreError> {
        if text == "not_found" {
            return Err(StoreError::NotFound);
        }
        if text.matches(REPLY_SEPARATOR).count() != 3 {
            return Err(StoreError::Unavailable(format!(
                "malformed script reply of {} bytes",
                text.len()
            )));
        }
        Ok(Self(text))
    }

    /// Status, event JSON, packed meta, extra.
    fn parts(&self) -> [&str; 4] {
        let mut parts = self.0.splitn(4, REPLY_SEPARATOR);
        std::array::from_fn(|_| parts.next().unwrap_or_default())
    }
}

/// Between the packed meta values of a script's reply: a control character, which none of them
/// can hold (ids and labels are the hub's own, the rest numbers or JSON, which escapes it).
const META_SEPARATOR: char = '\u{1f}';

/// The meta values a script packed into one string (`pack` in common.lua): one bulk
/// string costs the reply parser (redis-rs) far less than thirteen. Empty is missing.
fn unpack(packed: &str) -> Vec<Option<&str>> {
    packed
        .split(META_SEPARATOR)
        .map(|v| (!v.is_empty()).then_some(v))
        .collect()
}

/// A prefix that would put a brace before the workspace's hash tag: Redis hashes the first
/// `{…}` of a key, so it would move keys of one workspace to different slots.
#[derive(Debug, thiserror::Error)]
#[error("the Redis key prefix {0:?} must not contain '{{' or '}}'")]
pub struct BadPrefix(pub String);

impl RedisStore {
    /// A store under `prefix` that keeps each conversation `retention_secs` after its last
    /// activity.
    pub fn new(
        conn: RedisConn,
        prefix: impl Into<String>,
        retention_secs: u64,
    ) -> Result<Self, BadPrefix> {
        let s = |body| script(body, retention_secs);
        let prefix = prefix.into();
        if prefix.contains(['{', '}']) {
            return Err(BadPrefix(prefix));
        }
        Ok(Self {
            publish: if conn.is_cluster() {
                "SPUBLISH"
            } else {
                "PUBLISH"
            },
            conn,
            wait: None,
            keys: Keys { prefix },
            retention_secs,
            append: s(include_str!("lua/append.lua")),
            takeover: s(include_str!("lua/takeover.lua")),
            release: s(include_str!("lua/release.lua")),
            presence: s(include_str!("lua/presence.lua")),
            deactivate: s(include_str!("lua/deactivate.lua")),
            auto_release: s(include_str!("lua/auto_release.lua")),
            warned: s(include_str!("lua/warned.lua")),
            expire_visitor: s(include_str!("lua/expire_visitor.lua")),
            expire_human: s(include_str!("lua/expire_human.lua")),
        })
    }

    /// Acknowledge a message, takeover or release only once `replicas` replicas have it, or
    /// answer `unavailable` after `timeout_ms` (`WAIT`, pipelined after the script: no extra
    /// round trip, the time of one replication). 0: do not wait.
    pub fn wait_for_replicas(mut self, replicas: u32, timeout_ms: u64) -> Self {
        self.wait = (replicas > 0).then_some((replicas, timeout_ms));
        self
    }

    /// Every workspace that has had a conversation (the sweeps walk them).
    async fn workspaces(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        conn.smembers(self.keys.workspaces())
            .await
            .map_err(unavailable)
    }

    /// `sweep` run for every workspace, a few side by side; their results in one list.
    async fn each_workspace<'a, T, F, Fut>(&'a self, sweep: F) -> Result<Vec<T>, StoreError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<T>, StoreError>> + 'a,
    {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let all: Vec<Vec<T>> = stream::iter(self.workspaces().await?)
            .map(sweep)
            .buffer_unordered(SWEEP_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(all.into_iter().flatten().collect())
    }

    /// Run a conversation script with its standard keys: one round trip.
    ///
    /// The `EVALSHA` is built here in one buffer rather than through redis-rs's
    /// `ScriptInvocation`, which copies every key and argument into a vector of its own and
    /// then again into the command: 27 allocations per message on the hot path (callgrind). As
    /// there, a script the serving node does not know (first use, Redis restarted, a replica
    /// promoted) is sent whole with `EVAL`, which also caches it there: to that node only, so a
    /// Cluster shard that is failing over does not stop the others.
    async fn run(
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
    async fn run_acked(
        &self,
        script: &Lua,
        ws: &str,
        id: &str,
        args: &[&str],
    ) -> Result<ScriptReply, StoreError> {
        self.run_with(script, ws, id, args, self.wait).await
    }

    async fn run_with(
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
        let no_script =
            |e: &redis::RedisError| e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript);
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
        let (reply, acked): (String, u32) =
            match pipe(call("EVALSHA", &script.hash)).query_async(&mut conn).await {
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
    async fn append_with(
        &self,
        ws: &str,
        id: &str,
        draft: Draft,
        fence: Fence,
        at: Millis,
        announce: Option<&Announce>,
    ) -> Result<(Appended, bool), StoreError> {
        let (fence_kind, fence_arg) = match &fence {
            Fence::Visitor => ("visitor", String::new()),
            Fence::Ai { epoch } => ("ai", epoch.to_string()),
            Fence::Operator(op) => ("operator", op.clone()),
        };
        let (dedupe, preview_json, needs_human, kind) = match draft {
            Draft::Message {
                author,
                text,
                client_id,
            } => {
                let p = json(&preview(&author, &text))?;
                let dd = client_id
                    .as_deref()
                    .map(|c| dedupe_key(&author, c))
                    .unwrap_or_default();
                let kind = protocol::EventKind::Message {
                    author,
                    text,
                    client_id,
                };
                (dd, p, "0", kind)
            }
            Draft::HumanRequested { by } => (
                String::new(),
                String::new(),
                "1",
                protocol::EventKind::HumanRequested { by },
            ),
        };
        let body = json(&kind)?;
        let at_text = at.to_string();
        let reply = self
            .run_acked(
                &self.append,
                ws,
                id,
                &[
                    fence_kind,
                    &fence_arg,
                    &dedupe,
                    &body,
                    &at_text,
                    &preview_json,
                    needs_human,
                    announce.map_or("", |_| self.publish),
                    announce.map_or("", |a| a.channel.as_str()),
                    announce.map_or("", |a| a.head.as_str()),
                    announce.map_or("", |a| a.tail.as_str()),
                ],
            )
            .await?;
        let [status, event, meta, extra] = reply.parts();
        if let Some(e) = control_error(status, extra) {
            return Err(e);
        }
        let meta = self.meta(id, meta)?;
        let duplicate = status == "duplicate";
        // A new event is the one just serialized, under the seq the meta now ends at: not
        // parsed back. A duplicate is the first one's, as stored.
        let event = if duplicate {
            Self::event(event)?
        } else {
            ConversationEvent {
                seq: meta.last_seq,
                at,
                kind,
            }
        };
        let appended = Appended {
            event,
            duplicate,
            meta,
        };
        // A duplicate was published when it was first stored.
        let announced = announce.is_some() && !appended.duplicate;
        Ok((appended, announced))
    }

    /// A script's packed meta.
    fn meta(&self, id: &str, packed: &str) -> Result<ConversationMeta, StoreError> {
        parse_meta(id, &unpack(packed))
    }

    fn event(json: &str) -> Result<ConversationEvent, StoreError> {
        serde_json::from_str(json)
            .map_err(|e| StoreError::Unavailable(format!("corrupt event: {e}")))
    }
}

/// A meta from its values in [`META_FIELDS`] order: owned as `HMGET` replies come, or borrowed
/// from a script's packed reply (no copy of each value on the hot path). `id` names it in
/// errors and in the result.
fn parse_meta<S: AsRef<str>>(
    id: &str,
    values: &[Option<S>],
) -> Result<ConversationMeta, StoreError> {
    let corrupt =
        |what: &str| StoreError::Unavailable(format!("corrupt conversation {id}: {what}"));
    let [
        _id,
        ws,
        label,
        started,
        last_act,
        last_msg,
        holder_id,
        holder,
        epoch,
        needs_human,
        vconn,
        seq,
        active,
    ] = values
    else {
        return Err(corrupt("field count"));
    };
    fn text<S: AsRef<str>>(v: &Option<S>) -> Option<&str> {
        v.as_ref().map(AsRef::as_ref)
    }
    let num = |v: &Option<S>, k: &str| -> Result<u64, StoreError> {
        text(v)
            .and_then(|v| v.parse::<i64>().ok())
            .map(|v| v.max(0) as u64)
            .ok_or_else(|| corrupt(k))
    };
    let holder = match text(holder_id) {
        None | Some("") => Holder::Ai,
        Some(_) => {
            let op: OperatorRef =
                serde_json::from_str(text(holder).ok_or_else(|| corrupt("holder"))?)
                    .map_err(|_| corrupt("holder"))?;
            Holder::Operator(op)
        }
    };
    let last_message: Option<MessagePreview> = match text(last_msg) {
        None | Some("") => None,
        Some(json) => Some(serde_json::from_str(json).map_err(|_| corrupt("last_msg"))?),
    };
    Ok(ConversationMeta {
        id: id.to_owned(),
        workspace_id: text(ws).ok_or_else(|| corrupt("ws"))?.to_owned(),
        visitor_label: text(label).unwrap_or_default().to_owned(),
        started_at: num(started, "started")?,
        last_activity_at: num(last_act, "last_act")?,
        last_message,
        control: ControlState {
            holder,
            epoch: num(epoch, "epoch")?,
        },
        needs_human: text(needs_human) == Some("1"),
        visitor_connections: u32::try_from(num(vconn, "vconn")?).unwrap_or(u32::MAX),
        last_seq: num(seq, "seq")?,
        active: text(active) == Some("1"),
    })
}

fn control_error(status: &str, extra: &str) -> Option<StoreError> {
    let e = match status {
        "stale_epoch" => ControlError::StaleEpoch,
        "not_controlled" => ControlError::NotControlled,
        "not_holder" => ControlError::NotHolder,
        "role_required" => ControlError::RoleRequired,
        "already_controlled" => match serde_json::from_str::<OperatorRef>(extra) {
            Ok(holder) => ControlError::AlreadyControlled(holder),
            Err(_) => return Some(StoreError::Unavailable("corrupt holder".into())),
        },
        _ => return None,
    };
    Some(StoreError::Control(e))
}

#[async_trait]
impl Store for RedisStore {
    async fn create(&self, new: NewConversation) -> Result<ConversationMeta, StoreError> {
        let ws = new.workspace_id.as_str();
        let key = self.keys.meta(ws, &new.id);
        let at = new.at.to_string();
        let mut conn = self.conn.clone();
        // The conversation's keys, in its workspace's slot, in one atomic step…
        let _: () = redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[
                    ("id", new.id.as_str()),
                    ("ws", ws),
                    ("label", new.visitor_label.as_str()),
                    ("started", at.as_str()),
                    ("last_act", at.as_str()),
                    ("seq", "0"),
                    ("epoch", "0"),
                    ("holder_id", ""),
                    ("holder", ""),
                    ("needs_human", "0"),
                    ("vconn", "0"),
                    ("active", "1"),
                    ("last_msg", ""),
                    ("holder_act", at.as_str()),
                    ("vseen", at.as_str()),
                ],
            )
            .expire(&key, self.retention_secs as i64)
            .zadd(self.keys.of(ws, "online"), &key, new.at)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        // …and the workspace on the list the sweeps walk: another slot, so another command,
        // once per conversation (idempotent; never on a message).
        let _: () = conn
            .sadd(self.keys.workspaces(), ws)
            .await
            .map_err(unavailable)?;
        self.get(ws, &new.id).await?.ok_or(StoreError::NotFound)
    }

    async fn get(&self, ws: &str, id: &str) -> Result<Option<ConversationMeta>, StoreError> {
        let mut conn = self.conn.clone();
        let values: MetaValues = redis::cmd("HMGET")
            .arg(self.keys.meta(ws, id))
            .arg(&META_FIELDS[..])
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        parse_meta(id, &values).map(Some)
    }

    async fn append(
        &self,
        ws: &str,
        id: &str,
        draft: Draft,
        fence: Fence,
        at: Millis,
    ) -> Result<Appended, StoreError> {
        self.append_with(ws, id, draft, fence, at, None)
            .await
            .map(|(a, _)| a)
    }

    async fn append_announced(
        &self,
        ws: &str,
        id: &str,
        draft: Draft,
        fence: Fence,
        at: Millis,
        announce: &Announce,
    ) -> Result<(Appended, bool), StoreError> {
        self.append_with(ws, id, draft, fence, at, Some(announce))
            .await
    }

    async fn takeover(
        &self,
        ws: &str,
        id: &str,
        operator: &OperatorRef,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        let op = json(operator)?;
        let at = at.to_string();
        let reply = self
            .run_acked(&self.takeover, ws, id, &[&operator.id, &op, &at])
            .await?;
        let [status, event, meta, extra] = reply.parts();
        if let Some(e) = control_error(status, extra) {
            return Err(e);
        }
        Ok(ControlChange {
            event: if event.is_empty() {
                None
            } else {
                Some(Self::event(event)?)
            },
            meta: self.meta(id, meta)?,
        })
    }

    async fn release(
        &self,
        ws: &str,
        id: &str,
        actor: &Actor,
        force: bool,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        let may_force = if actor.role.may_force_release() {
            "1"
        } else {
            "0"
        };
        let force = if force { "1" } else { "0" };
        let at = at.to_string();
        let reply = self
            .run_acked(
                &self.release,
                ws,
                id,
                &[&actor.operator.id, may_force, force, &at],
            )
            .await?;
        let [status, event, meta, extra] = reply.parts();
        if let Some(e) = control_error(status, extra) {
            return Err(e);
        }
        Ok(ControlChange {
            event: Some(Self::event(event)?),
            meta: self.meta(id, meta)?,
        })
    }

    async fn history(
        &self,
        ws: &str,
        id: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<ConversationEvent>, StoreError> {
        let mut conn = self.conn.clone();
        let keys = self.keys.conversation(ws, id);
        let (exists, entries): (bool, Vec<(String, Vec<(String, String)>)>) = redis::pipe()
            .exists(keys.meta())
            .cmd("XRANGE")
            .arg(keys.history())
            .arg(format!("0-{}", after.saturating_add(1)))
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        entries
            .iter()
            .filter_map(|(_, fields)| fields.iter().find(|(k, _)| k == "e").map(|(_, v)| v))
            .map(|json| Self::event(json))
            .collect()
    }

    async fn active(&self, workspace_id: &str) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut conn = self.conn.clone();
        let keys: Vec<String> = conn
            .zrevrange(self.keys.of(workspace_id, "online"), 0, -1)
            .await
            .map_err(unavailable)?;
        let hashes = self.read_metas(&keys).await?;
        keys.iter()
            .zip(hashes)
            .filter(|(_, values)| values.iter().any(Option::is_some))
            .map(|(k, values)| parse_meta(self.keys.id_of(workspace_id, k), &values))
            .collect()
    }

    async fn visitor_presence(
        &self,
        ws: &str,
        id: &str,
        delta: i32,
        at: Millis,
    ) -> Result<ConversationMeta, StoreError> {
        let (delta, at) = (delta.to_string(), at.to_string());
        let reply = self.run(&self.presence, ws, id, &[&delta, &at]).await?;
        let [_, _, meta, _] = reply.parts();
        self.meta(id, meta)
    }

    async fn operators_seen(
        &self,
        operators: &[(WorkspaceId, String)],
        at: Millis,
    ) -> Result<(), StoreError> {
        let mut by_workspace: HashMap<&str, Vec<(&str, Millis)>> = HashMap::new();
        for (ws, id) in operators {
            by_workspace.entry(ws).or_default().push((id, at));
        }
        // One command per workspace (each in its own slot).
        let writes = by_workspace.iter().map(|(ws, fields)| {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(self.keys.of(ws, "opseen")).arg(fields);
            (*ws, cmd)
        });
        self.write_all(writes).await
    }

    async fn holdings(&self) -> Result<Vec<Holding>, StoreError> {
        self.each_workspace(|ws| self.holdings_of(ws)).await
    }

    async fn auto_release(
        &self,
        ws: &str,
        id: &str,
        holder_id: &str,
        epoch: u64,
        reason: ReleaseReason,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        // The wire spelling, from serde: the event's JSON is assembled in Lua.
        let reason = serde_json::to_value(reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let (epoch, at) = (epoch.to_string(), at.to_string());
        let reply = self
            .run(
                &self.auto_release,
                ws,
                id,
                &[holder_id, &epoch, &reason, &at],
            )
            .await?;
        let [_, event, meta, _] = reply.parts();
        Ok(ControlChange {
            event: if event.is_empty() {
                None
            } else {
                Some(Self::event(event)?)
            },
            meta: self.meta(id, meta)?,
        })
    }

    async fn mark_warned(&self, ws: &str, id: &str, epoch: u64) -> Result<bool, StoreError> {
        let reply = self
            .run(&self.warned, ws, id, &[&epoch.to_string()])
            .await?;
        Ok(reply.parts()[0] == "ok")
    }

    async fn visitors_seen(
        &self,
        ids: &[(WorkspaceId, ConversationId)],
        at: Millis,
    ) -> Result<(), StoreError> {
        let writes = ids.iter().map(|(ws, id)| {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(self.keys.meta(ws, id)).arg("vseen").arg(at);
            (ws.as_str(), cmd)
        });
        self.write_all(writes).await
    }

    async fn expire_visitors(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError> {
        self.each_workspace(|ws| self.expire_visitors_of(ws, cutoff))
            .await
    }

    async fn operator_presence(
        &self,
        workspace_id: &str,
        operator: &AuditActor,
        delta: i32,
        at: Millis,
    ) -> Result<(), StoreError> {
        let member = json(operator)?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(self.keys.of(workspace_id, "team"), &operator.id, member)
            .ignore()
            .hincr(self.keys.of(workspace_id, "opconn"), &operator.id, delta)
            .ignore();
        if delta > 0 {
            pipe.hset(self.keys.of(workspace_id, "opseen"), &operator.id, at)
                .ignore();
        }
        let mut conn = self.conn.clone();
        let _: () = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        Ok(())
    }

    async fn team(
        &self,
        workspace_id: &str,
        online_since: Millis,
    ) -> Result<Vec<TeamMember>, StoreError> {
        let mut conn = self.conn.clone();
        let actors: HashMap<String, String> = conn
            .hgetall(self.keys.of(workspace_id, "team"))
            .await
            .map_err(unavailable)?;
        if actors.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&String> = actors.keys().collect();
        let (conns, seen, held): (Vec<Option<i64>>, Vec<Option<u64>>, Vec<String>) = redis::pipe()
            .cmd("HMGET")
            .arg(self.keys.of(workspace_id, "opconn"))
            .arg(&ids)
            .cmd("HMGET")
            .arg(self.keys.of(workspace_id, "opseen"))
            .arg(&ids)
            .smembers(self.keys.of(workspace_id, "held"))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut holding: HashMap<String, Vec<HeldConversation>> = HashMap::new();
        if !held.is_empty() {
            let mut pipe = redis::pipe();
            for k in &held {
                pipe.cmd("HMGET")
                    .arg(k)
                    .arg(&["id", "holder_id", "holder_since", "label"]);
            }
            let rows: Vec<Vec<Option<String>>> =
                pipe.query_async(&mut conn).await.map_err(unavailable)?;
            for row in rows {
                if let [Some(id), Some(holder), since, label] = row.as_slice()
                    && !holder.is_empty()
                {
                    holding
                        .entry(holder.clone())
                        .or_default()
                        .push(HeldConversation {
                            conversation_id: id.clone(),
                            visitor_label: label.clone().unwrap_or_default(),
                            since: since.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0),
                        });
                }
            }
        }
        let mut members = Vec::with_capacity(ids.len());
        for ((id, conns), seen) in ids.iter().zip(conns).zip(seen) {
            let Ok(actor) = serde_json::from_str::<AuditActor>(&actors[*id]) else {
                continue;
            };
            members.push(TeamMember {
                online: conns.unwrap_or(0) > 0 && seen.unwrap_or(0) >= online_since,
                holding: holding.remove(*id).unwrap_or_default(),
                id: actor.id,
                name: actor.name,
                role: actor.role,
            });
        }
        sort_team(&mut members);
        Ok(members)
    }

    async fn record_audit(&self, workspace_id: &str, entry: &AuditEntry) -> Result<(), StoreError> {
        let line = json(entry)?;
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("XADD")
            .arg(self.keys.of(workspace_id, "audit"))
            .arg("MAXLEN")
            .arg("~")
            .arg(AUDIT_KEEP)
            .arg("*")
            .arg("e")
            .arg(line)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn audit(&self, workspace_id: &str, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.conn.clone();
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(self.keys.of(workspace_id, "audit"))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut out: Vec<AuditEntry> = entries
            .iter()
            .filter_map(|(_, fields)| fields.iter().find(|(k, _)| k == "e"))
            .filter_map(|(_, json)| serde_json::from_str(json).ok())
            .collect();
        out.reverse();
        Ok(out)
    }

    async fn expire_human_requests(
        &self,
        cutoff: Millis,
        at: Millis,
    ) -> Result<Vec<(ConversationMeta, ConversationEvent)>, StoreError> {
        self.each_workspace(|ws| self.expire_human_requests_of(ws, cutoff, at))
            .await
    }

    async fn profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
    ) -> Result<Option<OperatorProfile>, StoreError> {
        let mut conn = self.conn.clone();
        let json: Option<String> = redis::cmd("HGET")
            .arg(self.keys.of(workspace_id, "profiles"))
            .arg(operator_id)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    async fn save_profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
        profile: &OperatorProfile,
    ) -> Result<(), StoreError> {
        let saved = json(profile)?;
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("HSET")
            .arg(self.keys.of(workspace_id, "profiles"))
            .arg(operator_id)
            .arg(saved)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn put_avatar(
        &self,
        workspace_id: &str,
        hash: &str,
        png: &[u8],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        // Content-addressed: a second upload of the same image changes nothing.
        let _: i64 = redis::cmd("HSETNX")
            .arg(self.keys.of(workspace_id, "avatars"))
            .arg(hash)
            .arg(png)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn avatar(&self, workspace_id: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("HGET")
            .arg(self.keys.of(workspace_id, "avatars"))
            .arg(hash)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.conn.ping().await.map_err(unavailable)
    }

    async fn deactivate_idle(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError> {
        self.each_workspace(|ws| self.deactivate_idle_of(ws, cutoff))
            .await
    }
}

/// The sweeps, one workspace at a time: read the candidates, then decide each with a
/// conversation script (its keys declared, in the workspace's slot), which checks again.
impl RedisStore {
    /// The meta values of each key, in order (all in one workspace: one slot, one trip).
    async fn read_metas(&self, keys: &[String]) -> Result<Vec<MetaValues>, StoreError> {
        if keys.is_empty() {
            // An empty pipeline would wait for replies that never come.
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for k in keys {
            pipe.cmd("HMGET").arg(k).arg(&META_FIELDS[..]);
        }
        let mut conn = self.conn.clone();
        pipe.query_async(&mut conn).await.map_err(unavailable)
    }

    /// The conversation ids of meta keys of workspace `ws`.
    fn ids_of(&self, ws: &str, meta_keys: &[String]) -> Vec<String> {
        meta_keys
            .iter()
            .map(|k| self.keys.id_of(ws, k).to_owned())
            .collect()
    }

    /// Send writes to many workspaces' keys, replies ignored: one pipeline, or on Cluster one
    /// per workspace, side by side (a pipeline goes to one node, and each workspace has its
    /// own slot).
    async fn write_all<'w>(
        &self,
        writes: impl Iterator<Item = (&'w str, redis::Cmd)>,
    ) -> Result<(), StoreError> {
        let mut pipes: HashMap<&str, redis::Pipeline> = HashMap::new();
        for (ws, cmd) in writes {
            let group = if self.conn.is_cluster() { ws } else { "" };
            pipes.entry(group).or_default().add_command(cmd).ignore();
        }
        let sends = pipes.into_values().map(|pipe| async move {
            let mut conn = self.conn.clone();
            pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
        });
        futures_util::future::try_join_all(sends).await.map(drop)
    }

    /// The conversations a script changed, with their new metas (`NotFound` and unchanged
    /// ones left out).
    async fn decide(
        &self,
        script: &Lua,
        ws: &str,
        ids: Vec<String>,
        args: &[&str],
    ) -> Result<Vec<(ConversationMeta, String)>, StoreError> {
        let mut out = Vec::new();
        for id in ids {
            match self.run(script, ws, &id, args).await {
                Ok(reply) if reply.parts()[0] == "ok" => {
                    let [_, event, meta, _] = reply.parts();
                    out.push((self.meta(&id, meta)?, event.to_owned()));
                }
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn deactivate_idle_of(
        &self,
        ws: String,
        cutoff: Millis,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut conn = self.conn.clone();
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.of(&ws, "online"))
            .arg("-inf")
            .arg(format!("({cutoff}"))
            .arg("LIMIT")
            .arg(0)
            .arg(SWEEP_BATCH)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let ids = self.ids_of(&ws, &due);
        let cutoff = cutoff.to_string();
        let changed = self.decide(&self.deactivate, &ws, ids, &[&cutoff]).await?;
        Ok(changed.into_iter().map(|(meta, _)| meta).collect())
    }

    async fn expire_visitors_of(
        &self,
        ws: String,
        cutoff: Millis,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut conn = self.conn.clone();
        let listed: Vec<String> = conn
            .zrange(self.keys.of(&ws, "online"), 0, -1)
            .await
            .map_err(unavailable)?;
        if listed.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for k in &listed {
            pipe.cmd("HMGET").arg(k).arg(&["vconn", "vseen"]);
        }
        let seen: Vec<(Option<i64>, Option<u64>)> =
            pipe.query_async(&mut conn).await.map_err(unavailable)?;
        let ghosts: Vec<String> = listed
            .iter()
            .zip(seen)
            .filter(|(_, (vconn, vseen))| vconn.unwrap_or(0) > 0 && vseen.unwrap_or(0) < cutoff)
            .map(|(k, _)| self.keys.id_of(&ws, k).to_owned())
            .collect();
        let cutoff = cutoff.to_string();
        let changed = self
            .decide(&self.expire_visitor, &ws, ghosts, &[&cutoff])
            .await?;
        Ok(changed.into_iter().map(|(meta, _)| meta).collect())
    }

    async fn expire_human_requests_of(
        &self,
        ws: String,
        cutoff: Millis,
        at: Millis,
    ) -> Result<Vec<(ConversationMeta, ConversationEvent)>, StoreError> {
        let mut conn = self.conn.clone();
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.of(&ws, "humanwait"))
            .arg("-inf")
            .arg(cutoff)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let ids = self.ids_of(&ws, &due);
        let (cutoff, at) = (cutoff.to_string(), at.to_string());
        let changed = self
            .decide(&self.expire_human, &ws, ids, &[&cutoff, &at])
            .await?;
        changed
            .into_iter()
            .map(|(meta, event)| Ok((meta, Self::event(&event)?)))
            .collect()
    }

    async fn holdings_of(&self, ws: String) -> Result<Vec<Holding>, StoreError> {
        let mut conn = self.conn.clone();
        let keys: Vec<String> = conn
            .smembers(self.keys.of(&ws, "held"))
            .await
            .map_err(unavailable)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("HMGET")
                .arg(k)
                .arg(&["id", "holder_id", "epoch", "holder_act"]);
        }
        let rows: Vec<Vec<Option<String>>> =
            pipe.query_async(&mut conn).await.map_err(unavailable)?;
        let mut out: Vec<Holding> = rows
            .into_iter()
            .filter_map(|row| match row.as_slice() {
                [Some(id), Some(holder), Some(epoch), active] if !holder.is_empty() => {
                    Some(Holding {
                        conversation_id: id.clone(),
                        workspace_id: ws.clone(),
                        holder_id: holder.clone(),
                        epoch: epoch.parse().ok()?,
                        seen: 0,
                        active: active.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0),
                    })
                }
                _ => None,
            })
            .collect();
        if out.is_empty() {
            return Ok(out);
        }
        let holders: Vec<&str> = out.iter().map(|h| h.holder_id.as_str()).collect();
        let seen: Vec<Option<u64>> = redis::cmd("HMGET")
            .arg(self.keys.of(&ws, "opseen"))
            .arg(&holders)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        for (h, s) in out.iter_mut().zip(seen) {
            h.seen = s.unwrap_or(0);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::RedisServer;

    async fn store(server: &RedisServer) -> Arc<dyn Store> {
        Arc::new(
            RedisStore::new(
                server.conn().await,
                crate::util::random_id("t") + ":",
                RETENTION,
            )
            .expect("prefix"),
        )
    }

    const RETENTION: u64 = 3600;

    /// How a node publishes conversation `c`'s new events on `topic` in the append script.
    fn announce(
        bus: &crate::bus::redis::RedisBus,
        topic: &crate::bus::Topic,
        published_us: u64,
    ) -> Announce {
        use crate::bus::{Bus, BusMessage};
        let channel = bus.channel(topic).expect("redis channel");
        let (head, tail) = BusMessage::event_envelope(channel.origin, "c", published_us);
        Announce {
            channel: channel.name,
            head,
            tail,
        }
    }

    /// Conversation `c` of workspace `ws`, created at 1.
    async fn create_c(store: &dyn Store) {
        store
            .create(NewConversation {
                id: "c".into(),
                workspace_id: "ws".into(),
                visitor_label: "V".into(),
                at: 1,
            })
            .await
            .expect("create");
    }

    #[test]
    fn a_script_reply_is_four_parts_or_an_error() {
        let reply = |parts: &[&str]| ScriptReply::new(parts.join(&REPLY_SEPARATOR.to_string()));
        let ok = reply(&["ok", "", "c1\u{1f}ws", ""]).expect("four parts");
        assert_eq!(ok.parts(), ["ok", "", "c1\u{1f}ws", ""]);
        assert!(matches!(reply(&["not_found"]), Err(StoreError::NotFound)));
        // Three parts or five: an error, never parts shifted into the wrong place.
        for bad in [&["ok", "", ""][..], &["ok", "", "", "", ""], &["ok"]] {
            assert!(
                matches!(reply(bad), Err(StoreError::Unavailable(_))),
                "{bad:?}"
            );
        }
        // The event and the holder are JSON, which escapes the separator.
        let json = serde_json::to_string(&format!("a{REPLY_SEPARATOR}b")).expect("json");
        assert!(!json.contains(REPLY_SEPARATOR), "{json}");
    }

    #[test]
    fn packed_meta_unpacks_by_position_and_no_json_value_holds_the_separator() {
        let packed = ["c1", "ws", "", "5"].join(&META_SEPARATOR.to_string());
        assert_eq!(unpack(&packed), [Some("c1"), Some("ws"), None, Some("5")]);
        // The JSON fields (holder, last message) escape control characters.
        let json = serde_json::to_string(&format!("a{META_SEPARATOR}b")).expect("json");
        assert!(!json.contains(META_SEPARATOR), "{json}");
        // A value that held it would read as a wrong field count: an error, not a mix-up.
        let bad = vec![Some("x".to_owned()); META_FIELDS.len() + 1];
        assert!(parse_meta("c", &bad).is_err());
    }

    #[tokio::test]
    async fn conversations_are_kept_for_the_retention_period_after_their_last_write() {
        let server = RedisServer::start().await;
        let conn = server.manager().await;
        let store = RedisStore::new(server.conn().await, "keep:", RETENTION).expect("prefix");
        create_c(&store).await;
        let say = |n: u32| Draft::Message {
            author: protocol::Author::Visitor,
            text: format!("hi {n}"),
            client_id: Some(format!("x{n}")),
        };
        let period_ms = RETENTION as i64 * 1000;
        let keys = ["keep:{ws}:c:c", "keep:{ws}:c:c:ev"];
        let mut conn = conn;
        let ttls = async |conn: &mut redis::aio::ConnectionManager| {
            let mut out = Vec::new();
            for key in keys {
                let ttl: i64 = conn.pttl(key).await.expect("pttl");
                out.push(ttl);
            }
            out
        };
        // The first write renews both keys to 1.1 periods.
        store
            .append("ws", "c", say(1), Fence::Visitor, 2)
            .await
            .expect("append");
        for ttl in ttls(&mut conn).await {
            assert!(ttl > period_ms && ttl <= period_ms * 11 / 10, "ttl {ttl}");
        }
        // Within a tenth of a period of that, writes leave the TTLs alone (two commands saved
        // on every message)…
        for key in keys {
            let _: bool = conn.pexpire(key, 5_000).await.expect("pexpire");
        }
        let soon = 2 + period_ms as u64 / 10 - 1;
        store
            .append("ws", "c", say(2), Fence::Visitor, soon)
            .await
            .expect("append");
        for ttl in ttls(&mut conn).await {
            assert!(ttl <= 5_000, "renewed too early: ttl {ttl}");
        }
        // …and the first write after it renews them: the keys always outlive the last
        // activity by the retention period.
        let later = 2 + period_ms as u64 / 10;
        store
            .append("ws", "c", say(3), Fence::Visitor, later)
            .await
            .expect("append");
        for ttl in ttls(&mut conn).await {
            assert!(ttl > period_ms, "not renewed: ttl {ttl}");
        }
        // The dedupe entries live in the meta hash: no key of their own to expire.
        let exists: bool = conn.exists("keep:{ws}:c:c:dd").await.expect("exists");
        assert!(!exists);
    }

    /// Each test gets its own redis-server, killed when the test drops it.
    async fn fresh() -> (RedisServer, Arc<dyn Store>) {
        let server = RedisServer::start().await;
        let store = store(&server).await;
        (server, store)
    }

    crate::store::conformance_tests!(fresh().await);

    /// A store on `conn` under a prefix of its own.
    fn store_on(conn: &crate::topology::RedisConn) -> Arc<dyn Store> {
        let prefix = crate::util::random_id("t") + ":";
        Arc::new(RedisStore::new(conn.clone(), prefix, RETENTION).expect("prefix"))
    }

    /// Every script on one shard: Redis Cluster refuses a script whose keys lie in two slots
    /// (CROSSSLOT), or one that touches a key it did not declare on another node.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_conformance_suite_passes_on_redis_cluster() {
        let cluster = crate::testing::RedisCluster::start().await;
        let conn = crate::testing::connect(&cluster.topology()).await;
        assert!(conn.is_cluster());
        crate::store::conformance::whole_suite(|| async { store_on(&conn) }).await;
    }

    /// Appends through a killed master: refused as unavailable while no master serves the
    /// slot, then taken by the promoted replica (redis-rs follows it by itself), with the
    /// sequence unbroken.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_on_redis_cluster_follows_a_failover() {
        let mut cluster = crate::testing::RedisCluster::start().await;
        let conn = crate::testing::connect(&cluster.topology()).await;
        let store = store_on(&conn);
        create_c(&*store).await;
        let say = |n: u64| Draft::Message {
            author: protocol::Author::Visitor,
            text: format!("m{n}"),
            client_id: Some(format!("c{n}")),
        };
        store
            .append("ws", "c", say(1), Fence::Visitor, 2)
            .await
            .expect("append");
        let killed = cluster.kill_master_of("{ws}").await;
        let started = std::time::Instant::now();
        let mut refused = 0;
        let mut n = 2;
        while n < 6 {
            match store.append("ws", "c", say(n), Fence::Visitor, 2 + n).await {
                Ok(a) => {
                    assert_eq!(a.event.seq, n);
                    n += 1;
                }
                Err(StoreError::Unavailable(e)) => {
                    refused += 1;
                    if started.elapsed().as_secs() > 30 {
                        panic!("no failover: {e}\n{}", cluster.describe().await);
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_ne!(cluster.master_of("{ws}").await, killed);
        println!(
            "failover: writes back after {:.2} s, {refused} refused meanwhile",
            started.elapsed().as_secs_f64()
        );
        let h = store.history("ws", "c", 0, 10).await.expect("history");
        assert_eq!(h.len(), 5);
    }

    /// With `--redis-wait-replicas 1`, an acknowledged message is on the replica already; with
    /// no replica to confirm it, the write is answered `unavailable`, and its retry is
    /// deduplicated (stored once).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_acknowledged_write_waits_for_a_replica_when_asked() {
        let set = crate::testing::RedisSentinels::start().await;
        let conn = crate::testing::connect(&set.topology()).await;
        let prefix = crate::util::random_id("w") + ":";
        let store = RedisStore::new(conn, prefix.clone(), RETENTION)
            .expect("prefix")
            .wait_for_replicas(1, 2_000);
        create_c(&store).await;
        let say = |cid: &str| Draft::Message {
            author: protocol::Author::Visitor,
            text: "hi".into(),
            client_id: Some(cid.into()),
        };
        let acked = store
            .append("ws", "c", say("a"), Fence::Visitor, 2)
            .await
            .expect("append");
        let mut replica = set.replica.manager().await;
        let on_replica: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(format!("{prefix}{{ws}}:c:c:ev"))
            .arg("-")
            .arg("+")
            .query_async(&mut replica)
            .await
            .expect("xrange on the replica");
        assert_eq!(on_replica.len() as u64, acked.event.seq);

        // A lone server has no replica to confirm: unavailable, and the retry stores nothing
        // twice.
        let lone = RedisServer::start().await;
        let store = RedisStore::new(lone.conn().await, "l:", RETENTION)
            .expect("prefix")
            .wait_for_replicas(1, 20);
        create_c(&store).await;
        for _ in 0..2 {
            let refused = store.append("ws", "c", say("b"), Fence::Visitor, 3).await;
            assert!(matches!(refused, Err(StoreError::Unavailable(_))), "{refused:?}");
        }
        let h = store.history("ws", "c", 0, 10).await.expect("history");
        assert_eq!(h.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_conformance_suite_passes_through_sentinel() {
        let set = crate::testing::RedisSentinels::start().await;
        let conn = crate::testing::connect(&set.topology()).await;
        crate::store::conformance::whole_suite(|| async { store_on(&conn) }).await;
    }

    /// As a node runs: its store on its bus's connection, subscribed to the conversation the
    /// append script publishes to. Each reply is read past the node's own publication, which
    /// Redis puts before it on that connection, and the bus drops that publication.
    #[tokio::test]
    async fn a_nodes_own_publication_shares_its_connection_with_the_reply_and_is_dropped() {
        use crate::bus::redis::RedisBus;
        use crate::bus::{Bus, BusMessage, Topic};
        let server = RedisServer::start().await;
        let node = || async {
            RedisBus::connect(&server.topology(), "o:", 8)
                .await
                .expect("bus")
        };
        let (bus, mut own_inbox) = node().await;
        let (other, mut inbox) = node().await;
        // One connection per node: two nodes and the one asking.
        let mut admin = server.manager().await;
        let clients: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut admin)
            .await
            .expect("client list");
        assert_eq!(clients.lines().count(), 3, "{clients}");

        let store = RedisStore::new(bus.connection(), "o:", RETENTION).expect("prefix");
        create_c(&store).await;
        let topic = Topic::conversation("ws", "c");
        bus.subscribe(&topic).await.expect("subscribe");
        other.subscribe(&topic).await.expect("subscribe");
        let announce = announce(&bus, &topic, 7);
        for n in 0..3u64 {
            let draft = Draft::Message {
                author: protocol::Author::Visitor,
                text: format!("m{n}"),
                client_id: Some(format!("c{n}")),
            };
            let (appended, announced) = store
                .append_announced("ws", "c", draft, Fence::Visitor, 2 + n, &announce)
                .await
                .expect("append");
            assert!(announced);
            assert_eq!(appended.event.seq, n + 1);
            let event = BusMessage::Event {
                conversation_id: "c".into(),
                event: appended.event,
                published_us: 7,
            };
            assert_eq!(inbox.recv().await, Some((topic.clone(), event)));
        }
        // The other node's publication is the first thing in this node's inbox: its own three
        // were dropped.
        let marker = BusMessage::TeamChanged {
            workspace_id: "ws".into(),
        };
        other.publish(&topic, &marker).await.expect("publish");
        assert_eq!(own_inbox.recv().await, Some((topic, marker)));
    }

    #[tokio::test]
    async fn an_appended_message_is_one_round_trip() {
        let server = RedisServer::start().await;
        let store = store(&server).await;
        create_c(&*store).await;
        let msg = |cid: &str| Draft::Message {
            author: protocol::Author::Visitor,
            text: "hi".into(),
            client_id: Some(cid.into()),
        };
        // The first call of a script loads it (EVALSHA misses, then EVAL); measure the next.
        store
            .append("ws", "c", msg("warm"), Fence::Visitor, 2)
            .await
            .expect("append");
        let mut monitor = server.monitor().await;
        store
            .append("ws", "c", msg("x"), Fence::Visitor, 3)
            .await
            .expect("append");
        // One EVALSHA: the whole append (fence, dedupe, seq, history, Online list) in one trip,
        // and inside it one read and one write of the meta hash and the history entry: Redis's
        // work per message (the reply's meta is built from what the script read and wrote). The
        // Online list is rescored once a second, the TTLs renewed once a tenth of the
        // retention period: not in this one.
        let (sent, scripted) = monitor.commands().await;
        assert_eq!(sent, ["evalsha"]);
        assert_eq!(scripted, ["hmget", "xadd", "hset"]);
        // A second later, the Online list is rescored (the only set a message touches).
        store
            .append("ws", "c", msg("y0"), Fence::Visitor, 3 + 1000)
            .await
            .expect("append");
        let (_, scripted) = monitor.commands().await;
        assert_eq!(scripted, ["hmget", "xadd", "zadd", "hset"]);

        // And with the publication to the other nodes folded in: still one trip.
        let node = |_| async {
            crate::bus::redis::RedisBus::connect(&server.topology(), "b:", 8)
                .await
                .expect("bus")
        };
        let (bus, _) = node(1).await;
        let (other, mut inbox) = node(2).await;
        use crate::bus::{Bus, BusMessage, Topic};
        let topic = Topic::conversation("ws", "c");
        other.subscribe(&topic).await.expect("subscribe");
        let announce = announce(&bus, &topic, 99);
        let _ = monitor.round_trips().await; // the subscription's own commands
        let (appended, announced) = store
            .append_announced("ws", "c", msg("y"), Fence::Visitor, 4, &announce)
            .await
            .expect("append");
        assert!(announced);
        assert_eq!(monitor.round_trips().await, ["evalsha"]);
        let (got_topic, got) = inbox.recv().await.expect("published");
        assert_eq!(got_topic, topic);
        assert_eq!(
            got,
            BusMessage::Event {
                conversation_id: "c".into(),
                event: appended.event,
                published_us: 99,
            }
        );
        // A re-sent message is not published again.
        let (_, again) = store
            .append_announced("ws", "c", msg("y"), Fence::Visitor, 5, &announce)
            .await
            .expect("append");
        assert!(!again);
    }
}
