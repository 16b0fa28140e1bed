//! The embedded default store: everything in process memory, lost on restart.
//!
//! Each conversation sits behind its own mutex; every trait method takes it once and does all
//! of its work (control rules, sequence number, dedupe) before letting go, which is what makes
//! each method atomic. No lock is held across an `.await`. The operator's desk (notes, context,
//! saved replies, recent, search) is in `desk.rs`.

mod desk;
mod follow_up;
mod profiles;
mod team;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use dashmap::DashMap;
use protocol::{
    AuditActor, AuditEntry, ConversationEvent, ConversationId, EventKind, Holder, Millis,
    OperatorRef, ReleaseReason, Seq, WorkspaceId,
};

use super::{
    Appended, ControlChange, ConversationMeta, ConversationStore, Holding, NewConversation,
    NewEvent, StoreError, dedupe_key, operator_key, preview_of,
};
use crate::control::{self, Actor, Transition, Writer};
use crate::profile::OperatorProfile;

#[derive(Debug, Default)]
pub struct MemoryStore {
    conversations: DashMap<String, Arc<Mutex<Conversation>>>,
    /// When each operator (`workspace/operator`) was last seen connected.
    operators_seen: DashMap<String, Millis>,
    /// Per workspace: every operator who connected, and their open sockets.
    team: DashMap<String, HashMap<String, (AuditActor, i64)>>,
    /// Per workspace: the newest audit entries.
    audit: DashMap<String, VecDeque<AuditEntry>>,
    /// Saved operator profiles, by `workspace/operator`.
    profiles: DashMap<String, OperatorProfile>,
    /// Avatar images, by `workspace/hash`.
    avatars: DashMap<String, Arc<[u8]>>,
    /// Saved replies, by workspace (each list behind the map's shard lock: one atomic step).
    canned: DashMap<String, Vec<protocol::canned::CannedReply>>,
}

#[derive(Debug)]
struct Conversation {
    meta: ConversationMeta,
    events: Vec<ConversationEvent>,
    seen: HashMap<String, Seq>,
    /// When the holder last acted (took over, wrote).
    holder_active: Millis,
    /// When the holder took over.
    holder_since: Millis,
    /// The epoch whose holding was last warned of an idle release.
    warned_epoch: Option<u64>,
    /// When a node last saw the visitor connected.
    visitor_seen: Millis,
    /// When a human was last requested.
    human_at: Millis,
    /// The operator's desk of this conversation (`desk.rs`).
    desk: desk::ConversationDesk,
}

impl Conversation {
    fn push(&mut self, kind: EventKind, at: Millis) -> ConversationEvent {
        let event = ConversationEvent {
            seq: self.meta.last_seq + 1,
            at,
            kind,
        };
        self.meta.last_seq = event.seq;
        self.meta.last_activity_at = self.meta.last_activity_at.max(at);
        self.meta.active = true;
        self.events.push(event.clone());
        event
    }

    fn apply(
        &mut self,
        t: Result<Transition, control::ControlError>,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        let event = match t? {
            Transition::Unchanged => None,
            Transition::Changed { state, event } => {
                if matches!(
                    event,
                    EventKind::OperatorJoined { .. } | EventKind::OperatorTransferred { .. }
                ) {
                    // Someone answered (or a new holder's time starts): the conversation no
                    // longer waits for a human.
                    self.meta.needs_human = false;
                    self.holder_active = at;
                    self.holder_since = at;
                }
                self.meta.control = state;
                Some(self.push(event, at))
            }
        };
        Ok(ControlChange {
            event,
            meta: self.meta.clone(),
        })
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Conversation `id` of workspace `ws`: another workspace's id is not found, as in Redis,
    /// where the workspace is part of every key.
    fn conversation(&self, ws: &str, id: &str) -> Result<Arc<Mutex<Conversation>>, StoreError> {
        self.conversations
            .get(id)
            .map(|c| c.value().clone())
            .filter(|c| lock(c).meta.workspace_id == ws)
            .ok_or(StoreError::NotFound)
    }
}

fn lock(c: &Mutex<Conversation>) -> MutexGuard<'_, Conversation> {
    // A panic while holding the lock cannot leave a half-applied step (each step mutates only
    // after all checks), so the data is still consistent: recover it instead of failing forever.
    c.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn create(&self, new: NewConversation) -> Result<ConversationMeta, StoreError> {
        let meta = ConversationMeta {
            id: new.id.clone(),
            workspace_id: new.workspace_id,
            visitor_label: new.visitor_label,
            started_at: new.at,
            last_activity_at: new.at,
            last_message: None,
            control: control::initial(),
            needs_human: false,
            visitor_connections: 0,
            last_seq: 0,
            active: true,
            follow_up: false,
        };
        let conv = Conversation {
            meta: meta.clone(),
            events: Vec::new(),
            seen: HashMap::new(),
            holder_active: new.at,
            holder_since: new.at,
            warned_epoch: None,
            visitor_seen: new.at,
            human_at: 0,
            desk: desk::ConversationDesk::new(new.visitor_id),
        };
        self.conversations
            .insert(new.id, Arc::new(Mutex::new(conv)));
        Ok(meta)
    }

