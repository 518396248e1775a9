/**
 * Efficient SAM (ESAM, Du et al., "Efficient Sharpness-aware Minimization for Improved Training of
 * Neural Networks", ICLR 2022) and Fisher-ESAM (the FSAM mask on ESAM's perturbation, the variant
 * the FSAM authors ran): SAM with stochastic weight perturbation (SWP) and sharpness-sensitive data
 * selection (SDS), as one piece of code layered on {@link SAM} and on {@link FisherSAM}.
 */
import * as tf from "@tensorflow/tfjs";
import { mulberry32, type Random } from "../random.ts";
import { splitESAMOptions, type ESAMOptions, type FisherESAMOptions, type ResolvedESAMSamplingOptions } from "./esam-options.ts";
import { FisherSAM } from "./fisher-sam.ts";
import { SAM, type PerturbationMask } from "./sam.ts";

/**
 * Per-example losses of one mini-batch: ℓ_i `[n]` for the examples at `indices` (an int32 tensor
 * of positions in the batch), or for the whole batch `[B]` when `indices` is absent. Their mean is
 * the mini-batch loss. ESAM calls it without indices at w and at w + e, and with the selected
 * indices for the gradient at w + e.
 */
export type PerExampleLoss = (indices?: tf.Tensor1D) => tf.Tensor1D;

/**
 * The losses ESAM's `minimize` takes: per-example losses (see {@link PerExampleLoss}), or a scalar
 * mean loss as every tf.Optimizer takes (then there is nothing to select from, and γ must be 1).
 */
export type ESAMLoss = PerExampleLoss | (() => tf.Scalar);

/** What SWP decided at the last step (see {@link ESAM.weightSamplingStats}). */
export interface WeightSamplingStats {
  /** Parameters SWP let take part in the perturbation. */
  perturbed: number;
  /** Parameters SWP decided on. */
  total: number;
}

// A mixin's base class must be constructible with any arguments (TypeScript's mixin rule).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type SAMClass = new (...args: any[]) => SAM;

/**
 * ESAM's step on top of `Base` (SAM or FisherSAM), through SAM's hooks: the loss at w is the mean
 * of the per-example losses (kept for SDS); SWP masks `Base`'s perturbation (and, per tensor,
 * restricts the gradient at w); SDS replaces the loss at w + e by the mean over the selected
 * examples. Everything else (norm, ASAM, GSAM, the Fisher mask and its refresh, the exact restore
 * of w, the base optimizer) is `Base`'s.
 */
