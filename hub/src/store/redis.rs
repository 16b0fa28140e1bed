//! The Redis store: conversations shared by every node.
//!
//! Each state change is one Lua script, so it is atomic and one round trip: the scripts in
//! `lua/` apply the rules of [`crate::control`] (the conformance suite in `store/mod.rs` runs
//! against this store and the memory store alike). Layout, under a configurable prefix:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `c:{id}` | hash | meta: workspace, label, times, `seq`, `epoch`, `holder_id`, `holder`, flags; and idempotency: `d:{dedupe key}` → seq |
//! | `c:{id}:ev` | stream | history; entry id `0-{seq}`, field `e` = the event's JSON |
//! | `ws:{workspace}:active` | sorted set | the Online list, scored by last activity |
//! | `active` | sorted set | every active conversation, for the idle sweep |
//! | `held`, `opseen` | sorted set, hash | held conversations and when holders were seen (auto-release) |
//! | `humanwait` | sorted set | conversations waiting for a human, by request time (next to `held`: `append.lua` derives one from the other) |
//! | `team:{workspace}`, `opconn:{workspace}` | hash | operators who connected, their open sockets |
//! | `audit:{workspace}` | stream | the audit log, capped |
//! | `profiles:{workspace}` | hash | operator id → saved profile (JSON) |
//! | `avatars:{workspace}` | hash | SHA-256 hex → avatar PNG bytes |

use std::collections::HashMap;

use async_trait::async_trait;
use protocol::{
    AuditActor, AuditEntry, ControlState, ConversationEvent, HeldConversation, Holder,
    MessagePreview, Millis, OperatorRef, ReleaseReason, Seq, TeamMember,
};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use super::{
    AUDIT_KEEP, Announce, Appended, ControlChange, ConversationMeta, Draft, Holding,
    NewConversation, Store, StoreError, dedupe_key, operator_key, preview, sort_team,
};
use crate::control::{Actor, ControlError, Fence};
use crate::profile::OperatorProfile;

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

fn script(body: &str, retention_secs: u64) -> Script {
    // Renewed a tenth of the period after the last renewal, to 1.1 periods (common.lua: push).
    let period_ms = retention_secs.max(1) * 1000;
    let common = COMMON
        .replace("__RENEW_MS__", &(period_ms / 10).to_string())
        .replace("__TTL_MS__", &(period_ms + period_ms / 10).to_string());
    Script::new(&lua(&format!("{common}\n{body}")))
}

/// Most conversations taken off the Online list per sweep call.
const SWEEP_BATCH: usize = 500;

pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    /// The keys every conversation script is given besides its own: built once, not per call.
    ws_prefix: String,
    global: String,
    held: String,
    retention_secs: u64,
    append: Script,
    takeover: Script,
    release: Script,
    presence: Script,
    sweep: Script,
    auto_release: Script,
    warned: Script,
    expire_visitors: Script,
    expire_human: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
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

