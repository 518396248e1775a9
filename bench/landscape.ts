// Benchmark of the loss-landscape evaluation (lib/inspect/landscape.ts): ms per grid point for a
// bert-tiny classifier on a fixed evaluation set (default 64 examples × 64 tokens in batches of 32),
// for a 1-D slice and a 2-D grid, plus the cost of one Hessian-vector product and the method
// (double back-propagation or finite differences) that `auto` picks for BERT.
// Run: npx tsx bench/landscape.ts [examples] [seqLen]   (backend from FSAM_BACKEND, default: best available)
import * as tf from "@tensorflow/tfjs";
import { formatBackendInfo, initBackend } from "../lib/backend.ts";
import { createBertClassifier } from "../lib/models/classifier.ts";
import type { EncodedBatch } from "../lib/types.ts";
import { landscape1D, landscape2D, sequenceModelEvaluator } from "../lib/inspect/landscape.ts";
import { randomDirection } from "../lib/inspect/directions.ts";
import { createHvp } from "../lib/inspect/hvp.ts";
import { disposeVector, gaussianVector, shapesOf } from "../lib/inspect/param-vector.ts";

const examples = Number(process.argv[2] ?? 64);
const seqLen = Number(process.argv[3] ?? 64);
if (!Number.isInteger(examples) || examples < 1) throw new Error(`examples must be a positive integer, got "${process.argv[2]}"`);
if (!Number.isInteger(seqLen) || seqLen < 2) throw new Error(`seqLen must be an integer ≥ 2, got "${process.argv[3]}"`);
const BATCH = 32;

const info = await initBackend();
console.log(formatBackendInfo(info));
const model = createBertClassifier("bert-tiny", { numLabels: 2, seed: 0 });
const params = model.variables.reduce((s, v) => s + v.size, 0);
const batches: EncodedBatch[] = [];
for (let start = 0, k = 0; start < examples; start += BATCH, k++) {
  const n = Math.min(BATCH, examples - start);
  batches.push(
    tf.tidy(() => ({
      inputIds: tf.randomUniform([n, seqLen], 1000, 30000, "int32", 10 + k) as tf.Tensor2D,
      tokenTypeIds: tf.zeros([n, seqLen], "int32") as tf.Tensor2D,
      attentionMask: tf.ones([n, seqLen], "int32") as tf.Tensor2D,
      labels: tf.tensor1d(Array.from({ length: n }, (_, i) => i % 2), "int32"),
    })),
  );
}
const evaluate = sequenceModelEvaluator(model, batches);
const d1 = await randomDirection(model.variables, { seed: 1 });
const d2 = await randomDirection(model.variables, { seed: 2 });
await landscape1D(model.variables, evaluate, d1, { points: 2 }); // warm-up
const tensorsBefore = tf.memory().numTensors;
const one = await landscape1D(model.variables, evaluate, d1, { points: 11 });
const two = await landscape2D(model.variables, evaluate, [d1, d2], { points: 5 });
const leaked = tf.memory().numTensors - tensorsBefore;

const loss = () => model.loss(batches[0], { training: false });
const t0 = performance.now();
const hvp = await createHvp(loss, model.variables, { seed: 1 });
const probeMs = performance.now() - t0;
const v = gaussianVector(shapesOf(model.variables), 3);
const t1 = performance.now();
disposeVector(await hvp.apply(v));
const hvpMs = performance.now() - t1;
disposeVector(v);

console.log(`bert-tiny (${params.toLocaleString("en-US")} parameters), eval set ${examples} examples × ${seqLen} tokens, batch ${BATCH}`);
console.log(`1-D slice, 11 points:  ${one.msPerPoint.toFixed(1)} ms per grid point (${(one.msPerPoint / examples).toFixed(2)} ms per example)`);
console.log(`2-D grid, 5×5 points: ${two.msPerPoint.toFixed(1)} ms per grid point`);
console.log(`estimated 21×21 grid: ${((two.msPerPoint * 441) / 1000).toFixed(1)} s; 51-point 1-D: ${((one.msPerPoint * 51) / 1000).toFixed(1)} s`);
console.log(`tensors leaked by the grids: ${leaked}`);
console.log(`Hessian-vector product: method ${hvp.method}${hvp.fallbackReason ? ` (${hvp.fallbackReason})` : ""}`);
console.log(`  one product on a batch of ${batches[0].inputIds.shape[0]}: ${hvpMs.toFixed(0)} ms; auto-method probe: ${probeMs.toFixed(0)} ms`);
model.dispose();
