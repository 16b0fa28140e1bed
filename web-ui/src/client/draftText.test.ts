import { describe, expect, it } from "vitest";
import { applyPiece, EMPTY_DRAFT, type DraftText } from "./draftText";

const apply = (pieces: Array<[number, string]>, from: DraftText = EMPTY_DRAFT): DraftText =>
  pieces.reduce((d, [offset, piece]) => applyPiece(d, offset, piece), from);

describe("draft pieces", () => {
  it("grow the text in order, offsets counted in UTF-16 units", () => {
    expect(apply([[0, "Hé"], [2, "llo 😀"], [8, "!"]])).toEqual({ text: "Héllo 😀!", complete: true });
  });

  it("ignore a repeat and keep only the new part of an overlap", () => {
    const d = apply([[0, "Hello"], [2, "ll"], [3, "lo, world"]]);
    expect(d).toEqual({ text: "Hello, world", complete: true });
    const same = apply([[0, "Hello"]]);
    expect(applyPiece(same, 1, "ell")).toBe(same);
  });

  it("keep the text on a gap, place nothing more, and take a snapshot as the repair", () => {
    const gap = apply([[0, "Hello"], [7, "world"], [5, ", "]]);
    expect(gap).toEqual({ text: "Hello", complete: false });
    expect(applyPiece(gap, 0, "Hello, world")).toEqual({ text: "Hello, world", complete: true });
  });

  it("show nothing wrong when joining mid-reply", () => {
    expect(apply([[12, "more"]])).toEqual({ text: "", complete: false });
  });

  it("always show a prefix of the reply whatever is dropped, repeated or swapped", () => {
    const reply = "Your parcel left our warehouse today 📦 and arrives tomorrow.";
    const pieces: Array<[number, string]> = [];
    for (let at = 0; at < reply.length; ) {
      let end = Math.min(reply.length, at + 1 + ((at * 7) % 5));
      // Pieces end on character boundaries, as the hub cuts them.
      if (end < reply.length && /[\uDC00-\uDFFF]/.test(reply.charAt(end))) end += 1;
      pieces.push([at, reply.slice(at, end)]);
      at = end;
    }
    const put = (d: DraftText, i: number): DraftText => {
      const [offset, piece] = pieces[i] ?? [0, ""];
      return applyPiece(d, offset, piece);
    };
    for (let seed = 0; seed < 200; seed++) {
      let d = EMPTY_DRAFT;
      for (let i = 0; i < pieces.length; i++) {
        const fault = (seed * 31 + i * 17) % 6;
        if (fault === 0) continue; // dropped
        if (fault === 1) d = put(put(d, i), i);
        else if (fault === 2 && i + 1 < pieces.length) {
          d = put(put(d, i + 1), i);
          i++;
        } else d = put(d, i);
        expect(reply.startsWith(d.text)).toBe(true);
      }
      expect(applyPiece(d, 0, reply).text).toBe(reply);
    }
  });
});
