/**
 * The widget's look: pure functions that build DOM nodes (no state, no sockets, no globals
 * beyond the `Document` passed in) and the widget's CSS. The visitor widget renders with these,
 * and so does the dashboard's "Preview in chat", so the preview is the real thing, not a copy.
 */
import type { Attachment, Author, ControlState, OperatorRef } from "../protocol/frames";
import { DEFAULT_OPERATOR_NAME } from "../protocol/frames";
import { fileSize, type Link } from "../api/files";

const SVG_NS = "http://www.w3.org/2000/svg";

/** The name visitors see for an operator: the display name, else the name the hub sent ("Human"). */
export function visitorName(op: Pick<OperatorRef, "name" | "display_name">): string {
  return op.display_name?.trim() || op.name?.trim() || DEFAULT_OPERATOR_NAME;
}

export function joinedText(op: Pick<OperatorRef, "name" | "display_name">): string {
  return `${visitorName(op)} joined the chat`;
}

export function leftText(op: Pick<OperatorRef, "name" | "display_name">): string {
  return `${visitorName(op)} left the chat`;
}

/** Who is answering, for the header's status line. */
export function statusLine(control: ControlState | null): string {
  const holder = control?.holder;
  if (!holder || holder.kind !== "operator") return "AI assistant";
  const name = visitorName(holder);
  // An operator without a profile is just "Human": "Human (human)" would say it twice.
  return name === DEFAULT_OPERATOR_NAME ? name : `${name} (human)`;
}

/**
 * An avatar URL from the hub (a path such as `/avatars/demo-pro/<sha256>.png`) resolved against
 * the hub's origin, never the host page's. Only http(s) URLs are used; anything else (or nothing)
 * gives `null`, which means the placeholder.
 */
