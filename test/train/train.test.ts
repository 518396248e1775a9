import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { train, evaluateModel } from "../../lib/train/train.ts";
import { loadDefaultTask } from "../../lib/data/default-task.ts";
import { encodeExamples } from "../../lib/data/batches.ts";
import { loadPretrained } from "../../lib/models/checkpoint.ts";
import type { SequenceModel } from "../../lib/types.ts";
import type { ESAM, FisherESAM } from "../../lib/optim/esam.ts";
import { fisherAtlas } from "../../lib/inspect/fisher-atlas.ts";

await tf.setBackend("cpu");

const full = loadDefaultTask();
const data = { train: full.train.slice(0, 48), dev: full.dev.slice(0, 40), tokenizer: full.tokenizer };
/** A very small BERT so that each step takes milliseconds. */
const tinyBert = { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 64 };
const base = { data, model: tinyBert, batchSize: 8, maxLength: 32, epochs: 2, lr: 1e-3, progress: "off" as const };

function devAccuracy(model: SequenceModel): number {
  const batch = encodeExamples(data.dev, data.tokenizer, { maxLength: 32 });
  const pred = tf.tidy(() => tf.argMax(model.logits(batch, { training: false }), 1).dataSync());
  tf.dispose(Object.values(batch));
  return data.dev.filter((e, i) => e.label === pred[i]).length / data.dev.length;
}

test("train() with FSAM: history, evaluation, mask refreshes, and the metric matches one computed here", async () => {
  const counts: number[] = [];
  const r = await train({ ...base, optimizer: "fsam", fisherSamples: 4, maskInterval: 4, evalEvery: 4, seed: 3, onStep: () => void counts.push(tf.memory().numTensors) });
  assert.equal(r.rows.length, 12); // 48 / 8 = 6 steps per epoch, 2 epochs
  assert.deepEqual(r.history.shape, [12, 8]);
  assert.deepEqual(r.rows.filter((x) => !Number.isNaN(x.metric)).map((x) => x.step), [4, 6, 8, 12]);
  assert.deepEqual(r.rows.filter((x) => x.maskRefresh).map((x) => x.step), [1, 5, 9]);
  assert.equal(r.maskRefreshes.length, 3);
  assert.ok(r.maskStats && r.maskStats.totalKept === Math.floor(0.1 * r.maskStats.totalSize));
  assert.equal(r.metricName, "accuracy");
  assert.equal(r.task, "default");
  assert.equal(r.optimizer.name, "fsam");
  assert.equal(r.optimizer.settings.sparsity, 0.9);
  assert.ok(Math.abs(r.final.metric - devAccuracy(r.model)) < 1e-12);
  assert.equal(r.final.scores.accuracy, r.final.metric);
  assert.equal(new Set(counts.slice(2)).size, 1, `tensor counts per step: ${counts.join(",")}`);
  r.model.dispose();
});

test("train() with ESAM and Fisher-ESAM: per-example losses reach the optimizer, tensor count flat, Fisher atlas on Fisher-ESAM", async () => {
  for (const optimizer of ["esam", "fesam"] as const) {
    const counts: number[] = [];
    const r = await train({
      ...base, epochs: 1, optimizer, gamma: 0.5, beta: 0.5, fisherSamples: 4, maskInterval: 4, seed: 3, keepOptimizer: true,
      onStep: () => void counts.push(tf.memory().numTensors),
    });
    assert.equal(r.rows.length, 6);
    assert.ok(r.rows.every((x) => Number.isFinite(x.loss)));
    assert.equal(r.optimizer.settings.gamma, 0.5);
    assert.equal(new Set(counts.slice(2)).size, 1, `${optimizer} tensor counts per step: ${counts.join(",")}`);
    const stats = (r.optimizerInstance as ESAM).weightSamplingStats;
    assert.ok(stats.perturbed > 0.4 * stats.total && stats.perturbed < 0.6 * stats.total, `SWP ${stats.perturbed}/${stats.total}`);
    if (optimizer === "fesam") {
      assert.deepEqual(r.maskRefreshes.map((m) => m.step), [0, 4]);
      const atlas = await fisherAtlas(r.optimizerInstance as FisherESAM);
      assert.equal(atlas.totalKept, r.maskStats?.totalKept);
    }
    r.optimizerInstance?.dispose();
    r.model.dispose();
  }
});

test("train() is reproducible by seed: same seed, identical history; another seed differs", async () => {
  const strip = (rows: { time: number }[]) => rows.map((x) => ({ ...x, time: 0 }));
  const opts = { ...base, epochs: 1, optimizer: "sam" as const };
  const a = await train({ ...opts, seed: 11 });
  const b = await train({ ...opts, seed: 11 });
  const c = await train({ ...opts, seed: 12 });
  assert.deepEqual(strip(a.rows), strip(b.rows));
  assert.notDeepEqual(strip(a.rows), strip(c.rows));
  for (const r of [a, b, c]) r.model.dispose();
});

test("low-resource sampling, warm-up schedule and clipping are applied", async () => {
  const r = await train({ ...base, epochs: 1, lowResource: { perClass: 8 }, batchSize: 4, seed: 5, warmupRatio: 0.25 });
  assert.equal(r.sizes.train, 16);
  assert.equal(r.rows.length, 4);
  // 4 steps, warm-up ceil(0.25·4) = 1 step: lr 0, then linear decay 1e-3·(4−s)/3.
  assert.deepEqual(r.rows.map((x) => +x.lr.toExponential(6)), [0, 1e-3, +((1e-3 * 2) / 3).toExponential(6), +(1e-3 / 3).toExponential(6)]);
  assert.equal(r.optimizer.settings.clipNorm, 1);
  r.model.dispose();
});

test("an abort signal stops after the current step and keeps the model and history", async () => {
  const controller = new AbortController();
  const r = await train({ ...base, signal: controller.signal, onStep: (row) => (row.step === 3 ? controller.abort() : undefined) });
  assert.equal(r.interrupted, true);
  assert.equal(r.rows.length, 3);
  assert.ok(Number.isFinite(devAccuracy(r.model)));
  r.model.dispose();
});

test("best checkpoint is saved atomically and reloads to the same predictions", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-train-ckpt-"));
  try {
    const out = join(dir, "best");
    const r = await train({ ...base, seed: 2, evalEvery: 3, checkpointDir: out });
    const state = JSON.parse(readFileSync(join(out, "trainer_state.json"), "utf8"));
    assert.equal(state.step, r.best.step);
    assert.equal(state.metric, r.best.metric);
    assert.ok(existsSync(join(out, "model.safetensors")) && existsSync(join(out, "vocab.txt")));
    assert.deepEqual(readdirSync(dir), ["best"]); // no temp or old folders left behind
    const reloaded = await loadPretrained(out, { log: false });
    const ev = await evaluateModel(reloaded, data.dev, data.tokenizer, "default", { maxLength: 32 });
    const bestRow = r.rows.find((x) => x.step === r.best.step)!;
    assert.equal(ev.metric, bestRow.metric);
    reloaded.dispose();
    r.model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad options are refused with a clear message", async () => {
  await assert.rejects(train({ ...base, epochs: 0 }), /epochs must be a positive integer, got 0/);
  await assert.rejects(train({ ...base, data: undefined, task: "rte" }), /task 'rte' needs its data: pass dataDir/);
  await assert.rejects(train({ ...base, task: "nope" }), /unknown task 'nope'/);
  await assert.rejects(train({ ...base, optimizer: "adagrad" as never }), /unknown name 'adagrad'/);
  await assert.rejects(train({ ...base, model: "no-such-dir" }), /neither a preset .* nor an existing folder/);
});
