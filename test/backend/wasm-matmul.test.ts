// The patched wasm BatchMatMul/_FusedMatMul kernels against (1) a float64 triple loop written here
// and (2) the cpu backend, forward and gradients, for every transpose flag, batched and broadcast
// shapes, fused bias/activations; plus no leaked tensors or wasm buffers. Each check runs on the
// XNNPACK path and, where OpenBLAS and koffi are present, again with the products on OpenBLAS.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { mulberry32 } from "../../lib/random.ts";
import { isWasmMatMulPatched, patchWasmMatMul, unpatchWasmMatMul } from "../../lib/backend/wasm-matmul.ts";
import { blasUnavailableReason, loadBlas, setBlasEnabled } from "../../lib/backend/blas.ts";

// The XNNPACK path unless a test switches OpenBLAS on.
setBlasEnabled(false);

/** Deterministic uniform(-1, 1) values (mulberry32). */
function randomValues(size: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: size }, () => random() * 2 - 1);
}

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/** op(A)·op(B) in float64 with numpy broadcasting of the batch dimensions. */
function referenceMatMul(
  a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], tA: boolean, tB: boolean,
): { values: Float64Array; shape: number[] } {
  const [ra, ca] = aShape.slice(-2);
  const [rb, cb] = bShape.slice(-2);
  const [m, k] = tA ? [ca, ra] : [ra, ca];
  const n = tB ? rb : cb;
  const batchA = aShape.slice(0, -2);
  const batchB = bShape.slice(0, -2);
  const rank = Math.max(batchA.length, batchB.length);
  const padA = [...Array(rank - batchA.length).fill(1), ...batchA];
  const padB = [...Array(rank - batchB.length).fill(1), ...batchB];
  const outBatch = padA.map((d, i) => Math.max(d, padB[i]));
  const values = new Float64Array(size(outBatch) * m * n);
  for (let flat = 0; flat < size(outBatch); flat++) {
    let rest = flat, ia = 0, ib = 0, sa = 1, sb = 1;
    for (let axis = rank - 1; axis >= 0; axis--) {
      const c = rest % outBatch[axis];
      rest = Math.floor(rest / outBatch[axis]);
      ia += (padA[axis] === 1 ? 0 : c) * sa;
      ib += (padB[axis] === 1 ? 0 : c) * sb;
      sa *= padA[axis];
      sb *= padB[axis];
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) {
          const av = a[ia * ra * ca + (tA ? p * ca + i : i * ca + p)];
          const bv = b[ib * rb * cb + (tB ? j * cb + p : p * cb + j)];
          sum += av * bv;
        }
        values[flat * m * n + i * n + j] = sum;
      }
    }
  }
  return { values, shape: [...outBatch, m, n] };
}

/** Asserts |actual − expected| ≤ 1e-4·max|expected| + 1e-6 element-wise. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const tol = 1e-4 * scale + 1e-6;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= tol)) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (tol ${tol})`);
  }
}

/** [name, aShape, bShape, transposeA, transposeB]; sizes put every case on the patched paths. */
type Case = [string, number[], number[], boolean, boolean];
const CASES: Case[] = [];
for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
  const flags = `tA=${tA} tB=${tB}`;
  const shape = (rows: number, cols: number, t: boolean) => (t ? [cols, rows] : [rows, cols]);
  CASES.push([`2-D 40x50x30 ${flags}`, shape(40, 50, tA), shape(50, 30, tB), tA, tB]);
  CASES.push([`2-D odd 33x17x29 ${flags}`, shape(33, 17, tA), shape(17, 29, tB), tA, tB]);
  CASES.push([`2-D 8x64x96 ${flags}`, shape(8, 64, tA), shape(64, 96, tB), tA, tB]);
  CASES.push([`3-D batch 3 ${flags}`, [3, ...shape(24, 32, tA)], [3, ...shape(32, 40, tB)], tA, tB]);
  CASES.push([`batch [3] x matrix ${flags}`, [3, ...shape(24, 32, tA)], shape(32, 40, tB), tA, tB]);
  CASES.push([`matrix x batch [3] ${flags}`, shape(24, 32, tA), [3, ...shape(32, 40, tB)], tA, tB]);
  CASES.push([`broadcast [2,1] x [3] ${flags}`, [2, 1, ...shape(20, 30, tA)], [3, ...shape(30, 40, tB)], tA, tB]);
  CASES.push([`broadcast [1,4] x [2,1] ${flags}`, [1, 4, ...shape(20, 30, tA)], [2, 1, ...shape(30, 40, tB)], tA, tB]);
}
CASES.push(["small 2-D (original kernel) tA tB", [5, 4], [6, 5], true, true]);
CASES.push(["vector row 1x512x64 tB", [1, 512], [64, 512], false, true]);

