/**
 * `train()`: fine-tunes a sequence classifier on a task with any optimizer of the SAM family,
 * with a warm-up/decay schedule, gradient clipping, evaluation with the task's official metric,
 * early stopping, best-checkpoint saving, live progress and a history DataFrame. Reproducible by
 * seed on a given backend: the seed fixes the model initialisation and dropout, the batch order of
 * every epoch, the low-resource subset, the Fisher samples and ESAM's weight sampling.
 */
import * as tf from "@tensorflow/tfjs";
import type * as dfd from "danfojs-node";
import type { Example, SequenceModel, EncodedBatch } from "../types.ts";
import { getTask, type TaskSpec } from "../data/tasks.ts";
import { loadTask } from "../data/readers.ts";
import { loadDefaultTask } from "../data/default-task.ts";
import { batches, encodeExamples } from "../data/batches.ts";
import { taskMetrics } from "../data/metrics.ts";
import { sampleLowResource } from "../data/sampling.ts";
import { sortByEncodedLength } from "../data/length-order.ts";
import { mulberry32, shuffled } from "../random.ts";
import type { BertTokenizer } from "../data/tokenizer.ts";
import { createBertClassifier, BertForSequenceClassification } from "../models/classifier.ts";
import { loadPretrained } from "../models/checkpoint.ts";
import { bertPresets, isBertPresetName, type BertConfig } from "../models/config.ts";
import type { FisherSAM, MaskStats } from "../optim/fisher-sam.ts";
import { createOptimizer, type OptimizerOptions } from "./optimizers.ts";
import type { OptimizerName } from "./optimizer-names.ts";
import { makeSchedule, type ScheduleSpec } from "./schedule.ts";
import { runTrainingLoop, type EarlyStopping, type MaskRefreshRecord, type StepInfo } from "./loop.ts";
import { evaluateBatches, type Evaluation, type Scorer } from "./evaluate.ts";
import type { HistoryRow } from "./history.ts";
import { historyFrame } from "./history-frame.ts";
import { TrainingProgress } from "./progress.ts";
import { saveBestCheckpoint, type ModelSaver } from "./checkpointing.ts";
import { checkInteger, checkPositiveInt } from "../check.ts";
import { withPreset, type PresetName } from "./presets.ts";
import type { Divergence, DivergencePolicy } from "./divergence.ts";

/** A task's data: training and dev examples and the tokenizer that encodes them. */
export interface TaskData {
  /** Training examples. */
  train: Example[];
  /** Dev (evaluation) examples. */
  dev: Example[];
  /** The tokenizer matching the model's vocabulary. */
  tokenizer: BertTokenizer;
}

/** Low-resource training: k examples per class or n in total, drawn by the run's seed. */
export type LowResource = { perClass: number } | { total: number };

