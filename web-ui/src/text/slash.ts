/**
 * Saved replies in the composer: `/` at the start of the text or after white space opens the
 * list, what follows it (up to the caret) filters it, and choosing one puts its text in place of
 * the `/query` for editing. Pure, so the rules are unit-tested apart from the textarea.
 */
import type { CannedReply } from "../protocol/frames";

export interface SlashQuery {
  /** Index of the `/` in the text. */
  start: number;
  /** What was typed after the `/`, up to the caret. */
  query: string;
}

/** Most rows the list shows: a longer list is a sign to type more. */
export const MAX_SUGGESTIONS = 8;

/**
 * The `/query` the caret is in, if any: a `/` at the start or after white space, then no white
 * space up to the caret. `a/b` (a URL, a date) is no query.
 */
export function findSlashQuery(text: string, caret: number): SlashQuery | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)\/(\S*)$/.exec(before);
  if (!m) return null;
  const query = m[2] ?? "";
  return { start: caret - query.length - 1, query };
}

/**
 * Replies matching `query` (case-insensitive): shortcuts starting with it first, then the rest
 * whose shortcut or title contains it, each group by shortcut.
 */
export function filterReplies(replies: readonly CannedReply[], query: string): CannedReply[] {
  const q = query.toLowerCase();
  const rank = (r: CannedReply): number => {
    const shortcut = r.shortcut.toLowerCase();
    if (shortcut.startsWith(q)) return 0;
    if (shortcut.includes(q) || r.title.toLowerCase().includes(q)) return 1;
    return -1;
  };
  return replies
    .map((r) => ({ r, rank: rank(r) }))
    .filter((x) => x.rank >= 0)
    .sort((a, b) => a.rank - b.rank || (a.r.shortcut < b.r.shortcut ? -1 : a.r.shortcut > b.r.shortcut ? 1 : 0))
    .slice(0, MAX_SUGGESTIONS)
    .map((x) => x.r);
}

/** The text with `/query` (from `slash.start` to `caret`) replaced by `insert`, and where the caret goes. */
export function insertReply(text: string, slash: SlashQuery, caret: number, insert: string): { text: string; caret: number } {
  const head = text.slice(0, slash.start);
  const tail = text.slice(caret);
  return { text: head + insert + tail, caret: head.length + insert.length };
}
