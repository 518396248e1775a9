/**
 * Optimizers by name, with the defaults of the papers they come from.
 *
 * | name    | what it is                                   | options (defaults and their sources: {@link optimizerOptionTable}) |
 * |---------|----------------------------------------------|------------------------------------------------|
 * | `adam`  | Adam (decoupled decay only if asked)         | β1, β2, ε (FSAM paper §4 fine-tuning setup), weightDecay 0 |
 * | `adamw` | AdamW, decoupled weight decay                | as `adam`, weightDecay 0.01 (FSAM paper; HF `run_glue.py` excludes biases/LayerNorm) |
 * | `sgd`   | SGD, optional heavy-ball momentum            | momentum 0                                     |
 * | `sam`   | SAM (Foret et al., ICLR 2021) on `base`      | ρ                                              |
 * | `asam`  | Adaptive SAM (Kwon et al., ICML 2021)        | ASAM's ρ (`adaptiveDefault`), η                |
 * | `gsam`  | Surrogate-gap SAM (Zhuang et al., ICLR 2022) | ρ → ρ_min=ρ/10 following the LR schedule (GSAM), α |
 * | `fsam`  | Fisher SAM (Zhong et al., EMNLP 2022 Findings)| ρ, sparsity, maskInterval, fisherSamples, fisherMode, maskable |
 * | `fasam` | Fisher mask on ASAM                          | ASAM's ρ, η + FSAM's mask options              |
 * | `fgsam` | Fisher mask on GSAM                          | GSAM's ρ, α + FSAM's mask options              |
 * | `esam`  | Efficient SAM (Du et al., ICLR 2022)         | ρ, β, γ, weightSampling, seed                  |
 * | `fesam` | Fisher mask on ESAM (the FSAM authors' run)  | ESAM's ρ, β, γ + FSAM's mask options           |
 *
 * The SAM family wraps a base optimizer (`base`, default `adam`, built with the same options), so a
 * comparison Adam vs SAM vs FSAM changes only the perturbation.
 */
import * as tf from "@tensorflow/tfjs";
import { AdamW } from "./adamw.ts";
import { GradientClipping } from "./clip.ts";
import { SAM } from "../optim/sam.ts";
import { FisherSAM } from "../optim/fisher-sam.ts";
import { ESAM, FisherESAM } from "../optim/esam.ts";
import type { WeightSampling } from "../optim/esam-options.ts";
import { checkOptimizerName, type OptimizerName } from "./optimizer-names.ts";
import { maskableRuleName, type MaskableRule } from "../optim/maskable.ts";
import type { FisherMode } from "../optim/options.ts";
import { baseOptimizerNames, optimizerOptionTable, optionDefaults } from "../optim/option-table.ts";

/** Base optimizers the SAM family can wrap. */
export type BaseOptimizerName = (typeof baseOptimizerNames)[number];

/** Options for {@link createOptimizer}; each applies to the optimizers that use it. */
export interface OptimizerOptions {
  /** Initial learning rate (the trainer's schedule overrides it each step). Default 2e-5. */
  lr?: number;
  /** Weight decay λ (adam/adamw bases). Default 0, or 0.01 for `adamw`. */
  weightDecay?: number;
  /**
   * `"decoupled"` (default): AdamW's w ← w − lr·λ·w, biases and LayerNorm weights excluded (HF).
   * `"l2"`: λ·w added to the gradient of every parameter, as `torch.optim.Adam`'s `weight_decay`
   * (what the FSAM authors' code runs; see adamw.ts).
   */
  weightDecayMode?: "decoupled" | "l2";
  /** Adam β1. Default: {@link optimizerOptionTable}. */
  beta1?: number;
  /** Adam β2. Default: {@link optimizerOptionTable}. */
  beta2?: number;
  /** Adam ε. Default: {@link optimizerOptionTable}. */
  epsilon?: number;
  /** SGD momentum. Default 0. */
  momentum?: number;
  /** Global-norm gradient clipping of the applied gradient; off when undefined. */
  clipNorm?: number;
  /** Base optimizer of the SAM family. Default: {@link optimizerOptionTable}. */
  base?: BaseOptimizerName;
  /** SAM neighbourhood radius ρ. Default: {@link optimizerOptionTable} (ASAM's for `asam`/`fasam`). */
  rho?: number;
  /** ASAM's η in T = |w| + η (`asam`/`fasam`). Default: {@link optimizerOptionTable}. */
  eta?: number;
  /** GSAM's α (`gsam`/`fgsam`). Default: {@link optimizerOptionTable}. */
  gsamAlpha?: number;
  /**
   * GSAM's ρ_min (`gsam`/`fgsam`): ρ_t = rhoMin + (rho − rhoMin)·lr_t/lr, following the learning-rate
   * schedule from 0 to its peak `lr` (Zhuang et al. 2022). Default rho/10 (the ratio of the
   * 0.01 → 0.001 schedule the FSAM authors' code configures). Equal to rho: constant ρ.
   */
  rhoMin?: number;
  /** FSAM: fraction of parameters NOT perturbed. Default: {@link optimizerOptionTable}. */
  sparsity?: number;
  /** FSAM: steps between Fisher-mask refreshes. Default: {@link optimizerOptionTable}. */
  maskInterval?: number;
  /** FSAM: number of per-example gradients in the Fisher estimate. Default: {@link optimizerOptionTable}. */
  fisherSamples?: number;
  /** FSAM: per-sample Fisher (the paper) or one squared batch gradient (the authors' code). */
  fisherMode?: FisherMode;
  /** FSAM: loss of training example i (a batch of one); the trainer builds it from the data. */
  fisherLoss?: (i: number) => tf.Scalar;
  /**
   * FSAM: which variables the mask applies to — `"authors"` (the default: names containing `bias` or
   * `embed` are not maskable and keep their full perturbation), `"all"`, or a predicate
   * (lib/optim/maskable.ts).
   */
  maskable?: MaskableRule;
  /** ESAM: fraction of the weights perturbed (SWP's β). Default: {@link optimizerOptionTable}. */
  beta?: number;
  /** ESAM: fraction of the batch whose perturbed gradient is used (SDS's γ). Default: {@link optimizerOptionTable}. */
  gamma?: number;
  /** ESAM: per-element SWP (the paper) or whole tensors frozen (the authors' code). */
  weightSampling?: WeightSampling;
  /** ESAM: seed of SWP's draws (default: {@link optimizerOptionTable}); `train()` passes its seed. Ignored by the others. */
  seed?: number;
}

