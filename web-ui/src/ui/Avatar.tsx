import { useState } from "react";
import { initials } from "../text/format";

/** Visitors are anonymous: a silhouette, not initials of a generated label. */
function PersonIcon() {
  return (
    <svg viewBox="0 0 16 16" width="16" height="16" focusable="false">
      <path fill="currentColor" d="M8 8a3 3 0 1 0 0-6 3 3 0 0 0 0 6Zm0 1.5c-2.7 0-5 1.4-5 3.2V14h10v-1.3c0-1.8-2.3-3.2-5-3.2Z" />
    </svg>
  );
}

export type AvatarKind = "visitor" | "ai" | "operator";

/**
 * An operator's avatar, or the placeholder the manual promises when none was uploaded (also
 * when the image fails to load, so a broken URL never shows a broken-image icon).
 */
export function Avatar({ kind, name, url }: { kind: AvatarKind; name: string; url?: string | undefined }) {
  const [broken, setBroken] = useState(false);
  if (kind === "operator" && url && !broken) {
    return <img className="avatar" src={url} alt="" onError={() => setBroken(true)} />;
  }
  return (
    <span className={`avatar avatar--${kind} avatar--placeholder`} aria-hidden="true">
      {kind === "ai" ? "AI" : kind === "operator" ? initials(name) : <PersonIcon />}
    </span>
  );
}
