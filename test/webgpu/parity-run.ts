// Child process of parity.test.ts: runs the same small computations on the backend named by
// FSAM_BACKEND (cpu or webgpu) and prints their results as one JSON line `RESULT {...}`, so the
// parent can compare the two backends. Covers the ops of the BERT model (forward, gradients), the
// optimizers (5 steps of Adam, SAM, ASAM, GSAM, FSAM with clipping, one Fisher mask refresh), the
// Fisher atlas, Hessian tools (eigenvalue, trace, Lanczos spectrum), a landscape, SAM sharpness, a
// recorded trajectory's PCA plane, FisherSAM under tfjs-layers' model.fit, and tf.memory() over 50 FSAM steps. On webgpu it also
// checks the backend's own guarantees (chunked AddN, sync-read error, WebGPU errors thrown).
import * as tf from "@tensorflow/tfjs";
import { initBackend, formatBackendInfo } from "../../lib/backend.ts";
import { throwPendingWebgpuErrors, SYNC_READ_MESSAGE } from "../../lib/backend/webgpu-backend.ts";
import { installWebgpuAddN, uninstallWebgpuAddN } from "../../lib/backend/webgpu-addn.ts";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import { createOptimizer } from "../../lib/train/optimizers.ts";
import { fisherAtlas } from "../../lib/inspect/fisher-atlas.ts";
import { hessianTraceEstimate } from "../../lib/inspect/hessian.ts";
import { hessianSpectralDensity } from "../../lib/inspect/spectral-density.ts";
import { eigenvectorDirections } from "../../lib/inspect/directions.ts";
import { landscape1D } from "../../lib/inspect/landscape.ts";
import { mulberry32 } from "../../lib/random.ts";
import { samSharpness } from "../../lib/inspect/sam-sharpness.ts";
import { pcaDirections, recordTrajectory } from "../../lib/inspect/trajectory.ts";
import { projectTrajectory } from "../../lib/inspect/landscape.ts";
import { randomDirection } from "../../lib/inspect/directions.ts";
import { FisherSAM } from "../../lib/optim/fisher-sam.ts";
import { FisherSAMFitCallback } from "../../lib/optim/fisher-sam-fit.ts";
import type { EncodedBatch } from "../../lib/types.ts";

/** A BERT small enough for software Vulkan: 2 layers, hidden 16, no dropout (backends draw no random numbers alike). */
const CONFIG = {
  vocab_size: 64,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 16,
  hidden_dropout_prob: 0,
  attention_probs_dropout_prob: 0,
};

/** A deterministic batch of `size` sequences of 8 tokens with some padding, and labels. */
function makeBatch(seed: number, size = 4, length = 8): EncodedBatch {
  const random = mulberry32(seed);
  const ids: number[] = [];
  const mask: number[] = [];
  for (let b = 0; b < size; b++) {
    const real = 3 + Math.floor(random() * (length - 3));
    for (let s = 0; s < length; s++) {
      ids.push(s < real ? 1 + Math.floor(random() * (CONFIG.vocab_size - 1)) : 0);
      mask.push(s < real ? 1 : 0);
    }
  }
  return {
    inputIds: tf.tensor2d(ids, [size, length], "int32"),
    tokenTypeIds: tf.zeros([size, length], "int32") as tf.Tensor2D,
    attentionMask: tf.tensor2d(mask, [size, length], "int32"),
    labels: tf.tensor1d(Array.from({ length: size }, (_, i) => (i + seed) % 2), "int32"),
  };
}

/** Frees a batch's tensors. */
function disposeBatch(b: EncodedBatch): void {
  tf.dispose([b.inputIds, b.tokenTypeIds, b.attentionMask, ...(b.labels ? [b.labels] : [])]);
}

/** All variables' values, flattened, read asynchronously. */
async function weightsOf(vars: readonly tf.Variable[]): Promise<number[]> {
  const parts = await Promise.all(vars.map((v) => v.data()));
  return parts.flatMap((p) => Array.from(p));
}

const out: Record<string, unknown> = {};
const info = await initBackend();
out.backend = info.backend;
out.banner = formatBackendInfo(info);
const batch = makeBatch(1);
const fisherBatches = [makeBatch(11, 1), makeBatch(12, 1)];

