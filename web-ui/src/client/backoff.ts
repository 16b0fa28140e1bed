/**
 * Reconnect delays: exponential with "full jitter" (a uniformly random delay between 0 and the
 * exponential cap). Full jitter spreads a crowd of dashboards that lost the same hub node across
 * the whole window instead of having them return in synchronized waves.
 */

export interface BackoffOptions {
  /** Cap of the first attempt's window. */
  baseMs: number;
  /** The window never grows beyond this. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 20_000 };

/** Upper bound of the delay window for the `attempt`-th reconnect (0-based). */
export function backoffCap(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  // Clamp the exponent: 2 ** 1100 is Infinity, and a huge attempt count must still give maxMs.
  const exp = Math.min(Math.max(attempt, 0), 30);
  return Math.min(opts.maxMs, opts.baseMs * 2 ** exp);
}

/**
 * Delay before the `attempt`-th reconnect. `random` returns [0, 1) and is injectable so tests
 * can pin the bounds.
 */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCap(attempt, opts));
}
