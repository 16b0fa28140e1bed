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
//! | `P{ws}:c:{id}` | hash | meta: workspace, label, times, `seq`, `epoch`, `holder_id`, `holder`, flags, and `cv`, the version of the fields that change rarely (`known.rs`); and idempotency: `d:{dedupe key}` → seq |
//! | `P{ws}:c:{id}:ev` | stream | history; entry id `0-{seq}`, field `e` = the event's JSON |
//! | `P{ws}:online` | sorted set | the Online list, scored by last activity (what the idle sweep reads) |
//! | `P{ws}:held` | set | the workspace's held conversations (auto-release, team panel) |
//! | `P{ws}:humanwait` | sorted set | conversations waiting for a human, by request time |
//! | `P{ws}:opseen` | hash | operator id → when a node last saw them connected |
//! | `P{ws}:team`, `P{ws}:opconn` | hash | operators who connected, their open sockets |
//! | `P{ws}:audit` | stream | the audit log, capped |
//! | `P{ws}:profiles` | hash | operator id → saved profile (JSON) |
//! | `P{ws}:avatars` | hash | SHA-256 hex → avatar PNG bytes |
//! | `P{ws}:recent`, `P{ws}:ix:{word}`, `P{ws}:canned`; notes and context in the meta hash | | the operator's desk: `desk.rs` |
//! | `P{ws}:followups`, `P{ws}:maildue`; `fu_*` and `mail_*` in the meta hash | sorted sets | follow-ups and their emails: `follow_up.rs` |
//! | `Pworkspaces` | set | every workspace that has had a conversation: what the sweeps walk (written when a conversation is created, never per message) |

#[cfg(test)]
mod cost;
mod desk;
mod follow_up;
mod known;
mod profiles;
mod run;
mod script;
mod sweeps;
mod team;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use protocol::{
    ConversationEvent, ConversationId, Millis, OperatorRef, ReleaseReason, Seq, WorkspaceId,
};
use redis::AsyncCommands;

use super::{
    Announce, Appended, ControlChange, ConversationMeta, ConversationStore, Holding,
    NewConversation, NewEvent, StoreError,
};
use crate::control::{Actor, Writer};
use crate::topology::RedisConn;
use script::*;

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
struct ConvKeys([String; 6]);

impl Keys {
    /// `P{ws}:` and then `rest`, in one allocation of its size: the conversation's keys are
    /// built on every message, and `format!` cost about 6,000 instructions for its five
    /// (callgrind).
    fn tagged(&self, ws: &str, rest: &[&str]) -> String {
        let len = self.prefix.len() + ws.len() + 3 + rest.iter().map(|r| r.len()).sum::<usize>();
        let mut key = String::with_capacity(len);
        key.push_str(&self.prefix);
        key.push('{');
        key.push_str(ws);
        key.push_str("}:");
        rest.iter().for_each(|r| key.push_str(r));
        key
    }

    fn tag(&self, ws: &str) -> String {
        self.tagged(ws, &[])
    }

    fn of(&self, ws: &str, what: &str) -> String {
        self.tagged(ws, &[what])
    }

    fn meta(&self, ws: &str, id: &str) -> String {
        self.tagged(ws, &["c:", id])
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
        ConvKeys([
            self.meta(ws, id),
            self.tagged(ws, &["c:", id, ":ev"]),
            self.of(ws, "online"),
            self.of(ws, "held"),
            self.of(ws, "humanwait"),
            self.tagged(ws, &["c:", id, ":d"]),
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
    transfer: Lua,
    presence: Lua,
    deactivate: Lua,
    auto_release: Lua,
    warned: Lua,
    expire_visitor: Lua,
    expire_human: Lua,
    desk: desk::DeskScripts,
    follow_up: redis::Script,
    /// The slow-changing meta fields of conversations this node appended to (known.rs).
    known: known::Known,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unavailable(e.to_string()))
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
            append: s(include_str!("../lua/append.lua")),
            takeover: s(include_str!("../lua/takeover.lua")),
            release: s(include_str!("../lua/release.lua")),
            transfer: s(include_str!("../lua/transfer.lua")),
            presence: s(include_str!("../lua/presence.lua")),
            deactivate: s(include_str!("../lua/deactivate.lua")),
            auto_release: s(include_str!("../lua/auto_release.lua")),
            warned: s(include_str!("../lua/warned.lua")),
            expire_visitor: s(include_str!("../lua/expire_visitor.lua")),
            expire_human: s(include_str!("../lua/expire_human.lua")),
            desk: desk::DeskScripts::new(),
            follow_up: redis::Script::new(FOLLOW_UP),
            known: known::Known::default(),
        })
    }

    /// Acknowledge a message, takeover or release only once `replicas` replicas have it, or
    /// answer `unavailable` after `timeout_ms` (`WAIT`, pipelined after the script: no extra
    /// round trip, the time of one replication). 0: do not wait.
    /// A change of control's reply (takeover, release, transfer): the refusal it names, or the
    /// event it recorded (none: nothing changed) and the meta after it.
    fn control_change(
        &self,
        id: &str,
        reply: &script::ScriptReply,
    ) -> Result<ControlChange, StoreError> {
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
}

#[async_trait]
impl ConversationStore for RedisStore {
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
                    ("vid", new.visitor_id.as_str()),
                    ("cv", "0"),
                ],
            )
            .expire(&key, self.retention_secs as i64)
            .zadd(self.keys.of(ws, "online"), &key, new.at)
            // The visitor's conversations (desk.rs), kept as long as their newest.
            .zadd(
                self.keys.of(ws, &format!("v:{}", new.visitor_id)),
                &new.id,
                new.at,
            )
            .expire(
                self.keys.of(ws, &format!("v:{}", new.visitor_id)),
                self.retention_secs as i64 * 11 / 10,
            )
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
        draft: NewEvent,
        fence: Writer,
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
        draft: NewEvent,
        fence: Writer,
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
        self.control_change(id, &reply)
    }

    async fn release(
        &self,
        ws: &str,
        id: &str,
        actor: &Actor,
        force: bool,
        seen_epoch: Option<u64>,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        let may_force = if actor.role.may_force_release() {
            "1"
        } else {
            "0"
        };
        let force = if force { "1" } else { "0" };
        let at = at.to_string();
        let seen = seen_epoch.map(|e| e.to_string()).unwrap_or_default();
        let reply = self
            .run_acked(
                &self.release,
                ws,
                id,
                &[&actor.operator.id, may_force, force, &at, &seen],
            )
            .await?;
        self.control_change(id, &reply)
    }

    async fn transfer(
        &self,
        ws: &str,
        id: &str,
        actor: &Actor,
        to: &OperatorRef,
        seen_epoch: u64,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        let may_others = if actor.role.may_force_release() {
            "1"
        } else {
            "0"
        };
        let to_json = json(to)?;
        let (seen, at) = (seen_epoch.to_string(), at.to_string());
        let reply = self
            .run_acked(
                &self.transfer,
                ws,
                id,
                &[&actor.operator.id, may_others, &to.id, &to_json, &seen, &at],
            )
            .await?;
        self.control_change(id, &reply)
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

    async fn expire_human_requests(
        &self,
        cutoff: Millis,
        at: Millis,
    ) -> Result<Vec<(ConversationMeta, ConversationEvent)>, StoreError> {
        self.each_workspace(|ws| self.expire_human_requests_of(ws, cutoff, at))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.conn.ping().await.map_err(unavailable)
    }

    async fn deactivate_idle(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError> {
        self.each_workspace(|ws| self.deactivate_idle_of(ws, cutoff))
            .await
    }
}
