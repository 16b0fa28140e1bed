//! The Redis store's desk (see `store/desk.rs`). Keys, all under the workspace's hash tag:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P{ws}:c:{id}` fields `notes`, `note:{n}`, `n:{author}:{client id}`, `ctx`, `brief_for`, `brief`, `files`, `file:{id}` | hash | notes (their count, each note's JSON, idempotency), the visitor's context and the brief (the stretch it was claimed for, its state's JSON), in the meta hash: they expire with the conversation |
//! | `P{ws}:recent` | sorted set | conversation id → last activity when it left the Online list |
//! | `P{ws}:ix:{word}` | sorted set | conversation id → last activity, per word (the search index) |
//! | `P{ws}:canned` | hash | saved reply id → JSON |
//! | `P{ws}:v:{visitor}` | sorted set | a visitor's conversations → when each started (written at creation); the meta's `vid` names the visitor |
//!
//! The index and the recent list are written when a conversation leaves the Online list (the
//! idle sweep), one pipeline per conversation: nothing is added to the message path. Entries of
//! conversations that expired since are dropped when a read finds their meta gone; a
//! conversation back on the Online list is skipped by `recent` until it leaves again.

use std::collections::HashMap;

use async_trait::async_trait;
use protocol::canned::CannedReply;
use protocol::limits::{MAX_CANNED_REPLIES, MAX_NOTES};
use protocol::{BriefState, ConversationEvent, Millis, Note, Seq, VisitorContext};

use super::script::{MetaValues, parse_meta};
use super::{RedisStore, json, unavailable};
use crate::store::desk::{NewNote, RecentCursor, StoredFile, index_words};
use crate::store::{ConversationMeta, DeskStore, StoreError};

/// Most members read per word of a search: a word found in more conversations than this is
/// matched among its most recent ones.
const WORD_SCAN: isize = 1000;

/// Most words of a query looked up.
const QUERY_WORDS: usize = 8;

/// Most events read to index a conversation.
const INDEX_EVENTS: usize = 5000;

/// Sets the visitor's context if the conversation exists (one step: no key is made for a
/// conversation that is gone).
const SET_CONTEXT: &str = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end \
    redis.call('HSET', KEYS[1], 'ctx', ARGV[1]) return 1";

/// Claims the brief of stretch ARGV[1] with the pending state ARGV[2]: 1 when claimed, 0 when
/// this stretch or a later one was, -1 when the conversation is gone.
const CLAIM_BRIEF: &str = "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end \
    local cur = redis.call('HGET', KEYS[1], 'brief_for') \
    if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end \
    redis.call('HSET', KEYS[1], 'brief_for', ARGV[1], 'brief', ARGV[2]) return 1";

/// Stores the brief ARGV[2] made for stretch ARGV[1], unless a later stretch was claimed.
const SET_BRIEF: &str = "if redis.call('HGET', KEYS[1], 'brief_for') ~= ARGV[1] then return 0 end \
    redis.call('HSET', KEYS[1], 'brief', ARGV[2]) return 1";

/// Records file ARGV[1] (its JSON ARGV[2]) unless the conversation holds ARGV[3] already:
/// 1 recorded, 0 at the limit, -1 no conversation. The count is the meta's `files` field.
const ADD_FILE: &str = "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end \
    local n = tonumber(redis.call('HGET', KEYS[1], 'files') or '0') \
    if n >= tonumber(ARGV[3]) then return 0 end \
    redis.call('HSET', KEYS[1], 'files', n + 1, 'file:' .. ARGV[1], ARGV[2]) return 1";

/// Every note of a conversation, in order (`false` when there is no conversation).
const NOTES: &str = "local n = redis.call('HMGET', KEYS[1], 'ws', 'notes') \
    if not n[1] then return false end \
    local out = {} for i = 1, tonumber(n[2] or '0') do \
    out[i] = redis.call('HGET', KEYS[1], 'note:' .. i) end return out";

pub(super) struct DeskScripts {
    note: redis::Script,
    notes: redis::Script,
    set_context: redis::Script,
    claim_brief: redis::Script,
    set_brief: redis::Script,
    add_file: redis::Script,
    canned_save: redis::Script,
}

