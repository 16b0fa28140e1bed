/**
 * What a WebSocket close code means for the dashboard: reconnect (and resume), or stop and tell
 * the operator why. The hub's table (generated `CLOSE_CODES`) is the authority; this module only
 * adds the transport-level codes a browser reports on its own.
 */
import { CLOSE_CODES, CloseCode } from "../protocol/codes";

export interface CloseDecision {
  reconnect: boolean;
  /** Operator-facing explanation. */
  description: string;
  /** The token must be fetched again before reconnecting. */
  freshToken: boolean;
}

/** The browser closes with 1006 when the connection drops without a close frame. */
const ABNORMAL_CLOSURE = 1006;

export function closeDecision(code: number): CloseDecision {
  const known = CLOSE_CODES[code];
  if (known) {
    return {
      reconnect: known.reconnect,
      description: known.description,
      freshToken: code === CloseCode.TOKEN_EXPIRED,
    };
  }
  if (code === ABNORMAL_CLOSURE) {
    return { reconnect: true, description: "The connection to the hub was lost.", freshToken: false };
  }
  // Codes outside the table (a proxy's, a future hub's): reconnecting with backoff is the safe
  // default, since a terminal condition will be reported again with a code we do know.
  return { reconnect: true, description: `The connection closed (code ${code}).`, freshToken: false };
}
