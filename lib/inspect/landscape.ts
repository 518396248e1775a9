/**
 * Loss landscapes: the loss (and accuracy) on a fixed evaluation set at w + α·d₁ (1-D) or
 * w + α·d₁ + β·d₂ (2-D) over a grid, along directions from directions.ts (random filter-normalised,
 * SAM/FSAM, Hessian eigenvectors, or the line between two models), plus the projection of a training
 * trajectory onto the 2-D plane. Each grid point costs one pass over the evaluation set; the variables
 * are restored bit-exactly afterwards, and no tensor is leaked.
 */
import * as tf from "@tensorflow/tfjs";
import type { EncodedBatch, SequenceModel } from "../types.ts";
import { type Direction, type WeightSnapshot, directionTensors, snapshotWeights } from "./directions.ts";
import { assignAll, assignOffset, disposeVector, snapshot } from "./param-vector.ts";
import { progressCheckpoint, type LongRunOptions } from "./progress.ts";
import { checkPositiveInt } from "../check.ts";

/** What an evaluator returns at the current weights: the mean loss, and the accuracy if known. */
export interface LandscapeEvaluation {
  /** Mean loss over the evaluation set. */
  loss: tf.Scalar;
  /** Accuracy in [0, 1] over the evaluation set (classification only). */
  accuracy?: tf.Scalar;
}

/** Evaluates the model at its current weights on a fixed evaluation set. */
export type LandscapeEvaluator = () => LandscapeEvaluation;

/**
 * An evaluator for a {@link SequenceModel} over fixed, already-encoded batches (tokenise once, reuse
 * for every grid point): one forward pass per batch, dropout off, the size-weighted mean
 * cross-entropy (MSE for regression) and the accuracy (classification).
 */
export function sequenceModelEvaluator(model: SequenceModel, batches: readonly EncodedBatch[]): LandscapeEvaluator {
  if (batches.length === 0) throw new Error("sequenceModelEvaluator: batches is empty; pass the encoded evaluation set");
  batches.forEach((b, i) => {
    if (!b.labels) throw new Error(`sequenceModelEvaluator: batch ${i} has no labels`);
  });
  const total = batches.reduce((n, b) => n + b.inputIds.shape[0], 0);
  return () => {
    const sums = tf.tidy(() => {
      let lossSum: tf.Tensor = tf.scalar(0);
      let correct: tf.Tensor = tf.scalar(0);
      for (const batch of batches) {
        const logits = model.logits(batch, { training: false });
        const labels = batch.labels as tf.Tensor1D;
        if (model.numLabels === 1) {
          lossSum = tf.add(lossSum, tf.sum(tf.square(tf.sub(logits.reshape([-1]), labels.toFloat()))));
        } else {
          const nll = tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, tf.oneHot(labels.toInt(), model.numLabels)), 1));
          lossSum = tf.add(lossSum, tf.sum(nll));
          correct = tf.add(correct, tf.sum(tf.equal(tf.argMax(logits, 1), labels.toInt()).toFloat()));
        }
      }
      return [tf.div(lossSum, total), tf.div(correct, total)];
    });
    const out: LandscapeEvaluation = { loss: sums[0] as tf.Scalar };
    if (model.numLabels > 1) out.accuracy = sums[1] as tf.Scalar;
    else sums[1].dispose();
    return out;
  };
}

/** What to evaluate a landscape on: an evaluator, or a model with its fixed, encoded evaluation batches. */
export type LandscapeTarget = LandscapeEvaluator | { model: SequenceModel; batches: readonly EncodedBatch[] };

/** The evaluator of a target. */
function evaluatorOf(target: LandscapeTarget): LandscapeEvaluator {
  if (typeof target === "function") return target;
  if (target && typeof target === "object" && "model" in target && "batches" in target) return sequenceModelEvaluator(target.model, target.batches);
  throw new Error("landscape: evaluate must be a function () => {loss, accuracy?} or {model, batches}");
}

/** Reads loss and accuracy of one evaluation with one host read, disposing the tensors. */
async function readEvaluation(evaluate: LandscapeEvaluator): Promise<{ loss: number; accuracy: number | undefined }> {
  const e = evaluate();
  if (!(e?.loss instanceof tf.Tensor)) throw new Error("evaluate must return {loss: tf.Scalar, accuracy?: tf.Scalar}");
  const stacked = tf.tidy(() => tf.stack([e.loss.reshape([]), (e.accuracy ?? tf.scalar(NaN)).reshape([])]));
  const values = await stacked.data();
  stacked.dispose();
  e.loss.dispose();
  e.accuracy?.dispose();
  return { loss: values[0], accuracy: e.accuracy ? values[1] : undefined };
}

