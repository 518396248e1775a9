/**
 * Which cell is "current": every execute request runs inside an AsyncLocalStorage context, so output
 * produced later by its timers, promises and training loops is sent to that cell, not to whichever
 * cell happens to run at the time.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Header } from "./wire.ts";

/** Raised inside a cell when the user interrupts the kernel. */
export class KeyboardInterrupt extends Error {
  constructor() {
    super("the kernel was interrupted");
    this.name = "KeyboardInterrupt";
  }
}

/** Everything the kernel knows about one running (or finished) execute request. */
export interface CellContext {
  /** Header of the execute_request: every output of the cell names it as parent. */
  readonly parent: Header;
  /** Routing identities of the requester (for stdin input requests). */
  readonly identities: Buffer[];
  /** True when the client accepts input requests on stdin. */
  readonly allowStdin: boolean;
  /** Fires when the user interrupts the kernel while this cell runs. */
  readonly abort: AbortController;
  /** Set once the cell was interrupted: loops in cell code stop at their next iteration. */
  interrupted: boolean;
}

const storage = new AsyncLocalStorage<CellContext>();
let latest: CellContext | undefined;

/** Runs `fn` with `ctx` as the current cell for everything it starts, now or later. */
export function runInCell<T>(ctx: CellContext, fn: () => T): T {
  latest = ctx;
  return storage.run(ctx, fn);
}

/** The cell whose code is running now (through any chain of awaits and timers), if any. */
export function currentCell(): CellContext | undefined {
  return storage.getStore();
}

/** The current cell, or the most recently started one when the code runs outside any cell. */
export function currentOrLatestCell(): CellContext | undefined {
  return storage.getStore() ?? latest;
}
