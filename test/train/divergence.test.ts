// A run whose loss or gradients stop being finite is stopped at that step, with the last finite
// weights, marked diverged, and nothing of the diverged step is evaluated or saved as best.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { runTrainingLoop, type TrainingLoopSetup } from "../../lib/train/loop.ts";
import { DivergenceError } from "../../lib/train/divergence.ts";
import { evaluateBatches } from "../../lib/train/evaluate.ts";
import { makeSchedule } from "../../lib/train/schedule.ts";
import { createOptimizer } from "../../lib/train/optimizers.ts";
import { TrainingProgress } from "../../lib/train/progress.ts";
import type { EncodedBatch, LossReduction } from "../../lib/types.ts";
import { BagOfIdsClassifier, accuracy, syntheticExamples, syntheticBatches } from "./tiny-model.ts";

await tf.setBackend("cpu");

const VOCAB = 12;
const trainSet = syntheticExamples(96, VOCAB, 1);
const devSet = syntheticExamples(64, VOCAB, 2);

/** A gradient of +Inf through an unchanged value (a finite loss with non-finite gradients). */
const infiniteGradient = tf.customGrad((x) => ({ value: tf.clone(x as tf.Tensor), gradFunc: (dy: tf.Tensor) => tf.mul(dy, Infinity) }));

/** The tiny classifier, whose training loss goes bad from step `badStep` on (1-based). */
class PoisonedModel extends BagOfIdsClassifier {
  calls = 0;
  constructor(readonly badStep: number, readonly how: "nan-loss" | "inf-gradient") {
    super(VOCAB, 2, 5);
  }
  override loss(batch: EncodedBatch, options?: { training?: boolean; reduction?: "mean" }): tf.Scalar;
  override loss(batch: EncodedBatch, options: { training?: boolean; reduction: "none" }): tf.Tensor1D;
  override loss(batch: EncodedBatch, options: { training?: boolean; reduction?: LossReduction } = {}): tf.Scalar | tf.Tensor1D {
    if (options.reduction === "none") throw new Error("PoisonedModel: per-example losses are not used by these tests");
    const loss = super.loss(batch);
    if (!options.training) return loss;
    // SAM evaluates the loss twice per step, plain optimizers once: count steps by the loop's calls.
    this.calls += 1;
    if (this.stepOf(this.calls) < this.badStep) return loss;
    return tf.tidy(() => (this.how === "nan-loss" ? tf.mul(loss, Number.NaN) : infiniteGradient(loss))) as tf.Scalar;
  }
  lossCallsPerStep = 1;
  stepOf(call: number): number {
    return Math.ceil(call / this.lossCallsPerStep);
  }
}

function setup(model: PoisonedModel, optimizerName: string, extra: Partial<TrainingLoopSetup> = {}) {
  const built = createOptimizer(optimizerName, { lr: 0.1, rho: 0.05 });
  if (optimizerName !== "adam") model.lossCallsPerStep = 2;
  const s: TrainingLoopSetup = {
    model,
    optimizer: built.optimizer,
    epochBatches: () => syntheticBatches(trainSet, 16),
    stepsPerEpoch: 6,
    epochs: 3,
    schedule: makeSchedule("constant", 0.1, 18, 0),
    evaluate: (m) => evaluateBatches(m, syntheticBatches(devSet, 32), accuracy),
    evalEvery: 2,
    metricName: "accuracy",
    progress: new TrainingProgress({ mode: "off" }),
    ...extra,
  };
  return { built, s };
}

