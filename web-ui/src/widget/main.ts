/**
 * The embeddable visitor chat widget (built to `dist/widget.js`, an IIFE with no dependencies).
 * Mounts a `<take-control-widget>` element at the end of `<body>` with an open shadow root that
 * holds all of the widget's DOM and CSS, then connects to the hub.
 */
import { findScript, readConfig } from "./config";
import { browserPage } from "./page";
import { takeReopenToken } from "./reopen";
import { ChatWidget } from "./widget";

declare global {
  interface Window {
    /** The running widget, for the host page's scripts (`TakeControlWidget.open()`), and a guard against loading twice. */
    TakeControlWidget?: ChatWidget;
  }
}

function mount(): void {
  if (window.TakeControlWidget) return;
  const config = readConfig(script, location.href);
  if (typeof config === "string") {
    console.warn(`Take Control widget: ${config}`);
    return;
  }
  const host = document.createElement("take-control-widget");
  document.body.append(host);
  const root = host.attachShadow({ mode: "open" });
  // Before anything reads the address: the page the hub is told of must not carry the token.
  const reopenToken = takeReopenToken(window);
  const widget = new ChatWidget({ ...config, root, page: browserPage(window), reopenToken });
  window.TakeControlWidget = widget;
  widget.start();
  // Back online after a network change: no need to wait out the backoff.
  window.addEventListener("online", () => widget.reconnectNow());
}

// `currentScript` is only set while this script first runs, async or not: read it now.
const script = findScript(document);
if (document.body) mount();
else document.addEventListener("DOMContentLoaded", mount, { once: true });