/** An optimizer built by name, with a handle on the learning rate of its base. */
export interface BuiltOptimizer {
  /** The name it was built from. */
  name: OptimizerName;
  /** The optimizer to call `minimize` on. */
  optimizer: tf.Optimizer;
  /** The FisherSAM, for `fsam`/`fasam`/`fgsam`/`fesam` (mask refresh events, mask statistics). */
  fisher?: FisherSAM;
  /** The options actually used, defaults filled in (for result files). */
  settings: Record<string, string | number>;
}

/** The option defaults of an optimizer name (see the table at the top of this file). */
export function optimizerDefaults(name: OptimizerName): Record<string, string | number> {
  const adam = optionDefaults(["beta1", "beta2", "epsilon"]);
  const mask = optionDefaults(["sparsity", "maskInterval", "fisherSamples", "fisherMode", "maskable"]);
  const efficient = optionDefaults(["beta", "gamma", "weightSampling", "seed"]);
  const { base, rho } = optionDefaults(["base", "rho"]);
  const asam = { rho: optimizerOptionTable.rho.adaptiveDefault as number, ...optionDefaults(["eta"]) };
  const gsam = { rho, rhoMin: rho / 10, ...optionDefaults(["gsamAlpha"]) };
  switch (name) {
    case "adam":
      return { ...adam, weightDecay: 0 };
    case "adamw":
      return { ...adam, weightDecay: 0.01 };
    case "sgd":
      return { momentum: 0, weightDecay: 0 };
    case "sam":
      return { base, ...adam, weightDecay: 0, rho };
    case "asam":
      return { base, ...adam, weightDecay: 0, ...asam };
    case "gsam":
      return { base, ...adam, weightDecay: 0, ...gsam };
    case "fsam":
      return { base, ...adam, weightDecay: 0, rho, ...mask };
    case "fasam":
      return { base, ...adam, weightDecay: 0, ...asam, ...mask };
    case "fgsam":
      return { base, ...adam, weightDecay: 0, ...gsam, ...mask };
    case "esam":
      return { base, ...adam, weightDecay: 0, rho, ...efficient };
    case "fesam":
      return { base, ...adam, weightDecay: 0, rho, ...efficient, ...mask };
  }
}

function definedOnly(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && typeof v !== "function"));
}

function baseOptimizer(kind: BaseOptimizerName, s: Record<string, string | number>, lr: number): tf.Optimizer {
  if (kind === "sgd") {
    if (Number(s.weightDecay) > 0) {
      throw new Error(`weightDecay ${s.weightDecay} is supported with adam/adamw only, not with sgd`);
    }
    const momentum = Number(s.momentum ?? 0);
    if (!(momentum >= 0 && momentum < 1)) throw new Error(`momentum must be in [0, 1), got ${momentum}`);
    return momentum > 0 ? tf.train.momentum(lr, momentum) : tf.train.sgd(lr);
  }
  return new AdamW({
    learningRate: lr,
    beta1: Number(s.beta1),
    beta2: Number(s.beta2),
    epsilon: Number(s.epsilon),
    weightDecay: Number(s.weightDecay),
    ...(s.weightDecayMode === "l2" ? { weightDecayMode: "l2" as const, decay: () => true } : {}),
  });
}

