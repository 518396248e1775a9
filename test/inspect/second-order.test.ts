import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createHvp, doubleBackpropHvp, richardsonHvp, finiteDifferenceHvp } from "../../lib/inspect/hvp.ts";
import { SECOND_ORDER_KERNELS, withSecondOrderGradients } from "../../lib/inspect/second-order-gradients.ts";
import { activate, embeddingLookup, layerNorm } from "../../lib/models/ops.ts";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import { disposeVector, gaussianVector, shapesOf } from "../../lib/inspect/param-vector.ts";
import * as H from "./hyperdual.ts";
import { SMALL_BATCH, SMALL_BERT, float64BertHvp, tensorBatch } from "./float64-bert.ts";

await tf.setBackend("cpu");

const flat = (p: tf.Tensor[]) => new Float64Array(p.flatMap((t) => [...t.dataSync()]));

// Gradient-of-gradient checks per op: L(W) = Σ C ⊙ f(X·W) (or f applied to W directly), H·v by tfjs
// double back-propagation against the same function's exact float64 H·v (hyper-dual numbers).
const X = [[0.3, -0.2, 0.5], [0.1, 0.4, -0.6], [1.1, 0.2, 0.3], [-0.7, 0.9, 0.05]];
const C = [[0.5, -1, 0.25, 2], [1.5, 0.3, -0.4, 1], [-0.2, 0.8, 1.2, -0.6], [0.9, -0.5, 0.1, 0.7]];
const IDS = [0, 2, 0, 3];

type Case = { tf: (z: tf.Tensor2D) => tf.Tensor2D; ref: (z: H.Mat) => H.Mat; direct?: boolean };
const elementwise = (f: (x: H.HD) => H.HD) => (z: H.Mat) => z.map((row) => row.map(f));
const CASES: Record<string, Case> = {
  exp: { tf: (z) => tf.exp(z), ref: elementwise(H.exp) },
  tanh: { tf: (z) => tf.tanh(z), ref: elementwise(H.tanh) },
  sigmoid: { tf: (z) => tf.sigmoid(z), ref: elementwise(H.sigmoid) },
  softmax: { tf: (z) => tf.softmax(z), ref: (z) => z.map(H.softmax) },
  "log-probabilities (logits − logSumExp)": {
    tf: (z) => tf.sub(z, tf.logSumExp(z, 1, true)),
    ref: (z) => z.map((row) => { const l = H.logSumExp(row); return row.map((x) => H.sub(x, l)); }),
  },
  "exact GELU (erf)": {
    tf: (z) => activate(z, "gelu"),
    ref: elementwise((x) => H.mul(H.scale(x, 0.5), H.add(H.erf(H.scale(x, Math.SQRT1_2)), H.hd(1)))),
  },
  "LayerNorm (moments, rsqrt)": {
    tf: (z) => layerNorm(z, tf.tensor1d([1.2, 0.8, -0.5, 1]), tf.tensor1d([0.1, 0, -0.2, 0.3]), 1e-2),
    ref: (z) => H.layerNorm(z, [1.2, 0.8, -0.5, 1].map(H.hd), [0.1, 0, -0.2, 0.3].map(H.hd), 1e-2),
  },
  "embedding lookup (gather / ScatterNd) times a sum": {
    direct: true,
    tf: (w) => tf.mul(embeddingLookup(w, tf.tensor1d(IDS, "int32")), tf.sum(w)) as tf.Tensor2D,
    ref: (w) => { const s = H.sumOf(w.flat()); return IDS.map((i) => w[i].map((x) => H.mul(x, s))); },
  },
};

for (const [name, c] of Object.entries(CASES)) {
  test(`gradient of the gradient of ${name} equals its float64 value`, () => {
    const w0 = tf.tidy(() => tf.randomNormal([c.direct ? 4 : 3, 4], 0, 0.8, "float32", 5));
    const w = tf.variable(w0);
    const v = gaussianVector([w.shape], 6);
    const x = tf.tensor2d(X);
    const weights = tf.tensor2d(C);
    const loss = () => tf.tidy(() => tf.sum(tf.mul(c.tf(c.direct ? (w as tf.Tensor2D) : tf.matMul(x, w)), weights)) as tf.Scalar);
    const got = flat(doubleBackpropHvp(loss, [w], v));
    const wRows = w0.arraySync() as number[][];
    const ref = H.hyperDualHvp(w0.dataSync(), v[0].dataSync(), (p) => {
      const W = wRows.map((row, i) => p.slice(i * row.length, (i + 1) * row.length));
      const z = c.direct ? W : X.map((xr) => W[0].map((_, j) => H.sumOf(xr.map((xi, k) => H.scale(W[k][j], xi)))));
      return H.sumOf(c.ref(z).flatMap((row, i) => row.map((y, j) => H.scale(y, C[i][j]))));
    });
    const err = H.relativeError(got, ref);
    assert.ok(err < 1e-4, `relative error ${err.toExponential(2)}`);
    tf.dispose([w0, w, x, weights, ...v]);
  });
}