/** Runs `f` with tensors created from `arrays` on `backend` and returns plain copies of its outputs. */
async function onBackend(
  backend: string,
  arrays: { values: Float32Array; shape: number[] }[],
  f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), `setBackend(${backend})`);
  return tf.tidy(() => {
    const xs = arrays.map(({ values, shape }) => tf.tensor(values, shape));
    const out = f(...xs);
    return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
  });
}

test("patchWasmMatMul installs once, unpatch restores the original kernels", () => {
  unpatchWasmMatMul();
  const original = tf.getKernel("BatchMatMul", "wasm").kernelFunc;
  const originalFused = tf.getKernel("_FusedMatMul", "wasm").kernelFunc;
  assert.equal(isWasmMatMulPatched(), false);
  assert.equal(patchWasmMatMul(), true);
  const patched = tf.getKernel("BatchMatMul", "wasm").kernelFunc;
  assert.notEqual(patched, original);
  assert.notEqual(tf.getKernel("_FusedMatMul", "wasm").kernelFunc, originalFused);
  assert.equal(patchWasmMatMul(), true);
  assert.equal(tf.getKernel("BatchMatMul", "wasm").kernelFunc, patched, "second patch is a no-op");
  unpatchWasmMatMul();
  assert.equal(tf.getKernel("BatchMatMul", "wasm").kernelFunc, original);
  assert.equal(tf.getKernel("_FusedMatMul", "wasm").kernelFunc, originalFused);
  patchWasmMatMul();
});

async function checkTripleLoop(): Promise<void> {
  patchWasmMatMul();
  for (const [name, aShape, bShape, tA, tB] of CASES) {
    const a = randomValues(size(aShape), 1);
    const b = randomValues(size(bShape), 2);
    const expected = referenceMatMul(a, aShape, b, bShape, tA, tB);
    const [got] = await onBackend("wasm", [{ values: a, shape: aShape }, { values: b, shape: bShape }], (x, y) => {
      const out = tf.matMul(x, y, tA, tB);
      assert.deepEqual(out.shape, expected.shape, `${name}: shape`);
      return out;
    });
    assertClose(got, expected.values, name);
  }
}
test("patched matMul equals a float64 triple loop for every transpose/batch/broadcast case", checkTripleLoop);

async function checkGradients(): Promise<void> {
  patchWasmMatMul();
  // tfjs's BatchMatMul gradient does not sum over broadcast batch dimensions (it fails on every
  // backend), so gradients are checked where both operands have the same batch shape.
  const sameBatch = CASES.filter(([, a, b]) => a.slice(0, -2).join() === b.slice(0, -2).join());
  assert.ok(sameBatch.length >= 12);
  for (const [name, aShape, bShape, tA, tB] of sameBatch) {
    const probe = referenceMatMul(new Float32Array(size(aShape)), aShape, new Float32Array(size(bShape)), bShape, tA, tB);
    const inputs = [
      { values: randomValues(size(aShape), 3), shape: aShape },
      { values: randomValues(size(bShape), 4), shape: bShape },
      { values: randomValues(size(probe.shape), 5), shape: probe.shape },
    ];
    const grads = (x: tf.Tensor, y: tf.Tensor, w: tf.Tensor) =>
      tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q, tA, tB), w)))([x, y]);
    const onCpu = await onBackend("cpu", inputs, grads);
    const onWasm = await onBackend("wasm", inputs, grads);
    assertClose(onWasm[0], onCpu[0], `${name}: dA`);
    assertClose(onWasm[1], onCpu[1], `${name}: dB`);
  }
}
test("gradients through patched matMul equal the cpu backend's", checkGradients);

