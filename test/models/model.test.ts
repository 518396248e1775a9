// Behaviour of BertForSequenceClassification: shapes, masking, dropout, gradients, scoping, memory.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import { embeddingLookup } from "../../lib/models/ops.ts";
import { hfName, scopeOf } from "../../lib/names.ts";

await tf.setBackend("cpu");

const tiny = {
  vocab_size: 40,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 32,
  max_position_embeddings: 12,
  initializer_range: 0.2,
};

function makeBatch(ids: number[][], mask: number[][], labels?: number[], types?: number[][]) {
  return {
    inputIds: tf.tensor2d(ids, undefined, "int32"),
    tokenTypeIds: tf.tensor2d(types ?? ids.map((r) => r.map(() => 0)), undefined, "int32"),
    attentionMask: tf.tensor2d(mask, undefined, "int32"),
    labels: labels ? tf.tensor1d(labels, "int32") : undefined,
  };
}

function disposeBatch(b: ReturnType<typeof makeBatch>): void {
  tf.dispose([b.inputIds, b.tokenTypeIds, b.attentionMask, ...(b.labels ? [b.labels] : [])]);
}

const ids = [
  [1, 5, 6, 7, 2, 0, 0, 0],
  [1, 9, 10, 2, 11, 12, 2, 0],
  [1, 3, 2, 0, 0, 0, 0, 0],
];
const mask: number[][] = ids.map((r) => r.map((id) => (id === 0 ? 0 : 1)));

test("logits have shape [batch, numLabels] and the variables carry Hugging Face names", () => {
  const model = createBertClassifier(tiny, { numLabels: 5, seed: 1 });
  const batch = makeBatch(ids, mask);
  try {
    const logits = model.logits(batch);
    assert.deepEqual(logits.shape, [3, 5]);
    logits.dispose();
    const names = model.variables.map((v) => v.name);
    assert.equal(names.length, 5 + 16 * 2 + 2 + 2);
    for (const expected of [
      "bert.embeddings.word_embeddings.weight",
      "bert.embeddings.LayerNorm.weight",
      "bert.encoder.layer.1.attention.self.query.weight",
      "bert.encoder.layer.1.attention.output.LayerNorm.bias",
      "bert.encoder.layer.0.intermediate.dense.weight",
      "bert.pooler.dense.weight",
      "classifier.weight",
      "classifier.bias",
    ]) {
      assert.ok(names.includes(expected), `missing variable ${expected}`);
    }
    assert.deepEqual(model.variable("bert.encoder.layer.0.intermediate.dense.weight").shape, [32, 16]);
    assert.deepEqual(model.variable("classifier.weight").shape, [5, 16]);
    assert.equal(model.parameterCount(), model.variables.reduce((n, v) => n + v.size, 0));
  } finally {
    disposeBatch(batch);
    model.dispose();
  }
});

test("padded positions do not influence the logits", () => {
  const model = createBertClassifier(tiny, { numLabels: 3, seed: 2 });
  const a = makeBatch(ids, mask);
  // Same real tokens; different ids and segment ids at every padded position.
  const otherIds = ids.map((r, i) => r.map((id, j) => (mask[i][j] ? id : 30 + j)));
  const otherTypes = ids.map((r, i) => r.map((_, j) => (mask[i][j] ? 0 : 1)));
  const b = makeBatch(otherIds, mask, undefined, otherTypes);
  // Control: the same change without the mask changes the logits.
  const c = makeBatch(otherIds, ids.map((r) => r.map(() => 1)), undefined, otherTypes);
  try {
    const la = model.logits(a).arraySync();
    const lb = model.logits(b).arraySync();
    const lc = model.logits(c).arraySync();
    for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) assert.ok(Math.abs(la[i][k] - lb[i][k]) < 1e-6);
    const diff = Math.max(...la.flatMap((r, i) => r.map((x, k) => Math.abs(x - lc[i][k]))));
    assert.ok(diff > 1e-3, `unmasked control should differ, max diff ${diff}`);
  } finally {
    [a, b, c].forEach(disposeBatch);
    model.dispose();
  }
});

