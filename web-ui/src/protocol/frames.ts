// Generated from the Rust `protocol` crate. Do not edit by hand:
// UPDATE_TS=1 cargo test -p take-control-protocol --test typescript
import type { ErrorCode, ProblemCode } from "./codes";

export type Seq = number;
export type Millis = number;
export type ConversationId = string;
export type WorkspaceId = string;
export type OperatorId = string;
export type ClientId = string;

export type WidgetFrame = { "type": "hello", protocol: number, workspace_id: string, visitor_token?: string, last_seq?: number, 
/**
 * Where the visitor is, for the operators' side panel. Optional, never trusted for
 * anything; a field over its limit is dropped (the rest is kept).
 */
context?: VisitorContext, 
/**
 * With `visitor_token`: start a new conversation as the same visitor (the team sees
 * the earlier ones beside it) instead of resuming.
 */
new_conversation?: boolean, } | { "type": "page", url: string, title?: string, } | { "type": "message", client_id: string, text: string, 
/**
 * Boxed: a frame is held by every connection's task (see `frames_stay_small`).
 */
attachments?: Array<string>, } | { "type": "typing", active: boolean, } | { "type": "request_human", } | { "type": "follow_up_email", email: string, };

export type OperatorFrame = { "type": "hello", protocol: number, token: string, } | { "type": "subscribe_online", filter?: OnlineFilter, order?: OnlineOrder, offset?: number, 
/**
 * At most [`crate::limits::MAX_ONLINE_WINDOW`]; absent: [`crate::limits::ONLINE_WINDOW`].
 */
limit?: number, 
/**
 * Only conversations whose visitor label, id or last message contains it (any case).
 */
query?: string, } | { "type": "unsubscribe_online", } | { "type": "open", conversation_id: string, after_seq?: number, } | { "type": "close", conversation_id: string, } | { "type": "takeover", conversation_id: string, } | { "type": "release", conversation_id: string, force: boolean, epoch?: number, } | { "type": "transfer", conversation_id: string, to: string, epoch: number, 
/**
 * Boxed: a frame is held by every connection's task (see `frames_stay_small`).
 */
note?: string, } | { "type": "colleagues", } | { "type": "suggest", conversation_id: string, } | { "type": "message", conversation_id: string, client_id: string, text: string, attachments?: Array<string>, } | { "type": "typing", conversation_id: string, active: boolean, } | { "type": "subscribe_team", } | { "type": "note", conversation_id: string, client_id: string, text: string, attachments?: Array<string>, } | { "type": "recent", cursor?: string, } | { "type": "search", query: string, } | { "type": "follow_ups", };

