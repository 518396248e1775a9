// The building blocks of the BERT forward pass against their formulas, evaluated in plain JS.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { activate, additiveAttentionMask, dropout, layerNorm, linear, MASKED_SCORE } from "../../lib/models/ops.ts";
import { dropoutMultiplier } from "../../lib/models/dropout-mask.ts";

await tf.setBackend("cpu");

const xs = [-4, -1.5, -0.3, 0, 0.2, 1, 2.5, 6];

function close(actual: ArrayLike<number>, expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test("activations follow their Hugging Face definitions", () => {
  const x = tf.tensor1d(xs);
  // Exact GELU x·Φ(x); Φ from a trapezoid integration of the normal density (independent of erf).
  const phi = (z: number) => {
    const n = 20000;
    const lo = -12;
    const h = (z - lo) / n;
    let s = 0;
    for (let i = 0; i <= n; i++) s += (i === 0 || i === n ? 0.5 : 1) * Math.exp(-((lo + i * h) ** 2) / 2);
    return (s * h) / Math.sqrt(2 * Math.PI);
  };
  close(activate(x, "gelu").dataSync(), xs.map((v) => v * phi(v)), 2e-6, "gelu");
  const tanhGelu = xs.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
  close(activate(x, "gelu_new").dataSync(), tanhGelu, 2e-6, "gelu_new");
  close(activate(x, "gelu_pytorch_tanh").dataSync(), tanhGelu, 2e-6, "gelu_pytorch_tanh");
  close(activate(x, "relu").dataSync(), xs.map((v) => Math.fround(Math.max(0, v))), 0, "relu");
  x.dispose();
});

test("layerNorm normalises the last axis with a biased variance, then scales and shifts", () => {
  const rows = [
    [1, 2, 3, 4],
    [10, -10, 5, 0.5],
  ];
  const gamma = [1, 0.5, 2, -1];
  const beta = [0, 1, -1, 0.25];
  const eps = 1e-5;
  const got = layerNorm(tf.tensor2d(rows), tf.tensor1d(gamma), tf.tensor1d(beta), eps).dataSync();
  const want = rows.flatMap((r) => {
    const m = r.reduce((a, c) => a + c, 0) / r.length;
    const v = r.reduce((a, c) => a + (c - m) ** 2, 0) / r.length;
    return r.map((c, i) => ((c - m) / Math.sqrt(v + eps)) * gamma[i] + beta[i]);
  });
  close(got, want, 1e-5, "layerNorm");
});

test("linear uses the [out, in] weight layout", () => {
  const x = [
    [1, 2, 3],
    [-1, 0, 0.5],
  ];
  const w = [
    [1, 0, -1],
    [2, 1, 0],
  ];
  const b = [0.5, -2];
  const got = linear(tf.tensor2d(x), tf.tensor2d(w), tf.tensor1d(b)).dataSync();
  const want = x.flatMap((r) => w.map((wr, o) => wr.reduce((a, c, i) => a + c * r[i], b[o])));
  close(got, want, 1e-6, "linear");
});

test("additive attention mask: 0 where attended, float32's lowest value where masked", () => {
  const mask = additiveAttentionMask(tf.tensor2d([[1, 1, 0], [1, 0, 0]], undefined, "int32"));
  assert.deepEqual(mask.shape, [2, 1, 1, 3]);
  assert.deepEqual([...mask.dataSync()].map((v) => v + 0), [0, 0, MASKED_SCORE, 0, MASKED_SCORE, MASKED_SCORE]);
  assert.equal(Math.fround(MASKED_SCORE), -3.4028234663852886e38);
});

test("dropout multiplies by the seed's hashed mask: its values, gradient, keep rate and independence", () => {
  for (const [shape, rate, seed] of [[[7, 13], 0.1, 0], [[3, 5, 11], 0.37, 12345], [[4096], 0.5, 2 ** 31 - 5], [[1], 0.9, 42], [[2, 64], 1e-4, 9]] as [number[], number, number][]) {
    const x = tf.add(tf.randomNormal(shape, 0, 1, "float32", seed + 1), 0.5);
    const mask = dropoutMultiplier(x.size, rate, seed);
    const scale = Math.fround(1 / Math.fround(1 - rate));
    assert.ok(mask.every((m) => m === 0 || m === scale), `multipliers are 0 or float32(1/(1−rate)), rate ${rate}`);
    const expected = tf.mul(x, tf.tensor(mask, shape));
    const got = dropout(x, rate, seed);
    assert.deepEqual(got.shape, shape);
    assert.deepEqual([...got.dataSync()], [...expected.dataSync()], `rate ${rate} seed ${seed}`);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(dropout(t, rate, seed))))(x);
    const gExpected = tf.mul(tf.mul(expected, 2), tf.tensor(mask, shape));
    assert.deepEqual([...g.dataSync()], [...gExpected.dataSync()], `gradient, rate ${rate} seed ${seed}`);
    tf.dispose([x, expected, got, g, gExpected]);
  }
  // Keep rate within 5 standard deviations; masks of neighbouring seeds and neighbouring elements independent.
  const n = 1 << 20;
  for (const rate of [0.1, 0.5]) {
    const a = dropoutMultiplier(n, rate, 7);
    const b = dropoutMultiplier(n, rate, 8);
    let dropped = 0, both = 0, pairs = 0;
    for (let i = 0; i < n; i++) {
      if (a[i] === 0) dropped++;
      if (a[i] === 0 && b[i] === 0) both++;
      if (i > 0 && a[i] === 0 && a[i - 1] === 0) pairs++;
    }
    const sd = (p: number) => 5 * Math.sqrt(p * (1 - p) / n);
    assert.ok(Math.abs(dropped / n - rate) < sd(rate), `rate ${rate}: dropped ${dropped / n}`);
    assert.ok(Math.abs(both / n - rate * rate) < sd(rate * rate), `rate ${rate}: seeds 7 and 8 both drop ${both / n}`);
    assert.ok(Math.abs(pairs / n - rate * rate) < sd(rate * rate), `rate ${rate}: neighbours both dropped ${pairs / n}`);
  }
  const x = tf.ones([5]);
  assert.equal(dropout(x, 0, 3), x, "rate 0 is the identity");
  x.dispose();
  assert.throws(() => dropoutMultiplier(4, 1, 0), /dropout rate must be in \(0, 1\), got 1/);
});