// Forward and gradients.
{
  const model = createBertClassifier(CONFIG, { numLabels: 2, seed: 1 });
  const logits = model.logits(batch, { training: false });
  out.logits = Array.from(await logits.data());
  logits.dispose();
  const { value, grads } = tf.variableGrads(() => model.loss(batch, { training: true }), model.variables);
  out.loss = (await value.data())[0];
  out.grads = await weightsOf(model.variables.map((v) => grads[v.name] as tf.Variable));
  tf.dispose([value, ...Object.values(grads)]);
  model.dispose();
}

// Five steps of each optimizer from the same start; FSAM refreshes its mask at step 0.
out.steps = {};
for (const name of ["adam", "sam", "asam", "gsam", "fsam"]) {
  const model = createBertClassifier(CONFIG, { numLabels: 2, seed: 1 });
  const built = createOptimizer(name, {
    lr: 1e-2,
    clipNorm: 1,
    ...(name === "fsam" ? { sparsity: 0.5, maskInterval: 5, fisherSamples: 2, fisherLoss: (i: number) => model.loss(fisherBatches[i % 2], { training: false }) } : {}),
  });
  const losses: number[] = [];
  for (let step = 0; step < 5; step++) {
    await built.fisher?.prepareStep(model.variables);
    const cost = built.optimizer.minimize(() => model.loss(batch, { training: true }), true, model.variables) as tf.Scalar;
    losses.push((await cost.data())[0]);
    cost.dispose();
  }
  const result: Record<string, unknown> = { losses, weights: await weightsOf(model.variables) };
  if (built.fisher) {
    const f = built.fisher;
    result.mask = [...f.maskData.values()].flatMap((m) => Array.from(m));
    result.fisher = [...f.fisher.values()].flatMap((m) => Array.from(m));
    result.threshold = f.threshold;
    const atlas = await fisherAtlas(f);
    result.atlas = { totalKept: atlas.totalKept, totalSize: atlas.totalSize, blocks: atlas.blocks.length };
  }
  (out.steps as Record<string, unknown>)[name] = result;
  built.optimizer.dispose();
  model.dispose();
}

// Hessian tools (finite-difference products, as the notebooks use on BERT), a direction and a landscape.
{
  const model = createBertClassifier(CONFIG, { numLabels: 2, seed: 1 });
  const loss = () => model.loss(batch, { training: false });
  const hvp = { method: "finite-difference" as const, seed: 0 };
  const eig = await eigenvectorDirections(loss, model.variables, { ...hvp, k: 1, maxIter: 4 });
  const trace = await hessianTraceEstimate(loss, model.variables, { ...hvp, samples: 2 });
  const density = await hessianSpectralDensity(loss, model.variables, { ...hvp, runs: 1, iterations: 4 });
  const line = await landscape1D(model.variables, { model, batches: [batch] }, eig.directions[0], { points: 3, range: [-1, 1] });
  out.hessian = { eigenvalue: eig.values[0], trace: trace.trace, ritz: density.nodes, landscape: line.loss };
  model.dispose();
}

// SAM sharpness (global and per layer), a random direction, and a 3-step trajectory on its PCA plane.
{
  const model = createBertClassifier(CONFIG, { numLabels: 2, seed: 1 });
  const loss = () => model.loss(batch, { training: false });
  const sharp = await samSharpness(loss, model.variables, { rho: 0.05, granularity: "layer" });
  const random = await randomDirection(model.variables, { seed: 3 });
  const recorder = await recordTrajectory(model.variables, { every: 1 });
  const built = createOptimizer("adam", { lr: 1e-2 });
  for (let step = 1; step <= 3; step++) {
    const cost = built.optimizer.minimize(() => model.loss(batch, { training: true }), true, model.variables) as tf.Scalar;
    await cost.data();
    cost.dispose();
    await recorder.onStep({ step });
  }
  const pca = await pcaDirections(recorder.snapshots, model.variables, { components: 2 });
  const path = await projectTrajectory(recorder.snapshots, model.variables, [pca.directions[0], pca.directions[1]]);
  out.inspect = {
    loss: sharp.loss,
    sharpness: sharp.sharpness,
    blockSharpness: sharp.blocks.map((b) => b.sharpness),
    random: [...random.values.values()].flatMap((v) => Array.from(v.data)),
    ratios: pca.explainedVarianceRatio,
    path: [...path.x, ...path.y],
  };
  built.optimizer.dispose();
  model.dispose();
}

