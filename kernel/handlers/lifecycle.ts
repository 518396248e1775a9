/** shutdown_request and the shell channel's interrupt_request (the control channel's is answered by the control thread). */
import type { HandlerTable } from "../request-dispatch.ts";

/** Delay between the shutdown_reply and closing the kernel, so the reply and the idle status go out first (ms). */
const SHUTDOWN_DELAY_MS = 50;

/**
 * The shutdown_request and interrupt_request handlers.
 *
 * @param close closes the kernel; the process exits once it resolves.
 * @param interrupt interrupts the running cell, if any.
 */
export function lifecycleHandlers(close: () => Promise<void>, interrupt: () => void): HandlerTable {
  return {
    shutdown_request: (req) => {
      req.reply({ status: "ok", restart: req.msg.content.restart === true });
      setTimeout(() => void close().then(() => process.exit(0)), SHUTDOWN_DELAY_MS);
    },
    interrupt_request: (req) => {
      // Sent on shell: no signal involved.
      interrupt();
      req.reply({ status: "ok" });
    },
  };
}