impl DeskScripts {
    pub(super) fn new() -> Self {
        DeskScripts {
            note: redis::Script::new(include_str!("../lua/note.lua")),
            notes: redis::Script::new(NOTES),
            set_context: redis::Script::new(SET_CONTEXT),
            claim_brief: redis::Script::new(CLAIM_BRIEF),
            set_brief: redis::Script::new(SET_BRIEF),
            add_file: redis::Script::new(ADD_FILE),
            canned_save: redis::Script::new(include_str!("../lua/canned_save.lua")),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Unavailable(format!("stored JSON: {e}")))
}

impl RedisStore {
    /// Run one of the desk's scripts on a conversation's meta hash (its one key), with `args`;
    /// the number it answers.
    async fn on_meta(
        &self,
        script: &redis::Script,
        ws: &str,
        id: &str,
        args: &[&str],
    ) -> Result<i64, StoreError> {
        let mut invocation = script.key(self.keys.meta(ws, id));
        for arg in args {
            invocation.arg(arg);
        }
        let mut conn = self.conn.clone();
        invocation
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    pub(super) async fn desk_add_note(
        &self,
        ws: &str,
        id: &str,
        note: NewNote,
        at: Millis,
    ) -> Result<(Note, bool), StoreError> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            at: Millis,
            author: &'a protocol::OperatorRef,
            text: &'a str,
            client_id: &'a str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            attachments: &'a [protocol::Attachment],
        }
        let body = json(&Body {
            at,
            author: &note.author,
            text: &note.text,
            client_id: &note.client_id,
            attachments: &note.attachments,
        })?;
        let mut conn = self.conn.clone();
        let reply: String = self
            .desk
            .note
            .key(self.keys.meta(ws, id))
            .arg(format!("n:{}", note.dedupe_key()))
            .arg(body)
            .arg(MAX_NOTES)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match reply.split_once('\u{1e}') {
            Some(("ok", note)) => Ok((parse(note)?, false)),
            Some(("dup", note)) => Ok((parse(note)?, true)),
            _ if reply == "limit" => Err(StoreError::LimitReached),
            _ => Err(StoreError::NotFound),
        }
    }

