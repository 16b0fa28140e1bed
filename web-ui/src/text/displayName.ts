/**
 * The display-name rules, mirroring the hub's (`hub/src/profile.rs`; the hub decides): trimmed of
 * whatever shows nothing (client/visible.ts);
 * empty means "use my account name"; under 50 characters as a person counts them (grapheme
 * clusters: 👩‍💻 is one); no control characters, line or paragraph separators or bidirectional
 * controls, and at most `LIMITS.maxMarksPerCharacter` combining marks on one character (the
 * protocol's `visible::name_fault`).
 */
import { LIMITS } from "../protocol/frames";
import { trimBlank } from "../client/visible";

export type NameCheck =
  /** `value`: what to save (`null`: the account name is used). */
  | { ok: true; value: string | null; length: number }
  | { ok: false; message: string; length: number };

/** Control characters (Unicode Cc), the line and paragraph separators and Bidi_Control. */
const CONTROL = /\p{Cc}/u;
const SEPARATOR = /[\u2028\u2029]/u;
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const FORBIDDEN = /[\p{Cc}\u2028\u2029\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
const MARK = /\p{M}/u;
const FORMAT = /\p{Cf}/u;

/** The longest run of combining marks on one character (format characters such as joiners do not end a run). */
export function mostMarksOnOneCharacter(text: string): number {
  let run = 0;
  let worst = 0;
  for (const c of text) {
    if (MARK.test(c)) worst = Math.max(worst, ++run);
    else if (!FORMAT.test(c)) run = 0;
  }
  return worst;
}

function hex(c: string): string {
  return c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
}

/** The hub's message for a name it refuses for its characters (`NameFault`'s text), or null. */
export function nameFault(name: string): string | null {
  const bad = FORBIDDEN.exec(name);
  if (bad) {
    const c = bad[0];
    if (CONTROL.test(c)) return `The display name contains an invisible control character (U+${hex(c)}).`;
    if (SEPARATOR.test(c)) return `The display name contains a line or paragraph separator (U+${hex(c)}); keep it on one line.`;
    if (BIDI.test(c)) return `The display name contains an invisible bidirectional control character (U+${hex(c)}).`;
  }
  const marks = mostMarksOnOneCharacter(name);
  if (marks > LIMITS.maxMarksPerCharacter) {
    return `The display name stacks ${marks} accents or other combining marks on one character; at most ${LIMITS.maxMarksPerCharacter} are allowed.`;
  }
  return null;
}

/** Unicode White_Space, what the hub's `str::trim` removes (JavaScript's `trim` differs at U+0085 and U+FEFF). */
const WS = "[\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";
const EDGES = new RegExp(`^${WS}+|${WS}+$`, "gu");

/**
 * What the hub keeps: white space trimmed, control characters, separators, bidirectional controls
 * and stacked marks checked (refused anywhere, see `checkDisplayName`), then whatever else shows nothing at either
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
  const fault = nameFault(spaced);
  if (fault) return { ok: false, message: fault, length };
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