/**
 * Builds an optimizer by name. Options not given take the defaults of {@link optimizerDefaults};
 * `fisherLoss` is required for the Fisher variants. Throws on unknown names or bad values.
 */
export function createOptimizer(name: string, options: OptimizerOptions = {}): BuiltOptimizer {
  const optName = checkOptimizerName(name);
  const lr = options.lr ?? 2e-5;
  const isEfficient = optName === "esam" || optName === "fesam";
  const { seed, ...rest } = options;
  const settings: Record<string, string | number> = {
    ...optimizerDefaults(optName),
    ...(definedOnly(rest) as Record<string, string | number>),
    ...(isEfficient && seed !== undefined ? { seed } : {}),
    lr,
  };
  if (options.base && !baseOptimizerNames.includes(options.base)) {
    throw new Error(`base: unknown base optimizer '${options.base}' (use adam, adamw or sgd)`);
  }
  if (optName === "adamw" && options.weightDecay === undefined) settings.weightDecay = 0.01;
  const isSamFamily = !(baseOptimizerNames as readonly string[]).includes(optName);
  const baseKind = (isSamFamily ? (settings.base as BaseOptimizerName) : optName) as BaseOptimizerName;
  if (baseKind === "adamw" && options.weightDecay === undefined) settings.weightDecay = 0.01;
  let base = baseOptimizer(baseKind, settings, lr);
  if (options.clipNorm !== undefined) base = new GradientClipping(base, options.clipNorm);
  if (!isSamFamily) return { name: optName, optimizer: base, settings };

  const isGsam = optName === "gsam" || optName === "fgsam";
  // The default ρ_min scales with a user-given ρ (ρ/10); an explicit rhoMin wins.
  if (isGsam && options.rhoMin === undefined) settings.rhoMin = Number(settings.rho) / 10;
  const samOptions = {
    rho: Number(settings.rho),
    adaptive: optName === "asam" || optName === "fasam",
    eta: Number(settings.eta ?? 0),
    gsamAlpha: Number(settings.gsamAlpha ?? 0),
    ...(isGsam ? { rhoSchedule: { rhoMin: Number(settings.rhoMin), lrMax: lr, lrMin: 0 } } : {}),
  };
  const sampling = isEfficient
    ? {
        beta: Number(settings.beta),
        gamma: Number(settings.gamma),
        seed: Number(settings.seed),
        weightSampling: settings.weightSampling as WeightSampling,
      }
    : {};
  if (optName === "sam" || optName === "asam" || optName === "gsam") {
    return { name: optName, optimizer: new SAM(base, samOptions), settings };
  }
  if (optName === "esam") return { name: optName, optimizer: new ESAM(base, { ...samOptions, ...sampling }), settings };
  if (options.maskable !== undefined) settings.maskable = maskableRuleName(options.maskable);
  if (!options.fisherLoss) {
    throw new Error(`optimizer '${optName}' needs fisherLoss (the loss of training example i); train() builds it`);
  }
  const fisher = new (isEfficient ? FisherESAM : FisherSAM)(base, {
    ...samOptions,
    ...sampling,
    sparsity: Number(settings.sparsity),
    maskInterval: Number(settings.maskInterval),
    fisherSamples: Number(settings.fisherSamples),
    fisherMode: settings.fisherMode as FisherMode,
    fisherLoss: options.fisherLoss,
    ...(options.maskable ? { maskable: options.maskable } : {}),
  });
  return { name: optName, optimizer: fisher, fisher, settings };
}

/**
 * Sets the learning rate of an optimizer, reaching through the wrappers of this library (SAM and
 * FisherSAM via their base, gradient clipping via its inner optimizer) to the optimizer that uses it.
 * Works with {@link AdamW} and tfjs's optimizers. Throws when it finds no learning rate to set.
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // tf.Optimizer answers `instanceof` by duck typing (any optimizer is "an instance" of every
  // optimizer class), so the classes are told apart by their prototype chain.
  const o = optimizer as unknown as Record<string, unknown>;
  if (AdamW.prototype.isPrototypeOf(optimizer)) {
    (optimizer as AdamW).learningRate = lr;
  } else if (GradientClipping.prototype.isPrototypeOf(optimizer)) {
    setLearningRate((optimizer as GradientClipping).inner, lr);
  } else if (o.base != null && o.base instanceof tf.Optimizer) {
    if (SAM.prototype.isPrototypeOf(optimizer)) (optimizer as SAM).followLearningRate(lr);
    setLearningRate(o.base, lr);
  } else if (typeof o.setLearningRate === "function") {
    (o.setLearningRate as (lr: number) => void).call(optimizer, lr);
  } else if (typeof o.learningRate === "number") {
    o.learningRate = lr;
  } else {
    throw new Error(
      `cannot set the learning rate of optimizer ${optimizer.getClassName()}: it has no learningRate; ` +
        `use a named optimizer or an AdamW/tfjs optimizer`,
    );
  }
}
