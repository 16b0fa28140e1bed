/**
 * The IO half of the socket client: owns one WebSocket at a time, feeds every frame and close
 * through `reduce`, and turns the resulting state into frames and timers (hello, resume,
 * reconnect backoff, message re-sends). The transport is injected so tests drive it with a fake.
 */
import type { Attachment, ErrorFrame, OperatorFrame } from "../protocol/frames";
import type { PendingFile } from "../api/files";
import { PROTOCOL_VERSION } from "../protocol/frames";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { CloseCode } from "../protocol/codes";
import { decodeServerFrame } from "./decode";
import { followUpsStale } from "./followUps";
import { foldOnlineViews, subscribeFrame, type OnlineRequest, type OnlineViewFrame } from "./online";
import { openFrame, outgoingFrame, reduce, resumeFrames, type ClientAction } from "./reducer";
import { initialState, type ClientState } from "./state";

export interface TransportHandlers {
  onOpen(): void;
  onMessage(data: unknown): void;
  onClose(code: number, reason: string): void;
}

export interface Transport {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** Opens a socket to `url` and reports its life through `handlers`. */
export type Connect = (url: string, handlers: TransportHandlers) => Transport;

/** Why a token is asked for: a token provider may cache the first and must renew after expiry. */
export type TokenReason = "initial" | "expired";
export type TokenSource = (reason: TokenReason) => Promise<string>;

export interface HubClientOptions {
  url: string;
  getToken: TokenSource;
  connect?: Connect;
  backoff?: BackoffOptions;
  /** How long a message may wait for its `ack` before it is sent again (same client id). */
  ackTimeoutMs?: number;
  random?: () => number;
  now?: () => number;
  newClientId?: () => string;
  /**
   * Runs `apply` before the next paint (`requestAnimationFrame`): list updates are applied at most
   * once per frame. Returns a cancel function.
   */
  scheduleFrame?: (apply: () => void) => () => void;
}

/**
 * The next animation frame, or 500 ms, whichever comes first: a hidden tab gets no animation
 * frames, and its list (the waiting count in the title, the alerts) must still move.
 */
export const nextFrame = (apply: () => void): (() => void) => {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (raf !== null) cancelAnimationFrame(raf);
    apply();
  };
  const timer = setTimeout(once, 500);
  const raf = typeof requestAnimationFrame === "function" ? requestAnimationFrame(once) : null;
  return () => {
    done = true;
    clearTimeout(timer);
    if (raf !== null) cancelAnimationFrame(raf);
  };
};

/** The browser's WebSocket behind the `Transport` interface. */
export const browserConnect: Connect = (url, handlers) => {
  const ws = new WebSocket(url);
  ws.onopen = () => handlers.onOpen();
  ws.onmessage = (ev: MessageEvent) => handlers.onMessage(ev.data);
  ws.onclose = (ev: CloseEvent) => handlers.onClose(ev.code, ev.reason);
  return {
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
  };
};

