/**
 * The reopen link of a follow-up email: the page the visitor chatted on with
 * `#tc-reopen=<visitor token>` appended (docs/protocol.md). The widget takes the token from the
 * fragment and removes the fragment from the address bar at once, so the token is neither
 * bookmarked, shared with the URL, nor reported to the team as part of the page's address.
 */

/** The fragment parameter that carries the token. */
export const REOPEN_PARAM = "tc-reopen";

type Env = { location: Pick<Location, "hash" | "pathname" | "search">; history: Pick<History, "replaceState" | "state"> };

/**
 * The token of a reopen link, or `null`. `hash` is `location.hash`; the fragment may carry other
 * parameters (`#a=1&tc-reopen=…`): those stay.
 */
export function reopenToken(hash: string): { token: string; rest: string } | null {
  const parts = hash.replace(/^#/, "").split("&");
  const i = parts.findIndex((p) => p.startsWith(`${REOPEN_PARAM}=`));
  if (i < 0) return null;
  let token: string;
  try {
    token = decodeURIComponent(parts[i]!.slice(REOPEN_PARAM.length + 1)).trim();
  } catch {
    return null; // not a link the hub wrote
  }
  const rest = parts.filter((_, j) => j !== i && parts[j] !== "").join("&");
  return token === "" ? null : { token, rest };
}

/**
 * Takes the reopen link's token from the address, if any, and removes it from the address bar
 * (`history.replaceState`: no new history entry, path and query kept).
 */
export function takeReopenToken(w: Env): string | null {
  const found = reopenToken(w.location.hash);
  if (!found) return null;
  const url = `${w.location.pathname}${w.location.search}${found.rest ? `#${found.rest}` : ""}`;
  try {
    w.history.replaceState(w.history.state, "", url);
  } catch {
    // a sandboxed frame may refuse: the conversation still reopens
  }
  return found.token;
}
