/**
 * The operator profile HTTP API (`docs/profile-api.md`): `GET`/`PUT /api/profile` and
 * `POST /api/profile/avatar`, with the operator's JWT. Refusals are RFC 9457 problem details;
 * their `detail` is what the operator reads, verbatim.
 */
import { PROBLEM_CODES, type ProblemCode } from "../../protocol/codes";
import type { AvatarUploaded, Problem, ProfileView } from "../../protocol/frames";
import { LIMITS } from "../../protocol/frames";

/** What `PUT /api/profile` takes: `display_name` "" means the account name, `avatar_url` null the placeholder. */
export interface ProfileSave {
  display_name: string;
  avatar_url: string | null;
}

/** The image types the hub accepts (it checks the file's own signature; this only spares a round trip). */
export const AVATAR_TYPES = ["image/png", "image/jpeg", "image/webp"] as const;

export class ProfileError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: ProblemCode | null,
  ) {
    super(message);
    this.name = "ProfileError";
  }
}

export interface ProfileApi {
  get(): Promise<ProfileView>;
  save(body: ProfileSave): Promise<ProfileView>;
  uploadAvatar(file: Blob): Promise<AvatarUploaded>;
}

export interface ProfileApiOptions {
  /** The operator's JWT; `renew` after a 401 (an expired token). */
  token(renew: boolean): Promise<string>;
  fetchFn?: typeof fetch;
}

function isProblem(v: unknown): v is Problem {
  return typeof v === "object" && v !== null && "detail" in v && typeof v.detail === "string" && v.detail !== "";
}

/** The problem's `detail` as the hub wrote it, or a plain account of what came back. */
async function toError(res: Response, what: string): Promise<ProfileError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: a proxy's error page, say
  }
  if (isProblem(body)) {
    const code = typeof body.code === "string" && body.code in PROBLEM_CODES ? body.code : null;
    return new ProfileError(body.detail, res.status, code);
  }
  return new ProfileError(`${what} failed: the hub answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}.`, res.status, null);
}

export function profileApi({ token, fetchFn = (...a) => fetch(...a) }: ProfileApiOptions): ProfileApi {
  const call = async (method: string, path: string, what: string, init: { body?: BodyInit; type?: string } = {}) => {
    const attempt = async (renew: boolean) => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${await token(renew)}`,
        accept: "application/json, application/problem+json",
      };
      if (init.type) headers["content-type"] = init.type;
      try {
        // The hub's endpoints live at the origin's root, whatever path serves the page.
        return await fetchFn(path, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
      } catch (e) {
        throw new ProfileError(`${what} failed: the hub could not be reached (${e instanceof Error ? e.message : String(e)}).`, 0, null);
      }
    };
    let res = await attempt(false);
    if (res.status === 401) res = await attempt(true);
    if (!res.ok) throw await toError(res, what);
    return res.json() as Promise<unknown>;
  };
  return {
    get: async () => (await call("GET", "/api/profile", "Loading your profile")) as ProfileView,
    save: async (body) =>
      (await call("PUT", "/api/profile", "Saving", { body: JSON.stringify(body), type: "application/json" })) as ProfileView,
    uploadAvatar: async (file) => {
      return (await call("POST", "/api/profile/avatar", "The upload", {
        body: file,
        type: file.type || "application/octet-stream",
      })) as AvatarUploaded;
    },
  };
}

/** Refusals the dashboard can tell before uploading (the hub re-checks everything). */
export function precheckAvatar(file: File): string | null {
  if (!(AVATAR_TYPES as readonly string[]).includes(file.type)) {
    return `${file.name || "That file"} is not a PNG, JPEG or WebP image. Upload a PNG, JPEG or WebP file.`;
  }
  if (file.size > LIMITS.maxAvatarBytes) {
    return `The file is ${file.size} bytes; the limit is ${LIMITS.maxAvatarBytes / (1024 * 1024)} MiB.`;
  }
  return null;
}
