/**
 * LayerNorm and exact (erf) GELU with analytic gradients (`tf.customGrad`), built from tfjs ops so
 * that they run on every backend.
 *
 * tfjs's autodiff of the plain formulas runs long chains of small kernels for their backward
 * passes: `tf.moments`' mean and variance each back-propagate through Mean's gradient (which builds
 * a full-size array of ones in JS and divides it), Sub, Square and broadcasting Adds whose gradients
 * reduce again; GELU's backward pass differentiates Erf (an Exp, a Square and several Muls) on top of
 * the products around it. Here the forward pass saves what the backward pass needs — LayerNorm the
 * normalised rows x̂ and the per-row 1/σ, GELU the scaled input x/√2 and Φ(x) — and the backward pass
 * applies the closed forms directly; no gradient of `tf.mean` is involved.
 *
 * The saved tensors are computed inside the custom op, so tfjs's tape does not link them to the
 * inputs: these gradients are correct, but differentiating them again (double back-propagation for
 * Hessian-vector products) would miss every term through x̂, 1/σ and Φ. {@link withAutodiffOps}
 * therefore switches lib/models back to the plain autodiff formulas for one synchronous computation
 * (lib/inspect's `withSecondOrderGradients` runs every double back-propagation inside it), and they
 * are also used whenever nested gradient tapes record the forward pass (tfjs 4.22's engine state).
 */
import * as tf from "@tensorflow/tfjs";

let autodiffDepth = 0;

/**
 * Runs `fn` with lib/models' LayerNorm and GELU built from plain tfjs ops (twice differentiable by
 * tfjs's autodiff) instead of the analytic-gradient versions of this module; restores the previous
 * choice afterwards, also when `fn` throws. `fn` must be synchronous (as a gradient computation is);
 * calls nest.
 */
export function withAutodiffOps<T>(fn: () => T): T {
  autodiffDepth++;
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error("withAutodiffOps: fn must be synchronous");
    return result;
  } finally {
    autodiffDepth--;
  }
}

/**
 * Whether lib/models uses the analytic-gradient ops of this module now: false inside
 * {@link withAutodiffOps}, and false while two or more gradient tapes record (a gradient of a
 * gradient, e.g. nested `tf.grad` calls), so that hand-written double back-propagation stays exact.
 */
export function analyticGradientOpsActive(): boolean {
  return autodiffDepth === 0 && (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth < 2;
}

/**
 * LayerNorm over the last axis, `(x − mean) / sqrt(var + eps) · gamma + beta` with the biased
 * variance, for `x` of any rank `[..., H]` and `gamma`, `beta` of shape `[H]`. Its gradient is
 * analytic: with ĝ = dy·γ, dx = (1/σ)·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) per row, dγ = Σ dy·x̂ and
 * dβ = Σ dy over all leading axes.
 */
export function analyticLayerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): T {
  const shape = x.shape;
  const width = shape[shape.length - 1];
  if (gamma.shape.length !== 1 || gamma.shape[0] !== width || beta.shape.length !== 1 || beta.shape[0] !== width) {
    throw new Error(
      `layerNorm: gamma and beta must have shape [${width}] (the last axis of x ${JSON.stringify(shape)}), ` +
        `got ${JSON.stringify(gamma.shape)} and ${JSON.stringify(beta.shape)}`,
    );
  }
  const rows = width === 0 ? 0 : x.size / width;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const x2 = tf.reshape(input, [rows, width]);
    const mean = tf.mean(x2, -1, true);
    const centred = tf.sub(x2, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps));
    const normalized = tf.mul(centred, rstd);
    save([normalized, rstd, g]);
    return {
      value: tf.reshape(tf.add(tf.mul(normalized, g), b), shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xHat, invStd, gammaSaved] = saved;
        const dy2 = tf.reshape(dy, [rows, width]);
        const dxHat = tf.mul(dy2, gammaSaved);
        // (1/σ)·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with the row factors folded into [rows, 1] columns.
        const meanScale = tf.div(invStd, width);
        const rowShift = tf.mul(tf.sum(dxHat, -1, true), meanScale);
        const rowSlope = tf.mul(tf.sum(tf.mul(dxHat, xHat), -1, true), meanScale);
        const dx = tf.sub(tf.mul(dxHat, invStd), tf.add(tf.mul(xHat, rowSlope), rowShift));
        return [tf.reshape(dx, shape), tf.sum(tf.mul(dy2, xHat), 0), tf.sum(dy2, 0)];
      },
    };
  });
  return op(x, gamma, beta) as T;
}

const SQRT_HALF = Math.SQRT1_2;
/** −ln √π: x·φ(x) = h·exp(−h² − ln √π) with h = x/√2 and φ the standard normal density. */
const NEG_LOG_SQRT_PI = -0.5 * Math.log(Math.PI);

/**
 * Exact GELU `x·Φ(x) = 0.5·x·(1 + erf(x/√2))` (Hugging Face's "gelu"), with the analytic gradient
 * dy·(Φ(x) + x·φ(x)), its exponential taken through a sigmoid (see the gradient function).
 */
export function analyticGelu<T extends tf.Tensor>(x: T): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const scaled = tf.mul(input, SQRT_HALF);
    const cdf = tf.add(tf.mul(tf.erf(scaled), 0.5), 0.5);
    save([scaled, cdf]);
    return {
      value: tf.mul(input, cdf),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [h, phi] = saved;
        // exp(z) for z = −h² − ln √π < −0.57 as q/(1 − q) with q = sigmoid(z) ≤ 0.36 (no cancellation):
        // tfjs-backend-wasm's Exp is a scalar loop, ~8× slower than its vectorised (XNNPACK) Sigmoid.
        const q = tf.sigmoid(tf.sub(NEG_LOG_SQRT_PI, tf.square(h)));
        const xDensity = tf.mul(h, tf.div(q, tf.sub(1, q)));
        return tf.mul(dy, tf.add(phi, xDensity));
      },
    };
  });
  return op(x) as T;
}
