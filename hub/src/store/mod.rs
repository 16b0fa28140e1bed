//! The store: conversations, their histories and their control state; the team; profiles; the
//! operator's desk.
//!
//! One trait per concern ([`ConversationStore`], [`TeamStore`], [`ProfileStore`],
//! [`DeskStore`]), each with an in-memory implementation ([`memory::MemoryStore`], the embedded
//! default) and a Redis one ([`redis::RedisStore`]); [`Store`] is a backend that has them all.
//! Every method that changes a conversation is one atomic step that applies the rules of
//! [`crate::control`]; sequence numbers are assigned inside that step, so they are gap-free.
//! The conformance suite (`conformance*.rs`, a part per concern) runs against every backend.

pub mod desk;
pub mod follow_up;
pub mod memory;
pub mod redis;
pub mod timed;

use async_trait::async_trait;
use protocol::{
    AuditActor, AuditEntry, Author, ClientId, Colleague, ControlState, ConversationEvent,
    ConversationId, ConversationSummary, HumanRequestedBy, MessagePreview, Millis, OperatorRef,
    ReleaseReason, Seq, TeamMember, WorkspaceId,
};

use crate::control::{Actor, ControlError, Writer};
use crate::profile::OperatorProfile;
pub use desk::{NewNote, RecentCursor};
pub use follow_up::{EmailJob, FollowUpStore};
use protocol::canned::CannedReply;
use protocol::{BriefState, Note, VisitorContext};

/// A conversation's current state (everything but its history).
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationMeta {
    pub id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub visitor_label: String,
    pub started_at: Millis,
    pub last_activity_at: Millis,
    pub last_message: Option<MessagePreview>,
    pub control: ControlState,
    pub needs_human: bool,
    /// Open widget sockets of the visitor (across all nodes).
    pub visitor_connections: u32,
    pub last_seq: Seq,
    /// On the Online list. Cleared after inactivity, set again by new activity.
    pub active: bool,
    /// It has a follow-up that an operator's message changes: it is waiting for one, or the
    /// visitor left an email (see [`FollowUpStore`]).
    pub follow_up: bool,
}

impl ConversationMeta {
    pub fn summary(&self) -> ConversationSummary {
        ConversationSummary {
            id: self.id.clone(),
            visitor_label: self.visitor_label.clone(),
            started_at: self.started_at,
            last_activity_at: self.last_activity_at,
            last_message: self.last_message.clone(),
            control: self.control.clone(),
            needs_human: self.needs_human,
            visitor_online: self.visitor_connections > 0,
            last_seq: self.last_seq,
        }
    }

    /// Make `row` (an older summary of this conversation) this one, reusing its strings: a
    /// busy conversation's pending Online row is rewritten on every message until it goes out,
    /// and building a new one each time cost about seven string copies per message.
    pub fn update_summary(&self, row: &mut ConversationSummary) {
        row.id.clone_from(&self.id);
        row.visitor_label.clone_from(&self.visitor_label);
        row.started_at = self.started_at;
        row.last_activity_at = self.last_activity_at;
        match (&mut row.last_message, &self.last_message) {
            (Some(old), Some(new)) => {
                old.author = new.author;
                old.text.clone_from(&new.text);
            }
            (old, new) => old.clone_from(new),
        }
        if row.control != self.control {
            row.control = self.control.clone();
        }
        row.needs_human = self.needs_human;
        row.visitor_online = self.visitor_connections > 0;
        row.last_seq = self.last_seq;
    }
}

/// A new conversation.
#[derive(Debug, Clone)]
pub struct NewConversation {
    pub id: ConversationId,
    pub workspace_id: WorkspaceId,
    /// The visitor, across their conversations of the workspace (their token's).
    pub visitor_id: String,
    pub visitor_label: String,
    pub at: Millis,
}

/// What to append to a history (the store assigns its `seq` and time).
#[derive(Debug, Clone)]
pub enum NewEvent {
    Message {
        author: Author,
        text: String,
        /// Idempotency key: the same author and client id never append twice.
        client_id: Option<ClientId>,
        /// Files uploaded to the conversation before (see `DeskStore::add_file`).
        attachments: Vec<protocol::Attachment>,
    },
    HumanRequested {
        by: HumanRequestedBy,
    },
    /// Recorded as it is: nothing of the meta changes (see `EventKind`).
    Plain(PlainEvent),
}

