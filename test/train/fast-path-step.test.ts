// A full training step of the BERT classifier (dropout on, padded batch) on the wasm fast path —
// every kernel patch, the fused dropout multiplier and, where present, OpenBLAS — against the plain
// tfjs cpu backend: the weights after AdamW and after SAM(AdamW) steps agree within float32
// tolerance, and every weight moved.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend.ts";
import { WASM_KERNEL_PATCHES } from "../../lib/backend/probe-wasm.ts";
import { setBlasEnabled } from "../../lib/backend/blas.ts";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import { SAM } from "../../lib/optim/sam.ts";
import { AdamW } from "../../lib/train/adamw.ts";
import type { EncodedBatch } from "../../lib/types.ts";

// Big enough that products, bias sums and dropout take the fast paths (64 tokens × hidden 64).
const config = {
  vocab_size: 300,
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 128,
  max_position_embeddings: 32,
  initializer_range: 0.1,
};
const BATCH = 4;
const SEQ = 16;

function makeBatch(): EncodedBatch {
  const ids = Array.from({ length: BATCH }, (_, b) => Array.from({ length: SEQ }, (_, s) => (b < 2 && s >= SEQ - 3 ? 0 : (7 * b + 13 * s + 1) % 300)));
  return {
    inputIds: tf.tensor2d(ids, undefined, "int32"),
    tokenTypeIds: tf.tensor2d(ids.map((row) => row.map((_, s) => (s >= SEQ / 2 ? 1 : 0))), undefined, "int32"),
    attentionMask: tf.tensor2d(ids.map((row) => row.map((id) => (id === 0 ? 0 : 1))), undefined, "int32"),
    labels: tf.tensor1d([0, 1, 1, 0], "int32"),
  };
}

/** Weights of a fresh model (same seed) after two steps of the optimizer made by `optimizer` on `backend`. */
async function weightsAfterSteps(backend: "cpu" | "wasm", optimizer: () => tf.Optimizer, scope: string): Promise<Map<string, Float32Array>> {
  if (backend === "wasm") await initBackend({ backend: "wasm" });
  else assert.ok(await tf.setBackend("cpu"));
  const model = createBertClassifier(config, { numLabels: 2, seed: 3, scope });
  const batch = makeBatch();
  const opt = optimizer();
  for (let i = 0; i < 2; i++) {
    const cost = opt.minimize(() => model.loss(batch, { training: true }), true, model.variables);
    assert.ok(Number.isFinite(cost?.dataSync()[0]));
    cost?.dispose();
  }
  const out = new Map(model.variables.map((v) => [v.name.slice(scope.length + 1), v.dataSync() as Float32Array]));
  opt.dispose();
  tf.dispose(Object.values(batch) as tf.Tensor[]);
  model.dispose();
  return out;
}

const adamW = () => new AdamW({ learningRate: 1e-3, weightDecay: 0.01 });
const sam = () => new SAM(adamW(), { rho: 0.05 });

for (const [name, optimizer] of [["AdamW", adamW], ["SAM(AdamW)", sam]] as const) {
  test(`${name}: two training steps on the wasm fast path equal the plain cpu backend's`, async () => {
    setBlasEnabled(true);
    const initial = await weightsAfterSteps("cpu", () => new AdamW({ learningRate: 0 }), `init-${name}`);
    const onCpu = await weightsAfterSteps("cpu", optimizer, `cpu-${name}`);
    const onWasm = await weightsAfterSteps("wasm", optimizer, `wasm-${name}`);
    assert.ok(WASM_KERNEL_PATCHES.every((p) => p.installed()), "the fast kernels are installed");
    assert.equal(onWasm.size, onCpu.size);
    for (const [param, expected] of onCpu) {
      const got = onWasm.get(param) as Float32Array;
      const start = initial.get(param) as Float32Array;
      let moved = 0;
      for (let i = 0; i < expected.length; i++) {
        // Two Adam steps move each weight by up to ~2e-3; float32 summation-order differences in
        // the gradients change the steps slightly where gradients are tiny.
        const diff = Math.abs(got[i] - expected[i]);
        if (!(diff <= 1e-5 + 1e-5 * Math.abs(expected[i]))) assert.fail(`${name} ${param}[${i}]: wasm ${got[i]} vs cpu ${expected[i]}`);
        moved = Math.max(moved, Math.abs(expected[i] - start[i]));
      }
      // A key bias shifts every score of a query equally: softmax cancels it, its gradient is ~0.
      if (!param.endsWith("attention.self.key.bias")) assert.ok(moved > 1e-4, `${param} moved (${moved})`);
    }
  });
}
