/** Builders for protocol values used across tests. */
import type {
  AuditActor,
  AuditEntry,
  ConversationEvent,
  ConversationSummary,
  ControlState,
  FollowUp,
  FollowUpRow,
  OperatorRef,
  HeldConversation,
  ProfileView,
  ServerFrame,
  TeamMember,
} from "../protocol/frames";

export const alice: OperatorRef = { id: "op-alice", name: "Alice Admin", display_name: "Alice from Support" };
export const bob: OperatorRef = { id: "op-bob", name: "Bob Builder" };

export const aiControl = (epoch = 0): ControlState => ({ holder: { kind: "ai" }, epoch });
export const operatorControl = (op: OperatorRef, epoch = 1): ControlState => ({
  holder: { kind: "operator", ...op },
  epoch,
});

export function summary(id: string, over: Partial<ConversationSummary> = {}): ConversationSummary {
  return {
    id,
    visitor_label: `Visitor ${id}`,
    started_at: 1_000,
    last_activity_at: 2_000,
    last_message: { author: "visitor", text: `hello from ${id}` },
    control: aiControl(),
    needs_human: false,
    visitor_online: true,
    last_seq: 1,
    ...over,
  };
}

export function visitorMessage(seq: number, text = `visitor says ${seq}`): ConversationEvent {
  return { seq, at: 1_000 + seq, type: "message", author: { kind: "visitor" }, text };
}

export function aiMessage(seq: number, text = `ai says ${seq}`): ConversationEvent {
  return { seq, at: 1_000 + seq, type: "message", author: { kind: "ai" }, text };
}

export function operatorMessage(seq: number, op: OperatorRef, text: string, clientId?: string): ConversationEvent {
  return {
    seq,
    at: 1_000 + seq,
    type: "message",
    author: { kind: "operator", ...op },
    text,
    ...(clientId !== undefined ? { client_id: clientId } : {}),
  };
}

export function history(
  conversationId: string,
  events: ConversationEvent[],
  over: Partial<Extract<ServerFrame, { type: "history" }>> = {},
): ServerFrame {
  return {
    type: "history",
    conversation_id: conversationId,
    events,
    control: aiControl(),
    last_seq: events.at(-1)?.seq ?? 0,
    visitor_online: true,
    needs_human: false,
    ...over,
  };
}

export const ready = (plan: "basic" | "standard" | "pro" | "business" = "pro", role: "owner" | "editor" | "operator" = "operator"): ServerFrame => ({
  type: "ready",
  protocol: 1,
  operator: { id: alice.id, name: alice.name, role, workspace_id: "ws-1" },
  workspace: { id: "ws-1", name: "Acme", plan },
  heartbeat_ms: 30_000,
});

export function member(id: string, name: string, over: Partial<TeamMember> = {}): TeamMember {
  return { id, name, role: "operator", online: true, holding: [], ...over };
}

export function held(conversationId: string, visitorLabel: string, since: number): HeldConversation {
  return { conversation_id: conversationId, visitor_label: visitorLabel, since };
}

export const martinActor: AuditActor = { id: "op-martin", name: "Martin Keller", role: "operator" };
export const oliviaActor: AuditActor = { id: "op-olivia", name: "Olivia Owner", role: "owner" };

export function auditEntry(at: number, over: Partial<AuditEntry> = {}): AuditEntry {
  return { at, actor: martinActor, action: "takeover", conversation_id: "c1", ...over };
}

/** Martin's profile before he saved one: visitors would see "Human". */
export const noProfile: ProfileView = {
  operator_id: "martin",
  workspace_id: "demo-pro",
  account_name: "Martin Keller",
  saved: false,
  display_name: null,
  avatar_url: null,
  visitor_name: "Human",
  updated_at: null,
};

type OnlineViewFrame = Extract<ServerFrame, { type: "online_view" }>;

const waits = (c: ConversationSummary) => c.needs_human && c.control.holder.kind === "ai";

/** The hub's order of the Online list: waiting for a human first, then most recent, then id. */
export function hubOrder(rows: ConversationSummary[]): ConversationSummary[] {
  return [...rows].sort(
    (a, b) => Number(waits(b)) - Number(waits(a)) || b.last_activity_at - a.last_activity_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/**
 * An `online_view` of the whole list `rows` (filter all, in the hub's order, every row sent),
 * counts computed as the hub does (`mine`: held by Alice, the signed-in operator of `ready`).
 */
export function onlineView(rows: ConversationSummary[], over: Partial<OnlineViewFrame> = {}): OnlineViewFrame {
  const ordered = hubOrder(rows);
  return {
    type: "online_view",
    filter: "all",
    order: "activity",
    offset: 0,
    total: ordered.length,
    ids: ordered.map((c) => c.id),
    rows: ordered,
    counts: {
      all: rows.length,
      needs_human: rows.filter(waits).length,
      mine: rows.filter((c) => c.control.holder.kind === "operator" && c.control.holder.id === alice.id).length,
      ai: rows.filter((c) => c.control.holder.kind === "ai").length,
    },
    ...over,
  };
}

/** A follow-up waiting since `since` (outside working hours unless told). */
export function followUp(since: number, over: Partial<FollowUp> = {}): FollowUp {
  return { reason: "outside_hours", since, waiting: true, ...over };
}

/** A row of the follow-up list: the conversation (visitor gone) and its follow-up. */
export function followUpRow(id: string, since: number, over: Partial<FollowUp> = {}, conversation: Partial<ConversationSummary> = {}): FollowUpRow {
  return { conversation: summary(id, { visitor_online: false, ...conversation }), follow_up: followUp(since, over) };
}
