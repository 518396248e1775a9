/** The `prompt` global: asks the frontend for a line of input over stdin (input_request / input_reply). */
import { KeyboardInterrupt, currentOrLatestCell } from "./cell-context.ts";
import type { OutputRouter } from "./output-router.ts";
import type { Transport } from "./transport.ts";
import type { Message } from "./wire.ts";

/** At most one prompt waiting for its input_reply. */
export class StdinPrompt {
  readonly #transport: Transport;
  readonly #output: OutputRouter;
  #pending: { resolve(s: string): void; reject(e: Error): void } | undefined;

  /**
   * @param transport where input_request goes.
   * @param output flushed before the prompt, so the cell's text comes first.
   */
  constructor(transport: Transport, output: OutputRouter) {
    this.#transport = transport;
    this.#output = output;
  }

  /** Asks for a line of input in the current cell; rejects when the cell is interrupted or the frontend takes no input. */
  ask(prompt: string, password: boolean): Promise<string> {
    const cell = currentOrLatestCell();
    if (!cell || !cell.allowStdin) {
      return Promise.reject(new Error("prompt(): this frontend does not accept input (allow_stdin is false)"));
    }
    if (this.#pending) return Promise.reject(new Error("prompt(): another prompt is already waiting for input"));
    this.#output.flush();
    return new Promise<string>((resolve, reject) => {
      this.#pending = { resolve, reject };
      cell.abort.signal.addEventListener("abort", () => {
        if (this.#pending?.resolve === resolve) this.#pending = undefined;
        reject(new KeyboardInterrupt());
      }, { once: true });
      this.#transport.sendStdin("input_request", { prompt, password }, cell.parent, cell.identities);
    });
  }

  /** A message on stdin: an input_reply answers the waiting prompt. */
  receive(msg: Message): void {
    if (msg.header.msg_type === "input_reply" && this.#pending) {
      const pending = this.#pending;
      this.#pending = undefined;
      pending.resolve(String(msg.content.value ?? ""));
    }
  }
}
