/**
 * Jupyter comms: two-way message channels between kernel code and frontend widgets. Kernel code
 * registers targets the frontend can open, or opens comms itself; available in cells as `comms`.
 */

/** Sends a comm message to the frontend (comm_open / comm_msg / comm_close on iopub), with binary buffers. */
export type CommSend = (msgType: "comm_open" | "comm_msg" | "comm_close", content: Record<string, unknown>, buffers?: Buffer[]) => void;

/**
 * Called when a handler registered by kernel code (a target, `onMessage`, `onClose`) throws, or
 * returns a promise that rejects; `where` names the handler (e.g. "comm_msg handler of comm c1 (target 'w')").
 */
export type CommHandlerFailed = (err: unknown, where: string) => void;

/**
 * Calls one handler of kernel code: a throw, or the rejection of a promise it returns (not awaited),
 * goes to `failed` instead of the caller.
 */
function callHandler(call: () => unknown, where: string, failed: CommHandlerFailed): void {
  try {
    const result = call();
    if (typeof (result as { then?: unknown } | undefined)?.then === "function") {
      Promise.resolve(result).catch((err: unknown) => failed(err, where));
    }
  } catch (err) {
    failed(err, where);
  }
}

/** Binary data a comm message may carry (a typed array's bytes are sent as they lie in memory). */
export type CommBuffer = ArrayBuffer | ArrayBufferView;

/** The bytes of comm buffers, as frames. */
function toFrames(buffers: readonly CommBuffer[]): Buffer[] {
  if (!Array.isArray(buffers)) throw new TypeError("comm buffers must be an array of ArrayBuffers or typed arrays");
  return buffers.map((b, i) => {
    if (b instanceof ArrayBuffer) return Buffer.from(b);
    if (ArrayBuffer.isView(b)) return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    throw new TypeError(`comm buffer ${i} is not an ArrayBuffer or a typed array`);
  });
}

/** One open comm. */
export class Comm {
  /** The comm's id. */
  readonly commId: string;
  /** The target it was opened on. */
  readonly targetName: string;
  readonly #send: CommSend;
  readonly #onMessage: ((data: unknown, buffers: Buffer[]) => void | Promise<void>)[] = [];
  readonly #onClose: ((data: unknown) => void | Promise<void>)[] = [];
  readonly #forget: () => void;
  readonly #failed: CommHandlerFailed;
  #closed = false;

  /** Made by {@link CommRegistry}. */
  constructor(commId: string, targetName: string, send: CommSend, forget: () => void, failed: CommHandlerFailed) {
    this.commId = commId;
    this.targetName = targetName;
    this.#send = send;
    this.#forget = forget;
    this.#failed = failed;
  }

  /** True once either side closed it. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends JSON data to the frontend, optionally with binary buffers (e.g. a Float32Array of weights). */
  send(data: unknown, buffers: readonly CommBuffer[] = []): void {
    if (this.#closed) throw new Error(`comm ${this.commId} (${this.targetName}) is closed`);
    this.#send("comm_msg", { comm_id: this.commId, data }, toFrames(buffers));
  }

  /** Closes the comm from the kernel side. */
  close(data: unknown = {}): void {
    if (this.#closed) return;
    this.#send("comm_close", { comm_id: this.commId, data });
    this.#closed = true;
    this.#forget();
  }

  /** Calls `cb` for each message from the frontend (an error it throws or rejects with is shown under that message). */
  onMessage(cb: (data: unknown, buffers: Buffer[]) => void | Promise<void>): void {
    this.#onMessage.push(cb);
  }

  /** Calls `cb` when the frontend closes the comm (an error it throws or rejects with is shown under the close). */
  onClose(cb: (data: unknown) => void | Promise<void>): void {
    this.#onClose.push(cb);
  }

  /** Delivers a frontend message (called by the kernel). */
  deliver(data: unknown, buffers: Buffer[]): void {
    for (const cb of this.#onMessage) callHandler(() => cb(data, buffers), `comm_msg handler of ${this.#name()}`, this.#failed);
  }

  /** Handles a close from the frontend (called by the kernel). */
  remoteClose(data: unknown): void {
    this.#closed = true;
    this.#forget();
    for (const cb of this.#onClose) callHandler(() => cb(data), `comm_close handler of ${this.#name()}`, this.#failed);
  }

  /** The comm as messages name it. */
  #name(): string {
    return `comm ${this.commId} (target '${this.targetName}')`;
  }
}

/** Handles a comm the frontend opened on a target (an error it throws or rejects with is shown under the comm_open). */
export type CommTarget = (comm: Comm, data: unknown) => void | Promise<void>;

/** All comms and targets of the kernel. */
export class CommRegistry {
  readonly #targets = new Map<string, CommTarget>();
  readonly #comms = new Map<string, Comm>();
  readonly #send: CommSend;
  readonly #failed: CommHandlerFailed;

  /**
   * @param send publishes comm messages on iopub.
   * @param failed reports a handler of kernel code that threw or rejected (the registry carries on).
   */
  constructor(send: CommSend, failed: CommHandlerFailed) {
    this.#send = send;
    this.#failed = failed;
  }

  /** Lets the frontend open comms on `targetName`. */
  registerTarget(targetName: string, handler: CommTarget): void {
    if (typeof targetName !== "string" || targetName === "") throw new TypeError(`registerTarget: targetName must be a non-empty string, got ${JSON.stringify(targetName)}`);
    this.#targets.set(targetName, handler);
  }

  /** Removes a target. */
  unregisterTarget(targetName: string): void {
    this.#targets.delete(targetName);
  }

  /** Opens a comm from the kernel side. */
  open(targetName: string, data: unknown = {}, commId: string = crypto.randomUUID()): Comm {
    const comm = this.#make(commId, targetName);
    this.#send("comm_open", { comm_id: commId, target_name: targetName, data });
    return comm;
  }

  #make(commId: string, targetName: string): Comm {
    const comm = new Comm(commId, targetName, this.#send, () => this.#comms.delete(commId), this.#failed);
    this.#comms.set(commId, comm);
    return comm;
  }

  /**
   * Handles a frontend comm_open.
   *
   * @returns false when no such target is registered (the kernel then closes the comm).
   */
  handleOpen(commId: string, targetName: string, data: unknown): boolean {
    const target = this.#targets.get(targetName);
    if (!target) return false;
    const comm = this.#make(commId, targetName);
    callHandler(() => target(comm, data), `comm_open handler of target '${targetName}' (comm ${commId})`, this.#failed);
    return true;
  }

  /** Handles a frontend comm_msg; false for an unknown comm. */
  handleMessage(commId: string, data: unknown, buffers: Buffer[]): boolean {
    const comm = this.#comms.get(commId);
    comm?.deliver(data, buffers);
    return comm !== undefined;
  }

  /** Handles a frontend comm_close; false for an unknown comm. */
  handleClose(commId: string, data: unknown): boolean {
    const comm = this.#comms.get(commId);
    comm?.remoteClose(data);
    return comm !== undefined;
  }

  /** Open comms, optionally only those of one target: `{id: {target_name}}`. */
  info(targetName?: string): Record<string, { target_name: string }> {
    const out: Record<string, { target_name: string }> = {};
    for (const [id, c] of this.#comms) if (!targetName || c.targetName === targetName) out[id] = { target_name: c.targetName };
    return out;
  }
}
