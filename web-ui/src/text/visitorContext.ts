/**
 * Showing what a visitor's widget reported (docs/protocol.md, "Visitor context"). Every field
 * comes from the visitor's browser and is only ever displayed: a URL becomes a link only when it
 * is http(s), so a `javascript:` or `data:` URL can never run from the dashboard.
 */

/** The URL, normalised, when it is an absolute http: or https: URL; otherwise `null` (show it as text). */
export function safeHttpUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

/** The time of day in the visitor's zone, or `null` for a zone this browser does not know. */
export function localTime(timeZone: string | undefined, now: number, locale?: string): string | null {
  if (!timeZone) return null;
  try {
    return new Intl.DateTimeFormat(locale, { timeZone, weekday: "short", hour: "2-digit", minute: "2-digit" }).format(now);
  } catch {
    // A made-up or misspelt zone throws a RangeError: the panel just leaves the time out.
    return null;
  }
}

/** "Swiss High German (de-CH)": the tag's name in the operator's language, when the browser knows it. */
export function languageName(tag: string | undefined, locale?: string): string | null {
  if (!tag) return null;
  try {
    const name = new Intl.DisplayNames(locale, { type: "language" }).of(tag);
    return name && name !== tag ? `${name} (${tag})` : tag;
  } catch {
    return tag;
  }
}
