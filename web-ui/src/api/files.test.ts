import { describe, expect, it, vi } from "vitest";
import type { Attachment } from "../protocol/frames";
import {
  attachFiles,
  FileError,
  fileSize,
  filesApi,
  LINK_REFRESH_MS,
  MAX_FILE_BYTES,
  precheckFile,
  type FilesApiOptions,
  type PendingFile,
} from "./files";

const HUB = "https://hub.example";
const SHOT: Attachment = { id: "f_1", name: "shot.png", kind: "image", content_type: "image/png", size: 40_721, width: 1280, height: 800 };

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const problem = (status: number, code: string, detail: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ type: `urn:take-control:problem:${code}`, title: "t", status, detail, code }), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
const link = (id: string, expiresAt: number) => ({
  id,
  url: `/files/demo-pro/cv_1/${id}/file?exp=1&sig=a`,
  thumbnail_url: `/files/demo-pro/cv_1/${id}/thumb?exp=1&sig=b`,
  expires_at: expiresAt,
});

function api(fetchFn: ReturnType<typeof vi.fn>, over: Partial<FilesApiOptions> = {}) {
  return filesApi({ hub: HUB, token: () => "tok-1", fetchFn: fetchFn as unknown as typeof fetch, ...over });
}

describe("upload", () => {
  it("POSTs the file itself to /api/files with its name, the token and its type", async () => {
    const fetchFn = vi.fn(async () => json(201, SHOT));
    const file = new File([new Uint8Array([137, 80, 78, 71])], "screen shot.png", { type: "image/png" });
    await expect(api(fetchFn).upload(file, file.name)).resolves.toEqual(SHOT);
    const [url, init] = fetchFn.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("https://hub.example/api/files?name=screen%20shot.png");
    expect(init.method).toBe("POST");
    expect(init.body).toBe(file);
    expect(init.headers).toEqual({ authorization: "Bearer tok-1", "content-type": "image/png" });
  });

  it("names the conversation for operators (same origin), and renews an expired token once", async () => {
    const tokens: boolean[] = [];
    const fetchFn = vi.fn().mockResolvedValueOnce(problem(401, "token_expired", "Your session has expired.")).mockResolvedValueOnce(json(201, SHOT));
    const files = api(fetchFn, { hub: "", token: async (renew) => (tokens.push(renew), renew ? "fresh" : "old") });
    await files.upload(new Blob(["x"]), "a/b.png", "cv_1");
    expect(tokens).toEqual([false, true]);
    const calls = fetchFn.mock.calls as unknown as [string, RequestInit][];
    expect(calls.map(([u]) => u)).toEqual(["/api/files?name=a%2Fb.png&conversation_id=cv_1", "/api/files?name=a%2Fb.png&conversation_id=cv_1"]);
    expect(calls[1]![1].headers).toMatchObject({ authorization: "Bearer fresh", "content-type": "application/octet-stream" });
  });

  it("a visitor's refused token stands: no second try", async () => {
    const fetchFn = vi.fn(async () => problem(401, "unauthorized", "Send Authorization: Bearer <operator or visitor token>."));
    const err = await api(fetchFn, { token: (renew) => (renew ? null : "tok") }).upload(new Blob(["x"]), "a.png").catch((e: unknown) => e);
    expect(fetchFn).toHaveBeenCalledTimes(1);
    expect(err).toMatchObject({ status: 401, code: "unauthorized", message: "Can't attach a.png: the chat session has expired. Reload the page and try again." });
  });

  it("without a token (no conversation yet) nothing is sent", async () => {
    const fetchFn = vi.fn();
    await expect(api(fetchFn, { token: () => null }).upload(new Blob(["x"]), "a.png")).rejects.toThrow(
      "Can't attach a.png: the chat is not connected yet. Try again in a moment.",
    );
    expect(fetchFn).not.toHaveBeenCalled();
  });

  it.each([
    [problem(415, "unsupported_file_type", "Attach an image (PNG, JPEG, WebP or GIF) or a PDF."), "Can't attach x.png: only images (PNG, JPEG, WebP or GIF) and PDFs can be sent.", "unsupported_file_type"],
    [problem(413, "payload_too_large", "The file is 11534336 bytes; the limit is 10 MiB."), "Can't attach x.png: it is larger than 10 MB.", "payload_too_large"],
    [problem(422, "image_too_large", "The image is 9000×9000 px; at most 8192 px a side."), "Can't attach x.png: the picture is too large (at most 8,192 pixels a side and 25 megapixels).", "image_too_large"],
    [problem(422, "image_corrupt", "The image could not be read: the file is truncated or damaged."), "Can't attach x.png: the picture is damaged or incomplete.", "image_corrupt"],
    [problem(422, "file_corrupt", "The PDF is truncated: it has no end marker."), "Can't attach x.png: the file is damaged or incomplete.", "file_corrupt"],
    [problem(409, "too_many_files", "This conversation holds 50 files already."), "Can't attach x.png: this conversation already holds as many files as it can.", "too_many_files"],
    [problem(429, "rate_limited", "Too many uploads; try again in 3 s.", { "retry-after": "3" }), "Can't attach x.png: too many files at once. Try again in 3 s.", "rate_limited"],
    // A code this client has no words for: the hub's own detail.
    [problem(422, "invalid_body", "Name the conversation (conversation_id)."), "Can't attach x.png: Name the conversation (conversation_id).", "invalid_body"],
    [new Response("<html>Bad gateway</html>", { status: 502 }), "Can't attach x.png: the hub answered 502.", null],
  ])("decodes the hub's refusal %#", async (res, message, code) => {
    const err = await api(vi.fn(async () => res)).upload(new Blob(["x"]), "x.png").catch((e: unknown) => e);
    expect(err).toMatchObject({ message, code, status: res.status });
  });

  it("says so when the hub cannot be reached", async () => {
    const down = vi.fn(async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(api(down).upload(new Blob(["x"]), "x.pdf")).rejects.toThrow("Can't attach x.pdf: file uploads are unavailable right now. Try again in a moment.");
  });
});

describe("links", () => {
  it("asks once for the files asked for together, with absolute URLs, and caches them", async () => {
    let now = 1_000_000;
    const fetchFn = vi.fn(async () => json(200, { links: [link("f_1", now + 300_000), link("f_2", now + 300_000)] }));
    const files = api(fetchFn, { now: () => now });
    const [a, b] = await Promise.all([files.link("cv_1", "f_1"), files.link("cv_1", "f_2")]);
    expect(fetchFn).toHaveBeenCalledTimes(1);
    const [url, init] = fetchFn.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("https://hub.example/api/files/links");
    expect(init.method).toBe("POST");
    expect(init.headers).toEqual({ authorization: "Bearer tok-1", "content-type": "application/json" });
    expect(JSON.parse(init.body as string)).toEqual({ conversation_id: "cv_1", ids: ["f_1", "f_2"] });
    expect(a).toMatchObject({
      url: "https://hub.example/files/demo-pro/cv_1/f_1/file?exp=1&sig=a",
      thumbnail_url: "https://hub.example/files/demo-pro/cv_1/f_1/thumb?exp=1&sig=b",
      staleAt: now + LINK_REFRESH_MS,
    });
    expect(b?.url).toBe("https://hub.example/files/demo-pro/cv_1/f_2/file?exp=1&sig=a");

    // Within 4 minutes: from the cache.
    now += LINK_REFRESH_MS - 1;
    await expect(files.link("cv_1", "f_1")).resolves.toBe(a);
    expect(fetchFn).toHaveBeenCalledTimes(1);
    // Then asked again, before the hub's 5 minutes are up.
    now += 1;
    await files.link("cv_1", "f_1");
    expect(fetchFn).toHaveBeenCalledTimes(2);
    expect(JSON.parse((fetchFn.mock.calls[1] as unknown as [string, RequestInit])[1].body as string).ids).toEqual(["f_1"]);
  });

  it("follows a hub with shorter links, and a forgotten link (failed to load) is asked for again", async () => {
    let now = 5_000_000;
    // The hub gives one-minute links (`--file-link-ttl-secs 60`), by its clock.
    const fetchFn = vi.fn(async () => json(200, { links: [link("f_1", 5_060_000)] }));
    const files = api(fetchFn, { now: () => now });
    const first = await files.link("cv_1", "f_1");
    // 30 s before it expires.
    expect(first?.staleAt).toBe(now + 30_000);
    await files.link("cv_1", "f_1");
    expect(fetchFn).toHaveBeenCalledTimes(1);
    files.forget("cv_1", "f_1");
    await files.link("cv_1", "f_1");
    expect(fetchFn).toHaveBeenCalledTimes(2);
    // A clock far ahead of the hub's (expiry seemingly past): four minutes, not a request per call.
    now += 3_600_000;
    const skewed = await files.link("cv_1", "f_1");
    expect(skewed?.staleAt).toBe(now + LINK_REFRESH_MS);
  });

  it("one request per conversation; a file the hub does not list is null and asked for again later", async () => {
    const fetchFn = vi.fn(async (_url: string, init: RequestInit) => {
      const { conversation_id } = JSON.parse(init.body as string) as { conversation_id: string };
      return json(200, { links: conversation_id === "cv_1" ? [link("f_1", Date.now() + 300_000)] : [] });
    });
    const files = api(fetchFn);
    const [a, gone] = await Promise.all([files.link("cv_1", "f_1"), files.link("cv_2", "f_9")]);
    expect(fetchFn).toHaveBeenCalledTimes(2);
    expect(a).not.toBeNull();
    expect(gone).toBeNull();
    await files.link("cv_2", "f_9");
    expect(fetchFn).toHaveBeenCalledTimes(3);
  });

  it("a refused or failed request gives no link, and is not cached", async () => {
    const fetchFn = vi
      .fn()
      .mockResolvedValueOnce(problem(404, "not_found", "No such conversation or file."))
      .mockRejectedValueOnce(new TypeError("Failed to fetch"))
      .mockResolvedValueOnce(json(200, { links: [link("f_1", Date.now() + 300_000)] }));
    const files = api(fetchFn);
    await expect(files.link("cv_1", "f_1")).resolves.toBeNull();
    await expect(files.link("cv_1", "f_1")).resolves.toBeNull();
    await expect(files.link("cv_1", "f_1")).resolves.not.toBeNull();
    expect(fetchFn).toHaveBeenCalledTimes(3);
  });
});

describe("checks before uploading", () => {
  const file = (name: string, type: string, size = 10) => ({ name, type, size });

  it("takes images and PDFs up to 10 MiB, by type or else by extension", () => {
    for (const f of [file("a.png", "image/png"), file("b.JPG", ""), file("c.webp", "image/webp"), file("d.gif", "image/gif"), file("e.pdf", "application/pdf"), file("f.pdf", "", MAX_FILE_BYTES)]) {
      expect(precheckFile(f), f.name).toBeNull();
    }
  });

  it("refuses other types, files over the limit and empty ones, naming the file", () => {
    expect(precheckFile(file("logo.svg", "image/svg+xml"))).toBe("Can't attach logo.svg: only images (PNG, JPEG, WebP or GIF) and PDFs can be sent.");
    expect(precheckFile(file("notes.docx", ""))).toBe("Can't attach notes.docx: only images (PNG, JPEG, WebP or GIF) and PDFs can be sent.");
    expect(precheckFile(file("page.html", "text/html"))).toMatch(/^Can't attach page\.html: only images/);
    expect(precheckFile(file("big.png", "image/png", MAX_FILE_BYTES + 1))).toBe("Can't attach big.png: it is larger than 10 MB.");
    expect(precheckFile(file("none.pdf", "application/pdf", 0))).toBe("Can't attach none.pdf: the file is empty.");
  });

  it("writes sizes as people read them", () => {
    expect([fileSize(77), fileSize(40_721), fileSize(1_258_291), fileSize(MAX_FILE_BYTES)]).toEqual(["77 B", "40 KB", "1.2 MB", "10 MB"]);
  });
});

describe("attachFiles", () => {
  it("adds a chip per file, uploads the accepted ones, refuses the rest on the spot, and settles each", async () => {
    const upload = vi.fn(async (_f: Blob, name: string, _conversationId?: string | null) => {
      if (name === "broken.pdf") throw new FileError("Can't attach broken.pdf: the file is damaged or incomplete.", 422, "file_corrupt");
      if (name === "c.png") throw new TypeError("a bug");
      return { ...SHOT, name };
    });
    const chips: PendingFile[] = [];
    const settled: [string, unknown][] = [];
    let n = 0;
    const list = [
      new File(["a"], "a.png", { type: "image/png" }),
      new File(["<svg/>"], "logo.svg", { type: "image/svg+xml" }),
      new File(["%PDF"], "broken.pdf", { type: "application/pdf" }),
      new File(["b"], "b.png", { type: "image/png" }),
    ];
    attachFiles({ upload, link: vi.fn(), forget: vi.fn() }, list, {
      taken: 3,
      conversationId: "cv_1",
      key: () => `k${++n}`,
      add: (f) => chips.push(f),
      settle: (key, r) => settled.push([key, r]),
    });
    // Three were in the box: a.png and broken.pdf make five; b.png is one too many.
    expect(chips).toEqual([
      { key: "k1", name: "a.png", size: 1, status: "uploading" },
      { key: "k2", name: "logo.svg", size: 6, status: "failed", error: "Can't attach logo.svg: only images (PNG, JPEG, WebP or GIF) and PDFs can be sent." },
      { key: "k3", name: "broken.pdf", size: 4, status: "uploading" },
      { key: "k4", name: "b.png", size: 1, status: "failed", error: "Can't attach b.png: a message can carry at most 5 files." },
    ]);
    expect(upload.mock.calls.map((c) => [c[1], c[2]])).toEqual([["a.png", "cv_1"], ["broken.pdf", "cv_1"]]);
    await vi.waitFor(() => expect(settled).toHaveLength(2));
    expect(settled).toEqual([
      ["k1", { attachment: { ...SHOT, name: "a.png" } }],
      ["k3", { error: "Can't attach broken.pdf: the file is damaged or incomplete." }],
    ]);

    // Anything else that goes wrong is said generically.
    attachFiles({ upload, link: vi.fn(), forget: vi.fn() }, [new File(["c"], "c.png", { type: "image/png" })], {
      taken: 0,
      key: () => "k9",
      add: () => {},
      settle: (key, r) => settled.push([key, r]),
    });
    await vi.waitFor(() => expect(settled).toHaveLength(3));
    expect(settled.at(-1)).toEqual(["k9", { error: "Can't attach c.png: file uploads are unavailable right now. Try again in a moment." }]);
  });
});
