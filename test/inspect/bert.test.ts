import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import { FisherSAM } from "../../lib/optim/fisher-sam.ts";
import { authorsMaskable } from "../../lib/optim/maskable.ts";
import type { EncodedBatch } from "../../lib/types.ts";
import { blockOf, groupByBlock, LAYER_COMPONENTS } from "../../lib/inspect/blocks.ts";
import { fisherAtlas } from "../../lib/inspect/fisher-atlas.ts";
import { createHvp } from "../../lib/inspect/hvp.ts";
import { landscape2D, sequenceModelEvaluator } from "../../lib/inspect/landscape.ts";
import { randomDirection } from "../../lib/inspect/directions.ts";
import { dot, disposeVector, gaussianVector, shapesOf } from "../../lib/inspect/param-vector.ts";

await tf.setBackend("cpu");

const CONFIG = {
  vocab_size: 60, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32,
  max_position_embeddings: 16, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
};

function batch(seed: number, n = 4, seq = 6): EncodedBatch {
  return tf.tidy(() => ({
    inputIds: tf.randomUniform([n, seq], 1, 60, "int32", seed) as tf.Tensor2D,
    tokenTypeIds: tf.zeros([n, seq], "int32") as tf.Tensor2D,
    attentionMask: tf.ones([n, seq], "int32") as tf.Tensor2D,
    labels: tf.tensor1d(Array.from({ length: n }, (_, i) => (i + seed) % 2), "int32"),
  }));
}

test("every BERT variable lands in its block; the atlas grid covers all components", async () => {
  const model = createBertClassifier(CONFIG, { numLabels: 2, seed: 1, scope: "atlasbert" });
  const blocks = [...groupByBlock(model.variables.map((v) => v.name)).keys()];
  assert.deepEqual(blocks, ["embeddings", "layer.0.attention", "layer.0.ffn", "layer.0.layernorm", "layer.1.attention", "layer.1.ffn", "layer.1.layernorm", "pooler", "classifier"]);
  assert.ok(model.variables.every((v) => blockOf(v.name).block !== "other"));
  const batches = [batch(1), batch(2)];
  const fsam = new FisherSAM(tf.train.adam(1e-3), { fisherLoss: (i) => model.loss(batches[i % 2]), fisherSamples: 2, sparsity: 0.9, maskInterval: 1 });
  fsam.updateMask(model.variables);
  const atlas = await fisherAtlas(fsam);
  assert.deepEqual(atlas.grid.layers, [0, 1]);
  assert.deepEqual(atlas.grid.components, [...LAYER_COMPONENTS]);
  // The authors' rule (the default) leaves every embedding and bias outside the mask.
  const maskable = model.variables.filter(authorsMaskable);
  const n = maskable.reduce((s, v) => s + v.size, 0);
  assert.equal(atlas.totalKept, Math.floor(0.1 * n + 1e-6));
  assert.equal(atlas.alwaysPerturbedSize, model.variables.reduce((s, v) => s + v.size, 0) - n);
  fsam.dispose();
  model.dispose();
});

test("BERT: the evaluator matches model.loss, the 2-D grid centre equals it, no tensors leak", async () => {
  const model = createBertClassifier(CONFIG, { numLabels: 2, seed: 2, scope: "landbert" });
  const batches = [batch(3), batch(4, 2)];
  const evaluate = sequenceModelEvaluator(model, batches);
  const direct = batches.map((b) => tf.tidy(() => model.loss(b, { training: false }).dataSync()[0]));
  const expected = (direct[0] * 4 + direct[1] * 2) / 6;
  const e = evaluate();
  assert.ok(Math.abs(e.loss.dataSync()[0] - expected) < 1e-5, `${e.loss.dataSync()[0]} vs ${expected}`);
  tf.dispose([e.loss, e.accuracy!]);
  const d = [await randomDirection(model.variables, { seed: 1 }), await randomDirection(model.variables, { seed: 2 })] as const;
  await landscape2D(model.variables, evaluate, d, { points: 2 });
  const n0 = tf.memory().numTensors;
  const res = await landscape2D(model.variables, evaluate, d, { points: 3 });
  assert.equal(tf.memory().numTensors, n0);
  assert.ok(Math.abs(res.loss[1][1] - expected) < 1e-5);
  model.dispose();
});

test("BERT: auto picks exact double back-propagation; the operator is symmetric (uᵀHv = vᵀHu)", async () => {
  const model = createBertClassifier(CONFIG, { numLabels: 2, seed: 3, scope: "hvpbert" });
  const b = batch(5);
  const loss = () => model.loss(b, { training: false });
  const before = tf.memory().numTensors;
  const hvp = await createHvp(loss, model.variables, { seed: 1 });
  assert.equal(hvp.method, "double-backprop", hvp.fallbackReason);
  assert.equal(tf.memory().numTensors, before, "the auto probe leaked tensors");
  const shapes = shapesOf(model.variables);
  const u = gaussianVector(shapes, 11);
  const v = gaussianVector(shapes, 12);
  const hu = await hvp.apply(u);
  const hv = await hvp.apply(v);
  const a = await dot(u, hv);
  const c = await dot(v, hu);
  assert.ok(Math.abs(a - c) <= 1e-4 * Math.max(Math.abs(a), Math.abs(c), 1e-3), `uᵀHv ${a} vs vᵀHu ${c}`);
  [u, v, hu, hv].forEach(disposeVector);
  model.dispose();
});
