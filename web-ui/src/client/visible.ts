/**
 * Whether a text shows anything: the hub's rule (protocol/src/visible.rs), applied before sending
 * so a blank message is never queued. A character shows nothing when it is white space, a default
 * ignorable code point (zero-width spaces and joiners, variation selectors, bidirectional
 * controls…), a control or format character, or a combining mark; a text is blank when none of
 * its characters shows anything.
 */
const INVISIBLE = "[\\p{White_Space}\\p{Default_Ignorable_Code_Point}\\p{M}\\p{Cc}\\p{Cf}]";
const BLANK = new RegExp(`^${INVISIBLE}*$`, "u");
const LEADING = new RegExp(`^${INVISIBLE}+`, "u");
const INVISIBLE_ONE = new RegExp(`^${INVISIBLE}$`, "u");
const MARK = /^\p{M}$/u;

export function isBlank(text: string): boolean {
  return BLANK.test(text);
}

/**
 * What shows nothing removed from both ends (inner joiners and marks stay, and so do the marks
 * right after the last character that shows: the accent of a decomposed "José", a keycap).
 */
export function trimBlank(text: string): string {
  const chars = [...text.replace(LEADING, "")];
  let end = chars.length;
  while (end > 0 && INVISIBLE_ONE.test(chars[end - 1]!)) end--;
  if (end === 0) return "";
  while (end < chars.length && MARK.test(chars[end]!)) end++;
  return chars.slice(0, end).join("");
}
