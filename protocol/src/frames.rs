//! The frames. Every frame is one JSON text frame with a `type` field naming its variant.
//!
//! Three enums, one per direction and client:
//! [`WidgetFrame`] (visitor widget → hub), [`OperatorFrame`] (dashboard → hub) and
//! [`ServerFrame`] (hub → either). Conversation history is a sequence of [`ConversationEvent`]s,
//! each with a per-conversation `seq` that starts at 1 and never skips.

use serde::{Deserialize, Serialize};

pub use crate::files::{Attachment, AttachmentId, AttachmentKind};
pub use crate::follow_up::{AwayText, EmailDelivery, FollowUp, FollowUpReason, FollowUpRow};
use ts_rs::TS;

use crate::codes::ErrorCode;

/// Per-conversation sequence number of an event: 1, 2, 3, … with no gaps.
pub type Seq = u64;
/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// Opaque conversation id (hub-generated).
pub type ConversationId = String;
/// Workspace id (a team's assistant).
pub type WorkspaceId = String;
/// Operator id, the `sub` of the operator's token.
pub type OperatorId = String;
/// Client-chosen id of a sent message; re-sending the same id never duplicates the message.
pub type ClientId = String;

/// What a visitor's widget sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WidgetFrame {
    /// First frame on the socket. Without `visitor_token` a new conversation starts; with it the
    /// visitor resumes theirs and receives every event after `last_seq`.
    Hello {
        protocol: u32,
        workspace_id: WorkspaceId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        visitor_token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        last_seq: Option<Seq>,
        /// Where the visitor is, for the operators' side panel. Optional, never trusted for
        /// anything; a field over its limit is dropped (the rest is kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        context: Option<Box<VisitorContext>>,
        /// With `visitor_token`: start a new conversation as the same visitor (the team sees
        /// the earlier ones beside it) instead of resuming.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        #[ts(as = "Option<bool>", optional)]
        new_conversation: bool,
    },
    /// The visitor went to another page of the site (operators see it live).
    Page {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        title: Option<String>,
    },
    /// A visitor's chat message. Acknowledged with `ack`. `attachments`: ids of files this
    /// visitor uploaded to the conversation (`POST /api/files`); `text` may then be empty.
    Message {
        client_id: ClientId,
        text: String,
        /// Boxed: a frame is held by every connection's task (see `frames_stay_small`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, as = "Option<Vec<AttachmentId>>")]
        attachments: Option<Box<Vec<AttachmentId>>>,
    },
    /// The visitor started or stopped typing.
    Typing { active: bool },
    /// The visitor asks for a human ("Talk to a human"). Operators are alerted and the
    /// conversation rises to the top of their Online list; a `human_requested` event follows.
    RequestHuman {},
    /// After nobody was available (an `outside_hours` or `human_request_expired` event): the
    /// address where the team may answer by email. Checked (`invalid_email`), refused when
    /// the conversation is not waiting for follow-up (`no_follow_up`); a `follow_up_email`
    /// event follows. Sending it again replaces the address.
    FollowUpEmail { email: String },
}

