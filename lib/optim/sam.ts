/**
 * Sharpness-Aware Minimization as a tfjs optimizer wrapping a base optimizer: SAM (Foret et al.
 * 2021), ASAM (Kwon et al. 2021) and GSAM (Zhuang et al. 2022).
 */
import * as tf from "@tensorflow/tfjs";
import { finiteProbe, perturbedWeights, squaredNorm } from "../backend/fused-ops.ts";
import { resolveSAMOptions, type ResolvedSAMOptions, type SAMOptions } from "./options.ts";
import { hfName } from "../names.ts";
import { onAbortUndo } from "../engine-repair.ts";

/** Variable name → gradient, as `tf.variableGrads` returns it. */
type GradMap = Record<string, tf.Tensor | null>;

/** A gradient or weight with its variable name (tfjs-core's `NamedTensor`). */
interface NamedTensor {
  /** Variable name. */
  name: string;
  /** The value. */
  tensor: tf.Tensor;
}

/** The perturbed variables and their values at w + e, aligned. */
interface Perturbation {
  vars: tf.Variable[];
  weights: tf.Tensor[];
}

/**
 * How the SAM perturbation of one variable is masked: `"all"` keeps it whole, `"none"` drops it
 * (the variable stays at w), a tensor broadcastable to the variable's shape multiplies it
 * element-wise (FSAM's 0/1 mask; ESAM's 0 or 1/β).
 */
export type PerturbationMask = "all" | "none" | tf.Tensor;

/** The trainable variables of `varList`, or every registered trainable variable when it is absent. */
export function trainableVariables(varList?: tf.Variable[]): tf.Variable[] {
  const all = varList ?? Object.values(tf.engine().registeredVariables);
  return all.filter((v) => v.trainable);
}

/**
 * SAM / ASAM / GSAM around any tfjs base optimizer. One step of `minimize(f)`:
 * g = ∇f(w) (one global norm over all variables); e = ρ·g/(‖g‖₂ + ε) (ASAM: ρ·T²g/(‖Tg‖₂ + ε) with
 * T = |w| + η on weights, 1 on biases); w ← w + e; g' = ∇f(w + e); w is restored exactly; GSAM: g' ← g' − α·g⊥ with g⊥ the
 * part of g orthogonal to g'; finally `base.applyGradients(g')`.
 *
 * `minimize` returns the loss at the unperturbed w. It works with `model.compile({optimizer})` +
 * `model.fit`: the loss closure is then evaluated twice per step; the metrics tfjs-layers keeps
 * during the second (perturbed) evaluation are extra outputs that fit never reads, and this
 * optimizer frees them at the start of the next step (or on `dispose()`), so the tensor count stays
 * flat. The base optimizer's state (moments, its own step count) lives in `base`, untouched by the
 * perturbation; `dispose()` disposes `base` too.
 */
export class SAM extends tf.Optimizer {
  /** Name under which the class is registered with `tf.serialization`. */
  static className = "SAM";
  /** The optimizer that applies the perturbed gradient. */
  readonly base: tf.Optimizer;
  /** The resolved options (defaults filled in). */
  readonly options: ResolvedSAMOptions;
  /** Tensors kept by the loss closure during the last perturbed evaluation, freed next step. */
  private sideOutputs: tf.Tensor[] = [];
  /** The radius ρ_t of the next step (`options.rho` unless a GSAM ρ schedule moved it). */
  private rhoNow: number;

  /**
   * @param base Optimizer that receives the gradient at the perturbed point (e.g. `tf.train.adam`).
   * @param options See {@link SAMOptions}; invalid values throw an error naming the option.
   */
  constructor(base: tf.Optimizer, options: SAMOptions = {}) {
    super();
    if (!(base instanceof tf.Optimizer)) {
      throw new Error(`${new.target.name}: base must be a tf.Optimizer, got ${String(base)}`);
    }
    this.base = base;
    this.options = resolveSAMOptions(options);
    this.rhoNow = this.options.rho;
  }

  /** The neighbourhood radius ρ_t used by the next step. */
  get rho(): number {
    return this.rhoNow;
  }

  /**
   * Moves ρ_t with the learning rate when the `rhoSchedule` option is set (GSAM):
   * ρ_t = rhoMin + (rho − rhoMin)·(lr − lrMin)/(lrMax − lrMin). Without a schedule ρ stays `rho`.
   */
  followLearningRate(lr: number): void {
    const schedule = this.options.rhoSchedule;
    if (schedule == null) return;
    const lrMin = schedule.lrMin ?? 0;
    this.rhoNow = schedule.rhoMin + ((this.options.rho - schedule.rhoMin) * (lr - lrMin)) / (schedule.lrMax - lrMin);
  }

