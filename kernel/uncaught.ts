/** Uncaught errors and unhandled rejections: reported as an error output of the cell that caused them. */
import { currentOrLatestCell } from "./cell-context.ts";
import type { Log } from "./log.ts";
import type { OutputRouter } from "./output-router.ts";
import type { TracebackMapper } from "./traceback.ts";

/**
 * Makes the kernel the owner of fatal-error policy. Other code's `uncaughtException` listeners never
 * run (the capture callback replaces the event), and an error thrown from another `unhandledRejection`
 * listener lands in the capture callback too: the Emscripten glue of tfjs-backend-wasm rethrows from
 * both, which would otherwise end the process (and abort it, the control thread's zeromq sockets being
 * torn down while open) on the first unhandled rejection in a cell.
 *
 * @param traceback maps cell frames to cell lines.
 * @param output where the error output goes.
 * @param log where an error outside any cell goes.
 */
export function reportUncaughtErrors(traceback: TracebackMapper, output: OutputRouter, log: Log): void {
  /** Errors already reported. */
  const reported = new WeakSet<object>();
  const report = (err: unknown) => {
    // A rejection rethrown by another library's listener arrives a second time: report it once.
    if (typeof err === "object" && err !== null) {
      if (reported.has(err)) return;
      reported.add(err);
    }
    const cell = currentOrLatestCell();
    const r = traceback.report(err);
    if (!cell) {
      log(`uncaught: ${r.traceback.join("\n")}`);
      return;
    }
    output.send("error", { ...r }, cell.parent);
  };
  process.setUncaughtExceptionCaptureCallback(report);
  process.on("unhandledRejection", report);
}