/// What an operator's dashboard sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OperatorFrame {
    /// First frame on the socket: the operator's JWT, signed by the team's backend.
    Hello { protocol: u32, token: String },
    /// Follow a view of the workspace's Online list: the rows `offset..offset + limit` of the
    /// conversations that match `filter` (and `query`, when given), in `order` (waiting for a
    /// human first either way). Answered with `online_view` at once,
    /// then again, at most every 250 ms, whenever the window or the counts change. Sending it
    /// again changes the view (a scroll, another filter): the next `online_view` is against the
    /// rows sent last, whatever view they were for.
    SubscribeOnline {
        #[serde(default)]
        #[ts(as = "Option<OnlineFilter>", optional)]
        filter: OnlineFilter,
        #[serde(default)]
        #[ts(as = "Option<OnlineOrder>", optional)]
        order: OnlineOrder,
        #[serde(default)]
        #[ts(as = "Option<u32>", optional)]
        offset: u32,
        /// At most [`crate::limits::MAX_ONLINE_WINDOW`]; absent: [`crate::limits::ONLINE_WINDOW`].
        #[serde(default = "default_online_window")]
        #[ts(as = "Option<u32>", optional)]
        limit: u32,
        /// Only conversations whose visitor label, id or last message contains it (any case).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        query: Option<String>,
    },
    /// Stop receiving Online list changes.
    UnsubscribeOnline {},
    /// Open a conversation: a `history` frame with every event after `after_seq` (all when
    /// absent), then its live events.
    Open {
        conversation_id: ConversationId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        after_seq: Option<Seq>,
    },
    /// Stop receiving a conversation's live events.
    Close { conversation_id: ConversationId },
    /// Take control from the AI assistant. Answered with `control` or an error.
    Takeover { conversation_id: ConversationId },
    /// Hand control back to the AI. `force` lets an owner or editor release another
    /// operator's conversation. `epoch`, when given: the control epoch the sender saw; if
    /// control changed since (a transfer), nothing is done (`control_changed`). Answered with
    /// `control` or an error.
    Release {
        conversation_id: ConversationId,
        #[serde(default)]
        force: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        epoch: Option<u64>,
    },
    /// Hand the conversation to another operator of the workspace, who must be online, without
    /// the AI coming back in between. The holder may transfer; owners and editors may transfer
    /// any held conversation. `epoch`: the control epoch the sender saw: if control changed
    /// since (a release, another transfer), nothing is done (`control_changed`). `note`: for
    /// the recipient, stored as an internal note. Answered with `control` or an error; the
    /// recipient's dashboards get `transfer_received`.
    Transfer {
        conversation_id: ConversationId,
        to: OperatorId,
        #[ts(type = "number")]
        epoch: u64,
        /// Boxed: a frame is held by every connection's task (see `frames_stay_small`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, as = "Option<String>")]
        note: Option<Box<str>>,
    },
    /// The operators of the workspace online now (the Transfer menu): answered with
    /// `colleagues`.
    Colleagues {},
    /// The holder asks the workspace's assistant for a reply to the visitor's last message:
    /// answered with `suggestion` (to this dashboard only) or an error. The AI stays silent to
    /// the visitor: nothing is stored or sent unless the operator sends it as a message.
    Suggest { conversation_id: ConversationId },
    /// A message to the visitor; only the holder may send. Acknowledged with `ack`.
    /// `attachments`: ids of files uploaded to the conversation; `text` may then be empty.
    Message {
        conversation_id: ConversationId,
        client_id: ClientId,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, as = "Option<Vec<AttachmentId>>")]
        attachments: Option<Box<Vec<AttachmentId>>>,
    },
    /// The operator started or stopped typing.
    Typing {
        conversation_id: ConversationId,
        active: bool,
    },
    /// Owners and editors: follow the team. Answered with `team_snapshot` (who is online and
    /// what each holds) and `audit_snapshot` (the latest audit entries), then `team_snapshot`
    /// again whenever that changes and `audit_entry` for each new entry.
    SubscribeTeam {},
    /// An internal note to the team: stored with the conversation, shown to its operators, never
    /// to the visitor, the AI assistant or a webhook. Any operator may write one, whoever holds
    /// the conversation. Answered (and announced to the other operators) with `note`.
    Note {
        conversation_id: ConversationId,
        client_id: ClientId,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, as = "Option<Vec<AttachmentId>>")]
        attachments: Option<Box<Vec<AttachmentId>>>,
    },
    /// A page of conversations that left the Online list, most recent activity first:
    /// answered with `recent`. `cursor`: the previous page's `next_cursor` (absent: the first).
    Recent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        cursor: Option<String>,
    },
    /// Conversations of the workspace whose messages contain every word of `query`, or whose
    /// visitor label or id matches it: answered with `search_results`.
    Search { query: String },
    /// The conversations waiting for follow-up (nobody was available when a human was asked
    /// for, and no operator has written since), the longest waiting first: answered with
    /// `follow_ups`; each change after it arrives as `follow_up`.
    FollowUps {},
}