  /**
   * One SAM step on the scalar loss `f`. Returns the loss at the unperturbed point when
   * `returnCost` is true (the caller disposes it), else null. The returned loss is also NaN when
   * the applied gradient is not finite (0·Σg, or 0·Σg² on wasm, is added to it, on the device: no extra sync), so a
   * caller that reads the cost sees a diverged step at that step even when the loss was finite.
   *
   * @param f The loss; it is called twice (at w and at w + e).
   * @param returnCost Whether to return the loss at w.
   * @param varList Variables to train (default: all trainable variables).
   */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    tf.dispose(this.sideOutputs);
    this.sideOutputs = [];
    const vars = trainableVariables(varList);
    this.beforeStep(vars);
    const firstVars = this.firstGradientVariables(vars);
    let { value, grads } = firstVars.length > 0 ? tf.variableGrads(f, firstVars) : { value: f(), grads: {} as GradMap };
    let applied: GradMap = grads;
    let gradCheck: tf.Scalar | undefined;
    try {
      const perturbed = this.perturbation(vars, grads);
      if (perturbed.vars.length === 0 && firstVars.length < vars.length) {
        // Nothing to perturb, but the update needs the gradient of every variable at w.
        tf.dispose([value, ...Object.values(grads).filter(isTensor)]);
        ({ value, grads } = tf.variableGrads(f, vars));
        applied = grads;
      } else if (perturbed.vars.length > 0) {
        const perturbedGrads = this.gradientAtPerturbed(f, vars, perturbed);
        applied = perturbedGrads;
        if (this.options.gsamAlpha > 0) {
          applied = this.gsamCorrect(vars, grads, perturbedGrads);
          tf.dispose(Object.values(perturbedGrads).filter(isTensor));
        }
      }
      const appliedTensors = Object.values(applied).filter(isTensor);
      if (returnCost && appliedTensors.length > 0) {
        gradCheck = tf.tidy(() => tf.mul(tf.addN(appliedTensors.map((g) => finiteProbe(g))), 0) as tf.Scalar);
      }
      if (varList != null) {
        this.base.applyGradients(varList.map((v) => ({ name: v.name, tensor: applied[v.name] as tf.Tensor })));
      } else {
        this.base.applyGradients(applied as tf.NamedTensorMap);
      }
    } catch (error) {
      tf.dispose([value, ...(gradCheck ? [gradCheck] : [])]);
      throw error;
    } finally {
      tf.dispose(Object.values(grads).filter(isTensor));
      if (applied !== grads) tf.dispose(Object.values(applied).filter(isTensor));
    }
    this.incrementIterations();
    if (returnCost && gradCheck) {
      const checked = tf.add(value, gradCheck) as tf.Scalar;
      tf.dispose([value, gradCheck]);
      return checked;
    }
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /** Hook run at the start of each step, before any gradient (FisherSAM refreshes its mask here). */
  protected beforeStep(vars: tf.Variable[]): void {
    void vars;
  }

  /**
   * The variables whose gradient at w is taken (the others get no perturbation); SAM: all of them.
   * When none of those ends up perturbed, the step takes the gradient of every variable at w instead.
   */
  protected firstGradientVariables(vars: tf.Variable[]): tf.Variable[] {
    return vars;
  }

  /**
   * The loss whose gradient at w + e is applied; called with the weights at w + e, outside any
   * gradient tape. SAM: `f` itself (ESAM selects examples here).
   */
  protected lossAtPerturbed(f: () => tf.Scalar): () => tf.Scalar {
    return f;
  }

  /** How the perturbation of `v` is masked; SAM perturbs every variable fully. */
  protected perturbationMask(v: tf.Variable): PerturbationMask {
    void v;
    return "all";
  }

  /**
   * The weights w + e of every variable whose perturbation is not masked out entirely, aligned with
   * `vars`. The norm is one global norm over every variable's gradient, masked or not.
   */
  private perturbation(vars: tf.Variable[], grads: GradMap): Perturbation {
    const { adaptive, eta, eps } = this.options;
    const rho = this.rhoNow;
    const withGrad = vars.filter((v) => grads[v.name] != null);
    const masks = withGrad.map((v) => this.perturbationMask(v));
    const perturbedVars = withGrad.filter((_, i) => masks[i] !== "none");
    if (rho === 0 || perturbedVars.length === 0) return { vars: [], weights: [] };
    const weights = tf.tidy(() => {
      // ASAM's T = |w| + η per weight (T = 1 for biases); T·g enters the norm and T²·g the direction.
      const t = adaptive ? withGrad.map((v) => (hfName(v.name).includes("bias") ? tf.onesLike(v) : tf.add(tf.abs(v), eta))) : [];
      const scaled = withGrad.map((v, i) => {
        const g = grads[v.name] as tf.Tensor;
        return adaptive ? tf.mul(t[i], g) : g;
      });
      const sumSquares = tf.addN(scaled.map(squaredNorm));
      const scale = tf.div(rho, tf.add(tf.sqrt(sumSquares), eps)) as tf.Scalar;
      const out: tf.Tensor[] = [];
      withGrad.forEach((v, i) => {
        const mask = masks[i];
        if (mask === "none") return;
        const direction = adaptive ? tf.mul(t[i], scaled[i]) : scaled[i];
        // w + e with e = (direction·scale)·mask: one fused pass on wasm.
        out.push(perturbedWeights(v, direction, scale, mask === "all" ? undefined : mask));
      });
      return out;
    });
    return { vars: perturbedVars, weights };
  }

