/**
 * `compare()`: the same training for several optimizers × seeds, summarised as mean ± std of the
 * task metric per optimizer, with curves (mean ± std bands over seeds) and every run's history. This
 * is how the paper's claim (FSAM ≥ SAM ≥ Adam, with the largest gains in low-resource settings) is
 * checked.
 */
import * as tf from "@tensorflow/tfjs";
import type * as dfd from "danfojs-node";
import { newDataFrame } from "../danfo.ts";
import type { SequenceModel } from "../types.ts";
import { trainingCurves } from "../plot/training.ts";
import type { Figure } from "../plot/figure.ts";
import { getTask } from "../data/tasks.ts";
import { loadDefaultTask } from "../data/default-task.ts";
import { loadTask } from "../data/readers.ts";
import { checkOptimizerName, type OptimizerName } from "./optimizer-names.ts";
import { train, type TrainOptions, type TrainResult, type TaskData } from "./train.ts";
import type { HistoryRow } from "./history.ts";
import { fsamPaperLearningRates } from "./presets.ts";
import type { Divergence } from "./divergence.ts";

/** Options of {@link compare}: the runs to make, plus any {@link TrainOptions} shared by all runs. */
export interface CompareOptions extends Omit<TrainOptions, "optimizer" | "seed" | "model" | "keepOptimizer"> {
  /**
   * As in {@link TrainOptions}, but the default is `fsam-paper` for the GLUE tasks the paper reports
   * (CoLA, MRPC, SST-2, RTE, STS-B), so comparisons run the paper's setup; `none` for other tasks.
   * Pass `"none"` to compare with the trainer's own defaults.
   */
  preset?: TrainOptions["preset"];
  /** Optimizer names to compare. Default `["adam", "sam", "fsam"]`. */
  optimizers?: OptimizerName[];
  /** Seeds; every optimizer runs once per seed. Default `[1, 2, 3]`. */
  seeds?: number[];
  /**
   * The model of every run: a preset name, partial config or checkpoint folder (created/loaded per
   * run with the run's seed), a factory `(seed) => SequenceModel`, or a model instance (every run
   * starts from its weights as they are now). Default `bert-tiny`.
   */
  model?: TrainOptions["model"] | ((seed: number) => SequenceModel | Promise<SequenceModel>);
  /** Per-optimizer option overrides, e.g. `{ sam: { rho: 0.1 } }`. */
  perOptimizer?: Partial<Record<OptimizerName, Partial<TrainOptions>>>;
  /** Keep every run's trained model in the result (default false: each is disposed after its run). */
  keepModels?: boolean;
  /** Called after each run. */
  onRun?: (run: CompareRun) => void | Promise<void>;
}

/** One run of a comparison. */
export interface CompareRun {
  /** Optimizer name. */
  optimizer: OptimizerName;
  /** Seed. */
  seed: number;
  /** History rows. */
  rows: HistoryRow[];
  /** Best dev metric and its step. */
  best: { step: number; metric: number };
  /** Last evaluation (metric, loss, all scores) and last training loss. */
  final: TrainResult["final"];
  /** True when the run was interrupted (the comparison then stops). */
  interrupted: boolean;
  /** The step where the run diverged (non-finite loss or update) and stopped. */
  diverged?: Divergence;
  /** Wall-clock seconds. */
  seconds: number;
  /** The optimizer settings used. */
  settings: Record<string, string | number>;
  /** The trained model, with `keepModels`. */
  model?: SequenceModel;
}

/** What {@link compare} returns. */
export interface CompareResult {
  /** One row per optimizer: optimizer, metric name, mean, std, n, bestMean, bestStd, seconds (mean). */
  table: dfd.DataFrame;
  /** The same summary as plain objects. */
  summary: CompareSummaryRow[];
  /** Dev metric per step, mean ± std band over seeds per optimizer (Plotly spec). */
  figure: Figure;
  /** Training loss per step, mean ± std band over seeds per optimizer (Plotly spec). */
  lossFigure: Figure;
  /** Every run. */
  runs: CompareRun[];
  /** Name of the headline metric. */
  metricName: string;
  /** True when a run was interrupted and the comparison stopped early. */
  interrupted: boolean;
}

/** One optimizer's summary over its seeds. */
export interface CompareSummaryRow {
  /** Optimizer name. */
  optimizer: string;
  /** Name of the metric. */
  metric: string;
  /** Mean over seeds of the final dev metric. */
  mean: number;
  /** Sample standard deviation (n − 1) over seeds of the final dev metric; 0 for one run. */
  std: number;
  /** Number of runs. */
  n: number;
  /** Mean over seeds of the best dev metric seen during training. */
  bestMean: number;
  /** Sample standard deviation of the best dev metric. */
  bestStd: number;
  /** Mean seconds per run. */
  seconds: number;
  /** Runs that diverged (stopped at a non-finite loss or update; their metrics are from before). */
  diverged: number;
}