impl RedisStore {
    /// A store under `prefix` that keeps each conversation `retention_secs` after its last
    /// activity.
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>, retention_secs: u64) -> Self {
        let s = |body| script(body, retention_secs);
        let prefix = prefix.into();
        Self {
            conn,
            ws_prefix: format!("{prefix}ws:"),
            global: format!("{prefix}active"),
            held: format!("{prefix}held"),
            prefix,
            retention_secs,
            append: s(include_str!("lua/append.lua")),
            takeover: s(include_str!("lua/takeover.lua")),
            release: s(include_str!("lua/release.lua")),
            presence: s(include_str!("lua/presence.lua")),
            sweep: Script::new(&lua(include_str!("lua/sweep.lua"))),
            auto_release: s(include_str!("lua/auto_release.lua")),
            warned: s(include_str!("lua/warned.lua")),
            expire_visitors: Script::new(&lua(include_str!("lua/expire_visitors.lua"))),
            expire_human: s(include_str!("lua/expire_human.lua")),
        }
    }

    fn meta_key(&self, id: &str) -> String {
        format!("{}c:{id}", self.prefix)
    }

    fn workspace_key(&self, ws: &str) -> String {
        format!("{}ws:{ws}:active", self.prefix)
    }

    fn global_key(&self) -> &str {
        &self.global
    }

    fn held_key(&self) -> &str {
        &self.held
    }

    fn seen_key(&self) -> String {
        format!("{}opseen", self.prefix)
    }

    /// Metas read by a script, each with its id.
    fn metas(&self, all: Vec<MetaValues>) -> Result<Vec<ConversationMeta>, StoreError> {
        all.into_iter()
            .map(|values| {
                let id = values.first().cloned().flatten().unwrap_or_default();
                parse_meta(&id, &values)
            })
            .collect()
    }

    /// Run a conversation script with its four standard keys: one round trip.
    ///
    /// The `EVALSHA` is built here in one buffer rather than through redis-rs's
    /// `ScriptInvocation`, which copies every key and argument into a vector of its own and
    /// then again into the command: 27 allocations per message on the hot path (callgrind). As
    /// there, a script Redis does not know (first use, or Redis restarted) is loaded and run
    /// again.
    async fn run(
        &self,
        script: &Script,
        id: &str,
        args: &[&str],
    ) -> Result<ScriptReply, StoreError> {
        let meta_key = self.meta_key(id);
        let (global, held) = (self.global_key(), self.held_key());
        let keys = [meta_key.as_str(), &self.ws_prefix, global, held];
        let size = keys.iter().chain(args).map(|a| a.len()).sum::<usize>() + 64;
        let mut cmd = redis::Cmd::with_capacity(3 + keys.len() + args.len(), size);
        cmd.arg("EVALSHA")
            .arg(script.get_hash())
            .arg(keys.len())
            .arg(&keys[..])
            .arg(args);
        let mut conn = self.conn.clone();
        let reply: String = match cmd.query_async(&mut conn).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                script.load_async(&mut conn).await.map_err(unavailable)?;
                cmd.query_async(&mut conn).await
            }
            other => other,
        }
        .map_err(unavailable)?;
        ScriptReply::new(reply)
    }

    /// Append (see `lua/append.lua`), publishing the event in the same step when `announce`.
    async fn append_with(
        &self,
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
            .run(
                &self.append,
                id,
                &[
                    fence_kind,
                    &fence_arg,
                    &dedupe,
                    &body,
                    &at_text,
                    &preview_json,
                    needs_human,
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
        let key = self.meta_key(&new.id);
        let at = new.at.to_string();
        let mut conn = self.conn.clone();
        let _: () = redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[
                    ("id", new.id.as_str()),
                    ("ws", new.workspace_id.as_str()),
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
            .zadd(self.workspace_key(&new.workspace_id), &key, new.at)
            .zadd(self.global_key(), &key, new.at)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        self.get(&new.id).await?.ok_or(StoreError::NotFound)
    }

    async fn get(&self, id: &str) -> Result<Option<ConversationMeta>, StoreError> {
        let mut conn = self.conn.clone();
        let values: MetaValues = redis::cmd("HMGET")
            .arg(self.meta_key(id))
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
        id: &str,
        draft: Draft,
        fence: Fence,
        at: Millis,
    ) -> Result<Appended, StoreError> {
        self.append_with(id, draft, fence, at, None)
            .await
            .map(|(a, _)| a)
    }

    async fn append_announced(
        &self,
        id: &str,
        draft: Draft,
        fence: Fence,
        at: Millis,
        announce: &Announce,
    ) -> Result<(Appended, bool), StoreError> {
        self.append_with(id, draft, fence, at, Some(announce)).await
    }

    async fn takeover(
        &self,
        id: &str,
        operator: &OperatorRef,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        let op = json(operator)?;
        let at = at.to_string();
        let reply = self
            .run(&self.takeover, id, &[&operator.id, &op, &at])
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
            .run(
                &self.release,
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
        id: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<ConversationEvent>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.meta_key(id);
        let (exists, entries): (bool, Vec<(String, Vec<(String, String)>)>) = redis::pipe()
            .exists(&key)
            .cmd("XRANGE")
            .arg(format!("{key}:ev"))
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
            .zrevrange(self.workspace_key(workspace_id), 0, -1)
            .await
            .map_err(unavailable)?;
        if keys.is_empty() {
            // An empty pipeline would wait for replies that never come.
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("HMGET").arg(k).arg(&META_FIELDS[..]);
        }
        let hashes: Vec<MetaValues> = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        let strip = format!("{}c:", self.prefix);
        keys.iter()
            .zip(hashes)
            .filter(|(_, values)| values.iter().any(Option::is_some))
            .map(|(k, values)| parse_meta(k.strip_prefix(&strip).unwrap_or(k), &values))
            .collect()
    }

    async fn visitor_presence(
        &self,
        id: &str,
        delta: i32,
        at: Millis,
    ) -> Result<ConversationMeta, StoreError> {
        let (delta, at) = (delta.to_string(), at.to_string());
        let reply = self.run(&self.presence, id, &[&delta, &at]).await?;
        let [_, _, meta, _] = reply.parts();
        self.meta(id, meta)
    }

    async fn operators_seen(&self, operators: &[String], at: Millis) -> Result<(), StoreError> {
        if operators.is_empty() {
            return Ok(());
        }
        let at = at.to_string();
        let fields: Vec<(&str, &str)> = operators
            .iter()
            .map(|k| (k.as_str(), at.as_str()))
            .collect();
        let mut conn = self.conn.clone();
        let _: () = conn
            .hset_multiple(self.seen_key(), &fields)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn holdings(&self) -> Result<Vec<Holding>, StoreError> {
        let mut conn = self.conn.clone();
        let keys: Vec<String> = conn.smembers(self.held_key()).await.map_err(unavailable)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("HMGET")
                .arg(k)
                .arg(&["id", "ws", "holder_id", "epoch", "holder_act"]);
        }
        let rows: Vec<Vec<Option<String>>> =
            pipe.query_async(&mut conn).await.map_err(unavailable)?;
        let mut out: Vec<Holding> = rows
            .into_iter()
            .filter_map(|row| match row.as_slice() {
                [Some(id), Some(ws), Some(holder), Some(epoch), active] if !holder.is_empty() => {
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
        let fields: Vec<String> = out
            .iter()
            .map(|h| operator_key(&h.workspace_id, &h.holder_id))
            .collect();
        let seen: Vec<Option<u64>> = redis::cmd("HMGET")
            .arg(self.seen_key())
            .arg(&fields)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        for (h, s) in out.iter_mut().zip(seen) {
            h.seen = s.unwrap_or(0);
        }
        Ok(out)
    }

    async fn auto_release(
        &self,
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
            .run(&self.auto_release, id, &[holder_id, &epoch, &reason, &at])
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

    async fn mark_warned(&self, id: &str, epoch: u64) -> Result<bool, StoreError> {
        let reply = self.run(&self.warned, id, &[&epoch.to_string()]).await?;
        Ok(reply.parts()[0] == "ok")
    }

    async fn visitors_seen(&self, ids: &[String], at: Millis) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hset(self.meta_key(id), "vseen", at).ignore();
        }
        let mut conn = self.conn.clone();
        let _: () = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        Ok(())
    }

    async fn expire_visitors(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut conn = self.conn.clone();
        let flat: Vec<MetaValues> = self
            .expire_visitors
            .key(self.global_key())
            .arg(cutoff)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        self.metas(flat)
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
            .hset(
                format!("{}team:{workspace_id}", self.prefix),
                &operator.id,
                member,
            )
            .ignore()
            .hincr(
                format!("{}opconn:{workspace_id}", self.prefix),
                &operator.id,
                delta,
            )
            .ignore();
        if delta > 0 {
            pipe.hset(
                self.seen_key(),
                operator_key(workspace_id, &operator.id),
                at,
            )
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
            .hgetall(format!("{}team:{workspace_id}", self.prefix))
            .await
            .map_err(unavailable)?;
        if actors.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&String> = actors.keys().collect();
        let seen_fields: Vec<String> = ids
            .iter()
            .map(|id| operator_key(workspace_id, id))
            .collect();
        let (conns, seen, held): (Vec<Option<i64>>, Vec<Option<u64>>, Vec<String>) = redis::pipe()
            .cmd("HMGET")
            .arg(format!("{}opconn:{workspace_id}", self.prefix))
            .arg(&ids)
            .cmd("HMGET")
            .arg(self.seen_key())
            .arg(&seen_fields)
            .smembers(self.held_key())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut holding: HashMap<String, Vec<HeldConversation>> = HashMap::new();
        if !held.is_empty() {
            let mut pipe = redis::pipe();
            for k in &held {
                pipe.cmd("HMGET")
                    .arg(k)
                    .arg(&["id", "ws", "holder_id", "holder_since", "label"]);
            }
            let rows: Vec<Vec<Option<String>>> =
                pipe.query_async(&mut conn).await.map_err(unavailable)?;
            for row in rows {
                if let [Some(id), Some(ws), Some(holder), since, label] = row.as_slice()
                    && ws == workspace_id
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
            .arg(format!("{}audit:{workspace_id}", self.prefix))
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
            .arg(format!("{}audit:{workspace_id}", self.prefix))
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
        let wait_key = format!("{}humanwait", self.prefix);
        let mut conn = self.conn.clone();
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(&wait_key)
            .arg("-inf")
            .arg(cutoff)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let strip = format!("{}c:", self.prefix);
        let (cutoff, at) = (cutoff.to_string(), at.to_string());
        let mut out = Vec::new();
        for key in due {
            let id = key.strip_prefix(&strip).unwrap_or(&key);
            match self
                .run(&self.expire_human, id, &[&cutoff, &at, &wait_key])
                .await
            {
                Ok(reply) if reply.parts()[0] == "ok" => {
                    let [_, event, meta, _] = reply.parts();
                    out.push((self.meta(id, meta)?, Self::event(event)?));
                }
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
    ) -> Result<Option<OperatorProfile>, StoreError> {
        let mut conn = self.conn.clone();
        let json: Option<String> = redis::cmd("HGET")
            .arg(format!("{}profiles:{workspace_id}", self.prefix))
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
            .arg(format!("{}profiles:{workspace_id}", self.prefix))
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
            .arg(format!("{}avatars:{workspace_id}", self.prefix))
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
            .arg(format!("{}avatars:{workspace_id}", self.prefix))
            .arg(hash)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn deactivate_idle(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut conn = self.conn.clone();
        let flat: Vec<MetaValues> = self
            .sweep
            .key(self.global_key())
            .arg(cutoff)
            .arg(&self.ws_prefix)
            .arg(SWEEP_BATCH)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        self.metas(flat)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::RedisServer;

    async fn store(server: &RedisServer) -> Arc<dyn Store> {
        Arc::new(RedisStore::new(
            server.manager().await,
            crate::util::random_id("t") + ":",
            RETENTION,
        ))
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
        let store = RedisStore::new(conn.clone(), "keep:", RETENTION);
        create_c(&store).await;
        let say = |n: u32| Draft::Message {
            author: protocol::Author::Visitor,
            text: format!("hi {n}"),
            client_id: Some(format!("x{n}")),
        };
        let period_ms = RETENTION as i64 * 1000;
        let keys = ["keep:c:c", "keep:c:c:ev"];
        let mut conn = conn;
        let ttls = async |conn: &mut ConnectionManager| {
            let mut out = Vec::new();
            for key in keys {
                let ttl: i64 = conn.pttl(key).await.expect("pttl");
                out.push(ttl);
            }
            out
        };
        // The first write renews both keys to 1.1 periods.
        store
            .append("c", say(1), Fence::Visitor, 2)
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
            .append("c", say(2), Fence::Visitor, soon)
            .await
            .expect("append");
        for ttl in ttls(&mut conn).await {
            assert!(ttl <= 5_000, "renewed too early: ttl {ttl}");
        }
        // …and the first write after it renews them: the keys always outlive the last
        // activity by the retention period.
        let later = 2 + period_ms as u64 / 10;
        store
            .append("c", say(3), Fence::Visitor, later)
            .await
            .expect("append");
        for ttl in ttls(&mut conn).await {
            assert!(ttl > period_ms, "not renewed: ttl {ttl}");
        }
        // The dedupe entries live in the meta hash: no key of their own to expire.
        let exists: bool = conn.exists("keep:c:c:dd").await.expect("exists");
        assert!(!exists);
    }

    /// Each test gets its own redis-server, killed when the test drops it.
    async fn fresh() -> (RedisServer, Arc<dyn Store>) {
        let server = RedisServer::start().await;
        let store = store(&server).await;
        (server, store)
    }

    crate::store::conformance_tests!(fresh().await);

    /// As a node runs: its store on its bus's connection, subscribed to the conversation the
    /// append script publishes to. Each reply is read past the node's own publication, which
    /// Redis puts before it on that connection, and the bus drops that publication.
    #[tokio::test]
    async fn a_nodes_own_publication_shares_its_connection_with_the_reply_and_is_dropped() {
        use crate::bus::redis::RedisBus;
        use crate::bus::{Bus, BusMessage, Topic};
        let server = RedisServer::start().await;
        let node = || async {
            RedisBus::connect(&server.url(), "o:", 8)
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

        let store = RedisStore::new(bus.connection(), "o:", RETENTION);
        create_c(&store).await;
        let topic = Topic::Conversation("c".into());
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
                .append_announced("c", draft, Fence::Visitor, 2 + n, &announce)
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
            .append("c", msg("warm"), Fence::Visitor, 2)
            .await
            .expect("append");
        let mut monitor = server.monitor().await;
        store
            .append("c", msg("x"), Fence::Visitor, 3)
            .await
            .expect("append");
        // One EVALSHA: the whole append (fence, dedupe, seq, history, Online list) in one trip,
        // and inside it one read and one write of the meta hash and the history entry: Redis's
        // work per message (the reply's meta is built from what the script read and wrote). The
        // sorted sets are rescored once a second, the TTLs renewed once a tenth of the
        // retention period: not in this one.
        let (sent, scripted) = monitor.commands().await;
        assert_eq!(sent, ["evalsha"]);
        assert_eq!(scripted, ["hmget", "xadd", "hset"]);
        // A second later, the Online list and activity sets are rescored.
        store
            .append("c", msg("y0"), Fence::Visitor, 3 + 1000)
            .await
            .expect("append");
        let (_, scripted) = monitor.commands().await;
        assert_eq!(scripted, ["hmget", "xadd", "zadd", "zadd", "hset"]);

        // And with the publication to the other nodes folded in: still one trip.
        let node = |_| async {
            crate::bus::redis::RedisBus::connect(&server.url(), "b:", 8)
                .await
                .expect("bus")
        };
        let (bus, _) = node(1).await;
        let (other, mut inbox) = node(2).await;
        use crate::bus::{Bus, BusMessage, Topic};
        let topic = Topic::Conversation("c".into());
        other.subscribe(&topic).await.expect("subscribe");
        let announce = announce(&bus, &topic, 99);
        let _ = monitor.round_trips().await; // the subscription's own commands
        let (appended, announced) = store
            .append_announced("c", msg("y"), Fence::Visitor, 4, &announce)
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
            .append_announced("c", msg("y"), Fence::Visitor, 5, &announce)
            .await
            .expect("append");
        assert!(!again);
    }
}
