/**
 * Options of the SAM-family optimizers, with their defaults and validation.
 */
import type * as tf from "@tensorflow/tfjs";
import { maskablePredicate, maskableRuleName, type MaskableRule, type MaskableRuleName } from "./maskable.ts";
import { checkPositiveInt } from "../check.ts";
import { choicesText, optimizerOptionTable, optionDefaults } from "./option-table.ts";

/** Options of {@link SAM} (SAM, ASAM and GSAM). */
export interface SAMOptions {
  /**
   * Neighbourhood radius ρ of SAM (Foret et al. 2021): the weights are perturbed by
   * e = ρ·g/‖g‖₂ before the gradient that updates them is taken. ρ = 0 makes SAM the base
   * optimizer. Must be ≥ 0. Default: {@link optimizerOptionTable}.
   */
  rho?: number;
  /**
   * ASAM (Kwon et al. 2021): scale-invariant perturbation e = ρ·T²g/(‖Tg‖₂ + eps) with the
   * element-wise operator T = |w| + eta on weights and T = 1 on biases (variables whose HF name
   * contains `bias`), as the official ASAM code does (it scales only parameters named `weight`,
   * which on BERT are exactly the non-biases). Default false.
   */
  adaptive?: boolean;
  /**
   * ASAM's η, added to |w| so that zero weights are still perturbed. Must be ≥ 0. Only used when
   * `adaptive` is true. Default 0 here (the named `asam` takes {@link optimizerOptionTable}'s).
   */
  eta?: number;
  /**
   * GSAM's α (Zhuang et al. 2022): before the update, the perturbed gradient g' is replaced by
   * g' − α·g⊥, where g⊥ is the component of the unperturbed gradient g orthogonal to g' (global dot
   * products over all variables). 0 disables GSAM. Must be ≥ 0. Default 0 here (the named `gsam` takes {@link optimizerOptionTable}'s).
   */
  gsamAlpha?: number;
  /** ε added to the global gradient norm to avoid dividing by zero. Must be ≥ 0. Default: {@link optimizerOptionTable}. */
  eps?: number;
  /**
   * GSAM's ρ schedule (Zhuang et al. 2022): ρ_t follows the learning rate,
   * ρ_t = rhoMin + (rho − rhoMin)·(lr_t − lrMin)/(lrMax − lrMin), `rho` being ρ_max; it is updated
   * by `SAM.followLearningRate(lr)`, which the trainer's `setLearningRate` calls every step.
   * Default null: ρ stays at `rho`.
   */
  rhoSchedule?: RhoSchedule | null;
}

/** The learning-rate range a GSAM ρ schedule maps onto [rhoMin, rho] (a type alias, so configs can hold it). */
export type RhoSchedule = {
  /** ρ_min, reached when the learning rate is `lrMin`. In [0, rho]. */
  rhoMin: number;
  /** The peak learning rate, at which ρ_t = rho. */
  lrMax: number;
  /** The lowest learning rate of the schedule (0 for linear warm-up and decay). Default 0. */
  lrMin?: number;
};

/** How {@link FisherSAM} estimates the Fisher information of each parameter. */
export type FisherMode = "per-sample" | "batch";

/** Options of {@link FisherSAM}: the SAM options plus the Fisher mask of FSAM. */
export interface FisherSAMOptions extends SAMOptions {
  /**
   * Fraction of the maskable parameters that are *not* perturbed (FSAM's sparsity s, Zhong et al.
   * 2022): the mask keeps the k = floor((1 − s)·n) parameters with the largest Fisher information
   * over all maskable variables together (one global top-k). 0 is SAM; 1 is the base optimizer.
   * In [0, 1]. Default: {@link optimizerOptionTable}.
   */
  sparsity?: number;
  /**
   * Mask refresh interval T_m: the Fisher information and the mask are recomputed at every step t
   * with t % maskInterval == 0 (t counted from 0, before that step's perturbation). Integer ≥ 1.
   * Default: {@link optimizerOptionTable}.
   */
  maskInterval?: number;
  /**
   * N_F, the number of `fisherLoss(i)` calls (i = 0 … N−1) averaged in the per-sample Fisher
   * F_j = (1/N) Σ_i (∂ fisherLoss(i) / ∂w_j)². Integer ≥ 1. Default: {@link optimizerOptionTable}.
   * Not used in `"batch"` mode.
   */
  fisherSamples?: number;
  /**
   * The loss whose gradients define the Fisher information. In `"per-sample"` mode, `fisherLoss(i)`
   * is the loss (negative log-likelihood of the label) of the i-th Fisher example, i < fisherSamples,
   * giving the empirical Fisher of the paper. In `"batch"` mode, `fisherLoss(0)` is called once and
   * should be the mean loss of one mini-batch. Must return a scalar. Required.
   */
  fisherLoss?: (i: number) => tf.Scalar;
  /**
   * `"per-sample"` (the default, {@link optimizerOptionTable}): the empirical Fisher of the paper's equation, the mean of squared
   * per-example gradients over `fisherSamples` calls (one backward pass per example), E[g²].
   * `"batch"`: F_j = (∂ fisherLoss(0) / ∂w_j)², the square of one mini-batch gradient, which is what
   * the authors' released code computes (the training step's gradient, dropout on); one backward
   * pass. It is (E g)² over the batch, not E[g²]: per-example gradients that disagree in sign cancel
   * in the mean before squaring, so it ranks parameters by how consistently the batch pushes them,
   * and it is far noisier (one batch) than the per-sample estimate.
   */
  fisherMode?: FisherMode;
  /**
   * Which variables the mask applies to (see {@link MaskableRule}). Non-maskable variables take no
   * part in the Fisher top-k and keep their full SAM perturbation. Default (see {@link optimizerOptionTable})
   * `"authors"`: names containing `bias` or `embed` are not maskable, as in the authors' released code.
   */
  maskable?: MaskableRule;
}

