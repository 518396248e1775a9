/** The cell compiler, built on first use: building it takes a blocking second or more. */
import { CellCompiler } from "./compiler.ts";
import type { Log } from "./log.ts";

/** Holds the kernel's one compiler. */
export class LazyCompiler {
  #compiler: CellCompiler | undefined;
  readonly #log: Log;

  /** @param log where the build time is logged. */
  constructor(log: Log) {
    this.#log = log;
  }

  /** The compiler, built now if it was not yet. */
  get(): CellCompiler {
    if (!this.#compiler) {
      const t0 = performance.now();
      this.#compiler = new CellCompiler(process.cwd());
      this.#log(`compiler ready in ${Math.round(performance.now() - t0)} ms`);
    }
    return this.#compiler;
  }

  /** Closes the compiler, if it was built. */
  close(): void {
    this.#compiler?.close();
  }
}
