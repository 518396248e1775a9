import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { installFusedKernels, unregisterFusedKernels } from "../lib/backend/wasm-fused.ts";
import { createBertClassifier } from "../lib/models/classifier.ts";
import { AdamW } from "../lib/train/adamw.ts";
await initBackend({ backend: "wasm" });
const model = createBertClassifier((process.argv[2] ?? "bert-tiny") as any, { numLabels: 2, seed: 0 });
const batch = tf.tidy(() => ({
  inputIds: tf.randomUniform([32, 128], 0, model.config.vocab_size, "int32", 1) as tf.Tensor2D,
  tokenTypeIds: tf.zeros([32, 128], "int32") as tf.Tensor2D,
  attentionMask: tf.ones([32, 128], "int32") as tf.Tensor2D,
  labels: tf.randomUniform([32], 0, 2, "int32", 2) as tf.Tensor1D,
}));
const opt = new AdamW({ learningRate: 1e-5, weightDecay: 0.01 });
const T: Record<string, number[]> = { off: [], on: [] }; const C: Record<string, number[]> = { off: [], on: [] };
for (let r = 0; r < Number(process.argv[3] ?? 8); r++) for (const k of ["off", "on"]) {
  if (k === "on") await installFusedKernels(); else unregisterFusedKernels();
  const t = performance.now(); const c = process.cpuUsage();
  const cost = opt.minimize(() => model.loss(batch, { training: true }), true, model.variables) as tf.Scalar; cost.dataSync(); cost.dispose();
  const cu = process.cpuUsage(c);
  if (r >= 1) { T[k].push(performance.now() - t); C[k].push((cu.user + cu.system) / 1000); }
}
const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
console.log(`step: fused off ${med(T.off).toFixed(0)} ms wall ${med(C.off).toFixed(0)} cpu; on ${med(T.on).toFixed(0)} ms wall ${med(C.on).toFixed(0)} cpu; tensors ${tf.memory().numTensors}`);
