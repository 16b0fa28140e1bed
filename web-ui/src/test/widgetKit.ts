/** Test helpers for the widget: a fake widget socket and frame builders. Used by tests only. */
import { FakeHub } from "./fakeHub";
import type { AwayText, ConversationEvent, OperatorRef, ServerFrame, WidgetFrame } from "../protocol/frames";

export const CONV = "cv_1";
export const martin: OperatorRef = { id: "martin", name: "Martin from Support", display_name: "Martin from Support", avatar_url: "/avatars/demo-pro/abc.png" };
/** An operator without a profile, as visitors receive them. */
export const human: OperatorRef = { id: "nora", name: "Human" };
/** Nora with her profile, as visitors receive her. */
export const nora: OperatorRef = { id: "nora", name: "Nora from Support", display_name: "Nora from Support", avatar_url: "/avatars/demo-pro/nora.png" };

/** The same fake hub as the dashboard client's tests, recording widget frames. */
export class FakeWidgetHub extends FakeHub<WidgetFrame> {}

/** The workspace's away message and consent text, as `welcome` carries them. */
export const AWAY: AwayText = {
  message: "We're away right now. Leave your email and we'll answer you there.",
  email_consent: "We use your address only to answer this conversation.",
};

export function welcome(token = "tok-1", conversationId = CONV): ServerFrame {
  return {
    type: "welcome",
    protocol: 1,
    conversation_id: conversationId,
    visitor_token: token,
    visitor_label: "Visitor 7F3A",
    control: { holder: { kind: "ai" }, epoch: 0 },
    heartbeat_ms: 60_000,
    away: AWAY,
  };
}

export function historyFrame(events: ConversationEvent[], conversationId = CONV): ServerFrame {
  return {
    type: "history",
    conversation_id: conversationId,
    events,
    control: { holder: { kind: "ai" }, epoch: 0 },
    last_seq: events.at(-1)?.seq ?? 0,
    visitor_online: true,
    needs_human: false,
  };
}

export function eventFrame(event: ConversationEvent, conversationId = CONV): ServerFrame {
  return { type: "event", conversation_id: conversationId, event };
}

export const visitorSaid = (seq: number, text: string, clientId?: string): ConversationEvent => ({
  seq,
  at: seq,
  type: "message",
  author: { kind: "visitor" },
  text,
  ...(clientId ? { client_id: clientId } : {}),
});
export const aiSaid = (seq: number, text: string): ConversationEvent => ({ seq, at: seq, type: "message", author: { kind: "ai" }, text });
export const operatorSaid = (seq: number, op: OperatorRef, text: string): ConversationEvent => ({
  seq,
  at: seq,
  type: "message",
  author: { kind: "operator", ...op },
  text,
});
export const joined = (seq: number, op: OperatorRef, epoch = 1): ConversationEvent => ({ seq, at: seq, type: "operator_joined", operator: op, epoch });
export const left = (seq: number, op: OperatorRef, epoch = 2): ConversationEvent => ({
  seq,
  at: seq,
  type: "operator_left",
  operator: op,
  epoch,
  reason: "ended",
});
export const transferred = (seq: number, from: OperatorRef, to: OperatorRef, epoch = 2): ConversationEvent => ({
  seq,
  at: seq,
  type: "operator_transferred",
  from,
  to,
  epoch,
});
export const expired = (seq: number, waitedMs = 120_000): ConversationEvent => ({ seq, at: seq, type: "human_request_expired", waited_ms: waitedMs });
export const outsideHours = (seq: number, opensAt?: number, at = seq): ConversationEvent => ({
  seq,
  at,
  type: "outside_hours",
  by: "visitor",
  ...(opensAt !== undefined ? { opens_at: opensAt } : {}),
});
export const emailLeft = (seq: number, email: string): ConversationEvent => ({ seq, at: seq, type: "follow_up_email", email });
