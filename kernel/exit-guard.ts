/**
 * `process.exit()` in a cell would end the kernel with its zeromq sockets open, which aborts node
 * ("terminate called after throwing an instance of 'Napi::Error'") before any reply is sent. While a
 * cell (or a timer or promise it started) runs, `process.exit` and `process.abort` throw an error
 * pointing to the notebook's restart button instead; the kernel's own shutdown still exits.
 */

/** Thrown by `process.exit()`/`process.abort()` called from cell code. */
export class ProcessExitRefused extends Error {
  /** @param what the refused call, e.g. `process.exit(3)`. */
  constructor(what: string) {
    super(`${what} would kill the kernel and lose every variable; to start over, use the notebook's Kernel > Restart (variables can also be reset by re-running cells)`);
    this.name = "ProcessExitRefused";
  }
}

/**
 * Replaces `process.exit` and `process.abort` with versions that throw {@link ProcessExitRefused}
 * while `inCell()` is true and otherwise do what the originals do.
 *
 * @returns a function that puts the originals back.
 */
export function installExitGuard(inCell: () => boolean): () => void {
  const exit = process.exit;
  const abort = process.abort;
  process.exit = function guardedExit(code?: string | number | null): never {
    if (inCell()) throw new ProcessExitRefused(`process.exit(${code ?? ""})`);
    return exit.call(process, code);
  } as typeof process.exit;
  process.abort = function guardedAbort(): never {
    if (inCell()) throw new ProcessExitRefused("process.abort()");
    return abort.call(process);
  } as typeof process.abort;
  return () => {
    process.exit = exit;
    process.abort = abort;
  };
}