    async fn get(&self, ws: &str, id: &str) -> Result<Option<ConversationMeta>, StoreError> {
        match self.conversation(ws, id) {
            Ok(c) => Ok(Some(lock(&c).meta.clone())),
            Err(_) => Ok(None),
        }
    }

    async fn append(
        &self,
        ws: &str,
        id: &str,
        draft: NewEvent,
        fence: Writer,
        at: Millis,
    ) -> Result<Appended, StoreError> {
        let conv = self.conversation(ws, id)?;
        let mut c = lock(&conv);
        control::may_append(&c.meta.control, &fence)?;
        let kind = match draft {
            NewEvent::Message {
                author,
                text,
                client_id,
                attachments,
            } => {
                if let Some(client_id) = &client_id {
                    let key = dedupe_key(&author, client_id);
                    if let Some(seq) = c.seen.get(&key).copied() {
                        let event = c.events[(seq - 1) as usize].clone();
                        return Ok(Appended {
                            event,
                            duplicate: true,
                            meta: c.meta.clone(),
                            event_json: None,
                        });
                    }
                    let seq = c.meta.last_seq + 1;
                    c.seen.insert(key, seq);
                }
                c.meta.last_message = Some(preview_of(&author, &text, &attachments));
                EventKind::Message {
                    author,
                    text,
                    client_id,
                    attachments,
                }
            }
            NewEvent::HumanRequested { by } => {
                c.meta.needs_human = true;
                c.human_at = at;
                EventKind::HumanRequested { by }
            }
            NewEvent::Plain(e) => e.kind(),
        };
        if matches!(fence, Writer::Operator(_)) {
            c.holder_active = c.holder_active.max(at);
        }
        let event = c.push(kind, at);
        Ok(Appended {
            event,
            duplicate: false,
            meta: c.meta.clone(),
            event_json: None,
        })
    }

    async fn takeover(
        &self,
        ws: &str,
        id: &str,
        operator: &OperatorRef,
        at: Millis,
    ) -> Result<ControlChange, StoreError> {
        let conv = self.conversation(ws, id)?;
        let mut c = lock(&conv);
        let t = control::takeover(&c.meta.control, operator);
        c.apply(t, at)
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
        let conv = self.conversation(ws, id)?;
        let mut c = lock(&conv);
        let t = control::release(&c.meta.control, actor, force, seen_epoch);
        c.apply(t, at)
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
        let conv = self.conversation(ws, id)?;
        let mut c = lock(&conv);
        let t = control::transfer(&c.meta.control, actor, to, seen_epoch);
        c.apply(t, at)
    }

