/**
 * The display-name rules, mirroring the hub's (`hub/src/profile.rs`; the hub decides): trimmed of
 * whatever shows nothing (client/visible.ts);
 * empty means "use my account name"; under 50 characters as a person counts them (grapheme
 * clusters: 👩‍💻 is one); no control characters and no bidirectional overrides.
 */
import { LIMITS } from "../../protocol/frames";
import { trimBlank } from "../../client/visible";

export type NameCheck =
  /** `value`: what to save (`null`: the account name is used). */
  | { ok: true; value: string | null; length: number }
  | { ok: false; message: string; length: number };

/** Control characters (Unicode Cc) and the bidirectional embeddings, overrides and isolates. */
const FORBIDDEN = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/u;

/** Unicode White_Space, what the hub's `str::trim` removes (JavaScript's `trim` differs at U+0085 and U+FEFF). */
const WS = "[\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";
const EDGES = new RegExp(`^${WS}+|${WS}+$`, "gu");

/**
 * What the hub keeps: white space trimmed, control characters and bidirectional overrides
 * checked (refused anywhere, see `checkDisplayName`), then whatever else shows nothing at either
 * end (zero-width characters…) trimmed too.
 */
export function trimName(raw: string): string {
  return trimBlank(raw.replace(EDGES, ""));
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
  const spaced = raw.replace(EDGES, "");
  const name = trimBlank(spaced);
  const length = countGraphemes(name);
  const bad = FORBIDDEN.exec(spaced);
  if (bad) {
    const hex = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return { ok: false, message: `The display name contains an invisible control character (U+${hex}).`, length };
  }
  if (name === "") return { ok: true, value: null, length };
  if (length > LIMITS.maxDisplayNameGraphemes) {
    return {
      ok: false,
      message: `The display name is ${length} characters long; keep it under ${LIMITS.maxDisplayNameGraphemes + 1}.`,
      length,
    };
  }
  return { ok: true, value: name, length };
}
