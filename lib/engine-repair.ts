/**
 * Putting the tfjs engine back together after JavaScript was stopped in the middle of an operation.
 *
 * A SIGINT delivered to code run with `breakOnSigint` (the kernel's Stop button) terminates it at once:
 * no `finally` runs, so `tf.tidy`, `tf.grad` and the kernel calls inside them leave their scopes
 * open, the gradient tape on and the kernel depth above zero. From then on every gradient fails
 * ("Cannot compute gradient of y=f(x)…"). {@link resetEngineAfterAbort} closes what was left open,
 * disposes the tensors of the abandoned scopes and runs the undo steps library code registered with
 * {@link onAbortUndo} for work it could not finish (SAM's perturbed weights).
 */
import * as tf from "@tensorflow/tfjs";

/** What {@link resetEngineAfterAbort} found left open and undid. */
export interface EngineRepair {
  /** Scopes (`tf.tidy`, ops) that were still open. */
  scopesClosed: number;
  /** Tensors of those scopes and of the abandoned gradient tape that were disposed. */
  tensorsDisposed: number;
  /** Nested `tf.grad`/`variableGrads` calls that were still recording (the gradient depth). */
  gradientDepth: number;
  /** Nested kernel calls that were still running (the kernel depth). */
  kernelDepth: number;
  /** Undo steps of unfinished library work that ran (e.g. SAM restoring its unperturbed weights). */
  undone: number;
  /** Variables whose data was freed half-way through an `assign` (they can no longer be read). */
  brokenVariables: string[];
}

/** The parts of tfjs's engine state this module reads and resets. */
interface EngineState {
  scopeStack: { track: tf.Tensor[] }[];
  activeScope: unknown;
  gradientDepth: number;
  kernelDepth: number;
  activeTape: { saved?: tf.Tensor[] }[] | null;
  numDataMovesStack: number[];
  tensorInfo: WeakMap<object, unknown>;
}

const undoSteps = new Set<() => void>();

/**
 * Registers an undo step for work that must not be left half-done if JavaScript is stopped before
 * the caller's own `finally` runs. Call the returned function when the work completes (it removes
 * the step without running it).
 */
export function onAbortUndo(undo: () => void): () => void {
  undoSteps.add(undo);
  return () => void undoSteps.delete(undo);
}

function engineState(): EngineState {
  return (tf.engine() as unknown as { state: EngineState }).state;
}

/** True when no tfjs scope, tape or kernel call is open (always so between notebook cells). */
export function engineIsIdle(): boolean {
  const s = engineState();
  return s.scopeStack.length === 0 && s.gradientDepth === 0 && s.kernelDepth === 0 && s.numDataMovesStack.length === 0 && undoSteps.size === 0;
}

/**
 * Restores the tfjs engine after an aborted operation; call it only when no tfjs call is on the stack
 * (between cells). Runs registered undo steps, disposes the tensors of open scopes and of the
 * abandoned gradient tape (variables are never disposed) and resets the scope stack, gradient depth,
 * kernel depth and data-move stack.
 *
 * @returns what was repaired, or undefined when the engine was whole.
 */
export function resetEngineAfterAbort(): EngineRepair | undefined {
  if (engineIsIdle()) return undefined;
  const engine = tf.engine() as unknown as Record<string, unknown>;
  const s = engineState();
  const repair: EngineRepair = {
    scopesClosed: s.scopeStack.length,
    tensorsDisposed: 0,
    gradientDepth: s.gradientDepth,
    kernelDepth: s.kernelDepth,
    undone: 0,
    brokenVariables: [],
  };
  // Undo steps first: they may need the engine's own methods as the aborted code left them.
  for (const undo of [...undoSteps]) {
    undoSteps.delete(undo);
    try {
      undo();
      repair.undone += 1;
    } catch {
      // A failed undo leaves what it covered as it was; the rest of the repair still runs.
    }
  }
  s.kernelDepth = 0;
  s.gradientDepth = 0;
  s.numDataMovesStack = [];
  const dispose = (t: tf.Tensor) => {
    if (t instanceof tf.Variable || t.isDisposed || (t as unknown as { kept?: boolean }).kept) return;
    t.dispose();
    repair.tensorsDisposed += 1;
  };
  for (const node of s.activeTape ?? []) {
    for (const t of node.saved ?? []) {
      if (t instanceof tf.Variable || t.isDisposed) continue;
      t.dispose();
      repair.tensorsDisposed += 1;
    }
  }
  s.activeTape = null;
  while (s.scopeStack.length > 0) {
    const scope = s.scopeStack.pop()!;
    scope.track.forEach(dispose);
  }
  s.activeScope = null;
  // `engine.keep` may still be wrapped by code that meant to unwrap it in a `finally`.
  const protoKeep = (Object.getPrototypeOf(engine) as Record<string, unknown>).keep;
  if (Object.hasOwn(engine, "keep") && engine.keep !== protoKeep) engine.keep = protoKeep;
  for (const [name, v] of Object.entries(tf.engine().registeredVariables)) {
    if (!s.tensorInfo.has(v.dataId)) repair.brokenVariables.push(name);
  }
  return repair;
}

/** One line describing a repair, for a notebook or log. */
export function describeEngineRepair(r: EngineRepair): string {
  const parts = [
    `closed ${r.scopesClosed} open scope${r.scopesClosed === 1 ? "" : "s"}`,
    `disposed ${r.tensorsDisposed} abandoned tensor${r.tensorsDisposed === 1 ? "" : "s"}`,
  ];
  if (r.gradientDepth > 0) parts.push(`stopped ${r.gradientDepth} gradient recording${r.gradientDepth === 1 ? "" : "s"}`);
  if (r.undone > 0) parts.push(`undid ${r.undone} unfinished step${r.undone === 1 ? "" : "s"} (e.g. SAM's perturbation)`);
  let line = `the interrupt stopped tfjs mid-operation; its engine was restored (${parts.join(", ")})`;
  if (r.brokenVariables.length > 0) {
    line += `; these variables lost their values and must be recreated: ${r.brokenVariables.join(", ")}`;
  }
  return line;
}
