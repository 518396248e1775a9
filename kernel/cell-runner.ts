/**
 * Runs compiled cells in the kernel's global context. Variables live in one `exports` object shared by
 * all cells (tslab's scheme), so they survive errors and interrupts. Synchronous code runs with
 * `breakOnSigint` (SIGINT stops even a tight loop), loops carry interrupt guards, and a cell awaiting
 * something is abandoned at once on interrupt.
 */
import vm from "node:vm";
import type { CompiledCell } from "./compiler.ts";
import { KeyboardInterrupt, currentCell, type CellContext } from "./cell-context.ts";
import { GUARD_NAME, insertLoopGuards } from "./loop-guard.ts";
import { signalArrived, takeRequest } from "./interrupt-state.ts";
import type { ModuleLoader } from "./module-loader.ts";
import { requiredSpecifiers } from "./module-loader.ts";

/** Global slot the cell wrapper reads its arguments from. */
const ARGS_KEY = "__fsamCellArgs__";

/** The outcome of running one cell. */
export interface RunResult {
  /** True when the cell produced a value to show (its last expression, not undefined/null). */
  hasValue: boolean;
  /** That value. */
  value?: unknown;
}

/** File name given to the code of cell number `id` (shows in stack traces). */
export function cellFileName(id: number): string {
  return `fsam-cell-${id}.js`;
}

/** Runs cells. */
export class CellRunner {
  /** The notebook's variables. */
  readonly exports: Record<string, unknown>;
  readonly #loader: ModuleLoader;
  /** Shared with the control thread (see interrupt-state.ts). */
  readonly #interruptState: Int32Array;
  #nextId = 1;

  /**
   * @param loader resolves and loads the modules cells import.
   * @param interruptState shared with the control thread, which marks interrupt requests there.
   */
  constructor(loader: ModuleLoader, interruptState: Int32Array) {
    this.#loader = loader;
    this.#interruptState = interruptState;
    this.exports = createExports();
  }

  /** Id the next cell's code will get (its file name in tracebacks). */
  get nextId(): number {
    return this.#nextId;
  }

  /** The guard loops in cell code call: throws when the running cell was interrupted. */
  guard = (): void => {
    const cell = currentCell();
    if (cell && takeRequest(this.#interruptState)) this.interrupt(cell);
    if (cell?.interrupted) throw new KeyboardInterrupt();
  };

  /** Marks a cell interrupted: fires its abort signal (loops and awaits stop at the next check). */
  interrupt(cell: CellContext): void {
    if (cell.interrupted) return;
    cell.interrupted = true;
    cell.abort.abort(new KeyboardInterrupt());
  }

  /**
   * Runs a compiled cell inside the current cell context.
   *
   * @throws whatever the cell throws; KeyboardInterrupt when interrupted.
   */
  async run(cell: CompiledCell, ctx: CellContext): Promise<RunResult> {
    await this.#loader.prepare(requiredSpecifiers(cell.js));
    // A SIGINT that came while the main thread was busy (compiling) waits in the event loop; once the
    // script runs, only its own SIGINT watchdog would notice a new one. Two turns of the loop (one with
    // a poll phase) let a waiting signal reach the kernel first.
    await nextTurn();
    await nextTurn();
    if (ctx.interrupted) throw new KeyboardInterrupt();
    const id = this.#nextId++;
    const fn = cell.hasTopLevelAwait ? "async function" : "function";
    const source = `(${fn}(exports, require, ${GUARD_NAME}) {\n${insertLoopGuards(cell.js)}\n}).call(undefined, ${ARGS_KEY}.exports, ${ARGS_KEY}.require, ${ARGS_KEY}.guard)`;
    (globalThis as Record<string, unknown>)[ARGS_KEY] = { exports: this.exports, require: this.#loader.require, guard: this.guard };
    let ret: unknown;
    try {
      ret = new vm.Script(source, { filename: cellFileName(id), lineOffset: -1 }).runInThisContext({ breakOnSigint: true });
    } catch (err) {
      if ((err as { code?: string } | null | undefined)?.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") {
        // A signal broke this cell's own code: a cell starts only once earlier signals arrived.
        signalArrived(this.#interruptState);
        this.interrupt(ctx);
        throw new KeyboardInterrupt();
      }
      throw err;
    } finally {
      delete (globalThis as Record<string, unknown>)[ARGS_KEY];
    }
    if (cell.hasTopLevelAwait) {
      if (ctx.interrupted) throw new KeyboardInterrupt();
      const interrupted = new Promise<never>((_, reject) => {
        ctx.abort.signal.addEventListener("abort", () => reject(new KeyboardInterrupt()), { once: true });
      });
      await Promise.race([ret as Promise<unknown>, interrupted]);
    }
    if (ctx.interrupted) throw new KeyboardInterrupt();
    const name = cell.lastExpressionVar;
    if (name === undefined || !(name in this.exports)) return { hasValue: false };
    const value = this.exports[name];
    delete this.exports[name];
    return value === undefined || value === null ? { hasValue: false } : { hasValue: true, value };
  }
}

/** Resolves after the event loop's current turn. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The variables object: TypeScript's CommonJS output defines exports with getters or fixed values;
 * they are stored as plain writable properties so later cells can reassign them.
 */
function createExports(): Record<string, unknown> {
  const store: Record<string, unknown> = {};
  return new Proxy(store, {
    defineProperty(target, prop, attrs) {
      if (prop === "__esModule") return true;
      target[prop as string] = attrs.get ? attrs.get() : attrs.value;
      return true;
    },
  });
}
