/**
 * The kernel's session on the wire: the shell, iopub and stdin sockets of the main thread, the control
 * thread (heartbeat and control), signing and checking messages, dropping replays, and sending in order.
 * Requests come out decoded; what they mean is the request handlers' business (`request-handlers.ts`).
 */
import * as zmq from "zeromq";
import { ControlThread } from "./control-thread.ts";
import type { Log } from "./log.ts";
import { ReplayGuard, signatureOf } from "./replay-guard.ts";
import { Signer, WireError, decodeMessage, encodeMessage, endpoint, type ConnectionInfo, type Header, type Message } from "./wire.ts";

/** The channel a request came on (its reply goes back on it). */
export type RequestChannel = "shell" | "control";

/** Where the transport hands what it receives. */
export interface TransportReceivers {
  /** A checked shell or control request (control's interrupt_request is answered by the control thread). */
  request(msg: Message, channel: RequestChannel): void;
  /** A checked message on stdin (an input_reply). */
  stdin(msg: Message): void;
  /** The control thread handled an interrupt_request with this header. */
  interrupted(parent: Partial<Header>): void;
}

/** The sockets and session of one kernel. */
export class Transport {
  /** The kernel's session id (in every header it sends). */
  readonly session = crypto.randomUUID();
  readonly #info: ConnectionInfo;
  readonly #signer: Signer;
  readonly #log: Log;
  readonly #shell = new zmq.Router({ linger: 0 });
  readonly #iopub = new zmq.Publisher({ linger: 0 });
  readonly #stdin = new zmq.Router({ linger: 0 });
  readonly #sendChains = new Map<zmq.Socket, Promise<void>>();
  /** Signatures of recent shell, control and stdin messages: a replayed message is dropped. */
  readonly #replay = new ReplayGuard();
  #control: ControlThread | undefined;
  #closed = false;

  /**
   * @param info the parsed connection file.
   * @param log where transport diagnostics go.
   */
  constructor(info: ConnectionInfo, log: Log) {
    this.#info = info;
    this.#signer = new Signer(info.key);
    this.#log = log;
  }

  /**
   * Binds every socket and starts the control thread; from then on, what arrives goes to `receivers`.
   *
   * @param interruptState the interrupt state shared with the control thread (interrupt-state.ts).
   */
  async start(interruptState: Int32Array, receivers: TransportReceivers): Promise<void> {
    const i = this.#info;
    await Promise.all([
      this.#shell.bind(endpoint(i, i.shell_port)),
      this.#iopub.bind(endpoint(i, i.iopub_port)),
      this.#stdin.bind(endpoint(i, i.stdin_port)),
    ]);
    this.#control = await ControlThread.start({
      heartbeat: endpoint(i, i.hb_port),
      control: endpoint(i, i.control_port),
      key: i.key,
      session: this.session,
      interruptState: interruptState.buffer as SharedArrayBuffer,
      log: this.#log,
      onRequest: (frames) => this.#receive(frames, "control", receivers),
      onInterrupted: (parent) => receivers.interrupted(parent),
    });
    void this.#readShell(receivers);
    void this.#readStdin(receivers);
  }

  /** Publishes a message on iopub (nothing once the transport is closing). */
  publish(msgType: string, content: Record<string, unknown>, parent: Partial<Header>, buffers?: Buffer[]): void {
    if (this.#closed) return;
    const topic = Buffer.from(`kernel.${this.session}.${msgType}`);
    this.#sendOn(this.#iopub, encodeMessage({ msgType, content, parent, identities: [topic], buffers }, this.session, this.#signer));
  }

  /** Sends a reply to `req` on the channel it came on. */
  reply(req: Pick<Message, "header" | "identities">, channel: RequestChannel, msgType: string, content: Record<string, unknown>): void {
    const frames = encodeMessage({ msgType, content, parent: req.header, identities: req.identities }, this.session, this.#signer);
    if (channel === "shell") this.#sendOn(this.#shell, frames);
    else this.#control?.send(frames);
  }

  /** Sends a message on stdin to the client with these identities (an input_request). */
  sendStdin(msgType: string, content: Record<string, unknown>, parent: Partial<Header>, identities: Buffer[]): void {
    this.#sendOn(this.#stdin, encodeMessage({ msgType, content, parent, identities }, this.session, this.#signer));
  }

  /** Sends frames after everything sent before on the same socket. */
  #sendOn(socket: zmq.Socket & { send(frames: Buffer[]): Promise<void> }, frames: Buffer[]): void {
    const prev = this.#sendChains.get(socket) ?? Promise.resolve();
    const next = prev.then(() => socket.send(frames)).catch((err: Error) => this.#log(`send failed: ${err.message}`));
    this.#sendChains.set(socket, next);
  }

  async #readShell(receivers: TransportReceivers): Promise<void> {
    try {
      for await (const frames of this.#shell) this.#receive(frames, "shell", receivers);
    } catch (err) {
      if (!this.#closed) this.#log(`shell socket failed: ${(err as Error).message}`);
    }
  }

  /** Decodes a request and passes it on; bad signatures and replays are dropped, malformed ones answered or logged. */
  #receive(frames: Buffer[], channel: RequestChannel, receivers: TransportReceivers): void {
    let msg: Message;
    try {
      msg = decodeMessage(frames, this.#signer);
    } catch (err) {
      const e = err as WireError;
      this.#log(`${channel}: dropped a message: ${e.message}`);
      if (e instanceof WireError && e.header && typeof e.header.msg_type === "string" && e.identities.length > 0) {
        // A readable but malformed request gets an error reply so the client is not left waiting.
        const type = e.header.msg_type.replace(/_request$/, "_reply");
        this.reply({ identities: e.identities, header: e.header as Header }, channel, type, { status: "error", ename: "MalformedMessage", evalue: e.message, traceback: [e.message] });
      }
      return;
    }
    if (!this.#replay.accept(signatureOf(frames))) {
      this.#log(`${channel}: dropped a replayed message (${msg.header.msg_type} ${msg.header.msg_id}: its signature was already used)`);
      return;
    }
    receivers.request(msg, channel);
  }

  async #readStdin(receivers: TransportReceivers): Promise<void> {
    try {
      for await (const frames of this.#stdin) {
        let msg: Message;
        try {
          msg = decodeMessage(frames, this.#signer);
        } catch (err) {
          this.#log(`stdin: dropped a message: ${(err as Error).message}`);
          continue;
        }
        if (!this.#replay.accept(signatureOf(frames))) {
          this.#log("stdin: dropped a replayed message");
          continue;
        }
        receivers.stdin(msg);
      }
    } catch (err) {
      if (!this.#closed) this.#log(`stdin socket failed: ${(err as Error).message}`);
    }
  }

  /** Sends what is queued, stops the control thread and closes the sockets. */
  async close(): Promise<void> {
    await Promise.all([...this.#sendChains.values()]);
    this.#closed = true;
    await this.#control?.stop();
    this.#shell.close();
    this.#iopub.close();
    this.#stdin.close();
  }
}