test("the second-order gradients are swapped in only during the computation, also when it throws", () => {
  const stock = SECOND_ORDER_KERNELS.map((k) => tf.getGradient(k));
  assert.ok(tf.getGradient("Softmax").outputsToSave, "tfjs's own Softmax gradient saves its output");
  let inside: (tf.GradConfig | undefined)[] = [];
  withSecondOrderGradients(() => {
    inside = SECOND_ORDER_KERNELS.map((k) => tf.getGradient(k));
  });
  inside.forEach((g, i) => assert.ok(g && g !== stock[i] && !g.outputsToSave, SECOND_ORDER_KERNELS[i]));
  assert.throws(() => withSecondOrderGradients(() => { throw new Error("boom"); }), /boom/);
  SECOND_ORDER_KERNELS.forEach((k, i) => assert.equal(tf.getGradient(k), stock[i], `${k} restored`));
  assert.throws(() => withSecondOrderGradients(() => Promise.resolve(1)), /must be synchronous/);
});

test("auto still falls back for customGrad losses (tf.losses.softmaxCrossEntropy) and says why", async () => {
  const w = tf.variable(tf.tensor2d([[0.3, -0.1], [0.2, 0.5], [-0.4, 0.1]]), true, "sce/classifier.weight");
  const x = tf.tensor2d([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]]);
  const y = tf.tensor2d([[1, 0], [0, 1]]);
  const loss = () => tf.tidy(() => tf.losses.softmaxCrossEntropy(y, tf.matMul(x, w)) as tf.Scalar);
  const before = tf.memory().numTensors;
  const hvp = await createHvp(loss, [w], { seed: 1 });
  assert.equal(hvp.method, "finite-difference");
  assert.match(hvp.fallbackReason ?? "", /cannot differentiate|disagrees/);
  assert.equal(tf.memory().numTensors, before, "the failed probe leaked tensors");
  const v = [tf.tensor2d([[1, -1], [0.5, 0], [0, 2]])];
  disposeVector(await hvp.apply(v));
  v[0].dispose();
  assert.ok(hvp.errorEstimate !== undefined && hvp.errorEstimate < 1e-2, `error estimate ${hvp.errorEstimate}`);
  tf.dispose([w, x, y]);
});

test("Richardson finite differences cancel the O(h²) error and estimate what is left", async () => {
  // A smooth function with large third derivatives, where truncation dominates at this step.
  const w = tf.variable(tf.tensor1d([0.4, -0.3, 0.8]), true, "rich/w");
  const loss = () => tf.tidy(() => tf.sum(tf.tanh(tf.mul(w, 3))) as tf.Scalar);
  const v = [tf.tensor1d([1, 2, -1])];
  const ref = H.hyperDualHvp([0.4, -0.3, 0.8], [1, 2, -1], (p) => H.sumOf(p.map((x) => H.tanh(H.scale(x, 3)))));
  const step = 0.05;
  const plain = H.relativeError(flat(await finiteDifferenceHvp(loss, [w], v, step)), ref);
  const { product, relativeError: estimate } = await richardsonHvp(loss, [w], v, step);
  const rich = H.relativeError(flat(product), ref);
  assert.ok(rich < plain / 10, `Richardson ${rich.toExponential(2)} vs plain ${plain.toExponential(2)}`);
  // Where truncation dominates, the estimate is about the plain difference's error, above the extrapolated one.
  assert.ok(estimate > rich && estimate < 2 * plain && estimate > plain / 2, `estimate ${estimate.toExponential(2)}, error ${rich.toExponential(2)}, plain ${plain.toExponential(2)}`);
  const op = await createHvp(loss, [w], { method: "finite-difference", fdStep: step });
  disposeVector(await op.apply(v));
  assert.ok(Math.abs(op.errorEstimate! - estimate) < 1e-6 * estimate, "the operator reports its estimate");
  assert.equal((await createHvp(loss, [w], { method: "finite-difference", fdRichardson: false })).errorEstimate, undefined);
  await assert.rejects(createHvp(loss, [w], { fdRichardson: 1 as never }), /option fdRichardson must be a boolean/);
  tf.dispose([w, v[0], ...product]);
});

test("BERT: auto uses exact double back-propagation, equal to the float64 H·v within 1e-4", async () => {
  const model = createBertClassifier(SMALL_BERT, { numLabels: 2, seed: 3, scope: "hvpexact" });
  const batch = tensorBatch(SMALL_BATCH);
  const loss = () => model.loss(batch, { training: false });
  const before = tf.memory().numTensors;
  const hvp = await createHvp(loss, model.variables, { seed: 1 });
  assert.equal(hvp.method, "double-backprop", hvp.fallbackReason);
  assert.ok(hvp.probeError! < 1e-3, `probe error ${hvp.probeError}`);
  const v = gaussianVector(shapesOf(model.variables), 7);
  const hv = await hvp.apply(v);
  const ref = float64BertHvp(model, SMALL_BATCH, flat(v));
  const err = H.relativeError(flat(hv), ref);
  assert.ok(err < 1e-4, `relative error ${err.toExponential(2)} against float64`);
  [v, hv].forEach(disposeVector);
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  tf.dispose(Object.values(batch));
  model.dispose();
});
