/**
 * Options of the SAM-family optimizers, with their defaults and validation.
 */
import type * as tf from "@tensorflow/tfjs";

/** Options of {@link SAM} (SAM, ASAM and GSAM). */
export interface SAMOptions {
  /**
   * Neighbourhood radius ρ of SAM (Foret et al. 2021): the weights are perturbed by
   * e = ρ·g/‖g‖₂ before the gradient that updates them is taken. ρ = 0 makes SAM the base
   * optimizer. Must be ≥ 0. Default 0.05 (the common choice of Foret et al.).
   */
  rho?: number;
  /**
   * ASAM (Kwon et al. 2021): scale-invariant perturbation e = ρ·T²g/(‖Tg‖₂ + eps) with the
   * element-wise operator T = |w| + eta. Default false.
   */
  adaptive?: boolean;
  /**
   * ASAM's η, added to |w| so that zero weights are still perturbed. Must be ≥ 0. Only used when
   * `adaptive` is true. Default 0 (the ASAM paper uses 0.01).
   */
  eta?: number;
  /**
   * GSAM's α (Zhuang et al. 2022): before the update, the perturbed gradient g' is replaced by
   * g' − α·g⊥, where g⊥ is the component of the unperturbed gradient g orthogonal to g' (global dot
   * products over all variables). 0 disables GSAM. Must be ≥ 0. Default 0 (Zhuang et al. tune α in about 0.01–0.3).
   */
  gsamAlpha?: number;
  /** ε added to the global gradient norm to avoid dividing by zero. Must be ≥ 0. Default 1e-12. */
  eps?: number;
}

/** How {@link FisherSAM} estimates the Fisher information of each parameter. */
export type FisherMode = "per-sample" | "batch";

/** Options of {@link FisherSAM}: the SAM options plus the Fisher mask of FSAM. */
export interface FisherSAMOptions extends SAMOptions {
  /**
   * Fraction of the maskable parameters that are *not* perturbed (FSAM's sparsity s, Zhong et al.
   * 2022): the mask keeps the k = floor((1 − s)·n) parameters with the largest Fisher information
   * over all maskable variables together (one global top-k). 0 is SAM; 1 is the base optimizer.
   * In [0, 1]. Default 0.9 (the paper's choice).
   */
  sparsity?: number;
  /**
   * Mask refresh interval T_m: the Fisher information and the mask are recomputed at every step t
   * with t % maskInterval == 0 (t counted from 0, before that step's perturbation). Integer ≥ 1.
   * Default 100 (the paper's T_m).
   */
  maskInterval?: number;
  /**
   * N_F, the number of `fisherLoss(i)` calls (i = 0 … N−1) averaged in the per-sample Fisher
   * F_j = (1/N) Σ_i (∂ fisherLoss(i) / ∂w_j)². Integer ≥ 1. Default 128 (the paper's N_F).
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
   * `"per-sample"` (default): the empirical Fisher of the paper's equation, the mean of squared
   * per-example gradients over `fisherSamples` calls (one backward pass per example).
   * `"batch"`: F_j = (∂ fisherLoss(0) / ∂w_j)², the square of one mini-batch gradient, which is what
   * the authors' released code computes; one backward pass, but a coarser estimate.
   */
  fisherMode?: FisherMode;
  /**
   * Which variables the mask applies to. Non-maskable variables take no part in the Fisher top-k
   * and keep their full SAM perturbation. Default: every variable is maskable.
   */
  maskable?: (v: tf.Variable) => boolean;
}

/** {@link SAMOptions} with every default filled in. */
export type ResolvedSAMOptions = Required<SAMOptions>;

/** {@link FisherSAMOptions} with every default filled in. */
export type ResolvedFisherSAMOptions = Required<FisherSAMOptions>;

const samDefaults: ResolvedSAMOptions = { rho: 0.05, adaptive: false, eta: 0, gsamAlpha: 0, eps: 1e-12 };

/** Throws unless `value` is a finite number ≥ 0. */
function nonNegative(owner: string, name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new Error(`${owner}: option ${name} must be a finite number >= 0, got ${String(value)}`);
  }
}

/** Throws unless `value` is an integer ≥ 1. */
function positiveInteger(owner: string, name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new Error(`${owner}: option ${name} must be an integer >= 1, got ${String(value)}`);
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
  return resolved;
}

/** The SAM part (rho, adaptive, eta, gsamAlpha, eps) of FisherSAM options. */
export function samOptionsOf(options: FisherSAMOptions): SAMOptions {
  const { rho, adaptive, eta, gsamAlpha, eps } = options;
  return Object.fromEntries(
    Object.entries({ rho, adaptive, eta, gsamAlpha, eps }).filter(([, v]) => v !== undefined),
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
  const {
    sparsity = 0.9,
    maskInterval = 100,
    fisherSamples = 128,
    fisherLoss,
    fisherMode = "per-sample",
    maskable = () => true,
  } = options;
  if (typeof sparsity !== "number" || !(sparsity >= 0 && sparsity <= 1)) {
    throw new Error(`${owner}: option sparsity must be a number in [0, 1], got ${String(sparsity)}`);
  }
  positiveInteger(owner, "maskInterval", maskInterval);
  positiveInteger(owner, "fisherSamples", fisherSamples);
  if (typeof fisherLoss !== "function") {
    throw new Error(
      `${owner}: option fisherLoss is required, a function (i: number) => tf.Scalar, got ${String(fisherLoss)}`,
    );
  }
  if (fisherMode !== "per-sample" && fisherMode !== "batch") {
    throw new Error(`${owner}: option fisherMode must be "per-sample" or "batch", got ${String(fisherMode)}`);
  }
  if (typeof maskable !== "function") {
    throw new Error(`${owner}: option maskable must be a function (v: tf.Variable) => boolean, got ${String(maskable)}`);
  }
  return { ...sam, sparsity, maskInterval, fisherSamples, fisherLoss, fisherMode, maskable };
}
