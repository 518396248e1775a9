/**
 * Globals the FSAM Lab kernel defines before the first cell, typed for the cell compiler
 * (completion and quick info on `tf.`, `fsam.`, `dfd.`, `display.` come from here).
 */

/** TensorFlow.js, the instance the library uses, on the backend `fsam.initBackend` chose. */
declare const tf: typeof import("@tensorflow/tfjs");
/** The FSAM Lab library (`fsam-lab`): optimizers, models, data, training, inspection, plots. */
declare const fsam: typeof import("fsam-lab");
/** danfo.js (data frames), loaded on first use. */
declare const dfd: typeof import("danfojs-node");
/** Shows rich output in the cell: `display(x)`, `display.html(…)`, `display(x, {displayId})`, … */
declare const display: import("./display-api").Display;
/** Replaces the output shown earlier under `displayId`. */
declare const updateDisplay: import("./display-api").Display["update"];
/** Clears the cell's output (with `wait`, when the next output arrives). */
declare const clearOutput: import("./display-api").Display["clear"];
/** Asks the user for a line of text (the notebook's input box); resolves to what they typed. */
declare function prompt(message?: string, options?: { password?: boolean }): Promise<string>;
/** The signal of the running cell: it fires when the user interrupts the kernel. */
declare function abortSignal(): AbortSignal;
/** Jupyter comms: `comms.registerTarget(name, (comm, data) => …)`, `comms.open(name, data)`; `comm.send(data, buffers)`. */
declare const comms: import("./comms").CommRegistry;
