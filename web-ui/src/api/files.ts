/**
 * The hub's files API (docs/files.md), for the widget and the dashboard alike: `POST /api/files`
 * (the body is the file), `POST /api/files/links` (short-lived signed links, cached per
 * conversation until shortly before they expire), the checks that spare a round trip, and
 * refusals in plain words. Small on purpose and free of the dashboard's HTTP client: the widget's
 * bundle carries it to every customer's page.
 */
import type { Attachment, FileLink } from "../protocol/frames";

/** What the hub accepts (it checks the bytes, never the type: this only spares a round trip). */
export const FILE_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  pdf: "application/pdf",
};
/** For `<input type="file" accept>`. */
export const FILE_ACCEPT = [...new Set(Object.values(FILE_TYPES))].join(",");
/** The hub's default `--file-max-bytes`. */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;
/** Files one message or note may carry (the protocol's limit). */
export const MAX_FILES = 5;
/**
 * A link is asked for again this long after it came (links work for 5 minutes by default), or
 * 30 s before its `expires_at` when the hub gives shorter ones: a link shown is never a dead one.
 */
export const LINK_REFRESH_MS = 4 * 60_000;

/** A file in the composer: uploading, uploaded (sent with the next message), or refused. */
export interface PendingFile {
  key: string;
  name: string;
  size: number;
  status: "uploading" | "ready" | "failed";
  attachment?: Attachment;
  /** Why it was refused, in plain words. */
  error?: string;
}

/** `812 B`, `40 KB`, `1.2 MB`. */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const kb = bytes / 1024;
  if (kb < 1000) return `${Math.round(kb)} KB`;
  const mb = kb / 1024;
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

/** Reasons, by the hub's problem code (and the checks made here before uploading). */
const REASONS: Record<string, string> = {
  unsupported_file_type: "only images (PNG, JPEG, WebP or GIF) and PDFs can be sent.",
  payload_too_large: `it is larger than ${fileSize(MAX_FILE_BYTES)}.`,
  image_too_large: "the picture is too large (at most 8,192 pixels a side and 25 megapixels).",
  image_corrupt: "the picture is damaged or incomplete.",
  file_corrupt: "the file is damaged or incomplete.",
  too_many_files: "this conversation already holds as many files as it can.",
  too_many: `a message can carry at most ${MAX_FILES} files.`,
  empty: "the file is empty.",
  unauthorized: "the chat session has expired. Reload the page and try again.",
  token_expired: "the chat session has expired. Reload the page and try again.",
  not_found: "this conversation is no longer available.",
  unavailable: "file uploads are unavailable right now. Try again in a moment.",
  offline: "the chat is not connected yet. Try again in a moment.",
};

/** `Can't attach shot.svg: only images … can be sent.` */
export function refusal(name: string, code: string, detail?: string): string {
  return `Can't attach ${name || "the file"}: ${REASONS[code] ?? detail ?? "something went wrong."}`;
}

/** The type the hub would see, from the browser's type or else the name's extension. */
function typeOf(file: { name: string; type: string }): string {
  return file.type || FILE_TYPES[file.name.split(".").pop()?.toLowerCase() ?? ""] || "";
}

/** Why a file cannot be sent, told before uploading it; `null` when it may go (the hub decides). */
export function precheckFile(file: { name: string; type: string; size: number }): string | null {
  const type = typeOf(file);
  if (!Object.values(FILE_TYPES).includes(type)) return refusal(file.name, "unsupported_file_type");
  if (file.size > MAX_FILE_BYTES) return refusal(file.name, "payload_too_large");
  if (file.size === 0) return refusal(file.name, "empty");
  return null;
}

/** A refused upload or links request: `message` is for people, `code` the hub's problem code. */
export class FileError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
  ) {
    super(message);
    this.name = "FileError";
  }
}

/** The problem details of a refusal (`code`, `detail`), in plain words about `name`. */
export async function decodeProblem(res: Response, name: string): Promise<FileError> {
  let code: string | null = null;
  let detail: string | undefined;
  try {
    const body = (await res.json()) as { code?: unknown; detail?: unknown };
    if (typeof body.code === "string") code = body.code;
    if (typeof body.detail === "string" && body.detail) detail = body.detail;
  } catch {
    // not JSON: a proxy's error page, say
  }
  let text = refusal(name, code ?? "", detail ?? `the hub answered ${res.status}.`);
  if (code === "rate_limited") {
    const wait = Number(res.headers.get("retry-after"));
    text = `Can't attach ${name}: too many files at once. Try again in ${wait > 0 ? wait : "a few"} s.`;
  }
  return new FileError(text, res.status, code);
}

export interface FilesApiOptions {
  /** `https://hub.example` (the widget, on the customer's site), or "" for this page's origin. */
  hub: string;
  /**
   * The token of the socket: the visitor's, or the operator's JWT. `renew`: the last one got a
   * 401 (an expired operator token); `null`: none to try (then the refusal stands).
   */
  token(renew: boolean): Promise<string | null> | string | null;
  fetchFn?: typeof fetch;
  now?: () => number;
}

export interface FilesApi {
  /** Upload one file; `conversationId` is needed for operators (a visitor's token names its own). */
  upload(file: Blob, name: string, conversationId?: string | null): Promise<Attachment>;
  /**
   * The file's signed links, with absolute or page-relative URLs (`null`: the hub does not give
   * one, or could not be asked). Asked for together with the other files asked for at the same
   * moment, and cached until `staleAt`.
   */
  link(conversationId: string, id: string): Promise<Link | null>;
  /** A link that did not load (expired early, say): the next `link` asks the hub again. */
  forget(conversationId: string, id: string): void;
}

