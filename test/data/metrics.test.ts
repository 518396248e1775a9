// Metrics against values worked out by hand from confusion matrices and ranks (see comments).
import test from "node:test";
import assert from "node:assert/strict";
import { metrics, taskMetrics, taskScore } from "../../lib/data/metrics.ts";

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} vs ${expected}`);

// Binary case: TP = 2 (items 0, 2), FP = 1 (item 1), FN = 1 (item 3), TN = 1 (item 4).
const yTrue = [1, 0, 1, 1, 0];
const yPred = [1, 1, 1, 0, 0];
// Three classes: diagonal 0/1/2 hits at items 0, 2, 3, 4; true counts (2, 2, 2), predicted (2, 3, 1).
const t3 = [0, 0, 1, 1, 2, 2];
const p3 = [0, 1, 1, 1, 2, 0];

test("accuracy, F1 and macro-F1 from hand-counted confusion matrices", () => {
  close(metrics.accuracy(yTrue, yPred), 3 / 5, "accuracy");
  close(metrics.f1(yTrue, yPred), (2 * 2) / (2 * 2 + 1 + 1), "f1"); // 2TP / (2TP + FP + FN)
  // class 0: TP 1, FP 1, FN 1 → 0.5; class 1: 2/3.
  close(metrics.macroF1(yTrue, yPred), (0.5 + 2 / 3) / 2, "macroF1");
  // class 0: TP 1, FP 1, FN 1 → 2/4; class 1: TP 2, FP 1, FN 0 → 4/5; class 2: TP 1, FP 0, FN 1 → 2/3.
  close(metrics.macroF1(t3, p3), (2 / 4 + 4 / 5 + 2 / 3) / 3, "macroF1 3-class");
  close(metrics.f1([0, 0], [0, 0]), 0, "f1 without positives (zero division → 0)");
  // A class that is only predicted still counts in the macro average (F1 0).
  close(metrics.macroF1([0, 0, 1, 1], [0, 0, 1, 2]), (1 + 2 / 3 + 0) / 3, "macroF1 with a predicted-only class");
});

test("Matthews correlation: binary, multiclass and the zero-denominator case", () => {
  // (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2 − 1) / √(3·3·2·2) = 1/6.
  close(metrics.matthews(yTrue, yPred), 1 / 6, "binary");
  // Multiclass: (c·s − Σ pₖtₖ) / √((s² − Σ pₖ²)(s² − Σ tₖ²)) with c 4, s 6, Σ pₖtₖ = 4+6+2, Σ pₖ² = 14, Σ tₖ² = 12.
  close(metrics.matthews(t3, p3), (4 * 6 - 12) / Math.sqrt((36 - 14) * (36 - 12)), "multiclass");
  assert.equal(metrics.matthews([0, 1, 1], [1, 1, 1]), 0);
  assert.equal(metrics.matthews([1, 1], [1, 1]), 0);
  close(metrics.matthews([0, 1, 0, 1], [0, 1, 0, 1]), 1, "perfect");
  close(metrics.matthews([0, 1, 0, 1], [1, 0, 1, 0]), -1, "inverted");
});

test("Pearson and Spearman (ties get average ranks); constants give NaN", () => {
  const x = [1, 2, 3, 4, 5];
  const y = [2, 4, 5, 4, 5];
  // dx = (−2, −1, 0, 1, 2), dy = (−2, 0, 1, 0, 1): Σdxdy 6, Σdx² 10, Σdy² 6.
  close(metrics.pearson(x, y), 6 / Math.sqrt(60), "pearson");
  // ranks of y: 2→1, the 4s→2.5, the 5s→4.5; dy = (−2, −.5, 1.5, −.5, 1.5): Σdxdy 7, Σdy² 9.
  close(metrics.spearman(x, y), 7 / Math.sqrt(90), "spearman");
  close(metrics.spearman([10, 20, 30], [1, 8, 27]), 1, "monotone");
  close(metrics.pearson([1, 2, 3], [3, 2, 1]), -1, "anti-correlated");
  assert.ok(Number.isNaN(metrics.pearson([1, 2, 3], [2, 2, 2])));
  assert.ok(Number.isNaN(metrics.spearman([4, 4], [1, 2])));
});

test("task headline scores and the per-task metric set", () => {
  close(taskScore("mrpc", yTrue, yPred), (3 / 5 + 2 / 3) / 2, "MRPC (acc+F1)/2");
  close(taskScore("qqp", yTrue, yPred), (3 / 5 + 2 / 3) / 2, "QQP (acc+F1)/2");
  close(taskScore("cola", yTrue, yPred), 1 / 6, "CoLA Matthews");
  close(taskScore("rte", yTrue, yPred), 3 / 5, "RTE accuracy");
  close(taskScore("cb", t3, p3), (4 / 6 + (2 / 4 + 4 / 5 + 2 / 3) / 3) / 2, "CB (acc+macroF1)/2");
  close(taskScore("STS-B", [1, 2, 3, 4, 5], [2, 4, 5, 4, 5]), (6 / Math.sqrt(60) + 7 / Math.sqrt(90)) / 2, "STS-B (P+S)/2");
  const m = taskMetrics("mrpc", yTrue, yPred);
  assert.deepEqual(Object.keys(m), ["accuracy", "f1", "score"]);
  close(m.score!, (3 / 5 + 2 / 3) / 2, "taskMetrics score");
});

test("bad inputs are errors", () => {
  assert.throws(() => metrics.accuracy([1, 0], [1]), /accuracy: yTrue has 2 values but yPred has 1/);
  assert.throws(() => metrics.pearson([], []), /pearson: no values/);
});
