/**
 * Whether a text shows anything: the hub's rule (protocol/src/visible.rs), applied before sending
 * so a blank message is never queued. A character shows nothing when it is white space, a default
 * ignorable code point (zero-width spaces and joiners, variation selectors, bidirectional
 * controls…), a control or format character, or a combining mark; a text is blank when none of
 * its characters shows anything.
 */
const INVISIBLE = "[\\p{White_Space}\\p{Default_Ignorable_Code_Point}\\p{M}\\p{Cc}\\p{Cf}]";
const BLANK = new RegExp(`^${INVISIBLE}*$`, "u");
const EDGES = new RegExp(`^${INVISIBLE}+|${INVISIBLE}+$`, "gu");

export function isBlank(text: string): boolean {
  return BLANK.test(text);
}

/** What shows nothing removed from both ends (inner joiners and marks stay). */
export function trimBlank(text: string): string {
  return text.replace(EDGES, "");
}
