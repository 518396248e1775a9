/**
 * Holding an optimizer's state as it is before a step, to put it back when the step diverges: a
 * non-finite gradient has already been folded into Adam's moments (and the step counts advanced)
 * by the time the loop reads the step's loss, so undoing only the weights would leave a run that
 * continues from the stopped optimizer with NaN moments.
 *
 * What is held: the step count of every optimizer of the chain (SAM-family wrappers, their `base`,
 * a clipping wrapper's `inner`), and every `tf.Variable` that the optimizers applying the update
 * (those that wrap no other optimizer: Adam, AdamW, SGD with momentum, …) keep in their fields,
 * arrays of `{ variable }` (tfjs) or maps of `{ m, v }` (AdamW). Like {@link WeightHold}, a second
 * reference on each variable's data: no copy. State created lazily during the step (the moments of
 * a first step) is disposed and removed on restore, as if the step had not run. The wrappers' own
 * state needs nothing more: SAM's perturbation lives within one step, and FisherSAM's mask refresh
 * is keyed on the step count (restored), so a refresh of the diverged step is redone.
 */
import * as tf from "@tensorflow/tfjs";
import { WeightHold } from "./divergence.ts";

/** The protected step counter of `tf.Optimizer`. */
type Counted = { iterations_?: number };

/** Whether `x` is an optimizer (tfjs's `instanceof tf.Optimizer` throws on null and undefined). */
function isOptimizer(x: unknown): x is tf.Optimizer {
  return x !== null && typeof x === "object" && x instanceof tf.Optimizer;
}

/** One container of state variables and what it held before the step. */
interface HeldContainer {
  /** Variables of the container that were there before the step. */
  before: Set<tf.Variable>;
  /** Removes (and disposes) what was added during the step. */
  trim(): void;
}

/** The variables of an entry of an optimizer's state (a variable, `{ variable }` or `{ m, v }`). */
function entryVariables(entry: unknown): tf.Variable[] {
  if (entry instanceof tf.Variable) return [entry];
  if (entry === null || typeof entry !== "object") return [];
  return Object.values(entry).filter((x): x is tf.Variable => x instanceof tf.Variable);
}

/** An array of state entries, trimmed back to its length before the step. */
function heldArray(array: unknown[]): HeldContainer {
  const length = array.length;
  return {
    before: new Set(array.flatMap(entryVariables)),
    trim() {
      tf.dispose(array.slice(length).flatMap(entryVariables));
      array.length = length;
    },
  };
}

/** A map of state entries, trimmed back to its keys before the step. */
function heldMap(map: Map<unknown, unknown>): HeldContainer {
  const keys = new Set(map.keys());
  return {
    before: new Set([...map.values()].flatMap(entryVariables)),
    trim() {
      for (const [key, entry] of map) {
        if (keys.has(key)) continue;
        tf.dispose(entryVariables(entry));
        map.delete(key);
      }
    },
  };
}

/** Holds an optimizer chain's state before a step; see the module comment. */
export class OptimizerStateHold {
  readonly #counts: [Counted, number | undefined][] = [];
  readonly #containers: HeldContainer[] = [];
  readonly #weights: WeightHold;

  /** @param optimizer the optimizer about to run a step. */
  constructor(optimizer: tf.Optimizer) {
    const variables: tf.Variable[] = [];
    const visit = (opt: tf.Optimizer): void => {
      this.#counts.push([opt as unknown as Counted, (opt as unknown as Counted).iterations_]);
      const fields = Object.values(opt);
      const wrapped = fields.filter(isOptimizer);
      if (wrapped.length > 0) {
        wrapped.forEach(visit);
        return;
      }
      for (const field of fields) {
        if (field instanceof tf.Variable) variables.push(field);
        else if (Array.isArray(field)) this.#containers.push(heldArray(field));
        else if (field instanceof Map) this.#containers.push(heldMap(field));
      }
    };
    visit(optimizer);
    for (const c of this.#containers) variables.push(...c.before);
    this.#weights = new WeightHold(variables.filter((v) => !v.isDisposed));
  }

  /** Puts the held state back (step counts, variables) and drops state the step created. */
  restore(): void {
    for (const [opt, count] of this.#counts) opt.iterations_ = count;
    this.#weights.restore();
    for (const c of this.#containers) c.trim();
  }

  /** Releases the held state (the step was fine). */
  release(): void {
    this.#weights.release();
  }
}
