// Per-kernel profile of one training step (forward + backward + Adam update) of a BERT classifier at
// batch 32 × sequence 128 on the chosen backend: total ms and call count per kernel, largest first.
// Run: npx tsx bench/step-profile.ts [bert-tiny|bert-mini] [--backend wasm|cpu]
import * as tf from "@tensorflow/tfjs";
import { formatBackendInfo, initBackend, type BackendName } from "../lib/backend.ts";
import { AdamW } from "../lib/train/adamw.ts";
import { createBertClassifier } from "../lib/models/classifier.ts";
import type { BertPresetName } from "../lib/models/config.ts";

const args = process.argv.slice(2);
const backendAt = args.indexOf("--backend");
const backend = (backendAt >= 0 ? args.splice(backendAt, 2)[1] : "wasm") as BackendName;
const preset = (args[0] ?? "bert-tiny") as BertPresetName;
const BATCH = 32;
const SEQ = 128;

const info = await initBackend({ backend });
console.log(formatBackendInfo(info));
const model = createBertClassifier(preset, { numLabels: 2, seed: 0 });
const batch = tf.tidy(() => ({
  inputIds: tf.randomUniform([BATCH, SEQ], 0, model.config.vocab_size, "int32", 1) as tf.Tensor2D,
  tokenTypeIds: tf.zeros([BATCH, SEQ], "int32") as tf.Tensor2D,
  attentionMask: tf.ones([BATCH, SEQ], "int32") as tf.Tensor2D,
  labels: tf.randomUniform([BATCH], 0, 2, "int32", 2) as tf.Tensor1D,
}));
const adam = new AdamW({ learningRate: 1e-5, weightDecay: 0.01 });
const step = () => {
  const cost = adam.minimize(() => model.loss(batch, { training: true }), true, model.variables) as tf.Scalar;
  cost.dataSync();
  cost.dispose();
};
for (let i = 0; i < 2; i++) step();
const t0 = performance.now();
const profile = await tf.profile(step);
const wall = performance.now() - t0;
const byName = new Map<string, { ms: number; calls: number }>();
for (const k of profile.kernels) {
  const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += k.kernelTimeMs as number;
  e.calls++;
  byName.set(k.name, e);
}
const rows = [...byName].sort((a, b) => b[1].ms - a[1].ms);
const total = rows.reduce((s, [, e]) => s + e.ms, 0);
console.log(`${preset}: Adam step profiled, ${wall.toFixed(0)} ms wall (with profiling), kernels ${total.toFixed(0)} ms in ${profile.kernels.length} calls`);
for (const [name, e] of rows) {
  console.log(`${name.padEnd(24)} ${e.ms.toFixed(1).padStart(8)} ms ${(100 * e.ms / total).toFixed(1).padStart(5)} % ${String(e.calls).padStart(5)} calls`);
}