/// Events whose append changes nothing but the history.
#[derive(Debug, Clone)]
pub enum PlainEvent {
    OutsideHours {
        by: HumanRequestedBy,
        opens_at: Option<Millis>,
    },
    FollowUpEmail {
        email: String,
    },
}

impl PlainEvent {
    pub fn kind(self) -> protocol::EventKind {
        match self {
            PlainEvent::OutsideHours { by, opens_at } => {
                protocol::EventKind::OutsideHours { by, opens_at }
            }
            PlainEvent::FollowUpEmail { email } => protocol::EventKind::FollowUpEmail { email },
        }
    }
}

/// A bus publication for an event about to be appended: `head` + the event's JSON + `tail` on
/// `channel` (see `BusMessage::event_envelope`).
#[derive(Debug, Clone)]
pub struct Announce {
    pub channel: String,
    pub head: String,
    pub tail: String,
}

/// The result of an append.
#[derive(Debug, Clone)]
pub struct Appended {
    pub event: ConversationEvent,
    /// `true` when the client id was seen before: `event` is the original, nothing was added.
    pub duplicate: bool,
    pub meta: ConversationMeta,
    /// `event`'s JSON, when the store made it on the way ([`event_json`]: the Redis store, the
    /// bytes it stored): the node's frames take it instead of serializing the event again.
    pub event_json: Option<String>,
}

/// A [`ConversationEvent`]'s JSON from its kind's (`{"type":…}`): what serde makes of the
/// event (`seq`, `at`, then the kind's fields), without serializing the kind again. The Redis
/// append script builds the stored event the same way (common.lua: `record`).
pub fn event_json(seq: Seq, at: Millis, kind_json: &str) -> String {
    let (seq, at) = (seq.to_string(), at.to_string());
    let rest = kind_json.strip_prefix('{').unwrap_or(kind_json);
    let mut out = String::with_capacity(16 + seq.len() + at.len() + rest.len());
    out.push_str("{\"seq\":");
    out.push_str(&seq);
    out.push_str(",\"at\":");
    out.push_str(&at);
    out.push(',');
    out.push_str(rest);
    out
}

/// The result of a takeover or release.
#[derive(Debug, Clone)]
pub struct ControlChange {
    /// `None` when nothing changed (the holder taking over again).
    pub event: Option<ConversationEvent>,
    pub meta: ConversationMeta,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conversation not found")]
    NotFound,
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A count limit is reached (notes of a conversation, saved replies of a workspace).
    #[error("limit reached")]
    LimitReached,
    /// Another saved reply of the workspace has this shortcut.
    #[error("shortcut taken")]
    ShortcutTaken,
}

