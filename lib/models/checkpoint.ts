/**
 * Loading and saving Hugging Face model folders (`config.json`, `model.safetensors` or
 * `pytorch_model.bin`, sharded or not, `vocab.txt`)
 * for {@link BertForSequenceClassification}. Loading maps checkpoint names onto the model's
 * parameter names (with or without the `bert.` prefix, old `LayerNorm.gamma/beta` names), checks
 * shapes by name, and reports missing, unexpected and mismatched tensors as Hugging Face does.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../atomic-write.ts";
import { bertParameterSpecs } from "./bert.ts";
import { BertForSequenceClassification, type CheckpointReport, classifierParameterSpecs } from "./classifier.ts";
import { bertConfigJson, configNumLabels, parseBertConfig } from "./config.ts";
import { type SafetensorsWriteDtype, writeSafetensorsFile } from "./safetensors.ts";
import { readModelWeights } from "./weight-files.ts";
import { hfName } from "../names.ts";

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions {
  /** Outputs of the head; default: the labels the config declares, else 2. */
  numLabels?: number;
  /** Variable-name scope; default: none, or `m2`, `m3`, … when the names are taken. */
  scope?: string;
  /** Seed for parameters the checkpoint lacks (the fresh head) and for dropout. Default 0. */
  seed?: number;
  /** Where the load report goes (default `console.warn`); `false` for silence. */
  log?: ((message: string) => void) | false;
}

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** The vocabulary to save as `vocab.txt`: a path to copy, or the tokens in id order. */
  vocab?: string | readonly string[];
  /** Stored element type of `model.safetensors`; default F32 (exact). */
  dtype?: SafetensorsWriteDtype;
}

/** Checkpoint tensors that are pretraining heads or buffers, never model parameters here. */
function isPretrainingHead(name: string): boolean {
  return name.startsWith("cls.");
}

function isIgnoredBuffer(name: string): boolean {
  return name.endsWith("position_ids");
}

/** The model parameter name a checkpoint tensor name stands for, if the model has it. */
function parameterNameFor(name: string, modelNames: ReadonlySet<string>): string | undefined {
  const modern = name.replace(/\.LayerNorm\.gamma$/, ".LayerNorm.weight").replace(/\.LayerNorm\.beta$/, ".LayerNorm.bias");
  if (modelNames.has(modern)) return modern;
  if (modelNames.has(`bert.${modern}`)) return `bert.${modern}`;
  return undefined;
}

function formatReport(report: CheckpointReport, dir: string): string[] {
  const lines: string[] = [];
  if (report.unexpected.length > 0) {
    lines.push(
      `Some weights of the model checkpoint at ${dir} were not used when initializing BertForSequenceClassification: ${report.unexpected.join(", ")}`,
    );
  }
  if (report.missing.length > 0) {
    lines.push(
      `Some weights of BertForSequenceClassification were not initialized from the model checkpoint at ${dir} and are newly initialized: ${report.missing.join(", ")}`,
    );
  }
  for (const m of report.mismatched) {
    lines.push(
      `${m.name} is newly initialized because the shapes did not match: [${m.checkpointShape}] in the checkpoint, [${m.modelShape}] in the model`,
    );
  }
  if (report.initialized.length > 0) {
    lines.push("You should probably TRAIN this model on a down-stream task to be able to use it for predictions.");
  }
  return lines;
}