/** Options of {@link train}. Every field is optional; defaults are given per field. */
export interface TrainOptions extends Omit<OptimizerOptions, "lr" | "fisherLoss" | "clipNorm"> {
  /**
   * A named set of defaults (presets.ts): `fsam-paper` is the FSAM paper's fine-tuning setup (Adam
   * with the paper's β and ε, L2 weight decay 0.01 on every parameter, no clipping, 10 epochs, the
   * task's peak LR, 6 % warm-up, linear decay, batch 32, the paper's ρ, s and T_m; see `presetOptions`).
   * Options given explicitly win over the preset's. Default `none`.
   */
  preset?: PresetName | "none";
  /** Global-norm gradient clipping; 0 turns it off. Default 1.0 (HF Trainer's `max_grad_norm`). */
  clipNorm?: number;
  /**
   * The model: a `SequenceModel`, a preset name (`bert-tiny`, …; randomly initialised from `seed`,
   * its vocabulary sized to the tokenizer), a partial BERT config (object, or the path of a JSON
   * file holding one; fields left out take the HF defaults), or a Hugging Face checkpoint folder
   * (loaded, fresh head seeded). Default `bert-tiny`.
   */
  model?: SequenceModel | string | Partial<BertConfig>;
  /** Task name (`rte`, `cola`, …, `default`) or spec. Default: the embedded `default` task. */
  task?: string | TaskSpec;
  /**
   * The data. Default: the embedded default task for `default`; for other tasks the files in
   * `dataDir` with the tokenizer of the checkpoint folder (`vocab.txt`) or `tokenizer`; for `default`,
   * `dataDir` may hold a folder in the default task's layout (train.tsv, dev.tsv, vocab.txt).
   */
  data?: TaskData;
  /** Folder holding the task's files (e.g. `glue/RTE` or its parent) when `data` is not given. */
  dataDir?: string;
  /** Tokenizer when `data` is not given and the model folder has none. */
  tokenizer?: BertTokenizer;
  /** Train on a low-resource subset of the training set, drawn with `seed`. */
  lowResource?: LowResource;
  /** Optimizer name (default `adam`) or a ready `tf.Optimizer` (its learning rate must be settable). */
  optimizer?: OptimizerName | tf.Optimizer;
  /** Passes over the training set. Default 3. */
  epochs?: number;
  /** Stop after this many steps (overrides `epochs` when smaller). */
  maxSteps?: number;
  /** Mini-batch size. Default 32. */
  batchSize?: number;
  /** Batch size of evaluation. Default 2 × batchSize. */
  evalBatchSize?: number;
  /** Peak learning rate. Default 2e-5 for a checkpoint (the paper's range), 1e-3 for a fresh model. */
  lr?: number;
  /** Learning-rate schedule after warm-up. Default `linear`. */
  schedule?: ScheduleSpec;
  /** Fraction of the steps spent warming up. Default 0.06 (the paper's scripts). */
  warmupRatio?: number;
  /** Longest sequence in tokens. Default 128. */
  maxLength?: number;
  /** The seed of everything random. Default 42. */
  seed?: number;
  /** Evaluate every this many steps, besides each epoch end. Default: epoch ends only. */
  evalEvery?: number;
  /** Evaluate at each epoch end (default true); the last step is always evaluated. */
  evalAtEpochEnd?: boolean;
  /** Stop when the dev metric (or loss) has not improved for `patience` evaluations. */
  earlyStopping?: EarlyStopping;
  /** Save the best model (by dev metric) here, atomically, with `trainer_state.json`. */
  checkpointDir?: string;
  /** How to save a model that is not a BERT classifier (default: `saveCheckpoint` of lib/models). */
  saveModel?: ModelSaver;
  /** Called after every step with its history row. */
  onStep?: (row: HistoryRow, info: StepInfo) => Promise<void> | void;
  /** Stops after the current step when it fires. Default: the notebook cell's interrupt signal. */
  signal?: AbortSignal;
  /** Progress display: `auto` (notebook or terminal), `terminal`, or `off`. Default `auto`. */
  progress?: "auto" | "terminal" | "off";
  /** Title of the progress display. Default `<optimizer> · seed <seed>`. */
  title?: string;
  /** Keep the optimizer (and its state) in the result instead of disposing it. Default false. */
  keepOptimizer?: boolean;
  /** A step with a non-finite loss or update: `stop` (default) or `throw` (see train/divergence.ts). */
  onDivergence?: DivergencePolicy;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** The trained model (the caller owns it and disposes it). */
  model: SequenceModel;
  /** The history as a DataFrame (see history.ts for the columns). */
  history: dfd.DataFrame;
  /** The history rows. */
  rows: HistoryRow[];
  /** Best dev metric and its step. */
  best: { step: number; metric: number };
  /** Dev metric and loss of the last evaluation, every metric the task reports, the last training loss. */
  final: { metric: number; loss: number; scores: Record<string, number>; trainLoss: number };
  /** True when the run was interrupted (signal or notebook interrupt). */
  interrupted: boolean;
  /** True when early stopping ended the run. */
  earlyStopped: boolean;
  /** The step whose loss or update was not finite, when the run diverged (it stopped there). */
  diverged?: Divergence;
  /** Name of the headline metric (`accuracy`, `matthews`, `accuracy/f1`, …). */
  metricName: string;
  /** The task's registry name. */
  task: string;
  /** Optimizer name (or class name for an instance) and the settings used. */
  optimizer: { name: string; settings: Record<string, string | number> };
  /** FisherSAM mask refreshes (step, threshold). */
  maskRefreshes: MaskRefreshRecord[];
  /** The final Fisher mask statistics, for the Fisher variants. */
  maskStats?: MaskStats;
  /** The optimizer itself when `keepOptimizer` was set (the caller disposes it). */
  optimizerInstance?: tf.Optimizer;
  /** Training examples used (after low-resource sampling) and dev examples. */
  sizes: { train: number; dev: number };
  /** Wall-clock seconds. */
  seconds: number;
}

function resolveTask(task: string | TaskSpec | undefined): TaskSpec {
  if (task === undefined) return getTask("default");
  return typeof task === "string" ? getTask(task) : task;
}