/** Mean and sample standard deviation (n − 1; 0 when n = 1) of the finite values. */
export function meanAndStd(values: readonly number[]): { mean: number; std: number; n: number } {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/** What the summaries and figures need of a run (a {@link CompareRun} or a stored run record). */
export interface SummarizableRun {
  /** Optimizer name. */
  optimizer: string;
  /** Seed. */
  seed: number;
  /** Best dev metric. */
  best: { metric: number };
  /** Final dev metric. */
  final: { metric: number };
  /** Wall-clock seconds. */
  seconds: number;
  /** History rows. */
  rows: readonly HistoryRow[];
  /** Set when the run diverged. */
  diverged?: Divergence;
}

/** Summarises runs per optimizer (in first-seen order). */
export function summarizeRuns(runs: readonly SummarizableRun[], metricName: string): CompareSummaryRow[] {
  const names = [...new Set(runs.map((r) => r.optimizer))];
  return names.map((optimizer) => {
    const mine = runs.filter((r) => r.optimizer === optimizer);
    const final = meanAndStd(mine.map((r) => r.final.metric));
    const best = meanAndStd(mine.map((r) => r.best.metric));
    return {
      optimizer,
      metric: metricName,
      mean: final.mean,
      std: final.std,
      n: final.n,
      bestMean: best.mean,
      bestStd: best.std,
      seconds: mine.reduce((a, r) => a + r.seconds, 0) / mine.length,
      diverged: mine.filter((r) => r.diverged !== undefined).length,
    };
  });
}

async function sharedData(options: CompareOptions): Promise<TaskData | undefined> {
  if (options.data) return options.data;
  const spec = typeof options.task === "object" ? options.task : getTask(options.task ?? "default");
  if (spec.name === "default") {
    const d = options.dataDir === undefined ? loadDefaultTask() : loadDefaultTask(options.dataDir);
    return { train: d.train, dev: d.dev, tokenizer: options.tokenizer ?? d.tokenizer };
  }
  if (options.dataDir !== undefined && options.tokenizer) {
    return { train: loadTask(spec.name, options.dataDir, "train"), dev: loadTask(spec.name, options.dataDir, "dev"), tokenizer: options.tokenizer };
  }
  return undefined; // train() loads it (e.g. with the checkpoint's vocab.txt)
}

/**
 * Trains every optimizer with every seed (optimizers inner, seeds outer, so partial results cover
 * all optimizers) and summarises the final dev metric per optimizer. Interrupting stops after the
 * current step of the current run and returns what is done, with `interrupted: true`.
 */
export async function compare(options: CompareOptions = {}): Promise<CompareResult> {
  const optimizers = (options.optimizers ?? ["adam", "sam", "fsam"]).map((n) => checkOptimizerName(n));
  const seeds = options.seeds ?? [1, 2, 3];
  if (optimizers.length === 0) throw new Error("compare: optimizers is empty");
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s))) {
    throw new Error(`compare: seeds must be a non-empty list of integers, got [${seeds.join(", ")}]`);
  }
  const { optimizers: _o, seeds: _s, model, perOptimizer, keepModels, onRun, ...shared } = options;
  const taskName = typeof options.task === "object" ? options.task.name : (options.task ?? "default");
  if (shared.preset === undefined && taskName in fsamPaperLearningRates) shared.preset = "fsam-paper";
  void _o;
  void _s;
  const data = await sharedData(options);
  const instance = model !== undefined && typeof model === "object" && "loss" in model ? (model as SequenceModel) : undefined;
  const initial = instance ? instance.variables.map((v) => tf.clone(v)) : undefined;
  const runs: CompareRun[] = [];
  let metricName = "";
  let interrupted = false;
  try {
    outer: for (const seed of seeds) {
      for (const optimizer of optimizers) {
        let runModel: TrainOptions["model"];
        if (instance && initial) {
          instance.variables.forEach((v, i) => v.assign(initial[i]));
          runModel = instance;
        } else if (typeof model === "function") {
          runModel = await model(seed);
        } else {
          runModel = model as TrainOptions["model"];
        }
        const result = await train({
          ...shared,
          ...(perOptimizer?.[optimizer] ?? {}),
          ...(data ? { data } : {}),
          model: runModel,
          optimizer,
          seed,
        });
        metricName = result.metricName;
        const run: CompareRun = {
          optimizer,
          seed,
          rows: result.rows,
          best: result.best,
          final: result.final,
          interrupted: result.interrupted,
          ...(result.diverged ? { diverged: result.diverged } : {}),
          seconds: result.seconds,
          settings: result.optimizer.settings,
          ...(keepModels ? { model: result.model } : {}),
        };
        if (!keepModels && !instance) result.model.dispose();
        runs.push(run);
        await onRun?.(run);
        if (result.interrupted) {
          interrupted = true;
          break outer;
        }
      }
    }
  } finally {
    if (initial) tf.dispose(initial);
  }
  return { ...comparisonOf(runs, metricName), runs, metricName, interrupted };
}

/**
 * The summary table and the figures of a set of runs: used by {@link compare} and by
 * `fsam-lab compare` when it collects the result files of separate processes.
 */
export function comparisonOf(
  runs: readonly SummarizableRun[],
  metricName: string,
): { table: dfd.DataFrame; summary: CompareSummaryRow[]; figure: Figure; lossFigure: Figure } {
  if (runs.length === 0) throw new Error("compare: no runs to summarise");
  const summary = summarizeRuns(runs, metricName);
  const curveRuns = runs.map((r) => ({ name: `${r.optimizer} seed ${r.seed}`, group: r.optimizer, rows: r.rows as unknown as Record<string, unknown>[] }));
  return {
    table: newDataFrame(summary as unknown as Record<string, unknown>[]),
    summary,
    figure: trainingCurves(curveRuns, { y: "metric", yTitle: `dev ${metricName}`, title: `Dev ${metricName} per step (mean ± std over seeds)` }),
    lossFigure: trainingCurves(curveRuns, { y: "loss", yTitle: "training loss", title: "Training loss per step (mean ± std over seeds)" }),
  };
}
