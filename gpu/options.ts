/**
 * What the GPU kit's check runs: the shapes of the correctness probe and of the timed steps, the
 * time budget of each part, and where the kit and its results live. Full mode is the measurement
 * on a real GPU (batch 32 × seq 128, bert-tiny/mini/base, 8 minutes in all); `--small` (or
 * `FSAM_KIT_SMALL=1`) shrinks every shape so the kit runs on a software Vulkan adapter in a test.
 */
import { resolveBertConfig, type BertConfig, type BertPresetName } from "../lib/models/config.ts";
import { checkPositiveNumber } from "../lib/check.ts";

/** The optimizers the kit times, as `createOptimizer` names them. */
export const KIT_OPTIMIZERS = ["adam", "sam", "fsam"] as const;

/** One of {@link KIT_OPTIMIZERS}. */
export type KitOptimizer = (typeof KIT_OPTIMIZERS)[number];

/** The models the kit times, smallest first. */
export const KIT_MODELS: readonly BertPresetName[] = ["bert-tiny", "bert-mini", "bert-base"];

/** Shapes of the timed training steps (both ours and PyTorch's). */
export interface BenchShapes {
  /** The models, each with the configuration ours builds (PyTorch's script builds the same). */
  models: { name: BertPresetName; config: BertConfig }[];
  /** Sequences per batch. */
  batch: number;
  /** Tokens per sequence. */
  seq: number;
  /** Untimed steps before timing (pipeline compilation, allocation). */
  warmup: number;
  /** Timed steps per cell (fewer when the cell's share of the budget runs out). */
  steps: number;
  /** FSAM's per-example gradients per Fisher refresh (the paper's N_F). */
  fisherSamples: number;
}

/** Shapes of the correctness probe (webgpu against the cpu backend). */
export interface ProbeShapes {
  /** The model configuration. */
  config: BertConfig;
  /** Sequences per batch. */
  batch: number;
  /** Tokens per sequence. */
  seq: number;
  /** Optimizer steps compared per optimizer. */
  steps: number;
  /** Learning rate of the compared steps (large enough that 5 steps move the weights visibly). */
  lr: number;
  /** FSAM's per-example gradients in the compared mask refresh. */
  fisherSamples: number;
}

/** Seconds each part of the check may take at most. `ours` gets whatever is left before the end. */
export interface PartBudgets {
  /** Loading the webgpu backend and describing the adapter. */
  backend: number;
  /** The correctness probe. */
  probe: number;
  /** The PyTorch steps. */
  pytorch: number;
}

/** Everything the kit's check needs to know. */
export interface KitOptions {
  /** True for the shrunken shapes of the software-Vulkan test. */
  small: boolean;
  /** Epoch milliseconds by which the whole check must be done. */
  deadline: number;
  /** Seconds kept after the timed parts for the summary. */
  reserveS: number;
  /** Per-part budgets in seconds. */
  budgets: PartBudgets;
  /** Shapes of the timed steps. */
  bench: BenchShapes;
  /** Shapes of the probe. */
  probe: ProbeShapes;
  /** The kit folder (holds torch_bench.py and manifest.json), or undefined outside a kit. */
  kitDir: string | undefined;
  /** A python3 that imports torch, or undefined when the launcher found none. */
  python: string | undefined;
  /** Folder for the JSON summary. */
  outDir: string;
}

/** Total seconds of a full run: the 8 minutes. */
export const FULL_TOTAL_S = 480;

/** Total seconds of a `--small` run (software Vulkan on a slow, shared CPU). */
export const SMALL_TOTAL_S = 900;

/**
 * A preset shrunk for the software-Vulkan test: one layer, a quarter of the hidden and feed-forward
 * widths (heads as the preset), a 1000-token vocabulary, 64 positions. gpu/torch_bench.py's
 * `--small` builds the same shapes.
 */
function smallConfig(name: BertPresetName): BertConfig {
  const full = resolveBertConfig(name);
  return resolveBertConfig({
    ...full,
    num_hidden_layers: 1,
    hidden_size: full.hidden_size / 4,
    intermediate_size: full.intermediate_size / 4,
    vocab_size: 1000,
    max_position_embeddings: 64,
  });
}

/**
 * The probe's vocabulary: bert-tiny's layers with 2048 word embeddings instead of 30522. The cpu
 * reference is plain JavaScript (≈ 4 min here for batch 8 × seq 32 and the full vocabulary, on a
 * loaded 2-core machine), so the probe keeps its shapes small; the ops compared are the same.
 */
const PROBE_VOCAB = 2048;

/** Reads a number of seconds from the environment, or `fallback` when unset. */
function envSeconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  return checkPositiveNumber(name, Number(raw));
}

/**
 * The kit options from the command line (`--small`) and the environment the launcher sets:
 * `FSAM_KIT_SMALL=1`, `FSAM_KIT_DEADLINE` (epoch ms; default now + the total),
 * `FSAM_KIT_TOTAL_S`, `FSAM_KIT_DIR`, `FSAM_KIT_PYTHON`, `FSAM_KIT_OUT` (default the current folder).
 *
 * @throws Error naming an unknown argument or a bad variable.
 */
export function kitOptions(argv: readonly string[], env: NodeJS.ProcessEnv, now = Date.now()): KitOptions {
  let small = env.FSAM_KIT_SMALL === "1";
  for (const arg of argv) {
    if (arg === "--small") small = true;
    else throw new Error(`unknown argument ${JSON.stringify(arg)}; the check takes only --small`);
  }
  const total = envSeconds(env, "FSAM_KIT_TOTAL_S", small ? SMALL_TOTAL_S : FULL_TOTAL_S);
  const deadline = env.FSAM_KIT_DEADLINE ? checkPositiveNumber("FSAM_KIT_DEADLINE", Number(env.FSAM_KIT_DEADLINE)) : now + total * 1000;
  const bench: BenchShapes = small
    ? { models: KIT_MODELS.map((name) => ({ name, config: smallConfig(name) })), batch: 2, seq: 16, warmup: 1, steps: 2, fisherSamples: 2 }
    : { models: KIT_MODELS.map((name) => ({ name, config: resolveBertConfig(name) })), batch: 32, seq: 128, warmup: 2, steps: 10, fisherSamples: 128 };
  const probe: ProbeShapes = small
    ? { config: resolveBertConfig({ ...smallConfig("bert-tiny"), vocab_size: 256 }), batch: 2, seq: 8, steps: 5, lr: 1e-3, fisherSamples: 2 }
    : { config: resolveBertConfig({ ...resolveBertConfig("bert-tiny"), vocab_size: PROBE_VOCAB }), batch: 4, seq: 16, steps: 5, lr: 1e-3, fisherSamples: 4 };
  return {
    small,
    deadline,
    reserveS: 5,
    budgets: small ? { backend: 60, probe: 300, pytorch: 120 } : { backend: 60, probe: 90, pytorch: 120 },
    bench,
    probe,
    kitDir: env.FSAM_KIT_DIR || undefined,
    python: env.FSAM_KIT_PYTHON || undefined,
    outDir: env.FSAM_KIT_OUT || process.cwd(),
  };
}
