/**
 * Gradient functions that tfjs can differentiate again, for exact Hessian-vector products.
 *
 * Why tfjs 4.22's own gradients fail at second order: a kernel whose gradient reuses the kernel's
 * *output* (Exp, Tanh, Sigmoid, Softmax; `outputsToSave` in its gradient config) saves a clone of
 * that output while the kernel runs, i.e. before the kernel's own node is on the gradient tape. The
 * tape therefore never links the clone to the kernel's inputs, and differentiating the gradient
 * silently drops every term that flows through the saved output (no error, a wrong H·v). Two more
 * kernels have no gradient at all: ScatterNd (the gradient of lib/models' embedding lookup) and
 * Equal (inside Max's gradient, which `tf.logSumExp` uses), so back-propagating through them
 * throws.
 *
 * The replacements below save the kernel's *inputs* and recompute what they need with ordinary
 * (differentiable) ops, so the tape stays connected; ScatterNd's gradient is a GatherNd of the
 * incoming gradient and Equal's is zero (a comparison is piecewise constant). Recomputing costs an
 * extra kernel per backward pass (a softmax per attention layer), so these are not installed for
 * ordinary training: {@link withSecondOrderGradients} swaps them in for the duration of one
 * synchronous computation (a double back-propagation) and puts tfjs's own back afterwards. It also
 * runs that computation under lib/models' `withAutodiffOps`: the analytic LayerNorm and GELU gradients
 * of lib/models/analytic-ops.ts are correct but not twice differentiable.
 *
 * `tf.logSoftmax` and `tf.losses.softmaxCrossEntropy` are `tf.customGrad` functions, not kernels,
 * so no registry entry can fix them; lib/models' classifier computes its log-probabilities as
 * `logits − logSumExp(logits)` instead, from kernels listed here.
 */
import * as tf from "@tensorflow/tfjs";
import { withAutodiffOps } from "../models/analytic-ops.ts";

/** A gradient config whose gradient function is built from differentiable ops only. */
function inputGradient(kernelName: string, derivative: (x: tf.Tensor) => tf.Tensor): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as tf.Tensor, derivative(saved[0])) }),
  };
}

/** The replacement gradients, by kernel. */
const SECOND_ORDER_GRADIENTS: readonly tf.GradConfig[] = [
  inputGradient("Exp", (x) => tf.exp(x)),
  inputGradient("Tanh", (x) => tf.sub(1, tf.square(tf.tanh(x)))),
  inputGradient("Sigmoid", (x) => {
    const s = tf.sigmoid(x);
    return tf.mul(s, tf.sub(1, s));
  }),
  {
    kernelName: "Softmax",
    inputsToSave: ["logits"],
    gradFunc: (dy, saved, attrs) => {
      const dim = (attrs as unknown as { dim: number }).dim;
      return {
        logits: () => {
          const y = tf.softmax(saved[0], dim);
          const dyTimesY = tf.mul(dy as tf.Tensor, y);
          return tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y));
        },
      };
    },
  },
  {
    kernelName: "ScatterNd",
    inputsToSave: ["indices"],
    gradFunc: (dy, saved) => ({
      updates: () => tf.gatherND(dy as tf.Tensor, saved[0]),
      indices: () => tf.zerosLike(saved[0]).toFloat(),
    }),
  },
  {
    kernelName: "Equal",
    inputsToSave: ["a", "b"],
    gradFunc: (_dy, saved) => ({
      a: () => tf.zerosLike(saved[0]).toFloat(),
      b: () => tf.zerosLike(saved[1]).toFloat(),
    }),
  },
];

/** The kernels whose gradient {@link withSecondOrderGradients} replaces. */
export const SECOND_ORDER_KERNELS: readonly string[] = SECOND_ORDER_GRADIENTS.map((c) => c.kernelName);

let active = false;

/**
 * Runs `fn` with the twice-differentiable gradients registered in place of tfjs's own, then restores
 * tfjs's registrations (also when `fn` throws). `fn` must be synchronous and must record and
 * back-propagate its whole gradient tape inside the call (as `tf.variableGrads` does); nested calls
 * run `fn` directly.
 */
export function withSecondOrderGradients<T>(fn: () => T): T {
  if (active) return fn();
  const previous = SECOND_ORDER_GRADIENTS.map((c) => tf.getGradient(c.kernelName) as tf.GradConfig | undefined);
  active = true;
  try {
    for (const config of SECOND_ORDER_GRADIENTS) tf.registerGradient(config);
    return withAutodiffOps(fn);
  } finally {
    SECOND_ORDER_GRADIENTS.forEach((config, i) => {
      const original = previous[i];
      if (original) tf.registerGradient(original);
      else tf.unregisterGradient(config.kernelName);
    });
    active = false;
  }
}
