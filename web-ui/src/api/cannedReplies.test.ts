import { describe, expect, it, vi } from "vitest";
import type { CannedReply } from "../protocol/frames";
import { CannedRepliesStore, cannedRepliesApi, checkReply, type CannedRepliesApi } from "./cannedReplies";
import { ApiError } from "./httpApi";

const reply = (id: string, shortcut: string, over: Partial<CannedReply> = {}): CannedReply => ({
  id,
  shortcut,
  title: `Title ${shortcut}`,
  text: `Text ${shortcut}`,
  updated_at: 1,
  updated_by: "olivia",
  ...over,
});

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const problem = (status: number, code: string, detail: string) =>
  new Response(JSON.stringify({ type: `urn:take-control:problem:${code}`, title: "t", status, detail, code }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });

describe("saved replies API client", () => {
  it("lists, creates, updates and deletes with the operator's token", async () => {
    const fetchFn = vi
      .fn<typeof fetch>()
      .mockResolvedValueOnce(json({ replies: [reply("cr_1", "refund")] }))
      .mockResolvedValueOnce(json(reply("cr_2", "hello"), 201))
      .mockResolvedValueOnce(json(reply("cr_2", "hi")))
      .mockResolvedValueOnce(new Response(null, { status: 204 }));
    const api = cannedRepliesApi({ token: async () => "jwt-1", fetchFn });
    const input = { title: "Greeting", shortcut: "hello", text: "Hi!" };

    await expect(api.list()).resolves.toEqual([reply("cr_1", "refund")]);
    await expect(api.create(input)).resolves.toMatchObject({ id: "cr_2" });
    await expect(api.update("cr_2", { ...input, shortcut: "hi" })).resolves.toMatchObject({ shortcut: "hi" });
    await expect(api.remove("cr_2")).resolves.toBeUndefined();

    const calls = fetchFn.mock.calls.map(([url, init]) => [url, init?.method, init?.body === undefined ? undefined : JSON.parse(String(init.body))]);
    expect(calls).toEqual([
      ["/api/canned-replies", "GET", undefined],
      ["/api/canned-replies", "POST", input],
      ["/api/canned-replies/cr_2", "PUT", { ...input, shortcut: "hi" }],
      ["/api/canned-replies/cr_2", "DELETE", undefined],
    ]);
    for (const [, init] of fetchFn.mock.calls) expect(init?.headers).toMatchObject({ authorization: "Bearer jwt-1" });
  });

  it("carries the hub's detail and code for a refusal", async () => {
    const fetchFn = vi.fn(async () => problem(409, "shortcut_taken", "Another saved reply already uses /refund."));
    const err = await cannedRepliesApi({ token: async () => "jwt", fetchFn })
      .create({ title: "Refund", shortcut: "refund", text: "x" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ message: "Another saved reply already uses /refund.", status: 409, code: "shortcut_taken" });
  });
});

describe("checkReply", () => {
  it("trims and passes a good reply", () => {
    expect(checkReply({ title: "  Refund timing ", shortcut: " refund ", text: " Five days. " })).toEqual({
      ok: true,
      input: { title: "Refund timing", shortcut: "refund", text: "Five days." },
    });
  });

  it("names each field the hub would refuse", () => {
    expect(checkReply({ title: "", shortcut: "Refund!", text: "\u200b" })).toEqual({
      ok: false,
      errors: {
        title: "Give the reply a title.",
        shortcut: "Only lowercase letters, digits, - and _.",
        text: "Write the reply's text.",
      },
    });
    const long = checkReply({ title: "t".repeat(81), shortcut: "s".repeat(33), text: "x".repeat(4001) });
    expect(long.ok === false && Object.keys(long.errors)).toEqual(["title", "shortcut", "text"]);
    expect(checkReply({ title: "t".repeat(80), shortcut: "a-b_9".padEnd(32, "z"), text: "x".repeat(4000) }).ok).toBe(true);
  });
});

/** A hub that keeps what it is told. */
function fakeApi(over: Partial<CannedRepliesApi> = {}): CannedRepliesApi & { list: ReturnType<typeof vi.fn> } {
  const kept = new Map([reply("cr_2", "shipping"), reply("cr_1", "refund")].map((r) => [r.id, r]));
  let n = 2;
  return {
    list: vi.fn(async () => [...kept.values()]),
    create: vi.fn(async (i) => {
      const r = reply(`cr_${++n}`, i.shortcut, i);
      kept.set(r.id, r);
      return r;
    }),
    update: vi.fn(async (id, i) => {
      const r = reply(id, i.shortcut, i);
      kept.set(id, r);
      return r;
    }),
    remove: vi.fn(async (id) => void kept.delete(id)),
    ...over,
  } as CannedRepliesApi & { list: ReturnType<typeof vi.fn> };
}

describe("CannedRepliesStore", () => {
  it("loads once per session, by shortcut, however often it is asked", async () => {
    const api = fakeApi();
    const store = new CannedRepliesStore(api);
    store.load();
    store.load();
    expect(store.getSnapshot()).toEqual({ status: "loading" });
    await vi.waitFor(() => expect(store.getSnapshot().status).toBe("loaded"));
    store.load();
    expect(api.list).toHaveBeenCalledTimes(1);
    const s = store.getSnapshot();
    expect(s.status === "loaded" && s.replies.map((r) => r.shortcut)).toEqual(["refund", "shipping"]);
  });

  it("tries again after a failed load", async () => {
    const api = fakeApi({ list: vi.fn().mockRejectedValueOnce(new Error("down")).mockResolvedValueOnce([]) });
    const store = new CannedRepliesStore(api);
    store.load();
    await vi.waitFor(() => expect(store.getSnapshot()).toEqual({ status: "error", message: "down" }));
    store.load();
    await vi.waitFor(() => expect(store.getSnapshot()).toEqual({ status: "loaded", replies: [] }));
  });

  it("shows an edit at once and refreshes from the hub after it", async () => {
    const api = fakeApi();
    const store = new CannedRepliesStore(api);
    const seen: string[][] = [];
    store.subscribe(() => {
      const s = store.getSnapshot();
      if (s.status === "loaded") seen.push(s.replies.map((r) => r.shortcut));
    });
    await store.refresh();
    await store.create({ title: "Hi", shortcut: "hello", text: "Hi!" });
    // At once, before the refresh (which teammates' edits could change) has answered.
    expect(seen.at(-1)).toEqual(["hello", "refund", "shipping"]);
    expect(api.list).toHaveBeenCalledTimes(2);
    await store.remove("cr_1");
    expect(seen.at(-1)).toEqual(["hello", "shipping"]);
    expect(api.list).toHaveBeenCalledTimes(3);
    await vi.waitFor(() => expect(store.getSnapshot()).toMatchObject({ replies: [{ shortcut: "hello" }, { shortcut: "shipping" }] }));
  });

  it("keeps only the newest of overlapping fetches", async () => {
    let answer: (r: CannedReply[]) => void = () => {};
    const api = fakeApi({
      list: vi
        .fn()
        .mockImplementationOnce(() => new Promise<CannedReply[]>((resolve) => (answer = resolve)))
        .mockResolvedValueOnce([reply("cr_9", "fresh")]),
    });
    const store = new CannedRepliesStore(api);
    const slow = store.refresh();
    await store.refresh();
    answer([reply("cr_0", "stale")]);
    await slow;
    const s = store.getSnapshot();
    expect(s.status === "loaded" && s.replies.map((r) => r.shortcut)).toEqual(["fresh"]);
  });
});