/** [name, aShape, bShape, transposeA, transposeB, activation, bias?, prelu?] for tf.fused.matMul. */
type FusedCase = [string, number[], number[], boolean, boolean, tf.fused.Activation, boolean, boolean];
const FUSED: FusedCase[] = [
  ["2-D bias relu tB", [40, 50], [30, 50], false, true, "relu", true, false],
  ["2-D bias linear tA", [50, 40], [50, 30], true, false, "linear", true, false],
  ["2-D no bias sigmoid tA tB (swapped)", [64, 8], [96, 64], true, true, "sigmoid", false, false],
  ["small 2-D bias elu", [4, 5], [5, 6], false, false, "elu", true, false],
  ["3-D batched bias leakyrelu", [3, 24, 32], [3, 32, 40], false, false, "leakyrelu", true, false],
  ["batch x matrix bias relu6 tB", [3, 24, 32], [40, 32], false, true, "relu6", true, false],
  ["3-D batched bias prelu tA", [3, 32, 24], [3, 32, 40], true, false, "prelu", true, true],
  ["3-D batched bias linear tA tB", [3, 32, 24], [3, 40, 32], true, true, "linear", true, false],
  ["batch x matrix bias linear (one tall product)", [3, 24, 32], [32, 40], false, false, "linear", true, false],
];

async function checkFused(): Promise<void> {
  patchWasmMatMul();
  for (const [name, aShape, bShape, tA, tB, activation, withBias, withPrelu] of FUSED) {
    const n = tB ? bShape[bShape.length - 2] : bShape[bShape.length - 1];
    const inputs = [
      { values: randomValues(size(aShape), 6), shape: aShape },
      { values: randomValues(size(bShape), 7), shape: bShape },
      { values: randomValues(n, 8), shape: [n] },
      { values: randomValues(n, 9), shape: [n] },
    ];
    const f = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor, prelu: tf.Tensor) =>
      tf.fused.matMul({
        a, b, transposeA: tA, transposeB: tB, activation, leakyreluAlpha: 0.3,
        bias: withBias ? bias : undefined,
        preluActivationWeights: withPrelu ? prelu : undefined,
      });
    const [onCpu] = await onBackend("cpu", inputs, f);
    const [onWasm] = await onBackend("wasm", inputs, f);
    assertClose(onWasm, onCpu, name);
  }
}
test("patched fused matMul (bias, activations) equals the cpu backend, incl. the naive-loop bias bug cases", checkFused);

test("gradients through patched fused matMul (dense layer with bias) equal the cpu backend's", async () => {
  patchWasmMatMul();
  const inputs = [
    { values: randomValues(64 * 48, 10), shape: [64, 48] },
    { values: randomValues(48 * 32, 11), shape: [48, 32] },
    { values: randomValues(32, 12), shape: [32] },
    { values: randomValues(64 * 32, 13), shape: [64, 32] },
  ];
  const grads = (x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor, dy: tf.Tensor) =>
    tf.grads((p: tf.Tensor, q: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(tf.fused.matMul({ a: p, b: q, bias: c, activation: "linear" }), dy)),
    )([x, w, bias]);
  const onCpu = await onBackend("cpu", inputs, grads);
  const onWasm = await onBackend("wasm", inputs, grads);
  for (const [i, what] of ["dx", "dW", "dbias"].entries()) assertClose(onWasm[i], onCpu[i], what);
});

test("shape errors still come from tfjs", async () => {
  patchWasmMatMul();
  assert.ok(await tf.setBackend("wasm"));
  const a = tf.ones([3, 24, 32]);
  const b = tf.ones([3, 40, 32]);
  assert.throws(() => tf.matMul(a, b), /inner shapes \(32\) and \(40\)/);
  assert.throws(() => tf.matMul(tf.ones([2, 24, 32]), b, false, true), /broadcast|Operands could not be broadcast/i);
  tf.dispose([a, b]);
});

