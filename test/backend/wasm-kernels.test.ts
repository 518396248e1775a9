// The patched wasm Sum (leading axes summed on the heap), GatherV2 (row copies) and Identity (shared
// data) against float64 sums / plain index lookups written here and against the original kernels:
// shapes, axes, keepDims, dtypes that keep the original kernel, gradients, bad indices, clones that
// outlive their source, and no leaked tensors.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { mulberry32 } from "../../lib/random.ts";
import { embeddingLookup } from "../../lib/models/ops.ts";
import { columnSums, leadingReduction, wasmSumPatch } from "../../lib/backend/wasm-sum.ts";
import { blasUnavailableReason, loadBlas, setBlasEnabled } from "../../lib/backend/blas.ts";
import { wasmGatherPatch } from "../../lib/backend/wasm-gather.ts";
import { wasmIdentityPatch, wasmSameDtypeCastPatch } from "../../lib/backend/wasm-identity.ts";

function randomValues(size: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: size }, () => random() * 2 - 1);
}

await tf.setBackend("wasm");
// The wasm kernels; the OpenBLAS test switches the BLAS on for itself.
setBlasEnabled(false);
wasmSumPatch.install();
wasmGatherPatch.install();

test("leadingReduction: only the first k < rank axes, in any order, negative allowed", () => {
  assert.equal(leadingReduction(0, 2), 1);
  assert.equal(leadingReduction([1, 0], 3), 2);
  assert.equal(leadingReduction([-3], 3), 1);
  assert.equal(leadingReduction(1, 2), undefined);
  assert.equal(leadingReduction([0, 2], 3), undefined);
  assert.equal(leadingReduction([0, 1], 2), undefined, "a full reduction stays on the original kernel");
  assert.equal(leadingReduction(undefined, 2), undefined);
});

test("Sum over leading axes equals the float64 sum, with and without keepDims, and the original kernel", () => {
  const cases: { shape: number[]; axis: number | number[] }[] = [
    { shape: [4096, 128], axis: 0 },
    { shape: [300, 7], axis: -2 },
    { shape: [8, 64, 33], axis: [1, 0] },
    { shape: [8, 64, 33], axis: 0 },
  ];
  for (const { shape, axis } of cases) {
    const values = randomValues(shape.reduce((p, d) => p * d, 1), shape.length);
    const x = tf.tensor(values, shape);
    const leading = leadingReduction(axis, shape.length)!;
    const rows = shape.slice(0, leading).reduce((p, d) => p * d, 1);
    const cols = values.length / rows;
    const expected = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expected[c] += values[r * cols + c];
    for (const keepDims of [false, true]) {
      const y = tf.sum(x, axis, keepDims);
      const wantShape = keepDims ? shape.map((d, i) => (i < leading ? 1 : d)) : shape.slice(leading);
      assert.deepEqual(y.shape, wantShape, `${JSON.stringify({ shape, axis, keepDims })}`);
      const got = y.dataSync();
      for (let c = 0; c < cols; c++) assert.ok(Math.abs(got[c] - expected[c]) < 1e-3 * Math.max(1, Math.sqrt(rows)), `column ${c}: ${got[c]} vs ${expected[c]}`);
      y.dispose();
    }
    wasmSumPatch.uninstall();
    const original = tf.sum(x, axis);
    wasmSumPatch.install();
    const patched = tf.sum(x, axis);
    const a = original.dataSync(), b = patched.dataSync();
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-3, `original ${a[i]} vs patched ${b[i]}`);
    tf.dispose([x, original, patched]);
  }
});

test("on OpenBLAS, leading-axis sums equal the float64 column loop (odd sizes, rows below and above the block of 8)", { skip: loadBlas() === undefined ? `no OpenBLAS: ${blasUnavailableReason()}` : false }, () => {
  for (const shape of [[4096, 128], [4099, 33], [3, 5, 1371], [7, 2000]]) {
    const values = randomValues(shape.reduce((p, d) => p * d, 1), shape[1]);
    const rows = shape.length === 3 ? shape[0] * shape[1] : shape[0];
    const cols = values.length / rows;
    const expected = new Float32Array(cols);
    columnSums(values, rows, cols, expected);
    const x = tf.tensor(values, shape);
    setBlasEnabled(true);
    const y = tf.sum(x, shape.length === 3 ? [0, 1] : 0);
    setBlasEnabled(false);
    const got = y.dataSync();
    for (let c = 0; c < cols; c++) assert.ok(Math.abs(got[c] - expected[c]) < 1e-4 * Math.max(1, Math.sqrt(rows)), `[${shape}] column ${c}: ${got[c]} vs ${expected[c]}`);
    tf.dispose([x, y]);
  }
});

