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
  /** Shared with the control thread: element 0 becomes 1 when an interrupt_request arrived. */
  readonly #interruptFlag: Int32Array;
  #nextId = 1;
  /** When (performance.now()) a cell was last interrupted. */
  lastInterruptAt = -Infinity;

  /**
   * @param loader resolves and loads the modules cells import.
   * @param interruptFlag set by the control thread on interrupt_request (polled by loop guards).
   */
  constructor(loader: ModuleLoader, interruptFlag: Int32Array) {
    this.#loader = loader;
    this.#interruptFlag = interruptFlag;
    this.exports = createExports();
  }

  /** Id the next cell's code will get (its file name in tracebacks). */
  get nextId(): number {
    return this.#nextId;
  }

  /** The guard loops in cell code call: throws when the running cell was interrupted. */
  guard = (): void => {
    const cell = currentCell();
    if (Atomics.load(this.#interruptFlag, 0) === 1) {
      Atomics.store(this.#interruptFlag, 0, 0);
      if (cell) this.interrupt(cell);
    }
    if (cell?.interrupted) throw new KeyboardInterrupt();
  };

  /** Marks a cell interrupted: fires its abort signal (loops and awaits stop at the next check). */
  interrupt(cell: CellContext): void {
    if (cell.interrupted) return;
    cell.interrupted = true;
    this.lastInterruptAt = performance.now();
    cell.abort.abort(new KeyboardInterrupt());
  }

  /**
   * Runs a compiled cell inside the current cell context.
   *
   * @throws whatever the cell throws; KeyboardInterrupt when interrupted.
   */
  async run(cell: CompiledCell, ctx: CellContext): Promise<RunResult> {
    await this.#loader.prepare(requiredSpecifiers(cell.js));
    const id = this.#nextId++;
    const fn = cell.hasTopLevelAwait ? "async function" : "function";
    const source = `(${fn}(exports, require, ${GUARD_NAME}) {\n${insertLoopGuards(cell.js)}\n}).call(undefined, ${ARGS_KEY}.exports, ${ARGS_KEY}.require, ${ARGS_KEY}.guard)`;
    (globalThis as Record<string, unknown>)[ARGS_KEY] = { exports: this.exports, require: this.#loader.require, guard: this.guard };
    let ret: unknown;
    try {
      ret = new vm.Script(source, { filename: cellFileName(id), lineOffset: -1 }).runInThisContext({ breakOnSigint: true });
    } catch (err) {
      if ((err as { code?: string }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") {
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
