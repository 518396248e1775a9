/**
 * Request dispatch, as ipykernel's handler table: each msg_type has a handler (kernel/handlers/*);
 * shell requests run one at a time in arrival order, control requests at once. Every request is
 * framed by busy/idle status; a handler that throws gets an error reply, an unknown `_request` one too.
 */
import type { Log } from "./log.ts";
import type { OutputRouter } from "./output-router.ts";
import type { RequestChannel, Transport } from "./transport.ts";
import type { Message } from "./wire.ts";

/** One request as its handler sees it. */
export interface Request {
  /** The decoded message. */
  readonly msg: Message;
  /** The channel it came on. */
  readonly channel: RequestChannel;
  /** When it arrived (`performance.now()`). */
  readonly receivedAt: number;
  /** Sends the reply (`x_reply` for an `x_request`) on the request's channel. */
  reply(content: Record<string, unknown>): void;
}

/** Handles one kind of request; the request counts as done when the returned promise settles. */
export type RequestHandler = (req: Request) => void | Promise<void>;

/** Handlers keyed by msg_type. */
export type HandlerTable = Readonly<Record<string, RequestHandler>>;

/** The reply type of a request type: `x_request` → `x_reply`. */
function replyType(msgType: string): string {
  return msgType.replace(/_request$/, "_reply");
}

/** Queues requests and runs each through its handler. */
export class RequestDispatcher {
  readonly #handlers: HandlerTable;
  readonly #transport: Transport;
  readonly #output: OutputRouter;
  readonly #log: Log;
  readonly #queue: { msg: Message; receivedAt: number }[] = [];
  #processing = false;
  /** Settles once the kernel is ready: requests received earlier wait for it. */
  readonly #ready: Promise<void>;
  #setReady!: () => void;

  /**
   * @param handlers the handler of each msg_type.
   * @param transport where replies go.
   * @param output where status messages go (after the output before them).
   * @param log where failures are logged.
   */
  constructor(handlers: HandlerTable, transport: Transport, output: OutputRouter, log: Log) {
    this.#handlers = handlers;
    this.#transport = transport;
    this.#output = output;
    this.#log = log;
    this.#ready = new Promise<void>((resolve) => {
      this.#setReady = resolve;
    });
  }

  /** True while shell requests are being handled. */
  get busy(): boolean {
    return this.#processing;
  }

  /** Starts handling requests (those received so far, then each as it comes). */
  open(): void {
    this.#setReady();
  }

  /** Takes a request from the transport: shell requests queue, control requests do not wait behind running cells. */
  receive(msg: Message, channel: RequestChannel): void {
    if (channel === "control") {
      void this.#ready.then(() => this.#dispatch(msg, channel, performance.now()));
      return;
    }
    this.#queue.push({ msg, receivedAt: performance.now() });
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#processing) return;
    this.#processing = true;
    try {
      await this.#ready;
      while (this.#queue.length > 0) {
        const item = this.#queue.shift()!;
        await this.#dispatch(item.msg, "shell", item.receivedAt);
      }
    } finally {
      this.#processing = false;
    }
  }

  async #dispatch(msg: Message, channel: RequestChannel, receivedAt: number): Promise<void> {
    const type = msg.header.msg_type;
    const reply = (msgType: string, content: Record<string, unknown>) => this.#transport.reply(msg, channel, msgType, content);
    this.#output.status("busy", msg.header);
    try {
      const handler = Object.hasOwn(this.#handlers, type) ? this.#handlers[type] : undefined;
      if (handler) {
        await handler({ msg, channel, receivedAt, reply: (content) => reply(replyType(type), content) });
      } else {
        this.#log(`${channel}: unknown message type '${type}'`);
        if (type.endsWith("_request")) {
          const evalue = `unknown message type '${type}'`;
          reply(replyType(type), { status: "error", ename: "UnknownMessageType", evalue, traceback: [evalue] });
        }
      }
    } catch (err) {
      const e = err as Error;
      this.#log(`${channel}: ${type} failed: ${e.stack ?? e.message}`);
      if (type.endsWith("_request")) {
        reply(replyType(type), { status: "error", ename: e.name ?? "Error", evalue: e.message ?? String(e), traceback: [String(e.stack ?? e)] });
      }
    }
    this.#output.status("idle", msg.header);
  }
}