/** `n` evenly spaced values from `lo` to `hi` inclusive. */
export function linspace(lo: number, hi: number, n: number): number[] {
  checkPositiveInt("number of points", n);
  if (n === 1) return [lo];
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? hi : lo + ((hi - lo) * i) / (n - 1)));
}

function checkRange(name: string, range: readonly number[]): [number, number] {
  if (range.length !== 2 || !(range[0] < range[1])) throw new Error(`option ${name} must be [min, max] with min < max, got [${range}]`);
  return [range[0], range[1]];
}

/** Options of {@link landscape1D}. */
export interface Landscape1DOptions extends LongRunOptions {
  /** Grid points (default 51). */
  points?: number;
  /** Coordinate range (default [−1, 1]; use [0, 1] or [−0.5, 1.5] for an interpolation). */
  range?: [number, number];
}

/** A 1-D slice of the landscape. */
export interface Landscape1D {
  /** Direction label. */
  label: string;
  /** Coordinates α of the grid points. */
  coordinates: number[];
  /** Loss at w + α·d (NaN where not evaluated because of an interrupt). */
  loss: number[];
  /** Accuracy at each point, when the evaluator returns it. */
  accuracy?: number[];
  /** Mean wall-clock milliseconds per grid point. */
  msPerPoint: number;
  /** True when interrupted before the grid was complete. */
  aborted: boolean;
}

/** The loss along one direction: w + α·d for α on a grid (restores w afterwards). */
export async function landscape1D(
  vars: readonly tf.Variable[],
  evaluate: LandscapeTarget,
  direction: Direction,
  options: Landscape1DOptions = {},
): Promise<Landscape1D> {
  const [lo, hi] = checkRange("range", options.range ?? [-1, 1]);
  const coordinates = linspace(lo, hi, options.points ?? 51);
  const grid = await evaluateGrid(vars, evaluate, [direction], coordinates.map((a) => [a]), options, "landscape 1-D");
  const out: Landscape1D = { label: direction.label, coordinates, loss: grid.loss, msPerPoint: grid.msPerPoint, aborted: grid.aborted };
  if (grid.accuracy) out.accuracy = grid.accuracy;
  return out;
}

/** Options of {@link landscape2D}. */
export interface Landscape2DOptions extends LongRunOptions {
  /** Grid points per axis (default 21), or [x points, y points]. */
  points?: number | [number, number];
  /** Range of both coordinates (default [−1, 1]). */
  range?: [number, number];
  /** Range of the second coordinate, when it differs. */
  yRange?: [number, number];
}

/** A 2-D slice of the landscape; grids are indexed [y][x] (Plotly's z convention). */
export interface Landscape2D {
  /** Labels of the two directions. */
  xLabel: string;
  /** Label of the second direction. */
  yLabel: string;
  /** Coordinates α along the first direction. */
  x: number[];
  /** Coordinates β along the second direction. */
  y: number[];
  /** loss[j][i] at w + x[i]·d₁ + y[j]·d₂. */
  loss: number[][];
  /** accuracy[j][i], when the evaluator returns it. */
  accuracy?: number[][];
  /** Mean wall-clock milliseconds per grid point. */
  msPerPoint: number;
  /** True when interrupted before the grid was complete (missing points are NaN). */
  aborted: boolean;
}

/** The loss on the plane w + α·d₁ + β·d₂ over a grid (restores w afterwards). */
export async function landscape2D(
  vars: readonly tf.Variable[],
  evaluate: LandscapeTarget,
  directions: readonly [Direction, Direction],
  options: Landscape2DOptions = {},
): Promise<Landscape2D> {
  if (directions.length !== 2) throw new Error(`landscape2D needs exactly 2 directions, got ${directions.length}`);
  const [nx, ny] = typeof options.points === "number" || options.points === undefined ? [options.points ?? 21, options.points ?? 21] : options.points;
  const x = linspace(...checkRange("range", options.range ?? [-1, 1]), nx);
  const y = linspace(...checkRange("yRange", options.yRange ?? options.range ?? [-1, 1]), ny);
  const coords = y.flatMap((b) => x.map((a) => [a, b]));
  const grid = await evaluateGrid(vars, evaluate, directions, coords, options, "landscape 2-D");
  const rows = (flat: number[]) => y.map((_, j) => flat.slice(j * nx, (j + 1) * nx));
  const out: Landscape2D = {
    xLabel: directions[0].label,
    yLabel: directions[1].label,
    x,
    y,
    loss: rows(grid.loss),
    msPerPoint: grid.msPerPoint,
    aborted: grid.aborted,
  };
  if (grid.accuracy) out.accuracy = rows(grid.accuracy);
  return out;
}