/// What the hub sends to either client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Widget handshake accepted. Keep `visitor_token` (it resumes this conversation after a
    /// reload); a `history` frame with what the widget missed follows.
    Welcome {
        protocol: u32,
        conversation_id: ConversationId,
        visitor_token: String,
        visitor_label: String,
        control: ControlState,
        /// Idle-timeout of the socket: send something (a WebSocket ping does) more often.
        heartbeat_ms: u32,
        /// What to show when nobody is available (the workspace's away message and the email
        /// prompt's consent text).
        away: Box<AwayText>,
    },
    /// Operator handshake accepted.
    Ready {
        protocol: u32,
        operator: OperatorIdentity,
        workspace: WorkspaceInfo,
        heartbeat_ms: u32,
    },
    /// Events of a conversation after the requested sequence number, in order, followed by the
    /// conversation's current state. Live `event` frames continue after `last_seq`.
    History {
        conversation_id: ConversationId,
        events: Vec<ConversationEvent>,
        control: ControlState,
        #[ts(type = "number")]
        last_seq: Seq,
        visitor_online: bool,
        needs_human: bool,
        /// Operators only: the conversation's internal notes written after `after_seq`'s event
        /// (all of them on a first open).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[ts(as = "Option<Vec<Note>>", optional)]
        notes: Vec<Note>,
        /// Operators only: where the visitor is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        context: Option<Box<VisitorContext>>,
        /// Operators only: the visitor's other conversations in this workspace, newest first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[ts(as = "Option<Vec<ConversationSummary>>", optional)]
        earlier: Vec<ConversationSummary>,
        /// Operators only: the brief made when a human was last asked for or took over.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, as = "Option<BriefState>")]
        brief: Option<Box<BriefState>>,
        /// Operators only: the conversation's follow-up, when nobody was available for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, as = "Option<FollowUp>")]
        follow_up: Option<Box<FollowUp>>,
    },
    /// One new event of an open conversation.
    Event {
        conversation_id: ConversationId,
        event: ConversationEvent,
    },
    /// A sent message was stored with sequence number `seq` (also for a re-sent client id).
    Ack {
        conversation_id: ConversationId,
        client_id: ClientId,
        #[ts(type = "number")]
        seq: Seq,
    },
    /// The answer to a successful `takeover` or `release`.
    Control {
        conversation_id: ConversationId,
        control: ControlState,
    },
    /// The AI's reply as it is being written, in pieces: `text` is what was written since the
    /// previous frame and starts at `offset` (UTF-16 code units; 0: `text` is the whole draft,
    /// a snapshot). A piece past the end of what the client has means one was missed: the hub
    /// follows with a snapshot (see [`crate::draft`]). `epoch`: the control epoch the reply was
    /// started under; a client that has seen a newer epoch (a takeover) ignores it. `done`: the
    /// finished reply was stored and arrives as a `message` event; `discarded`: the reply was
    /// cancelled (a takeover) or failed, so remove the partial bubble. Ephemeral: only finished
    /// replies become history.
    AiDraft {
        conversation_id: ConversationId,
        draft_id: String,
        #[ts(type = "number")]
        epoch: u64,
        offset: u32,
        text: String,
        state: DraftState,
    },
    /// Someone in the conversation started or stopped typing (the AI's "thinking" too).
    /// Ephemeral: not part of history.
    Typing {
        conversation_id: ConversationId,
        author: Author,
        active: bool,
    },
    /// The dashboard's view of the Online list (after `subscribe_online`): the window `ids`
    /// (rows `offset..offset + ids.len()` of the `total` that match the view, in order), the
    /// `rows` of that window that are new to it or changed since the previous `online_view`
    /// (every other id's row is as last sent), and the list's counts. What a dashboard receives
    /// is bounded by its window, not by the size of the workspace.
    OnlineView {
        filter: OnlineFilter,
        order: OnlineOrder,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        query: Option<String>,
        offset: u32,
        total: u32,
        ids: Vec<ConversationId>,
        rows: Vec<ConversationSummary>,
        counts: OnlineCounts,
    },
    /// To operators only: the holder has been idle, and control returns to the AI at
    /// `release_at` unless the holder acts (sends a message) before.
    ControlWarning {
        conversation_id: ConversationId,
        holder_id: OperatorId,
        reason: ReleaseReason,
        #[ts(type = "number")]
        release_at: Millis,
    },
    /// To operators: the conversation's brief changed (being made, made, or not available).
    Brief {
        conversation_id: ConversationId,
        brief: BriefState,
    },
    /// The answer to `suggest`, to the asking dashboard alone: a reply the AI would send to the
    /// visitor's last message, for the operator to edit and send, or not. Never stored, never
    /// sent to a visitor.
    Suggestion {
        conversation_id: ConversationId,
        text: String,
    },
    /// To the operator whose takeover cancelled the AI's reply in progress, alone: what the AI
    /// had written (`draft_id` names its `ai_draft`), offered as an editable draft for the
    /// composer. Never sent to a visitor (the widget sees the draft `discarded`, as ever) nor to
    /// other operators, and never sent by itself: it becomes a message only if the operator
    /// sends it.
    InterruptedReply {
        conversation_id: ConversationId,
        draft_id: String,
        text: String,
    },
    /// The answer to `colleagues`: the workspace's operators online now, the asker included.
    Colleagues { operators: Vec<Colleague> },
    /// To the recipient of a transfer, on each of their dashboards: the conversation is theirs
    /// now. `by`: who transferred it; `note`: what they wrote for the recipient (also stored as
    /// an internal note).
    TransferReceived {
        conversation_id: ConversationId,
        visitor_label: String,
        by: OperatorRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        note: Option<String>,
    },
    /// The team of the workspace (owners and editors, after `subscribe_team`).
    TeamSnapshot { members: Vec<TeamMember> },
    /// The latest audit entries, oldest first (after `subscribe_team`).
    AuditSnapshot { entries: Vec<AuditEntry> },
    /// A new audit entry.
    AuditEntry { entry: AuditEntry },
    /// To operators: a new internal note (also the answer to the author's `note`, matched by
    /// `client_id`).
    Note {
        conversation_id: ConversationId,
        note: Note,
    },
    /// To operators: the visitor's context changed (they moved to another page).
    VisitorContext {
        conversation_id: ConversationId,
        context: VisitorContext,
    },
    /// The answer to `recent`. `next_cursor` is absent on the last page.
    Recent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        cursor: Option<String>,
        conversations: Vec<ConversationSummary>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        next_cursor: Option<String>,
    },
    /// The answer to `search`, best (most recent) first, at most 50.
    SearchResults {
        query: String,
        conversations: Vec<ConversationSummary>,
    },
    /// The answer to `follow_ups`, the longest waiting first (at most
    /// [`crate::limits::MAX_FOLLOW_UPS`]).
    FollowUps { conversations: Vec<FollowUpRow> },
    /// To the workspace's operators: a conversation's follow-up changed (it started waiting,
    /// the visitor left an email, an operator answered, an email was scheduled, sent or
    /// failed). `waiting: false` takes it off the follow-up list.
    FollowUp {
        conversation_id: ConversationId,
        follow_up: Box<FollowUp>,
    },
    /// A frame was refused. Nothing of it was applied.
    Error(ErrorFrame),
}

