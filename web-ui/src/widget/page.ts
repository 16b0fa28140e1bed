/**
 * Where the visitor is, for the operators' side panel: the context sent with `hello`, and the
 * single-page-site navigations that make the widget send `page`. Only ever displayed by the
 * dashboard; fields over the hub's limits are dropped here, as the hub would drop them, so an
 * over-long `page` is never sent to be refused.
 */
import { LIMITS, type VisitorContext, type WidgetFrame } from "../protocol/frames";

/** Each field's limit (the hub's, generated from protocol/src/limits.rs). */
const LIMIT: Record<keyof VisitorContext, number> = {
  url: LIMITS.maxUrlChars,
  title: LIMITS.maxTitleChars,
  referrer: LIMITS.maxUrlChars,
  language: LIMITS.maxLanguageChars,
  time_zone: LIMITS.maxTimeZoneChars,
};

/** What the browser says about this page, read when asked (a page's title changes as it goes). */
export interface PageSource {
  context(): VisitorContext;
  /** Calls `onChange` on every navigation that may have changed the page; returns the undo. */
  watch(onChange: () => void): () => void;
}

type Env = Pick<Window, "location" | "document" | "navigator" | "history" | "addEventListener" | "removeEventListener">;

/** The context as the hub keeps it: blank or over-long fields left out (the hub counts Unicode scalar values). */
export function boundedContext(raw: { [K in keyof VisitorContext]?: string | undefined }): VisitorContext {
  const c: VisitorContext = {};
  for (const key of Object.keys(LIMIT) as (keyof VisitorContext)[]) {
    const v = raw[key]?.trim();
    if (v && [...v].length <= LIMIT[key]) c[key] = v;
  }
  return c;
}

function timeZone(): string | undefined {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

export function readContext(w: Env): VisitorContext {
  return boundedContext({
    url: w.location.href,
    title: w.document.title,
    referrer: w.document.referrer || undefined,
    language: w.navigator.language,
    time_zone: timeZone(),
  });
}

/** The `page` frame for a context, or `null` when there is no URL to send (missing or over the limit). */
export function pageFrame(c: VisitorContext): WidgetFrame | null {
  if (!c.url) return null;
  return c.title ? { type: "page", url: c.url, title: c.title } : { type: "page", url: c.url };
}

/** Two contexts name the same page: nothing new for the operators. */
export const pageKey = (c: VisitorContext): string => `${c.url ?? ""}\n${c.title ?? ""}`;

type HistoryMethod = "pushState" | "replaceState";
/** Every watcher of every history object; the methods are wrapped once and call them all. */
const watchers = new WeakMap<History, Set<() => void>>();

/**
 * Navigation in a single-page site: `popstate` and `hashchange` fire by themselves;
 * `pushState`/`replaceState` fire nothing, so they are wrapped, once per `history` however many
 * watchers there are, keeping whatever the site (or its router) wrapped them with before.
 */
function watchHistory(history: History, onChange: () => void): () => void {
  let set = watchers.get(history);
  if (!set) {
    const all = new Set<() => void>();
    set = all;
    watchers.set(history, all);
    for (const name of ["pushState", "replaceState"] as HistoryMethod[]) {
      const original = history[name];
      history[name] = function (this: History, ...args: Parameters<History[HistoryMethod]>) {
        const result = original.apply(this, args);
        for (const f of all) f();
        return result;
      };
    }
  }
  set.add(onChange);
  const mine = set;
  return () => mine.delete(onChange);
}

export function browserPage(w: Env = window): PageSource {
  return {
    context: () => readContext(w),
    watch(onChange) {
      w.addEventListener("popstate", onChange);
      w.addEventListener("hashchange", onChange);
      const unwrap = watchHistory(w.history, onChange);
      return () => {
        w.removeEventListener("popstate", onChange);
        w.removeEventListener("hashchange", onChange);
        unwrap();
      };
    },
  };
}
