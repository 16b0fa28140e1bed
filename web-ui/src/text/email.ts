/**
 * The widget's check of an email address left for a follow-up: the hub's rule
 * (`plausible_email` in protocol/src/follow_up.rs), mirrored so an obvious typo is caught before
 * it is sent. The hub checks again (`invalid_email`), and its mail library once more.
 */

/** The longest address accepted (RFC 5321's path limit), in Unicode scalar values as the hub counts. */
export const MAX_EMAIL_CHARS = 254;

/** Rust's `char::is_whitespace` is Unicode's White_Space; `is_control` is the Cc category. */
const BLANK_OR_CONTROL = /[\p{White_Space}\p{Cc}]/u;

/**
 * Whether `email` looks like an address a mail server would take: one `@` with something on
 * each side, a domain with a dot (neither first nor last), no spaces or control characters, at
 * most `MAX_EMAIL_CHARS`.
 */
export function plausibleEmail(email: string): boolean {
  if (email === "" || [...email].length > MAX_EMAIL_CHARS) return false;
  const at = email.lastIndexOf("@");
  if (at < 0) return false;
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const clean = (s: string) => s !== "" && !BLANK_OR_CONTROL.test(s);
  return (
    clean(local) &&
    clean(domain) &&
    !local.includes("@") &&
    domain.includes(".") &&
    !domain.startsWith(".") &&
    !domain.endsWith(".")
  );
}
