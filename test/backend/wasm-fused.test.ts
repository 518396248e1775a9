// The fused wasm kernels (lib/backend/wasm-fused.ts): the AdamW update against AdamW's op chain on
// the same backend (weights and both moments bit for bit over several steps, for decoupled decay, L2
// decay and undecayed variables, odd sizes, zero and huge gradients) and the dropout mask against its
// JavaScript reference (every size mod 4, rates, seeds); the kernels are only used where registered;
// nothing leaks.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { mulberry32 } from "../../lib/random.ts";
import { instantiateSimdKernels, wasmBackendMemory } from "../../lib/backend/wasm-simd.ts";
import { ADAMW_UPDATE } from "../../lib/backend/wasm-adamw.ts";
import { DROPOUT_MASK } from "../../lib/backend/wasm-dropout-mask.ts";
import { hasFusedKernel, registerFusedKernels, unregisterFusedKernels } from "../../lib/backend/wasm-fused.ts";
import { dropoutMask, dropoutMultiplier } from "../../lib/models/dropout-mask.ts";
import { AdamW, type AdamWOptions } from "../../lib/train/adamw.ts";

await tf.setBackend("wasm");
const kernels = await instantiateSimdKernels(wasmBackendMemory());

function randomValues(size: number, seed: number, scale = 1): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: size }, () => (random() * 2 - 1) * scale);
}

/** Runs `steps` AdamW steps on fresh variables and returns weights and moments as arrays. */
function run(options: AdamWOptions, fused: boolean, steps = 4): { weights: Float32Array[]; moments: Float32Array[] } {
  if (fused) registerFusedKernels(kernels);
  else unregisterFusedKernels();
  assert.equal(hasFusedKernel(ADAMW_UPDATE), fused);
  const shapes = [[7, 13], [1], [333], [5, 3, 2]];
  const names = ["case/dense.weight", "case/dense.bias", "case/LayerNorm.weight", "case/other.weight"];
  const vars = shapes.map((s, i) => tf.tidy(() => tf.variable(tf.tensor(randomValues(s.reduce((p, d) => p * d, 1), i + 1), s), true, `${names[i]}/${fused}`)));
  const optimizer = new AdamW(options);
  for (let step = 0; step < steps; step++) {
    const grads = vars.map((v, i) => {
      const values = randomValues(v.size, 100 * step + i, step === 2 ? 1e20 : 1e-2);
      if (step === 1) values.fill(0, 0, Math.floor(v.size / 2));
      return { name: v.name, tensor: tf.tensor(values, v.shape) };
    });
    optimizer.learningRate = 1e-3 * (step + 1);
    optimizer.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
  }
  const moments = [...(optimizer as unknown as { moments: Map<string, { m: tf.Variable; v: tf.Variable }> }).moments.values()]
    .flatMap(({ m, v }) => [m.dataSync() as Float32Array, v.dataSync() as Float32Array]);
  const weights = vars.map((v) => v.dataSync() as Float32Array);
  optimizer.dispose();
  tf.dispose(vars);
  return { weights, moments };
}

for (const [label, options] of [
  ["decoupled weight decay", { weightDecay: 0.01 }],
  ["L2 weight decay", { weightDecay: 0.01, weightDecayMode: "l2" }],
  ["no weight decay, other betas and epsilon", { beta1: 0.8, beta2: 0.95, epsilon: 1e-8 }],
] as [string, AdamWOptions][]) {
  test(`fused wasm AdamW equals the op chain bit for bit: ${label}`, () => {
    const before = tf.memory().numTensors;
    const chain = run(options, false);
    const fused = run(options, true);
    for (const [i, w] of chain.weights.entries()) assert.deepEqual(fused.weights[i], w, `weights of variable ${i}`);
    for (const [i, m] of chain.moments.entries()) assert.deepEqual(fused.moments[i], m, `moment ${i}`);
    assert.ok(chain.weights.some((w, i) => w.some((x, j) => x !== randomValues(w.length, i + 1)[j])), "the steps changed the weights");
    assert.equal(tf.memory().numTensors, before, "no tensor leaked");
  });
}

test("the fused kernels are registered for wasm only: other backends keep the op chain", async () => {
  registerFusedKernels(kernels);
  assert.ok(hasFusedKernel(ADAMW_UPDATE) && hasFusedKernel(DROPOUT_MASK));
  await tf.setBackend("cpu");
  try {
    assert.equal(hasFusedKernel(ADAMW_UPDATE), false);
    assert.equal(hasFusedKernel(DROPOUT_MASK), false);
    const w = tf.tidy(() => tf.variable(tf.tensor([1, 2, 3]), true, "cpu-case/dense.weight"));
    const optimizer = new AdamW({ learningRate: 0.1 });
    optimizer.applyGradients([{ name: w.name, tensor: tf.tensor([1, -1, 0]) }]);
    // First Adam step: w − lr·sign(g) where g ≠ 0 (m/c1 ÷ √(v/c2) = ±1 up to ε).
    const got = w.dataSync();
    assert.ok(Math.abs(got[0] - 0.9) < 1e-6 && Math.abs(got[1] - 2.1) < 1e-6 && got[2] === 3, String(got));
    optimizer.dispose();
    w.dispose();
  } finally {
    await tf.setBackend("wasm");
const kernels = await instantiateSimdKernels(wasmBackendMemory());
  }
});