export type ServerFrame = { "type": "welcome", protocol: number, conversation_id: string, visitor_token: string, visitor_label: string, control: ControlState, 
/**
 * Idle-timeout of the socket: send something (a WebSocket ping does) more often.
 */
heartbeat_ms: number, 
/**
 * What to show when nobody is available (the workspace's away message and the email
 * prompt's consent text).
 */
away: AwayText, } | { "type": "ready", protocol: number, operator: OperatorIdentity, workspace: WorkspaceInfo, heartbeat_ms: number, } | { "type": "history", conversation_id: string, events: Array<ConversationEvent>, control: ControlState, last_seq: number, visitor_online: boolean, needs_human: boolean, 
/**
 * Operators only: the conversation's internal notes written after `after_seq`'s event
 * (all of them on a first open).
 */
notes?: Array<Note>, 
/**
 * Operators only: where the visitor is.
 */
context?: VisitorContext, 
/**
 * Operators only: the visitor's other conversations in this workspace, newest first.
 */
earlier?: Array<ConversationSummary>, 
/**
 * Operators only: the brief made when a human was last asked for or took over.
 */
brief?: BriefState, 
/**
 * Operators only: the conversation's follow-up, when nobody was available for it.
 */
follow_up?: FollowUp, } | { "type": "event", conversation_id: string, event: ConversationEvent, } | { "type": "ack", conversation_id: string, client_id: string, seq: number, } | { "type": "control", conversation_id: string, control: ControlState, } | { "type": "ai_draft", conversation_id: string, draft_id: string, epoch: number, offset: number, text: string, state: DraftState, } | { "type": "typing", conversation_id: string, author: Author, active: boolean, } | { "type": "online_view", filter: OnlineFilter, order: OnlineOrder, query?: string, offset: number, total: number, ids: Array<string>, rows: Array<ConversationSummary>, counts: OnlineCounts, } | { "type": "control_warning", conversation_id: string, holder_id: string, reason: ReleaseReason, release_at: number, } | { "type": "brief", conversation_id: string, brief: BriefState, } | { "type": "suggestion", conversation_id: string, text: string, } | { "type": "interrupted_reply", conversation_id: string, draft_id: string, text: string, } | { "type": "colleagues", operators: Array<Colleague>, } | { "type": "transfer_received", conversation_id: string, visitor_label: string, by: OperatorRef, note?: string, } | { "type": "team_snapshot", members: Array<TeamMember>, } | { "type": "audit_snapshot", entries: Array<AuditEntry>, } | { "type": "audit_entry", entry: AuditEntry, } | { "type": "note", conversation_id: string, note: Note, } | { "type": "visitor_context", conversation_id: string, context: VisitorContext, } | { "type": "recent", cursor?: string, conversations: Array<ConversationSummary>, next_cursor?: string, } | { "type": "search_results", query: string, conversations: Array<ConversationSummary>, } | { "type": "follow_ups", conversations: Array<FollowUpRow>, } | { "type": "follow_up", conversation_id: string, follow_up: FollowUp, } | { "type": "error" } & ErrorFrame;

export type ErrorFrame = { code: ErrorCode, message: string, 
/**
 * Whether the same frame may succeed later (see the code table).
 */
retryable: boolean, conversation_id?: string, 
/**
 * For a refused `message`: which one.
 */
client_id?: string, 
/**
 * For `already_controlled`: who holds the conversation.
 */
holder?: OperatorRef, retry_after_ms?: number, };

export type ConversationEvent = { seq: number, at: number, } & ({ "type": "message", author: Author, text: string, client_id?: string, 
/**
 * Files the message carries (see [`crate::files`]).
 */
attachments?: Array<Attachment>, } | { "type": "operator_joined", operator: OperatorRef, epoch: number, } | { "type": "operator_left", operator: OperatorRef, epoch: number, reason: ReleaseReason, 
/**
 * Who released it, when it was not the holder (a force-release).
 */
by?: string, } | { "type": "operator_transferred", from: OperatorRef, to: OperatorRef, epoch: number, 
/**
 * Who transferred it, when it was not the holder (an owner or editor).
 */
by?: string, } | { "type": "human_requested", by: HumanRequestedBy, } | { "type": "human_request_expired", waited_ms: number, } | { "type": "outside_hours", by: HumanRequestedBy, opens_at?: number, } | { "type": "follow_up_email", email: string, });

export type EventKind = { "type": "message", author: Author, text: string, client_id?: string, 
/**
 * Files the message carries (see [`crate::files`]).
 */
attachments?: Array<Attachment>, } | { "type": "operator_joined", operator: OperatorRef, epoch: number, } | { "type": "operator_left", operator: OperatorRef, epoch: number, reason: ReleaseReason, 
/**
 * Who released it, when it was not the holder (a force-release).
 */
by?: string, } | { "type": "operator_transferred", from: OperatorRef, to: OperatorRef, epoch: number, 
/**
 * Who transferred it, when it was not the holder (an owner or editor).
 */
by?: string, } | { "type": "human_requested", by: HumanRequestedBy, } | { "type": "human_request_expired", waited_ms: number, } | { "type": "outside_hours", by: HumanRequestedBy, opens_at?: number, } | { "type": "follow_up_email", email: string, };

