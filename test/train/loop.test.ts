import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { runTrainingLoop, type TrainingLoopSetup } from "../../lib/train/loop.ts";
import { evaluateBatches } from "../../lib/train/evaluate.ts";
import { makeSchedule } from "../../lib/train/schedule.ts";
import { createOptimizer } from "../../lib/train/optimizers.ts";
import { TrainingProgress } from "../../lib/train/progress.ts";
import { shuffled, mulberry32 } from "../../lib/random.ts";
import { BagOfIdsClassifier, accuracy, syntheticExamples, syntheticBatches, encodeSynthetic } from "./tiny-model.ts";

await tf.setBackend("cpu");

const VOCAB = 12;
const trainSet = syntheticExamples(96, VOCAB, 1);
const devSet = syntheticExamples(64, VOCAB, 2);

function setup(seed: number, optimizerName = "adam", extra: Partial<TrainingLoopSetup> = {}) {
  const model = new BagOfIdsClassifier(VOCAB, 2, seed);
  const fisherLoss = (i: number) => {
    const batch = encodeSynthetic([trainSet[i % trainSet.length]]);
    const loss = model.loss(batch);
    tf.dispose([batch.inputIds, batch.tokenTypeIds, batch.attentionMask, batch.labels!]);
    return loss;
  };
  const built = createOptimizer(optimizerName, { lr: 0.5, maskInterval: 3, fisherSamples: 4, fisherLoss });
  const batchSize = 16;
  const stepsPerEpoch = Math.ceil(trainSet.length / batchSize);
  const epochs = 3;
  const s: TrainingLoopSetup = {
    model,
    optimizer: built.optimizer,
    ...(built.fisher ? { maskSource: built.fisher } : {}),
    epochBatches: (epoch) => syntheticBatches(trainSet, batchSize, shuffled(trainSet.map((_, i) => i), mulberry32(seed * 1000 + epoch))),
    stepsPerEpoch,
    epochs,
    schedule: makeSchedule("linear", 0.5, epochs * stepsPerEpoch, 0.06),
    evaluate: (m) => evaluateBatches(m, syntheticBatches(devSet, 32), accuracy),
    metricName: "accuracy",
    progress: new TrainingProgress({ mode: "off" }),
    ...extra,
  };
  return { model, built, s };
}

test("the loop trains: loss falls, dev accuracy is evaluated at each epoch end and beats chance", async () => {
  const { model, built, s } = setup(3);
  const result = await runTrainingLoop(s);
  assert.equal(result.rows.length, 18);
  const evaluated = result.rows.filter((r) => !Number.isNaN(r.metric)).map((r) => r.step);
  assert.deepEqual(evaluated, [6, 12, 18]);
  const first = result.rows.slice(0, 3).reduce((a, r) => a + r.loss, 0) / 3;
  const lastLosses = result.rows.slice(-3).reduce((a, r) => a + r.loss, 0) / 3;
  assert.ok(lastLosses < first, `loss ${first} -> ${lastLosses}`);
  // The same accuracy, computed here from the model's logits.
  const batch = encodeSynthetic(devSet);
  const pred = tf.tidy(() => tf.argMax(model.logits(batch), 1).dataSync());
  const acc = devSet.filter((e, i) => e.label === pred[i]).length / devSet.length;
  tf.dispose([batch.inputIds, batch.tokenTypeIds, batch.attentionMask, batch.labels!]);
  assert.ok(Math.abs(result.final.metric - acc) < 1e-12);
  assert.ok(acc > 0.75, `dev accuracy ${acc}`);
  assert.equal(result.best.metric, Math.max(...result.rows.filter((r) => !Number.isNaN(r.metric)).map((r) => r.metric)));
  // Learning rate follows the schedule: 0 at step 0, warm-up of ceil(0.06 * 18) = 2 steps.
  assert.equal(result.rows[0].lr, 0);
  assert.equal(result.rows[1].lr, 0.25);
  assert.equal(result.rows[2].lr, 0.5);
  assert.equal(result.interrupted, false);
  built.optimizer.dispose();
  model.dispose();
});