test("fused wasm dropout mask equals the JavaScript reference for every size mod 4, rates and seeds", () => {
  registerFusedKernels(kernels);
  const before = tf.memory().numTensors;
  for (const [shape, rate, seed] of [[[1], 0.1, 0], [[2, 3], 0.5, 1], [[3, 5, 7], 0.37, 2 ** 31 - 1], [[4096, 33], 0.1, 123456], [[1027], 1e-4, 9], [[64], 0.999, 5]] as [number[], number, number][]) {
    const mask = dropoutMask(shape, rate, seed);
    assert.deepEqual(mask.shape, shape);
    assert.deepEqual(mask.dataSync(), dropoutMultiplier(mask.size, rate, seed), `shape ${shape} rate ${rate} seed ${seed}`);
    mask.dispose();
  }
  assert.equal(tf.memory().numTensors, before, "no tensor leaked");
});

/** erfc(u) for u ≥ 0 in float64: the Taylor series of erf below 2.5, the continued fraction above. */
function erfc64(u: number): number {
  if (u < 2.5) {
    let term = u, sum = u;
    for (let n = 1; n < 80; n++) {
      term *= (-u * u) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  let k = u;
  for (let n = 80; n >= 1; n--) k = u + n / 2 / k;
  return Math.exp(-u * u) / (Math.sqrt(Math.PI) * k);
}
const normalCdf = (x: number) => (x >= 0 ? 1 - 0.5 * erfc64(x / Math.SQRT2) : 0.5 * erfc64(-x / Math.SQRT2));
const normalPdf = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);

test("fused wasm GELU: forward, gradient and second derivative against float64, every size mod 4", async () => {
  const { activate } = await import("../../lib/models/ops.ts");
  registerFusedKernels(kernels);
  const before = tf.memory().numTensors;
  const values = Float32Array.from({ length: 24003 }, (_, i) => -12 + (24 * i) / 24002);
  for (const n of [1, 2, 3, 5, values.length]) {
    const x = tf.tensor(values.subarray(values.length - n));
    const y = tf.tidy(() => activate(x, "gelu").dataSync());
    const dy = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(activate(t, "gelu")))(x).dataSync());
    const d2y = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.grad((s: tf.Tensor) => tf.sum(activate(s, "gelu")))(t)))(x).dataSync());
    const xs = x.dataSync();
    for (let i = 0; i < n; i++) {
      const v = xs[i];
      const want = v * normalCdf(v);
      const rel = Math.abs(y[i] - want) / Math.abs(want);
      assert.ok(want === 0 ? y[i] === 0 : rel < (v >= -3 ? 2e-6 : 2e-5), `GELU(${v}) = ${y[i]}, want ${want}`);
      const slope = normalCdf(v) + v * normalPdf(v);
      assert.ok(Math.abs(dy[i] - slope) < 5e-7, `GELU′(${v}) = ${dy[i]}, want ${slope}`);
      const curvature = normalPdf(v) * (2 - v * v);
      assert.ok(Math.abs(d2y[i] - curvature) < 2e-6, `GELU″(${v}) = ${d2y[i]}, want ${curvature}`);
    }
    x.dispose();
  }
  assert.equal(tf.memory().numTensors, before, "no tensor leaked");
});

test("fused squared norm equals the float64 sum of squares; fused perturbed weights equal the op chain bit for bit", async () => {
  const { perturbedWeights, squaredNorm } = await import("../../lib/backend/fused-ops.ts");
  const before = tf.memory().numTensors;
  const run = () => [1, 3, 4, 7, 1001, 65539].map((n) => tf.tidy(() => {
    const values = randomValues(n, n, 10);
    const w = tf.tensor(randomValues(n, n + 1));
    const g = tf.tensor(values);
    const mask = tf.tensor(randomValues(n, n + 2).map((x) => (x > 0 ? 1 : 0)));
    const scale = tf.scalar(0.05 / 3.7);
    return {
      n,
      exact: values.reduce((s, x) => s + x * x, 0),
      norm: squaredNorm(g).dataSync()[0],
      masked: perturbedWeights(w, g, scale, mask).dataSync(),
      full: perturbedWeights(w, g, scale).dataSync(),
    };
  }));
  registerFusedKernels(kernels);
  const fused = run();
  unregisterFusedKernels();
  const chain = run();
  registerFusedKernels(kernels);
  for (const [i, f] of fused.entries()) {
    assert.ok(Math.abs(f.norm - f.exact) <= 6e-8 * f.exact, `n ${f.n}: Σx² ${f.norm} vs ${f.exact}`);
    assert.ok(Math.abs(chain[i].norm - f.exact) <= 1e-5 * f.exact, `n ${f.n}: the op chain's Σx² ${chain[i].norm}`);
    assert.deepEqual(f.masked, chain[i].masked, `n ${f.n}: masked perturbation`);
    assert.deepEqual(f.full, chain[i].full, `n ${f.n}: full perturbation`);
  }
  assert.equal(tf.memory().numTensors, before, "no tensor leaked");
});

test("finiteProbe is finite exactly when every element is, fused and not", async () => {
  const { finiteProbe } = await import("../../lib/backend/fused-ops.ts");
  for (const fused of [true, false]) {
    if (fused) registerFusedKernels(kernels);
    else unregisterFusedKernels();
    for (const [values, finite] of [[[1, -2, 3, 4, 5], true], [[1, NaN, 3, 4, 5], false], [[1, 2, 3, 4, -Infinity], false], [[Infinity, 1], false]] as [number[], boolean][]) {
      const probe = tf.tidy(() => finiteProbe(tf.tensor(values)).dataSync()[0]);
      assert.equal(Number.isFinite(probe), finite, `${fused ? "fused" : "op chain"}: [${values}] → ${probe}`);
    }
  }
  registerFusedKernels(kernels);
});
