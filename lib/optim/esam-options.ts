/**
 * Options of ESAM (Du et al., ICLR 2022) and Fisher-ESAM: the two efficiency strategies, stochastic
 * weight perturbation (β) and sharpness-sensitive data selection (γ), with defaults and validation.
 * The SAM and FSAM options they add to are resolved by options.ts, unchanged.
 */
import type { FisherSAMOptions, SAMOptions } from "./options.ts";
import { choicesText, optimizerOptionTable, optionDefaults } from "./option-table.ts";
import { checkInteger } from "../check.ts";

/**
 * How ESAM's stochastic weight perturbation (SWP) picks the perturbed weights.
 *
 * - `"per-element"` (the paper, Du et al. 2022 §3.1): at each step every parameter element is
 *   perturbed with probability β, independently: e = (ρ/β)·m ⊙ g/‖g‖ with m_j ~ Bernoulli(β) and
 *   ‖g‖ the norm of the whole gradient. The gradient at w is still needed for every weight.
 * - `"freeze-tensors"` (the authors' released code): after each step every whole variable is
 *   frozen for the next step with probability 1 − β; a frozen variable gets no gradient at w (its
 *   backward kernels are skipped) and no perturbation, the norm is taken over the unfrozen
 *   variables' gradient only, and e is always divided by β — also at the first step, when nothing
 *   is frozen yet.
 */
export type WeightSampling = "per-element" | "freeze-tensors";

/** The options ESAM adds to the SAM (or FSAM) options. */
export interface ESAMSamplingOptions {
  /**
   * SWP's β: the probability that a weight (or, with `"freeze-tensors"`, a whole variable) takes
   * part in the perturbation; the perturbation is scaled by 1/β. In (0, 1]; 1 perturbs every
   * weight (SAM). Default: {@link optimizerOptionTable}.
   */
  beta?: number;
  /**
   * SDS's γ: the fraction of the mini-batch whose gradient at w + e updates the weights, the
   * ⌊γ·B⌋ examples (at least 1) with the largest loss increase ℓ_i(w + e) − ℓ_i(w). In (0, 1];
   * 1 uses the whole batch (SAM). Default: {@link optimizerOptionTable}.
   */
  gamma?: number;
  /** Seed of SWP's random draws (mulberry32, lib/random.ts). Integer. Default: {@link optimizerOptionTable}. */
  seed?: number;
  /** Which weights SWP perturbs; see {@link WeightSampling}. Default: {@link optimizerOptionTable}. */
  weightSampling?: WeightSampling;
}

/** Options of {@link ESAM}: the SAM options (ρ, ASAM, GSAM) plus β, γ and SWP's seed and mode. */
export interface ESAMOptions extends SAMOptions, ESAMSamplingOptions {}

/** Options of {@link FisherESAM}: the FSAM options (mask, Fisher estimate) plus ESAM's. */
export interface FisherESAMOptions extends FisherSAMOptions, ESAMSamplingOptions {}

/** {@link ESAMSamplingOptions} with every default filled in. */
export type ResolvedESAMSamplingOptions = Required<ESAMSamplingOptions>;

const samplingKeys = ["beta", "gamma", "seed", "weightSampling"] as const;

/** Throws unless `value` is a number in (0, 1]. */
function fraction(owner: string, name: string, what: string, value: unknown): void {
  if (typeof value !== "number" || !(value > 0 && value <= 1)) {
    throw new Error(`${owner}: option ${name} (${what}) must be a number in (0, 1], got ${String(value)}`);
  }
}

/**
 * Splits ESAM's own options from the rest (which the caller resolves as SAM or FSAM options),
 * validates them and fills in defaults; the error names the option and its value.
 */
export function splitESAMOptions<T extends object>(
  owner: string,
  options: T & ESAMSamplingOptions,
): { sampling: ResolvedESAMSamplingOptions; rest: Omit<T, keyof ESAMSamplingOptions> } {
  const rest: Record<string, unknown> = { ...(options as object) };
  for (const key of samplingKeys) delete rest[key];
  const defaults = optionDefaults(samplingKeys);
  const { beta = defaults.beta, gamma = defaults.gamma, seed = defaults.seed, weightSampling = defaults.weightSampling } = options;
  fraction(owner, "beta", "the fraction of weights perturbed", beta);
  fraction(owner, "gamma", "the fraction of the batch selected", gamma);
  checkInteger(`${owner}: option seed`, seed);
  const samplings = optimizerOptionTable.weightSampling.choices;
  if (!samplings.includes(weightSampling)) {
    throw new Error(`${owner}: option weightSampling must be ${choicesText(samplings)}, got ${String(weightSampling)}`);
  }
  return { sampling: { beta, gamma, seed, weightSampling }, rest: rest as Omit<T, keyof ESAMSamplingOptions> };
}
