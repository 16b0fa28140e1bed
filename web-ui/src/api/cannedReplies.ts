/**
 * Saved replies (`docs/profile-api.md`, "Saved replies"): the HTTP client, the checks the
 * dashboard can make before a round trip (the hub checks everything again), and the store the
 * composer and the settings section share, so the list is fetched once per session and an edit
 * shows in the composer at once.
 */
import type { CannedReply, CannedReplyInput, CannedReplyList } from "../protocol/frames";
import { LIMITS } from "../protocol/frames";
import { isBlank, trimBlank } from "../client/visible";
import { apiCaller, type ApiOptions } from "./httpApi";

export interface CannedRepliesApi {
  list(): Promise<CannedReply[]>;
  create(input: CannedReplyInput): Promise<CannedReply>;
  update(id: string, input: CannedReplyInput): Promise<CannedReply>;
  remove(id: string): Promise<void>;
}

export function cannedRepliesApi(options: ApiOptions): CannedRepliesApi {
  const call = apiCaller(options);
  const json = (input: CannedReplyInput) => ({ body: JSON.stringify(input), type: "application/json" });
  const path = (id: string) => `/api/canned-replies/${encodeURIComponent(id)}`;
  return {
    list: async () => ((await call("GET", "/api/canned-replies", "Loading saved replies")) as CannedReplyList).replies,
    create: async (input) => (await call("POST", "/api/canned-replies", "Saving the reply", json(input))) as CannedReply,
    update: async (id, input) => (await call("PUT", path(id), "Saving the reply", json(input))) as CannedReply,
    remove: async (id) => {
      await call("DELETE", path(id), "Deleting the reply");
    },
  };
}

export const SHORTCUT_PATTERN = /^[a-z0-9_-]+$/;

export type FieldErrors = Partial<Record<keyof CannedReplyInput, string>>;

const chars = (s: string) => [...s].length;

/** The hub's rules, told before saving; the input as it will be sent (trimmed) when it passes. */
export function checkReply(raw: CannedReplyInput): { ok: true; input: CannedReplyInput } | { ok: false; errors: FieldErrors } {
  const input = { title: trimBlank(raw.title), shortcut: raw.shortcut.trim(), text: trimBlank(raw.text) };
  const errors: FieldErrors = {};
  if (input.title === "") errors.title = "Give the reply a title.";
  else if (chars(input.title) > LIMITS.maxCannedTitleChars) errors.title = `At most ${LIMITS.maxCannedTitleChars} characters.`;
  if (input.shortcut === "") errors.shortcut = "Give the reply a shortcut.";
  else if (chars(input.shortcut) > LIMITS.maxShortcutChars) errors.shortcut = `At most ${LIMITS.maxShortcutChars} characters.`;
  else if (!SHORTCUT_PATTERN.test(input.shortcut)) errors.shortcut = "Only lowercase letters, digits, - and _.";
  if (isBlank(input.text)) errors.text = "Write the reply's text.";
  else if (chars(input.text) > LIMITS.maxMessageChars) errors.text = `At most ${LIMITS.maxMessageChars} characters, like a message.`;
  return Object.keys(errors).length === 0 ? { ok: true, input } : { ok: false, errors };
}

export type RepliesSnapshot =
  | { status: "idle" | "loading" }
  | { status: "error"; message: string }
  | { status: "loaded"; replies: CannedReply[] };

function byShortcut(a: CannedReply, b: CannedReply): number {
  return a.shortcut < b.shortcut ? -1 : a.shortcut > b.shortcut ? 1 : 0;
}

/** The workspace's replies for this session: `load` fetches once, edits keep the list current. */
export class CannedRepliesStore {
  private snapshot: RepliesSnapshot = { status: "idle" };
  private readonly listeners = new Set<() => void>();
  /** Bumped by every fetch, so an older answer never overwrites a newer one. */
  private generation = 0;

  constructor(readonly api: CannedRepliesApi) {}

  getSnapshot = (): RepliesSnapshot => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Fetch unless loaded or on its way (a failed load is tried again). */
  load(): void {
    if (this.snapshot.status === "idle" || this.snapshot.status === "error") void this.refresh();
  }

  async refresh(): Promise<void> {
    const gen = ++this.generation;
    if (this.snapshot.status !== "loaded") this.set({ status: "loading" });
    try {
      const replies = await this.api.list();
      if (gen === this.generation) this.set({ status: "loaded", replies: [...replies].sort(byShortcut) });
    } catch (e) {
      if (gen === this.generation && this.snapshot.status !== "loaded") {
        this.set({ status: "error", message: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  async create(input: CannedReplyInput): Promise<CannedReply> {
    const saved = await this.api.create(input);
    this.upsert(saved);
    return saved;
  }

  async update(id: string, input: CannedReplyInput): Promise<CannedReply> {
    const saved = await this.api.update(id, input);
    this.upsert(saved);
    return saved;
  }

  async remove(id: string): Promise<void> {
    await this.api.remove(id);
    const s = this.snapshot;
    if (s.status === "loaded") this.set({ status: "loaded", replies: s.replies.filter((r) => r.id !== id) });
    void this.refresh(); // teammates may have changed others meanwhile
  }

  private upsert(reply: CannedReply): void {
    const s = this.snapshot;
    if (s.status === "loaded") {
      this.set({ status: "loaded", replies: [...s.replies.filter((r) => r.id !== reply.id), reply].sort(byShortcut) });
    }
    void this.refresh();
  }

  private set(next: RepliesSnapshot): void {
    this.snapshot = next;
    for (const l of this.listeners) l();
  }
}