test("Sum: other axes, int32 and full reductions keep the original kernel's results", () => {
  const x = tf.tensor2d(randomValues(64 * 96, 3), [64, 96]);
  const inner = tf.sum(x, 1);
  const all = tf.sum(x);
  const ints = tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], "int32"), 0);
  assert.deepEqual(inner.shape, [64]);
  assert.deepEqual([...ints.dataSync()], [4, 6]);
  assert.equal(ints.dtype, "int32");
  const rowSums = inner.dataSync();
  assert.ok(Math.abs([...rowSums].reduce((s, v) => s + v, 0) - all.dataSync()[0]) < 1e-2);
  tf.dispose([x, inner, all, ints]);
});

test("gradients through the patched Sum (bias gradients) equal the original kernel's", () => {
  const x = tf.tensor2d(randomValues(4096 * 16, 5), [4096, 16]);
  const bias = tf.variable(tf.tensor1d(randomValues(16, 6)));
  const f = () => tf.sum(tf.square(tf.add(x, bias))) as tf.Scalar;
  const patched = tf.variableGrads(f, [bias]);
  wasmSumPatch.uninstall();
  const original = tf.variableGrads(f, [bias]);
  wasmSumPatch.install();
  const a = patched.grads[bias.name].dataSync(), b = original.grads[bias.name].dataSync();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-2 * Math.max(1, Math.abs(b[i])), `${a[i]} vs ${b[i]}`);
  tf.dispose([x, bias, patched.value, original.value, Object.values(patched.grads), Object.values(original.grads)]);
});

test("Gather of rows equals plain lookups for wide and narrow rows, 2-D indices and int32 tables", () => {
  const table = randomValues(1000 * 128, 7);
  const x = tf.tensor2d(table, [1000, 128]);
  const ids = [0, 999, 5, 5, 42, 0];
  const g = tf.gather(x, tf.tensor2d(ids, [2, 3], "int32"));
  assert.deepEqual(g.shape, [2, 3, 128]);
  const got = g.dataSync();
  ids.forEach((id, i) => assert.deepEqual([...got.subarray(i * 128, (i + 1) * 128)], [...table.subarray(id * 128, (id + 1) * 128)]));
  const narrow = tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], "int32"), tf.tensor1d([2, 0, 2], "int32"));
  assert.equal(narrow.dtype, "int32");
  assert.deepEqual([...narrow.dataSync()], [5, 6, 1, 2, 5, 6]);
  const vector = tf.gather(tf.tensor1d([10, 20, 30]), tf.tensor1d([2, 1], "int32"));
  assert.deepEqual([...vector.dataSync()], [30, 20]);
  const columns = tf.gather(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor1d([1], "int32"), 1);
  assert.deepEqual([...columns.dataSync()], [2, 4], "axis 1 keeps the original kernel");
  tf.dispose([x, g, narrow, vector, columns]);
});

test("Gather refuses an index out of range, naming it, and leaks nothing", () => {
  const x = tf.tensor2d(randomValues(10 * 32, 8), [10, 32]);
  const before = tf.memory().numTensors;
  assert.throws(() => tf.gather(x, tf.tensor1d([1, 10], "int32")), /GatherV2: index 10 \(position 1\) is not in \[0, 9\]/);
  assert.throws(() => tf.gather(x, tf.tensor1d([-1], "int32")), /index -1/);
  assert.ok(tf.memory().numTensors - before <= 2, "only the two index tensors remain");
  x.dispose();
});

test("embedding gradients through the patched Gather equal the original kernel's", () => {
  const table = tf.variable(tf.tensor2d(randomValues(50 * 24, 9), [50, 24]));
  const ids = tf.tensor1d(Array.from({ length: 300 }, (_, i) => (i * 7) % 50), "int32");
  // The models' lookup (tfjs's own Gather gradient needs UnsortedSegmentSum, which wasm lacks).
  const f = () => tf.sum(tf.square(embeddingLookup(table, ids))) as tf.Scalar;
  const patched = tf.variableGrads(f, [table]);
  wasmGatherPatch.uninstall();
  const original = tf.variableGrads(f, [table]);
  wasmGatherPatch.install();
  assert.ok(Math.abs(patched.value.dataSync()[0] - original.value.dataSync()[0]) < 1e-3);
  const a = patched.grads[table.name].dataSync(), b = original.grads[table.name].dataSync();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-4, `${a[i]} vs ${b[i]}`);
  tf.dispose([table, ids, patched.value, original.value, Object.values(patched.grads), Object.values(original.grads)]);
});

