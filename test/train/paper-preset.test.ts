/**
 * The `fsam-paper` preset, the `--preset` / `--maskable` flags, and how the trainer builds FSAM's
 * Fisher (batch mode in training mode, as the authors' code).
 */
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { presetOptions, withPreset } from "../../lib/train/presets.ts";
import { trainOptionsFromFlags } from "../../bin/cli-support/run-flags.ts";
import { train } from "../../lib/train/train.ts";
import { loadDefaultTask } from "../../lib/data/default-task.ts";
import type { EncodedBatch, LossReduction, SequenceModel } from "../../lib/types.ts";
import { BagOfIdsClassifier } from "./tiny-model.ts";

await tf.setBackend("cpu");

test("fsam-paper sets the authors' setup, with the task's learning rate", () => {
  const rte = presetOptions("fsam-paper", "rte", "fsam");
  assert.deepEqual(rte, {
    epochs: 10, batchSize: 32, lr: 2e-5, warmupRatio: 0.06, schedule: "linear", clipNorm: 0, base: "adam",
    beta1: 0.9, beta2: 0.98, epsilon: 1e-6, weightDecay: 0.01, weightDecayMode: "l2", rho: 0.05, sparsity: 0.9, maskInterval: 100,
  });
  for (const task of ["cola", "mrpc", "sst2"]) assert.equal(presetOptions("fsam-paper", task, "sam").lr, 1e-5, task);
  assert.equal(presetOptions("fsam-paper", "stsb", "sam").lr, 2e-5);
  assert.equal(presetOptions("fsam-paper", "rte", "asam").rho, undefined, "ASAM keeps its own ρ scale");
  // Given options win; absent ones come from the preset; `none` changes nothing.
  const o = withPreset({ preset: "fsam-paper" as const, optimizer: "fsam", epochs: 2, lr: undefined }, "cola");
  assert.equal(o.epochs, 2);
  assert.equal(o.lr, 1e-5);
  assert.equal((o as Record<string, unknown>).weightDecayMode, "l2");
  assert.deepEqual(withPreset({ preset: "none" as const, epochs: 2 }, "rte"), { preset: "none", epochs: 2 });
  assert.throws(() => withPreset({ preset: "fsam-paper" as const }, "default"), /no learning rate for task 'default'.*pass lr/);
  assert.throws(() => withPreset({ preset: "paper" as never }, "rte"), /unknown name 'paper'/);
});

test("--preset and --maskable flags", () => {
  assert.deepEqual(trainOptionsFromFlags({ preset: "fsam-paper", maskable: "all" }), { preset: "fsam-paper", maskable: "all" });
  assert.throws(() => trainOptionsFromFlags({ maskable: "some" }), /--maskable: 'some' is not one of authors, all/);
  assert.throws(() => trainOptionsFromFlags({ preset: "paper" }), /--preset: 'paper' is not one of fsam-paper, none/);
});

const full = loadDefaultTask();
const data = { train: full.train.slice(0, 24), dev: full.dev.slice(0, 16), tokenizer: full.tokenizer };

test("train() with the preset records its settings and runs the schedule it asks for", async () => {
  const model = new BagOfIdsClassifier(full.tokenizer.vocabSize, 2, 1);
  const r = await train({ data, model, preset: "fsam-paper", lr: 1e-3, optimizer: "fsam", maxSteps: 3, batchSize: 8, fisherSamples: 2, progress: "off" });
  const s = r.optimizer.settings;
  assert.equal(s.preset, "fsam-paper");
  assert.equal(s.weightDecayMode, "l2");
  assert.equal(s.weightDecay, 0.01);
  assert.equal(s.maskable, "authors");
  assert.equal(s.clipNorm, undefined, "no clipping");
  // 10 epochs of 3 steps would be 30; maxSteps 3 ends it. Warm-up ceil(0.06·3) = 1 step: lr 0, then peak.
  assert.deepEqual(r.rows.map((row) => row.lr), [0, 1e-3, 5e-4]);
  model.dispose();
});

/** Records the `training` flag of every loss call. */
class Recording extends BagOfIdsClassifier {
  readonly modes: boolean[] = [];
  override loss(batch: EncodedBatch, options?: { training?: boolean; reduction?: "mean" }): tf.Scalar;
  override loss(batch: EncodedBatch, options: { training?: boolean; reduction: "none" }): tf.Tensor1D;
  override loss(batch: EncodedBatch, options: { training?: boolean; reduction?: LossReduction } = {}): tf.Scalar | tf.Tensor1D {
    this.modes.push(options.training === true);
    return options.reduction === "none" ? super.loss(batch, { reduction: "none" }) : super.loss(batch);
  }
}

test("batch-mode Fisher is the training step's gradient in training mode; per-sample runs without dropout", async () => {
  const run = async (fisherMode: "batch" | "per-sample") => {
    const model = new Recording(full.tokenizer.vocabSize, 2, 2);
    const before = tf.memory().numTensors;
    await train({ data, model: model as SequenceModel, optimizer: "fsam", fisherMode, fisherSamples: 2, maskInterval: 1, maxSteps: 2, batchSize: 8, lr: 1e-3, progress: "off", evalAtEpochEnd: false });
    assert.equal(tf.memory().numTensors, before, `${fisherMode}: no tensor left behind`);
    model.dispose();
    return model.modes;
  };
  // Both runs end with one evaluation (no dropout) of the last step's model.
  const batch = await run("batch");
  assert.equal(batch.filter((m) => !m).length, 1, `batch mode: only the evaluation runs without dropout (${batch})`);
  assert.equal(batch.filter((m) => m).length, 6, "2 steps × (Fisher + 2 SAM passes) in training mode");
  const perSample = await run("per-sample");
  assert.equal(perSample.filter((m) => !m).length, 5, "per-sample: 2 refreshes × 2 examples without dropout, plus the evaluation");
});