/// An internal note. Notes are numbered on their own (1, 2, 3, …) so that the events visitors
/// see keep their gap-free `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Note {
    #[ts(type = "number")]
    pub id: u64,
    /// The conversation's `last_seq` when it was written: it reads after that event.
    #[ts(type = "number")]
    pub after_seq: Seq,
    #[ts(type = "number")]
    pub at: Millis,
    pub author: OperatorRef,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub client_id: Option<ClientId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<Attachment>>", optional)]
    pub attachments: Vec<Attachment>,
}

/// What the widget tells about where the visitor is. Every field is optional and
/// length-limited ([`crate::limits`]); none is trusted for anything but display (a URL is shown
/// as a link only when it is `http:` or `https:`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VisitorContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub referrer: Option<String>,
    /// A BCP 47 tag, as `navigator.language` gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub language: Option<String>,
    /// An IANA zone name, as `Intl.DateTimeFormat().resolvedOptions().timeZone` gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub time_zone: Option<String>,
}

impl VisitorContext {
    /// The context with every field over its limit (or blank) dropped.
    pub fn bounded(self) -> VisitorContext {
        use crate::limits::{
            MAX_LANGUAGE_CHARS, MAX_TIME_ZONE_CHARS, MAX_TITLE_CHARS, MAX_URL_CHARS,
        };
        let keep = |v: Option<String>, max: usize| {
            v.filter(|s| !crate::visible::is_blank(s) && s.chars().count() <= max)
        };
        VisitorContext {
            url: keep(self.url, MAX_URL_CHARS),
            title: keep(self.title, MAX_TITLE_CHARS),
            referrer: keep(self.referrer, MAX_URL_CHARS),
            language: keep(self.language, MAX_LANGUAGE_CHARS),
            time_zone: keep(self.time_zone, MAX_TIME_ZONE_CHARS),
        }
    }
}

