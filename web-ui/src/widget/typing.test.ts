import { describe, expect, it } from "vitest";
import { TypingSignal, type TypingClock } from "./typing";

function fakeClock() {
  let now = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let n = 0;
  const clock: TypingClock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.push({ at: now + ms, fn, id: ++n });
      return n;
    },
    clearTimeout: (id) => {
      timers = timers.filter((t) => t.id !== id);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    const due = timers.filter((t) => t.at <= now);
    timers = timers.filter((t) => t.at > now);
    for (const t of due) t.fn();
  };
  return { clock, advance };
}

describe("typing signal", () => {
  it("sends active once per burst, refreshed while typing goes on, and stops after idle", () => {
    const sent: boolean[] = [];
    const { clock, advance } = fakeClock();
    const t = new TypingSignal((a) => sent.push(a), { refreshMs: 4_000, idleMs: 3_000 }, clock);
    for (let i = 0; i < 10; i++) {
      t.input();
      advance(500);
    }
    expect(sent).toEqual([true, true]); // at 0 ms and again at 4,000 ms
    advance(3_000);
    expect(sent).toEqual([true, true, false]);
    advance(10_000);
    expect(sent).toEqual([true, true, false]);
  });

  it("stop() after sending says so once; reset() after a disconnect says nothing", () => {
    const sent: boolean[] = [];
    const { clock } = fakeClock();
    const t = new TypingSignal((a) => sent.push(a), undefined, clock);
    t.input();
    t.stop();
    t.stop();
    expect(sent).toEqual([true, false]);
    t.input();
    t.reset();
    t.stop();
    expect(sent).toEqual([true, false, true]);
  });
});
