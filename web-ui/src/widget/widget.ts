/**
 * The IO half of the visitor widget: one WebSocket at a time, every frame and close through
 * `reduceWidget`, and the resulting state turned into frames, timers, storage and DOM (hello,
 * resume by seq, reconnect with full-jitter backoff, re-sending unacknowledged messages under
 * their client id). Socket, storage and clocks are injectable, so tests drive it without a hub.
 */
import type { Connect } from "../client/hubClient";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "../client/backoff";
import { decodeServerFrame } from "../client/decode";
import { isBlank, trimBlank } from "../client/visible";
import { LIMITS, type WidgetFrame } from "../protocol/frames";
import { attachFiles, filesApi, type FilesApi } from "../api/files";
import {
  canAskForHuman,
  EMAIL_OFFLINE_TEXT,
  helloFrame,
  INVALID_EMAIL_TEXT,
  messageFrame,
  newConversationControl,
  reduceWidget,
  resendFrames,
  visitorErrorText,
  WAIT_FOR_FILES,
  type WidgetAction,
} from "./reducer";
import { pageFrame, pageKey, type PageSource } from "./page";
import { initialWidgetState, type PendingMessage, type WidgetState } from "./state";
import { TypingSignal } from "./typing";
import { createView, type WidgetView } from "./view";
import { plausibleEmail } from "../text/email";

export type WidgetStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export interface WidgetOptions {
  workspaceId: string;
  /** `https://hub.example`: where the socket and avatars are. */
  hubOrigin: string;
  /** Where the widget renders; without it, no DOM (tests of the IO alone). */
  root?: ShadowRoot;
  connect?: Connect;
  storage?: WidgetStorage | null;
  backoff?: BackoffOptions;
  /** How long a message may wait for its `ack` before it is sent again (same client id). */
  ackTimeoutMs?: number;
  /** How long "Talk to a human" waits for the hub's `human_requested` before it is offered again. */
  humanRequestTimeoutMs?: number;
  random?: () => number;
  now?: () => number;
  newClientId?: () => string;
  /** Where the visitor is (`hello`'s context, `page` on navigation); without it, nothing is told. */
  page?: PageSource | null;
  /** For the files API (uploads and links, `${hubOrigin}/api/files…`); the browser's by default. */
  fetchFn?: typeof fetch;
  /** Where "No thanks" to the email prompt is kept for this browser tab; sessionStorage by default. */
  sessionStorage?: WidgetStorage | null;
  /**
   * A visitor token from a follow-up email's reopen link (see `takeReopenToken`): it becomes
   * this workspace's token (kept where the widget keeps its own), the chat opens, and the
   * conversation resumes from its start.
   */
  reopenToken?: string | null;
}

/**
 * A navigation waits this long before `page` is sent: routers set the new title after pushing
 * the URL, and a burst of `replaceState` calls (scroll restoration, filters) is one change.
 */
export const PAGE_SETTLE_MS = 250;

/** `wss://hub.example/ws/widget` for `https://hub.example`. */
export function widgetSocketUrl(hubOrigin: string): string {
  return `${hubOrigin.replace(/^http/, "ws").replace(/\/+$/, "")}/ws/widget`;
}

/** Where the visitor token of a workspace is kept (one conversation per workspace and browser). */
export function storageKey(workspaceId: string): string {
  return `take-control:widget:${workspaceId}`;
}

/** Where the email prompts the visitor said "No thanks" to are kept (sessionStorage: this tab only). */
export function dismissedKey(workspaceId: string): string {
  return `${storageKey(workspaceId)}:no-email`;
}

const browserConnect: Connect = (url, handlers) => {
  const ws = new WebSocket(url);
  ws.onopen = () => handlers.onOpen();
  ws.onmessage = (ev: MessageEvent) => handlers.onMessage(ev.data);
  ws.onclose = (ev: CloseEvent) => handlers.onClose(ev.code, ev.reason);
  return { send: (d) => ws.send(d), close: (c, r) => ws.close(c, r) };
};

function randomId(random: () => number): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return `w-${c.randomUUID()}`;
  return `w-${Date.now().toString(36)}-${random().toString(36).slice(2)}`;
}

function safeStorage(): WidgetStorage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // blocked cookies or a sandboxed frame: the conversation lasts for this page only
  }
}

