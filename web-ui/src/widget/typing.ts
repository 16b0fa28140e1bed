/**
 * The visitor's typing signal: `typing {active: true}` when typing starts (repeated at most every
 * `refreshMs` while it goes on, so a hub that expires stale flags keeps showing it), and
 * `typing {active: false}` after `idleMs` without a keystroke, or at once when the message is sent.
 */
export interface TypingClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: TypingClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class TypingSignal {
  private active = false;
  private lastSent = 0;
  private idle: unknown = null;

  constructor(
    private readonly send: (active: boolean) => void,
    private readonly opts: { refreshMs: number; idleMs: number } = { refreshMs: 4_000, idleMs: 3_000 },
    private readonly clock: TypingClock = realClock,
  ) {}

  /** A keystroke in the message box. */
  input(): void {
    const now = this.clock.now();
    if (!this.active || now - this.lastSent >= this.opts.refreshMs) {
      this.active = true;
      this.lastSent = now;
      this.send(true);
    }
    this.clearIdle();
    this.idle = this.clock.setTimeout(() => this.stop(), this.opts.idleMs);
  }

  /** Idle, sent, or the box emptied: tell the other side once. */
  stop(): void {
    this.clearIdle();
    if (!this.active) return;
    this.active = false;
    this.send(false);
  }

  /** The socket closed: the hub forgot the flag already, so nothing is sent. */
  reset(): void {
    this.clearIdle();
    this.active = false;
  }

  private clearIdle(): void {
    if (this.idle !== null) this.clock.clearTimeout(this.idle);
    this.idle = null;
  }
}