async function readConfigJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${(err as Error).message}`);
  }
}

/**
 * Loads a Hugging Face BERT folder as a {@link BertForSequenceClassification}, from its
 * safetensors or PyTorch weights (see `readModelWeights`). Checkpoint tensors
 * are matched by name; `position_ids` buffers are ignored; pretraining heads (`cls.*`) and any other
 * unknown tensors are reported as unused; parameters the checkpoint lacks (e.g. a fresh classifier)
 * or has with another shape are initialised from `seed` and reported. The report is logged and kept
 * in `model.checkpointReport`.
 */
export async function loadPretrained(
  dir: string,
  options: LoadPretrainedOptions = {},
): Promise<BertForSequenceClassification> {
  const configPath = join(dir, "config.json");
  const json = await readConfigJson(configPath);
  const config = parseBertConfig(json, configPath);
  const numLabels = options.numLabels ?? configNumLabels(json) ?? 2;
  const weights = await readModelWeights(dir);

  const report: CheckpointReport = { missing: [], unexpected: [], mismatched: [], initialized: [] };
  const specs = [...bertParameterSpecs(config), ...classifierParameterSpecs(config, numLabels)];
  const modelNames = new Set(specs.map((s) => s.name));
  const source = new Map<string, string>();
  for (const name of weights.entries.keys()) {
    if (isIgnoredBuffer(name)) continue;
    const target = isPretrainingHead(name) ? undefined : parameterNameFor(name, modelNames);
    if (target === undefined || source.has(target)) report.unexpected.push(name);
    else source.set(target, name);
  }
  const loadable = new Map<string, string>();
  for (const spec of specs) {
    const checkpointName = source.get(spec.name);
    if (checkpointName === undefined) {
      report.missing.push(spec.name);
      continue;
    }
    const shape = weights.entries.get(checkpointName)!.shape;
    if (shape.length !== spec.shape.length || shape.some((d, i) => d !== spec.shape[i])) {
      report.mismatched.push({ name: spec.name, checkpointShape: [...shape], modelShape: [...spec.shape] });
    } else {
      loadable.set(spec.name, checkpointName);
    }
  }
  const nonFinite: string[] = [];
  const model = new BertForSequenceClassification(
    config,
    { numLabels, seed: options.seed ?? 0, scope: options.scope },
    (spec) => {
      const checkpointName = loadable.get(spec.name);
      if (checkpointName === undefined) return undefined;
      const values = weights.read(checkpointName);
      const bad = countNonFinite(values);
      if (bad > 0) nonFinite.push(`${checkpointName} (${bad} of ${values.length})`);
      return tf.tensor(values, [...spec.shape], "float32");
    },
  );
  if (nonFinite.length > 0) {
    // A checkpoint saved from a diverged run: training or evaluating it would only spread the NaNs.
    model.dispose();
    throw new Error(`${dir}: ${nonFinite.length} weight tensor(s) hold NaN or infinite values: ${nonFinite.join(", ")}`);
  }
  report.initialized = [...report.missing, ...report.mismatched.map((m) => m.name)];
  model.checkpointReport = report;
  if (options.log !== false) {
    const log = options.log ?? ((m: string) => console.warn(m));
    for (const line of formatReport(report, dir)) log(line);
  }
  return model;
}

/** How many values of `values` are NaN or ±Inf. */
function countNonFinite(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) n++;
  return n;
}

/**
 * Saves a model as a Hugging Face folder: `config.json`, `model.safetensors` (F32 by default, so a
 * reload is bit-for-bit identical) and, when given, `vocab.txt`. Every file is written atomically.
 */
export async function saveCheckpoint(
  model: BertForSequenceClassification,
  dir: string,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors = [];
  for (const variable of model.variables) {
    const data = (await variable.data()) as Float32Array;
    tensors.push({ name: hfName(variable.name), shape: variable.shape, data });
  }
  await writeSafetensorsFile(join(dir, "model.safetensors"), tensors, {
    dtype: options.dtype,
    metadata: { format: "pt" },
  });
  writeFileAtomic(join(dir, "config.json"), `${JSON.stringify(bertConfigJson(model.config, model.numLabels), null, 2)}\n`);
  if (typeof options.vocab === "string") {
    writeFileAtomic(join(dir, "vocab.txt"), await readFile(options.vocab));
  } else if (options.vocab !== undefined) {
    writeFileAtomic(join(dir, "vocab.txt"), `${options.vocab.join("\n")}\n`);
  }
}
