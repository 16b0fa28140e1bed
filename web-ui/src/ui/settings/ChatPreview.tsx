import { useLayoutEffect, useRef } from "react";
import { applyStyles, previewNode, WIDGET_CSS } from "../../widget/render";

export interface ChatPreviewProps {
  /** The name visitors will see. */
  name: string;
  /** As the hub returns it (`/avatars/…`), or null for the placeholder. */
  avatarUrl: string | null;
  /** Where avatar paths resolve: the hub, which serves this dashboard. */
  hubOrigin?: string;
  text?: string;
}

export const PREVIEW_TEXT = "Hi! I'm taking over from our assistant. How can I help?";

/**
 * What visitors will see after a takeover, drawn by the widget's own render module and CSS in a
 * shadow root (as on a customer's site), so the preview cannot drift from the real widget.
 */
export function ChatPreview({ name, avatarUrl, hubOrigin = window.location.origin, text = PREVIEW_TEXT }: ChatPreviewProps) {
  const host = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const el = host.current;
    if (!el) return;
    const root = el.shadowRoot ?? el.attachShadow({ mode: "open" });
    root.replaceChildren();
    applyStyles(root, WIDGET_CSS);
    const operator = { id: "preview", name, display_name: name, ...(avatarUrl ? { avatar_url: avatarUrl } : {}) };
    root.append(previewNode(document, { operator, hubOrigin, text }));
  }, [name, avatarUrl, hubOrigin, text]);
  // The host's own box is the widget's (`:host` resets it), so the width is set by a wrapper.
  return (
    <div className="chat-preview">
      <div ref={host} role="figure" aria-label="Preview in chat" />
    </div>
  );
}