export type HumanRequestedBy = "assistant" | "visitor";

export type DraftState = "streaming" | "done" | "discarded";

export type ReleaseReason = "ended" | "force_released" | "disconnected" | "idle";

export type Author = { "kind": "visitor" } | { "kind": "ai" } | { "kind": "operator" } & OperatorRef;

export type OperatorRef = { id: string, 
/**
 * The name the team sees (the display name when set, else the account name).
 * Visitors receive the display name here, or "Human" when the operator has no profile.
 */
name: string, 
/**
 * The name visitors see; absent when the operator set no profile ("Human joined the chat").
 */
display_name?: string, avatar_url?: string, };

export type ControlState = { holder: Holder, epoch: number, };

export type Holder = { "kind": "ai" } | { "kind": "operator" } & OperatorRef;

export type AuthorKind = "visitor" | "ai" | "operator";

export type ConversationSummary = { id: string, visitor_label: string, started_at: number, last_activity_at: number, last_message?: MessagePreview, control: ControlState, needs_human: boolean, visitor_online: boolean, last_seq: number, };

export type MessagePreview = { author: AuthorKind, text: string, };

export type OnlineFilter = "all" | "needs_human" | "mine" | "ai";

export type OnlineOrder = "activity" | "started";

export type OnlineCounts = { all: number, needs_human: number, mine: number, ai: number, };

export type Role = "owner" | "editor" | "operator";

export type Plan = "basic" | "standard" | "pro" | "business";

export type OperatorIdentity = { id: string, name: string, role: Role, workspace_id: string, };

export type WorkspaceInfo = { id: string, name: string, plan: Plan, };

export type TeamMember = { id: string, name: string, role: Role, 
/**
 * Connected to any node now.
 */
online: boolean, 
/**
 * Conversations this operator holds.
 */
holding: Array<HeldConversation>, };

export type HeldConversation = { conversation_id: string, visitor_label: string, 
/**
 * When the operator took it over.
 */
since: number, };

export type Colleague = { id: string, name: string, role: Role, };

export type Brief = { wants: string, answered: string, 
/**
 * Absent when nobody asked (an operator took over on their own).
 */
why_human?: string, 
/**
 * A BCP 47 tag (from the widget) or a language's name (from a model), when known.
 */
language?: string, 
/**
 * Which kind of assistant made it.
 */
made_by: BriefSource, };

export type Attachment = { id: string, 
/**
 * The file's name as uploaded, made safe to show (at most
 * [`crate::limits::MAX_FILE_NAME_CHARS`], no path, no control characters).
 */
name: string, kind: AttachmentKind, 
/**
 * What it is served as: `image/png`, `image/jpeg` or `application/pdf`.
 */
content_type: string, 
/**
 * Bytes of the stored file (an image as re-encoded, not as uploaded).
 */
size: number, 
/**
 * Images: their size in pixels (a thumbnail exists too).
 */
width?: number, height?: number, };

export type AwayText = { 
/**
 * Shown when a human is asked for outside working hours, or nobody answered in time.
 */
message: string, 
/**
 * Shown under the email field: what the address will be used for.
 */
email_consent: string, };

export type FollowUpReason = "outside_hours" | "unanswered";

export type EmailDelivery = { "state": "scheduled", at: number, } | { "state": "sent", at: number, } | { "state": "retrying", attempts: number, next_at: number, error: string, } | { "state": "failed", attempts: number, error: string, };

export type FollowUp = { reason: FollowUpReason, 
/**
 * When the request for a human went unanswered.
 */
since: number, 
/**
 * On the follow-up list: no operator has written in the conversation since.
 */
waiting: boolean, 
/**
 * The address the visitor left, if any.
 */
email?: string, 
/**
 * The latest email of an operator's answer, if any.
 */
delivery?: EmailDelivery, };

export type FollowUpRow = { conversation: ConversationSummary, follow_up: FollowUp, };

export type AttachmentKind = "image" | "pdf";

