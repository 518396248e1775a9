/**
 * What a cell left alive in tfjs, told apart: `tf.Variable`s are state a cell means to keep (a model's
 * weights, an optimizer's slots), every other new tensor is a leak. Each variable counts once in
 * `tf.memory().numTensors`, so the stray tensors are the growth of that count less the variables'.
 */

/** The part of the tfjs module the census reads. */
export interface CensusTf {
  /** `tf.memory()`. */
  memory(): { numTensors: number };
  /** `tf.engine()`. */
  engine(): { registeredVariables: Record<string, unknown> };
}

/** Live tensors and, among them, variables. */
export interface TensorCensus {
  /** All live tensors (variables included). */
  tensors: number;
  /** Registered `tf.Variable`s. */
  variables: number;
}

/** Counts the live tensors and variables now. */
export function takeCensus(tf: CensusTf): TensorCensus {
  return { tensors: tf.memory().numTensors, variables: Object.keys(tf.engine().registeredVariables).length };
}

/** The report lines on what a cell added: variables (neutral, stdout) and stray tensors (stderr). */
export interface CellLeftovers {
  /** A line on new variables, or undefined when there are none. */
  variables?: string;
  /** A line on new stray (non-variable) tensors, or undefined when there are none. */
  leak?: string;
}

/** Compares the census before and after a cell. */
export function cellLeftovers(before: TensorCensus, after: TensorCensus): CellLeftovers {
  const variables = after.variables - before.variables;
  const stray = after.tensors - before.tensors - variables;
  const out: CellLeftovers = {};
  if (variables > 0) {
    out.variables = `[fsam-lab] this cell keeps ${variables} new tf.Variable${variables === 1 ? "" : "s"} (model or optimizer state)\n`;
  }
  if (stray > 0) {
    out.leak = `[fsam-lab] this cell left ${stray} new tensor${stray === 1 ? "" : "s"} alive (not counting tf.Variables)\n`;
  }
  return out;
}
