import { describe, expect, it } from "vitest";
import type { ServerFrame } from "../protocol/frames";
import { aiControl, aiMessage, alice, operatorControl, visitorMessage } from "../test/fixtures";
import { advanceLastSeq, applyDraftFrame, hasSeq, insertEvents, newerControl, updateOutbox, type DraftSlot } from "./events";

describe("event log", () => {
  it("keeps each seq once, in order, whatever order they arrive in", () => {
    const log = { events: [visitorMessage(1)], lastSeq: 1, other: "kept" };
    const next = insertEvents(log, [aiMessage(4), visitorMessage(3), aiMessage(4), visitorMessage(1)]);
    expect(next.events.map((e) => e.seq)).toEqual([1, 3, 4]);
    expect(next.other).toBe("kept");
    expect(insertEvents(next, [visitorMessage(3)])).toBe(next);
  });

  it("moves the resume point over contiguous events only", () => {
    const log = insertEvents({ events: [], lastSeq: 0 }, [visitorMessage(1), aiMessage(2), visitorMessage(4)]);
    const advanced = advanceLastSeq(log);
    expect(advanced.lastSeq).toBe(2);
    expect(advanceLastSeq(advanced)).toBe(advanced);
    expect(hasSeq(advanced, 2)).toBe(true);
    expect(hasSeq(advanced, 4)).toBe(true);
    expect(hasSeq(advanced, 3)).toBe(false);
  });

  it("never lets an older control undo a newer one", () => {
    const held = operatorControl(alice, 3);
    expect(newerControl(held, aiControl(2))).toBe(held);
    expect(newerControl(held, aiControl(3))).toEqual(aiControl(3));
    expect(newerControl(null, aiControl(0))).toEqual(aiControl(0));
  });

  it("updates one outgoing message, and returns the same outbox when nothing changed", () => {
    const outbox = [{ clientId: "a", n: 1 }, { clientId: "b", n: 1 }];
    expect(updateOutbox(outbox, "b", (m) => ({ ...m, n: 2 }))).toEqual([{ clientId: "a", n: 1 }, { clientId: "b", n: 2 }]);
    expect(updateOutbox(outbox, "b", (m) => m)).toBe(outbox);
    expect(updateOutbox(outbox, "c", (m) => ({ ...m, n: 3 }))).toBe(outbox);
  });
});

describe("draft frames", () => {
  const draft = (draftId: string, offset: number, text: string, epoch = 0, state: "streaming" | "done" | "discarded" = "streaming") =>
    ({ type: "ai_draft", conversation_id: "c1", draft_id: draftId, epoch, offset, text, state }) as Extract<ServerFrame, { type: "ai_draft" }>;
  const empty: DraftSlot = { draft: null, endedDraft: null };

  it("grows a draft, replaces it with another id and ends only the one named", () => {
    const one = applyDraftFrame(empty, aiControl(0), draft("d1", 0, "Hel"));
    const grown = applyDraftFrame(one!, aiControl(0), draft("d1", 3, "lo"));
    expect(grown?.draft).toEqual({ id: "d1", text: "Hello", complete: true, epoch: 0 });
    const other = applyDraftFrame(grown!, aiControl(0), draft("d2", 0, "Hi"));
    expect(other?.draft?.id).toBe("d2");
    expect(applyDraftFrame(other!, aiControl(0), draft("d1", 0, "", 0, "done"))).toEqual({ draft: other!.draft, endedDraft: "d1" });
    expect(applyDraftFrame(other!, aiControl(0), draft("d2", 0, "", 0, "discarded"))).toEqual({ draft: null, endedDraft: "d2" });
  });

  it("ignores late frames: of an ended draft, while an operator holds, from before the control changed", () => {
    expect(applyDraftFrame({ draft: null, endedDraft: "d1" }, aiControl(0), draft("d1", 0, "late"))).toBeNull();
    expect(applyDraftFrame(empty, operatorControl(alice, 1), draft("d2", 0, "no"))).toBeNull();
    expect(applyDraftFrame(empty, aiControl(2), draft("d3", 0, "old", 1))).toBeNull();
    const shown = applyDraftFrame(empty, aiControl(0), draft("d4", 0, "Hi"))!;
    expect(applyDraftFrame(shown, aiControl(0), draft("d4", 1, "i"))).toBeNull();
  });
});