    async fn history(
        &self,
        ws: &str,
        id: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<ConversationEvent>, StoreError> {
        let conv = self.conversation(ws, id)?;
        let c = lock(&conv);
        // seq n lives at index n - 1.
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(c.events.len());
        Ok(c.events[start..].iter().take(limit).cloned().collect())
    }

    async fn active(&self, workspace_id: &str) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut list: Vec<ConversationMeta> = self
            .conversations
            .iter()
            .filter_map(|c| {
                let c = lock(c.value());
                (c.meta.active && c.meta.workspace_id == workspace_id).then(|| c.meta.clone())
            })
            .collect();
        list.sort_by_key(|m| std::cmp::Reverse(m.last_activity_at));
        Ok(list)
    }

    async fn visitor_presence(
        &self,
        ws: &str,
        id: &str,
        delta: i32,
        at: Millis,
    ) -> Result<ConversationMeta, StoreError> {
        let conv = self.conversation(ws, id)?;
        let mut c = lock(&conv);
        c.meta.visitor_connections = c.meta.visitor_connections.saturating_add_signed(delta);
        if delta > 0 {
            c.meta.active = true;
            c.meta.last_activity_at = c.meta.last_activity_at.max(at);
            c.visitor_seen = c.visitor_seen.max(at);
        }
        Ok(c.meta.clone())
    }

    async fn holdings(&self) -> Result<Vec<Holding>, StoreError> {
        let mut out = Vec::new();
        for entry in self.conversations.iter() {
            let c = lock(entry.value());
            if let Holder::Operator(holder) = &c.meta.control.holder {
                let key = operator_key(&c.meta.workspace_id, &holder.id);
                out.push(Holding {
                    conversation_id: c.meta.id.clone(),
                    workspace_id: c.meta.workspace_id.clone(),
                    holder_id: holder.id.clone(),
                    epoch: c.meta.control.epoch,
                    seen: self.operators_seen.get(&key).map_or(0, |s| *s),
                    active: c.holder_active,
                });
            }
        }
        Ok(out)
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
        let conv = self.conversation(ws, id)?;
        let mut c = lock(&conv);
        let t = control::auto_release(&c.meta.control, holder_id, epoch, reason);
        c.apply(Ok(t), at)
    }

    async fn mark_warned(&self, ws: &str, id: &str, epoch: u64) -> Result<bool, StoreError> {
        let conv = self.conversation(ws, id)?;
        let mut c = lock(&conv);
        Ok(c.warned_epoch.replace(epoch) != Some(epoch))
    }

    async fn visitors_seen(
        &self,
        ids: &[(WorkspaceId, ConversationId)],
        at: Millis,
    ) -> Result<(), StoreError> {
        for (ws, id) in ids {
            if let Ok(conv) = self.conversation(ws, id) {
                let mut c = lock(&conv);
                c.visitor_seen = c.visitor_seen.max(at);
            }
        }
        Ok(())
    }

    async fn expire_visitors(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut out = Vec::new();
        for entry in self.conversations.iter() {
            let mut c = lock(entry.value());
            if c.meta.visitor_connections > 0 && c.visitor_seen < cutoff {
                c.meta.visitor_connections = 0;
                out.push(c.meta.clone());
            }
        }
        Ok(out)
    }

    async fn expire_human_requests(
        &self,
        cutoff: Millis,
        at: Millis,
    ) -> Result<Vec<(ConversationMeta, ConversationEvent)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.conversations.iter() {
            let mut c = lock(entry.value());
            if c.meta.needs_human
                && c.human_at <= cutoff
                && matches!(c.meta.control.holder, Holder::Ai)
            {
                c.meta.needs_human = false;
                let waited_ms = at.saturating_sub(c.human_at);
                let event = c.push(EventKind::HumanRequestExpired { waited_ms }, at);
                out.push((c.meta.clone(), event));
            }
        }
        Ok(out)
    }

    async fn deactivate_idle(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError> {
        let mut gone = Vec::new();
        for entry in self.conversations.iter() {
            let mut c = lock(entry.value());
            if c.meta.active && c.meta.visitor_connections == 0 && c.meta.last_activity_at < cutoff
            {
                c.meta.active = false;
                c.index();
                gone.push(c.meta.clone());
            }
        }
        Ok(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::store::conformance_tests!((
        (),
        Arc::new(MemoryStore::new()) as Arc<dyn crate::store::Store>
    ));
}
