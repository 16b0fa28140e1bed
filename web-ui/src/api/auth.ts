/**
 * Where the operator's token comes from. A host application passes a JWT it signed (URL fragment
 * or a global); a hub started with `--dev` offers a picker of test operators instead.
 */
import type { Plan, Role } from "../protocol/frames";
import type { TokenSource } from "../client/hubClient";

/** A row of `GET /dev/operators`. */
export interface DevOperator {
  id: string;
  name: string;
  role: Role;
  workspace_id: string;
  workspace_name: string;
  plan: Plan;
}

/** A token, or a function returning one (called again when the hub says the token expired). */
export type HostToken = string | (() => string | Promise<string>);

declare global {
  interface Window {
    TAKE_CONTROL_TOKEN?: HostToken;
  }
}

/**
 * The host's token source, if it gave one. A `#token=` fragment is read once and removed from the
 * address bar: fragments never reach servers, but they do end up in screenshots and shared links.
 */
export function hostTokenSource(win: Window = window): TokenSource | null {
  const fragment = new URLSearchParams(win.location.hash.replace(/^#/, ""));
  const fromFragment = fragment.get("token");
  if (fromFragment) {
    fragment.delete("token");
    const rest = fragment.toString();
    win.history.replaceState(null, "", `${win.location.pathname}${win.location.search}${rest ? `#${rest}` : ""}`);
    // Keep it for reloads of this tab only (sessionStorage dies with the tab).
    win.sessionStorage.setItem(FRAGMENT_TOKEN_KEY, fromFragment);
  }
  const global = win.TAKE_CONTROL_TOKEN;
  if (typeof global === "function") return async () => global();
  if (typeof global === "string" && global !== "") return async () => global;
  const stored = fromFragment ?? win.sessionStorage.getItem(FRAGMENT_TOKEN_KEY);
  if (stored) return async () => stored;
  return null;
}

const FRAGMENT_TOKEN_KEY = "take-control.token";

export type DevOperatorsResult = { kind: "dev"; operators: DevOperator[] } | { kind: "not_dev" };

/** `GET /dev/operators`; a 404 means the hub runs without `--dev`. Throws when unreachable. */
export async function fetchDevOperators(fetchFn: typeof fetch = fetch): Promise<DevOperatorsResult> {
  // The hub's endpoints live at the origin's root, whatever path serves the page.
  const res = await fetchFn("/dev/operators", { headers: { accept: "application/json" } });
  if (res.status === 404) return { kind: "not_dev" };
  if (!res.ok) throw new Error(`GET /dev/operators answered ${res.status}`);
  return { kind: "dev", operators: (await res.json()) as DevOperator[] };
}

/** A token source that signs in as a dev operator, afresh each time one is needed. */
export function devTokenSource(operatorId: string, fetchFn: typeof fetch = fetch): TokenSource {
  return async () => {
    const res = await fetchFn("/dev/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ operator_id: operatorId }),
    });
    if (!res.ok) throw new Error(`POST /dev/login answered ${res.status}`);
    const body = (await res.json()) as { token?: unknown };
    if (typeof body.token !== "string") throw new Error("POST /dev/login returned no token");
    return body.token;
  };
}
