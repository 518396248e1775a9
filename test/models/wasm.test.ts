// The model on the wasm backend (which lacks tf.gather's gradient kernel): same logits as on cpu,
// and a training step that updates every variable.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend.ts";
import { createBertClassifier } from "../../lib/models/classifier.ts";

const config = {
  vocab_size: 50,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 16,
  initializer_range: 0.2,
};

test("wasm gives the cpu logits and trains every variable", async () => {
  await tf.setBackend("cpu");
  const model = createBertClassifier(config, { numLabels: 2, seed: 8 });
  const ids = [
    [1, 4, 9, 16, 2, 0],
    [1, 7, 2, 25, 36, 2],
  ];
  const batch = () => ({
    inputIds: tf.tensor2d(ids, undefined, "int32"),
    tokenTypeIds: tf.tensor2d([[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]], undefined, "int32"),
    attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], undefined, "int32"),
    labels: tf.tensor1d([1, 0], "int32"),
  });
  try {
    const cpuBatch = batch();
    const onCpu = model.logits(cpuBatch).arraySync();
    await initBackend({ backend: "wasm" });
    assert.equal(tf.getBackend(), "wasm");
    const b = batch();
    const onWasm = model.logits(b).arraySync();
    for (let i = 0; i < 2; i++) for (let k = 0; k < 2; k++) assert.ok(Math.abs(onCpu[i][k] - onWasm[i][k]) < 1e-4, `${onCpu} vs ${onWasm}`);
    const before = model.variables.map((v) => v.dataSync().slice());
    const optimizer = tf.train.sgd(0.1);
    optimizer.minimize(() => model.loss(b, { training: true }), false, model.variables);
    optimizer.dispose();
    model.variables.forEach((v, i) => {
      const after = v.dataSync();
      assert.ok(after.some((x, j) => x !== before[i][j]), `${v.name} did not change`);
    });
  } finally {
    model.dispose();
  }
});
