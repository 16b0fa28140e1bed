//! The memory store's desk (see `store/desk.rs`): notes and context live with their
//! conversation, behind its mutex; the search index is the words a conversation had when it
//! last left the Online list, kept with it.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use protocol::canned::CannedReply;
use protocol::limits::{MAX_CANNED_REPLIES, MAX_NOTES};
use protocol::{BriefState, Millis, Note, Seq, VisitorContext};

use super::{Conversation, MemoryStore, lock};
use crate::store::desk::{NewNote, RecentCursor, StoredFile, index_words};
use crate::store::{ConversationMeta, DeskStore, StoreError};

/// A conversation's desk: who the visitor is, and the rest only once there is some (most
/// conversations never have a note, and an idle widget's conversation should cost little).
#[derive(Debug)]
pub(super) struct ConversationDesk {
    visitor_id: String,
    more: Option<Box<DeskState>>,
}

#[derive(Debug, Default)]
pub(super) struct DeskState {
    notes: Vec<Note>,
    /// Note dedupe key → its index in `notes`.
    note_seen: HashMap<String, usize>,
    context: Option<VisitorContext>,
    /// The stretch the brief was claimed for, and its state.
    brief: Option<(u64, BriefState)>,
    /// Files uploaded to the conversation, by id.
    files: HashMap<String, StoredFile>,
    /// What search finds it by (empty until it first leaves the Online list).
    words: HashSet<String>,
    /// Its follow-up (`memory/follow_up.rs`).
    pub(super) follow_up: crate::store::follow_up::Record,
}

impl ConversationDesk {
    pub(super) fn new(visitor_id: String) -> Self {
        ConversationDesk {
            visitor_id,
            more: None,
        }
    }

    pub(super) fn state(&mut self) -> &mut DeskState {
        self.more.get_or_insert_with(Box::default)
    }

    pub(super) fn visitor_id(&self) -> &str {
        &self.visitor_id
    }

    /// Its follow-up, if it ever waited for one.
    pub(super) fn follow_up(&self) -> Option<&crate::store::follow_up::Record> {
        self.more
            .as_ref()
            .map(|m| &m.follow_up)
            .filter(|r| r.reason.is_some())
    }

    fn notes(&self) -> &[Note] {
        self.more.as_ref().map_or(&[], |m| &m.notes)
    }

    fn has_word(&self, word: &str) -> bool {
        self.more.as_ref().is_some_and(|m| m.words.contains(word))
    }
}

impl Conversation {
    /// Index the conversation as it is now (it is leaving the Online list).
    pub(super) fn index(&mut self) {
        let words = index_words(&self.meta.id, &self.meta.visitor_label, &self.events);
        self.desk.state().words = words.into_iter().collect();
    }
}

impl MemoryStore {
    pub(super) fn desk_add_note(
        &self,
        ws: &str,
        id: &str,
        note: NewNote,
        at: Millis,
    ) -> Result<(Note, bool), StoreError> {
        let c = self.conversation(ws, id)?;
        let mut c = lock(&c);
        let key = note.dedupe_key();
        let after_seq = c.meta.last_seq;
        let desk = c.desk.state();
        if let Some(&i) = desk.note_seen.get(&key) {
            return Ok((desk.notes[i].clone(), true));
        }
        if desk.notes.len() >= MAX_NOTES {
            return Err(StoreError::LimitReached);
        }
        let stored = Note {
            id: desk.notes.len() as u64 + 1,
            after_seq,
            at,
            author: note.author,
            text: note.text,
            client_id: Some(note.client_id),
            attachments: note.attachments,
        };
        let i = desk.notes.len();
        desk.notes.push(stored.clone());
        desk.note_seen.insert(key, i);
        Ok((stored, false))
    }

    pub(super) fn desk_notes(
        &self,
        ws: &str,
        id: &str,
        after: Seq,
    ) -> Result<Vec<Note>, StoreError> {
        let c = self.conversation(ws, id)?;
        let c = lock(&c);
        Ok(c.desk
            .notes()
            .iter()
            .filter(|n| n.after_seq >= after)
            .cloned()
            .collect())
    }

    pub(super) fn desk_set_context(
        &self,
        ws: &str,
        id: &str,
        context: &VisitorContext,
    ) -> Result<(), StoreError> {
        let c = self.conversation(ws, id)?;
        lock(&c).desk.state().context = Some(context.clone());
        Ok(())
    }

    pub(super) fn desk_context(
        &self,
        ws: &str,
        id: &str,
    ) -> Result<Option<VisitorContext>, StoreError> {
        Ok(self
            .conversation(ws, id)
            .ok()
            .and_then(|c| lock(&c).desk.more.as_ref().and_then(|m| m.context.clone())))
    }

    /// Every conversation of `ws` that `keep` accepts, most recent activity first.
    fn desk_select(&self, ws: &str, keep: impl Fn(&Conversation) -> bool) -> Vec<ConversationMeta> {
        let mut out: Vec<ConversationMeta> = self
            .conversations
            .iter()
            .filter_map(|e| {
                let c = lock(e.value());
                (c.meta.workspace_id == ws && keep(&c)).then(|| c.meta.clone())
            })
            .collect();
        crate::store::desk::sort_newest_first(&mut out);
        out
    }

    pub(super) fn desk_recent(
        &self,
        ws: &str,
        after: Option<&RecentCursor>,
        limit: usize,
    ) -> Vec<ConversationMeta> {
        let mut out = self.desk_select(ws, |c| {
            !c.meta.active
                && after.is_none_or(|cur| cur.precedes(c.meta.last_activity_at, &c.meta.id))
        });
        out.truncate(limit);
        out
    }

