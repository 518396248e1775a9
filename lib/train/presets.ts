/**
 * Training presets: named sets of training options. `fsam-paper` is the fine-tuning setup of the
 * FSAM paper (Zhong et al., EMNLP 2022 Findings) as the authors' scripts (FSAM4PLM,
 * `scripts/*-train.sh` and `fairseq-FSAM/optim/samsgd.py`) run it.
 */
import type { OptimizerOptions } from "./optimizers.ts";
import type { ScheduleKind } from "./schedule.ts";
import { optionDefaults } from "../optim/option-table.ts";

/** The preset names. */
export const presetNames = ["fsam-paper"] as const;

/** One of {@link presetNames}. */
export type PresetName = (typeof presetNames)[number];

/** The peak learning rate of `fsam-paper` per task: 1e-5 for CoLA, MRPC, SST-2; 2e-5 for RTE, STS-B. */
export const fsamPaperLearningRates: Readonly<Record<string, number>> = { cola: 1e-5, mrpc: 1e-5, sst2: 1e-5, rte: 2e-5, stsb: 2e-5 };

/** The options a preset sets (the trainer's own options, plus the optimizer's). */
export interface PresetOptions extends Omit<OptimizerOptions, "fisherLoss" | "maskable"> {
  /** Passes over the training set. */
  epochs: number;
  /** Mini-batch size. */
  batchSize: number;
  /** Warm-up fraction. */
  warmupRatio: number;
  /** Decay after warm-up. */
  schedule: ScheduleKind;
  /** Gradient clipping (0 = off). */
  clipNorm: number;
}

/** Throws unless `name` is a known preset. */
export function checkPresetName(name: string): PresetName {
  if (!(presetNames as readonly string[]).includes(name)) {
    throw new Error(`preset: unknown name '${name}' (known: ${presetNames.join(", ")})`);
  }
  return name as PresetName;
}

/**
 * The options of a preset for a task and optimizer. `fsam-paper`: Adam with the paper's β1, β2, ε and
 * weight decay 0.01 as L2 on every parameter (`torch.optim.Adam`'s `weight_decay`, which the authors'
 * `samsgd` optimizer wraps), no gradient clipping, 10 epochs, the task's peak learning rate
 * ({@link fsamPaperLearningRates}; other tasks get none, so `lr` must then be given), 6 % linear
 * warm-up then linear decay to 0 (fairseq's `polynomial_decay` with power 1), batch 32, the paper's ρ
 * (not for ASAM, whose ρ lives on another scale), sparsity s and mask interval T_m. The paper's
 * optimizer values are the defaults of the option table (lib/optim/option-table.ts).
 */
export function presetOptions(name: PresetName, task: string, optimizer: string): Partial<PresetOptions> {
  checkPresetName(name);
  const lr = fsamPaperLearningRates[task];
  const adaptive = optimizer === "asam" || optimizer === "fasam";
  return {
    epochs: 10,
    batchSize: 32,
    ...(lr !== undefined ? { lr } : {}),
    warmupRatio: 0.06,
    schedule: "linear",
    clipNorm: 0,
    ...optionDefaults(["base", "beta1", "beta2", "epsilon"]),
    weightDecay: 0.01,
    weightDecayMode: "l2",
    ...(adaptive ? {} : optionDefaults(["rho"])),
    ...optionDefaults(["sparsity", "maskInterval"]),
  };
}

/** What {@link withPreset} needs of the options it completes. */
interface PresetTarget {
  /** The preset to apply, or `none`. */
  preset?: PresetName | "none";
  /** Optimizer name (an instance counts as `adam` for the preset). */
  optimizer?: unknown;
  /** Peak learning rate. */
  lr?: number;
}

/**
 * `options` completed by their preset for `task`: every option the preset sets and `options` leaves
 * undefined takes the preset's value; given options win. Throws when the preset has no learning rate
 * for the task and `lr` is not given. Options without a preset (or `none`) come back as they are.
 */
export function withPreset<T extends PresetTarget>(options: T, task: string): T {
  if (options.preset === undefined || options.preset === "none") return options;
  const name = checkPresetName(options.preset);
  const optimizer = typeof options.optimizer === "string" ? options.optimizer : "adam";
  const preset = presetOptions(name, task, optimizer);
  if (preset.lr === undefined && options.lr === undefined) {
    throw new Error(
      `preset ${name}: no learning rate for task '${task}' (the paper gives one for ${Object.keys(fsamPaperLearningRates).join(", ")}); pass lr`,
    );
  }
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { ...preset, ...given } as T;
}