/// An operator of the workspace, as the presence panel shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TeamMember {
    pub id: OperatorId,
    pub name: String,
    pub role: Role,
    /// Connected to any node now.
    pub online: bool,
    /// Conversations this operator holds.
    pub holding: Vec<HeldConversation>,
}

/// A short brief for the operator at a request for a human or a takeover: what the visitor
/// wants, what the AI answered or promised, why a human was asked for, the visitor's language.
/// Made once per stretch the AI ran the conversation, by the workspace's assistant; never sent
/// to a visitor. Each part is at most [`crate::limits::MAX_BRIEF_PART_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Brief {
    pub wants: String,
    pub answered: String,
    /// Absent when nobody asked (an operator took over on their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub why_human: Option<String>,
    /// A BCP 47 tag (from the widget) or a language's name (from a model), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub language: Option<String>,
    /// Which kind of assistant made it.
    pub made_by: BriefSource,
}

impl Brief {
    /// The brief with each part cut to [`crate::limits::MAX_BRIEF_PART_CHARS`] and blank
    /// optional parts dropped (backends write what they like).
    pub fn bounded(self) -> Brief {
        let cut = |s: String| -> String {
            let s = s.trim();
            match s.char_indices().nth(crate::limits::MAX_BRIEF_PART_CHARS) {
                Some((at, _)) => format!("{}…", &s[..at]),
                None => s.to_owned(),
            }
        };
        let keep = |v: Option<String>| v.map(cut).filter(|s| !crate::visible::is_blank(s));
        Brief {
            wants: cut(self.wants),
            answered: cut(self.answered),
            why_human: keep(self.why_human),
            language: keep(self.language)
                .map(|l| l.chars().take(crate::limits::MAX_LANGUAGE_CHARS).collect()),
            made_by: self.made_by,
        }
    }
}

/// The kinds of assistant backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BriefSource {
    Knowledge,
    Openai,
    Webhook,
}

/// Where a conversation's brief stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BriefState {
    /// Being made since `since`.
    Pending {
        #[ts(type = "number")]
        since: Millis,
    },
    Ready {
        brief: Brief,
        #[ts(type = "number")]
        at: Millis,
    },
    /// No brief this time: the assistant failed or was too slow (`reason` says which, for
    /// people). The takeover was never held up by it.
    Unavailable {
        reason: String,
        #[ts(type = "number")]
        at: Millis,
    },
}

/// An operator online in the workspace (see `colleagues`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Colleague {
    pub id: OperatorId,
    pub name: String,
    pub role: Role,
}

/// A conversation held by an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct HeldConversation {
    pub conversation_id: ConversationId,
    pub visitor_label: String,
    /// When the operator took it over.
    #[ts(type = "number")]
    pub since: Millis,
}

/// One entry of a workspace's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AuditEntry {
    #[ts(type = "number")]
    pub at: Millis,
    /// Who did it: an operator, or the hub itself (`id` and `name` absent) for automatic releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub actor: Option<AuditActor>,
    pub action: AuditAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub conversation_id: Option<ConversationId>,
    /// For releases: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reason: Option<ReleaseReason>,
    /// For releases and transfers: whose holding ended, when it was not the actor's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub holder_id: Option<OperatorId>,
    /// For transfers: who holds the conversation now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub to: Option<OperatorId>,
}

/// The operator behind an audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AuditActor {
    pub id: OperatorId,
    pub name: String,
    pub role: Role,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Takeover,
    Release,
    /// A held conversation handed to another operator.
    Transfer,
    /// A takeover refused because the plan lacks Take Control.
    PlanRefused,
    ProfileChanged,
}

/// Body of an `error` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]