async function resolveData(options: TrainOptions, spec: TaskSpec, modelDir: string | undefined): Promise<TaskData> {
  if (options.data) {
    const { train, dev, tokenizer } = options.data;
    if (!Array.isArray(train) || !Array.isArray(dev) || !tokenizer) {
      throw new Error("data must be {train: Example[], dev: Example[], tokenizer: BertTokenizer}");
    }
    return options.data;
  }
  if (spec.name === "default") {
    const d = options.dataDir === undefined ? loadDefaultTask() : loadDefaultTask(options.dataDir);
    return { train: d.train, dev: d.dev, tokenizer: options.tokenizer ?? d.tokenizer };
  }
  if (options.dataDir === undefined) {
    throw new Error(
      `task '${spec.name}' needs its data: pass dataDir (a folder with ${spec.directories[0]}/train and dev files) ` +
        `or data: {train, dev, tokenizer}`,
    );
  }
  const { existsSync } = await import("node:fs");
  const { join } = await import("node:path");
  let tokenizer = options.tokenizer;
  if (!tokenizer && modelDir && existsSync(join(modelDir, "vocab.txt"))) {
    const { BertTokenizer } = await import("../data/tokenizer.ts");
    tokenizer = BertTokenizer.fromVocabFile(join(modelDir, "vocab.txt"));
  }
  if (!tokenizer) {
    throw new Error(`task '${spec.name}': no tokenizer — pass tokenizer (CLI: --vocab FILE), or a model folder with vocab.txt`);
  }
  return { train: loadTask(spec.name, options.dataDir, "train"), dev: loadTask(spec.name, options.dataDir, "dev"), tokenizer };
}

async function resolveModel(
  model: TrainOptions["model"],
  spec: TaskSpec,
  tokenizer: BertTokenizer | undefined,
  seed: number,
): Promise<{ model: SequenceModel; pretrained: boolean }> {
  if (model !== undefined && typeof model === "object" && "loss" in model && "variables" in model) {
    if (model.numLabels !== spec.numLabels) {
      throw new Error(`model has ${model.numLabels} outputs but task '${spec.name}' needs ${spec.numLabels}`);
    }
    return { model, pretrained: false };
  }
  const sized = (config: Partial<BertConfig>): Partial<BertConfig> =>
    tokenizer ? { ...config, vocab_size: tokenizer.vocabSize } : config;
  if (model === undefined || (typeof model === "string" && isBertPresetName(model))) {
    const name = (model ?? "bert-tiny") as keyof typeof bertPresets;
    return { model: createBertClassifier(sized(bertPresets[name].config), { numLabels: spec.numLabels, seed }), pretrained: false };
  }
  if (typeof model === "string") {
    const { existsSync, statSync, readFileSync } = await import("node:fs");
    if (!existsSync(model)) {
      throw new Error(
        `model '${model}' is neither a preset (${Object.keys(bertPresets).join(", ")}) nor an existing folder or config .json file`,
      );
    }
    if (statSync(model).isFile()) {
      let config: Partial<BertConfig>;
      try {
        config = JSON.parse(readFileSync(model, "utf8")) as Partial<BertConfig>;
      } catch (err) {
        throw new Error(`model config '${model}': ${(err as Error).message}`);
      }
      return { model: createBertClassifier(sized(config), { numLabels: spec.numLabels, seed }), pretrained: false };
    }
    const loaded = await loadPretrained(model, { numLabels: spec.numLabels, seed });
    if (tokenizer && tokenizer.vocabSize > loaded.config.vocab_size) {
      loaded.dispose();
      throw new Error(`tokenizer has ${tokenizer.vocabSize} tokens but the model in '${model}' only ${loaded.config.vocab_size}`);
    }
    return { model: loaded, pretrained: true };
  }
  return { model: createBertClassifier(sized(model), { numLabels: spec.numLabels, seed }), pretrained: false };
}

/** The headline-metric scorer of a task (the official GLUE/SuperGLUE metric). */
export function taskScorer(spec: TaskSpec): Scorer {
  return {
    metricName: spec.headline.join("/"),
    score: (yTrue, yPred) => {
      const scores = taskMetrics(spec, yTrue, yPred);
      return { metric: scores.score as number, scores };
    },
  };
}

/**
 * Evaluates a model on examples with the task's official metric (no dropout), in batches of
 * `batchSize` (default 64) and sequences of at most `maxLength` tokens (default 128). The examples
 * are batched shortest first (lib/data/length-order.ts), so batches carry little padding; the
 * metric and the mean loss are those of the given order up to float32 rounding.
 */