// tf.memory() over 50 FSAM steps (refreshing every 10).
{
  const model = createBertClassifier(CONFIG, { numLabels: 2, seed: 1 });
  const built = createOptimizer("fsam", { lr: 1e-3, sparsity: 0.9, maskInterval: 10, fisherSamples: 2, fisherLoss: (i) => model.loss(fisherBatches[i % 2], { training: false }) });
  const counts: number[] = [];
  const bytes: number[] = [];
  for (let step = 1; step <= 50; step++) {
    await built.fisher?.prepareStep(model.variables);
    const cost = built.optimizer.minimize(() => model.loss(batch, { training: true }), true, model.variables) as tf.Scalar;
    await cost.data();
    cost.dispose();
    if (step % 10 === 0) {
      counts.push(tf.memory().numTensors);
      bytes.push(tf.memory().numBytes);
    }
  }
  out.memory = { numTensors: counts, numBytes: bytes };
  built.optimizer.dispose();
  model.dispose();
}

// FisherSAM under tfjs-layers' model.fit (8 steps, mask every 2): with FisherSAMFitCallback, and without
// it (a first mask prepared by hand; on webgpu later refreshes then read in the background and apply
// late). On webgpu also: a first step without any mask throws, saying what to do.
{
  const random = mulberry32(5);
  const xs = tf.tensor2d(Array.from({ length: 32 * 4 }, () => 2 * random() - 1), [32, 4]);
  const ys = tf.tidy(() => tf.sum(tf.mul(xs, tf.tensor1d([1, -2, 0.5, 3])), 1, true).tanh());
  const fit = async (how: "callback" | "prepared" | "bare") => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 8, inputShape: [4], activation: "tanh" }), tf.layers.dense({ units: 1 })] });
    const start = model.getWeights().map((w, i) => tf.tensor(Array.from({ length: w.size }, (_, j) => Math.sin(1 + i * 7 + j * 0.37) * 0.5), w.shape));
    model.setWeights(start);
    tf.dispose(start);
    const fisherLoss = (i: number) => tf.tidy(() => tf.losses.meanSquaredError(ys.slice([i, 0], [1, 1]), model.apply(xs.slice([i, 0], [1, 4])) as tf.Tensor) as tf.Scalar);
    const fsam = new FisherSAM(tf.train.adam(0.05), { rho: 0.05, sparsity: 0.5, maskInterval: 2, fisherSamples: 4, fisherLoss });
    model.compile({ optimizer: fsam, loss: "meanSquaredError" });
    const refreshes: number[] = [];
    fsam.onMaskRefresh((e) => refreshes.push(e.step));
    if (how === "prepared") await fsam.prepareStep(model.trainableWeights.map((w) => w.read() as tf.Variable));
    try {
      const history = await model.fit(xs, ys, { batchSize: 8, epochs: 2, shuffle: false, verbose: 0, callbacks: how === "callback" ? [new FisherSAMFitCallback(fsam)] : [] });
      const weights = await Promise.all(model.getWeights().map((w) => w.data()));
      return { losses: history.history.loss as number[], weights: weights.flatMap((w) => Array.from(w)), refreshes, mask: [...fsam.maskData.values()].flatMap((m) => Array.from(m)) };
    } catch (error) {
      return { error: (error as Error).message };
    } finally {
      model.dispose();
      fsam.dispose();
    }
  };
  out.fit = { callback: await fit("callback"), prepared: await fit("prepared"), ...(info.backend === "webgpu" ? { bare: await fit("bare") } : {}) };
  tf.dispose([xs, ys]);
}

if (info.backend === "webgpu") {
  const terms = Array.from({ length: 40 }, (_, i) => tf.fill([3, 5], i + 1));
  const sum = tf.addN(terms);
  out.addN40 = Array.from(await sum.data());
  const fresh = tf.mul(sum, 2);
  try {
    fresh.dataSync();
    out.syncRead = "no error";
  } catch (error) {
    out.syncRead = (error as Error).message;
  }
  out.syncReadExpected = SYNC_READ_MESSAGE;
  throwPendingWebgpuErrors("the webgpu checks");
  // The error path: tfjs's own AddN with 40 inputs is invalid WebGPU; the next read must throw.
  uninstallWebgpuAddN();
  const bad = tf.addN(terms);
  try {
    await bad.data();
    out.invalidAddN = "no error";
  } catch (error) {
    out.invalidAddN = `${(error as Error).name}: ${(error as Error).message}`;
  }
  installWebgpuAddN();
  const after = tf.add(sum, 0);
  out.afterError = (await after.data())[0];
  tf.dispose([...terms, sum, fresh, bad, after]);
}
throwPendingWebgpuErrors("the end of the run");
disposeBatch(batch);
fisherBatches.forEach(disposeBatch);
console.log(`RESULT ${JSON.stringify(out)}`);
