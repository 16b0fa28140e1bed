import { describe, expect, it, vi } from "vitest";
import { precheckAvatar, profileApi, ProfileError } from "./profileApi";

const problem = (status: number, code: string, detail: string) =>
  new Response(JSON.stringify({ type: `urn:take-control:problem:${code}`, title: "t", status, detail, code }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });

describe("profile API client", () => {
  it("sends the operator's token and the raw file with its type", async () => {
    const fetchFn = vi.fn(async () => new Response(JSON.stringify({ avatar_url: "/avatars/demo-pro/a.png", width: 256, height: 256 }), { status: 201 }));
    const api = profileApi({ token: async () => "jwt-1", fetchFn });
    const file = new File([new Uint8Array([1, 2, 3])], "me.png", { type: "image/png" });
    await expect(api.uploadAvatar(file)).resolves.toEqual({ avatar_url: "/avatars/demo-pro/a.png", width: 256, height: 256 });
    const [url, init] = fetchFn.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/profile/avatar");
    expect(init.method).toBe("POST");
    expect(init.body).toBe(file);
    expect(init.headers).toMatchObject({ authorization: "Bearer jwt-1", "content-type": "image/png" });
  });

  it("PUTs snake_case JSON", async () => {
    const fetchFn = vi.fn(async () => new Response("{}", { status: 200 }));
    await profileApi({ token: async () => "jwt", fetchFn }).save({ display_name: "Martin from Support", avatar_url: null });
    const [url, init] = fetchFn.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/profile");
    expect(init.method).toBe("PUT");
    expect(JSON.parse(init.body as string)).toEqual({ display_name: "Martin from Support", avatar_url: null });
  });

  it("renews an expired token once", async () => {
    const tokens: boolean[] = [];
    const fetchFn = vi
      .fn()
      .mockResolvedValueOnce(problem(401, "token_expired", "Your session has expired."))
      .mockResolvedValueOnce(new Response("{}", { status: 200 }));
    await profileApi({ token: async (renew) => (tokens.push(renew), renew ? "fresh" : "old"), fetchFn }).get();
    expect(tokens).toEqual([false, true]);
  });

  it("a refusal carries the problem's detail verbatim and its code", async () => {
    const fetchFn = vi.fn(async () => problem(422, "image_not_square", "The image is 300×200 px; it must be square."));
    const err = await profileApi({ token: async () => "jwt", fetchFn }).uploadAvatar(new Blob(["x"], { type: "image/png" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProfileError);
    expect(err).toMatchObject({ message: "The image is 300×200 px; it must be square.", status: 422, code: "image_not_square" });
  });

  it("says what happened when the answer is not a problem", async () => {
    const fetchFn = vi.fn(async () => new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    await expect(profileApi({ token: async () => "jwt", fetchFn }).get()).rejects.toThrow("Loading your profile failed: the hub answered 502 Bad Gateway.");
    const down = vi.fn(async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(profileApi({ token: async () => "jwt", fetchFn: down }).get()).rejects.toThrow(/could not be reached \(Failed to fetch\)/);
  });

  it("refuses other file types and oversized files before uploading", () => {
    expect(precheckAvatar(new File(["GIF89a"], "cat.gif", { type: "image/gif" }))).toBe("cat.gif is not a PNG, JPEG or WebP image. Upload a PNG, JPEG or WebP file.");
    const big = new File([new Uint8Array(5 * 1024 * 1024 + 1)], "big.png", { type: "image/png" });
    expect(precheckAvatar(big)).toBe("The file is 5242881 bytes; the limit is 5 MiB.");
    expect(precheckAvatar(new File(["x"], "ok.webp", { type: "image/webp" }))).toBeNull();
  });
});
