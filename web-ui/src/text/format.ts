/** Short human times for the Online list and the conversation. */

export function relativeTime(at: number, now: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 45) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  return new Date(at).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

export function clockTime(at: number): string {
  return new Date(at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((p) => (p ?? "").charAt(0).toUpperCase()).join("") || "?";
}

/** How long something has lasted, for "holds Visitor 7F3A for 12 min". */
export function heldFor(since: number, now: number): string {
  const m = Math.floor(Math.max(0, now - since) / 60_000);
  if (m < 1) return "for less than a minute";
  if (m < 60) return `for ${m} min`;
  const h = Math.floor(m / 60);
  const rest = m % 60;
  return rest === 0 ? `for ${h} h` : `for ${h} h ${rest} min`;
}

/** A time of day, with the date when it was not today (audit log). */
export function auditTime(at: number, now: number): string {
  const d = new Date(at);
  if (d.toDateString() === new Date(now).toDateString()) return clockTime(at);
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })}, ${clockTime(at)}`;
}

export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
