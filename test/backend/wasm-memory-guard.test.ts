// A tensor too big for the wasm backend's 4 GiB memory is refused with an error naming the op, the
// shape, the dtype, the bytes needed and the limit; the backend, the variables and the tensor count
// are intact afterwards (before the guard: a RangeError with a leaked tensor, or a heap overwritten
// at address 0 and a backend that aborts on every later op).
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend.ts";
import { WasmMemoryError } from "../../lib/backend/wasm-memory-guard.ts";

await initBackend({ backend: "wasm" });

const cases: [string, RegExp, () => tf.Tensor][] = [
  // 40000×40000 float32 = 6.4 GB, over the limit before any allocation.
  ["a matMul whose output is over 4 GiB", /^matMul: a float32 tensor of shape \[40000, 40000\] needs 5\.96 GiB \(6400000000 bytes\)/, () => tf.tidy(() => tf.matMul(tf.ones([40000, 2]), tf.ones([2, 40000])))],
  // 4 GiB − 64 KiB: malloc fails (or wraps to a too-small block) without touching the memory.
  ["a tensor just under 4 GiB that malloc cannot place", /shape \[1073725440\] needs 4\.00 GiB \(4294901760 bytes\).*cannot exceed 4\.00 GiB/, () => tf.ones([1073725440])],
  ["a broadcast add whose output is over 4 GiB", /^add: a float32 tensor of shape \[33000, 33000\] needs/, () => tf.tidy(() => tf.add(tf.ones([33000, 1]), tf.ones([1, 33000])))],
];

for (const [name, message, make] of cases) {
  test(`wasm: ${name} is refused by name, and the backend still works`, () => {
    assert.equal(tf.getBackend(), "wasm");
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const before = tf.memory().numTensors;
    assert.throws(make, (e: unknown) => e instanceof WasmMemoryError && message.test(e.message) && /wasm backend/.test(e.message));
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
    const r = tf.matMul(tf.ones([2, 3]), v.reshape([3, 1]));
    assert.deepEqual(Array.from(r.dataSync()), [6, 6]);
    assert.deepEqual(Array.from(v.dataSync()), [1, 2, 3]);
    tf.dispose([r, v]);
  });
}
