import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { landscape1D, landscape2D, projectTrajectory, sequenceModelEvaluator, linspace } from "../../lib/inspect/landscape.ts";
import { randomDirection, interpolationDirection, snapshotWeights, type Direction, type WeightSnapshot } from "../../lib/inspect/directions.ts";
import { samSharpness } from "../../lib/inspect/sam-sharpness.ts";
import type { EncodedBatch, SequenceModel } from "../../lib/types.ts";
import { tinyModel } from "./tiny-model.ts";
import { namedVariables, quadraticLoss } from "./quadratic.ts";

await tf.setBackend("cpu");

const lossOf = (e: () => { loss: tf.Scalar; accuracy?: tf.Scalar }) => {
  const r = e();
  const v = r.loss.dataSync()[0];
  tf.dispose([r.loss, r.accuracy as tf.Tensor]);
  return v;
};

test("the 2-D grid at (0, 0) equals the model's loss, and an off-centre point equals the loss there", async () => {
  const m = tinyModel("grid2d", 1);
  const l0 = lossOf(m.evaluate);
  const d1 = await randomDirection(m.vars, { seed: 1 });
  const d2 = await randomDirection(m.vars, { seed: 2 });
  const before = m.vars.map((v) => [...v.dataSync()]);
  const res = await landscape2D(m.vars, m.evaluate, [d1, d2], { points: 5, range: [-0.5, 0.5] });
  assert.deepEqual(res.x, [-0.5, -0.25, 0, 0.25, 0.5]);
  assert.equal(res.loss.length, 5);
  assert.ok(Math.abs(res.loss[2][2] - l0) < 1e-6, `${res.loss[2][2]} vs ${l0}`);
  m.vars.forEach((v, i) => assert.deepEqual([...v.dataSync()], before[i]));
  // Move the weights by hand to (x = 0.25, y = −0.5) and evaluate.
  m.vars.forEach((v) => {
    const k = v.name.slice("grid2d/".length);
    const a = d1.values.get(k)!.data, b = d2.values.get(k)!.data;
    v.assign(tf.tensor((v.dataSync() as Float32Array).map((w, i) => w + 0.25 * a[i] - 0.5 * b[i]), v.shape));
  });
  const manual = lossOf(m.evaluate);
  m.vars.forEach((v, i) => v.assign(tf.tensor(before[i], v.shape)));
  assert.ok(Math.abs(res.loss[0][3] - manual) < 1e-5, `${res.loss[0][3]} vs ${manual}`);
  assert.ok(res.accuracy && res.accuracy[2][2] >= 0 && res.accuracy[2][2] <= 1);
  assert.ok(res.msPerPoint > 0);
});

test("1-D interpolation endpoints equal the two models' losses", async () => {
  const a = tinyModel("endA", 1);
  const b = tinyModel("endB", 2);
  const la = lossOf(a.evaluate);
  const lb = lossOf(b.evaluate);
  const res = await landscape1D(a.vars, a.evaluate, await interpolationDirection(a.vars, b.vars), { range: [0, 1], points: 11 });
  assert.equal(res.coordinates[0], 0);
  assert.equal(res.coordinates[10], 1);
  assert.ok(Math.abs(res.loss[0] - la) < 1e-6);
  assert.ok(Math.abs(res.loss[10] - lb) < 1e-5, `${res.loss[10]} vs ${lb}`);
  assert.notEqual(la, lb);
  const def = await landscape1D(a.vars, a.evaluate, await randomDirection(a.vars, { seed: 3 }));
  assert.equal(def.coordinates.length, 51);
  assert.ok(Math.abs(def.loss[25] - la) < 1e-6);
});