pub struct ErrorFrame {
    pub code: ErrorCode,
    pub message: String,
    /// Whether the same frame may succeed later (see the code table).
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub conversation_id: Option<ConversationId>,
    /// For a refused `message`: which one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub client_id: Option<ClientId>,
    /// For `already_controlled`: who holds the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub holder: Option<OperatorRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry_after_ms: Option<u32>,
}

impl ErrorFrame {
    /// An error with the code's default text.
    pub fn new(code: ErrorCode) -> Self {
        Self::with_message(code, code.description())
    }

    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retryable: code.retryable(),
            conversation_id: None,
            client_id: None,
            holder: None,
            retry_after_ms: None,
        }
    }

    pub fn conversation(mut self, id: impl Into<ConversationId>) -> Self {
        self.conversation_id = Some(id.into());
        self
    }

    pub fn client(mut self, id: impl Into<ClientId>) -> Self {
        self.client_id = Some(id.into());
        self
    }
}

/// One entry of a conversation's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ConversationEvent {
    #[ts(type = "number")]
    pub seq: Seq,
    #[ts(type = "number")]
    pub at: Millis,
    #[serde(flatten)]
    #[ts(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A chat message from the visitor, the AI or an operator.
    Message {
        author: Author,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        client_id: Option<ClientId>,
        /// Files the message carries (see [`crate::files`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[ts(as = "Option<Vec<Attachment>>", optional)]
        attachments: Vec<Attachment>,
    },
    /// An operator took control: the visitor sees "<name> joined the chat" (or "Human joined
    /// the chat" when the operator has no display name). The AI is silent from here on.
    OperatorJoined {
        operator: OperatorRef,
        #[ts(type = "number")]
        epoch: u64,
    },
    /// Control went back to the AI: "<name> left the chat".
    OperatorLeft {
        operator: OperatorRef,
        #[ts(type = "number")]
        epoch: u64,
        reason: ReleaseReason,
        /// Who released it, when it was not the holder (a force-release).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        by: Option<OperatorId>,
    },
    /// The conversation went from one operator to another (a transfer), the AI staying silent:
    /// the visitor sees "<from> left the chat" then "<to> joined the chat".
    /// (Boxed: two operators inline would make every frame larger, see `frames_stay_small`.)
    OperatorTransferred {
        from: Box<OperatorRef>,
        to: Box<OperatorRef>,
        #[ts(type = "number")]
        epoch: u64,
        /// Who transferred it, when it was not the holder (an owner or editor).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        by: Option<OperatorId>,
    },
    /// The assistant (or the visitor) asked for a human.
    HumanRequested { by: HumanRequestedBy },
    /// Nobody took control within the hub's wait after a request for a human: the visitor is
    /// told (with the away message and the email prompt), and the AI carries on.
    HumanRequestExpired {
        #[ts(type = "number")]
        waited_ms: u64,
    },
    /// A human was asked for outside the workspace's working hours: nobody is alerted, the
    /// visitor sees the away message and the email prompt, and the AI carries on. `opens_at`:
    /// when the team is next at work (absent when no working hours are set ahead).
    OutsideHours {
        by: HumanRequestedBy,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        opens_at: Option<Millis>,
    },
    /// The visitor left an email address for the team's answer (see [`crate::follow_up`]).
    FollowUpEmail { email: String },
}

/// Where an AI draft stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DraftState {
    Streaming,
    Done,
    Discarded,
}

/// Who asked for a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HumanRequestedBy {
    Assistant,
    Visitor,
}

/// Why control went back to the AI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// The holder clicked End.
    Ended,
    /// An owner or editor force-released it.
    ForceReleased,
    /// The holder's connections were all gone for the grace period.
    Disconnected,
    /// The holder was idle past the limit.
    Idle,
}

/// Who wrote a message or is typing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Author {
    Visitor,
    Ai,
    Operator(OperatorRef),
}

/// An operator as shown in a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OperatorRef {
    pub id: OperatorId,
    /// The name the team sees (the display name when set, else the account name).
    /// Visitors receive the display name here, or "Human" when the operator has no profile.
    pub name: String,
    /// The name visitors see; absent when the operator set no profile ("Human joined the chat").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub avatar_url: Option<String>,
}

/// The name visitors see for an operator without a profile.
pub const DEFAULT_OPERATOR_NAME: &str = "Human";

