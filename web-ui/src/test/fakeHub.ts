/**
 * An in-process stand-in for the hub's socket: records what the client sends (operator frames by
 * default; the widget's tests use it with widget frames) and lets a test push frames and closes,
 * so a socket client runs with no browser and no network.
 */
import type { Connect, Transport, TransportHandlers } from "../client/hubClient";
import type { OperatorFrame, ServerFrame, WidgetFrame } from "../protocol/frames";

type ClientFrame = OperatorFrame | WidgetFrame;

export class FakeSocket<F extends ClientFrame = OperatorFrame> implements Transport {
  readonly sent: F[] = [];
  closedWith: number | null = null;

  constructor(
    readonly url: string,
    private readonly handlers: TransportHandlers,
  ) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data) as F);
  }

  close(code = 1000): void {
    this.closedWith = code;
  }

  // --- the hub's side ---
  open(): void {
    this.handlers.onOpen();
  }

  receive(frame: ServerFrame): void {
    this.handlers.onMessage(JSON.stringify(frame));
  }

  receiveRaw(text: string): void {
    this.handlers.onMessage(text);
  }

  serverClose(code: number, reason = ""): void {
    this.handlers.onClose(code, reason);
  }

  sentOfType<T extends F["type"]>(type: T): Extract<F, { type: T }>[] {
    return this.sent.filter((f): f is Extract<F, { type: T }> => f.type === type);
  }
}

export class FakeHub<F extends ClientFrame = OperatorFrame> {
  readonly sockets: FakeSocket<F>[] = [];

  connect: Connect = (url, handlers) => {
    const socket = new FakeSocket<F>(url, handlers);
    this.sockets.push(socket);
    return socket;
  };

  get last(): FakeSocket<F> {
    const s = this.sockets.at(-1);
    if (!s) throw new Error("no socket was opened");
    return s;
  }
}

/**
 * A `scheduleFrame` for component tests: list frames are applied as they arrive, as if every
 * frame came in its own animation frame.
 */
export const immediateFrames = (apply: () => void): (() => void) => {
  apply();
  return () => {};
};
