/**
 * Empirical Fisher information per parameter: F_j = (1/N) Σ_{i<N} (∂ loss(i) / ∂w_j)².
 */
import * as tf from "@tensorflow/tfjs";
import { checkPositiveInt } from "../check.ts";

/**
 * Calls `loss(i)` and checks that it returned a scalar tensor; the error names the option
 * (`fisherLoss`), the index and what came back.
 */
export function scalarLoss(loss: (i: number) => tf.Scalar, i: number, optionName = "fisherLoss"): tf.Scalar {
  const y: unknown = loss(i);
  if (!(y instanceof tf.Tensor)) {
    throw new Error(`option ${optionName}(${i}) must return a scalar tf.Tensor, got ${String(y)}`);
  }
  if (y.rank !== 0) {
    throw new Error(`option ${optionName}(${i}) must return a scalar, got a tensor of shape [${y.shape.join(", ")}]`);
  }
  return y as tf.Scalar;
}

/**
 * The empirical Fisher information of every variable in `vars`: the mean over i < n of the squared
 * gradient of `loss(i)`, one backward pass per call. With per-example losses this is the per-sample
 * Fisher of FSAM; with n = 1 and a mini-batch loss it is the squared batch gradient.
 *
 * The squared gradients are accumulated on the backend and read back once per variable at the end,
 * synchronously: on wasm/cpu only (FisherSAM's in-step refresh, behind `canReadSync()`); use
 * {@link computeFisherAsync} wherever webgpu may run. A variable that `loss` does not depend on gets zeros.
 *
 * @param loss Returns the scalar loss of the i-th sample.
 * @param vars Variables to score (all must be trainable, so that gradients flow).
 * @param n Number of calls N (integer ≥ 1).
 * @returns Per-variable-name Fisher scores, each the size of its variable.
 */
export function computeFisher(
  loss: (i: number) => tf.Scalar,
  vars: tf.Variable[],
  n: number,
): Map<string, Float32Array> {
  const means = fisherTensors(loss, vars, n);
  try {
    return new Map(vars.map((v, j) => [v.name, means[j].dataSync() as Float32Array]));
  } finally {
    tf.dispose(means);
  }
}

/**
 * {@link computeFisher} reading the scores back with `await data()`, as the webgpu backend
 * requires (same values). The scores are computed before the first `await`, at the weights of the
 * call, and kept out of any enclosing `tf.tidy` until they are read.
 */
export async function computeFisherAsync(
  loss: (i: number) => tf.Scalar,
  vars: tf.Variable[],
  n: number,
): Promise<Map<string, Float32Array>> {
  const means = fisherTensors(loss, vars, n).map((m) => tf.keep(m));
  try {
    const data = await Promise.all(means.map((m) => m.data() as Promise<Float32Array>));
    return new Map(vars.map((v, j) => [v.name, data[j]]));
  } finally {
    tf.dispose(means);
  }
}

/** The Fisher scores of {@link computeFisher} as tensors on the backend, aligned with `vars` (the caller disposes them). */
function fisherTensors(loss: (i: number) => tf.Scalar, vars: tf.Variable[], n: number): tf.Tensor[] {
  checkPositiveInt("computeFisher: n", n);
  if (vars.length === 0) return [];
  // The first sample's squares start the sums (no zero-filled accumulators to allocate and add).
  let sums: tf.Tensor[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const next = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => scalarLoss(loss, i), vars);
        value.dispose();
        return vars.map((v, j) => {
          const g = grads[v.name];
          if (i === 0) return g == null ? tf.zeros(v.shape) : tf.square(g);
          return g == null ? sums[j].clone() : tf.add(sums[j], tf.square(g));
        });
      });
      tf.dispose(sums);
      sums = next;
    }
    return tf.tidy(() => sums.map((s) => tf.div(s, n)));
  } finally {
    tf.dispose(sums);
  }
}
