/**
 * Ops that run a fused kernel where the active backend has one (wasm: lib/backend/wasm-fused.ts) and
 * tfjs's op chain elsewhere, with the same results up to the rounding stated for each.
 */
import * as tf from "@tensorflow/tfjs";
import { hasFusedKernel } from "./wasm-fused.ts";
import { PERTURB, SQUARED_NORM } from "./wasm-sam-kernels.ts";

/** Σx² of a float32 tensor as a scalar (fused: float64 accumulation, so within float32 rounding of the exact sum). */
export function squaredNorm(x: tf.Tensor): tf.Scalar {
  if (x.dtype === "float32" && hasFusedKernel(SQUARED_NORM)) return tf.engine().runKernel(SQUARED_NORM, { x }) as tf.Scalar;
  return tf.sum(tf.square(x));
}

/**
 * A scalar that is finite exactly when every element of `x` is (up to overflow of the sum): Σx² with
 * the fused kernel (one read pass), Σx elsewhere. For divergence checks added as `0·probe` to a loss.
 */
export function finiteProbe(x: tf.Tensor): tf.Scalar {
  return x.dtype === "float32" && hasFusedKernel(SQUARED_NORM) ? squaredNorm(x) : tf.sum(x);
}

/**
 * `w + (g·scale)·mask` (`mask` omitted: `w + g·scale`), the op chain's float32 operations in its order
 * (bit-identical when fused). `scale` is a scalar tensor; all float32, `g` and `mask` of `w`'s size.
 */
export function perturbedWeights(w: tf.Tensor, g: tf.Tensor, scale: tf.Scalar, mask?: tf.Tensor): tf.Tensor {
  const sameSize = (x: tf.Tensor) => x.dtype === "float32" && x.size === w.size;
  if (hasFusedKernel(PERTURB) && [w, g, ...(mask ? [mask] : [])].every(sameSize) && scale.dtype === "float32") {
    return tf.engine().runKernel(PERTURB, { w, g, scale, ...(mask && { mask }) }) as tf.Tensor;
  }
  const full = tf.mul(g, scale);
  return tf.add(w, mask ? tf.mul(full, mask) : full);
}