impl OperatorRef {
    /// The copy a visitor may see: no account name, only the display name (or "Human").
    pub fn for_visitor(&self) -> OperatorRef {
        OperatorRef {
            id: self.id.clone(),
            name: self
                .display_name
                .clone()
                .unwrap_or_else(|| DEFAULT_OPERATOR_NAME.to_owned()),
            display_name: self.display_name.clone(),
            avatar_url: self.avatar_url.clone(),
        }
    }
}

impl Author {
    /// The copy a visitor may see (see [`OperatorRef::for_visitor`]).
    pub fn for_visitor(&self) -> Author {
        match self {
            Author::Operator(op) => Author::Operator(op.for_visitor()),
            other => other.clone(),
        }
    }
}

impl EventKind {
    /// The control epoch a change of control started (a takeover, release or transfer).
    pub fn control_epoch(&self) -> Option<u64> {
        match self {
            EventKind::OperatorJoined { epoch, .. }
            | EventKind::OperatorLeft { epoch, .. }
            | EventKind::OperatorTransferred { epoch, .. } => Some(*epoch),
            _ => None,
        }
    }

    /// Whether it names an operator. Only such events read differently for visitors (see
    /// [`EventKind::for_visitor`]); the rest can be sent to both audiences as they are.
    pub fn names_an_operator(&self) -> bool {
        matches!(
            self,
            EventKind::Message {
                author: Author::Operator(_),
                ..
            } | EventKind::OperatorJoined { .. }
                | EventKind::OperatorLeft { .. }
                | EventKind::OperatorTransferred { .. }
        )
    }

    /// The copy a visitor may see: operators appear by display name only.
    pub fn for_visitor(&self) -> EventKind {
        match self {
            EventKind::Message {
                author,
                text,
                client_id,
                attachments,
            } => EventKind::Message {
                author: author.for_visitor(),
                text: text.clone(),
                client_id: client_id.clone(),
                attachments: attachments.clone(),
            },
            EventKind::OperatorJoined { operator, epoch } => EventKind::OperatorJoined {
                operator: operator.for_visitor(),
                epoch: *epoch,
            },
            EventKind::OperatorLeft {
                operator,
                epoch,
                reason,
                by: _,
            } => EventKind::OperatorLeft {
                operator: operator.for_visitor(),
                epoch: *epoch,
                reason: *reason,
                // Which teammate force-released is the team's business.
                by: None,
            },
            EventKind::OperatorTransferred {
                from,
                to,
                epoch,
                by: _,
            } => EventKind::OperatorTransferred {
                from: Box::new(from.for_visitor()),
                to: Box::new(to.for_visitor()),
                epoch: *epoch,
                by: None,
            },
            EventKind::HumanRequested { by } => EventKind::HumanRequested { by: *by },
            EventKind::HumanRequestExpired { waited_ms } => EventKind::HumanRequestExpired {
                waited_ms: *waited_ms,
            },
            EventKind::OutsideHours { by, opens_at } => EventKind::OutsideHours {
                by: *by,
                opens_at: *opens_at,
            },
            EventKind::FollowUpEmail { email } => EventKind::FollowUpEmail {
                email: email.clone(),
            },
        }
    }
}

impl ConversationEvent {
    pub fn for_visitor(&self) -> ConversationEvent {
        ConversationEvent {
            seq: self.seq,
            at: self.at,
            kind: self.kind.for_visitor(),
        }
    }
}

impl ControlState {
    pub fn for_visitor(&self) -> ControlState {
        ControlState {
            holder: match &self.holder {
                Holder::Operator(op) => Holder::Operator(op.for_visitor()),
                Holder::Ai => Holder::Ai,
            },
            epoch: self.epoch,
        }
    }
}

/// Who holds a conversation, and the control epoch (bumped at every change of holder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ControlState {
    pub holder: Holder,
    #[ts(type = "number")]
    pub epoch: u64,
}

/// The AI by default; an operator after a takeover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Holder {
    Ai,
    Operator(OperatorRef),
}

/// Kind of author, for compact previews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Visitor,
    Ai,
    Operator,
}

/// A row of the Online list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub visitor_label: String,
    #[ts(type = "number")]
    pub started_at: Millis,
    #[ts(type = "number")]
    pub last_activity_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub last_message: Option<MessagePreview>,
    pub control: ControlState,
    pub needs_human: bool,
    pub visitor_online: bool,
    #[ts(type = "number")]
    pub last_seq: Seq,
}