test("landscapes leak no tensors; an abort returns a partial grid", async () => {
  const m = tinyModel("leak", 3);
  const d1 = await randomDirection(m.vars, { seed: 1 });
  const d2 = await randomDirection(m.vars, { seed: 2 });
  await landscape2D(m.vars, m.evaluate, [d1, d2], { points: 3 });
  const n0 = tf.memory().numTensors;
  await landscape2D(m.vars, m.evaluate, [d1, d2], { points: 4 });
  await landscape1D(m.vars, m.evaluate, d1, { points: 7 });
  assert.equal(tf.memory().numTensors, n0);
  const ctl = new AbortController();
  const res = await landscape1D(m.vars, m.evaluate, d1, { points: 9, signal: ctl.signal, onProgress: (e) => { if (e.done === 4) ctl.abort(); } });
  assert.equal(res.aborted, true);
  assert.equal(res.loss.filter(Number.isFinite).length, 4);
  assert.equal(tf.memory().numTensors, n0);
});

test("trajectory snapshots in the plane project to their coordinates", async () => {
  const m = tinyModel("traj", 4);
  const d1 = await randomDirection(m.vars, { seed: 1, biases: "weights" });
  const d2 = await randomDirection(m.vars, { seed: 2 });
  const origin = await snapshotWeights(m.vars);
  const at = (a: number, b: number): WeightSnapshot =>
    new Map([...origin].map(([k, o]) => [k, { shape: o.shape, data: o.data.map((w, i) => w + a * d1.values.get(k)!.data[i] + b * d2.values.get(k)!.data[i]) }]));
  const pts: [number, number][] = [[0, 0], [0.3, -0.2], [-1, 0.5], [0.7, 0.9]];
  const proj = await projectTrajectory(pts.map(([a, b]) => at(a, b)), m.vars, [d1, d2]);
  pts.forEach(([a, b], i) => {
    assert.ok(Math.abs(proj.x[i] - a) < 1e-4, `x ${proj.x[i]} vs ${a}`);
    assert.ok(Math.abs(proj.y[i] - b) < 1e-4, `y ${proj.y[i]} vs ${b}`);
  });
  await assert.rejects(async () => projectTrajectory([origin], origin, [d1, d1 as Direction]), /parallel/);
});

test("sequenceModelEvaluator: size-weighted cross-entropy and accuracy over batches", async () => {
  const w = tf.variable(tf.tensor2d([[0.5, -1, 0.2], [1, 0.3, -0.4]]), true, "evalmodel/classifier.weight");
  // logits = one-hot(first token id mod 2) · w: a toy "model" over the ids.
  const model: SequenceModel = {
    variables: [w],
    numLabels: 3,
    logits: (b) => tf.tidy(() => tf.matMul(tf.oneHot(tf.mod(b.inputIds.slice([0, 0], [-1, 1]).reshape([-1]), tf.scalar(2, "int32")) as tf.Tensor1D, 2).toFloat(), w) as tf.Tensor2D),
    loss: ((b: EncodedBatch) => tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(b.labels!.toInt(), 3), model.logits(b)) as tf.Scalar)) as SequenceModel["loss"],
    dispose: () => w.dispose(),
  };
  const batch = (ids: number[], labels: number[]): EncodedBatch => ({
    inputIds: tf.tensor2d(ids.map((x) => [x, 0]), undefined, "int32"),
    tokenTypeIds: tf.zeros([ids.length, 2], "int32") as tf.Tensor2D,
    attentionMask: tf.ones([ids.length, 2], "int32") as tf.Tensor2D,
    labels: tf.tensor1d(labels, "int32"),
  });
  const batches = [batch([0, 1, 2], [2, 0, 0]), batch([3], [1])];
  const W = [[0.5, -1, 0.2], [1, 0.3, -0.4]];
  const nll = (row: number[], y: number) => Math.log(row.reduce((s, z) => s + Math.exp(z), 0)) - row[y];
  const samples: [number, number][] = [[0, 2], [1, 0], [0, 0], [1, 1]];
  const expectedLoss = samples.reduce((s, [r, y]) => s + nll(W[r], y), 0) / 4;
  const expectedAcc = samples.filter(([r, y]) => W[r].indexOf(Math.max(...W[r])) === y).length / 4;
  const e = sequenceModelEvaluator(model, batches)();
  const grid = await landscape1D([w], { model, batches }, { label: "zero", kind: "custom", values: new Map() }, { points: 3 });
  assert.deepEqual(grid.loss.map((x) => Math.abs(x - expectedLoss) < 1e-5), [true, true, true]);
  assert.deepEqual(grid.accuracy, [expectedAcc, expectedAcc, expectedAcc]);
  assert.ok(Math.abs(e.loss.dataSync()[0] - expectedLoss) < 1e-5);
  assert.equal(e.accuracy!.dataSync()[0], expectedAcc);
  const direct = model.loss(batches[0]);
  assert.ok(Math.abs(direct.dataSync()[0] - samples.slice(0, 3).reduce((s, [r, y]) => s + nll(W[r], y), 0) / 3) < 1e-5);
  tf.dispose([e.loss, e.accuracy!, direct]);
  assert.deepEqual(linspace(-1, 1, 5), [-1, -0.5, 0, 0.5, 1]);
});

