/**
 * The counter-based generator (Philox4x32-10 keyed by SplitMix64) behind every random vector of the
 * inspection tools, and the statistics of the estimators that use it.
 */
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { gaussianArray, mixSeed, philox4x32, rademacherArray, uniformArray } from "../../lib/counter-random.ts";
import { deriveSeed, gaussianVector, rademacherVector } from "../../lib/inspect/param-vector.ts";
import { hessianTraceEstimate } from "../../lib/inspect/hessian.ts";
import { namedVariables, quadraticLoss, withSpectrum } from "./quadratic.ts";

await tf.setBackend("cpu");

const hex = (a: Uint32Array) => [...a].map((x) => x.toString(16).padStart(8, "0")).join(" ");

test("Philox4x32-10 reproduces the Random123 known-answer vectors", () => {
  assert.equal(hex(philox4x32([0, 0, 0, 0], [0, 0])), "6627e8d5 e169c58d bc57ac4c 9b00dbd8");
  const ones = 0xffffffff;
  assert.equal(hex(philox4x32([ones, ones, ones, ones], [ones, ones])), "408f276d 41c83b0e a20bc7c6 6d5451fd");
  assert.equal(
    hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    "d16cfe09 94fdcceb 5001e420 24126ea1",
  );
});

function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

function correlation(a: Float32Array, b: Float32Array): number {
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

test("uniform, Gaussian and Rademacher draws have the right moments", () => {
  const n = 200_000;
  const se = 1 / Math.sqrt(n);
  const u = uniformArray(n, 7);
  assert.ok(Math.abs(mean(u) - 0.5) < 4 * se * Math.sqrt(1 / 12), `uniform mean ${mean(u)}`);
  assert.ok(u.every((x) => x > 0 && x < 1));
  const g = gaussianArray(n, 7);
  const g2 = mean(g.map((x) => x * x));
  const g4 = mean(g.map((x) => x ** 4));
  assert.ok(Math.abs(mean(g)) < 4 * se, `gaussian mean ${mean(g)}`);
  assert.ok(Math.abs(g2 - 1) < 4 * se * Math.sqrt(2), `gaussian variance ${g2}`);
  assert.ok(Math.abs(g4 - 3) < 4 * se * Math.sqrt(96), `gaussian fourth moment ${g4}`);
  const r = rademacherArray(n, 7);
  assert.ok(r.every((x) => x === 1 || x === -1));
  assert.ok(Math.abs(mean(r)) < 4 * se, `rademacher mean ${mean(r)}`);
  // Odd lengths and streams work; the same (seed, stream) gives the same numbers.
  assert.deepEqual(gaussianArray(5, 3, 2), gaussianArray(5, 3, 2));
  assert.deepEqual([...rademacherArray(9, 3, 1)], [...rademacherArray(12, 3, 1).slice(0, 9)]);
});

test("nearby seeds, derived seeds and streams give uncorrelated vectors", () => {
  const n = 50_000;
  const bound = 4 / Math.sqrt(n);
  const pairs: [Float32Array, Float32Array, string][] = [
    [rademacherArray(n, 1), rademacherArray(n, 2), "seeds 1 and 2"],
    [rademacherArray(n, 1, 0), rademacherArray(n, 1, 1), "streams 0 and 1"],
    [gaussianArray(n, deriveSeed(5, 2000)), gaussianArray(n, deriveSeed(5, 2001)), "counters 2000 and 2001"],
    [gaussianArray(n, deriveSeed(5, 2000)), gaussianArray(n, deriveSeed(6, 2000)), "base seeds 5 and 6"],
  ];
  for (const [a, b, what] of pairs) {
    const c = correlation(a, b);
    assert.ok(Math.abs(c) < bound, `${what}: correlation ${c}`);
  }
  // Different base seeds give different derived seeds for every counter (the old XOR mixing did not).
  const derived = new Set<number>();
  for (let s = 1; s <= 20; s++) for (let c = 0; c < 20; c++) derived.add(mixSeed(s, 2000 + c));
  assert.equal(derived.size, 400);
  assert.throws(() => mixSeed(1.5), /seed must be a safe integer/);
});

test("Hutchinson trace over many seeds is unbiased; seeds differ; the same seed repeats", async () => {
  const eigs = [10, 5, 3, 2, 1]; // trace 21
  const exact = 21;
  const a = withSpectrum(eigs, 4);
  const vars = namedVariables([["bert.encoder.layer.0.attention.self.query.weight", [5]]], 8, "hutch");
  const loss = quadraticLoss(vars, a);
  let off = 0;
  a.forEach((row, i) => row.forEach((x, j) => (off += i === j ? 0 : x * x)));
  const perSample = 2 * off; // Var(vᵀAv) for Rademacher v
  const seeds = Array.from({ length: 150 }, (_, i) => i + 1);
  const samples = 4;
  const before = tf.memory().numTensors;
  const estimates: number[] = [];
  for (const seed of seeds) estimates.push((await hessianTraceEstimate(loss, vars, { samples, seed })).trace);
  assert.equal(tf.memory().numTensors, before, "no tensor left behind");
  const m = mean(estimates);
  const se = Math.sqrt(perSample / samples / seeds.length);
  assert.ok(Math.abs(m - exact) < 3 * se, `mean of ${seeds.length} seeds ${m} vs ${exact} (standard error ${se})`);
  // The spread over seeds is that of independent estimates (nearby seeds are not correlated).
  const variance = estimates.reduce((s, x) => s + (x - m) ** 2, 0) / (estimates.length - 1);
  const ratio = variance / (perSample / samples);
  assert.ok(ratio > 0.6 && ratio < 1.5, `variance over seeds / expected = ${ratio}`);
  assert.equal(new Set(estimates.slice(0, 10)).size, 10, "different seeds give different estimates");
  const again = await hessianTraceEstimate(loss, vars, { samples, seed: seeds[3] });
  assert.equal(again.trace, estimates[3], "the same seed gives the same estimate");
  tf.dispose(vars);
});

test("probe vectors: parts are independent streams; same seed same vector; no leak", () => {
  const shapes = [[3, 4], [7], [2, 2, 2]];
  const before = tf.memory().numTensors;
  const a = rademacherVector(shapes, 11);
  const b = rademacherVector(shapes, 11);
  const c = gaussianVector(shapes, 11);
  a.forEach((t, i) => {
    assert.deepEqual(t.shape, shapes[i]);
    assert.deepEqual(t.dataSync(), b[i].dataSync());
  });
  assert.deepEqual([...c[1].dataSync()], [...gaussianArray(7, 11, 1)]);
  tf.dispose([...a, ...b, ...c]);
  assert.equal(tf.memory().numTensors, before);
});
