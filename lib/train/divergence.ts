/**
 * Divergence detection for the training loop: a step whose loss or update is not finite (NaN or
 * ±Inf) is caught at that step, without an extra GPU sync. The loss the loop reads anyway is read
 * together with `0 · Σ sum(w)` over the updated weights, which is 0 for finite weights and NaN as
 * soon as one weight is not — so a non-finite gradient shows at the step it appears, whatever the
 * optimizer. The weights from before each step are held (a second reference on their data, no copy)
 * so that a diverged step can be undone.
 *
 * Policy (`onDivergence` of `train`, `compare` and the CLI): `"stop"` (default) ends the run after the
 * diverged step with the weights of the last finite step put back, the run marked `diverged` (step
 * and reason) and nothing from that step evaluated or saved — the best checkpoint stays the last good
 * one; `"throw"` does the same and then throws a {@link DivergenceError}.
 */
import * as tf from "@tensorflow/tfjs";
import { finiteProbe } from "../backend/fused-ops.ts";

/** What a run does when a step's loss or update is not finite. */
export type DivergencePolicy = "stop" | "throw";

/** The diverged step of a run. */
export interface Divergence {
  /** The step (1-based, as in the history) whose loss or update was not finite. */
  step: number;
  /** The training loss read at that step (NaN or ±Inf when the loss itself diverged). */
  loss: number;
  /** What was not finite, in words. */
  reason: string;
}

/** Thrown by a run with `onDivergence: "throw"`; the weights are those of the last finite step. */
export class DivergenceError extends Error {
  /** The diverged step. */
  readonly divergence: Divergence;

  /** @param divergence the diverged step. */
  constructor(divergence: Divergence) {
    super(describeDivergence(divergence));
    this.name = "DivergenceError";
    this.divergence = divergence;
  }
}

/** One sentence naming the step and what diverged. */
export function describeDivergence(d: Divergence): string {
  return `training diverged at step ${d.step}: ${d.reason}; the weights of step ${d.step - 1} were kept`;
}

/** Checks `policy`; throws an error naming the allowed values. */
export function checkDivergencePolicy(policy: unknown): DivergencePolicy {
  if (policy === "stop" || policy === "throw") return policy;
  throw new Error(`onDivergence must be "stop" or "throw", got ${JSON.stringify(policy)}`);
}

/**
 * Holds the weights of `vars` as they are before a step (one extra reference on each variable's
 * data: no copy), to put them back if the step diverges.
 */
export class WeightHold {
  readonly #vars: tf.Variable[];
  readonly #held: tf.Tensor[];

  /** @param vars the variables the step updates. */
  constructor(vars: tf.Variable[]) {
    const engine = tf.engine();
    this.#vars = vars;
    this.#held = vars.map((v) => {
      const handle = engine.makeTensorFromDataId(v.dataId, v.shape, v.dtype);
      tf.backend().incRef(v.dataId);
      return tf.keep(handle);
    });
  }

  /** Puts the held weights back into the variables and releases them. */
  restore(): void {
    this.#vars.forEach((v, i) => {
      if (v.dataId !== this.#held[i].dataId) v.assign(this.#held[i]);
    });
    this.release();
  }

  /** Releases the held weights (the step was fine). */
  release(): void {
    tf.dispose(this.#held);
    this.#held.length = 0;
  }
}

/**
 * Reads a step's loss with one sync, together with a finiteness check of `vars` (the updated
 * weights). Disposes `cost`.
 *
 * @returns the loss, and the reason the step diverged (undefined when loss and weights are finite).
 */
export async function readStepLoss(cost: tf.Scalar, vars: tf.Variable[]): Promise<{ loss: number; diverged?: string }> {
  const read = tf.tidy(() => {
    const weightSum = vars.length > 0 ? tf.addN(vars.map((v) => finiteProbe(v))) : tf.scalar(0);
    return tf.stack([cost, tf.mul(weightSum, 0)]);
  });
  cost.dispose();
  const [loss, weightCheck] = await read.data();
  read.dispose();
  // SAM-family costs are also NaN when the gradient is not (see SAM.minimize).
  if (!Number.isFinite(loss)) return { loss, diverged: `the training loss or its gradient is ${loss}` };
  if (!Number.isFinite(weightCheck)) return { loss, diverged: "the update made weights non-finite (non-finite gradients)" };
  return { loss };
}
