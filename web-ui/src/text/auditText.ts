/** Audit log entries as sentences an owner reads at a glance. */
import type { AuditEntry } from "../protocol/frames";

export interface AuditContext {
  /** The visitor label of a conversation, when known. */
  labelOf(conversationId: string): string | undefined;
  /** An operator's name, when known (the team, earlier entries). */
  nameOf(operatorId: string): string | undefined;
}

/** Who did it: the operator, or "Automatic" for the hub's own releases. */
export function auditActor(entry: AuditEntry): string {
  return entry.actor?.name ?? "Automatic";
}

function firstName(name: string): string {
  return name.trim().split(/\s+/)[0] || name;
}

function possessive(name: string): string {
  return `${name}'s`;
}

/** For a release by someone other than the holder: the holder's name (when known). */
function forcedRelease(entry: AuditEntry, ctx: AuditContext): { holder: string | undefined } | null {
  const actor = entry.actor;
  if (entry.action !== "release" || !actor) return null;
  const forced = entry.reason === "force_released" || (entry.holder_id !== undefined && entry.holder_id !== actor.id);
  if (!forced) return null;
  return { holder: entry.holder_id !== undefined ? ctx.nameOf(entry.holder_id) : undefined };
}

function visitor(entry: AuditEntry, ctx: AuditContext): string {
  const label = entry.conversation_id !== undefined ? ctx.labelOf(entry.conversation_id) : undefined;
  return label ?? "a conversation";
}

/**
 * "Martin Keller took over Visitor 7F3A", "Olivia Owner force-released Martin's conversation",
 * "Released automatically: holder disconnected", "Takeover refused: plan", "Martin Keller
 * transferred Visitor 7F3A to Nora Novak".
 */
export function auditSentence(entry: AuditEntry, ctx: AuditContext): string {
  const actor = entry.actor;
  switch (entry.action) {
    case "takeover":
      return actor ? `${actor.name} took over ${visitor(entry, ctx)}` : `${capitalizeFirst(visitor(entry, ctx))} was taken over`;
    case "plan_refused":
      return "Takeover refused: plan";
    case "profile_changed":
      return actor ? `${actor.name} changed their profile` : "Profile changed";
    case "transfer": {
      const to = (entry.to !== undefined ? ctx.nameOf(entry.to) : undefined) ?? "a teammate";
      return `${actor?.name ?? "Automatic"} transferred ${visitor(entry, ctx)} to ${to}`;
    }
    case "release": {
      if (!actor) {
        switch (entry.reason) {
          case "disconnected":
            return "Released automatically: holder disconnected";
          case "idle":
            return "Released automatically: holder idle";
          case "ended":
            return "Released automatically: conversation ended";
          default:
            return "Released automatically";
        }
      }
      const forced = forcedRelease(entry, ctx);
      if (forced) {
        return forced.holder
          ? `${actor.name} force-released ${possessive(firstName(forced.holder))} conversation`
          : `${actor.name} force-released ${visitor(entry, ctx)}`;
      }
      return `${actor.name} handed ${visitor(entry, ctx)} back to the AI`;
    }
  }
}

/**
 * The line under the sentence: what the sentence leaves out (the visitor of a force release or an
 * automatic release, whose holding ended), or null.
 */
export function auditDetail(entry: AuditEntry, ctx: AuditContext): string | null {
  const label = entry.conversation_id !== undefined ? ctx.labelOf(entry.conversation_id) : undefined;
  let parts: (string | undefined)[] = [];
  switch (entry.action) {
    case "takeover":
    case "profile_changed":
      break; // the sentence says it all
    case "plan_refused":
      parts = [label];
      break;
    case "transfer":
      // An owner or editor moved someone else's conversation: whose it was.
      if (entry.holder_id !== undefined && entry.holder_id !== entry.actor?.id) {
        const from = ctx.nameOf(entry.holder_id);
        parts = [from !== undefined ? `from ${from}` : undefined];
      }
      break;
    case "release":
      if (!entry.actor) parts = [entry.holder_id !== undefined ? ctx.nameOf(entry.holder_id) : undefined, label];
      // "force-released Martin's conversation" leaves out which one.
      else if (forcedRelease(entry, ctx)?.holder) parts = [label];
      break;
  }
  const shown = parts.filter((p): p is string => p !== undefined);
  return shown.length > 0 ? shown.join(" · ") : null;
}

function capitalizeFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