export type FileLinksRequest = { conversation_id: string, ids: Array<string>, };

export type FileLinks = { links: Array<FileLink>, };

export type FileLink = { id: string, 
/**
 * The file (a path on the hub, with its signature).
 */
url: string, 
/**
 * Images: a small version for the conversation view.
 */
thumbnail_url?: string, 
/**
 * When the links stop working (Unix ms): ask again after.
 */
expires_at: number, };

export type BriefSource = "knowledge" | "openai" | "webhook";

export type BriefState = { "state": "pending", since: number, } | { "state": "ready", brief: Brief, at: number, } | { "state": "unavailable", reason: string, at: number, };

export type AuditEntry = { at: number, 
/**
 * Who did it: an operator, or the hub itself (`id` and `name` absent) for automatic releases.
 */
actor?: AuditActor, action: AuditAction, conversation_id?: string, 
/**
 * For releases: why.
 */
reason?: ReleaseReason, 
/**
 * For releases and transfers: whose holding ended, when it was not the actor's.
 */
holder_id?: string, 
/**
 * For transfers: who holds the conversation now.
 */
to?: string, };

export type AuditActor = { id: string, name: string, role: Role, };

export type AuditAction = "takeover" | "release" | "transfer" | "plan_refused" | "profile_changed";

export type ProfileView = { operator_id: string, workspace_id: string, 
/**
 * The name in the operator's token.
 */
account_name: string, 
/**
 * Whether the operator has saved a profile. Until then visitors see "Human".
 */
saved: boolean, display_name: string | null, avatar_url: string | null, 
/**
 * The name visitors see at the next takeover.
 */
visitor_name: string, updated_at: number | null, };

export type ProfileUpdate = { 
/**
 * Trimmed; empty or absent means "use my account name".
 */
display_name?: string, 
/**
 * A URL returned by `POST /api/profile/avatar` for this workspace; `null`: no avatar.
 */
avatar_url?: string, };

export type AvatarUploaded = { avatar_url: string, width: number, height: number, };

export type Problem = { 
/**
 * `urn:take-control:problem:<code>`.
 */
type: string, title: string, status: number, 
/**
 * What exactly was wrong with this request, for people.
 */
detail: string, code: ProblemCode, };

export type Note = { id: number, 
/**
 * The conversation's `last_seq` when it was written: it reads after that event.
 */
after_seq: number, at: number, author: OperatorRef, text: string, client_id?: string, attachments?: Array<Attachment>, };

export type VisitorContext = { url?: string, title?: string, referrer?: string, 
/**
 * A BCP 47 tag, as `navigator.language` gives it.
 */
language?: string, 
/**
 * An IANA zone name, as `Intl.DateTimeFormat().resolvedOptions().timeZone` gives it.
 */
time_zone?: string, };

export type CannedReply = { id: string, title: string, 
/**
 * What follows `/` in the composer: lowercase letters, digits, `-` and `_`; unique in the
 * workspace.
 */
shortcut: string, text: string, updated_at: number, updated_by: string, };

export type CannedReplyInput = { title: string, shortcut: string, text: string, };

export type CannedReplyList = { replies: Array<CannedReply>, };

export const PROTOCOL_VERSION = 1;
export const DEFAULT_OPERATOR_NAME = "Human";
export const LIMITS = { maxFrameBytes: 65536, maxMessageChars: 4000, maxClientIdBytes: 64, maxDisplayNameGraphemes: 49, maxMarksPerCharacter: 4, minAvatarSide: 150, maxAvatarSide: 4096, maxAvatarBytes: 5242880, avatarSide: 256, maxNotes: 500, maxUrlChars: 2048, maxTitleChars: 300, maxLanguageChars: 35, maxTimeZoneChars: 64, maxQueryChars: 200, maxCannedReplies: 500, maxCannedTitleChars: 80, maxShortcutChars: 32, onlineWindow: 50, maxOnlineWindow: 200, maxOnlineQueryChars: 100 } as const;