    pub(super) async fn desk_notes(
        &self,
        ws: &str,
        id: &str,
        after: Seq,
    ) -> Result<Vec<Note>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Option<Vec<String>> = self
            .desk
            .notes
            .key(self.keys.meta(ws, id))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut out = Vec::new();
        for json in all.ok_or(StoreError::NotFound)? {
            let note: Note = parse(&json)?;
            if note.after_seq >= after {
                out.push(note);
            }
        }
        Ok(out)
    }

    pub(super) async fn desk_set_context(
        &self,
        ws: &str,
        id: &str,
        context: &VisitorContext,
    ) -> Result<(), StoreError> {
        let set = self
            .on_meta(&self.desk.set_context, ws, id, &[&json(context)?])
            .await?;
        if set == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(super) async fn desk_context(
        &self,
        ws: &str,
        id: &str,
    ) -> Result<Option<VisitorContext>, StoreError> {
        let mut conn = self.conn.clone();
        let ctx: Option<String> = redis::cmd("HGET")
            .arg(self.keys.meta(ws, id))
            .arg("ctx")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        ctx.map(|c| parse(&c)).transpose()
    }

    /// After the idle sweep took a conversation off the Online list: list it as recent and
    /// index its words (one pipeline, every key in the workspace's slot).
    pub(super) async fn desk_left_online(&self, meta: &ConversationMeta) -> Result<(), StoreError> {
        let ws = &meta.workspace_id;
        let events = self.desk_all_events(ws, &meta.id).await?;
        let words = index_words(&meta.id, &meta.visitor_label, &events);
        let ttl_ms = self.retention_secs.max(1) * 1100;
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(self.keys.of(ws, "recent"))
            .arg(meta.last_activity_at)
            .arg(&meta.id)
            .ignore();
        for w in &words {
            let key = self.keys.of(ws, &format!("ix:{w}"));
            pipe.cmd("ZADD")
                .arg(&key)
                .arg(meta.last_activity_at)
                .arg(&meta.id)
                .ignore();
            // An index key outlives its last conversation by at most a retention period.
            pipe.cmd("PEXPIRE").arg(&key).arg(ttl_ms).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
    }

    async fn desk_all_events(
        &self,
        ws: &str,
        id: &str,
    ) -> Result<Vec<ConversationEvent>, StoreError> {
        let keys = self.keys.conversation(ws, id);
        let mut conn = self.conn.clone();
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(keys.history())
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(INDEX_EVENTS)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        entries
            .iter()
            .flat_map(|(_, fields)| fields.iter().map(|(_, e)| parse(e)))
            .collect()
    }

    /// The metas of `ids` of workspace `ws`, `None` for those gone.
    async fn desk_metas(
        &self,
        ws: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ConversationMeta>>, StoreError> {
        let keys: Vec<String> = ids.iter().map(|id| self.keys.meta(ws, id)).collect();
        let values: Vec<MetaValues> = self.read_metas(&keys).await?;
        ids.iter()
            .zip(values)
            .map(|(id, v)| {
                if v.iter().all(Option::is_none) {
                    Ok(None)
                } else {
                    parse_meta(id, &v).map(Some)
                }
            })
            .collect()
    }

    /// Forget index or recent entries of conversations that expired.
    async fn desk_forget(&self, key: &str, gone: &[&String]) -> Result<(), StoreError> {
        if gone.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        redis::cmd("ZREM")
            .arg(key)
            .arg(gone)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    pub(super) async fn desk_recent(
        &self,
        ws: &str,
        after: Option<&RecentCursor>,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        let key = self.keys.of(ws, "recent");
        let max = after.map_or("+inf".to_owned(), |c| c.at.to_string());
        let batch = limit.max(1) * 2;
        let mut out = Vec::new();
        // Conversations back on the Online list and expired ones are skipped: read on until
        // the page is full or the list ends (bounded, so a page is a few round trips).
        for round in 0..16 {
            let mut conn = self.conn.clone();
            let ids: Vec<String> = redis::cmd("ZREVRANGEBYSCORE")
                .arg(&key)
                .arg(&max)
                .arg("-inf")
                .arg("LIMIT")
                .arg(round * batch)
                .arg(batch)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            let metas = self.desk_metas(ws, &ids).await?;
            let gone: Vec<&String> = ids
                .iter()
                .zip(&metas)
                .filter(|(_, m)| m.is_none())
                .map(|(id, _)| id)
                .collect();
            self.desk_forget(&key, &gone).await?;
            for meta in metas.into_iter().flatten() {
                let past = after.is_none_or(|c| c.precedes(meta.last_activity_at, &meta.id));
                if past && !meta.active && out.len() < limit {
                    out.push(meta);
                }
            }
            if out.len() >= limit || ids.len() < batch {
                break;
            }
        }
        Ok(out)
    }

    pub(super) async fn desk_search(
        &self,
        ws: &str,
        words: &[String],
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let words = &words[..words.len().min(QUERY_WORDS)];
        let mut pipe = redis::pipe();
        for w in words {
            pipe.cmd("ZREVRANGE")
                .arg(self.keys.of(ws, &format!("ix:{w}")))
                .arg(0)
                .arg(WORD_SCAN - 1);
        }
        let mut conn = self.conn.clone();
        let lists: Vec<Vec<String>> = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        // Every word must match: the ids of the first list found in all the others.
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for list in &lists {
            for id in list {
                *counts.entry(id.as_str()).or_default() += 1;
            }
        }
        let ids: Vec<String> = lists[0]
            .iter()
            .filter(|id| counts.get(id.as_str()) == Some(&lists.len()))
            .take(limit * 2)
            .cloned()
            .collect();
        let metas = self.desk_metas(ws, &ids).await?;
        let mut out: Vec<ConversationMeta> = metas.into_iter().flatten().collect();
        crate::store::desk::sort_newest_first(&mut out);
        out.truncate(limit);
        Ok(out)
    }

    pub(super) async fn desk_earlier(
        &self,
        ws: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut conn = self.conn.clone();
        let visitor: Option<String> = redis::cmd("HGET")
            .arg(self.keys.meta(ws, id))
            .arg("vid")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some(visitor) = visitor else {
            return Ok(Vec::new());
        };
        let ids: Vec<String> = redis::cmd("ZREVRANGE")
            .arg(self.keys.of(ws, &format!("v:{visitor}")))
            .arg(0)
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let others: Vec<String> = ids.into_iter().filter(|i| i != id).take(limit).collect();
        Ok(self
            .desk_metas(ws, &others)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    pub(super) async fn desk_canned(&self, ws: &str) -> Result<Vec<CannedReply>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<String> = redis::cmd("HVALS")
            .arg(self.keys.of(ws, "canned"))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut out: Vec<CannedReply> = all.iter().map(|j| parse(j)).collect::<Result<_, _>>()?;
        out.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
        Ok(out)
    }

    pub(super) async fn desk_save_canned(
        &self,
        ws: &str,
        reply: &CannedReply,
        create: bool,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let answer: String = self
            .desk
            .canned_save
            .key(self.keys.of(ws, "canned"))
            .arg(&reply.id)
            .arg(&reply.shortcut)
            .arg(json(reply)?)
            .arg(if create { "1" } else { "0" })
            .arg(MAX_CANNED_REPLIES)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match answer.as_str() {
            "ok" => Ok(()),
            "taken" => Err(StoreError::ShortcutTaken),
            "limit" => Err(StoreError::LimitReached),
            _ => Err(StoreError::NotFound),
        }
    }

    pub(super) async fn desk_delete_canned(&self, ws: &str, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let n: i64 = redis::cmd("HDEL")
            .arg(self.keys.of(ws, "canned"))
            .arg(id)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[async_trait]
impl DeskStore for RedisStore {
    async fn add_note(
        &self,
        ws: &str,
        id: &str,
        note: NewNote,
        at: Millis,
    ) -> Result<(Note, bool), StoreError> {
        self.desk_add_note(ws, id, note, at).await
    }

    async fn notes(&self, ws: &str, id: &str, after: Seq) -> Result<Vec<Note>, StoreError> {
        self.desk_notes(ws, id, after).await
    }

    async fn set_context(
        &self,
        ws: &str,
        id: &str,
        context: &VisitorContext,
    ) -> Result<(), StoreError> {
        self.desk_set_context(ws, id, context).await
    }

    async fn context(&self, ws: &str, id: &str) -> Result<Option<VisitorContext>, StoreError> {
        self.desk_context(ws, id).await
    }

    async fn claim_brief(
        &self,
        ws: &str,
        id: &str,
        stretch: u64,
        pending: &BriefState,
    ) -> Result<bool, StoreError> {
        let claimed = self
            .on_meta(
                &self.desk.claim_brief,
                ws,
                id,
                &[&stretch.to_string(), &json(pending)?],
            )
            .await?;
        match claimed {
            -1 => Err(StoreError::NotFound),
            n => Ok(n == 1),
        }
    }

    async fn set_brief(
        &self,
        ws: &str,
        id: &str,
        stretch: u64,
        state: &BriefState,
    ) -> Result<bool, StoreError> {
        let set = self
            .on_meta(
                &self.desk.set_brief,
                ws,
                id,
                &[&stretch.to_string(), &json(state)?],
            )
            .await?;
        Ok(set == 1)
    }

    async fn add_file(
        &self,
        ws: &str,
        id: &str,
        file: &StoredFile,
        max: usize,
    ) -> Result<(), StoreError> {
        let added = self
            .on_meta(
                &self.desk.add_file,
                ws,
                id,
                &[&file.attachment.id, &json(file)?, &max.to_string()],
            )
            .await?;
        match added {
            1 => Ok(()),
            0 => Err(StoreError::LimitReached),
            _ => Err(StoreError::NotFound),
        }
    }

    async fn files(
        &self,
        ws: &str,
        id: &str,
        ids: &[String],
    ) -> Result<Vec<StoredFile>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let fields: Vec<String> = ids.iter().map(|i| format!("file:{i}")).collect();
        let found: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.meta(ws, id))
            .arg(&fields)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        found.into_iter().flatten().map(|j| parse(&j)).collect()
    }

    async fn brief(&self, ws: &str, id: &str) -> Result<Option<BriefState>, StoreError> {
        let mut conn = self.conn.clone();
        let brief: Option<String> = redis::cmd("HGET")
            .arg(self.keys.meta(ws, id))
            .arg("brief")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        brief.map(|b| parse(&b)).transpose()
    }

    async fn recent(
        &self,
        ws: &str,
        after: Option<&RecentCursor>,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        self.desk_recent(ws, after, limit).await
    }

    async fn search(
        &self,
        ws: &str,
        words: &[String],
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        self.desk_search(ws, words, limit).await
    }

    async fn earlier(
        &self,
        ws: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        self.desk_earlier(ws, id, limit).await
    }

    async fn canned_replies(&self, ws: &str) -> Result<Vec<CannedReply>, StoreError> {
        self.desk_canned(ws).await
    }

    async fn save_canned_reply(
        &self,
        ws: &str,
        reply: &CannedReply,
        create: bool,
    ) -> Result<(), StoreError> {
        self.desk_save_canned(ws, reply, create).await
    }

    async fn delete_canned_reply(&self, ws: &str, id: &str) -> Result<(), StoreError> {
        self.desk_delete_canned(ws, id).await
    }
}
