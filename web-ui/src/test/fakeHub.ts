/**
 * An in-process stand-in for the hub's operator socket: records what the client sends and lets
 * a test push frames and closes, so the socket client runs with no browser and no network.
 */
import type { Connect, Transport, TransportHandlers } from "../client/hubClient";
import type { OperatorFrame, ServerFrame } from "../protocol/frames";

export class FakeSocket implements Transport {
  readonly sent: OperatorFrame[] = [];
  closedWith: number | null = null;

  constructor(
    readonly url: string,
    private readonly handlers: TransportHandlers,
  ) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data) as OperatorFrame);
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

  sentOfType<T extends OperatorFrame["type"]>(type: T): Extract<OperatorFrame, { type: T }>[] {
    return this.sent.filter((f): f is Extract<OperatorFrame, { type: T }> => f.type === type);
  }
}

export class FakeHub {
  readonly sockets: FakeSocket[] = [];

  connect: Connect = (url, handlers) => {
    const socket = new FakeSocket(url, handlers);
    this.sockets.push(socket);
    return socket;
  };

  get last(): FakeSocket {
    const s = this.sockets.at(-1);
    if (!s) throw new Error("no socket was opened");
    return s;
  }
}
