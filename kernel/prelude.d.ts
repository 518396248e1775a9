/**
 * Globals the FSAM Lab kernel defines before the first cell, typed for the cell compiler
 * (completion and quick info on `tf.`, `fsam.`, `dfd.`, `display.` come from here). `tf`, `fsam` and
 * `dfd` are namespace aliases, so their types work in annotations too (`const t: tf.Tensor = …`).
 */
import * as TensorFlow from "@tensorflow/tfjs";
import * as FsamLab from "fsam-lab";
import * as Danfo from "danfojs-node";

declare global {
  /** TensorFlow.js, the instance the library uses, on the backend `fsam.initBackend` chose. */
  export import tf = TensorFlow;
  /** The FSAM Lab library (`fsam-lab`): optimizers, models, data, training, inspection, plots. */
  export import fsam = FsamLab;
  /** danfo.js (data frames), loaded on first use. */
  export import dfd = Danfo;
  /** Shows rich output in the cell: `display(x)`, `display.html(…)`, `display(x, {displayId})`, … */
  const display: import("./display-api").Display;
  /** Replaces the output shown earlier under `displayId`. */
  const updateDisplay: import("./display-api").Display["update"];
  /** Clears the cell's output (with `wait`, when the next output arrives). */
  const clearOutput: import("./display-api").Display["clear"];
  /** Asks the user for a line of text (the notebook's input box); resolves to what they typed. */
  function prompt(message?: string, options?: { password?: boolean }): Promise<string>;
  /** The signal of the running cell: it fires when the user interrupts the kernel. */
  function abortSignal(): AbortSignal;
  /** Jupyter comms: `comms.registerTarget(name, (comm, data) => …)`, `comms.open(name, data)`; `comm.send(data, buffers)`. */
  const comms: import("./comms").CommRegistry;
}