test("dropout is off in evaluation and on, seeded, in training", () => {
  const run = (seed: number) => {
    const model = createBertClassifier(tiny, { numLabels: 2, seed });
    const batch = makeBatch(ids, mask);
    try {
      const evalA = model.logits(batch).arraySync();
      const evalB = model.logits(batch).arraySync();
      const trainA = model.logits(batch, { training: true }).arraySync();
      const trainB = model.logits(batch, { training: true }).arraySync();
      return { evalA, evalB, trainA, trainB };
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  };
  const r = run(7);
  assert.deepEqual(r.evalA, r.evalB);
  assert.notDeepEqual(r.trainA, r.evalA);
  assert.notDeepEqual(r.trainA, r.trainB);
  // Same seed, same dropout masks.
  const again = run(7);
  assert.deepEqual(again.trainA, r.trainA);
  assert.deepEqual(again.trainB, r.trainB);
});

test("gradients reach every variable; unused embedding rows get exactly zero", () => {
  const model = createBertClassifier(tiny, { numLabels: 3, seed: 3 });
  const batch = makeBatch(ids, mask, [0, 2, 1]);
  try {
    const { value, grads } = tf.variableGrads(() => model.loss(batch), model.variables);
    value.dispose();
    assert.equal(Object.keys(grads).length, model.variables.length);
    for (const v of model.variables) {
      const g = grads[v.name].dataSync();
      assert.ok(g.every(Number.isFinite), `${v.name}: non-finite gradient`);
      assert.ok(g.some((x) => x !== 0), `${v.name}: gradient is all zero`);
    }
    const word = grads["bert.embeddings.word_embeddings.weight"].arraySync() as number[][];
    // Only tokens at attended positions influence the loss: the pad id 0 and position 7 never are.
    const attended = new Set(ids.flatMap((r, i) => r.filter((_, j) => mask[i][j] === 1)));
    assert.ok(!attended.has(0));
    for (let r = 0; r < tiny.vocab_size; r++) {
      const nonzero = word[r].some((x) => x !== 0);
      assert.equal(nonzero, attended.has(r), `word embedding row ${r}`);
    }
    const pos = grads["bert.embeddings.position_embeddings.weight"].arraySync() as number[][];
    const longest = Math.max(...mask.map((r) => r.reduce((a, c) => a + c, 0)));
    assert.equal(longest, 7);
    for (let r = 0; r < tiny.max_position_embeddings; r++) {
      assert.equal(pos[r].some((x) => x !== 0), r < longest, `position row ${r}`);
    }
    tf.dispose(grads);
  } finally {
    disposeBatch(batch);
    model.dispose();
  }
});

test("embeddingLookup's scatter-add gradient equals tf.gather's own gradient", () => {
  const table = tf.randomNormal([6, 3], 0, 1, "float32", 5);
  const rowIds = tf.tensor1d([4, 1, 4, 0, 4], "int32");
  const weights = tf.randomNormal([5, 3], 0, 1, "float32", 6);
  const mine = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embeddingLookup(t as tf.Tensor2D, rowIds), weights)))(table);
  const theirs = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, rowIds), weights)))(table);
  assert.deepEqual(mine.arraySync(), theirs.arraySync());
  assert.deepEqual(embeddingLookup(table as tf.Tensor2D, rowIds).arraySync(), tf.gather(table, rowIds).arraySync());
  tf.dispose([table, rowIds, weights, mine, theirs]);
});

test("two models coexist under different scopes, and dispose frees the names", () => {
  const a = createBertClassifier(tiny, { numLabels: 2, seed: 1 });
  const b = createBertClassifier(tiny, { numLabels: 2, seed: 2 });
  const c = createBertClassifier(tiny, { numLabels: 2, seed: 1, scope: "teacher" });
  const batch = makeBatch(ids, mask);
  try {
    assert.equal(a.scope, "");
    assert.equal(b.scope, "m2");
    assert.equal(c.scope, "teacher");
    assert.equal(b.variables[0].name, "m2/bert.embeddings.word_embeddings.weight");
    assert.equal(hfName(c.variables.at(-1)!.name), "classifier.bias");
    assert.equal(scopeOf(c.variables.at(-1)!.name), "teacher");
    // Same seed, same weights, whatever the scope.
    assert.deepEqual(a.logits(batch).arraySync(), c.logits(batch).arraySync());
    assert.notDeepEqual(a.logits(batch).arraySync(), b.logits(batch).arraySync());
    assert.throws(
      () => createBertClassifier(tiny, { scope: "teacher" }),
      /variable "teacher\/bert\.embeddings\.word_embeddings\.weight" already exists/,
    );
    a.dispose();
    const d = createBertClassifier(tiny, { numLabels: 2 });
    assert.equal(d.scope, "");
    d.dispose();
    assert.throws(() => a.logits(batch), /disposed/);
  } finally {
    disposeBatch(batch);
    [a, b, c].forEach((m) => m.dispose());
  }
});