function safeSessionStorage(): WidgetStorage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export class ChatWidget {
  private state: WidgetState;
  private readonly o: Required<Omit<WidgetOptions, "root" | "storage" | "page" | "fetchFn" | "sessionStorage" | "reopenToken">> & {
    storage: WidgetStorage | null;
    session: WidgetStorage | null;
    page: PageSource | null;
  };
  private readonly view: WidgetView | null;
  private transport: ReturnType<Connect> | null = null;
  private generation = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private resendTimer: ReturnType<typeof setInterval> | null = null;
  private humanTimer: ReturnType<typeof setTimeout> | null = null;
  /** When each unacknowledged message may be sent again. */
  private readonly nextSendAt = new Map<string, number>();
  private readonly typing: TypingSignal;
  private saved: string | null = null;
  private readonly listeners = new Set<(s: WidgetState) => void>();
  /** The page the hub last heard of on this connection (`hello` or `page`): no repeats. */
  private toldPage: string | null = null;
  private pageTimer: ReturnType<typeof setTimeout> | null = null;
  private unwatchPage: (() => void) | null = null;
  /** Uploads and signed links, with the visitor's token: it reaches this conversation only. */
  private readonly files: FilesApi;
  private fileCount = 0;

  constructor(options: WidgetOptions) {
    const random = options.random ?? Math.random;
    this.o = {
      connect: browserConnect,
      backoff: DEFAULT_BACKOFF,
      ackTimeoutMs: 8_000,
      humanRequestTimeoutMs: 10_000,
      random,
      now: Date.now,
      newClientId: () => randomId(random),
      ...options,
      storage: options.storage === undefined ? safeStorage() : options.storage,
      session: options.sessionStorage === undefined ? safeSessionStorage() : options.sessionStorage,
      page: options.page ?? null,
    };
    const saved = this.load();
    this.saved = saved.token ?? null;
    const reopen = options.reopenToken;
    // A reopen link's token replaces whatever this browser held, and is kept at once: a reload
    // (its fragment is gone by then) must still find the conversation the email was about.
    const start = reopen
      ? { token: reopen, conversationId: reopen === saved.token ? (saved.conversationId ?? null) : null }
      : saved;
    this.state = initialWidgetState(options.workspaceId, { ...start, dismissedPrompts: this.loadDismissed() });
    if (reopen) {
      this.state = { ...this.state, open: true };
      this.persist();
    }
    this.typing = new TypingSignal((active) => this.send({ type: "typing", active }));
    this.files = filesApi({
      hub: options.hubOrigin,
      // A visitor's token cannot be renewed: a refusal stands (a new conversation brings a new one).
      token: (renew) => (renew ? null : this.state.token),
      ...(options.fetchFn ? { fetchFn: options.fetchFn } : {}),
      now: this.o.now,
    });
    this.view = options.root
      ? createView(options.root, options.hubOrigin, {
          toggle: (open) => this.dispatch({ type: "panel", open }),
          send: (text) => this.sendMessage(text),
          input: (text) => (isBlank(text) ? this.typing.stop() : this.connected() && this.typing.input()),
          retry: (id) => this.retry(id),
          reconnect: () => this.reconnectNow(),
          askHuman: () => this.requestHuman(),
          newConversation: () => this.startNewConversation(),
          attach: (files) => this.attach(files),
          removeFile: (key) => this.dispatch({ type: "file_removed", key }),
          leaveEmail: (email) => this.leaveEmail(email),
          closeEmailPrompt: () => this.dispatch({ type: "email_prompt_closed" }),
          changeEmail: () => this.dispatch({ type: "email_change" }),
          files: {
            link: (id) => {
              const cid = this.state.conversationId;
              return cid ? this.files.link(cid, id) : Promise.resolve(null);
            },
            forget: (id) => this.state.conversationId && this.files.forget(this.state.conversationId, id),
          },
        })
      : null;
    this.view?.update(this.state);
  }

  getState = (): WidgetState => this.state;

  subscribe(listener: (s: WidgetState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    const s = this.state.connection.status;
    if (!this.unwatchPage && this.o.page) this.unwatchPage = this.o.page.watch(() => this.pageChanged());
    if (s === "idle" || s === "stopped") this.connect();
  }

  /** Skip a backoff wait, or try again after a stop the visitor may retry. */
  reconnectNow(): void {
    const c = this.state.connection;
    if (c.status === "reconnecting" || (c.status === "stopped" && !c.fatal)) {
      this.clearReconnect();
      this.connect();
    }
  }

  /** Remove the socket for good (the DOM stays where it is). */
  destroy(): void {
    this.generation++;
    this.clearReconnect();
    this.stopResending();
    this.clearHumanTimer();
    this.clearPageTimer();
    this.unwatchPage?.();
    this.unwatchPage = null;
    const t = this.transport;
    this.transport = null;
    t?.close(1000, "widget removed");
  }

  open(open = true): void {
    this.dispatch({ type: "panel", open });
  }

  /**
   * Queue a message with the files uploaded in the box (then its text may be empty); sent now
   * when connected, else after the next `welcome`.
   */
  sendMessage(raw: string): boolean {
    const text = trimBlank(raw);
    const files = this.state.files;
    const attachments = files.flatMap((f) => (f.status === "ready" && f.attachment ? [f.attachment] : []));
    if (files.some((f) => f.status === "uploading")) {
      this.dispatch({ type: "notice", text: WAIT_FOR_FILES });
      return false;
    }
    if (text === "" && attachments.length === 0) return false;
    if ([...text].length > LIMITS.maxMessageChars) {
      this.dispatch({ type: "notice", text: visitorErrorText("message_too_long") });
      return false;
    }
    const clientId = this.o.newClientId();
    this.typing.stop();
    this.dispatch({ type: "notice", text: null });
    this.dispatch({ type: "message_queued", clientId, text, attachments });
    this.transmitQueued(clientId);
    // A visitor writing after a stop (say the hub ended the session) wants the chat back.
    this.reconnectNow();
    return true;
  }

  /** "Talk to a human": ask the hub for a teammate (offered only while none holds or is awaited). */
  requestHuman(): boolean {
    if (!this.connected() || !canAskForHuman(this.state)) return false;
    this.dispatch({ type: "human_requested_by_visitor" });
    this.send({ type: "request_human" });
    // The hub answers with a `human_requested` event; should none come, offer the button again.
    this.clearHumanTimer();
    this.humanTimer = setTimeout(() => {
      this.humanTimer = null;
      this.dispatch({ type: "human_request_unanswered" });
    }, this.o.humanRequestTimeoutMs);
    return true;
  }

  /**
   * "New conversation" (confirmed): leave this conversation to the team and start another as the
   * same visitor. Offered only while connected, with a message in the chat and none of the
   * visitor's waiting for its `ack` (see `newConversationControl`).
   */
  startNewConversation(): boolean {
    if (!this.connected() || newConversationControl(this.state) !== "shown") return false;
    // The old socket closes on purpose: its close must not bring a reconnect (or a resume of the
    // old conversation) with it.
    this.generation++;
    const t = this.transport;
    this.transport = null;
    t?.close(1000, "new conversation");
    this.clearReconnect();
    this.stopResending();
    this.clearHumanTimer();
    this.typing.reset();
    this.nextSendAt.clear();
    this.dispatch({ type: "new_conversation" });
    this.connect();
    return true;
  }

  /**
   * The email prompt's Send: the address the team may answer at, checked as the hub checks it
   * (`invalid_email`) before it goes. The hub's `follow_up_email` event (or a refusal) answers.
   */
  leaveEmail(raw: string): boolean {
    const email = raw.trim();
    if (!plausibleEmail(email)) {
      this.dispatch({ type: "email_refused", text: INVALID_EMAIL_TEXT });
      return false;
    }
    if (!this.connected()) {
      this.dispatch({ type: "email_refused", text: EMAIL_OFFLINE_TEXT });
      return false;
    }
    this.dispatch({ type: "email_sending", email });
    this.send({ type: "follow_up_email", email });
    return true;
  }

  retry(clientId: string): void {
    this.dispatch({ type: "message_retry", clientId });
    this.transmitQueued(clientId);
    this.reconnectNow();
  }

  /** Files chosen, dropped or pasted: chips in the box, uploaded at once (see `attachFiles`). */
  attach(list: File[]): void {
    attachFiles(this.files, list, {
      taken: this.state.files.filter((f) => f.status !== "failed").length,
      key: () => `f${++this.fileCount}`,
      add: (file) => this.dispatch({ type: "file_added", file }),
      settle: (key, r) => this.dispatch({ type: "file_settled", key, ...r }),
    });
  }

  // --- internals -----------------------------------------------------------------------------

  private dispatch(action: WidgetAction): void {
    const next = reduceWidget(this.state, action);
    if (next === this.state) return;
    const dismissed = next.dismissedPrompts !== this.state.dismissedPrompts;
    this.state = next;
    this.persist();
    if (dismissed) this.persistDismissed();
    this.view?.update(next);
    for (const l of this.listeners) l(next);
  }

  private load(): { token?: string | null; conversationId?: string | null } {
    try {
      const raw = this.o.storage?.getItem(storageKey(this.o.workspaceId));
      const v: unknown = raw ? JSON.parse(raw) : null;
      if (v && typeof v === "object" && "token" in v && typeof v.token === "string") {
        const conversationId = "conversationId" in v && typeof v.conversationId === "string" ? v.conversationId : null;
        return { token: v.token, conversationId };
      }
    } catch {
      // unreadable: start a new conversation
    }
    return {};
  }

  private persist(): void {
    const { token, conversationId } = this.state;
    if (token === this.saved) return;
    this.saved = token;
    try {
      const key = storageKey(this.o.workspaceId);
      if (token === null) this.o.storage?.removeItem(key);
      else this.o.storage?.setItem(key, JSON.stringify({ token, conversationId }));
    } catch {
      // full or blocked: the conversation still works for this page
    }
  }

  private loadDismissed(): string[] {
    try {
      const v: unknown = JSON.parse(this.o.session?.getItem(dismissedKey(this.o.workspaceId)) ?? "[]");
      return Array.isArray(v) ? v.filter((k): k is string => typeof k === "string") : [];
    } catch {
      return [];
    }
  }

  private persistDismissed(): void {
    try {
      this.o.session?.setItem(dismissedKey(this.o.workspaceId), JSON.stringify(this.state.dismissedPrompts));
    } catch {
      // blocked: "No thanks" holds until the page is left
    }
  }

  private connected(): boolean {
    return this.state.connection.status === "connected" && this.transport !== null;
  }

  private send(frame: WidgetFrame): void {
    this.transport?.send(JSON.stringify(frame));
  }

  private transmitQueued(clientId: string): void {
    const m = this.state.outbox.find((x) => x.clientId === clientId);
    if (m && m.status === "sending") this.transmit(m);
  }

  private transmit(m: PendingMessage): void {
    if (!this.connected()) return; // `resendFrames` sends it after the next `welcome`
    this.send(messageFrame(m));
    this.nextSendAt.set(m.clientId, this.o.now() + this.o.ackTimeoutMs);
  }

  private connect(): void {
    const gen = ++this.generation;
    this.dispatch({ type: "connect_started" });
    this.transport = this.o.connect(widgetSocketUrl(this.o.hubOrigin), {
      onOpen: () => {
        if (gen !== this.generation) return;
        const context = this.o.page?.context();
        this.toldPage = context ? pageKey(context) : null;
        this.send(helloFrame(this.state, context));
      },
      onMessage: (data) => {
        if (gen === this.generation) this.onMessage(data);
      },
      onClose: (code) => this.onClosed(gen, code),
    });
  }

  private onMessage(data: unknown): void {
    const frame = decodeServerFrame(data);
    if (!frame) return;
    this.dispatch({ type: "frame", frame });
    if (frame.type === "welcome") {
      const now = this.o.now();
      for (const f of resendFrames(this.state)) {
        this.send(f);
        if (f.type === "message") this.nextSendAt.set(f.client_id, now + this.o.ackTimeoutMs);
      }
      this.startResending();
      // A navigation between `hello` and `welcome` found the socket not yet connected.
      this.tellPage();
    } else if (frame.type === "ack") {
      this.nextSendAt.delete(frame.client_id);
    } else if (frame.type === "error" && frame.client_id !== undefined && frame.retryable) {
      this.nextSendAt.set(frame.client_id, this.o.now() + (frame.retry_after_ms ?? this.o.ackTimeoutMs));
    }
  }

  private onClosed(gen: number, code: number): void {
    if (gen !== this.generation) return;
    this.transport = null;
    this.stopResending();
    this.typing.reset();
    const delayMs = backoffDelay(this.state.failures, this.o.backoff, this.o.random);
    this.dispatch({ type: "socket_closed", code, delayMs });
    if (this.state.connection.status === "reconnecting") {
      this.clearReconnect();
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.connect();
      }, delayMs);
    }
  }

  /** While connected, re-send every message whose ack is overdue (same client id: never twice stored). */
  private startResending(): void {
    this.stopResending();
    const tick = Math.max(250, Math.floor(this.o.ackTimeoutMs / 4));
    this.resendTimer = setInterval(() => {
      const now = this.o.now();
      for (const m of this.state.outbox) {
        if (m.status === "sending" && (this.nextSendAt.get(m.clientId) ?? 0) <= now) this.transmit(m);
      }
    }, tick);
  }

  private stopResending(): void {
    if (this.resendTimer !== null) clearInterval(this.resendTimer);
    this.resendTimer = null;
  }

  private pageChanged(): void {
    if (this.pageTimer !== null) return;
    this.pageTimer = setTimeout(() => {
      this.pageTimer = null;
      this.tellPage();
    }, PAGE_SETTLE_MS);
  }

  /** While disconnected nothing is sent: the next `hello` carries the page as it is then. */
  private tellPage(): void {
    const page = this.o.page;
    if (!page || !this.connected()) return;
    const context = page.context();
    const frame = pageFrame(context);
    const key = pageKey(context);
    if (!frame || key === this.toldPage) return;
    this.toldPage = key;
    this.send(frame);
  }

  private clearPageTimer(): void {
    if (this.pageTimer !== null) clearTimeout(this.pageTimer);
    this.pageTimer = null;
  }

  private clearHumanTimer(): void {
    if (this.humanTimer !== null) clearTimeout(this.humanTimer);
    this.humanTimer = null;
  }

  private clearReconnect(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }
}