/** Evaluates at base + Σ c_k d_k for every coefficient tuple; restores the variables. */
async function evaluateGrid(
  vars: readonly tf.Variable[],
  target: LandscapeTarget,
  directions: readonly Direction[],
  coefficients: number[][],
  options: LongRunOptions,
  phase: string,
): Promise<{ loss: number[]; accuracy?: number[]; msPerPoint: number; aborted: boolean }> {
  if (vars.length === 0) throw new Error(`${phase}: vars is empty`);
  const evaluate = evaluatorOf(target);
  const base = snapshot(vars);
  const dirs = directions.map((d) => directionTensors(d, vars));
  const loss = new Array<number>(coefficients.length).fill(NaN);
  const accuracy = new Array<number>(coefficients.length).fill(NaN);
  let hasAccuracy = false;
  let aborted = false;
  let done = 0;
  const start = performance.now();
  try {
    for (let p = 0; p < coefficients.length; p++) {
      assignOffset(vars, base, dirs, coefficients[p]);
      const e = await readEvaluation(evaluate);
      loss[p] = e.loss;
      if (e.accuracy !== undefined) {
        accuracy[p] = e.accuracy;
        hasAccuracy = true;
      }
      done++;
      if (await progressCheckpoint(options, { phase, done, total: coefficients.length })) {
        aborted = done < coefficients.length;
        break;
      }
    }
  } finally {
    assignAll(vars, base);
    disposeVector(base);
    dirs.forEach(disposeVector);
  }
  const msPerPoint = done > 0 ? (performance.now() - start) / done : NaN;
  return hasAccuracy ? { loss, accuracy, msPerPoint, aborted } : { loss, msPerPoint, aborted };
}

/**
 * Projects weight snapshots (e.g. recorded every N training steps) onto the plane through `origin`
 * spanned by d₁ and d₂: the least-squares coordinates (α, β) with
 * snapshot − origin ≈ α·d₁ + β·d₂ (exact when the snapshot lies in the plane). Parameters are
 * matched by HF name; parameters missing from a direction count as zero there. An origin given as
 * variables is read with `await data()`.
 */
export async function projectTrajectory(
  snapshots: readonly WeightSnapshot[],
  origin: WeightSnapshot | readonly tf.Variable[],
  directions: readonly [Direction, Direction],
): Promise<{ x: number[]; y: number[] }> {
  const o = origin instanceof Map ? origin : await snapshotWeights(origin);
  const [d1, d2] = directions.map((d) => d.values);
  const dotWith = (a: WeightSnapshot, b: WeightSnapshot, shift?: WeightSnapshot) => {
    let s = 0;
    for (const [name, x] of a) {
      const y = b.get(name);
      if (!y) continue;
      const z = shift?.get(name);
      for (let i = 0; i < x.data.length; i++) s += (x.data[i] - (z ? z.data[i] : 0)) * y.data[i];
    }
    return s;
  };
  const g11 = dotWith(d1, d1);
  const g12 = dotWith(d1, d2);
  const g22 = dotWith(d2, d2);
  const det = g11 * g22 - g12 * g12;
  if (!(Math.abs(det) > 1e-20 * Math.max(1, g11 * g22))) throw new Error("projectTrajectory: the two directions are parallel or zero");
  const x: number[] = [];
  const y: number[] = [];
  for (const [t, snap] of snapshots.entries()) {
    for (const name of o.keys()) if (!snap.has(name)) throw new Error(`projectTrajectory: snapshot ${t} lacks parameter ${name}`);
    const r1 = dotWith(snap, d1, o);
    const r2 = dotWith(snap, d2, o);
    x.push((g22 * r1 - g12 * r2) / det);
    y.push((g11 * r2 - g12 * r1) / det);
  }
  return { x, y };
}
