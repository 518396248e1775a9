// The fused wasm kernels (lib/backend/wasm-fused.ts: AdamW update, dropout mask, GELU forward and
// backward on hand-written WebAssembly SIMD) against what runs without them (AdamW's op chain, the
// dropout hash in JavaScript, GELU's erf op chain), in one process, interleaved round by round:
// median wall and CPU ms of a whole training step (forward + backward + update, batch 32 × 128,
// AdamW and SAM(AdamW)) and of each kernel alone on the step's shapes.
// Run: npx tsx bench/fused-kernels.ts [bert-tiny|bert-mini] [rounds]   (OPENBLAS_NUM_THREADS=1 to
// compare with PyTorch's one thread)
import * as tf from "@tensorflow/tfjs";
import { formatBackendInfo, initBackend } from "../lib/backend.ts";
import { installFusedKernels, unregisterFusedKernels } from "../lib/backend/wasm-fused.ts";
import { createBertClassifier } from "../lib/models/classifier.ts";
import type { BertPresetName } from "../lib/models/config.ts";
import { dropoutMask } from "../lib/models/dropout-mask.ts";
import { activate } from "../lib/models/ops.ts";
import { SAM } from "../lib/optim/sam.ts";
import { AdamW } from "../lib/train/adamw.ts";

const preset = (process.argv[2] ?? "bert-tiny") as BertPresetName;
const rounds = Number(process.argv[3] ?? 6);
if (!Number.isInteger(rounds) || rounds < 2) throw new Error(`rounds must be an integer >= 2, got "${process.argv[3]}"`);
console.log(formatBackendInfo(await initBackend({ backend: "wasm" })));
const model = createBertClassifier(preset, { numLabels: 2, seed: 0 });
const batch = tf.tidy(() => ({
  inputIds: tf.randomUniform([32, 128], 0, model.config.vocab_size, "int32", 1) as tf.Tensor2D,
  tokenTypeIds: tf.zeros([32, 128], "int32") as tf.Tensor2D,
  attentionMask: tf.ones([32, 128], "int32") as tf.Tensor2D,
  labels: tf.randomUniform([32], 0, 2, "int32", 2) as tf.Tensor1D,
}));
const adamw = new AdamW({ learningRate: 1e-5, weightDecay: 0.01 });
const sam = new SAM(new AdamW({ learningRate: 1e-5, weightDecay: 0.01 }), { rho: 0.05 });
const hidden = tf.randomNormal([32 * 128, model.config.intermediate_size]);
const gradients = tf.tidy(() => Object.fromEntries(model.variables.map((v) => [v.name, tf.randomNormal(v.shape, 0, 1e-3)])));
const updater = new AdamW({ learningRate: 1e-5, weightDecay: 0.01 });

const cases: Record<string, () => void> = {
  "AdamW step": () => tf.dispose(adamw.minimize(() => model.loss(batch, { training: true }), true, model.variables)!.dataSync()),
  "SAM(AdamW) step": () => void sam.minimize(() => model.loss(batch, { training: true }), true, model.variables)!.dataSync(),
  "AdamW update alone": () => updater.applyGradients(gradients),
  "dropout masks of a step": () => {
    const shapes = [[32, 128, model.config.hidden_size], ...Array(model.config.num_hidden_layers).fill([[32, model.config.num_attention_heads, 128, 128], [32, 128, model.config.hidden_size], [32, 128, model.config.hidden_size]]).flat()];
    shapes.forEach((s, i) => tf.dispose(dropoutMask(s, 0.1, i)));
  },
  "GELU forward + backward": () => tf.tidy(() => void tf.grad((x: tf.Tensor) => tf.sum(activate(x, "gelu")))(hidden).dataSync()),
};
const times: Record<string, Record<"off" | "on", { wall: number[]; cpu: number[] }>> = {};
for (let r = 0; r < rounds; r++) {
  for (const mode of ["off", "on"] as const) {
    if (mode === "on") await installFusedKernels();
    else unregisterFusedKernels();
    for (const [name, run] of Object.entries(cases)) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      run();
      const c = process.cpuUsage(c0);
      if (r === 0) continue;
      const entry = (times[name] ??= { off: { wall: [], cpu: [] }, on: { wall: [], cpu: [] } })[mode];
      entry.wall.push(performance.now() - t0);
      entry.cpu.push((c.user + c.system) / 1000);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`${preset}, batch 32 × 128, ${rounds - 1} timed rounds, medians (ms)    without fused: wall  cpu | with fused: wall  cpu | cpu ratio`);
for (const [name, { off, on }] of Object.entries(times)) {
  const [w0, c0, w1, c1] = [off.wall, off.cpu, on.wall, on.cpu].map(median);
  console.log(`  ${name.padEnd(26)} ${w0.toFixed(1).padStart(8)} ${c0.toFixed(1).padStart(7)} | ${w1.toFixed(1).padStart(8)} ${c1.toFixed(1).padStart(7)} | ${(c1 / c0).toFixed(2)}×`);
}
console.log(`live tensors at the end: ${tf.memory().numTensors}`);