/// Which conversations of the Online list a view shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum OnlineFilter {
    /// Every conversation on the list.
    #[default]
    All,
    /// Waiting for a human: a visitor asked and no operator has taken over.
    NeedsHuman,
    /// Held by the signed-in operator.
    Mine,
    /// Handled by the AI.
    Ai,
}

/// The order of an Online view. Conversations waiting for a human come first in both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum OnlineOrder {
    /// The most recently active first: a conversation rises to the top when someone writes.
    #[default]
    Activity,
    /// The newest conversations first: rows stay in place as their conversations go on, so a
    /// list of thousands stays readable, and what a dashboard is sent of it grows with the
    /// activity of the rows it shows, not with the workspace's.
    Started,
}

impl OnlineOrder {
    pub const ALL: [OnlineOrder; 2] = [OnlineOrder::Activity, OnlineOrder::Started];
}

/// How many conversations of the Online list each view holds (`mine`: the operator's own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OnlineCounts {
    pub all: u32,
    pub needs_human: u32,
    pub mine: u32,
    pub ai: u32,
}

impl ConversationSummary {
    /// A visitor asked for a human and no operator has taken over: such rows come first.
    pub fn waits_for_human(&self) -> bool {
        self.needs_human && matches!(self.control.holder, Holder::Ai)
    }

    /// The Online list's order: waiting for a human first, then by `order` (the most recently
    /// active, or the newest), then by id (a stable tie-break keeps rows from swapping places).
    pub fn online_order(
        &self,
        other: &ConversationSummary,
        order: OnlineOrder,
    ) -> std::cmp::Ordering {
        let by = match order {
            OnlineOrder::Activity => other.last_activity_at.cmp(&self.last_activity_at),
            OnlineOrder::Started => other.started_at.cmp(&self.started_at),
        };
        other
            .waits_for_human()
            .cmp(&self.waits_for_human())
            .then(by)
            .then_with(|| self.id.cmp(&other.id))
    }
}

fn default_online_window() -> u32 {
    crate::limits::ONLINE_WINDOW
}

/// The start of the last message, for the Online list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MessagePreview {
    pub author: AuthorKind,
    pub text: String,
}

/// Team roles. Owners and editors may force-release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Editor,
    Operator,
}

impl Role {
    pub fn may_force_release(self) -> bool {
        matches!(self, Role::Owner | Role::Editor)
    }
}

/// Subscription plans. Take Control is on Pro and Business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Basic,
    Standard,
    Pro,
    Business,
}

impl Plan {
    pub fn has_take_control(self) -> bool {
        matches!(self, Plan::Pro | Plan::Business)
    }
}

/// The signed-in operator, as the hub understood their token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct OperatorIdentity {
    pub id: OperatorId,
    pub name: String,
    pub role: Role,
    pub workspace_id: WorkspaceId,
}

/// The operator's workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct WorkspaceInfo {
    pub id: WorkspaceId,
    pub name: String,
    pub plan: Plan,
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// Frames are held across awaits in every connection's task, idle ones included: a field
    /// that makes a frame type larger makes every connection larger. Optional bulky fields are
    /// boxed to keep these sizes (64-bit targets).
    #[test]
    fn frames_stay_small() {
        assert!(
            std::mem::size_of::<WidgetFrame>() <= 80,
            "{}",
            std::mem::size_of::<WidgetFrame>()
        );
        // 240: the largest is `history`, whose operators-only brief and follow-up (a boxed
        // pointer each) took it from 224; 16 bytes against an idle widget's 7.5 KiB
        // (docs/benchmarks.md).
        assert!(
            std::mem::size_of::<ServerFrame>() <= 240,
            "{}",
            std::mem::size_of::<ServerFrame>()
        );
        // 88: a message's attachments (one boxed pointer) took it from 80. Operators' sockets
        // are the few; a widget's frame, held by every visitor's, stays at 80.
        assert!(
            std::mem::size_of::<OperatorFrame>() <= 88,
            "{}",
            std::mem::size_of::<OperatorFrame>()
        );
    }
}
