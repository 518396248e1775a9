// FisherSAM's asynchronous mask refresh (what the webgpu backend needs): prepareStep before minimize
// refreshes exactly when minimize would, once, with the same mask and the same steps.
import test, { before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { FisherSAM, type MaskRefreshEvent } from "../../lib/optim/fisher-sam.ts";
import { computeFisher, computeFisherAsync } from "../../lib/optim/fisher.ts";
import { FisherSAMFitCallback } from "../../lib/optim/fisher-sam-fit.ts";
import { mlpProblem } from "./reference.ts";

before(async () => {
  await tf.setBackend("cpu");
});

test("computeFisherAsync gives computeFisher's scores", async () => {
  const p = mlpProblem();
  const sync = computeFisher(p.exampleLoss, p.vars, 4);
  const async = await computeFisherAsync(p.exampleLoss, p.vars, 4);
  assert.deepEqual([...async.keys()], [...sync.keys()]);
  for (const [name, scores] of sync) assert.deepEqual(Array.from(async.get(name) as Float32Array), Array.from(scores));
  p.dispose();
});

test("prepareStep + minimize takes the same steps and refreshes at the same steps, once, as minimize alone", async () => {
  const runs = [false, true].map((prepare) => {
    const p = mlpProblem();
    let calls = 0;
    const fisherLoss = (i: number) => {
      calls++;
      return p.exampleLoss(i % 4);
    };
    const fsam = new FisherSAM(tf.train.adam(0.05), { rho: 0.2, sparsity: 0.5, maskInterval: 3, fisherSamples: 4, fisherLoss });
    const events: MaskRefreshEvent[] = [];
    fsam.onMaskRefresh((e) => events.push(e));
    return { p, fsam, events, prepare, calls: () => calls };
  });
  let afterFirst = 0;
  for (let t = 0; t < 7; t++) {
    for (const r of runs) {
      if (r.prepare) {
        await r.fsam.prepareStep(r.p.vars);
        await r.fsam.prepareStep(r.p.vars); // a second call before the step changes nothing
      }
      r.fsam.minimize(r.p.f, false, r.p.vars);
    }
    if (t === 0) afterFirst = tf.memory().numTensors;
  }
  const [plain, prepared] = runs;
  assert.deepEqual(prepared.events.map((e) => e.step), [0, 3, 6]);
  assert.deepEqual(prepared.events.map((e) => e.step), plain.events.map((e) => e.step));
  assert.equal(prepared.calls(), plain.calls(), "one Fisher estimate per refresh");
  assert.deepEqual(prepared.events.map((e) => e.threshold), plain.events.map((e) => e.threshold));
  assert.deepEqual(prepared.p.read(), plain.p.read(), "identical weights after 7 steps");
  assert.equal(tf.memory().numTensors, afterFirst, "the tensor count stays flat after the first step");
  for (const r of runs) {
    r.fsam.dispose();
    r.p.dispose();
  }
});

test("updateMaskAsync equals updateMask", async () => {
  const p = mlpProblem();
  const a = new FisherSAM(tf.train.sgd(0.1), { sparsity: 0.7, fisherSamples: 3, fisherLoss: p.exampleLoss });
  const b = new FisherSAM(tf.train.sgd(0.1), { sparsity: 0.7, fisherSamples: 3, fisherLoss: p.exampleLoss });
  a.updateMask(p.vars);
  await b.updateMaskAsync(p.vars);
  assert.equal(b.threshold, a.threshold);
  for (const [name, mask] of a.maskData) assert.deepEqual(b.maskData.get(name), mask);
  a.dispose();
  b.dispose();
  p.dispose();
});

test("model.fit with FisherSAMFitCallback takes the same steps, refreshing at the same steps once each, as model.fit alone", async () => {
  const xs = tf.tensor2d(Array.from({ length: 24 * 3 }, (_, i) => Math.sin(i * 0.7)), [24, 3]);
  const ys = tf.tidy(() => tf.sum(tf.mul(xs, tf.tensor1d([1, -2, 0.5])), 1, true));
  const run = async (callback: boolean) => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3], activation: "tanh" }), tf.layers.dense({ units: 1 })] });
    const start = model.getWeights().map((w, i) => tf.tensor(Array.from({ length: w.size }, (_, j) => Math.cos(i + j * 0.3) * 0.5), w.shape));
    model.setWeights(start);
    tf.dispose(start);
    let calls = 0;
    const fisherLoss = (i: number) => {
      calls++;
      return tf.tidy(() => tf.losses.meanSquaredError(ys.slice([i, 0], [1, 1]), model.apply(xs.slice([i, 0], [1, 3])) as tf.Tensor) as tf.Scalar);
    };
    const fsam = new FisherSAM(tf.train.adam(0.05), { rho: 0.1, sparsity: 0.5, maskInterval: 2, fisherSamples: 4, fisherLoss });
    const steps: number[] = [];
    fsam.onMaskRefresh((e) => steps.push(e.step));
    model.compile({ optimizer: fsam, loss: "meanSquaredError" });
    const history = await model.fit(xs, ys, { batchSize: 8, epochs: 2, shuffle: false, verbose: 0, callbacks: callback ? [new FisherSAMFitCallback(fsam)] : [] });
    const weights = model.getWeights().flatMap((w) => Array.from(w.dataSync()));
    const result = { losses: history.history.loss, weights, steps, calls, mask: [...fsam.maskData.values()].map((m) => Array.from(m)) };
    model.dispose();
    fsam.dispose();
    return result;
  };
  const plain = await run(false);
  const withCallback = await run(true);
  assert.deepEqual(plain.steps, [0, 2, 4]);
  assert.deepEqual(withCallback, plain);
  tf.dispose([xs, ys]);
});
