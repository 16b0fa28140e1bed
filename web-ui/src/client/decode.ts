/** Parsing of incoming socket text into `ServerFrame`s. */
import type { ServerFrame } from "../protocol/frames";

/** A `Record` so the compiler insists on every frame type: a type missing here is silently dropped. */
const KNOWN: Record<ServerFrame["type"], true> = {
  welcome: true,
  ready: true,
  history: true,
  event: true,
  ack: true,
  control: true,
  // AI drafts (a reply as it is written) are not shown by the dashboard yet: it waits for the stored message.
  ai_draft: true,
  typing: true,
  online_view: true,
  control_warning: true,
  // Operators only (the hub never sends them to a widget, which shares this table and ignores them).
  brief: true,
  suggestion: true,
  interrupted_reply: true,
  colleagues: true,
  transfer_received: true,
  team_snapshot: true,
  audit_snapshot: true,
  audit_entry: true,
  note: true,
  visitor_context: true,
  recent: true,
  search_results: true,
  follow_ups: true,
  follow_up: true,
  error: true,
};

const SERVER_FRAME_TYPES: ReadonlySet<string> = new Set(Object.keys(KNOWN));

/**
 * Shallow check only: the hub serializes these frames from the same Rust types the TypeScript is
 * generated from, so field shapes are trusted. What this guards against is non-JSON text and
 * frame types added by a newer hub, which are skipped instead of crashing a reducer `switch`.
 */
export function decodeServerFrame(data: unknown): ServerFrame | null {
  if (typeof data !== "string") return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || !("type" in value)) return null;
  const type = value.type;
  if (typeof type !== "string" || !SERVER_FRAME_TYPES.has(type)) return null;
  return value as ServerFrame;
}