test("same seed, same history; another seed, another history", async () => {
  const strip = (rows: { time: number }[]) => rows.map((r) => ({ ...r, time: 0 }));
  const a = setup(5, "sam");
  const ra = await runTrainingLoop(a.s);
  const b = setup(5, "sam");
  const rb = await runTrainingLoop(b.s);
  const c = setup(6, "sam");
  const rc = await runTrainingLoop(c.s);
  assert.deepEqual(strip(ra.rows), strip(rb.rows));
  assert.notDeepEqual(strip(ra.rows), strip(rc.rows));
  for (const x of [a, b, c]) {
    x.built.optimizer.dispose();
    x.model.dispose();
  }
});

test("no tensor leaks: the tensor count is the same after every step (FSAM, with evaluations)", async () => {
  const counts: number[] = [];
  const { model, built, s } = setup(7, "fsam", { evalEvery: 2, onStep: () => void counts.push(tf.memory().numTensors) });
  await runTrainingLoop(s);
  // Optimizer state (moments, masks) is created during the first steps; after that, flat.
  assert.equal(new Set(counts.slice(3)).size, 1, `tensor counts ${counts.join(",")}`);
  built.optimizer.dispose();
  model.dispose();
});

test("FSAM mask refreshes are recorded in the history", async () => {
  const { model, built, s } = setup(8, "fsam");
  const result = await runTrainingLoop(s);
  const refreshed = result.rows.filter((r) => r.maskRefresh).map((r) => r.step);
  // maskInterval 3: refreshes before updates t = 0, 3, 6, … (t from 0), i.e. at steps 1, 4, 7, ….
  assert.deepEqual(refreshed, [1, 4, 7, 10, 13, 16]);
  assert.equal(result.maskRefreshes.length, 6);
  assert.ok(result.maskRefreshes.every((e) => Number.isFinite(e.threshold)));
  built.optimizer.dispose();
  model.dispose();
});

test("an abort signal stops after the current step, keeping the model and the history", async () => {
  const controller = new AbortController();
  const { model, built, s } = setup(9, "adam", {
    signal: controller.signal,
    onStep: (row) => {
      if (row.step === 5) controller.abort();
    },
  });
  const result = await runTrainingLoop(s);
  assert.equal(result.interrupted, true);
  assert.equal(result.rows.length, 5);
  assert.equal(model.variables[0].isDisposed, false);
  built.optimizer.dispose();
  model.dispose();
});

test("early stopping: stops after `patience` evaluations without improvement; onBest sees each new best", async () => {
  const metrics = [0.5, 0.6, 0.55, 0.58, 0.9, 0.95];
  let calls = 0;
  const bests: number[] = [];
  const { model, built, s } = setup(10, "adam", {
    evalEvery: 2,
    earlyStopping: { patience: 2 },
    evaluate: () => {
      const metric = metrics[calls++];
      return { metric, metricName: "accuracy", scores: {}, loss: 1 - metric, n: 1 };
    },
    onBest: (_m, best) => void bests.push(best.metric),
  });
  const result = await runTrainingLoop(s);
  assert.equal(result.earlyStopped, true);
  // Evaluations at steps 2, 4, 6, 8: 0.5, 0.6 (best), 0.55, 0.58 → two without improvement → stop at 8.
  assert.equal(result.rows.length, 8);
  assert.deepEqual(bests, [0.5, 0.6]);
  assert.deepEqual(result.best, { step: 4, metric: 0.6 });
  built.optimizer.dispose();
  model.dispose();
});

test("evalAtEpochEnd false: only evalEvery steps and the last step are evaluated", async () => {
  let calls = 0;
  const { model, built, s } = setup(12, "adam", {
    evalAtEpochEnd: false,
    evalEvery: 4,
    evaluate: () => ({ metric: ++calls, metricName: "accuracy", scores: {}, loss: 0, n: 1 }),
  });
  const result = await runTrainingLoop(s);
  assert.deepEqual(result.rows.filter((r) => !Number.isNaN(r.metric)).map((r) => r.step), [4, 8, 12, 16, 18]);
  built.optimizer.dispose();
  model.dispose();
});
