/**
 * The main thread's handle on the control thread (`control-worker.ts`, which owns the heartbeat and
 * control sockets): starting it, passing control requests and replies across, and stopping it.
 */
import { Worker } from "node:worker_threads";
import type { FromControl, ToControl } from "./control-worker.ts";
import type { Log } from "./log.ts";
import type { Header } from "./wire.ts";

/** How long stopping waits for the control thread before saying so in the log (it keeps waiting). */
const CONTROL_STOP_WARN_MS = 5000;

/** What the control thread needs to start. */
export interface ControlThreadOptions {
  /** Heartbeat endpoint to bind. */
  heartbeat: string;
  /** Control endpoint to bind. */
  control: string;
  /** HMAC key. */
  key: string;
  /** Session id of the kernel. */
  session: string;
  /** The interrupt state shared with the main thread (see interrupt-state.ts). */
  interruptState: SharedArrayBuffer;
  /** Where the thread's diagnostics go. */
  log: Log;
  /** A control request other than interrupt_request, as received (not yet decoded). */
  onRequest(frames: Buffer[]): void;
  /** The thread handled an interrupt_request (already answered) with this header. */
  onInterrupted(parent: Partial<Header>): void;
}

/** The running control thread. */
export class ControlThread {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  readonly #log: Log;

  private constructor(worker: Worker, log: Log) {
    this.#worker = worker;
    this.#log = log;
    this.#exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  }

  /** Starts the thread; resolves once its sockets are bound. */
  static async start(options: ControlThreadOptions): Promise<ControlThread> {
    // The worker registers tsx itself, then loads the TypeScript module.
    const tsxApi = import.meta.resolve("tsx/esm/api");
    const entry = new URL("./control-worker.ts", import.meta.url).href;
    const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    const { heartbeat, control, key, session, interruptState } = options;
    const worker = new Worker(boot, { eval: true, workerData: { heartbeat, control, key, session, interruptState } });
    const thread = new ControlThread(worker, options.log);
    await new Promise<void>((resolve, reject) => {
      worker.on("error", reject);
      worker.on("message", (m: FromControl) => {
        if (m.kind === "ready") resolve();
        else if (m.kind === "log") options.log(m.text);
        else if (m.kind === "interrupted") options.onInterrupted(m.parent);
        else if (m.kind === "request") options.onRequest(m.frames.map((f) => Buffer.from(f)));
      });
    });
    worker.unref();
    return thread;
  }

  /** Sends a signed reply on the control socket. */
  send(frames: Buffer[]): void {
    this.#worker.postMessage({ kind: "send", frames } satisfies ToControl);
  }

  /**
   * Asks the thread to close its sockets and waits until it has ended. It is never terminated from
   * here: ending a thread (or the process) while it holds open zeromq sockets aborts the process with
   * "terminate called after throwing an instance of 'Napi::Error'" (zeromq.js issue #411).
   */
  async stop(): Promise<void> {
    this.#worker.postMessage({ kind: "close" } satisfies ToControl);
    const slow = setTimeout(() => this.#log(`control thread has not stopped after ${CONTROL_STOP_WARN_MS} ms; still waiting`), CONTROL_STOP_WARN_MS);
    await this.#exited;
    clearTimeout(slow);
  }
}
