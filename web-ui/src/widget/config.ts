/**
 * Reading the embed tag:
 * `<script src="https://hub.example/widget.js" data-workspace="demo-pro" async></script>`,
 * optionally with `data-hub="https://hub.example"` (default: the origin of the script's own src).
 */
export interface WidgetConfig {
  workspaceId: string;
  hubOrigin: string;
}

/** The script tag that loaded the widget: `document.currentScript`, or the tag that looks like ours. */
export function findScript(doc: Document): HTMLScriptElement | null {
  const current = doc.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset.workspace !== undefined) return current;
  const tags = [...doc.querySelectorAll<HTMLScriptElement>("script[data-workspace][src]")];
  return tags.find((s) => /\/widget(\.[\w-]+)?\.js(\?|#|$)/.test(s.src)) ?? tags[0] ?? null;
}

/** The configuration in a script tag, or why there is none. */
export function readConfig(script: HTMLScriptElement | null, pageHref: string): WidgetConfig | string {
  if (!script) return "no <script data-workspace> tag found";
  const workspaceId = script.dataset.workspace?.trim();
  if (!workspaceId) return "the script tag has no data-workspace";
  const hub = script.dataset.hub?.trim() || script.getAttribute("src") || "";
  try {
    const url = new URL(hub, pageHref);
    if (url.protocol !== "https:" && url.protocol !== "http:") return `data-hub is not an http(s) URL: ${hub}`;
    return { workspaceId, hubOrigin: url.origin };
  } catch {
    return `cannot tell the hub's address from "${hub}"`;
  }
}