test("the tensor count stays flat across training steps", () => {
  const model = createBertClassifier(tiny, { numLabels: 3, seed: 4 });
  const batch = makeBatch(ids, mask, [1, 0, 2]);
  const optimizer = tf.train.adam(1e-3);
  try {
    const step = () => {
      const loss = optimizer.minimize(() => model.loss(batch, { training: true }), true, model.variables);
      const value = loss!.dataSync()[0];
      loss!.dispose();
      tf.tidy(() => void model.logits(batch).dataSync());
      return value;
    };
    const first = step();
    const count = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 4; i++) {
      last = step();
      assert.equal(tf.memory().numTensors, count, `step ${i + 2} leaked tensors`);
    }
    assert.ok(Number.isFinite(last));
  } finally {
    optimizer.dispose();
    disposeBatch(batch);
    model.dispose();
  }
});

test("training lowers the loss on a small batch", () => {
  const model = createBertClassifier({ ...tiny, initializer_range: 0.02 }, { numLabels: 3, seed: 5 });
  const batch = makeBatch(ids, mask, [1, 0, 2]);
  const optimizer = tf.train.adam(1e-2);
  try {
    const before = model.loss(batch).dataSync()[0];
    for (let i = 0; i < 15; i++) optimizer.minimize(() => model.loss(batch), false, model.variables);
    const after = model.loss(batch).dataSync()[0];
    assert.ok(after < before * 0.8, `loss ${before} → ${after}`);
  } finally {
    optimizer.dispose();
    disposeBatch(batch);
    model.dispose();
  }
});

test("reduction 'none' gives per-example losses computed here from the logits (classification and regression)", () => {
  for (const [numLabels, labels] of [[3, [1, 0, 2]], [1, [0.5, -1, 2]]] as const) {
    const model = createBertClassifier(tiny, { numLabels, seed: 4 });
    const batch = makeBatch(ids, mask, [...labels]);
    if (numLabels === 1) batch.labels = tf.tensor1d([...labels], "float32");
    try {
      const z = model.logits(batch).arraySync() as number[][];
      const expected = z.map((row, i) =>
        numLabels === 1 ? (row[0] - labels[i]) ** 2 : Math.log(row.reduce((s, x) => s + Math.exp(x), 0)) - row[labels[i]],
      );
      const perExample = model.loss(batch, { reduction: "none" });
      assert.deepEqual(perExample.shape, [3]);
      const values = [...perExample.dataSync()];
      values.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-5, `example ${i}: ${x} vs ${expected[i]}`));
      const mean = model.loss(batch).dataSync()[0];
      assert.ok(Math.abs(mean - expected.reduce((s, x) => s + x, 0) / 3) < 1e-5);
      perExample.dispose();
      assert.throws(() => model.loss(batch, { reduction: "sum" as never }), /reduction must be "mean" or "none", got sum/);
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  }
});

test("bad inputs give clear errors", () => {
  const model = createBertClassifier({ ...tiny, max_position_embeddings: 4 }, { numLabels: 2 });
  const batch = makeBatch(ids, mask);
  try {
    assert.throws(() => model.logits(batch), /sequence length 8 exceeds max_position_embeddings \(4\)/);
    assert.throws(() => model.loss(batch), /needs batch.labels/);
    assert.throws(() => createBertClassifier(tiny, { numLabels: 0 }), /numLabels must be a positive integer, got 0/);
  } finally {
    disposeBatch(batch);
    model.dispose();
  }
});
