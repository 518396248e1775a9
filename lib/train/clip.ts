/**
 * Global-norm gradient clipping, as `torch.nn.utils.clip_grad_norm_` (used by the HF Trainer with
 * `max_grad_norm = 1.0`): all gradients are scaled by min(1, maxNorm / (‖g‖₂ + 1e-6)), where ‖g‖₂
 * is the norm of all gradients concatenated.
 */
import * as tf from "@tensorflow/tfjs";
import { squaredNorm } from "../backend/fused-ops.ts";
import { canReadSync } from "../backend/read.ts";
import { reportWebgpuError } from "../backend/webgpu-backend.ts";

/** The global L2 norm of a set of gradients (all concatenated), as a scalar tensor (the caller disposes it). */
function globalNormTensor(grads: tf.NamedTensorMap): tf.Scalar {
  return tf.tidy(() => {
    const squares = Object.values(grads).map((g) => squaredNorm(g));
    return squares.length === 0 ? tf.scalar(0) : (tf.sqrt(tf.addN(squares)) as tf.Scalar);
  });
}

/** The global L2 norm of a set of gradients (all concatenated), read with `await data()`. */
export async function globalNorm(grads: tf.NamedTensorMap): Promise<number> {
  const total = globalNormTensor(grads);
  try {
    return (await total.data())[0];
  } finally {
    total.dispose();
  }
}

/**
 * {@link clipByGlobalNorm} without reading anything back: the scale min(1, maxNorm / (‖g‖₂ + 1e-6))
 * is applied on the backend, and the norm is returned as a scalar tensor. The caller disposes the
 * returned tensors (and the inputs).
 */
export function clipByGlobalNormOnDevice(
  grads: tf.NamedTensorMap,
  maxNorm: number,
): { grads: tf.NamedTensorMap; norm: tf.Scalar } {
  if (!(maxNorm > 0)) throw new Error(`clipNorm must be > 0, got ${maxNorm}`);
  return tf.tidy(() => {
    const norm = globalNormTensor(grads);
    const coef = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
    const out: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads)) out[name] = tf.mul(g, coef);
    return { grads: out, norm };
  });
}

/**
 * Scales the gradients so their global norm is at most `maxNorm`. Resolves with new tensors (the
 * caller disposes them and the inputs) and the norm before clipping, read with `await data()`.
 */
export async function clipByGlobalNorm(
  grads: tf.NamedTensorMap,
  maxNorm: number,
): Promise<{ grads: tf.NamedTensorMap; norm: number }> {
  const clipped = clipByGlobalNormOnDevice(grads, maxNorm);
  try {
    return { grads: clipped.grads, norm: (await clipped.norm.data())[0] };
  } finally {
    clipped.norm.dispose();
  }
}

/**
 * An optimizer that clips the gradients it receives to a global norm, then hands them to `inner`.
 * Used as the base optimizer of SAM/FSAM, it clips the gradient at the perturbed point, which is the
 * one applied.
 */
export class GradientClipping extends tf.Optimizer {
  /** Name under which tfjs serialises the optimizer. */
  static get className(): string {
    return "GradientClipping";
  }

  /**
   * Global norm of the last gradients received, before clipping (NaN before the first step). On
   * webgpu it is set once the value has been read back, asynchronously.
   */
  lastNorm = Number.NaN;

  /** Wraps `inner`; `maxNorm` must be > 0. */
  constructor(
    readonly inner: tf.Optimizer,
    readonly maxNorm: number,
  ) {
    super();
    if (!(maxNorm > 0)) throw new Error(`clipNorm must be > 0, got ${maxNorm}`);
  }

  /** Clips the gradients, then applies them with the inner optimizer. */
  applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const grads: tf.NamedTensorMap = Array.isArray(variableGradients)
      ? Object.fromEntries(variableGradients.map((g) => [g.name, g.tensor]))
      : variableGradients;
    const clipped = clipByGlobalNormOnDevice(grads, this.maxNorm);
    try {
      this.inner.applyGradients(clipped.grads);
    } finally {
      tf.dispose(Object.values(clipped.grads));
    }
    if (canReadSync()) {
      // wasm/cpu: read now, so that lastNorm is the norm of this step as soon as minimize returns.
      this.lastNorm = clipped.norm.dataSync()[0];
      clipped.norm.dispose();
    } else {
      // webgpu: the norm arrives asynchronously (by the next awaited read, e.g. the step's loss).
      void clipped.norm
        .data()
        .then((v) => {
          this.lastNorm = v[0];
        })
        .catch(reportWebgpuError)
        .finally(() => clipped.norm.dispose());
    }
    this.incrementIterations();
  }

  /** Frees the inner optimizer's state. */
  override dispose(): void {
    this.inner.dispose();
  }

  /** The clipping norm and the inner optimizer's configuration. */
  getConfig(): tf.serialization.ConfigDict {
    return { maxNorm: this.maxNorm, inner: this.inner.getConfig() };
  }
}
