/**
 * Command-line flags shared by `fsam-lab train` and `fsam-lab compare`, turned into
 * {@link TrainOptions}. Every number is checked and a bad value is reported with its flag.
 */
import { existsSync, statSync } from "node:fs";
import type { ParseArgsConfig } from "node:util";
import { BertTokenizer } from "../../lib/data/tokenizer.ts";
import type { TrainOptions } from "../../lib/train/train.ts";
import type { ScheduleKind } from "../../lib/train/schedule.ts";
import { optimizerOptionTable, type OptimizerOption } from "../../lib/optim/option-table.ts";

/**
 * The optimizer options the command line takes, in help order, each with the placeholder of its
 * value; their flags (`--mask-interval` for `maskInterval`), help lines, defaults and parsing come
 * from the option table (lib/optim/option-table.ts).
 */
const optimizerFlags = [
  ["base", "B"], ["rho", "R"], ["eta", "E"], ["gsamAlpha", "A"], ["sparsity", "S"], ["maskInterval", "T"],
  ["fisherSamples", "N"], ["fisherMode", "M"], ["beta", "B"], ["gamma", "G"], ["weightSampling", "W"], ["maskable", "R"],
] as const;

/** An option name in kebab case: `maskInterval` → `mask-interval`. */
type Kebab<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `-${Lowercase<H>}`}${Kebab<T>}` : S;

/** The optimizer options' flags. */
type OptimizerFlag = Kebab<(typeof optimizerFlags)[number][0]>;

/** The flag of an option: `maskInterval` → `mask-interval`. */
function flagOf<K extends string>(key: K): Kebab<K> {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) as Kebab<K>;
}

/** A default as the help shows it (1e-6, not 0.000001). */
function shown(value: string | number): string {
  return typeof value === "number" && value !== 0 && Math.abs(value) < 1e-3 ? value.toExponential() : String(value);
}

/** `head` followed by `text`, wrapped to lines of at most `width` characters, the later lines indented as far as `head` is long. */
function wrap(head: string, text: string, width = 116): string {
  const lines = [head];
  for (const word of text.split(" ")) {
    const last = lines[lines.length - 1];
    if (last.length > head.length && last.length + 1 + word.length > width) lines.push(" ".repeat(head.length) + word);
    else lines[lines.length - 1] = last.length > head.length ? `${last} ${word}` : last + word;
  }
  return lines.join("\n");
}

/** The help lines of the optimizer flags, from the option table. */
function optimizerFlagsHelp(): string {
  return optimizerFlags
    .map(([key, placeholder]) => {
      const entry: OptimizerOption = optimizerOptionTable[key];
      const adaptive = "adaptiveDefault" in entry && entry.adaptiveDefault !== undefined ? `; ${shown(entry.adaptiveDefault)} for asam/fasam` : "";
      const head = `  --${flagOf(key)} ${placeholder}`.padEnd(27);
      return wrap(head, `${entry.summary} (default ${shown(entry.default)}${adaptive})`);
    })
    .join("\n");
}

/** The `node:util` parseArgs spec of the optimizer flags. */
const optimizerFlagSpec = Object.fromEntries(optimizerFlags.map(([key]) => [flagOf(key), { type: "string" }])) as Record<OptimizerFlag, { type: "string" }>;

/** The `node:util` parseArgs option spec of the shared flags. */
export const runFlagSpec = {
  task: { type: "string" },
  data: { type: "string" },
  model: { type: "string" },
  vocab: { type: "string" },
  epochs: { type: "string" },
  "max-steps": { type: "string" },
  "batch-size": { type: "string" },
  lr: { type: "string" },
  schedule: { type: "string" },
  "warmup-ratio": { type: "string" },
  "weight-decay": { type: "string" },
  "clip-norm": { type: "string" },
  "max-length": { type: "string" },
  "low-resource": { type: "string" },
  "low-resource-total": { type: "string" },
  "eval-every": { type: "string" },
  patience: { type: "string" },
  ...optimizerFlagSpec,
  preset: { type: "string" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

const t = optimizerOptionTable;

/** Help text of the shared flags. */
export const runFlagsHelp = `data and model:
  --task T                 task name (rte, cola, mrpc, sst2, stsb, wnli, cb, copa, …, default); default: default
  --data DIR               folder with the task's train/dev files (e.g. ../shared/data/glue); not needed for default
  --model M                preset (bert-tiny, bert-mini, bert-small, bert-medium, bert-base; random init),
                           a BERT config .json file (random init; missing fields take HF defaults),
                           or a Hugging Face checkpoint folder (config.json, model.safetensors, vocab.txt);
                           default bert-tiny
  --vocab FILE             the tokenizer's vocab.txt (one token per line); default: the model folder's vocab.txt,
                           or the default task's own
  --max-length L           longest sequence in tokens (default 128)
  --low-resource K         train on K examples per class, drawn by the run's seed
  --low-resource-total N   train on N examples (class proportions kept), drawn by the run's seed
