// Benchmark of the BERT classifier: forward+backward (training mode, dropout on) of bert-tiny and
// bert-mini at batch 32 × sequence 128 on wasm — median ms/step and tokens/s after warm-up — plus
// the linear-layer weight layouts compared on the same backend.
// Run: npx tsx bench/models.ts [steps]   (default 5 timed steps after 2 warm-up steps per model)
import * as tf from "@tensorflow/tfjs";
import { formatBackendInfo, initBackend } from "../lib/backend.ts";
import { createBertClassifier } from "../lib/models/classifier.ts";
import type { BertPresetName } from "../lib/models/config.ts";
import type { EncodedBatch } from "../lib/types.ts";

const steps = Number(process.argv[2] ?? 5);
if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got "${process.argv[2]}"`);
const BATCH = 32;
const SEQ = 128;
const WARMUP = 2;

/** Median wall-clock and process-CPU ms of `runs` calls of `f`, after `WARMUP` untimed calls. */
function medianMs(f: () => void, runs: number): { wall: number; cpu: number } {
  for (let i = 0; i < WARMUP; i++) f();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    wall.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { wall: median(wall), cpu: median(cpu) };
}

/** "W ms (cpu C ms)  T tokens/s" for one timing of `tokens` tokens. */
function formatTiming(t: { wall: number; cpu: number }, tokens: number): string {
  return (
    `${t.wall.toFixed(0).padStart(6)} ms (cpu ${t.cpu.toFixed(0).padStart(6)} ms) ` +
    `${((tokens / t.wall) * 1000).toFixed(0).padStart(6)} tokens/s`
  );
}

/** A random batch with every position real (the worst case for attention). */
function randomBatch(vocab: number): EncodedBatch {
  return tf.tidy(() => ({
    inputIds: tf.randomUniform([BATCH, SEQ], 0, vocab, "int32", 1) as tf.Tensor2D,
    tokenTypeIds: tf.zeros([BATCH, SEQ], "int32") as tf.Tensor2D,
    attentionMask: tf.ones([BATCH, SEQ], "int32") as tf.Tensor2D,
    labels: tf.randomUniform([BATCH], 0, 2, "int32", 2) as tf.Tensor1D,
  }));
}

function benchModel(preset: BertPresetName): string {
  const model = createBertClassifier(preset, { numLabels: 2, seed: 0 });
  const batch = randomBatch(model.config.vocab_size);
  const trainStep = () => {
    const { value, grads } = tf.variableGrads(() => model.loss(batch, { training: true }), model.variables);
    value.dataSync();
    tf.dispose([value, grads]);
  };
  const forward = () => tf.tidy(() => void model.logits(batch).dataSync());
  const tensorsBefore = tf.memory().numTensors;
  const train = medianMs(trainStep, steps);
  const leaked = tf.memory().numTensors - tensorsBefore;
  const fwd = medianMs(forward, steps);
  tf.dispose([batch.inputIds, batch.tokenTypeIds, batch.attentionMask, batch.labels!]);
  const params = (model.parameterCount() / 1e6).toFixed(1);
  model.dispose();
  const tokens = BATCH * SEQ;
  return (
    `${preset.padEnd(10)} ${params.padStart(5)}M params | fwd+bwd ${formatTiming(train, tokens)} | ` +
    `fwd ${formatTiming(fwd, tokens)} | tensors leaked: ${leaked}`
  );
}

/** Forward+backward of one bert-mini FFN linear layer (4096×256 → 1024) under each weight layout. */
function benchLayouts(): string[] {
  const tokens = BATCH * SEQ;
  const x = tf.randomNormal([tokens, 256], 0, 1, "float32", 3);
  const outIn = tf.randomNormal([1024, 256], 0, 0.02, "float32", 4);
  const inOut = tf.transpose(outIn);
  const dy = tf.randomNormal([tokens, 1024], 0, 1, "float32", 5);
  const cases: [string, tf.Tensor, (a: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor][] = [
    ["[out,in] matMul(x, W, transposeB) (used)", outIn, (a, w) => tf.matMul(a, w, false, true)],
    ["[out,in] matMul(x, transpose(W))", outIn, (a, w) => tf.matMul(a, tf.transpose(w))],
    ["[in,out] matMul(x, W)", inOut, (a, w) => tf.matMul(a, w)],
  ];
  const lines = cases.map(([name, w, f]) => {
    const ms = medianMs(() => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor2D, b as tf.Tensor2D))([x, w], dy);
      g.forEach((t) => t.dataSync());
      tf.dispose(g);
    }, steps);
    const fwd = medianMs(() => tf.tidy(() => void f(x as tf.Tensor2D, w as tf.Tensor2D).dataSync()), steps);
    return `  ${name.padEnd(42)} fwd ${fwd.wall.toFixed(0).padStart(5)} ms (cpu ${fwd.cpu.toFixed(0).padStart(5)})   fwd+bwd ${ms.wall.toFixed(0).padStart(5)} ms (cpu ${ms.cpu.toFixed(0).padStart(5)})`;
  });
  tf.dispose([x, outIn, inOut, dy]);
  return lines;
}

const info = await initBackend({ backend: "wasm" });
console.log(formatBackendInfo(info));
console.log(`batch ${BATCH} × seq ${SEQ}, median of ${steps} steps after ${WARMUP} warm-up, training mode (dropout on)`);
for (const preset of ["bert-tiny", "bert-mini"] as const) console.log(benchModel(preset));
console.log("linear layer 256→1024 on 4096 tokens, by weight layout:");
for (const line of benchLayouts()) console.log(line);