test("patched kernels leave no tensors or wasm buffers behind; install is idempotent and undone by uninstall", () => {
  const x = tf.tensor2d(randomValues(512 * 64, 10), [512, 64]);
  const ids = tf.tensor1d([3, 1, 4, 1, 5], "int32");
  tf.tidy(() => { tf.sum(x, 0); tf.gather(x, ids); });
  const tensors = tf.memory().numTensors;
  const bytes = tf.memory().numBytes;
  for (let i = 0; i < 20; i++) tf.tidy(() => { tf.sum(x, 0, true).dataSync(); tf.gather(x, ids).dataSync(); });
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(tf.memory().numBytes, bytes);
  assert.equal(wasmSumPatch.install(), true);
  assert.equal(wasmGatherPatch.install(), true);
  wasmSumPatch.uninstall();
  wasmGatherPatch.uninstall();
  assert.equal(wasmSumPatch.installed() || wasmGatherPatch.installed(), false);
  wasmSumPatch.install();
  wasmGatherPatch.install();
  assert.equal(wasmSumPatch.installed() && wasmGatherPatch.installed(), true);
  tf.dispose([x, ids]);
});

test("the copy-free Identity: clones share data safely, gradients are unchanged, and nothing leaks", () => {
  wasmIdentityPatch.install();
  const x = tf.tensor2d(randomValues(64 * 32, 11), [64, 32]);
  const bytes = tf.memory().numBytes;
  const c = tf.clone(x);
  assert.equal(c.dataId, x.dataId, "the clone shares its source's data");
  assert.deepEqual([...c.dataSync()], [...x.dataSync()]);
  assert.equal(tf.memory().numBytes, bytes + 64 * 32 * 4, "numBytes counts the clone as a tensor of its own");
  x.dispose();
  assert.equal(c.dataSync()[5], randomValues(64 * 32, 11)[5], "a clone outlives its source");
  c.dispose();
  // A variable assigned after a clone was taken: the clone keeps the old values.
  const v = tf.variable(tf.tensor1d([1, 2, 3]));
  const before = tf.clone(v);
  v.assign(tf.tensor1d([7, 8, 9]));
  assert.deepEqual([...before.dataSync()], [1, 2, 3]);
  assert.deepEqual([...v.dataSync()], [7, 8, 9]);
  // Gradients that save inputs for the backward pass (through Identity) equal the copying kernel's.
  const w = tf.variable(tf.tensor2d(randomValues(32 * 8, 12), [32, 8]));
  const input = tf.tensor2d(randomValues(16 * 32, 13), [16, 32]);
  const f = () => tf.sum(tf.exp(tf.tanh(tf.matMul(input, w)))) as tf.Scalar;
  const shared = tf.variableGrads(f, [w]);
  wasmIdentityPatch.uninstall();
  assert.equal(wasmIdentityPatch.installed(), false);
  const copy = tf.clone(input);
  assert.notEqual(copy.dataId, input.dataId, "the original kernel copies");
  copy.dispose();
  const copied = tf.variableGrads(f, [w]);
  wasmIdentityPatch.install();
  assert.deepEqual([...shared.grads[w.name].dataSync()], [...copied.grads[w.name].dataSync()]);
  const tensors = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) tf.tidy(() => void tf.variableGrads(f, [w]).value.dataSync());
  assert.equal(tf.memory().numTensors, tensors);
  tf.dispose([before, v, w, input, shared.value, copied.value, Object.values(shared.grads), Object.values(copied.grads)]);
});

test("the copy-free same-dtype Cast shares data; casts to other dtypes equal the original kernel's", () => {
  wasmSameDtypeCastPatch.install();
  const x = tf.tensor2d(randomValues(33 * 7, 14).map((v) => v * 9), [33, 7]);
  const same = tf.cast(x, "float32");
  assert.equal(same.dataId, x.dataId, "float32 → float32 shares data");
  const toInt = tf.cast(x, "int32");
  const toBool = tf.cast(x, "bool");
  const back = tf.cast(toInt, "float32");
  const ints = tf.tensor1d([3, -4, 0, 7], "int32");
  const intSame = tf.cast(ints, "int32");
  assert.equal(intSame.dataId, ints.dataId, "int32 → int32 shares data");
  const patched = [toInt, toBool, back].map((t) => [...t.dataSync()]);
  wasmSameDtypeCastPatch.uninstall();
  assert.equal(wasmSameDtypeCastPatch.installed(), false);
  const copy = tf.cast(x, "float32");
  assert.notEqual(copy.dataId, x.dataId, "the original kernel copies");
  const original = [tf.cast(x, "int32"), tf.cast(x, "bool"), tf.cast(tf.cast(x, "int32"), "float32")].map((t) => [...t.dataSync()]);
  wasmSameDtypeCastPatch.install();
  assert.deepEqual(patched, original);
  assert.deepEqual([...same.dataSync()], [...x.dataSync()]);
  x.dispose();
  assert.equal(same.dataSync()[4], Math.fround(randomValues(33 * 7, 14)[4] * 9), "the cast outlives its source");
  const tensors = tf.memory().numTensors;
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.cast(t, "float32"))));
  for (let i = 0; i < 3; i++) tf.tidy(() => void g(same).dataSync());
  assert.equal(tf.memory().numTensors, tensors);
  tf.dispose([same, toInt, toBool, back, ints, intSame, copy]);
});