function withEfficientSteps<B extends SAMClass>(Base: B) {
  return class EfficientSteps extends Base {
    /** ESAM's β, γ, seed and SWP mode (defaults filled in). */
    sampling!: ResolvedESAMSamplingOptions;
    private random: Random = mulberry32(0);
    private readonly frozen = new Set<string>();
    private stepVars: tf.Variable[] = [];
    private meanLoss: () => tf.Scalar = () => tf.scalar(Number.NaN);
    private perExample: PerExampleLoss | undefined;
    private lossAtW: tf.Tensor1D | undefined;
    private lossShape: number[] = [];
    private stepTensors: tf.Tensor[] = [];
    private swpCounts: WeightSamplingStats = { perturbed: 0, total: 0 };

    /** Sets ESAM's options and seeds SWP; called once by the constructor. */
    protected initSampling(sampling: ResolvedESAMSamplingOptions): void {
      this.sampling = sampling;
      this.random = mulberry32(sampling.seed);
    }

    /** What SWP decided at the last step: parameters perturbed and parameters decided on. */
    get weightSamplingStats(): WeightSamplingStats {
      return { ...this.swpCounts };
    }

    /**
     * One ESAM step. `f` returns the per-example losses of the mini-batch (see
     * {@link PerExampleLoss}), or its mean loss as a scalar when γ = 1. Returns the mean loss at
     * the unperturbed w when `returnCost` is true (the caller disposes it), else null.
     */
    override minimize(f: ESAMLoss, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
      const loss = f as (indices?: tf.Tensor1D) => tf.Tensor;
      this.meanLoss = () => {
        const l = loss();
        return l.rank === 0 ? (l as tf.Scalar) : tf.mean(l);
      };
      // Called inside tf.variableGrads, where throwing would leak the tape's saved tensors: a bad
      // shape is recorded here and reported by lossAtPerturbed, outside the tape (w restored).
      const atW = (): tf.Scalar => {
        const l = loss();
        this.lossShape = l.shape;
        if (l.rank === 0) return l as tf.Scalar;
        if (l.rank === 1) {
          tf.dispose(this.lossAtW);
          this.lossAtW = tf.keep(l as tf.Tensor1D);
          this.perExample = loss as PerExampleLoss;
        }
        return tf.mean(l);
      };
      try {
        return super.minimize(atW, returnCost, varList);
      } finally {
        tf.dispose([...this.stepTensors, ...(this.lossAtW ? [this.lossAtW] : [])]);
        this.stepTensors = [];
        this.lossAtW = undefined;
        this.perExample = undefined;
        if (this.sampling.weightSampling === "freeze-tensors") this.drawFrozen();
      }
    }

    /** Draws the variables frozen at the next step: each with probability 1 − β. */
    private drawFrozen(): void {
      this.frozen.clear();
      for (const v of this.stepVars) if (this.random() >= this.sampling.beta) this.frozen.add(v.name);
    }

    /** Runs `Base`'s hook (the Fisher mask refresh), then starts counting SWP's decisions. */
    protected override beforeStep(vars: tf.Variable[]): void {
      super.beforeStep(vars);
      this.stepVars = vars;
      this.swpCounts = { perturbed: 0, total: 0 };
      if (this.sampling.weightSampling === "freeze-tensors") {
        for (const v of vars) {
          this.swpCounts.total += v.size;
          if (!this.frozen.has(v.name)) this.swpCounts.perturbed += v.size;
        }
      }
    }

    /** With `"freeze-tensors"`, the unfrozen variables only. */
    protected override firstGradientVariables(vars: tf.Variable[]): tf.Variable[] {
      const all = super.firstGradientVariables(vars);
      return this.sampling.weightSampling === "freeze-tensors" ? all.filter((v) => !this.frozen.has(v.name)) : all;
    }

    /** `Base`'s mask times SWP's: 0 or 1/β per element (or per unfrozen variable). */
    protected override perturbationMask(v: tf.Variable): PerturbationMask {
      const inner = super.perturbationMask(v);
      if (inner === "none") return "none";
      const swp = this.swpMask(v);
      if (swp === "all" || swp === "none") return swp === "all" ? inner : "none";
      if (inner === "all") return swp;
      return this.track(tf.mul(inner, swp));
    }

    /** SWP's mask of `v` at this step. */
    private swpMask(v: tf.Variable): PerturbationMask {
      const { beta, weightSampling } = this.sampling;
      if (weightSampling === "freeze-tensors") return beta === 1 ? "all" : this.track(tf.scalar(1 / beta));
      this.swpCounts.total += v.size;
      if (beta === 1) {
        this.swpCounts.perturbed += v.size;
        return "all";
      }
      const data = new Float32Array(v.size);
      const scale = 1 / beta;
      let kept = 0;
      for (let i = 0; i < data.length; i++) {
        if (this.random() < beta) {
          data[i] = scale;
          kept += 1;
        }
      }
      this.swpCounts.perturbed += kept;
      return kept === 0 ? "none" : this.track(tf.tensor(data, v.shape, "float32"));
    }

    /** SDS: the mean loss over the ⌊γ·B⌋ examples whose loss rose most from w to w + e. */
    protected override lossAtPerturbed(f: () => tf.Scalar): () => tf.Scalar {
      void f;
      const { gamma } = this.sampling;
      const owner = this.getClassName();
      if (this.lossShape.length > 1) {
        throw new Error(`${owner}: the loss must return a scalar or per-example losses [batch], got shape [${this.lossShape}]`);
      }
      if (this.lossShape.length === 0 && gamma < 1) {
        throw new Error(
          `${owner}: data selection (gamma ${gamma} < 1) needs per-example losses: the loss function must ` +
            "return a 1-D tensor [batch] and take an optional int32 tensor of example indices",
        );
      }
      const perExample = this.perExample;
      const atW = this.lossAtW;
      if (gamma === 1 || perExample === undefined || atW === undefined) return this.meanLoss;
      const n = atW.shape[0];
      const k = Math.max(1, Math.floor(gamma * n + 1e-9));
      if (k >= n) return this.meanLoss;
      const selected = this.track(
        tf.tidy(() => {
          const atPerturbed = perExample();
          if (atPerturbed.rank !== 1 || atPerturbed.shape[0] !== n) {
            throw new Error(`${owner}: per-example losses at w + e have shape [${atPerturbed.shape}], at w [${n}]`);
          }
          return tf.topk(tf.sub(atPerturbed, atW), k).indices as tf.Tensor1D;
        }),
      );
      return () => tf.mean(perExample(selected));
    }

    /** Keeps `t` until the end of the step. */
    private track<T extends tf.Tensor>(t: T): T {
      this.stepTensors.push(t);
      return t;
    }

    /** `Base`'s config plus β, γ, seed and SWP mode. */
    override getConfig(): tf.serialization.ConfigDict {
      return { ...super.getConfig(), ...this.sampling };
    }

    /** Frees what `Base` holds and any tensor of an interrupted step. */
    override dispose(): void {
      tf.dispose([...this.stepTensors, ...(this.lossAtW ? [this.lossAtW] : [])]);
      this.stepTensors = [];
      this.lossAtW = undefined;
      super.dispose();
    }
  };
}

