/**
 * Result files of headless runs (`fsam-lab train` / `compare`): a JSON file with every run's
 * settings, scores and history, and next to it a CSV of the histories (`<name>.history.csv`). Both
 * are written atomically. JSON has no NaN, so NaN is stored as null and read back as NaN.
 */
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../atomic-write.ts";
import type { TrainResult } from "./train.ts";
import { historyCsv, type HistoryRow } from "./history.ts";
import type { Divergence } from "./divergence.ts";

/** One run as stored in a results file. */
export interface RunRecord {
  /** Task registry name. */
  task: string;
  /** Headline metric name. */
  metricName: string;
  /** Optimizer name. */
  optimizer: string;
  /** Seed of the run. */
  seed: number;
  /** Optimizer settings used. */
  settings: Record<string, string | number>;
  /** Best dev metric and its step. */
  best: { step: number; metric: number };
  /** Last evaluation and last training loss. */
  final: TrainResult["final"];
  /** Whether the run was interrupted or stopped early. */
  interrupted: boolean;
  /** Whether early stopping ended it. */
  earlyStopped: boolean;
  /** Where it diverged (non-finite loss or update) and stopped, if it did. */
  diverged?: Divergence;
  /** Training and dev set sizes. */
  sizes: { train: number; dev: number };
  /** Wall-clock seconds. */
  seconds: number;
  /** Number of FisherSAM mask refreshes. */
  maskRefreshes: number;
  /** The history. */
  rows: HistoryRow[];
}

/** A results file. */
export interface ResultsFile {
  /** Format version (1). */
  version: 1;
  /** ISO time of writing. */
  createdAt: string;
  /** The command line that produced it. */
  command: string[];
  /** The tfjs backend and device. */
  backend?: { backend: string; device: string };
  /** The runs. */
  runs: RunRecord[];
}

/** The record of one finished `train()` call. */
export function runRecord(result: TrainResult, seed: number): RunRecord {
  return {
    task: result.task,
    metricName: result.metricName,
    optimizer: result.optimizer.name,
    seed,
    settings: result.optimizer.settings,
    best: result.best,
    final: result.final,
    interrupted: result.interrupted,
    earlyStopped: result.earlyStopped,
    ...(result.diverged ? { diverged: result.diverged } : {}),
    sizes: result.sizes,
    seconds: result.seconds,
    maskRefreshes: result.maskRefreshes.length,
    rows: result.rows,
  };
}

/** The CSV written next to a results JSON: `x.json` → `x.history.csv`. */
export function historyCsvPath(jsonPath: string): string {
  return jsonPath.replace(/\.json$/i, "") + ".history.csv";
}

/** Writes the JSON file and the history CSV next to it, each atomically. */
export function writeResults(path: string, file: ResultsFile): void {
  const json = JSON.stringify(file, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2);
  writeFileAtomic(historyCsvPath(path), historyCsv(file.runs.map((r) => ({ extra: { task: r.task, optimizer: r.optimizer, seed: r.seed }, rows: r.rows }))));
  writeFileAtomic(path, `${json}\n`);
}

function nullToNaN(v: unknown): unknown {
  if (v === null) return Number.NaN;
  if (Array.isArray(v)) return v.map(nullToNaN);
  if (typeof v === "object" && v !== undefined) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, nullToNaN(x)]));
  }
  return v;
}

/** Reads a results file written by {@link writeResults}; throws naming the file when it is not one. */
export function readResults(path: string): ResultsFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: not a readable results file (${(err as Error).message})`);
  }
  const file = nullToNaN(parsed) as ResultsFile;
  if (file?.version !== 1 || !Array.isArray(file.runs)) throw new Error(`${path}: not an fsam-lab results file (version 1 with runs)`);
  return file;
}
