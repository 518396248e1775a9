// Tensor batches (shapes, dtypes, per-batch padding, seeded shuffling, no tensor leaks), the PRNG,
// and stratified low-resource sampling.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { Example } from "../../lib/types.ts";
import { batches, encodeExamples } from "../../lib/data/batches.ts";
import { sampleLowResource } from "../../lib/data/sampling.ts";
import { mulberry32, shuffled } from "../../lib/random.ts";
import { BertTokenizer } from "../../lib/data/tokenizer.ts";

await tf.setBackend("cpu");

const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e", "##s", "."];
const tok = new BertTokenizer(vocab);
/** Example i has i % 4 + 1 words, so sequence lengths differ. */
const examples: Example[] = Array.from({ length: 10 }, (_, i) => ({ textA: "a b c d e".split(" ").slice(0, (i % 4) + 1).join(" "), label: i % 3 }));

test("mulberry32 is deterministic, in [0, 1), and seeds differ", () => {
  const a = mulberry32(7);
  const b = mulberry32(7);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.notDeepEqual(Array.from({ length: 5 }, mulberry32(8)), xs.slice(0, 5));
  const perm = shuffled([...Array(50).keys()], mulberry32(1));
  assert.deepEqual([...perm].sort((x, y) => x - y), [...Array(50).keys()]);
  assert.notDeepEqual(perm, [...Array(50).keys()]);
});

test("batches: shapes, dtypes, padding to each batch's longest, drop-last", () => {
  const it = batches(examples, tok, { batchSize: 4, maxLength: 16 });
  assert.equal(it.length, 3);
  const seen: number[][] = [];
  for (const [k, b] of [...it].entries()) {
    const chunk = examples.slice(k * 4, k * 4 + 4);
    const longest = Math.max(...chunk.map((e) => e.textA.split(" ").length)) + 2; // + [CLS] [SEP]
    assert.deepEqual(b.inputIds.shape, [chunk.length, longest]);
    assert.equal(b.inputIds.dtype, "int32");
    assert.equal(b.tokenTypeIds.dtype, "int32");
    assert.equal(b.attentionMask.dtype, "int32");
    assert.equal(b.labels!.dtype, "int32");
    assert.deepEqual(Array.from(b.labels!.dataSync()), chunk.map((e) => e.label));
    const mask = b.attentionMask.arraySync();
    mask.forEach((row, i) => assert.equal(row.reduce((s, x) => s + x, 0), chunk[i]!.textA.split(" ").length + 2));
    seen.push(...(b.inputIds.arraySync() as number[][]));
    tf.dispose(Object.values(b));
  }
  assert.deepEqual(seen[0]!.slice(0, 3), [2, 5, 3]);
  assert.equal(batches(examples, tok, { batchSize: 4, dropLast: true }).length, 2);
  assert.equal([...batches(examples, tok, { batchSize: 5, dropLast: true })].map((b) => (tf.dispose(Object.values(b)), 0)).length, 2);
  assert.throws(() => batches(examples, tok, { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
});

test("batches: seeded shuffle is a reproducible permutation; maxLength truncates", () => {
  const order = (seed: number) => batches(examples, tok, { batchSize: 3, shuffle: true, seed }).examples;
  assert.deepEqual(order(3), order(3));
  assert.notDeepEqual(order(3), order(4));
  assert.deepEqual([...order(3)].sort((x, y) => examples.indexOf(x) - examples.indexOf(y)), examples);
  const b = encodeExamples([{ textA: "a b c d e", textB: "a b c", label: 1 }], tok, { maxLength: 6 });
  // Budget 6 − 3 = 3, remove 5: A 5→4→3 (longer), tie 3=3 → B 3→2, A 3→2 (longer), tie 2=2 → B 2→1.
  assert.deepEqual(b.inputIds.arraySync(), [[2, 5, 6, 3, 5, 3]]);
  assert.deepEqual(b.tokenTypeIds.arraySync(), [[0, 0, 0, 0, 1, 1]]);
  tf.dispose(Object.values(b));
});

test("batches: float32 regression targets, and no tensors left behind", () => {
  const reg = examples.map((e, i) => ({ ...e, label: i / 2 }));
  const before = tf.memory().numTensors;
  for (const b of batches(reg, tok, { batchSize: 4 })) {
    assert.equal(b.labels!.dtype, "float32");
    tf.dispose(Object.values(b));
  }
  const [first] = batches(examples, tok, { batchSize: 4, task: "stsb" });
  assert.equal(first!.labels!.dtype, "float32");
  assert.deepEqual(Array.from(first!.labels!.dataSync()), [0, 1, 2, 0]);
  tf.dispose(Object.values(first!));
  const [unlabeled] = batches(examples, tok, { batchSize: 4, labels: false });
  assert.equal(unlabeled!.labels, undefined);
  tf.dispose(Object.values(unlabeled!));
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => encodeExamples([{ textA: "a", label: -1 }], tok, { regression: false }), /class label -1/);
});

/** 100 examples: 60 of class 0, 30 of class 1, 10 of class 2. */
const pool: Example[] = Array.from({ length: 100 }, (_, i) => ({ textA: `x${i}`, label: i < 60 ? 0 : i < 90 ? 1 : 2, idx: i }));

test("sampleLowResource: k per class, deterministic by seed, original order", () => {
  const s = sampleLowResource(pool, { perClass: 8, seed: 1 });
  assert.equal(s.length, 24);
  assert.deepEqual([0, 1, 2].map((c) => s.filter((e) => e.label === c).length), [8, 8, 8]);
  assert.deepEqual(s, sampleLowResource(pool, { perClass: 8, seed: 1 }));
  assert.notDeepEqual(s, sampleLowResource(pool, { perClass: 8, seed: 2 }));
  const idx = s.map((e) => e.idx!);
  assert.deepEqual(idx, [...idx].sort((a, b) => a - b));
  assert.equal(new Set(idx).size, 24);
  assert.throws(() => sampleLowResource(pool, { perClass: 11, seed: 1 }), /class 2 has only 10 examples, fewer than the 11 asked for/);
});

test("sampleLowResource: n in total keeps class proportions (largest remainder)", () => {
  // 25 × (0.6, 0.3, 0.1) = (15, 7.5, 2.5) → floors (15, 7, 2), one left → class 1 (remainder .5 ties class 2, smaller id wins).
  const s = sampleLowResource(pool, { total: 25, seed: 3 });
  assert.deepEqual([0, 1, 2].map((c) => s.filter((e) => e.label === c).length), [15, 8, 2]);
  const all = sampleLowResource(pool, { total: 100, seed: 3 });
  assert.deepEqual(all, pool);
  const reg = pool.map((e, i) => ({ ...e, label: i + 0.5 }));
  assert.equal(sampleLowResource(reg, { total: 7, seed: 0 }).length, 7);
  assert.throws(() => sampleLowResource(reg, { perClass: 2, seed: 0 }), /real-valued; use total/);
  assert.throws(() => sampleLowResource(pool, { total: 101, seed: 0 }), /total 101 is more than the 100 examples/);
  assert.throws(() => sampleLowResource(pool, { seed: 0 }), /exactly one of perClass and total/);
  assert.throws(() => sampleLowResource(pool, { total: 5, perClass: 1, seed: 0 }), /exactly one of perClass and total/);
  assert.throws(() => sampleLowResource(pool, { total: 2.5, seed: 0 }), /total must be a non-negative integer, got 2.5/);
});