async function checkLeaks(): Promise<void> {
  patchWasmMatMul();
  assert.ok(await tf.setBackend("wasm"));
  const wasmBackend = tf.backend() as unknown as { numDataIds(): number };
  const a = tf.tensor(randomValues(3 * 24 * 32, 14), [3, 24, 32]);
  const b = tf.tensor(randomValues(3 * 40 * 32, 15), [3, 40, 32]);
  const c = tf.tensor(randomValues(3 * 24 * 40, 18), [3, 24, 40]);
  const e = tf.tensor(randomValues(3 * 32 * 24, 19), [3, 32, 24]);
  const m = tf.tensor(randomValues(32 * 40, 16), [32, 40]);
  const bias = tf.tensor(randomValues(40, 17), [40]);
  const step = () =>
    tf.tidy(() => {
      const outs = [
        tf.matMul(a, b, false, true),
        tf.matMul(a, m),
        tf.matMul(a, c, true, false),
        tf.fused.matMul({ a, b, transposeB: true, bias, activation: "relu" }),
        ...tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.matMul(p, q, true, true)))([e, b]),
      ];
      return tf.addN(outs.map((t) => t.sum()));
    }).dispose();
  step();
  const before = { ...tf.memory(), dataIds: wasmBackend.numDataIds() };
  for (let i = 0; i < 5; i++) step();
  const after = { ...tf.memory(), dataIds: wasmBackend.numDataIds() };
  assert.equal(after.numTensors, before.numTensors, "numTensors");
  assert.equal(after.numBytes, before.numBytes, "numBytes");
  assert.equal(after.dataIds, before.dataIds, "wasm backend data buffers");
  tf.dispose([a, b, c, e, m, bias]);
}
test("patched kernels leak no tensors, bytes or wasm buffers", checkLeaks);

test("a tf.layers dense model takes the same SGD steps on patched wasm as on cpu", async () => {
  patchWasmMatMul();
  const x = randomValues(64 * 32, 20);
  const labels = Array.from({ length: 64 }, (_, i) => (i * 7) % 8);
  const initial = [[32, 64], [64], [64, 8], [8]].map((shape, i) => randomValues(size(shape), 30 + i).map((v) => v * 0.3));
  async function train(backend: string): Promise<Float32Array[]> {
    assert.ok(await tf.setBackend(backend));
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [32], units: 64, activation: "relu" }),
        tf.layers.dense({ units: 8, activation: "softmax" }),
      ],
    });
    model.setWeights(initial.map((v, i) => tf.tensor(v, model.getWeights()[i].shape)));
    model.compile({ optimizer: tf.train.sgd(0.5), loss: "sparseCategoricalCrossentropy" });
    const xs = tf.tensor(x, [64, 32]);
    const ys = tf.tensor(labels, [64, 1]);
    for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
    const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
    tf.dispose([xs, ys]);
    model.dispose();
    return weights;
  }
  const onCpu = await train("cpu");
  const onWasm = await train("wasm");
  for (let i = 0; i < onCpu.length; i++) {
    assert.ok(onCpu[i].some((v, j) => Math.abs(v - initial[i][j]) > 1e-3), `weight ${i} moved`);
    assertClose(onWasm[i], onCpu[i], `weight ${i} after 3 steps`);
  }
});

const noBlas = loadBlas() === undefined ? `no OpenBLAS: ${blasUnavailableReason()}` : false;

test("on OpenBLAS: products equal the float64 triple loop, gradients and fused bias equal the cpu backend, nothing leaks", { skip: noBlas }, async () => {
  patchWasmMatMul();
  setBlasEnabled(true);
  try {
    await checkTripleLoop();
    await checkGradients();
    await checkFused();
    await checkLeaks();
  } finally {
    setBlasEnabled(false);
  }
});