/**
 * ESAM (Du et al., ICLR 2022) around any tfjs base optimizer. One step of `minimize(f)`, with `f`
 * the per-example losses ℓ_i of the mini-batch B:
 *
 * 1. g = ∇ mean_i ℓ_i(w), keeping ℓ_i(w);
 * 2. SWP: e = (ρ/β)·m ⊙ g/(‖g‖ + ε) with m_j ~ Bernoulli(β) per parameter element, drawn from one
 *    seeded mulberry32 stream (variables in order, elements row-major; `weightSampling` switches
 *    to the authors' per-tensor freezing); ASAM's scaling and GSAM's correction compose as in SAM;
 * 3. SDS: ℓ_i(w + e) for the whole batch (a forward pass), and B⁺ = the ⌊γ·B⌋ examples with the
 *    largest ℓ_i(w + e) − ℓ_i(w);
 * 4. g' = ∇ mean_{i∈B⁺} ℓ_i(w + e), w restored bit-exactly, `base.applyGradients(g')`.
 *
 * β = 1 and γ = 1 is SAM exactly. What it saves here: SDS's gradient at w + e runs forward and
 * backward over γ·B examples (after a forward-only pass over B). Per-element SWP saves nothing on
 * tfjs — the gradient at w is needed for every weight, and drawing m costs one random number per
 * parameter per step on the host plus its upload; with `"freeze-tensors"` the gradient at w is
 * taken for the unfrozen variables only, so tfjs prunes the frozen ones' weight-gradient kernels
 * from the backward pass. The gradient at w + e is always taken for every variable: the update
 * needs it.
 */
export class ESAM extends withEfficientSteps(SAM) {
  /** Name under which the class is registered with `tf.serialization`. */
  static override className = "ESAM";

  /**
   * @param base Optimizer that receives the gradient at the perturbed point (e.g. `tf.train.adam`).
   * @param options See {@link ESAMOptions}; invalid values throw an error naming the option.
   */
  constructor(base: tf.Optimizer, options: ESAMOptions = {}) {
    const { sampling, rest } = splitESAMOptions("ESAM", options);
    super(base, rest);
    this.initSampling(sampling);
  }
}

/**
 * Fisher-ESAM: ESAM whose perturbation is also multiplied by FSAM's Fisher mask — the same
 * {@link FisherSAM} (same options and defaults, maskable rule, refresh every `maskInterval` steps,
 * mask statistics and refresh events, so the Fisher atlas reads it like a FisherSAM), with SWP and
 * SDS as in {@link ESAM}: e = (ρ/β)·mask ⊙ m ⊙ g/‖g‖.
 */
export class FisherESAM extends withEfficientSteps(FisherSAM) {
  /** Name under which the class is registered with `tf.serialization`. */
  static override className = "FisherESAM";

  /**
   * @param base Optimizer that receives the gradient at the perturbed point (e.g. `tf.train.adam`).
   * @param options See {@link FisherESAMOptions}; `fisherLoss` is required. Invalid values throw an
   *   error naming the option and value.
   */
  constructor(base: tf.Optimizer, options: FisherESAMOptions) {
    const { sampling, rest } = splitESAMOptions("FisherESAM", options);
    super(base, rest);
    this.initSampling(sampling);
  }
}

/** Whether `optimizer` takes per-example losses in `minimize` (an ESAM or a Fisher-ESAM). */
export function acceptsPerExampleLoss(optimizer: tf.Optimizer): optimizer is ESAM | FisherESAM {
  // tf.Optimizer answers `instanceof` by duck typing, so the prototype chain decides.
  return ESAM.prototype.isPrototypeOf(optimizer) || FisherESAM.prototype.isPrototypeOf(optimizer);
}

tf.serialization.registerClass(ESAM);
tf.serialization.registerClass(FisherESAM);