/** {@link SAMOptions} with every default filled in. */
export type ResolvedSAMOptions = Required<SAMOptions>;

/** {@link FisherSAMOptions} with every default filled in; `maskable` resolved to its predicate. */
export type ResolvedFisherSAMOptions = Required<Omit<FisherSAMOptions, "maskable">> & {
  /** True for maskable variables. */
  maskable: (v: tf.Variable) => boolean;
  /** The rule's name: `authors`, `all` or `custom`. */
  maskableRule: MaskableRuleName;
};

const samDefaults: ResolvedSAMOptions = { ...optionDefaults(["rho", "eta", "gsamAlpha", "eps"], true), adaptive: false, rhoSchedule: null };

/** Throws unless `value` is a finite number ≥ 0. */
function nonNegative(owner: string, name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new Error(`${owner}: option ${name} must be a finite number >= 0, got ${String(value)}`);
  }
}

/** Throws on option names that are not in `known` (a typo would otherwise be silently ignored). */
function rejectUnknown(owner: string, options: object, known: string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Error(`${owner}: unknown option ${key} (known: ${known.join(", ")})`);
    }
  }
}

/** Validates SAM options and fills in defaults; the error names the option and its value. */
export function resolveSAMOptions(options: SAMOptions = {}, owner = "SAM"): ResolvedSAMOptions {
  const known = Object.keys(samDefaults);
  rejectUnknown(owner, options, known);
  const resolved = { ...samDefaults };
  for (const key of known as (keyof SAMOptions)[]) {
    if (options[key] !== undefined) Object.assign(resolved, { [key]: options[key] });
  }
  nonNegative(owner, "rho", resolved.rho);
  nonNegative(owner, "eta", resolved.eta);
  nonNegative(owner, "gsamAlpha", resolved.gsamAlpha);
  nonNegative(owner, "eps", resolved.eps);
  if (typeof resolved.adaptive !== "boolean") {
    throw new Error(`${owner}: option adaptive must be a boolean, got ${String(resolved.adaptive)}`);
  }
  const schedule = resolved.rhoSchedule;
  if (schedule != null) {
    const { rhoMin, lrMax, lrMin = 0 } = schedule;
    if (!(rhoMin >= 0 && rhoMin <= resolved.rho)) {
      throw new Error(`${owner}: option rhoSchedule.rhoMin must be in [0, rho = ${resolved.rho}], got ${String(rhoMin)}`);
    }
    if (!(lrMin >= 0 && lrMax > lrMin && Number.isFinite(lrMax))) {
      throw new Error(`${owner}: option rhoSchedule needs 0 <= lrMin < lrMax, got lrMin ${String(lrMin)}, lrMax ${String(lrMax)}`);
    }
    resolved.rhoSchedule = { rhoMin, lrMax, lrMin };
  }
  return resolved;
}

/** The SAM part (rho, adaptive, eta, gsamAlpha, eps, rhoSchedule) of FisherSAM options. */
export function samOptionsOf(options: FisherSAMOptions): SAMOptions {
  const { rho, adaptive, eta, gsamAlpha, eps, rhoSchedule } = options;
  return Object.fromEntries(
    Object.entries({ rho, adaptive, eta, gsamAlpha, eps, rhoSchedule }).filter(([, v]) => v !== undefined),
  ) as SAMOptions;
}

/** Validates FisherSAM options and fills in defaults; the error names the option and its value. */
export function resolveFisherSAMOptions(options: FisherSAMOptions = {}): ResolvedFisherSAMOptions {
  const owner = "FisherSAM";
  rejectUnknown(owner, options, [
    ...Object.keys(samDefaults),
    "sparsity",
    "maskInterval",
    "fisherSamples",
    "fisherLoss",
    "fisherMode",
    "maskable",
  ]);
  const sam = resolveSAMOptions(samOptionsOf(options), owner);
  const defaults = optionDefaults(["sparsity", "maskInterval", "fisherSamples", "fisherMode", "maskable"]);
  const {
    sparsity = defaults.sparsity,
    maskInterval = defaults.maskInterval,
    fisherSamples = defaults.fisherSamples,
    fisherLoss,
    fisherMode = defaults.fisherMode,
    maskable = defaults.maskable,
  } = options;
  if (typeof sparsity !== "number" || !(sparsity >= 0 && sparsity <= 1)) {
    throw new Error(`${owner}: option sparsity must be a number in [0, 1], got ${String(sparsity)}`);
  }
  checkPositiveInt(`${owner}: option maskInterval`, maskInterval);
  checkPositiveInt(`${owner}: option fisherSamples`, fisherSamples);
  if (typeof fisherLoss !== "function") {
    throw new Error(
      `${owner}: option fisherLoss is required, a function (i: number) => tf.Scalar, got ${String(fisherLoss)}`,
    );
  }
  const fisherModes = optimizerOptionTable.fisherMode.choices;
  if (!fisherModes.includes(fisherMode)) {
    throw new Error(`${owner}: option fisherMode must be ${choicesText(fisherModes)}, got ${String(fisherMode)}`);
  }
  const predicate = maskablePredicate(maskable, owner);
  return { ...sam, sparsity, maskInterval, fisherSamples, fisherLoss, fisherMode, maskable: predicate, maskableRule: maskableRuleName(maskable) };
}
