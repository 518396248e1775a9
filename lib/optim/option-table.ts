/**
 * The options of the optimizers and their defaults, each written once, with its source. The option
 * checks (options.ts, esam-options.ts), the named optimizers' defaults (lib/train/optimizers.ts),
 * the `fsam-paper` preset (lib/train/presets.ts) and the command line's flags (help text and
 * parsing) are all derived from {@link optimizerOptionTable}.
 */
import type { FisherMode } from "./options.ts";
import type { WeightSampling } from "./esam-options.ts";
import type { MaskableRule } from "./maskable.ts";

/** What every optimizer option has. */
interface OptionBase<T> {
  /** The default: what the named optimizers (`createOptimizer`, `train()`, the CLI) use when the option is not given. */
  default: T;
  /** What the option is, in one line (help texts). Lists the choices where there are some. */
  summary: string;
}

/** A number option. */
export interface NumberOption extends OptionBase<number> {
  /** Whether only integers are allowed. */
  integer: boolean;
  /**
   * What the optimizer classes (SAM, FisherSAM, ESAM) take when the option is not given, where it
   * differs from `default`: the value that leaves the option's feature off.
   */
  classDefault?: number;
  /** The default of the ASAM variants (`asam`, `fasam`), where ASAM's scale differs. */
  adaptiveDefault?: number;
}

/** An option that is one of a few words. */
export interface WordOption<T extends string> extends OptionBase<T> {
  /** The words it takes. */
  choices: readonly T[];
}

/** One optimizer option: its default and what a caller may give. */
export type OptimizerOption = NumberOption | WordOption<string>;

/** A number option of the table. */
function numberOption(value: number, summary: string, more: Partial<Omit<NumberOption, "default" | "summary">> = {}): NumberOption {
  return { default: value, summary, integer: false, ...more };
}

/** A word option of the table. */
function wordOption<T extends string>(value: T, choices: readonly T[], summary: string): WordOption<T> {
  return { default: value, choices, summary };
}

/** The base optimizers the SAM family can wrap. */
export const baseOptimizerNames = ["adam", "adamw", "sgd"] as const;

/** The optimizer options, their defaults and where each default comes from. */
export const optimizerOptionTable = {
  /** Base optimizer of the SAM family: `adam` (the FSAM paper fine-tunes with Adam). */
  base: wordOption<(typeof baseOptimizerNames)[number]>("adam", baseOptimizerNames, "base of the SAM family: adam | adamw | sgd"),
  /** Adam's β1: 0.9 (the FSAM paper §4, following RoBERTa). */
  beta1: numberOption(0.9, "Adam beta1"),
  /** Adam's β2: 0.98 (the FSAM paper §4, following RoBERTa). */
  beta2: numberOption(0.98, "Adam beta2"),
  /** Adam's ε: 1e-6 (the FSAM paper §4). */
  epsilon: numberOption(1e-6, "Adam epsilon"),
  /**
   * SAM's neighbourhood radius ρ: 0.05 (Foret et al. 2021; the FSAM paper's GLUE runs). ASAM's ρ
   * lives on another scale: 0.5 (Kwon et al. 2021 §5 use a ~10× larger ρ for ASAM).
   */
  rho: numberOption(0.05, "SAM radius", { adaptiveDefault: 0.5 }),
  /**
   * ASAM's η in T = |w| + η: 0.01 (Kwon et al. 2021). The SAM class itself takes 0 (η only matters
   * with `adaptive`).
   */
  eta: numberOption(0.01, "ASAM eta", { classDefault: 0 }),
  /**
   * GSAM's α: 0.1, a lab default inside the 0.01–0.3 range Zhuang et al. (2022) tune over. The SAM
   * class itself takes 0 (GSAM off).
   */
  gsamAlpha: numberOption(0.1, "GSAM alpha", { classDefault: 0 }),
  /** ε added to the global gradient norm of SAM's perturbation: 1e-12 (as the widely used PyTorch SAM, davda54/sam). */
  eps: numberOption(1e-12, "epsilon added to the gradient norm"),
  /** FSAM's sparsity s, the fraction of maskable parameters not perturbed: 0.9 (the FSAM paper). */
  sparsity: numberOption(0.9, "FSAM sparsity"),
  /** FSAM's mask refresh interval T_m, in steps: 100 (the FSAM paper). */
  maskInterval: numberOption(100, "FSAM mask refresh interval", { integer: true }),
  /** FSAM's N_F, the examples of the per-sample Fisher estimate: 128 (the FSAM paper). */
  fisherSamples: numberOption(128, "FSAM Fisher samples", { integer: true }),
  /**
   * How FSAM estimates the Fisher information: `per-sample`, the empirical Fisher of the paper's
   * equation; `batch` is what the authors' released code computes.
   */
  fisherMode: wordOption<FisherMode>("per-sample", ["per-sample", "batch"], "per-sample | batch"),
  /**
   * Which variables FSAM's mask covers: `authors`, the rule of the authors' released code (names
   * containing `bias` or `embed` are not maskable); `all`, the paper's equation read literally.
   */
  maskable: wordOption<Extract<MaskableRule, string>>(
    "authors",
    ["authors", "all"],
    "FSAM mask coverage: authors (names with 'bias' or 'embed' are not maskable and keep their full perturbation, as the authors' code) | all",
  ),
  /** ESAM's β, the fraction of the weights perturbed: 0.5 (the FSAM authors' GLUE scripts). */
  beta: numberOption(0.5, "ESAM: fraction of the weights perturbed, in (0, 1]"),
  /** ESAM's γ, the fraction of the batch selected for the update: 0.5 (the FSAM authors' GLUE scripts). */
  gamma: numberOption(0.5, "ESAM: fraction of the batch selected for the update, in (0, 1]"),
  /** How ESAM's SWP picks the perturbed weights: `per-element` (the ESAM paper, Du et al. 2022 §3.1). */
  weightSampling: wordOption<WeightSampling>(
    "per-element",
    ["per-element", "freeze-tensors"],
    "ESAM: per-element (the paper) | freeze-tensors (the authors' code)",
  ),
  /** Seed of ESAM's SWP draws: 0 (`train()` passes its run's seed). */
  seed: numberOption(0, "ESAM: seed of the weight sampling", { integer: true }),
};

/** The name of an option in {@link optimizerOptionTable}. */
export type OptimizerOptionName = keyof typeof optimizerOptionTable;

/** The defaults of some options, by name (`classDefault` where `forClasses` and there is one). */
export function optionDefaults<K extends OptimizerOptionName>(
  names: readonly K[],
  forClasses = false,
): { [N in K]: (typeof optimizerOptionTable)[N]["default"] } {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const entry: OptimizerOption = optimizerOptionTable[name];
    out[name] = forClasses && "classDefault" in entry && entry.classDefault !== undefined ? entry.classDefault : entry.default;
  }
  return out as { [N in K]: (typeof optimizerOptionTable)[N]["default"] };
}

/** The words quoted and joined for option errors: `"per-sample" or "batch"`, `"a", "b" or "c"`. */
export function choicesText(choices: readonly string[]): string {
  const quoted = choices.map((c) => `"${c}"`);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}` : quoted.join("");
}
