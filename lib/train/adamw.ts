/**
 * AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, ICLR 2019), as Hugging Face's
 * `AdamW` / `torch.optim.AdamW` compute it. tfjs's Adam has no weight decay and a fixed learning
 * rate, so the trainer uses this one for `adam` and `adamw`.
 *
 * One step for a parameter w with gradient g (t counts from 1):
 *   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,
 *   w ← w − lr·λ·w  (decayed variables only; λ = weightDecay),
 *   w ← w − lr·(m / (1−β1ᵗ)) / (sqrt(v / (1−β2ᵗ)) + ε).
 * Biases and LayerNorm weights are not decayed, as in HF's `run_glue.py` (`no_decay = ["bias",
 * "LayerNorm.weight"]`), unless `decay` says otherwise.
 *
 * With `weightDecayMode: "l2"` the decay is classic L2 regularisation instead, as `torch.optim.Adam`'s
 * `weight_decay` computes it: g ← g + λ·w before the moments, and no decoupled shrinking. That is
 * what the FSAM authors ran: their `samsgd` optimizer wraps `torch.optim.Adam` (not fairseq's own
 * Adam, which is decoupled) with `--weight-decay 0.01` on one parameter group (every parameter).
 */
import * as tf from "@tensorflow/tfjs";
import { ADAMW_UPDATE, type AdamWUpdateAttrs } from "../backend/wasm-adamw.ts";
import { hasFusedKernel } from "../backend/wasm-fused.ts";
import { hfName } from "../names.ts";
import { optimizerOptionTable as table } from "../optim/option-table.ts";

/** Options of {@link AdamW}. Defaults are the FSAM paper's fine-tuning settings. */
export interface AdamWOptions {
  /** Step size. Default 1e-3 (the trainer sets it every step from its schedule). */
  learningRate?: number;
  /** Decay of the first moment. Default: the option table's `beta1` (lib/optim/option-table.ts). */
  beta1?: number;
  /** Decay of the second moment. Default: the option table's `beta2` (FSAM paper, following RoBERTa). */
  beta2?: number;
  /** Added to the denominator. Default: the option table's `epsilon` (FSAM paper). */
  epsilon?: number;
  /** Decoupled weight decay λ. Default 0 (plain Adam); 0.01 is the paper's value for AdamW. */
  weightDecay?: number;
  /**
   * Which variables are decayed, given the tfjs variable name. Default: all except biases and
   * LayerNorm weights ({@link decayedByDefault}).
   */
  decay?: (variableName: string) => boolean;
  /**
   * `"decoupled"` (default): w ← w − lr·λ·w, AdamW. `"l2"`: λ·w is added to the gradient before the
   * moments (`torch.optim.Adam`'s `weight_decay`, the FSAM authors' setting).
   */
  weightDecayMode?: "decoupled" | "l2";
}

/**
 * True for variables Hugging Face decays: everything except names containing `bias`, `LayerNorm.`
 * or `layer_norm.` (HF's `no_decay` list; `LayerNorm.gamma/beta` of old checkpoints included).
 */
export function decayedByDefault(variableName: string): boolean {
  const name = hfName(variableName);
  return !/bias|LayerNorm\.|layer_norm\.|LayerNorm$/.test(name);
}

interface Moments {
  m: tf.Variable;
  v: tf.Variable;
}

/** Adam with decoupled weight decay and a settable learning rate; extends `tf.Optimizer`. */
export class AdamW extends tf.Optimizer {
  /** Name under which tfjs serialises the optimizer. */
  static get className(): string {
    return "AdamW";
  }

  /** Current step size; the trainer's schedule writes it before each update. */
  learningRate: number;
  /** First-moment decay β1. */
  readonly beta1: number;
  /** Second-moment decay β2. */
  readonly beta2: number;
  /** Denominator constant ε. */
  readonly epsilon: number;
  /** Decoupled weight decay λ. */
  readonly weightDecay: number;
  /** Which variables are decayed. */
  readonly decay: (variableName: string) => boolean;
  /** Decoupled (AdamW) or L2 (added to the gradient) weight decay. */
  readonly weightDecayMode: "decoupled" | "l2";
  private readonly moments = new Map<string, Moments>();