export async function evaluateModel(
  model: SequenceModel,
  examples: readonly Example[],
  tokenizer: BertTokenizer,
  task: string | TaskSpec,
  options: { batchSize?: number; maxLength?: number } = {},
): Promise<Evaluation> {
  const spec = resolveTask(task);
  const maxLength = options.maxLength ?? 128;
  const it = batches(sortByEncodedLength(examples, tokenizer, maxLength), tokenizer, { batchSize: options.batchSize ?? 64, maxLength, task: spec });
  return evaluateBatches(model, it, taskScorer(spec));
}

/**
 * Trains a model on a task and returns it with its history. See {@link TrainOptions} for every
 * option and its default. Interrupting the notebook cell (or firing `signal`) stops after the
 * current step and still returns the model and the history so far, with `interrupted: true`.
 */
export async function train(userOptions: TrainOptions = {}): Promise<TrainResult> {
  const spec = resolveTask(userOptions.task);
  const options = withPreset(userOptions, spec.name);
  const seed = options.seed ?? 42;
  checkInteger("seed", seed);
  const epochs = checkPositiveInt("epochs", options.epochs ?? 3);
  const batchSize = checkPositiveInt("batchSize", options.batchSize ?? 32);
  const maxLength = checkPositiveInt("maxLength", options.maxLength ?? 128);
  const evalBatchSize = checkPositiveInt("evalBatchSize", options.evalBatchSize ?? 2 * batchSize);
  if (options.maxSteps !== undefined) checkPositiveInt("maxSteps", options.maxSteps);
  if (options.evalEvery !== undefined && options.evalEvery !== 0) checkPositiveInt("evalEvery", options.evalEvery);

  const modelDir =
    typeof options.model === "string" && !isBertPresetName(options.model) && !options.model.endsWith(".json") ? options.model : undefined;
  const data = await resolveData(options, spec, modelDir);
  let trainSet = data.train;
  if (options.lowResource) trainSet = sampleLowResource(trainSet, { ...options.lowResource, seed });
  if (trainSet.length === 0) throw new Error(`task '${spec.name}': no training examples`);
  if (data.dev.length === 0) throw new Error(`task '${spec.name}': no dev examples`);
  const { tokenizer } = data;

  const resolved = await resolveModel(options.model, spec, tokenizer, seed);
  const model = resolved.model;
  const lr = options.lr ?? (resolved.pretrained ? 2e-5 : 1e-3);

  // FSAM's Fisher examples: per-sample mode draws fresh training examples at each refresh, in a
  // seeded order (no dropout); batch mode squares the gradient of the current mini-batch in training
  // mode, dropout on, as the authors' code squares the training step's gradient.
  const fisherOrder = shuffled(trainSet.map((_, i) => i), mulberry32(seed ^ 0x5f15e4));
  let fisherCursor = 0;
  let currentBatch: EncodedBatch | undefined;
  const fisherLoss = (i: number): tf.Scalar => {
    if (options.fisherMode === "batch") {
      if (!currentBatch) throw new Error("fisherLoss (batch mode): no current mini-batch");
      return model.loss(currentBatch, { training: true });
    }
    void i;
    const example = trainSet[fisherOrder[fisherCursor++ % fisherOrder.length]];
    return model.loss(encodeExamples([example], tokenizer, { maxLength, task: spec }), { training: false });
  };

  let optimizer: tf.Optimizer;
  let fisher: FisherSAM | undefined;
  let optimizerInfo: TrainResult["optimizer"];
  if (options.optimizer === undefined || typeof options.optimizer === "string") {
    const { model: _m, task: _t, data: _d, optimizer: name = "adam", ...rest } = options;
    void _m;
    void _t;
    void _d;
    const built = createOptimizer(name, { ...pickOptimizerOptions(rest), lr, fisherLoss, seed: seed ^ 0xe5a3 });
    optimizer = built.optimizer;
    fisher = built.fisher;
    const preset: Record<string, string> = options.preset !== undefined && options.preset !== "none" ? { preset: options.preset } : {};
    optimizerInfo = { name: built.name, settings: { ...built.settings, ...preset } };
  } else {
    optimizer = options.optimizer;
    optimizerInfo = { name: optimizer.getClassName(), settings: { lr } };
    // A FisherSAM built by the caller (with its own fisherLoss): record its mask refreshes too.
    if (typeof (optimizer as Partial<FisherSAM>).onMaskRefresh === "function") fisher = optimizer as FisherSAM;
  }

  const stepsPerEpoch = Math.ceil(trainSet.length / batchSize);
  const totalSteps = Math.min(options.maxSteps ?? Infinity, epochs * stepsPerEpoch);
  const schedule = makeSchedule(options.schedule ?? "linear", lr, totalSteps, options.warmupRatio ?? 0.06);
  const scorer = taskScorer(spec);
  const saver = options.checkpointDir
    ? (m: SequenceModel, best: { step: number; metric: number }) =>
        saveBestCheckpoint(m, options.checkpointDir as string, {
          state: { ...best, metricName: scorer.metricName, task: spec.name, optimizer: optimizerInfo.name, seed },
          vocab: tokenizer.convertIdsToTokens([...Array(tokenizer.vocabSize).keys()]),
          ...(options.saveModel ? { saveModel: options.saveModel } : {}),
        })
    : undefined;
  if (options.checkpointDir && !options.saveModel && !BertForSequenceClassification.prototype.isPrototypeOf(model)) {
    throw new Error("checkpointDir: this model is not a BERT classifier; pass saveModel to save it");
  }

  // Dev batches shortest first (less padding; every evaluation sees the same batches).
  const devByLength = sortByEncodedLength(data.dev, tokenizer, maxLength);
  let lastScores: Record<string, number> = {};
  try {
    const result = await runTrainingLoop({
      model,
      optimizer,
      ...(fisher ? { maskSource: fisher } : {}),
      epochBatches: function* (epoch) {
        const it = batches(trainSet, tokenizer, { batchSize, maxLength, shuffle: true, seed: seed * 1009 + epoch, task: spec });
        for (const b of it) {
          currentBatch = b;
          yield b;
        }
        currentBatch = undefined;
      },
      stepsPerEpoch,
      epochs,
      ...(options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : {}),
      schedule,
      evaluate: async (m) => {
        const ev = await evaluateBatches(m, batches(devByLength, tokenizer, { batchSize: evalBatchSize, maxLength, task: spec }), scorer);
        lastScores = ev.scores;
        return ev;
      },
      metricName: scorer.metricName,
      ...(options.evalEvery ? { evalEvery: options.evalEvery } : {}),
      ...(options.evalAtEpochEnd !== undefined ? { evalAtEpochEnd: options.evalAtEpochEnd } : {}),
      ...(options.earlyStopping ? { earlyStopping: options.earlyStopping } : {}),
      ...(saver ? { onBest: saver } : {}),
      ...(options.onStep ? { onStep: options.onStep } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onDivergence ? { onDivergence: options.onDivergence } : {}),
      progress: new TrainingProgress({ mode: options.progress ?? "auto" }),
      title: options.title ?? `${optimizerInfo.name} · seed ${seed}`,
    });
    return {
      model,
      history: historyFrame(result.rows),
      rows: result.rows,
      best: result.best,
      final: { metric: result.final.metric, loss: result.final.loss, scores: lastScores, trainLoss: result.final.trainLoss },
      interrupted: result.interrupted,
      earlyStopped: result.earlyStopped,
      ...(result.diverged ? { diverged: result.diverged } : {}),
      metricName: scorer.metricName,
      task: spec.name,
      optimizer: optimizerInfo,
      maskRefreshes: result.maskRefreshes,
      ...(fisher && fisher.mask.size > 0 ? { maskStats: fisher.maskStats() } : {}),
      ...(options.keepOptimizer ? { optimizerInstance: optimizer } : {}),
      sizes: { train: trainSet.length, dev: data.dev.length },
      seconds: result.seconds,
    };
  } catch (err) {
    if (!(options.model !== undefined && typeof options.model === "object" && "loss" in options.model)) model.dispose();
    throw err;
  } finally {
    if (!options.keepOptimizer && typeof options.optimizer !== "object") optimizer.dispose();
  }
}

/** The optimizer options among the train options (so unrelated fields do not reach the settings). */
function pickOptimizerOptions(o: Record<string, unknown>): OptimizerOptions {
  const keys: (keyof OptimizerOptions)[] = [
    "weightDecay", "beta1", "beta2", "epsilon", "momentum", "clipNorm", "base", "rho", "eta", "gsamAlpha",
    "sparsity", "maskInterval", "fisherSamples", "fisherMode", "maskable", "beta", "gamma", "weightSampling",
    "weightDecayMode", "rhoMin",
  ];
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  if (out.clipNorm === undefined) out.clipNorm = 1;
  if (out.clipNorm === 0) delete out.clipNorm;
  return out as OptimizerOptions;
}