export function resolveAvatarUrl(url: string | null | undefined, hubOrigin: string): string | null {
  if (!url) return null;
  try {
    const resolved = new URL(url, hubOrigin.replace(/\/*$/, "/"));
    return resolved.protocol === "https:" || resolved.protocol === "http:" ? resolved.href : null;
  } catch {
    return null;
  }
}

function el<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The generic avatar shown when an operator uploaded none: an inline SVG silhouette, no request. */
export function placeholderAvatar(doc: Document): HTMLElement {
  const wrap = el(doc, "span", "tc-avatar tc-avatar--placeholder");
  wrap.setAttribute("data-placeholder", "");
  wrap.setAttribute("aria-hidden", "true");
  const svg = doc.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("focusable", "false");
  const path = doc.createElementNS(SVG_NS, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9Zm0 2c-4.4 0-8 2.5-8 5.5V22h16v-2.5c0-3-3.6-5.5-8-5.5Z");
  svg.append(path);
  wrap.append(svg);
  return wrap;
}

/** The operator's picture (already resolved, see `resolveAvatarUrl`), or the placeholder. */
export function avatarNode(doc: Document, src: string | null): HTMLElement {
  if (!src) return placeholderAvatar(doc);
  const img = el(doc, "img", "tc-avatar");
  img.alt = "";
  img.decoding = "async";
  // A broken or removed image never shows a broken-image icon: the placeholder takes its place.
  img.addEventListener("error", () => img.replaceWith(placeholderAvatar(doc)), { once: true });
  img.src = src;
  return img;
}

/** The line above a bubble: avatar and name for an operator, a badge for the AI, nothing for the visitor. */
export function authorHeader(doc: Document, author: Author, hubOrigin: string): HTMLElement | null {
  if (author.kind === "visitor") return null;
  const head = el(doc, "div", `tc-author tc-author--${author.kind}`);
  if (author.kind === "operator") {
    head.append(avatarNode(doc, resolveAvatarUrl(author.avatar_url, hubOrigin)), el(doc, "span", "tc-name", visitorName(author)));
  } else {
    const badge = el(doc, "span", "tc-avatar tc-avatar--ai", "AI");
    badge.setAttribute("aria-hidden", "true");
    head.append(badge, el(doc, "span", "tc-name", "AI assistant"));
  }
  return head;
}

export interface MessageView {
  author: Author;
  text: string;
  /** Visitor messages not yet stored by the hub. */
  status?: "sending" | "failed";
  /** Why a failed message was refused. */
  error?: string | null;
  onRetry?: () => void;
  /** An AI reply still being written: muted, with a blinking caret, busy for screen readers. */
  partial?: boolean;
  /** Files it carries: a thumbnail per image, a download per PDF. */
  attachments?: Attachment[];
}

/** Where a bubble gets its files' signed links (`api/files.ts`, cached there), and drops one that failed to load. */
export interface FileLinker {
  link(id: string): Promise<Link | null>;
  forget(id: string): void;
}

/** One chat bubble with its header. */
export function messageNode(doc: Document, m: MessageView, hubOrigin: string, files?: FileLinker): HTMLElement {
  const item = el(doc, "div", `tc-msg tc-msg--${m.author.kind}${m.partial ? " tc-msg--partial" : ""}`);
  if (m.partial) item.setAttribute("aria-busy", "true");
  const head = authorHeader(doc, m.author, hubOrigin);
  if (head) item.append(head);
  // An isolate with its own direction: an override in the text cannot reorder what is around it.
  const bubble = el(doc, "p", "tc-bubble", m.text);
  bubble.dir = "auto";
  // Files alone need no empty bubble above them.
  if (m.text !== "" || !m.attachments?.length) item.append(bubble);
  if (m.attachments?.length) item.append(filesNode(doc, m.attachments, files));
  if (m.status === "sending") item.append(el(doc, "span", "tc-state", "Sending…"));
  if (m.status === "failed") {
    const state = el(doc, "span", "tc-state tc-state--failed", m.error ? `Not sent: ${m.error} ` : "Not sent. ");
    if (m.onRetry) {
      const retry = el(doc, "button", "tc-link", "Retry");
      retry.type = "button";
      retry.addEventListener("click", m.onRetry);
      state.append(retry);
    }
    item.append(state);
  }
  return item;
}

/**
 * A message's files: an image is its thumbnail, a link that opens the full image in a new tab;
 * a PDF is a download link, "📄 name (size)". Links come from the hub, signed for a few minutes:
 * one about to go stale is asked for again when the pointer or focus comes to it, and a click
 * on a stale one waits for the fresh link; a thumbnail that fails to load is asked for once more.
 */
export function filesNode(doc: Document, attachments: Attachment[], files?: FileLinker): HTMLElement {
  const box = el(doc, "div", "tc-files");
  for (const a of attachments) {
    const image = a.kind === "image";
    const cls = image ? "tc-thumb" : "tc-file";
    const link = el(doc, "a", cls);
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.dir = "auto";
    const img = el(doc, "img", "");
    img.alt = a.name;
    // The thumbnail's box is known before it loads (at most 200 × 150): the chat does not jump.
    if (a.width && a.height) {
      const k = Math.min(1, 200 / a.width, 150 / a.height);
      img.width = Math.max(1, Math.round(a.width * k));
      img.height = Math.max(1, Math.round(a.height * k));
    }
    // The icon is drawn, not read: the link's name is the file's.
    const label = () => {
      const icon = el(doc, "span", "", "📄 ");
      icon.setAttribute("aria-hidden", "true");
      link.replaceChildren(icon, `${a.name} (${fileSize(a.size)})`);
    };
    let current: Link | null = null;
    let retried = false;
    const gone = () => {
      current = null;
      link.removeAttribute("href");
      link.className = "tc-file tc-file--gone";
      link.textContent = `${a.name} (unavailable)`;
    };
    const load = () =>
      (files?.link(a.id) ?? Promise.resolve(null)).then((l) => {
        // Only the hub's own kinds of URL: a path of its origin, or http(s).
        if (!l || !/^(\/|https?:)/.test(l.url)) return gone(), null;
        current = l;
        link.className = cls;
        link.href = l.url;
        if (image) {
          link.title = a.name;
          if (link.firstChild !== img) link.replaceChildren(img);
          img.src = l.thumbnail_url ?? l.url;
        } else {
          label();
          link.download = a.name;
        }
        return l;
      });
    const stale = () => !current || Date.now() >= current.staleAt;
    img.addEventListener("error", () => {
      if (retried || !files) return gone();
      retried = true;
      files.forget(a.id);
      void load();
    });
    const refresh = () => void (stale() && load());
    link.addEventListener("pointerenter", refresh);
    link.addEventListener("focus", refresh);
    link.addEventListener("click", (e) => {
      if (!stale()) return;
      // Opened as soon as the fresh link is there (still within the click's user activation).
      e.preventDefault();
      void load().then((l) => l && doc.defaultView?.open(l.url, "_blank", "noopener"));
    });
    if (image) link.append(img);
    else label();
    void load();
    box.append(link);
  }
  return box;
}

/** A line in the middle of the chat: "Martin from Support joined the chat". */
export function noticeNode(doc: Document, text: string): HTMLElement {
  return el(doc, "div", "tc-notice", text);
}

const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * "We're back Mon 09:00." in the visitor's language and time zone (the browser's, unless given);
 * a reopening a week or more after `from` (the event's time) names the date too.
 */
export function backAtText(opensAt: number, from: number, locale?: string, timeZone?: string): string {
  const options: Intl.DateTimeFormatOptions = { weekday: "short", hour: "2-digit", minute: "2-digit" };
  if (opensAt - from >= WEEK_MS - 60_000) Object.assign(options, { day: "numeric", month: "short" });
  if (timeZone) options.timeZone = timeZone;
  try {
    return `We're back ${new Intl.DateTimeFormat(locale, options).format(opensAt)}.`;
  } catch {
    return `We're back ${new Date(opensAt).toLocaleString()}.`;
  }
}

/** The workspace's away message after a request nobody was there for, and when the team is back. */
export function awayNode(doc: Document, text: string, back: string | null): HTMLElement {
  const node = el(doc, "div", "tc-notice tc-away");
  const message = el(doc, "span", "", text);
  message.dir = "auto";
  node.append(message);
  if (back) node.append(el(doc, "strong", "tc-back", back));
  return node;
}

/** "We'll answer you at ana@example.com", with "Change" while the address may still be changed. */
export function emailLeftNode(doc: Document, email: string, onChange: (() => void) | null): HTMLElement {
  const node = el(doc, "div", "tc-notice tc-left");
  const address = el(doc, "span", "tc-email", email);
  address.dir = "auto";
  node.append("We'll answer you at ", address);
  if (onChange) {
    const change = el(doc, "button", "tc-link", "Change");
    change.type = "button";
    change.setAttribute("aria-label", "Change your email");
    change.addEventListener("click", onChange);
    node.append(" ", change);
  }
  return node;
}

/** The panel's header: who the visitor is talking to. */
export function headerNode(doc: Document, title: string, control: ControlState | null): HTMLElement {
  const header = el(doc, "header", "tc-header");
  const titles = el(doc, "div", "tc-titles");
  titles.append(el(doc, "strong", "tc-title", title), el(doc, "span", "tc-who", statusLine(control)));
  header.append(titles);
  return header;
}

export interface PreviewOptions {
  /** The operator as visitors will receive them (`name`, `display_name`, `avatar_url`). */
  operator: OperatorRef;
  hubOrigin: string;
  text: string;
  title?: string;
}

/**
 * What a visitor sees right after a takeover: the header naming the operator, the "joined"
 * notice and one operator bubble. The dashboard's preview renders exactly this, in a shadow root
 * with `WIDGET_CSS`.
 */
export function previewNode(doc: Document, p: PreviewOptions): HTMLElement {
  const root = el(doc, "div", "tc tc--preview");
  const panel = el(doc, "div", "tc-panel tc-panel--static");
  const control: ControlState = { holder: { kind: "operator", ...p.operator }, epoch: 1 };
  const log = el(doc, "div", "tc-log");
  log.append(
    noticeNode(doc, joinedText(p.operator)),
    messageNode(doc, { author: { kind: "operator", ...p.operator }, text: p.text }, p.hubOrigin),
  );
  panel.append(headerNode(doc, p.title ?? "Chat with us", control), log);
  root.append(panel);
  return root;
}

/**
 * Puts `WIDGET_CSS` into a shadow root: a constructed style sheet where the browser has them (a
 * host page's Content-Security-Policy without `'unsafe-inline'` styles does not block those),
 * else a `<style>` element.
 */
export function applyStyles(root: ShadowRoot, css: string = WIDGET_CSS): void {
  if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
      return;
    } catch {
      // fall through to a <style> element
    }
  }
  const style = root.ownerDocument.createElement("style");
  style.textContent = css;
  root.prepend(style);
}

/**
 * All of the widget's styles. They live in its shadow root: the host page's CSS cannot reach in
 * (and `.tc` resets what inherits through the shadow boundary, such as fonts), and these rules
 * cannot leak out. `:host` rules are `!important` because those beat the page's (inner context).
 */
export const WIDGET_CSS = `
:host{all:initial!important;display:block!important}
.tc{all:initial;display:block;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#111827;-webkit-font-smoothing:antialiased}
.tc *,.tc *::before,.tc *::after{box-sizing:border-box}
.tc button,.tc textarea,.tc input{font:inherit;color:inherit;letter-spacing:inherit;text-transform:none;margin:0}
.tc [hidden]{display:none!important}
.tc-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.tc-launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;padding:0;cursor:pointer;background:#6d28d9;color:#fff;box-shadow:0 6px 20px rgb(0 0 0/.25);display:flex;align-items:center;justify-content:center;z-index:2147483000}
.tc-launcher:hover{background:#5b21b6}
.tc-launcher svg{width:26px;height:26px}
.tc-badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 5px;border-radius:10px;background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:20px;text-align:center}
.tc-panel{position:fixed;right:20px;bottom:88px;width:370px;max-width:calc(100vw - 24px);height:min(580px,calc(100vh - 108px));display:flex;flex-direction:column;background:#fff;border-radius:14px;box-shadow:0 12px 40px rgb(0 0 0/.22);overflow:hidden;z-index:2147483000}
.tc-panel--static{position:static;width:100%;max-width:none;height:auto;box-shadow:0 2px 10px rgb(0 0 0/.12);border:1px solid #e5e7eb}
.tc-header{display:flex;align-items:center;gap:10px;padding:12px 14px;background:#6d28d9;color:#fff}
.tc-titles{display:flex;flex-direction:column;flex:1;min-width:0}
.tc-title{font-weight:700;font-size:15px;overflow-wrap:anywhere}
.tc-who{font-size:12px;opacity:.9;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.tc-close{border:0;background:none;color:#fff;cursor:pointer;width:32px;height:32px;border-radius:8px;font-size:22px;line-height:1;padding:0}
.tc-close:hover{background:rgb(255 255 255/.15)}
.tc-restart{display:flex;align-items:center;gap:6px;font-size:12px;white-space:nowrap}
.tc-new{border:1px solid rgb(255 255 255/.6);background:none;cursor:pointer;border-radius:8px;padding:4px 8px}
.tc-new:hover{background:rgb(255 255 255/.15)}
.tc-new:disabled{opacity:.5;cursor:default;background:none}
.tc-conn{padding:6px 14px;font-size:12px;background:#fef3c7;color:#92400e;display:flex;gap:8px;align-items:center}
.tc-log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;background:#f9fafb}
.tc-msg{display:flex;flex-direction:column;max-width:85%;min-width:0;align-self:flex-start;gap:3px}
.tc-msg--visitor{align-self:flex-end;align-items:flex-end}
.tc-author{display:flex;align-items:center;gap:6px;font-size:12px;color:#4b5563;min-width:0;max-width:100%}
.tc-name{font-weight:600;min-width:0;overflow-wrap:anywhere;unicode-bidi:isolate}
.tc-avatar{width:24px;height:24px;border-radius:50%;flex:none;object-fit:cover;display:inline-flex;align-items:center;justify-content:center;overflow:hidden}
.tc-avatar--placeholder{background:#d1d5db;color:#fff}
.tc-avatar--placeholder svg{width:18px;height:18px;margin-top:4px}
.tc-avatar--ai{background:#ede9fe;color:#5b21b6;font-size:9px;font-weight:800}
.tc-bubble{margin:0;padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere;unicode-bidi:isolate;background:#fff;border:1px solid #e5e7eb}
.tc-msg--visitor .tc-bubble{background:#6d28d9;border-color:#6d28d9;color:#fff;border-bottom-right-radius:4px}
.tc-msg--ai .tc-bubble{background:#ede9fe;border-color:#ddd6fe;border-top-left-radius:4px}
.tc-msg--operator .tc-bubble{background:#ecfdf5;border-color:#a7f3d0;border-top-left-radius:4px}
.tc-msg--partial .tc-bubble{opacity:.8}
.tc-msg--partial .tc-bubble::after{content:"";display:inline-block;width:2px;height:1em;margin-left:2px;vertical-align:-2px;background:currentColor;animation:tc-caret 1s steps(2,start) infinite}
@keyframes tc-caret{to{visibility:hidden}}
@media (prefers-reduced-motion:reduce){.tc-msg--partial .tc-bubble::after{animation:none}}
.tc-human{display:flex;justify-content:center;align-items:center;min-height:26px;padding:2px 14px 4px;font-size:12px;color:#4b5563;background:#f9fafb}
.tc-human .tc-link{font-weight:500;color:#5b21b6}
.tc-state{font-size:11px;color:#6b7280}
.tc-state--failed{color:#b91c1c}
.tc-link{border:0;background:none;padding:0;color:inherit;text-decoration:underline;cursor:pointer;font-weight:600}
.tc-notice{align-self:center;font-size:12px;color:#4b5563;background:#eef0f3;padding:3px 10px;border-radius:999px;text-align:center;max-width:100%;overflow-wrap:anywhere}
.tc-away{display:flex;flex-direction:column;gap:2px;border-radius:12px;padding:8px 12px;white-space:pre-line}
.tc-back{font-weight:600;color:#374151}
.tc-email{font-weight:600;unicode-bidi:isolate}
.tc-left .tc-link{font-weight:500;color:#5b21b6;margin-left:2px}
.tc-prompt{align-self:stretch;display:flex;flex-direction:column;gap:6px;padding:12px;border:1px solid #ddd6fe;border-radius:12px;background:#fff;box-shadow:0 1px 3px rgb(0 0 0/.06)}
.tc-prompt label{font-size:12px;font-weight:600;color:#374151}
.tc-prompt input{font:inherit;color:inherit;margin:0;width:100%;border:1px solid #d1d5db;border-radius:8px;padding:7px 10px;background:#fff;outline:none}
.tc-prompt input:focus{border-color:#6d28d9;box-shadow:0 0 0 3px rgb(109 40 217/.25)}
.tc-prompt input[aria-invalid=true]{border-color:#b91c1c}
.tc-prompt p{margin:0;font-size:11px;color:#6b7280;overflow-wrap:anywhere}
.tc-prompt .tc-err{color:#b91c1c;font-size:12px}
.tc-prompt div{display:flex;gap:12px;align-items:center}
.tc-prompt .tc-send{padding:6px 14px}
.tc-prompt .tc-link{font-weight:500;color:#4b5563}
.tc-empty{margin:0;padding:14px 18px 0;font-size:13px;color:#4b5563;background:#f9fafb}
.tc-typing{min-height:20px;padding:2px 14px;font-size:12px;color:#6b7280;font-style:italic;background:#f9fafb}
.tc-form{display:flex;gap:8px;padding:10px;border-top:1px solid #e5e7eb;background:#fff;align-items:flex-end}
.tc-input{flex:1;resize:none;border:1px solid #d1d5db;border-radius:10px;padding:8px 10px;min-height:38px;max-height:120px;background:#fff;outline:none}
.tc-input:focus{border-color:#6d28d9;box-shadow:0 0 0 3px rgb(109 40 217/.25)}
.tc-send{border:0;border-radius:10px;background:#6d28d9;color:#fff;font-weight:600;padding:9px 14px;cursor:pointer}
.tc-send:disabled{opacity:.5;cursor:default}
.tc-files{display:flex;flex-wrap:wrap;gap:6px;max-width:100%}
.tc-msg--visitor .tc-files{justify-content:flex-end}
.tc-thumb{display:block;max-width:100%;line-height:0;border-radius:10px;overflow:hidden;border:1px solid #e5e7eb;background:#fff}
.tc-thumb img{display:block;max-width:100%;height:auto;background:#f3f4f6}
.tc-file{display:block;max-width:100%;padding:6px 10px;border-radius:10px;border:1px solid #d1d5db;background:#fff;color:#5b21b6;font-weight:600;overflow-wrap:anywhere;unicode-bidi:isolate}
.tc-file span{display:inline-block;margin-right:.3em}
.tc-file--gone{color:#6b7280;font-weight:400;text-decoration:none;line-height:1.45;padding:6px 10px}
.tc-attach{border:0;background:none;cursor:pointer;width:34px;height:38px;border-radius:10px;color:#4b5563;display:flex;align-items:center;justify-content:center;padding:0;flex:none}
.tc-attach:hover{background:#f3f4f6}
.tc-attach svg{width:20px;height:20px}
.tc-chips{display:flex;flex-wrap:wrap;gap:6px;padding:8px 10px 0;border-top:1px solid #e5e7eb;background:#fff}
.tc-chips+.tc-form{border-top:0}
.tc-chip{display:inline-flex;align-items:center;gap:2px;max-width:100%;min-width:0;padding:2px 2px 2px 10px;border-radius:12px;background:#ede9fe;color:#4c1d95;font-size:12px}
.tc-chip span{min-width:0;overflow-wrap:anywhere;unicode-bidi:isolate}
.tc-chip--failed{background:#fee2e2;color:#b91c1c}
.tc-chip button{border:0;background:none;cursor:pointer;width:24px;height:24px;border-radius:50%;font-size:16px;line-height:1;padding:0;flex:none}
.tc-chip button:hover{background:rgb(0 0 0/.08)}
.tc-panel--drop .tc-log{outline:2px dashed #6d28d9;outline-offset:-6px}
.tc button:focus-visible,.tc a:focus-visible{outline:2px solid #a78bfa;outline-offset:2px}
@media (max-width:480px){.tc-panel:not(.tc-panel--static){right:0;bottom:0;width:100vw;max-width:none;height:100%;border-radius:0}.tc-launcher[aria-expanded=true]{display:none}}
`;