for (const how of ["nan-loss", "inf-gradient"] as const) {
  for (const optimizerName of ["adam", "sam"]) {
    test(`${how} with ${optimizerName}: stopped at the diverged step, last finite weights kept, never the best`, async () => {
      const model = new PoisonedModel(5, how);
      // The tiny model leaves its variables' initial values alive: counted apart.
      const before = tf.memory().numTensors - model.variables.length;
      const snapshots: number[][] = [];
      const bestSteps: number[] = [];
      const { built, s } = setup(model, optimizerName, {
        onStep: () => void snapshots.push(model.variables.flatMap((v) => Array.from(v.dataSync()))),
        onBest: (_m, best) => void bestSteps.push(best.step),
      });
      const warn = console.warn;
      const warnings: string[] = [];
      console.warn = (...a: unknown[]) => void warnings.push(a.join(" "));
      let result;
      try {
        result = await runTrainingLoop(s);
      } finally {
        console.warn = warn;
      }
      assert.equal(result.diverged?.step, 5, JSON.stringify(result.diverged));
      assert.match(result.diverged!.reason, how === "nan-loss" ? /training loss or its gradient is NaN/ : /gradient/);
      assert.equal(result.rows.length, 5);
      assert.ok(warnings.some((w) => /diverged at step 5/.test(w)), warnings.join("\n"));
      // The weights are those after step 4, all finite.
      const now = model.variables.flatMap((v) => Array.from(v.dataSync()));
      assert.ok(now.every(Number.isFinite));
      assert.deepEqual(now, snapshots[3]);
      // Evaluations ran at steps 2 and 4 only; the best is finite and from before the divergence.
      assert.ok(bestSteps.every((st) => st < 5), `best at ${bestSteps}`);
      assert.ok(Number.isFinite(result.best.metric) && result.best.step <= 4);
      built.optimizer.dispose();
      model.dispose();
      assert.equal(tf.memory().numTensors, before, "tensors leaked");
    });
  }
}

test('onDivergence "throw" throws a DivergenceError naming the step, after restoring the weights', async () => {
  const model = new PoisonedModel(3, "nan-loss");
  const { built, s } = setup(model, "adam", { onDivergence: "throw" });
  await assert.rejects(runTrainingLoop(s), (e: unknown) => e instanceof DivergenceError && e.divergence.step === 3 && /step 3/.test(e.message));
  assert.ok(model.variables.every((v) => v.dataSync().every(Number.isFinite)));
  built.optimizer.dispose();
  model.dispose();
});

test("a bad onDivergence value is refused by name", async () => {
  const model = new PoisonedModel(99, "nan-loss");
  const { built, s } = setup(model, "adam", { onDivergence: "ignore" as never });
  await assert.rejects(runTrainingLoop(s), /onDivergence must be "stop" or "throw", got "ignore"/);
  built.optimizer.dispose();
  model.dispose();
});