  /** Creates the optimizer; throws on an out-of-range option, naming it. */
  constructor(options: AdamWOptions = {}) {
    super();
    this.learningRate = options.learningRate ?? 1e-3;
    this.beta1 = options.beta1 ?? table.beta1.default;
    this.beta2 = options.beta2 ?? table.beta2.default;
    this.epsilon = options.epsilon ?? table.epsilon.default;
    this.weightDecay = options.weightDecay ?? 0;
    this.decay = options.decay ?? decayedByDefault;
    this.weightDecayMode = options.weightDecayMode ?? "decoupled";
    if (this.weightDecayMode !== "decoupled" && this.weightDecayMode !== "l2") {
      throw new Error(`AdamW: weightDecayMode must be "decoupled" or "l2", got ${String(this.weightDecayMode)}`);
    }
    for (const [name, value] of [
      ["beta1", this.beta1],
      ["beta2", this.beta2],
    ] as const) {
      if (!(value >= 0 && value < 1)) throw new Error(`AdamW: ${name} must be in [0, 1), got ${value}`);
    }
    if (!(this.epsilon > 0)) throw new Error(`AdamW: epsilon must be > 0, got ${this.epsilon}`);
    if (!(this.weightDecay >= 0)) throw new Error(`AdamW: weightDecay must be >= 0, got ${this.weightDecay}`);
    if (!(this.learningRate >= 0)) throw new Error(`AdamW: learningRate must be >= 0, got ${this.learningRate}`);
  }

  /** Number of updates applied so far. */
  get step(): number {
    return this.iterations;
  }

  /** Applies one AdamW update with the given gradients (by variable name). */
  applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const grads: [string, tf.Tensor][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.entries(variableGradients);
    const t = this.iterations + 1;
    const lr = this.learningRate;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    // One pass per variable where the backend has the fused kernel (wasm), the op chain otherwise.
    const fused = hasFusedKernel(ADAMW_UPDATE);
    tf.tidy(() => {
      for (const [name, g] of grads) {
        if (g == null) continue;
        const w = tf.engine().registeredVariables[name];
        if (!w) throw new Error(`AdamW: no variable named '${name}'`);
        let state = this.moments.get(name);
        if (!state) {
          state = {
            m: tf.zerosLike(w).variable(false),
            v: tf.zerosLike(w).variable(false),
          };
          this.moments.set(name, state);
        }
        const decays = this.weightDecay > 0 && this.decay(name);
        const l2 = decays && this.weightDecayMode === "l2";
        if (fused && w.dtype === "float32" && g.dtype === "float32" && g.size === w.size) {
          const attrs: AdamWUpdateAttrs = {
            beta1: this.beta1, oneMinusBeta1: 1 - this.beta1, beta2: this.beta2, oneMinusBeta2: 1 - this.beta2,
            c1, c2, epsilon: this.epsilon, lr,
            decay: decays && !l2 ? 1 - lr * this.weightDecay : 1, l2: l2 ? this.weightDecay : 0,
          };
          const [w1, m1, v1] = tf.engine().runKernel(ADAMW_UPDATE, { w, g, m: state.m, v: state.v }, attrs) as tf.Tensor[];
          state.m.assign(m1);
          state.v.assign(v1);
          w.assign(w1);
          continue;
        }
        const grad = l2 ? tf.add(g, tf.mul(w, this.weightDecay)) : g;
        const m = tf.add(tf.mul(state.m, this.beta1), tf.mul(grad, 1 - this.beta1));
        const v = tf.add(tf.mul(state.v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2));
        state.m.assign(m);
        state.v.assign(v);
        const decayed = decays && !l2 ? tf.mul(w, 1 - lr * this.weightDecay) : (w as tf.Tensor);
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon));
        w.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
    this.incrementIterations();
  }

  /** Frees the moment estimates. */
  override dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }

  /** The optimizer's hyper-parameters (tfjs serialisation). */
  getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
      weightDecayMode: this.weightDecayMode,
    };
  }
}