training:
  --epochs N               passes over the training set (default 3)
  --max-steps N            stop after N steps
  --batch-size B           mini-batch size (default 32)
  --lr X                   peak learning rate (default 2e-5 for a checkpoint, 1e-3 for a preset)
  --schedule S             linear | polynomial | constant after warm-up (default linear)
  --warmup-ratio R         warm-up fraction of the steps (default 0.06)
  --weight-decay W         decoupled weight decay (default 0; 0.01 for adamw)
  --clip-norm C            global gradient-norm clipping, 0 = off (default 1)
  --eval-every N           evaluate every N steps as well as at each epoch end
  --patience P             early stopping after P evaluations without improvement
optimizer:
${optimizerFlagsHelp()}
preset:
  --preset P               fsam-paper: the FSAM paper's setup (Adam ${t.beta1.default}/${t.beta2.default}, eps ${shown(t.epsilon.default)}, L2 weight decay
                           0.01, no clipping, 10 epochs, LR 1e-5 cola/mrpc/sst2, 2e-5 rte/stsb, 6% warm-up,
                           linear decay, batch 32, rho ${t.rho.default}, sparsity ${t.sparsity.default}, mask interval ${t.maskInterval.default}); flags
                           given explicitly win | none (default none for train; compare uses
                           fsam-paper for cola, mrpc, sst2, rte, stsb)`;

type FlagValues = Partial<Record<keyof typeof runFlagSpec, string | undefined>>;

/** Parses a number flag; throws `--flag: 'value' is not a number` (or not an integer / not > 0). */
export function numberFlag(flag: string, value: string | undefined, kind: "number" | "integer" = "number"): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (value.trim() === "" || !Number.isFinite(x)) throw new Error(`--${flag}: '${value}' is not a number`);
  if (kind === "integer" && !Number.isInteger(x)) throw new Error(`--${flag}: '${value}' is not an integer`);
  return x;
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`--${flag}: '${value}' is not one of ${allowed.join(", ")}`);
  return value as T;
}

/** The optimizer options the optimizer flags ask for (undefined where not given), parsed as the option table says. */
function optimizerOptionsFromFlags(values: FlagValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key] of optimizerFlags) {
    const entry: OptimizerOption = optimizerOptionTable[key];
    const flag = flagOf(key);
    out[key] = "choices" in entry ? oneOf(flag, values[flag], entry.choices) : numberFlag(flag, values[flag], entry.integer ? "integer" : "number");
  }
  return out;
}

/** The {@link TrainOptions} the shared flags ask for (only those given; the rest keep their defaults). */
export function trainOptionsFromFlags(values: FlagValues): TrainOptions {
  const out: Record<string, unknown> = {
    task: values.task,
    dataDir: values.data,
    model: values.model,
    epochs: numberFlag("epochs", values.epochs, "integer"),
    maxSteps: numberFlag("max-steps", values["max-steps"], "integer"),
    batchSize: numberFlag("batch-size", values["batch-size"], "integer"),
    lr: numberFlag("lr", values.lr),
    schedule: oneOf<ScheduleKind>("schedule", values.schedule, ["linear", "polynomial", "constant"]),
    warmupRatio: numberFlag("warmup-ratio", values["warmup-ratio"]),
    weightDecay: numberFlag("weight-decay", values["weight-decay"]),
    clipNorm: numberFlag("clip-norm", values["clip-norm"]),
    maxLength: numberFlag("max-length", values["max-length"], "integer"),
    evalEvery: numberFlag("eval-every", values["eval-every"], "integer"),
    tokenizer: vocabFromFlag(values.vocab),
    ...optimizerOptionsFromFlags(values),
    preset: oneOf("preset", values.preset, ["fsam-paper", "none"] as const),
  };
  const perClass = numberFlag("low-resource", values["low-resource"], "integer");
  const total = numberFlag("low-resource-total", values["low-resource-total"], "integer");
  if (perClass !== undefined && total !== undefined) throw new Error("give only one of --low-resource and --low-resource-total");
  if (perClass !== undefined) out.lowResource = { perClass };
  if (total !== undefined) out.lowResource = { total };
  const patience = numberFlag("patience", values.patience, "integer");
  if (patience !== undefined) out.earlyStopping = { patience };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as TrainOptions;
}

/** The tokenizer of `--vocab FILE`, or undefined without the flag; a missing file is named with its flag. */
function vocabFromFlag(path: string | undefined): BertTokenizer | undefined {
  if (path === undefined) return undefined;
  if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`--vocab: '${path}' is not a file (it should be a BERT vocab.txt, one token per line)`);
  return BertTokenizer.fromVocabFile(path);
}

/**
 * Parses `--seeds`: a count `3` (seeds 1, 2, 3) or a comma-separated list `1,2,7`. `--seed S` is a
 * single seed; giving both is an error.
 */
export function seedsFromFlags(seed: string | undefined, seeds: string | undefined, fallback: number[]): number[] {
  if (seed !== undefined && seeds !== undefined) throw new Error("give only one of --seed and --seeds");
  if (seed !== undefined) return [numberFlag("seed", seed, "integer") as number];
  if (seeds === undefined) return fallback;
  if (!seeds.includes(",")) {
    const n = numberFlag("seeds", seeds, "integer") as number;
    if (n < 1) throw new Error(`--seeds: '${seeds}' must be a count >= 1 or a comma-separated list`);
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  return seeds.split(",").map((s) => numberFlag("seeds", s.trim(), "integer") as number);
}
