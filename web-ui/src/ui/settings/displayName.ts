/**
 * The display-name rules, mirroring the hub's (`hub/src/profile.rs`; the hub decides): trimmed;
 * empty means "use my account name"; under 50 characters as a person counts them (grapheme
 * clusters: 👩‍💻 is one); no control characters and no bidirectional overrides.
 */
import { LIMITS } from "../../protocol/frames";

export type NameCheck =
  /** `value`: what to save (`null`: the account name is used). */
  | { ok: true; value: string | null; length: number }
  | { ok: false; message: string; length: number };

/** Unicode White_Space, what the hub's `str::trim` removes (JavaScript's `trim` differs at U+0085 and U+FEFF). */
const WS = "[\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";
const EDGES = new RegExp(`^${WS}+|${WS}+$`, "gu");
/** Control characters (Unicode Cc) and the bidirectional embeddings, overrides and isolates. */
const FORBIDDEN = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/u;

export function trimName(raw: string): string {
  return raw.replace(EDGES, "");
}

/** Characters as a person counts them. */
export function countGraphemes(text: string): number {
  if (typeof Intl !== "undefined" && "Segmenter" in Intl) {
    let n = 0;
    for (const _ of new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)) n++;
    return n;
  }
  return [...text].length;
}

export function checkDisplayName(raw: string): NameCheck {
  const name = trimName(raw);
  const length = countGraphemes(name);
  if (name === "") return { ok: true, value: null, length };
  const bad = FORBIDDEN.exec(name);
  if (bad) {
    const hex = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return { ok: false, message: `The display name contains an invisible control character (U+${hex}).`, length };
  }
  if (length > LIMITS.maxDisplayNameGraphemes) {
    return {
      ok: false,
      message: `The display name is ${length} characters long; keep it under ${LIMITS.maxDisplayNameGraphemes + 1}.`,
      length,
    };
  }
  return { ok: true, value: name, length };
}
