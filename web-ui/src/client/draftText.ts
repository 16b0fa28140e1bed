/**
 * The AI's draft reply arrives in pieces (`ai_draft` frames): each carries the text written since
 * the previous frame and the offset, in UTF-16 code units (`String.length`), at which it starts.
 * This is the hub's rule (protocol/src/draft.rs), shared by the widget and the dashboard:
 * - offset 0: the piece is the whole draft (a snapshot), which also repairs a gap;
 * - at the end: the text grows;
 * - within what is there already: a repeat, nothing changes;
 * - past the end: a piece was missed. The text stays as it was, marked incomplete, and later
 *   pieces are not placed until a snapshot arrives (the hub sends one).
 * So a skipped, repeated or reordered frame never corrupts the bubble: it always shows a prefix
 * of the reply.
 */
export interface DraftText {
  text: string;
  /** Every piece since the last snapshot was placed. */
  complete: boolean;
}

export const EMPTY_DRAFT: DraftText = { text: "", complete: true };

export function applyPiece(current: DraftText, offset: number, piece: string): DraftText {
  if (offset === 0) return piece === current.text && current.complete ? current : { text: piece, complete: true };
  const len = current.text.length;
  if (!current.complete || offset > len) return current.complete ? { text: current.text, complete: false } : current;
  const end = offset + piece.length;
  if (end <= len) return current;
  return { text: current.text + piece.slice(len - offset), complete: true };
}
