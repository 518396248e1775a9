import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { createBertClassifier } from "../lib/models/classifier.ts";
import { AdamW } from "../lib/train/adamw.ts";
await initBackend({ backend: "wasm" });
const preset = (process.argv[2] ?? "bert-tiny") as any;
const model = createBertClassifier(preset, { numLabels: 2, seed: 0 });
const batch = tf.tidy(() => ({
  inputIds: tf.randomUniform([32, 128], 0, model.config.vocab_size, "int32", 1) as tf.Tensor2D,
  tokenTypeIds: tf.zeros([32, 128], "int32") as tf.Tensor2D,
  attentionMask: tf.ones([32, 128], "int32") as tf.Tensor2D,
  labels: tf.randomUniform([32], 0, 2, "int32", 2) as tf.Tensor1D,
}));
const opt = new AdamW({ learningRate: 1e-5, weightDecay: 0.01 });
const T = { fwd: 0, grad: 0, apply: 0 };
const step = (timed: boolean) => {
  let t = performance.now();
  const l = tf.tidy(() => model.loss(batch, { training: true })); l.dataSync(); l.dispose();
  if (timed) T.fwd += performance.now() - t; t = performance.now();
  const { value, grads } = tf.variableGrads(() => model.loss(batch, { training: true }) as tf.Scalar, model.variables as tf.Variable[]);
  value.dataSync();
  if (timed) T.grad += performance.now() - t; t = performance.now();
  opt.applyGradients(grads); tf.dispose(grads); value.dispose();
  (model.variables[0] as tf.Variable).dataSync();
  if (timed) T.apply += performance.now() - t;
};
for (let i = 0; i < 2; i++) step(false);
const N = 5; for (let i = 0; i < N; i++) step(true);
console.log(`forward only ${(T.fwd / N).toFixed(0)} ms; forward+backward ${(T.grad / N).toFixed(0)} ms; AdamW apply ${(T.apply / N).toFixed(0)} ms; params ${model.variables.reduce((s, v) => s + v.size, 0)}`);
