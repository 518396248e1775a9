/**
 * danfo.js, loaded on first use. Importing `danfojs-node` takes about two seconds, which every kernel
 * start and every CLI run would otherwise pay before doing anything; modules that return DataFrames
 * import only its types and build frames through {@link newDataFrame}.
 */
import { createRequire } from "node:module";
import type * as Danfo from "danfojs-node";

let loaded: typeof Danfo | undefined;

/** The danfo.js module (`danfojs-node`), required on the first call. */
export function danfo(): typeof Danfo {
  loaded ??= createRequire(import.meta.url)("danfojs-node") as typeof Danfo;
  return loaded;
}

/** `new dfd.DataFrame(...)` without loading danfo.js before it is needed. */
export function newDataFrame(...args: ConstructorParameters<typeof Danfo.DataFrame>): Danfo.DataFrame {
  const { DataFrame } = danfo();
  return new DataFrame(...args);
}