/** `ws(s)://<this origin>/ws/operator`, the hub serving this page. */
export function operatorSocketUrl(loc: Pick<Location, "protocol" | "host">): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/ws/operator`;
}

export class HubClient {
  private state: ClientState = initialState;
  private readonly listeners = new Set<() => void>();
  private readonly opts: Required<HubClientOptions>;
  private transport: Transport | null = null;
  /** Bumped for every socket, so callbacks of a replaced socket are ignored. */
  private generation = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private resendTimer: ReturnType<typeof setInterval> | null = null;
  /** Conversations whose `open` the hub refused as retryable (the store was away): re-sent. */
  private reopenTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /**
   * Takeovers sent and not answered yet. One the hub refused as `unavailable` with a hint (a
   * node busy with a wave of takeovers) is sent again after it, as the operator asked for it.
   */
  private takeoversSent = new Set<string>();
  private takeoverTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** When each unacknowledged message may be sent again. */
  private readonly nextSendAt = new Map<string, number>();
  /** `online_view` frames received since the last paint, applied together by `flushList`. */
  private listFrames: OnlineViewFrame[] = [];
  private cancelFlush: (() => void) | null = null;
  private lastToken: string | null = null;
  private tokenExpired = false;

  constructor(options: HubClientOptions) {
    this.opts = {
      connect: browserConnect,
      backoff: DEFAULT_BACKOFF,
      ackTimeoutMs: 8_000,
      random: Math.random,
      now: Date.now,
      newClientId: () => crypto.randomUUID(),
      scheduleFrame: nextFrame,
      ...options,
    };
  }

  // --- state for React (`useSyncExternalStore`) ---------------------------------------------

  getState = (): ClientState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private dispatch(action: ClientAction): void {
    const next = reduce(this.state, action);
    if (next === this.state) return;
    this.state = next;
    for (const l of this.listeners) l();
  }

  /**
   * The Online list changes many times a second in a big team; applying (and rendering) each
   * frame would keep the main thread busy. They wait for the next animation frame and are folded
   * into one. Nothing else waits: a `history` the operator asked for goes straight through.
   */
  private queueListFrame(frame: OnlineViewFrame): void {
    this.listFrames.push(frame);
    if (this.cancelFlush !== null) return;
    let ran = false;
    const cancel = this.opts.scheduleFrame(() => {
      ran = true;
      this.flushList();
    });
    // A scheduler may run it at once (tests do): then nothing is booked any more.
    if (!ran) this.cancelFlush = cancel;
  }

  private flushList(): void {
    this.cancelFlush = null;
    const folded = foldOnlineViews(this.listFrames);
    this.listFrames = [];
    if (folded) this.dispatch({ type: "frame", frame: folded });
  }

  /** The socket went: its queued list frames describe a window the next socket sends again whole. */
  private dropListFrames(): void {
    this.cancelFlush?.();
    this.cancelFlush = null;
    this.listFrames = [];
  }

  // --- lifecycle ---------------------------------------------------------------------------

  /** Connect, unless a connection is already live or on its way (safe to call twice). */
  start(): void {
    const status = this.state.connection.status;
    if (status === "idle" || status === "stopped") void this.connect();
  }

  /** Skip the rest of a backoff wait, or try again after a terminal close. */
  reconnectNow(): void {
    const status = this.state.connection.status;
    if (status !== "reconnecting" && status !== "stopped") return;
    this.clearReconnect();
    void this.connect();
  }

  /** Sign out / unmount: close with 1000 and never reconnect. */
  stop(): void {
    this.generation++;
    this.dropListFrames();
    this.clearReconnect();
    this.stopResending();
    this.clearRetries();
    const t = this.transport;
    this.transport = null;
    t?.close(CloseCode.NORMAL, "signed out");
    this.dispatch({ type: "stopped" });
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.dispatch({ type: "connect_started" });
    let token: string;
    try {
      token = await this.opts.getToken(this.tokenExpired ? "expired" : "initial");
    } catch {
      if (gen !== this.generation) return;
      // No token yet (the sign-in endpoint is unreachable): as good as a dropped connection.
      this.onClosed(gen, 1006, "could not get a sign-in token");
      return;
    }
    if (gen !== this.generation) return;
    if (this.tokenExpired && token === this.lastToken) {
      // The host has nothing fresher: reconnecting would only be refused again.
      this.dispatch({ type: "socket_closed", code: CloseCode.TOKEN_EXPIRED, reason: "", delayMs: 0, giveUp: true });
      return;
    }
    this.lastToken = token;
    this.tokenExpired = false;
    this.transport = this.opts.connect(this.opts.url, {
      onOpen: () => {
        if (gen !== this.generation) return;
        this.send({ type: "hello", protocol: PROTOCOL_VERSION, token });
      },
      onMessage: (data) => {
        if (gen !== this.generation) return;
        this.onMessage(data);
      },
      onClose: (code, reason) => this.onClosed(gen, code, reason),
    });
  }

  private onMessage(data: unknown): void {
    const frame = decodeServerFrame(data);
    if (!frame) return;
    if (frame.type === "online_view") return this.queueListFrame(frame);
    this.dispatch({ type: "frame", frame });
    switch (frame.type) {
      case "ready": {
        const frames = resumeFrames(this.state);
        const now = this.opts.now();
        for (const f of frames) {
          this.send(f);
          if (f.type === "message" || f.type === "note") this.nextSendAt.set(f.client_id, now + this.opts.ackTimeoutMs);
        }
        this.startResending();
        break;
      }
      case "event": {
        const c = this.state.conversations[frame.conversation_id];
        if (c && c.open && c.resyncFrom !== null) {
          this.send(openFrame(c, c.resyncFrom));
          this.dispatch({ type: "resync_sent", conversationId: c.id });
        }
        break;
      }
      case "ack":
        this.nextSendAt.delete(frame.client_id);
        break;
      case "follow_up":
      case "follow_ups":
        // A conversation started waiting that the list has no row for: its row comes with the list.
        if (followUpsStale(this.state.followUps)) this.loadFollowUps();
        break;
      case "note":
        if (frame.note.client_id !== undefined) this.nextSendAt.delete(frame.note.client_id);
        break;
      case "control":
        this.takeoversSent.delete(frame.conversation_id);
        break;
      case "error":
        if (frame.conversation_id !== undefined && this.takeoversSent.has(frame.conversation_id)) {
          this.takeoverAnswered(frame.conversation_id, frame);
        }
        if (frame.client_id !== undefined && frame.retryable) {
          // Honour the hub's hint; otherwise the regular ack timeout paces the retry.
          const wait = frame.retry_after_ms ?? this.opts.ackTimeoutMs;
          this.nextSendAt.set(frame.client_id, this.opts.now() + wait);
        } else if (frame.conversation_id !== undefined && frame.retryable) {
          this.reopenLater(frame.conversation_id, frame.retry_after_ms);
        }
        // The list the Transfer dialog offered was stale: show who is online now.
        if (frame.code === "operator_offline") this.loadColleagues();
        break;
      default:
        break;
    }
  }

  /**
   * An open conversation whose history has not come (its `open` was refused while the store was
   * away): ask again after the hub's hint or the backoff's first step. A reconnect re-opens it
   * anyway, so the timers go with the socket.
   */
  private reopenLater(conversationId: string, hintMs: number | undefined): void {
    const c = this.state.conversations[conversationId];
    if (!c || !c.open || c.loaded || this.reopenTimers.has(conversationId)) return;
    const wait = hintMs ?? this.opts.backoff.baseMs;
    this.reopenTimers.set(
      conversationId,
      setTimeout(() => {
        this.reopenTimers.delete(conversationId);
        const now = this.state.conversations[conversationId];
        if (now && now.open && !now.loaded && this.connected()) this.send(openFrame(now));
      }, wait),
    );
  }

  private clearRetries(): void {
    for (const t of this.reopenTimers.values()) clearTimeout(t);
    this.reopenTimers.clear();
    for (const t of this.takeoverTimers.values()) clearTimeout(t);
    this.takeoverTimers.clear();
    this.takeoversSent.clear();
  }

  /** A takeover was refused: sent again after the hub's hint when the node was only busy. */
  private takeoverAnswered(conversationId: string, err: ErrorFrame): void {
    this.takeoversSent.delete(conversationId);
    if (err.code !== "unavailable" || err.retry_after_ms === undefined) return;
    if (this.takeoverTimers.has(conversationId)) return;
    this.takeoverTimers.set(
      conversationId,
      setTimeout(() => {
        this.takeoverTimers.delete(conversationId);
        this.takeover(conversationId);
      }, err.retry_after_ms),
    );
  }

  private onClosed(gen: number, code: number, reason: string): void {
    if (gen !== this.generation) return;
    this.transport = null;
    this.dropListFrames();
    this.stopResending();
    this.clearRetries();
    if (code === CloseCode.TOKEN_EXPIRED) this.tokenExpired = true;
    const delayMs = backoffDelay(this.state.failures, this.opts.backoff, this.opts.random);
    this.dispatch({ type: "socket_closed", code, reason, delayMs });
    if (this.state.connection.status === "reconnecting") {
      this.clearReconnect();
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        void this.connect();
      }, delayMs);
    }
  }

  // --- operator intents ----------------------------------------------------------------------

  openConversation(conversationId: string): void {
    this.dispatch({ type: "open_requested", conversationId });
    const c = this.state.conversations[conversationId];
    if (c && this.connected()) this.send(openFrame(c));
  }

  closeConversation(conversationId: string): void {
    this.dispatch({ type: "close_requested", conversationId });
    if (this.connected()) this.send({ type: "close", conversation_id: conversationId });
  }

  takeover(conversationId: string): void {
    if (!this.connected()) return;
    this.takeoversSent.add(conversationId);
    this.dispatch({ type: "takeover_requested", conversationId });
    this.send({ type: "takeover", conversation_id: conversationId });
  }

  release(conversationId: string, force = false): void {
    if (!this.connected()) return;
    this.dispatch({ type: "release_requested", conversationId });
    this.send({ type: "release", conversation_id: conversationId, force });
  }

  /**
   * Force release from the Team view: the conversation need not be open. The hub answers with
   * `control` (and a fresh `team_snapshot`) or an error, which the banner shows.
   */
  forceRelease(conversationId: string): void {
    if (!this.connected()) return;
    this.dispatch({ type: "force_release_requested", conversationId });
    // When it is also on screen, its own Force release button shows the wait too.
    if (this.state.conversations[conversationId]?.open) this.dispatch({ type: "release_requested", conversationId });
    this.send({ type: "release", conversation_id: conversationId, force: true });
  }

  /**
   * Hand the conversation to the operator `to`, under the control `epoch` the operator saw: when
   * control moved since, the hub changes nothing and answers `control_changed`. Never queued
   * while disconnected: a transfer decided on what the screen showed then must not go out later.
   * `note` (already trimmed; absent when empty) becomes an internal note by this operator.
   */
  transfer(conversationId: string, to: string, epoch: number, note?: string): void {
    if (!this.connected()) return;
    this.dispatch({ type: "transfer_requested", conversationId, to, epoch });
    const frame: Extract<OperatorFrame, { type: "transfer" }> = { type: "transfer", conversation_id: conversationId, to, epoch };
    if (note !== undefined) frame.note = note;
    this.send(frame);
  }

  /** The Transfer dialog closed: forget what it showed (a late answer lands in the conversation's error line). */
  dismissTransfer(conversationId: string): void {
    this.dispatch({ type: "transfer_dismissed", conversationId });
  }

  /** Who is online to transfer to; while disconnected it is asked after the next `ready`. */
  loadColleagues(): void {
    this.dispatch({ type: "colleagues_requested" });
    if (this.connected()) this.send({ type: "colleagues" });
  }

  // --- the composer, the brief, suggestions and the interrupted reply ---------------------------

  /** What the operator's box holds for this conversation (kept per conversation). */
  setComposer(conversationId: string, text: string): void {
    this.dispatch({ type: "composer_changed", conversationId, text });
  }

  /**
   * Ask the assistant for a reply to the visitor's last message (the holder only). The answer,
   * `suggestion`, or a refusal, comes to this dashboard alone. One at a time, and never queued
   * while disconnected: a suggestion is for the conversation as it is now.
   */
  suggest(conversationId: string): void {
    if (!this.connected()) return;
    if (this.state.conversations[conversationId]?.suggestion?.status === "pending") return;
    this.dispatch({ type: "suggest_requested", conversationId });
    this.send({ type: "suggest", conversation_id: conversationId });
  }

  insertSuggestion(conversationId: string): void {
    this.dispatch({ type: "suggestion_inserted", conversationId });
  }

  dismissSuggestion(conversationId: string): void {
    this.dispatch({ type: "suggestion_dismissed", conversationId });
  }

  useInterrupted(conversationId: string): void {
    this.dispatch({ type: "interrupted_used", conversationId });
  }

  discardInterrupted(conversationId: string): void {
    this.dispatch({ type: "interrupted_discarded", conversationId });
  }

  dismissInterrupted(conversationId: string): void {
    this.dispatch({ type: "interrupted_dismissed", conversationId });
  }

  toggleBrief(conversationId: string): void {
    this.dispatch({ type: "brief_toggled", conversationId });
  }

  /** A conversation handed to this operator was seen to (opened or dismissed). */
  dismissTransferNotice(id: number): void {
    this.dispatch({ type: "transfer_notice_dismissed", id });
  }

  /**
   * The operator's token for the hub's HTTP API (`Authorization: Bearer`): the one the socket
   * signed in with, or, with `renew` (the API said 401), a fresh one from the token source.
   */
  async apiToken(renew = false): Promise<string> {
    if (!renew && this.lastToken !== null) return this.lastToken;
    return this.opts.getToken(renew ? "expired" : "initial");
  }

  /**
   * Queue a message, with the composer's uploaded files (`attachments`; the text may then be
   * empty); it is sent now if connected, else as soon as the socket is back.
   */
  sendMessage(conversationId: string, text: string, attachments: Attachment[] = []): string {
    const clientId = this.opts.newClientId();
    this.dispatch({ type: "message_queued", conversationId, clientId, text, at: this.opts.now(), attachments });
    this.transmitQueued(conversationId, clientId);
    return clientId;
  }

  /**
   * Queue an internal note (any role, whoever holds the conversation); like a message it is
   * re-sent under its client id until the hub's `note` frame carries it back.
   */
  sendNote(conversationId: string, text: string, attachments: Attachment[] = []): string {
    const clientId = this.opts.newClientId();
    this.dispatch({ type: "note_queued", conversationId, clientId, text, at: this.opts.now(), attachments });
    this.transmitQueuedNote(conversationId, clientId);
    return clientId;
  }

  retryNote(conversationId: string, clientId: string): void {
    this.dispatch({ type: "note_retry", conversationId, clientId });
    this.transmitQueuedNote(conversationId, clientId);
  }

  // The composer's files (the uploads themselves are `api/files.ts`'s `attachFiles`).

  composerFileAdded(conversationId: string, file: PendingFile): void {
    this.dispatch({ type: "composer_file_added", conversationId, file });
  }

  composerFileSettled(conversationId: string, key: string, result: { attachment: Attachment } | { error: string }): void {
    this.dispatch({ type: "composer_file_settled", conversationId, key, ...result });
  }

  removeComposerFile(conversationId: string, key: string): void {
    this.dispatch({ type: "composer_file_removed", conversationId, key });
  }

  /**
   * Another window, filter or search of the Online list. Sent only when it differs from what was
   * asked last; while disconnected it waits for the next `ready` (`resumeFrames`).
   */
  viewOnline(patch: Partial<OnlineRequest>): void {
    const before = this.state.online.request;
    this.dispatch({ type: "online_view_requested", patch });
    const request = this.state.online.request;
    if (request !== before && this.connected()) this.send(subscribeFrame(request));
  }

  /** The Recent tab: the first page, or with `cursor` the next one. */
  loadRecent(cursor?: string): void {
    if (!this.connected()) return;
    this.dispatch(cursor === undefined ? { type: "recent_requested" } : { type: "recent_requested", cursor });
    this.send(cursor === undefined ? { type: "recent" } : { type: "recent", cursor });
  }

  /**
   * The Follow-up view's list; while disconnected (or while an answer is on its way) nothing is
   * sent: the next `ready` asks for it anyway.
   */
  loadFollowUps(): void {
    if (!this.connected() || this.state.followUps.pending) return;
    this.dispatch({ type: "follow_ups_requested" });
    this.send({ type: "follow_ups" });
  }

  /** Search conversations; while disconnected the query waits for the next `ready`. */
  search(query: string): void {
    this.dispatch({ type: "search_requested", query });
    if (this.connected()) this.send({ type: "search", query });
  }

  clearSearch(): void {
    this.dispatch({ type: "search_cleared" });
  }

  retryMessage(conversationId: string, clientId: string): void {
    this.dispatch({ type: "message_retry", conversationId, clientId });
    this.transmitQueued(conversationId, clientId);
  }

  setTyping(conversationId: string, active: boolean): void {
    if (this.connected()) this.send({ type: "typing", conversation_id: conversationId, active });
  }

  dismissError(conversationId: string): void {
    this.dispatch({ type: "error_dismissed", conversationId });
  }

  clearNotices(): void {
    this.dispatch({ type: "notices_cleared" });
  }

  markSeen(conversationId: string, seq: number): void {
    this.dispatch({ type: "seen", conversationId, seq });
  }

  // --- internals -----------------------------------------------------------------------------

  private connected(): boolean {
    return this.state.connection.status === "connected" && this.transport !== null;
  }

  private send(frame: OperatorFrame): void {
    this.transport?.send(JSON.stringify(frame));
  }

  private transmitQueued(conversationId: string, clientId: string): void {
    const m = this.state.conversations[conversationId]?.outbox.find((o) => o.clientId === clientId);
    if (m && m.status === "sending") this.transmit("message", conversationId, m);
  }

  private transmitQueuedNote(conversationId: string, clientId: string): void {
    const n = this.state.conversations[conversationId]?.noteOutbox.find((o) => o.clientId === clientId);
    if (n && n.status === "sending") this.transmit("note", conversationId, n);
  }

  private transmit(type: "message" | "note", conversationId: string, m: { clientId: string; text: string; attachments?: Attachment[] }): void {
    if (!this.connected()) return; // `resumeFrames` sends it after the next `ready`
    this.send(outgoingFrame(type, conversationId, m));
    this.nextSendAt.set(m.clientId, this.opts.now() + this.opts.ackTimeoutMs);
  }

  /** While connected, re-send every message and note whose answer is overdue (same client id: no duplicates). */
  private startResending(): void {
    this.stopResending();
    const tick = Math.max(250, Math.floor(this.opts.ackTimeoutMs / 4));
    this.resendTimer = setInterval(() => {
      const now = this.opts.now();
      const due = (clientId: string) => (this.nextSendAt.get(clientId) ?? 0) <= now;
      for (const c of Object.values(this.state.conversations)) {
        for (const m of c.outbox) {
          if (m.status === "sending" && due(m.clientId)) this.transmit("message", c.id, m);
        }
        for (const n of c.noteOutbox) {
          if (n.status === "sending" && due(n.clientId)) this.transmit("note", c.id, n);
        }
      }
    }, tick);
  }

  private stopResending(): void {
    if (this.resendTimer !== null) clearInterval(this.resendTimer);
    this.resendTimer = null;
  }

  private clearReconnect(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }
}
