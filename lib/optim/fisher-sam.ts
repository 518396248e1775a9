/**
 * Fisher SAM (FSAM, Zhong et al., EMNLP 2022 Findings, arXiv 2210.05497): SAM whose perturbation
 * is restricted to the parameters with the largest Fisher information.
 */
import * as tf from "@tensorflow/tfjs";
import { canReadSync } from "../backend/read.ts";
import { computeFisher, computeFisherAsync } from "./fisher.ts";
import { resolveFisherSAMOptions, samOptionsOf, type FisherSAMOptions, type ResolvedFisherSAMOptions } from "./options.ts";
import { SAM, trainableVariables, type PerturbationMask } from "./sam.ts";
import { kthLargest, topKMask } from "./topk.ts";
import type { FisherSAMFitCallback } from "./fisher-sam-fit.ts";

/** What {@link FisherSAM.onMaskRefresh} listeners receive after each mask refresh. */
export interface MaskRefreshEvent {
  /** The step t whose perturbation the new mask is first used for. */
  step: number;
  /** Smallest kept Fisher score (`Infinity` when nothing is kept). */
  threshold: number;
  /** The new 0/1 mask per variable name. */
  masks: Map<string, Uint8Array>;
  /** The Fisher scores the mask was selected from, per variable name. */
  fisher: Map<string, Float32Array>;
}

/** Mask and Fisher statistics of one maskable variable. */
export interface VariableMaskStats {
  /** The variable's tfjs name. */
  name: string;
  /** Number of parameters. */
  size: number;
  /** Number of parameters in the mask (perturbed). */
  kept: number;
  /** kept / size. */
  keptFraction: number;
  /** Smallest Fisher score (NaN scores ignored). */
  fisherMin: number;
  /** Median Fisher score (mean of the two middle values for an even size). */
  fisherMedian: number;
  /** Largest Fisher score (NaN scores ignored). */
  fisherMax: number;
}

/** The current mask summarised per variable and globally (see {@link FisherSAM.maskStats}). */
export interface MaskStats {
  /** The global Fisher threshold: smallest kept score. */
  threshold: number;
  /** Number of maskable parameters. */
  totalSize: number;
  /** Number of those in the mask. */
  totalKept: number;
  /** Per-variable statistics, in variable order. */
  variables: VariableMaskStats[];
}

/**
 * FSAM: every `maskInterval` steps (t % T_m == 0, before that step's perturbation) the Fisher
 * information of the maskable parameters is estimated from `fisherLoss`
 * (F_j = (1/N) Σ_i (∂ fisherLoss(i)/∂w_j)², or the squared batch gradient in `"batch"` mode) and a
 * mask keeps the floor((1 − sparsity)·n) parameters with the largest F over all maskable variables
 * together. Each step computes the SAM perturbation e (ASAM / GSAM options compose) with the norm
 * over the full gradient, multiplies e by the mask on maskable variables (non-maskable ones — by
 * default every name containing `bias` or `embed`, the authors' rule, see maskable.ts — keep their
 * full perturbation), and gives the base optimizer the full gradient at w + e. Unlike the authors'
 * Fisher-GSAM, e is never divided by the keep ratio.
 * `sparsity = 0` is exactly SAM; `sparsity = 1` with every variable maskable is exactly the base
 * optimizer (the second gradient is then skipped, since the perturbation is zero).
 */
export class FisherSAM extends SAM {
  /** Name under which the class is registered with `tf.serialization`. */
  static override className = "FisherSAM";
  /** The resolved options (defaults filled in). */
  declare readonly options: ResolvedFisherSAMOptions;
  private readonly maskTensors = new Map<string, tf.Tensor>();
  private readonly masksData = new Map<string, Uint8Array>();
  private readonly keptCounts = new Map<string, number>();
  private fisherScores = new Map<string, Float32Array>();
  private fisherThreshold = NaN;
  private readonly unmasked = new Map<string, number>();
  private lastVars: tf.Variable[] | undefined;
  /** The step whose due refresh {@link FisherSAM.prepareStep} already made. */
  private preparedStep: number | undefined;
  /** A refresh reading its Fisher scores in the background (see {@link FisherSAM.beforeStep}). */
  private backgroundRefresh: Promise<void> | undefined;
  /** The error of the last background refresh, thrown by the next step. */
  private backgroundError: unknown;
  private readonly listeners = new Set<(e: MaskRefreshEvent) => void>();

  /**
   * @param base Optimizer that receives the gradient at the perturbed point (e.g. `tf.train.adam`).
   * @param options See {@link FisherSAMOptions}; `fisherLoss` is required. Invalid values throw an
   *   error naming the option and value.
   */
  constructor(base: tf.Optimizer, options: FisherSAMOptions) {
    const resolved = resolveFisherSAMOptions(options);
    super(base, samOptionsOf(resolved));
    this.options = resolved;
  }

  /** Current 0/1 float32 mask tensor per maskable variable name (owned by the optimizer). */
  get mask(): Map<string, tf.Tensor> {
    return this.maskTensors;
  }