test("SAM sharpness L(w+e) − L(w) matches gᵀe + ½eᵀAe on a quadratic, globally and per block", async () => {
  const vars = namedVariables([["bert.encoder.layer.0.attention.self.query.weight", [2]], ["classifier.weight", [2]]], 6, "samsharp");
  const a = [[2, 0.5, 0, 0], [0.5, 1, 0, 0.2], [0, 0, 3, 0], [0, 0.2, 0, 0.5]];
  const b = [0.1, -0.2, 0.3, 0.4];
  const loss = quadraticLoss(vars, a, b);
  const w = vars.flatMap((v) => [...v.dataSync()]);
  const g = w.map((_, i) => a[i].reduce((s, x, j) => s + x * w[j], 0) + b[i]);
  const rise = (e: number[]) => e.reduce((s, x, i) => s + g[i] * x, 0) + 0.5 * e.reduce((s, x, i) => s + x * a[i].reduce((t, y, j) => t + y * e[j], 0), 0);
  const unit = (idx: number[], rho: number) => {
    const n = Math.hypot(...idx.map((i) => g[i]));
    return g.map((x, i) => (idx.includes(i) ? (rho * x) / n : 0));
  };
  const res = await samSharpness(loss, vars, { rho: 0.1 });
  assert.ok(Math.abs(res.sharpness - rise(unit([0, 1, 2, 3], 0.1))) < 1e-5, `${res.sharpness}`);
  assert.ok(Math.abs(res.perturbationNorm - 0.1) < 1e-6);
  assert.deepEqual(res.blocks.map((x) => x.block), ["layer.0.attention", "classifier"]);
  assert.ok(Math.abs(res.blocks[0].sharpness - rise(unit([0, 1], 0.1))) < 1e-5);
  assert.ok(Math.abs(res.blocks[1].sharpness - rise(unit([2, 3], 0.1))) < 1e-5);
  const restricted = await samSharpness(loss, vars, { rho: 0.1, blockPerturbation: "restricted" });
  const full = unit([0, 1, 2, 3], 0.1);
  assert.ok(Math.abs(restricted.blocks[1].sharpness - rise(full.map((x, i) => (i >= 2 ? x : 0)))) < 1e-5);
  const mask = new Map([[vars[0].name, Uint8Array.from([0, 1])], [vars[1].name, Uint8Array.from([1, 0])]]);
  const masked = await samSharpness(loss, vars, { rho: 0.1, mask, perBlock: false });
  assert.ok(Math.abs(masked.sharpness - rise(full.map((x, i) => ([0, 1, 1, 0][i] ? x : 0)))) < 1e-5);
  assert.equal(masked.blocks.length, 0);
  const n0 = tf.memory().numTensors;
  await samSharpness(loss, vars, { rho: 0.1, mask });
  assert.equal(tf.memory().numTensors, n0);
  assert.deepEqual(w, vars.flatMap((v) => [...v.dataSync()]));
});