/** A signed link, and when to stop using it (this browser's clock): ask `link` again after. */
export type Link = FileLink & { staleAt: number };

interface Cached {
  p: Promise<Link | null>;
  staleAt: number;
}

export function filesApi(o: FilesApiOptions): FilesApi {
  const fetchFn = o.fetchFn ?? ((...a) => fetch(...a));
  const now = o.now ?? Date.now;
  const base = o.hub.replace(/\/+$/, "");
  const abs = (url: string) => (url.startsWith("/") ? base + url : url);
  const cache = new Map<string, Cached>();
  let queue: { cid: string; id: string; done(l: FileLink | null, at: number): void }[] = [];

  /** One request, with a second try with a renewed token after a 401. */
  const call = async (path: string, init: RequestInit, type: string) => {
    let res: Response | null = null;
    for (const renew of [false, true]) {
      const token = await o.token(renew);
      if (!token) break;
      res = await fetchFn(base + path, { ...init, headers: { authorization: `Bearer ${token}`, "content-type": type } });
      if (res.status !== 401) break;
    }
    return res;
  };

  const flush = async () => {
    const batch = queue;
    queue = [];
    for (const cid of new Set(batch.map((q) => q.cid))) {
      const mine = batch.filter((q) => q.cid === cid);
      const found = new Map<string, FileLink>();
      try {
        const res = await call("/api/files/links", { method: "POST", body: JSON.stringify({ conversation_id: cid, ids: [...new Set(mine.map((q) => q.id))] }) }, "application/json");
        if (res?.ok) {
          const body = (await res.json()) as { links?: FileLink[] };
          for (const l of body.links ?? []) found.set(l.id, { ...l, url: abs(l.url), ...(l.thumbnail_url ? { thumbnail_url: abs(l.thumbnail_url) } : {}) });
        }
      } catch {
        // unreachable: no link this time (not cached, so asked again next time)
      }
      for (const q of mine) q.done(found.get(q.id) ?? null, now());
    }
  };

  const api: FilesApi = {
    async upload(file, name, conversationId) {
      const q = `name=${encodeURIComponent(name)}${conversationId ? `&conversation_id=${encodeURIComponent(conversationId)}` : ""}`;
      let res: Response | null;
      try {
        res = await call(`/api/files?${q}`, { method: "POST", body: file }, file.type || "application/octet-stream");
      } catch {
        throw new FileError(refusal(name, "unavailable"), 0, null);
      }
      if (!res) throw new FileError(refusal(name, "offline"), 0, null);
      if (res.status !== 201) throw await decodeProblem(res, name);
      return (await res.json()) as Attachment;
    },
    link(cid, id) {
      const key = `${cid}/${id}`;
      const hit = cache.get(key);
      if (hit && now() < hit.staleAt) return hit.p;
      const entry: Cached = { p: Promise.resolve(null), staleAt: Infinity };
      entry.p = new Promise((resolve) => {
        if (queue.length === 0) queueMicrotask(() => void flush());
        queue.push({
          cid,
          id,
          done(link, at) {
            // Not found, or the hub not reached: asked again next time.
            if (!link) {
              cache.delete(key);
              return resolve(null);
            }
            // What the hub's expiry leaves, as far as this clock can tell (a skewed clock: 4 min).
            const left = link.expires_at - at - 30_000;
            entry.staleAt = at + (left > 0 ? Math.min(LINK_REFRESH_MS, left) : LINK_REFRESH_MS);
            resolve({ ...link, staleAt: entry.staleAt });
          },
        });
      });
      cache.set(key, entry);
      return entry.p;
    },
    forget: (cid, id) => void cache.delete(`${cid}/${id}`),
  };
  return api;
}

/** Where `attachFiles` puts what it does: the composer of the widget or of a conversation. */
export interface AttachTarget {
  /** Files in the box now, refused ones aside: a message carries at most `MAX_FILES`. */
  taken: number;
  /** The conversation to upload to (operators; a visitor's token names its own). */
  conversationId?: string | null;
  /** A key for a new chip, unique in its box. */
  key(): string;
  add(file: PendingFile): void;
  /** The upload ended: its attachment, or why it was refused. */
  settle(key: string, result: { attachment: Attachment } | { error: string }): void;
}

/**
 * Files chosen, dropped or pasted: each becomes a chip and is uploaded at once, or is refused on
 * the spot (type, size, one more than a message carries) with why.
 */
export function attachFiles(api: FilesApi, list: File[], t: AttachTarget): void {
  let taken = t.taken;
  for (const file of list) {
    const key = t.key();
    const name = file.name || "file";
    const error = precheckFile(file) ?? (taken >= MAX_FILES ? refusal(name, "too_many") : null);
    t.add({ key, name, size: file.size, status: error ? "failed" : "uploading", ...(error ? { error } : {}) });
    if (error) continue;
    taken++;
    api.upload(file, name, t.conversationId).then(
      (attachment) => t.settle(key, { attachment }),
      (e: unknown) => t.settle(key, { error: e instanceof FileError ? e.message : refusal(name, "unavailable") }),
    );
  }
}