  /** Current 0/1 mask per maskable variable name, on the host. */
  get maskData(): Map<string, Uint8Array> {
    return this.masksData;
  }

  /** The Fisher scores of the last refresh, per maskable variable name. */
  get fisher(): Map<string, Float32Array> {
    return this.fisherScores;
  }

  /**
   * The variables of the last refresh that are not maskable (option `maskable`), name → size: they
   * keep their full perturbation at every step.
   */
  get alwaysPerturbed(): Map<string, number> {
    return this.unmasked;
  }

  /** Smallest kept Fisher score of the last refresh (NaN before the first one). */
  get threshold(): number {
    return this.fisherThreshold;
  }

  /** The index t of the next step (number of completed `minimize` calls). */
  get step(): number {
    return this.iterations;
  }

  /**
   * Refreshes the mask at t % maskInterval == 0, or when a maskable variable has no mask yet.
   *
   * On a backend that cannot read synchronously (webgpu), a due refresh that
   * {@link FisherSAM.prepareStep} did not make (e.g. tfjs-layers' `model.fit` without
   * {@link FisherSAMFitCallback}, or a hand-written loop calling `minimize` alone) is made in the
   * background: the Fisher scores are computed now, at this step's weights, and read
   * asynchronously; the steps keep the previous mask until the read has completed, which needs the
   * event loop to turn (a loop that only awaits promises between steps, as `model.fit` does, gets
   * the new mask late: at the end of the fit in the parity test). The first mask cannot wait, so a
   * first step without it throws, saying what to do. Pass `new FisherSAMFitCallback(fsam)` to
   * `model.fit` for refreshes exactly on time.
   */
  protected override beforeStep(vars: tf.Variable[]): void {
    this.lastVars = vars;
    if (this.backgroundError !== undefined) {
      const error = this.backgroundError;
      this.backgroundError = undefined;
      throw error;
    }
    if (this.preparedStep === this.step) {
      this.preparedStep = undefined;
      return;
    }
    if (!this.refreshDue(vars)) return;
    if (canReadSync()) this.updateMask(vars);
    else this.refreshInBackground(vars);
  }

  /** Starts the background refresh described at {@link FisherSAM.beforeStep} (one at a time). */
  private refreshInBackground(vars: tf.Variable[]): void {
    const missing = vars.find((v) => this.options.maskable(v) && !this.maskTensors.has(v.name));
    if (missing) {
      throw new Error(
        `FisherSAM: step ${this.step} needs a first mask (${missing.name} has none), and the ${tf.getBackend()} backend cannot read the Fisher scores synchronously: ` +
          "pass `new FisherSAMFitCallback(fsam)` in model.fit's callbacks, or call `await fsam.prepareStep(vars)` before `minimize` (train() does)",
      );
    }
    if (this.backgroundRefresh) return;
    this.backgroundRefresh = this.updateMaskAsync(vars)
      .catch((error: unknown) => {
        this.backgroundError = error;
      })
      .finally(() => {
        this.backgroundRefresh = undefined;
      });
  }

  /** Whether the next step refreshes the mask. */
  private refreshDue(vars: tf.Variable[]): boolean {
    const due = this.step % this.options.maskInterval === 0;
    return due || vars.some((v) => this.options.maskable(v) && !this.maskTensors.has(v.name));
  }

  /**
   * Makes the mask refresh the next `minimize(f, …, varList)` is due for now, reading the Fisher
   * scores asynchronously (does nothing when no refresh is due). Required before each step on the
   * webgpu backend, which cannot read synchronously; `train()` calls it.
   *
   * @param varList the variables the next step trains (default: those of the last step, or every trainable variable).
   */
  async prepareStep(varList?: tf.Variable[]): Promise<void> {
    const vars = trainableVariables(varList ?? this.lastVars);
    await this.backgroundRefresh;
    if (this.preparedStep === this.step || !this.refreshDue(vars)) return;
    await this.updateMaskAsync(vars);
    this.preparedStep = this.step;
  }

  /** The mask of a maskable variable; non-maskable variables keep their full perturbation. */
  protected override perturbationMask(v: tf.Variable): PerturbationMask {
    if (!this.options.maskable(v)) return "all";
    const kept = this.keptCounts.get(v.name) ?? 0;
    if (kept === 0) return "none";
    if (kept === v.size) return "all";
    return this.maskTensors.get(v.name) as tf.Tensor;
  }

  /**
   * Recomputes the Fisher information and the mask now, over the maskable variables among `varList`
   * (default: the variables of the last step, or every trainable variable before the first step),
   * and notifies the {@link FisherSAM.onMaskRefresh} listeners. On webgpu use
   * {@link FisherSAM.updateMaskAsync} (or {@link FisherSAM.prepareStep} before `minimize`).
   */
  updateMask(varList?: tf.Variable[]): void {
    if (!canReadSync()) {
      throw new Error(
        `FisherSAM: the mask refresh of step ${this.step} reads the Fisher scores, which the ${tf.getBackend()} backend cannot do synchronously: ` +
          "call `await fsam.prepareStep(vars)` before `minimize` (train() does), or `await fsam.updateMaskAsync(vars)`",
      );
    }
    const vars = this.maskableVars(varList);
    this.applyFisher(vars, computeFisher(this.options.fisherLoss, vars, this.fisherCalls()));
  }

