/**
 * Global-norm gradient clipping, as `torch.nn.utils.clip_grad_norm_` (used by the HF Trainer with
 * `max_grad_norm = 1.0`): all gradients are scaled by min(1, maxNorm / (‖g‖₂ + 1e-6)), where ‖g‖₂
 * is the norm of all gradients concatenated.
 */
import * as tf from "@tensorflow/tfjs";

/** The global L2 norm of a set of gradients (all concatenated), as a number. */
export function globalNorm(grads: tf.NamedTensorMap): number {
  const total = tf.tidy(() => {
    const squares = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    return squares.length === 0 ? tf.scalar(0) : tf.sqrt(tf.addN(squares));
  });
  const norm = total.dataSync()[0];
  total.dispose();
  return norm;
}

/**
 * Scales the gradients so their global norm is at most `maxNorm`. Returns new tensors (the caller
 * disposes them and the inputs) and the norm before clipping.
 */
export function clipByGlobalNorm(
  grads: tf.NamedTensorMap,
  maxNorm: number,
): { grads: tf.NamedTensorMap; norm: number } {
  if (!(maxNorm > 0)) throw new Error(`clipNorm must be > 0, got ${maxNorm}`);
  const norm = globalNorm(grads);
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  const out: tf.NamedTensorMap = {};
  for (const [name, g] of Object.entries(grads)) out[name] = coef < 1 ? tf.mul(g, coef) : tf.clone(g);
  return { grads: out, norm };
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

  /** Global norm of the last gradients received, before clipping (NaN before the first step). */
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
    const clipped = clipByGlobalNorm(grads, this.maxNorm);
    this.lastNorm = clipped.norm;
    try {
      this.inner.applyGradients(clipped.grads);
    } finally {
      tf.dispose(Object.values(clipped.grads));
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
