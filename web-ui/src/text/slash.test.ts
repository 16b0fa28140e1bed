import { describe, expect, it } from "vitest";
import type { CannedReply } from "../protocol/frames";
import { filterReplies, findSlashQuery, insertReply, MAX_SUGGESTIONS } from "./slash";

const reply = (shortcut: string, title: string, text = `${title}.`): CannedReply => ({
  id: `cr_${shortcut}`,
  shortcut,
  title,
  text,
  updated_at: 1,
  updated_by: "nora",
});

describe("findSlashQuery", () => {
  it("finds a slash at the start or after white space, up to the caret", () => {
    expect(findSlashQuery("/", 1)).toEqual({ start: 0, query: "" });
    expect(findSlashQuery("/ref", 4)).toEqual({ start: 0, query: "ref" });
    expect(findSlashQuery("Hi! /ref", 8)).toEqual({ start: 4, query: "ref" });
    expect(findSlashQuery("Hi!\n/ref", 8)).toEqual({ start: 4, query: "ref" });
    // The caret inside the word: only what is before it filters.
    expect(findSlashQuery("/refund", 3)).toEqual({ start: 0, query: "re" });
  });

  it("ignores slashes inside words and queries the caret has left", () => {
    expect(findSlashQuery("and/or", 6)).toBeNull();
    expect(findSlashQuery("see https://x.test/a", 20)).toBeNull();
    expect(findSlashQuery("/ref then", 9)).toBeNull();
    expect(findSlashQuery("/ref ", 5)).toBeNull();
    expect(findSlashQuery("", 0)).toBeNull();
  });
});

describe("filterReplies", () => {
  const replies = [reply("shipping", "Shipping times"), reply("refund", "Refund timing"), reply("card-refund", "Card refunds"), reply("hello", "Greeting")];

  it("lists everything for an empty query, by shortcut", () => {
    expect(filterReplies(replies, "").map((r) => r.shortcut)).toEqual(["card-refund", "hello", "refund", "shipping"]);
  });

  it("puts shortcuts starting with the query first, then other shortcut or title matches, ignoring case", () => {
    expect(filterReplies(replies, "REF").map((r) => r.shortcut)).toEqual(["refund", "card-refund"]);
    expect(filterReplies(replies, "greet").map((r) => r.shortcut)).toEqual(["hello"]);
    expect(filterReplies(replies, "nothing")).toEqual([]);
  });

  it("keeps the list short", () => {
    const many = Array.from({ length: 20 }, (_, i) => reply(`r${String(i).padStart(2, "0")}`, `Reply ${i}`));
    expect(filterReplies(many, "r")).toHaveLength(MAX_SUGGESTIONS);
  });
});

describe("insertReply", () => {
  it("replaces the /query with the text and puts the caret after it", () => {
    const text = "Hello! /ref and more";
    const slash = findSlashQuery(text, 11)!;
    expect(insertReply(text, slash, 11, "Refunds take 5 days.")).toEqual({
      text: "Hello! Refunds take 5 days. and more",
      caret: 27,
    });
  });
});