  /** {@link FisherSAM.updateMask} reading the Fisher scores with `await data()` (works on every backend). */
  async updateMaskAsync(varList?: tf.Variable[]): Promise<void> {
    const vars = this.maskableVars(varList);
    this.applyFisher(vars, await computeFisherAsync(this.options.fisherLoss, vars, this.fisherCalls()));
  }

  /** The maskable variables among the trainable ones of `varList` (default: last step's, or all);
   * records the others as unmasked (always fully perturbed). */
  private maskableVars(varList?: tf.Variable[]): tf.Variable[] {
    const candidates = trainableVariables(varList ?? this.lastVars);
    this.unmasked.clear();
    for (const v of candidates) if (!this.options.maskable(v)) this.unmasked.set(v.name, v.size);
    return candidates.filter((v) => this.options.maskable(v));
  }

  /** How many `fisherLoss` calls one Fisher estimate makes. */
  private fisherCalls(): number {
    return this.options.fisherMode === "batch" ? 1 : this.options.fisherSamples;
  }

  /** Selects the mask from the Fisher scores, stores it and notifies the listeners. */
  private applyFisher(vars: tf.Variable[], fisher: Map<string, Float32Array>): void {
    const { masks, threshold } = topKMask(fisher, 1 - this.options.sparsity);
    tf.dispose([...this.maskTensors.values()]);
    this.maskTensors.clear();
    this.masksData.clear();
    this.keptCounts.clear();
    for (const v of vars) {
      const data = masks.get(v.name) as Uint8Array;
      this.masksData.set(v.name, data);
      let kept = 0;
      for (let i = 0; i < data.length; i++) kept += data[i];
      this.keptCounts.set(v.name, kept);
      // A non-trainable variable: optimizer state, counted with the model's variables, not as a stray tensor.
      this.maskTensors.set(v.name, tf.tidy(() => tf.variable(tf.tensor(new Float32Array(data), v.shape, "float32"), false)));
    }
    this.fisherScores = fisher;
    this.fisherThreshold = threshold;
    const event: MaskRefreshEvent = { step: this.step, threshold, masks: this.masksData, fisher };
    for (const listener of this.listeners) listener(event);
  }

  /**
   * Calls `callback` after every mask refresh (including forced ones). Returns a function that
   * unsubscribes it.
   */
  onMaskRefresh(callback: (e: MaskRefreshEvent) => void): () => void {
    this.listeners.add(callback);
    return () => {
      this.listeners.delete(callback);
    };
  }

  /** Per-variable size, kept count and fraction, Fisher min/median/max, and the global threshold. */
  maskStats(): MaskStats {
    const variables: VariableMaskStats[] = [];
    for (const [name, data] of this.masksData) {
      const scores = this.fisherScores.get(name) as Float32Array;
      const kept = this.keptCounts.get(name) ?? 0;
      variables.push({
        name,
        size: data.length,
        kept,
        keptFraction: data.length === 0 ? 0 : kept / data.length,
        ...fisherSummary(scores),
      });
    }
    return {
      threshold: this.fisherThreshold,
      totalSize: variables.reduce((s, v) => s + v.size, 0),
      totalKept: variables.reduce((s, v) => s + v.kept, 0),
      variables,
    };
  }

  /** The numeric and string options plus the base optimizer (functions cannot be serialized). */
  override getConfig(): tf.serialization.ConfigDict {
    const { fisherLoss, maskable, ...plain } = this.options;
    void fisherLoss;
    void maskable;
    return { ...plain, base: { className: this.base.getClassName(), config: this.base.getConfig() } };
  }

  /** Always throws: `fisherLoss` is a function and cannot come from a config. */
  static override fromConfig<T extends tf.serialization.Serializable>(): T {
    throw new Error("FisherSAM cannot be rebuilt from a config: construct it with new FisherSAM(base, {fisherLoss, ...})");
  }

  /** Frees the mask tensors, the base optimizer's state and any tensors still held. */
  override dispose(): void {
    tf.dispose([...this.maskTensors.values()]);
    this.maskTensors.clear();
    super.dispose();
  }
}

/** Min, median and max of a score array (NaN ignored for min/max; empty arrays give NaN). */
function fisherSummary(scores: Float32Array): Pick<VariableMaskStats, "fisherMin" | "fisherMedian" | "fisherMax"> {
  const n = scores.length;
  if (n === 0) return { fisherMin: NaN, fisherMedian: NaN, fisherMax: NaN };
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = scores[i];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const median = n % 2 === 1 ? kthLargest([scores], (n + 1) / 2) : (kthLargest([scores], n / 2) + kthLargest([scores], n / 2 + 1)) / 2;
  return { fisherMin: min, fisherMedian: median, fisherMax: max };
}

tf.serialization.registerClass(FisherSAM);