test("a run that stays finite is not marked diverged", async () => {
  const model = new PoisonedModel(99, "nan-loss");
  const before = tf.memory().numTensors - model.variables.length;
  const { built, s } = setup(model, "adam");
  const result = await runTrainingLoop(s);
  assert.equal(result.diverged, undefined);
  assert.equal(result.rows.length, 18);
  built.optimizer.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

test("train(): the diverged run is marked in its result and record, the best checkpoint stays the last good one", async () => {
  const { train } = await import("../../lib/train/train.ts");
  const { runRecord } = await import("../../lib/train/results-file.ts");
  const { summarizeRuns } = await import("../../lib/train/compare.ts");
  const { loadDefaultTask } = await import("../../lib/data/default-task.ts");
  const { mkdtempSync, readFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  /** SGD whose updates turn NaN from its 4th step on. */
  class NaNFromStep4 extends tf.SGDOptimizer {
    steps = 0;
    override applyGradients(grads: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
      if (++this.steps < 4) return super.applyGradients(grads);
      const list = Array.isArray(grads) ? grads : Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
      const poisoned = list.map(({ name, tensor }) => ({ name, tensor: tf.mul(tensor, Number.NaN) }));
      super.applyGradients(poisoned);
      tf.dispose(poisoned.map((p) => p.tensor));
    }
  }
  const full = loadDefaultTask();
  const dir = mkdtempSync(join(tmpdir(), "fsam-diverge-"));
  try {
    const r = await train({
      data: { train: full.train.slice(0, 48), dev: full.dev.slice(0, 24), tokenizer: full.tokenizer },
      model: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 64 },
      optimizer: new NaNFromStep4(1e-3),
      batchSize: 8, maxLength: 32, epochs: 2, evalEvery: 1, progress: "off", checkpointDir: join(dir, "best"),
    });
    assert.equal(r.diverged?.step, 4);
    assert.equal(r.rows.length, 4);
    assert.ok(r.model.variables.every((v) => v.dataSync().every(Number.isFinite)));
    const state = JSON.parse(readFileSync(join(dir, "best", "trainer_state.json"), "utf8")) as { step: number; metric: number };
    assert.ok(state.step <= 3 && Number.isFinite(state.metric), JSON.stringify(state));
    const record = runRecord(r, 42);
    assert.equal(record.diverged?.step, 4);
    assert.equal(summarizeRuns([record], r.metricName)[0].diverged, 1);
    r.model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The state of an optimizer the tests build: its steps and every value of its moments/accumulators. */
function optimizerState(opt: tf.Optimizer): { steps: number[]; values: number[] } {
  const o = opt as unknown as Record<string, unknown> & { iterations: number };
  const steps = [o.iterations];
  if (o.base !== undefined) {
    // SAM: its step count, then its base's state.
    const inner = optimizerState(o.base as tf.Optimizer);
    return { steps: [...steps, ...inner.steps], values: inner.values };
  }
  const vars: tf.Variable[] = [];
  if (o.moments instanceof Map) for (const { m, v } of o.moments.values()) vars.push(m, v);
  for (const key of ["accumulatedFirstMoment", "accumulatedSecondMoment", "accumulations"]) {
    for (const entry of (o[key] as { variable: tf.Variable }[] | undefined) ?? []) vars.push(entry.variable);
  }
  for (const key of ["accBeta1", "accBeta2"]) if (o[key] instanceof tf.Variable) vars.push(o[key] as tf.Variable);
  return { steps, values: vars.flatMap((v) => Array.from(v.dataSync())) };
}

const userOptimizers: Record<string, () => tf.Optimizer> = {
  "tf.train.adam": () => tf.train.adam(0.1),
  "tf.train.momentum": () => tf.train.momentum(0.1, 0.9),
};
for (const [name, badStep] of [["adam", 5], ["sam", 5], ["tf.train.adam", 5], ["tf.train.adam", 1], ["tf.train.momentum", 3]] as const) {
  test(`${name}, diverging at step ${badStep}: the optimizer's state is that of step ${badStep - 1} and a continued run stays finite`, async () => {
    const model = new PoisonedModel(badStep, "inf-gradient");
    const before = tf.memory().numTensors - model.variables.length;
    const user = name in userOptimizers ? userOptimizers[name] : undefined;
    const { built, s } = setup(model, user ? "adam" : name);
    if (user) {
      built.optimizer.dispose();
      s.optimizer = user();
      model.lossCallsPerStep = 1;
    }
    const states: { steps: number[]; values: number[] }[] = [];
    s.onStep = () => void states.push(optimizerState(s.optimizer));
    const warn = console.warn;
    console.warn = () => {};
    try {
      const result = await runTrainingLoop(s);
      assert.equal(result.diverged?.step, badStep);
      const after = optimizerState(s.optimizer);
      assert.ok(after.values.every(Number.isFinite), "non-finite optimizer state kept");
      if (badStep > 1) assert.deepEqual(after, states[badStep - 2]);
      else {
        const fresh = tf.train.adam(0.1);
        assert.deepEqual(after, optimizerState(fresh)); // as new: no moments, the β powers of step 0.
        fresh.dispose();
      }
      // Continuing from the stopped model and optimizer (the poison gone) trains normally.
      (model as { badStep: number }).badStep = Infinity;
      const next = await runTrainingLoop({ ...s, onStep: undefined, epochs: 1 });
      assert.equal(next.diverged, undefined);
      assert.ok(model.variables.every((v) => v.dataSync().every(Number.isFinite)));
    } finally {
      console.warn = warn;
    }
    s.optimizer.dispose();
    // tfjs's MomentumOptimizer.dispose forgets its learning-rate scalar (SGDOptimizer's `c`).
    if (name === "tf.train.momentum") (s.optimizer as unknown as { c: tf.Tensor }).c.dispose();
    model.dispose();
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
  });
}
