/**
 * The operator profile HTTP API (`docs/profile-api.md`): `GET`/`PUT /api/profile` and
 * `POST /api/profile/avatar`, with the operator's JWT. Refusals are RFC 9457 problem details;
 * their `detail` is what the operator reads, verbatim.
 */
import type { AvatarUploaded, ProfileView } from "../protocol/frames";
import { LIMITS } from "../protocol/frames";
import { ApiError, apiCaller, type ApiOptions } from "./httpApi";

/** What `PUT /api/profile` takes: `display_name` "" means the account name, `avatar_url` null the placeholder. */
export interface ProfileSave {
  display_name: string;
  avatar_url: string | null;
}

/** The image types the hub accepts (it checks the file's own signature; this only spares a round trip). */
export const AVATAR_TYPES = ["image/png", "image/jpeg", "image/webp"] as const;

/** The profile's refusals are the shared API errors; the old name stays for its callers. */
export { ApiError as ProfileError };

export interface ProfileApi {
  get(): Promise<ProfileView>;
  save(body: ProfileSave): Promise<ProfileView>;
  uploadAvatar(file: Blob): Promise<AvatarUploaded>;
}

export type ProfileApiOptions = ApiOptions;

export function profileApi(options: ProfileApiOptions): ProfileApi {
  const call = apiCaller(options);
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
