/**
 * The tensor operations a BERT forward pass is built from, written with raw tfjs ops so that
 * gradients reach the variables through `tf.variableGrads` and optimizers on every backend
 * (including wasm, which lacks the kernel tfjs uses for the gradient of `tf.gather`).
 */
import * as tf from "@tensorflow/tfjs";
import type { BertActivation } from "./config.ts";
import { dropoutMask } from "./dropout-mask.ts";
import { analyticGelu, analyticGradientOpsActive, analyticLayerNorm } from "./analytic-ops.ts";
import { hasFusedKernel } from "../backend/wasm-fused.ts";
import { GELU } from "../backend/wasm-gelu.ts";

/**
 * A linear layer with Hugging Face's weight layout: `x [n, in] · weightᵀ + bias`, with
 * `weight [out, in]` and `bias [out]`, as one transposed matMul. On wasm with `initBackend`'s
 * matmul patch (lib/backend/wasm-matmul.ts) this measured 5–20 % slower than an `[in, out]` layout
 * and 4–7 % faster than transposing the weight first (bench/models.ts, fwd+bwd of 256→1024 on 4096
 * tokens); tfjs-backend-wasm without the patch runs transposed products (hence every backward pass)
 * an order of magnitude slower.
 */
export function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(x, weight, false, true), bias);
}

/**
 * LayerNorm over the last axis: `(x − mean) / sqrt(var + eps) · gamma + beta` (biased variance), with
 * an analytic gradient (lib/models/analytic-ops.ts) except inside `withAutodiffOps`.
 */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): T {
  return analyticGradientOpsActive() ? analyticLayerNorm(x, gamma, beta, eps) : autodiffLayerNorm(x, gamma, beta, eps);
}

/** {@link layerNorm} from plain tfjs ops, differentiated (to any order) by tfjs's autodiff. */
export function autodiffLayerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): T {
  const { mean, variance } = tf.moments(x, -1, true);
  const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normalized, gamma), beta) as T;
}

const SQRT_HALF = Math.SQRT1_2;
const SQRT_TWO_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * Applies a feed-forward activation by its Hugging Face name ("gelu" is the exact erf form: the fused
 * wasm kernels of lib/backend/wasm-gelu.ts where registered, else with an analytic gradient from
 * lib/models/analytic-ops.ts except inside `withAutodiffOps`).
 */
export function activate<T extends tf.Tensor>(x: T, name: BertActivation): T {
  switch (name) {
    case "gelu":
      // One SIMD pass forward and one backward where the backend has the fused kernels (wasm; they
      // are differentiable to any order), the analytic or autodiff op chain elsewhere.
      if (hasFusedKernel(GELU)) return tf.engine().runKernel(GELU, { x }) as T;
      return analyticGradientOpsActive() ? analyticGelu(x) : autodiffGelu(x);
    case "gelu_new":
    case "gelu_pytorch_tanh": {
      const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_TWO_OVER_PI);
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as T;
    }
    case "relu":
      return tf.relu(x);
  }
}

/** Exact GELU `0.5·x·(1 + erf(x/√2))` from plain tfjs ops, differentiated (to any order) by tfjs's autodiff. */
export function autodiffGelu<T extends tf.Tensor>(x: T): T {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1)) as T;
}

/**
 * Rows of `table [rows, dim]` picked by `ids [n]` (int32) → `[n, dim]`. Its gradient is a dense
 * `[rows, dim]` tensor summing the incoming rows per id (scatter-add), which every backend supports.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const t = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([tf.reshape(ids, [ids.shape[0], 1])]);
    return {
      value: tf.gather(t, ids),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(saved[0], dy, t.shape),
    };
  });
  return lookup(table) as tf.Tensor2D;
}

/**
 * Additive attention mask from a 0/1 mask `[batch, seq]`: 0 where attended, the most negative
 * float32 where masked (as Hugging Face does), shaped `[batch, 1, 1, seq]` to broadcast over heads
 * and query positions.
 */
export function additiveAttentionMask(attentionMask: tf.Tensor2D): tf.Tensor4D {
  const [batch, seq] = attentionMask.shape;
  const masked = tf.sub(1, tf.cast(attentionMask, "float32"));
  return tf.reshape(tf.mul(masked, MASKED_SCORE), [batch, 1, 1, seq]);
}

/** The score added at masked positions: float32's lowest value (`torch.finfo(torch.float32).min`). */
export const MASKED_SCORE = -3.4028234663852886e38;

/**
 * Dropout with rate `rate` and a per-call seed; identity when `rate` is 0: `x` times the seed's
 * multiplier (0 or 1/(1−rate) per element, lib/models/dropout-mask.ts; the same on every backend).
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  if (!(rate > 0)) return x;
  return tf.mul(x, dropoutMask(x.shape, rate, seed)) as T;
}
