/**
 * Sends a cell's output to iopub: stdout/stderr text is buffered briefly and flushed in order (always
 * before any other output of the kernel), and `process.stdout` / `process.stderr` writes are routed to
 * the cell that produced them.
 */
import { currentOrLatestCell } from "./cell-context.ts";
import type { Header } from "./wire.ts";

/** Publishes one iopub message. */
export type Publish = (msgType: string, content: Record<string, unknown>, parent: Partial<Header>, buffers?: Buffer[]) => void;

/** How long stream text may wait to be merged with more text before it is sent (ms). */
const STREAM_FLUSH_MS = 8;

/** Routes output to iopub. */
export class OutputRouter {
  readonly #publish: Publish;
  #pending: { parent: Partial<Header>; name: "stdout" | "stderr"; text: string } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #restore: (() => void) | undefined;

  /** @param publish sends a message on iopub. */
  constructor(publish: Publish) {
    this.#publish = publish;
  }

  /** Appends stream text for the cell with this parent header. */
  stream(name: "stdout" | "stderr", text: string, parent: Partial<Header>): void {
    if (text === "") return;
    const p = this.#pending;
    if (p && (p.name !== name || p.parent.msg_id !== parent.msg_id)) this.flush();
    if (this.#pending) this.#pending.text += text;
    else this.#pending = { parent, name, text };
    this.#timer ??= setTimeout(() => this.flush(), STREAM_FLUSH_MS);
  }

  /** Sends buffered stream text now. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const p = this.#pending;
    this.#pending = undefined;
    if (p) this.#publish("stream", { name: p.name, text: p.text }, p.parent);
  }

  /** Sends any other iopub message (with optional binary buffers), after the stream text buffered before it. */
  send(msgType: string, content: Record<string, unknown>, parent: Partial<Header>, buffers?: Buffer[]): void {
    this.flush();
    this.#publish(msgType, content, parent, buffers);
  }

  /** Publishes the kernel's execution state (busy/idle around each request, starting once). */
  status(state: "starting" | "busy" | "idle", parent: Partial<Header>): void {
    this.send("status", { execution_state: state }, parent);
  }

  /**
   * Routes `process.stdout.write` / `process.stderr.write` (and so `console.*`) to the current cell;
   * writes made outside any cell go to the real streams (the kernel's log).
   */
  captureStdio(): void {
    const streams = [
      ["stdout", process.stdout],
      ["stderr", process.stderr],
    ] as const;
    const originals = streams.map(([, s]) => s.write);
    for (const [name, s] of streams) {
      const original = s.write;
      s.write = ((chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
        const cell = currentOrLatestCell();
        if (!cell) return (original as (...a: unknown[]) => boolean).call(s, chunk, encoding, cb);
        const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
        this.stream(name, text, cell.parent);
        const done = typeof encoding === "function" ? encoding : cb;
        if (typeof done === "function") queueMicrotask(() => (done as () => void)());
        return true;
      }) as typeof s.write;
    }
    this.#restore = () => streams.forEach(([, s], i) => (s.write = originals[i]));
  }

  /** Gives the real streams back. */
  releaseStdio(): void {
    this.flush();
    this.#restore?.();
    this.#restore = undefined;
  }
}