    pub(super) fn desk_search(
        &self,
        ws: &str,
        words: &[String],
        limit: usize,
    ) -> Vec<ConversationMeta> {
        if words.is_empty() {
            return Vec::new();
        }
        let mut out = self.desk_select(ws, |c| words.iter().all(|w| c.desk.has_word(w)));
        out.truncate(limit);
        out
    }

    pub(super) fn desk_earlier(
        &self,
        ws: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        let c = self.conversation(ws, id)?;
        let visitor = lock(&c).desk.visitor_id.clone();
        let mut out = self.desk_select(ws, |c| c.desk.visitor_id == visitor && c.meta.id != id);
        out.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        out.truncate(limit);
        Ok(out)
    }

    pub(super) fn desk_canned(&self, ws: &str) -> Vec<CannedReply> {
        let mut all = self.canned.get(ws).map(|r| r.clone()).unwrap_or_default();
        all.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
        all
    }

    pub(super) fn desk_save_canned(
        &self,
        ws: &str,
        reply: &CannedReply,
        create: bool,
    ) -> Result<(), StoreError> {
        let mut all = self.canned.entry(ws.to_owned()).or_default();
        if all
            .iter()
            .any(|r| r.shortcut == reply.shortcut && r.id != reply.id)
        {
            return Err(StoreError::ShortcutTaken);
        }
        let count = all.len();
        match all.iter_mut().find(|r| r.id == reply.id) {
            Some(_) if create => Err(StoreError::ShortcutTaken),
            Some(old) => {
                *old = reply.clone();
                Ok(())
            }
            None if !create => Err(StoreError::NotFound),
            None if count >= MAX_CANNED_REPLIES => Err(StoreError::LimitReached),
            None => {
                all.push(reply.clone());
                Ok(())
            }
        }
    }

    pub(super) fn desk_delete_canned(&self, ws: &str, id: &str) -> Result<(), StoreError> {
        let mut all = self.canned.entry(ws.to_owned()).or_default();
        let before = all.len();
        all.retain(|r| r.id != id);
        if all.len() == before {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[async_trait]
impl DeskStore for MemoryStore {
    async fn add_note(
        &self,
        ws: &str,
        id: &str,
        note: NewNote,
        at: Millis,
    ) -> Result<(Note, bool), StoreError> {
        self.desk_add_note(ws, id, note, at)
    }

    async fn notes(&self, ws: &str, id: &str, after: Seq) -> Result<Vec<Note>, StoreError> {
        self.desk_notes(ws, id, after)
    }

    async fn set_context(
        &self,
        ws: &str,
        id: &str,
        context: &VisitorContext,
    ) -> Result<(), StoreError> {
        self.desk_set_context(ws, id, context)
    }

    async fn context(&self, ws: &str, id: &str) -> Result<Option<VisitorContext>, StoreError> {
        self.desk_context(ws, id)
    }

    async fn claim_brief(
        &self,
        ws: &str,
        id: &str,
        stretch: u64,
        pending: &BriefState,
    ) -> Result<bool, StoreError> {
        let c = self.conversation(ws, id)?;
        let mut c = lock(&c);
        let desk = c.desk.state();
        if desk.brief.as_ref().is_some_and(|(s, _)| *s >= stretch) {
            return Ok(false);
        }
        desk.brief = Some((stretch, pending.clone()));
        Ok(true)
    }

    async fn set_brief(
        &self,
        ws: &str,
        id: &str,
        stretch: u64,
        state: &BriefState,
    ) -> Result<bool, StoreError> {
        let c = self.conversation(ws, id)?;
        let mut c = lock(&c);
        match &mut c.desk.state().brief {
            Some((s, stored)) if *s == stretch => {
                *stored = state.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn add_file(
        &self,
        ws: &str,
        id: &str,
        file: &StoredFile,
        max: usize,
    ) -> Result<(), StoreError> {
        let c = self.conversation(ws, id)?;
        let mut c = lock(&c);
        let files = &mut c.desk.state().files;
        if files.len() >= max {
            return Err(StoreError::LimitReached);
        }
        files.insert(file.attachment.id.clone(), file.clone());
        Ok(())
    }

    async fn files(
        &self,
        ws: &str,
        id: &str,
        ids: &[String],
    ) -> Result<Vec<StoredFile>, StoreError> {
        let c = self.conversation(ws, id)?;
        let c = lock(&c);
        let Some(more) = c.desk.more.as_ref() else {
            return Ok(Vec::new());
        };
        Ok(ids
            .iter()
            .filter_map(|i| more.files.get(i).cloned())
            .collect())
    }

    async fn brief(&self, ws: &str, id: &str) -> Result<Option<BriefState>, StoreError> {
        let c = self.conversation(ws, id)?;
        let c = lock(&c);
        Ok(c.desk
            .more
            .as_ref()
            .and_then(|m| m.brief.as_ref().map(|(_, b)| b.clone())))
    }

    async fn recent(
        &self,
        ws: &str,
        after: Option<&RecentCursor>,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        Ok(self.desk_recent(ws, after, limit))
    }

    async fn search(
        &self,
        ws: &str,
        words: &[String],
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        Ok(self.desk_search(ws, words, limit))
    }

    async fn earlier(
        &self,
        ws: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError> {
        self.desk_earlier(ws, id, limit)
    }

    async fn canned_replies(&self, ws: &str) -> Result<Vec<CannedReply>, StoreError> {
        Ok(self.desk_canned(ws))
    }

    async fn save_canned_reply(
        &self,
        ws: &str,
        reply: &CannedReply,
        create: bool,
    ) -> Result<(), StoreError> {
        self.desk_save_canned(ws, reply, create)
    }

    async fn delete_canned_reply(&self, ws: &str, id: &str) -> Result<(), StoreError> {
        self.desk_delete_canned(ws, id)
    }
}
