/** Parsing of incoming socket text into `ServerFrame`s. */
import type { ServerFrame } from "../protocol/frames";

const SERVER_FRAME_TYPES: ReadonlySet<string> = new Set<ServerFrame["type"]>([
  "welcome",
  "ready",
  "history",
  "event",
  "ack",
  "control",
  "typing",
  "online_snapshot",
  "online_update",
  "online_remove",
  "control_warning",
  "error",
]);

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