  /**
   * ∇f at w + e, with w restored bit-exactly afterwards (each variable gets its original data back;
   * w + e − e is never formed). Disposes the perturbation.
   */
  private gradientAtPerturbed(f: () => tf.Scalar, vars: tf.Variable[], perturbed: Perturbation): GradMap {
    const engine = tf.engine();
    // A second reference-counted handle on each variable's current data (no copy, unlike tf.clone
    // on wasm), so that w can be put back as is after the perturbed gradient.
    const saved = perturbed.vars.map((v) => {
      const handle = engine.makeTensorFromDataId(v.dataId, v.shape, v.dtype);
      tf.backend().incRef(v.dataId);
      return tf.keep(handle);
    });
    const keep = engine.keep;
    const restore = () => {
      engine.keep = keep;
      perturbed.vars.forEach((v, i) => v.assign(saved[i]));
      tf.dispose(saved);
    };
    // Stopped mid-step (a notebook's interrupt skips `finally`), the engine repair puts w back.
    const done = onAbortUndo(restore);
    try {
      perturbed.vars.forEach((v, i) => v.assign(perturbed.weights[i]));
      tf.dispose(perturbed.weights);
      const loss = this.lossAtPerturbed(f);
      engine.keep = <T extends tf.Tensor>(t: T): T => {
        this.sideOutputs.push(t);
        return keep.call(engine, t) as T;
      };
      try {
        const { value, grads } = tf.variableGrads(loss, vars);
        value.dispose();
        return grads;
      } finally {
        engine.keep = keep;
      }
    } finally {
      done();
      restore();
    }
  }

  /**
   * GSAM: g' − α·g⊥, where g⊥ = g − (⟨g, g'⟩/‖g'‖²)·g' (global inner products; a zero g' gives
   * g⊥ = g). Returns new gradients; the inputs stay owned by the caller.
   */
  private gsamCorrect(vars: tf.Variable[], grads: GradMap, perturbedGrads: GradMap): GradMap {
    const alpha = this.options.gsamAlpha;
    return tf.tidy(() => {
      const both = vars.filter((v) => grads[v.name] != null && perturbedGrads[v.name] != null);
      const dot = tf.addN(both.map((v) => tf.sum(tf.mul(grads[v.name] as tf.Tensor, perturbedGrads[v.name] as tf.Tensor))));
      const normSq = tf.addN(both.map((v) => squaredNorm(perturbedGrads[v.name] as tf.Tensor)));
      const coefficient = tf.divNoNan(dot, normSq);
      const corrected: GradMap = {};
      for (const v of vars) {
        const gp = perturbedGrads[v.name];
        const g = grads[v.name];
        if (gp == null) corrected[v.name] = null;
        else if (g == null) corrected[v.name] = gp.clone();
        else {
          const orthogonal = tf.sub(g, tf.mul(coefficient, gp));
          corrected[v.name] = tf.sub(gp, tf.mul(alpha, orthogonal));
        }
      }
      return corrected as tf.NamedTensorMap;
    });
  }

  /** Applies `variableGradients` with the base optimizer, unperturbed (a plain base step). */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.base.applyGradients(variableGradients);
  }

  /** The base optimizer's weights (its moments and step count), for checkpoints. */
  override async getWeights(): Promise<NamedTensor[]> {
    return this.base.getWeights();
  }

  /** Restores the base optimizer's weights saved by {@link SAM.getWeights}. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    await this.base.setWeights(weightValues);
  }

  /** The SAM options plus the base optimizer's class name and config. */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...this.options,
      base: { className: this.base.getClassName(), config: this.base.getConfig() },
    };
  }

  /** Rebuilds a SAM (and its base optimizer, which must be registered) from {@link SAM.getConfig}. */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { base, ...options } = config as { base: { className: string; config: tf.serialization.ConfigDict } };
    return new cls(deserializeOptimizer(base), options);
  }

  /** Frees the base optimizer's state and any tensors this optimizer still holds. */
  override dispose(): void {
    tf.dispose(this.sideOutputs);
    this.sideOutputs = [];
    this.base.dispose();
    super.dispose();
  }
}

/** Whether a gradient-map entry holds a tensor. */
function isTensor(t: tf.Tensor | null | undefined): t is tf.Tensor {
  return t != null;
}

/** A registered tfjs optimizer rebuilt from its class name and config. */
function deserializeOptimizer(spec: { className: string; config: tf.serialization.ConfigDict }): tf.Optimizer {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
  if (entry == null) throw new Error(`SAM.fromConfig: unknown base optimizer class ${spec.className}`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, spec.config) as tf.Optimizer;
}

tf.serialization.registerClass(SAM);
