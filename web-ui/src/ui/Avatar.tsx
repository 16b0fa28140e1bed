import { useState } from "react";
import { initials } from "./format";

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
  const text = kind === "ai" ? "AI" : initials(name);
  return (
    <span className={`avatar avatar--${kind} avatar--placeholder`} aria-hidden="true">
      {text}
    </span>
  );
}
