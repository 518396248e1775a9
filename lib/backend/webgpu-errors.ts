/**
 * WebGPU reports a failed operation (a validation error, running out of memory, a lost device) as
 * an event on the device, not as an exception: the op "succeeds" and its output holds whatever was
 * in the buffer. This log collects those events, and FSAM Lab's webgpu backend throws them as a
 * {@link WebGPUError} at the next op or read, so a result is never silently wrong.
 */

/** A WebGPU error event turned into an exception; the message names the op (tfjs program) involved. */
export class WebGPUError extends Error {
  override name = "WebGPUError";
}

/** The parts of a `GPUDevice` the log listens on. */
export interface ErrorSourceDevice {
  addEventListener?(type: "uncapturederror", listener: (event: { error: { message: string; constructor: { name: string } } }) => void): void;
  onuncapturederror?: unknown;
  lost?: Promise<{ reason?: string; message?: string }>;
}

/** Collected, not yet thrown WebGPU errors of one device. */
export class WebgpuErrorLog {
  private readonly pending: string[] = [];
  private lost = false;
  private disposed = false;

  /** Starts listening for uncaptured errors and device loss on `device`. */
  constructor(device: ErrorSourceDevice) {
    const onError = (event: { error: { message: string; constructor: { name: string } } }): void => {
      const kind = event.error.constructor.name.replace(/^GPU/, "");
      this.record(`${kind}: ${event.error.message.trim()}`);
    };
    if (typeof device.addEventListener === "function") device.addEventListener("uncapturederror", onError);
    else device.onuncapturederror = onError;
    void device.lost?.then((info) => {
      if (this.disposed) return;
      this.lost = true;
      this.record(`device lost (${info.reason ?? "unknown"}): ${info.message ?? ""}`.trim());
    });
  }

  /** Adds one error message (also used for errors found by other means). */
  record(message: string): void {
    this.pending.push(message);
  }

  /** Whether errors are waiting to be thrown. */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Whether the device was lost (every later op fails). */
  get deviceLost(): boolean {
    return this.lost;
  }

  /** Stops reporting device loss (the device is being destroyed on purpose). */
  dispose(): void {
    this.disposed = true;
  }

  /**
   * Throws the collected errors as one {@link WebGPUError} (and forgets them), or does nothing when
   * there are none.
   *
   * @param where what was about to happen, e.g. "running Sum" or "reading a tensor".
   */
  throwPending(where: string): void {
    if (this.pending.length === 0) return;
    const errors = this.pending.splice(0);
    const shown = errors.slice(0, 3).map((e) => `  ${e.split("\n").join("\n    ")}`);
    if (errors.length > 3) shown.push(`  … and ${errors.length - 3} more`);
    throw new WebGPUError(
      `WebGPU reported ${errors.length} error${errors.length === 1 ? "" : "s"} in earlier ops (found before ${where}); ` +
        `results computed since then are invalid:\n${shown.join("\n")}`,
    );
  }
}