/// Conversations and their control: creating, reading, appending under the control rules,
/// takeover and release, the Online list and the sweeps that keep it (presence, idle,
/// auto-release, unanswered requests for a human).
///
/// Conversations are addressed by workspace and id together: an id asked for under another
/// workspace is not found. (The Redis store puts the workspace in every key, so that all of a
/// workspace's keys share one Redis Cluster hash slot: docs/architecture.md.)
#[async_trait]
pub trait ConversationStore: Send + Sync + std::fmt::Debug + 'static {
    async fn create(&self, new: NewConversation) -> Result<ConversationMeta, StoreError>;

    async fn get(&self, ws: &str, id: &str) -> Result<Option<ConversationMeta>, StoreError>;

    /// Append under `fence` (see [`crate::control::may_append`]), assigning the next `seq`.
    async fn append(
        &self,
        ws: &str,
        id: &str,
        draft: NewEvent,
        fence: Writer,
        at: Millis,
    ) -> Result<Appended, StoreError>;

    /// [`ConversationStore::append`], and publish the event on the bus in the same atomic step when this
    /// store can (the Redis store: one round trip for the whole message). Returns whether it
    /// did; when not, the caller publishes.
    async fn append_announced(
        &self,
        ws: &str,
        id: &str,
        draft: NewEvent,
        fence: Writer,
        at: Millis,
        _announce: &Announce,
    ) -> Result<(Appended, bool), StoreError> {
        self.append(ws, id, draft, fence, at)
            .await
            .map(|a| (a, false))
    }

    async fn takeover(
        &self,
        ws: &str,
        id: &str,
        operator: &OperatorRef,
        at: Millis,
    ) -> Result<ControlChange, StoreError>;

    /// `seen_epoch`: see [`crate::control::release`].
    async fn release(
        &self,
        ws: &str,
        id: &str,
        actor: &Actor,
        force: bool,
        seen_epoch: Option<u64>,
        at: Millis,
    ) -> Result<ControlChange, StoreError>;

    /// Hand a held conversation to `to` in one step, under the rules of
    /// [`crate::control::transfer`]. Whether `to` is online is the caller's check.
    async fn transfer(
        &self,
        ws: &str,
        id: &str,
        actor: &Actor,
        to: &OperatorRef,
        seen_epoch: u64,
        at: Millis,
    ) -> Result<ControlChange, StoreError>;

    /// Events with `seq > after`, in order, at most `limit`.
    async fn history(
        &self,
        ws: &str,
        id: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<ConversationEvent>, StoreError>;

    /// The Online list of a workspace, most recent activity first.
    async fn active(&self, workspace_id: &str) -> Result<Vec<ConversationMeta>, StoreError>;

    /// A visitor socket opened (`+1`) or closed (`-1`). Returns the new state.
    async fn visitor_presence(
        &self,
        ws: &str,
        id: &str,
        delta: i32,
        at: Millis,
    ) -> Result<ConversationMeta, StoreError>;

    /// Take conversations whose last activity is before `cutoff` and whose visitor is gone off
    /// the Online list; returns those it took off.
    async fn deactivate_idle(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError>;

    /// Every conversation an operator holds, with what [`crate::control::check_hold`] needs.
    async fn holdings(&self) -> Result<Vec<Holding>, StoreError>;

    /// Hand `id` back to the AI if `holder_id` still holds it at `epoch`
    /// (see [`crate::control::auto_release`]); `event` is `None` when it no longer applied.
    async fn auto_release(
        &self,
        ws: &str,
        id: &str,
        holder_id: &str,
        epoch: u64,
        reason: ReleaseReason,
        at: Millis,
    ) -> Result<ControlChange, StoreError>;

    /// Record that the holding at `epoch` was warned; `true` only the first time, on any node.
    async fn mark_warned(&self, ws: &str, id: &str, epoch: u64) -> Result<bool, StoreError>;

    /// Visitors connected to this node, as (workspace, conversation), were alive at `at`.
    async fn visitors_seen(
        &self,
        ids: &[(WorkspaceId, ConversationId)],
        at: Millis,
    ) -> Result<(), StoreError>;

    /// Visitors counted online but not seen since `cutoff` (their node died) are counted
    /// offline; returns the conversations that changed.
    async fn expire_visitors(&self, cutoff: Millis) -> Result<Vec<ConversationMeta>, StoreError>;

    /// Requests for a human made before `cutoff` that nobody answered (the AI still holds the
    /// conversation): clear each flag and append `human_request_expired` at `at`, exactly once
    /// across nodes. Returns the conversations and their new events.
    async fn expire_human_requests(
        &self,
        cutoff: Millis,
        at: Millis,
    ) -> Result<Vec<(ConversationMeta, ConversationEvent)>, StoreError>;

    /// Whether the store answers now (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The team of a workspace: operators' presence, who holds what, and the audit log.
#[async_trait]
pub trait TeamStore: Send + Sync + std::fmt::Debug + 'static {
    /// Operators connected to this node, as (workspace, operator id), were alive at `at` (each
    /// node refreshes its own).
    async fn operators_seen(
        &self,
        operators: &[(WorkspaceId, String)],
        at: Millis,
    ) -> Result<(), StoreError>;

    /// An operator socket opened (`+1`) or closed (`-1`), on any node.
    async fn operator_presence(
        &self,
        workspace_id: &str,
        operator: &AuditActor,
        delta: i32,
        at: Millis,
    ) -> Result<(), StoreError>;

    /// Every operator who has connected to the workspace: online when connected and seen
    /// since `online_since`, with the conversations each holds.
    async fn team(
        &self,
        workspace_id: &str,
        online_since: Millis,
    ) -> Result<Vec<TeamMember>, StoreError>;

    /// The operators online in the workspace (as in [`TeamStore::team`]), by name, without
    /// their holdings: what a transfer is offered to and checked against, at the cost of the
    /// team's size, not of its holdings.
    async fn colleagues(
        &self,
        workspace_id: &str,
        online_since: Millis,
    ) -> Result<Vec<Colleague>, StoreError>;

    /// Append to the workspace's audit log (the newest [`AUDIT_KEEP`] are kept).
    async fn record_audit(&self, workspace_id: &str, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The newest `limit` audit entries, oldest first.
    async fn audit(&self, workspace_id: &str, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Operators' profiles (display name, avatar) and the avatar images.
#[async_trait]
pub trait ProfileStore: Send + Sync + std::fmt::Debug + 'static {
    /// The operator's saved profile, if any.
    async fn profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
    ) -> Result<Option<OperatorProfile>, StoreError>;

    /// Save (replace) the operator's profile.
    async fn save_profile(
        &self,
        workspace_id: &str,
        operator_id: &str,
        profile: &OperatorProfile,
    ) -> Result<(), StoreError>;

    /// Keep an avatar image under its content hash (idempotent: the same bytes, the same hash).
    async fn put_avatar(
        &self,
        workspace_id: &str,
        hash: &str,
        png: &[u8],
    ) -> Result<(), StoreError>;

    /// An avatar image of the workspace, if it was uploaded there.
    async fn avatar(&self, workspace_id: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// The operator's desk (store/desk.rs): internal notes, the visitor's context, the recent list
/// and search, saved replies.
#[async_trait]
pub trait DeskStore: Send + Sync + std::fmt::Debug + 'static {
    /// Store an internal note under the next note id (at most [`protocol::limits::MAX_NOTES`]:
    /// `LimitReached`). A re-sent client id of the same author returns the original, `true`.
    async fn add_note(
        &self,
        ws: &str,
        id: &str,
        note: NewNote,
        at: Millis,
    ) -> Result<(Note, bool), StoreError>;

    /// The notes written after event `after` (`after_seq >= after`), by id.
    async fn notes(&self, ws: &str, id: &str, after: Seq) -> Result<Vec<Note>, StoreError>;

    /// Replace what is known of where the visitor is.
    async fn set_context(
        &self,
        ws: &str,
        id: &str,
        context: &VisitorContext,
    ) -> Result<(), StoreError>;

    async fn context(&self, ws: &str, id: &str) -> Result<Option<VisitorContext>, StoreError>;

    /// Claim the making of the conversation's brief for `stretch` (the control epoch of the
    /// AI's stretch it covers): `true` for exactly one caller per stretch, on any node, whose
    /// `pending` state is stored in the same step; `false` when this stretch (or a later one)
    /// was claimed already. Not found: the conversation is gone.
    async fn claim_brief(
        &self,
        ws: &str,
        id: &str,
        stretch: u64,
        pending: &BriefState,
    ) -> Result<bool, StoreError>;

    /// Store the brief made for `stretch`; `false` (nothing stored) when a later stretch was
    /// claimed meanwhile.
    async fn set_brief(
        &self,
        ws: &str,
        id: &str,
        stretch: u64,
        state: &BriefState,
    ) -> Result<bool, StoreError>;

    /// The conversation's latest brief.
    async fn brief(&self, ws: &str, id: &str) -> Result<Option<BriefState>, StoreError>;

    /// Record a file uploaded to the conversation; `LimitReached` when it holds `max` already.
    async fn add_file(
        &self,
        ws: &str,
        id: &str,
        file: &desk::StoredFile,
        max: usize,
    ) -> Result<(), StoreError>;

    /// The conversation's files among `ids`, in the order asked; unknown ids are left out.
    async fn files(
        &self,
        ws: &str,
        id: &str,
        ids: &[String],
    ) -> Result<Vec<desk::StoredFile>, StoreError>;

    /// Conversations that left the Online list (and have not come back), most recent activity
    /// first, strictly after `after` in that order, at most `limit`.
    async fn recent(
        &self,
        ws: &str,
        after: Option<&RecentCursor>,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError>;

    /// Conversations whose messages, visitor label or id contain every one of `words` (made by
    /// [`desk::words`]), most recent activity first, at most `limit`. Messages are indexed when
    /// their conversation leaves the Online list ([`ConversationStore::deactivate_idle`]).
    async fn search(
        &self,
        ws: &str,
        words: &[String],
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError>;

    /// The other conversations of conversation `id`'s visitor in its workspace, most recently
    /// started first, at most `limit`.
    async fn earlier(
        &self,
        ws: &str,
        id: &str,
        limit: usize,
    ) -> Result<Vec<ConversationMeta>, StoreError>;

    /// The workspace's saved replies, by shortcut.
    async fn canned_replies(&self, ws: &str) -> Result<Vec<CannedReply>, StoreError>;

    /// Create (`create`: its id must be new) or replace a saved reply, in one atomic step with
    /// the checks: `ShortcutTaken`, `LimitReached` (a new one past
    /// [`protocol::limits::MAX_CANNED_REPLIES`]), `NotFound` (replacing a missing one).
    async fn save_canned_reply(
        &self,
        ws: &str,
        reply: &CannedReply,
        create: bool,
    ) -> Result<(), StoreError>;

    /// Delete a saved reply; `NotFound` when there is none with this id.
    async fn delete_canned_reply(&self, ws: &str, id: &str) -> Result<(), StoreError>;
}

/// A whole backend: every part of the store (the memory store, the Redis store, the timing
/// decorator). The node holds each part on its own, so that each concern sees only its part.
pub trait Store: ConversationStore + TeamStore + ProfileStore + DeskStore + FollowUpStore {}

impl<T: ConversationStore + TeamStore + ProfileStore + DeskStore + FollowUpStore> Store for T {}

/// A conversation held by an operator, as the auto-release sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub conversation_id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub holder_id: String,
    pub epoch: u64,
    /// When the holder was last seen connected (0: never refreshed yet).
    pub seen: Millis,
    /// When the holder last acted on this conversation (took it over, wrote).
    pub active: Millis,
}

/// Audit entries kept per workspace (the oldest go first).
pub const AUDIT_KEEP: usize = 10_000;

/// Order a team for display: online first, then by name.
/// The operators online, by name (then id), from every operator's presence: what `colleagues`
/// answers on every store.
pub fn colleagues_of(presence: impl IntoIterator<Item = (AuditActor, bool)>) -> Vec<Colleague> {
    let mut online: Vec<Colleague> = presence
        .into_iter()
        .filter(|(_, online)| *online)
        .map(|(a, _)| Colleague {
            id: a.id,
            name: a.name,
            role: a.role,
        })
        .collect();
    online.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    online
}

pub fn sort_team(members: &mut [TeamMember]) {
    members.sort_by(|a, b| b.online.cmp(&a.online).then_with(|| a.name.cmp(&b.name)));
}

/// How an operator is named in presence: ids are per workspace.
pub fn operator_key(workspace_id: &str, operator_id: &str) -> String {
    format!("{workspace_id}/{operator_id}")
}

/// Shared by every implementation: the Online list preview of a message.
/// A message's preview: its text, or for a message of files alone the files' names after a
/// paper clip.
pub fn preview_of(
    author: &Author,
    text: &str,
    attachments: &[protocol::Attachment],
) -> MessagePreview {
    if attachments.is_empty() || !protocol::visible::is_blank(text) {
        return preview(author, text);
    }
    let names: Vec<&str> = attachments.iter().map(|a| a.name.as_str()).collect();
    preview(author, &format!("\u{1f4ce} {}", names.join(", ")))
}

pub fn preview(author: &Author, text: &str) -> MessagePreview {
    use protocol::AuthorKind;
    let author = match author {
        Author::Visitor => AuthorKind::Visitor,
        Author::Ai => AuthorKind::Ai,
        Author::Operator(_) => AuthorKind::Operator,
    };
    // Most messages are short and already read as words joined by single spaces: copied as they
    // are (fewer than PREVIEW_CHARS bytes means fewer characters, so no cut and no ellipsis).
    let b = text.as_bytes();
    if b.len() < protocol::limits::PREVIEW_CHARS
        && text.is_ascii()
        && b.first() != Some(&b' ')
        && b.last() != Some(&b' ')
        && !b
            .iter()
            .any(|&c| c != b' ' && char::from(c).is_whitespace())
        && !b.windows(2).any(|w| w == b"  ")
    {
        return MessagePreview {
            author,
            text: text.to_owned(),
        };
    }
    // Otherwise: words joined by single spaces, cut at PREVIEW_CHARS characters, in one pass.
    let mut out = String::with_capacity(text.len().min(4 * protocol::limits::PREVIEW_CHARS));
    let mut chars = 0;
    'words: for word in text.split_whitespace() {
        if chars > 0 {
            if chars == protocol::limits::PREVIEW_CHARS {
                break;
            }
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars == protocol::limits::PREVIEW_CHARS {
                break 'words;
            }
            out.push(c);
            chars += 1;
        }
    }
    let mut text = out;
    if chars == protocol::limits::PREVIEW_CHARS {
        text.push('…');
    }
    MessagePreview { author, text }
}

/// The idempotency key of a message: the same client id from different authors never collides.
pub fn dedupe_key(author: &Author, client_id: &str) -> String {
    match author {
        Author::Visitor => format!("v:{client_id}"),
        Author::Ai => format!("a:{client_id}"),
        Author::Operator(op) => format!("o:{}:{client_id}", op.id),
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;
    use protocol::{AuthorKind, Holder, OperatorRef};

    fn meta(seq: Seq, last: Option<(AuthorKind, &str)>, holder: Holder) -> ConversationMeta {
        ConversationMeta {
            id: "c1".into(),
            workspace_id: "ws".into(),
            visitor_label: "Visitor 7".into(),
            started_at: 1,
            last_activity_at: 10 + seq,
            last_message: last.map(|(author, text)| MessagePreview {
                author,
                text: text.into(),
            }),
            control: ControlState { holder, epoch: seq },
            needs_human: seq.is_multiple_of(2),
            visitor_connections: u32::try_from(seq % 3).expect("small"),
            last_seq: seq,
            active: true,
            follow_up: false,
        }
    }

    /// Updating any older row of a conversation in place gives the row built afresh.
    #[test]
    fn an_updated_row_is_the_row_built_afresh() {
        let martin = Holder::Operator(OperatorRef {
            id: "op-martin".into(),
            name: "Martin".into(),
            display_name: Some("Martin from Support".into()),
            avatar_url: None,
        });
        let states = [
            meta(1, None, Holder::Ai),
            meta(
                2,
                Some((AuthorKind::Visitor, "Where is my parcel?")),
                Holder::Ai,
            ),
            meta(3, Some((AuthorKind::Operator, "Hi")), martin.clone()),
            meta(
                4,
                Some((AuthorKind::Visitor, "a much longer question than before")),
                martin,
            ),
            meta(5, None, Holder::Ai),
        ];
        for old in &states {
            for new in &states {
                let mut row = old.summary();
                new.update_summary(&mut row);
                assert_eq!(row, new.summary(), "{old:?} -> {new:?}");
            }
        }
    }
}

#[cfg(test)]
mod preview_tests {
    use super::*;
    use protocol::limits::PREVIEW_CHARS;

    /// The plain definition `preview` implements in one pass.
    fn reference(text: &str) -> String {
        let mut t: String = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(PREVIEW_CHARS)
            .collect();
        if t.chars().count() == PREVIEW_CHARS {
            t.push('…');
        }
        t
    }

    #[test]
    fn a_preview_is_the_words_joined_and_cut() {
        let long = "word ".repeat(40);
        let mut cases = vec![
            String::new(),
            "   ".into(),
            "hello".into(),
            "  two\n\twords  ".into(),
            "é🙂 multibyte ünïcode".repeat(12),
            long.clone(),
            "x".repeat(PREVIEW_CHARS),
            "x".repeat(PREVIEW_CHARS + 1),
            format!("{} y", "x".repeat(PREVIEW_CHARS - 1)),
            format!("{} y", "x".repeat(PREVIEW_CHARS - 2)),
            format!("{}   y", "x".repeat(PREVIEW_CHARS)),
            "x".repeat(PREVIEW_CHARS - 1),
            format!("{} {}", "x".repeat(60), "y".repeat(58)),
            "vertical\u{b}tab".into(),
            "form\u{c}feed".into(),
            "no-break\u{a0}space".into(),
            " lead".into(),
            "trail ".into(),
            "two  spaces".into(),
        ];
        // Every cut position around a word boundary.
        for n in 0..12 {
            cases.push(format!("{} {}", "a".repeat(PREVIEW_CHARS - 6 + n), "bcdef"));
        }
        for text in cases {
            let got = preview(&Author::Visitor, &text).text;
            assert_eq!(got, reference(&text), "{text:?}");
        }
    }
}

#[cfg(test)]
pub(crate) mod conformance;
#[cfg(test)]
pub(crate) mod conformance_desk;
#[cfg(test)]
pub(crate) mod conformance_follow_up;
#[cfg(test)]
pub(crate) mod conformance_team;
#[cfg(test)]
pub(crate) use conformance::conformance_tests;
