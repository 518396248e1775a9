/**
 * Evaluation metrics matching the official GLUE/SuperGLUE ones (scikit-learn / scipy semantics):
 * accuracy, binary F1 (positive class 1), macro-F1, Matthews correlation, Pearson and Spearman
 * correlation, and each task's headline score.
 *
 * Degenerate cases: F1 of a class that is never predicted nor present is 0 (sklearn's
 * `zero_division=0`); Matthews with a zero denominator (one class only) is 0, as in sklearn;
 * Pearson and Spearman of a constant vector are NaN, as in scipy (the correlation is undefined).
 */
import { getTask, type MetricName, type TaskSpec } from "./tasks.ts";

/** A metric: true values and predictions (class ids, or real values for regression) to a number. */
export type Metric = (yTrue: readonly number[], yPred: readonly number[]) => number;

/** Checks that both arrays are non-empty and of equal length. */
function checkPair(name: string, yTrue: readonly number[], yPred: readonly number[]): void {
  if (yTrue.length !== yPred.length) throw new Error(`${name}: yTrue has ${yTrue.length} values but yPred has ${yPred.length}`);
  if (yTrue.length === 0) throw new Error(`${name}: no values`);
}

/** F1 of class `positive`: 2·tp / (2·tp + fp + fn), 0 when that is 0/0. */
function classF1(yTrue: readonly number[], yPred: readonly number[], positive: number): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i] === positive;
    const p = yPred[i] === positive;
    if (t && p) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  const denominator = 2 * tp + fp + fn;
  return denominator === 0 ? 0 : (2 * tp) / denominator;
}

/** Pearson correlation of two equal-length vectors (NaN when either is constant). */
function correlation(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Ranks from 1, tied values sharing the average of their ranks. */
function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]![0] === order[start]![0]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]![1]] = rank;
    start = end + 1;
  }
  return ranks;
}

/** Fraction of predictions equal to the true label. */
function accuracy(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair("accuracy", yTrue, yPred);
  let hits = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hits++;
  return hits / yTrue.length;
}

/** Binary F1 with class 1 as the positive class (MRPC, QQP). */
function f1(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair("f1", yTrue, yPred);
  return classF1(yTrue, yPred, 1);
}

/** Unweighted mean of per-class F1 over the classes present in `yTrue` or `yPred` (CB). */
function macroF1(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair("macroF1", yTrue, yPred);
  const classes = [...new Set([...yTrue, ...yPred])];
  return classes.reduce((sum, c) => sum + classF1(yTrue, yPred, c), 0) / classes.length;
}

/**
 * Matthews correlation coefficient, multiclass form (sklearn): (c·s − Σ pₖtₖ) /
 * √((s² − Σ pₖ²)(s² − Σ tₖ²)); 0 when the denominator is 0 (CoLA).
 */
function matthews(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair("matthews", yTrue, yPred);
  const trueCounts = new Map<number, number>();
  const predCounts = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) {
    trueCounts.set(yTrue[i]!, (trueCounts.get(yTrue[i]!) ?? 0) + 1);
    predCounts.set(yPred[i]!, (predCounts.get(yPred[i]!) ?? 0) + 1);
    if (yTrue[i] === yPred[i]) correct++;
  }
  const s = yTrue.length;
  let pt = 0;
  for (const [c, t] of trueCounts) pt += t * (predCounts.get(c) ?? 0);
  let pp = 0;
  for (const p of predCounts.values()) pp += p * p;
  let tt = 0;
  for (const t of trueCounts.values()) tt += t * t;
  const denominator = Math.sqrt((s * s - pp) * (s * s - tt));
  return denominator === 0 ? 0 : (correct * s - pt) / denominator;
}

/** Pearson correlation (STS-B); NaN when either vector is constant. */
function pearson(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair("pearson", yTrue, yPred);
  return correlation(yTrue, yPred);
}

/** Spearman rank correlation with ties given average ranks (STS-B); NaN when either vector is constant. */
function spearman(yTrue: readonly number[], yPred: readonly number[]): number {
  checkPair("spearman", yTrue, yPred);
  return correlation(averageRanks(yTrue), averageRanks(yPred));
}

/** The metrics by name, each `(yTrue, yPred) => number`. */
export const metrics: Readonly<Record<MetricName, Metric>> = Object.freeze({ accuracy, f1, macroF1, matthews, pearson, spearman });

/**
 * A task's headline score: the metric, or the mean of the two metrics, the GLUE leaderboard uses
 * (MRPC/QQP (accuracy+F1)/2, STS-B (Pearson+Spearman)/2, CoLA Matthews, CB (accuracy+macro-F1)/2,
 * accuracy elsewhere).
 */
export function taskScore(task: TaskSpec | string, yTrue: readonly number[], yPred: readonly number[]): number {
  const spec = typeof task === "string" ? getTask(task) : task;
  const values = spec.headline.map((m) => metrics[m](yTrue, yPred));
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Every metric of a task plus its headline `score`, e.g. `{accuracy, f1, score}` for MRPC. */
export function taskMetrics(task: TaskSpec | string, yTrue: readonly number[], yPred: readonly number[]): Record<string, number> {
  const spec = typeof task === "string" ? getTask(task) : task;
  const out: Record<string, number> = {};
  for (const m of spec.metrics) out[m] = metrics[m](yTrue, yPred);
  out.score = spec.headline.map((m) => out[m]!).reduce((a, b) => a + b, 0) / spec.headline.length;
  return out;
}
