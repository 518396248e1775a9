import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";

import { createBertClassifier } from "../lib/models/classifier.ts";
import { AdamW } from "../lib/train/adamw.ts";
import { SAM } from "../lib/optim/sam.ts";
await initBackend({ backend: "wasm" });
const preset = (process.argv[2] ?? "bert-tiny") as any;
const model = createBertClassifier(preset, { numLabels: 2, seed: 0 });
const batch = tf.tidy(() => ({
  inputIds: tf.randomUniform([32, 128], 0, model.config.vocab_size, "int32", 1) as tf.Tensor2D,
  tokenTypeIds: tf.zeros([32, 128], "int32") as tf.Tensor2D,
  attentionMask: tf.ones([32, 128], "int32") as tf.Tensor2D,
  labels: tf.randomUniform([32], 0, 2, "int32", 2) as tf.Tensor1D,
}));
const opt = process.env.SAM ? new SAM(new AdamW({ learningRate: 1e-5 }), { rho: 0.05 }) : new AdamW({ learningRate: 1e-5 } as any);
const step = () => {
  const cost = opt.minimize(() => model.loss(batch, { training: true }), true, model.variables) as tf.Scalar;
  cost.dataSync(); cost.dispose();
};
for (let i = 0; i < 2; i++) step();
const N = Number(process.argv[3] ?? 5);
const t0 = performance.now(); const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) step();
const c = process.cpuUsage(c0);
console.log(`step ${((performance.now() - t0) / N).toFixed(0)} ms wall, ${((c.user + c.system) / 1000 / N).toFixed(0)} ms cpu`);
