/**
 * Optimizer benchmark on a BERT-tiny-shaped workload (2 layers, hidden 128, 2 heads, intermediate
 * 512, seq 128, batch 32): ms per step of Adam, SAM and FSAM (steady state and a mask-refresh step
 * with N_F = 128 per-sample gradients), ESAM (β = γ = 0.5, per-element SWP and the authors'
 * freeze-tensors SWP) and Fisher-ESAM, the ratios SAM/Adam and FSAM/SAM (amortised over T_m = 100)
 * against the targets, ESAM/SAM and Fisher-ESAM/SAM, effective GFLOP/s and peak memory.
 *
 * Usage: `npx tsx bench/optimizers.ts [--steps N] [--backend wasm|cpu|webgpu|tensorflow]`
 * (default 5 timed rounds of one step per optimizer after 2 warm-up rounds, on wasm;
 * medians are reported).
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, formatBackendInfo, type BackendName } from "../lib/backend.ts";
import { createBertClassifier } from "../lib/models/classifier.ts";
import { FisherSAM } from "../lib/optim/fisher-sam.ts";
import { SAM } from "../lib/optim/sam.ts";
import { ESAM, FisherESAM } from "../lib/optim/esam.ts";
import { perExampleLoss } from "../lib/train/per-example-loss.ts";
import type { EncodedBatch } from "../lib/types.ts";

const LAYERS = 2;
const HIDDEN = 128;
const INTERMEDIATE = 512;
const SEQ = 128;
const BATCH = 32;
const FISHER_SAMPLES = 128;
const MASK_INTERVAL = 100;

/** Parses `--steps N` and `--backend NAME`. */
function parseArgs(argv: string[]): { steps: number; backend: BackendName } {
  let steps = 5;
  let backend: BackendName = "wasm";
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--steps") steps = Number(argv[++i]);
    else if (argv[i] === "--backend") backend = argv[++i] as BackendName;
    else throw new Error(`bench/optimizers.ts: unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be an integer >= 1, got ${steps}`);
  return { steps, backend };
}

/** A random batch of `size` sequences of SEQ tokens (no padding) with binary labels. */
function randomBatch(size: number, seed: number): EncodedBatch {
  return tf.tidy(() => ({
    inputIds: tf.randomUniform([size, SEQ], 1000, 30000, "int32", seed) as tf.Tensor2D,
    tokenTypeIds: tf.zeros([size, SEQ], "int32") as tf.Tensor2D,
    attentionMask: tf.ones([size, SEQ], "int32") as tf.Tensor2D,
    labels: tf.randomUniform([size], 0, 2, "int32", seed + 1) as tf.Tensor1D,
  }));
}

/** Example `i` of a batch as a batch of one. */
function sliceExample(batch: EncodedBatch, i: number): EncodedBatch {
  return {
    inputIds: tf.slice(batch.inputIds, [i, 0], [1, SEQ]),
    tokenTypeIds: tf.slice(batch.tokenTypeIds, [i, 0], [1, SEQ]),
    attentionMask: tf.slice(batch.attentionMask, [i, 0], [1, SEQ]),
    labels: tf.slice(batch.labels as tf.Tensor1D, [i], [1]),
  };
}

/** Forward FLOPs of the encoder for `tokens` tokens (projections, FFN, attention scores and mix). */
function forwardFlops(tokens: number): number {
  const perTokenPerLayer = 8 * HIDDEN * HIDDEN + 4 * HIDDEN * INTERMEDIATE + 4 * SEQ * HIDDEN;
  return tokens * LAYERS * perTokenPerLayer;
}

/** Wall-clock and process CPU time (user + system) of one measurement, in ms. */
interface Timing {
  /** Elapsed real time. */
  wall: number;
  /** CPU time of this process: on a shared machine it is what the work itself cost. */
  cpu: number;
}

/** Wall and CPU time of one call of `step`. */
function timeOnce(step: () => void): Timing {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  step();
  const wall = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

/** The median of a list of numbers. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Element-wise median of wall and CPU times. */
function medianTiming(ts: Timing[]): Timing {
  return { wall: median(ts.map((t) => t.wall)), cpu: median(ts.map((t) => t.cpu)) };
}

/**
 * Median time per call of each step function, timed round-robin (one call of each per round, after
 * `warmup` untimed rounds) so that load from other processes on a shared machine hits all alike.
 */
function timeInterleaved(steps: Record<string, () => void>, rounds: number, warmup = 2): Record<string, Timing> {
  const names = Object.keys(steps);
  const times = new Map<string, Timing[]>(names.map((n) => [n, []]));
  for (let r = 0; r < warmup + rounds; r++) {
    for (const name of names) {
      const t = timeOnce(steps[name]);
      if (r >= warmup) times.get(name)?.push(t);
    }
  }
  return Object.fromEntries(names.map((n) => [n, medianTiming(times.get(n) as Timing[])]));
}

/** tf.memory() peak bytes during one call of `step` (profiled separately, not timed). */
async function peakBytes(step: () => void): Promise<number> {
  const info = await tf.profile(() => step());
  return info.peakBytes;
}

/** Runs the benchmark and prints a report. */
async function main(): Promise<void> {
  const { steps, backend } = parseArgs(process.argv.slice(2));
  const info = await initBackend({ backend });
  console.log(formatBackendInfo(info));
  console.log(`BERT-tiny shape: L=${LAYERS} H=${HIDDEN} A=2 I=${INTERMEDIATE}, seq ${SEQ}, batch ${BATCH}; ${steps} timed rounds (one step per optimizer each, medians) after 2 warm-up`);

  const model = createBertClassifier("bert-tiny", { numLabels: 2, seed: 1, scope: "bench" });
  const params = model.parameterCount();
  const batch = randomBatch(BATCH, 7);
  const fisherBatch = randomBatch(FISHER_SAMPLES, 11);
  const loss = () => model.loss(batch, { training: true });
  const fisherLoss = (i: number) => tf.tidy(() => model.loss(sliceExample(fisherBatch, i), { training: false }));

  const adam = tf.train.adam(1e-5);
  const sam = new SAM(tf.train.adam(1e-5), { rho: 0.05 });
  const fsam = new FisherSAM(tf.train.adam(1e-5), {
    rho: 0.05,
    sparsity: 0.9,
    maskInterval: MASK_INTERVAL,
    fisherSamples: FISHER_SAMPLES,
    fisherLoss,
  });
  const efficient = { rho: 0.05, beta: 0.5, gamma: 0.5, seed: 1 };
  const esam = new ESAM(tf.train.adam(1e-5), efficient);
  const esamFreeze = new ESAM(tf.train.adam(1e-5), { ...efficient, weightSampling: "freeze-tensors" });
  const fesam = new FisherESAM(tf.train.adam(1e-5), {
    ...efficient,
    sparsity: 0.9,
    maskInterval: MASK_INTERVAL,
    fisherSamples: FISHER_SAMPLES,
    fisherLoss,
  });
  const stepOf = (opt: tf.Optimizer) => () => {
    const cost = opt.minimize(loss, true, model.variables) as tf.Scalar;
    cost.dataSync();
    cost.dispose();
  };
  const perExample = perExampleLoss(model, batch, { training: true });
  const efficientStepOf = (opt: ESAM | FisherESAM) => () => {
    const cost = opt.minimize(perExample, true, model.variables) as tf.Scalar;
    cost.dataSync();
    cost.dispose();
  };

  // FSAM's and Fisher-ESAM's first calls (a warm-up round) refresh the mask at step 0; the timed
  // steps are steady.
  const perStep = timeInterleaved(
    {
      adam: stepOf(adam),
      sam: stepOf(sam),
      fsam: stepOf(fsam),
      esam: efficientStepOf(esam),
      esamFreeze: efficientStepOf(esamFreeze),
      fesam: efficientStepOf(fesam),
    },
    steps,
  );

  // The mask refresh (N_F batch-1 gradients, squared and accumulated, then the global top-k),
  // timed between blocks of plain batch-1 gradients and batch-1 Adam steps for the comparison.
  // Both cycle through the Fisher examples, as the refresh does.
  let next = 0;
  const exampleLoss = () => fisherLoss(next++ % FISHER_SAMPLES);
  const gradOne = () => {
    const { value, grads } = tf.variableGrads(exampleLoss, model.variables);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const adamOne = tf.train.adam(1e-5);
  const adamStepOne = () => {
    const cost = adamOne.minimize(exampleLoss, true, model.variables) as tf.Scalar;
    cost.dataSync();
    cost.dispose();
  };
  const blocks = { gradOne: [] as Timing[], adamOne: [] as Timing[], refresh: [] as Timing[] };
  for (let r = 0; r < 2; r++) {
    for (let i = 0; i < 2 + 8; i++) {
      const g = timeOnce(gradOne);
      const a = timeOnce(adamStepOne);
      if (i >= 2) {
        blocks.gradOne.push(g);
        blocks.adamOne.push(a);
      }
    }
    blocks.refresh.push(timeOnce(() => fsam.updateMask(model.variables)));
  }
  const gradOneT = medianTiming(blocks.gradOne);
  const adamOneT = medianTiming(blocks.adamOne);
  const refreshT = { wall: Math.min(...blocks.refresh.map((t) => t.wall)), cpu: Math.min(...blocks.refresh.map((t) => t.cpu)) };
  const tensorsBefore = tf.memory().numTensors;
  stepOf(fsam)();
  const tensorsAfter = tf.memory().numTensors;

  const peakAdam = await peakBytes(stepOf(adam));
  const peakSam = await peakBytes(stepOf(sam));
  const peakFsam = await peakBytes(stepOf(fsam));

  const flopsStep = 3 * forwardFlops(BATCH * SEQ);
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const verdict = (ok: boolean) => (ok ? "meets target" : "MISSES target");
  const row = (label: string, t: Timing, flops?: number) =>
    `${label.padEnd(16)}${t.wall.toFixed(0).padStart(8)} ms wall ${t.cpu.toFixed(0).padStart(8)} ms CPU` +
    (flops ? `   ${(flops / t.cpu / 1e6).toFixed(2)} GFLOP/s (per CPU-second)` : "");
  console.log(`parameters: ${params.toLocaleString("en-US")}; ≈${(flopsStep / 1e9).toFixed(2)} GFLOP per forward+backward`);
  console.log(row("Adam", perStep.adam, flopsStep));
  console.log(row("SAM", perStep.sam, 2 * flopsStep));
  console.log(row("FSAM (steady)", perStep.fsam, 2 * flopsStep));
  console.log(row("ESAM", perStep.esam));
  console.log(row("ESAM freeze", perStep.esamFreeze));
  console.log(row("F-ESAM (steady)", perStep.fesam));
  console.log(row("FSAM refresh", refreshT) + `   (N_F=${FISHER_SAMPLES} per-sample gradients + top-k, best of 2)`);
  console.log(row("batch-1 grad", gradOneT));
  console.log(row("batch-1 Adam", adamOneT));
  for (const clock of ["cpu", "wall"] as const) {
    const samOverAdam = perStep.sam[clock] / perStep.adam[clock];
    const amortised = (perStep.fsam[clock] + refreshT[clock] / MASK_INTERVAL) / perStep.sam[clock];
    const refreshRatio = refreshT[clock] / (FISHER_SAMPLES * gradOneT[clock]);
    console.log(`ratios on ${clock} time:`);
    console.log(`  SAM/Adam                    ${samOverAdam.toFixed(3)}  (target ≤ 2.1: ${verdict(samOverAdam <= 2.1)})`);
    console.log(`  FSAM/SAM steady             ${(perStep.fsam[clock] / perStep.sam[clock]).toFixed(3)}`);
    console.log(`  FSAM/SAM amortised T_m=${MASK_INTERVAL}  ${amortised.toFixed(3)}  (target ≤ 1.10: ${verdict(amortised <= 1.1)})`);
    console.log(`  refresh/(${FISHER_SAMPLES}×batch-1 grad)   ${refreshRatio.toFixed(3)}  (target ≤ 1.10: ${verdict(refreshRatio <= 1.1)})`);
    console.log(`  refresh/(${FISHER_SAMPLES}×batch-1 Adam)   ${(refreshT[clock] / (FISHER_SAMPLES * adamOneT[clock])).toFixed(3)}`);
    const esamRatio = perStep.esam[clock] / perStep.sam[clock];
    const esamVerdict = esamRatio < 0.95 ? "ESAM is cheaper" : esamRatio > 1.05 ? "ESAM is dearer" : "about SAM's cost";
    console.log(`  ESAM/SAM (β=γ=0.5)          ${esamRatio.toFixed(3)}  (${esamVerdict})`);
    console.log(`  ESAM freeze-tensors/SAM     ${(perStep.esamFreeze[clock] / perStep.sam[clock]).toFixed(3)}`);
    const fesamAmortised = (perStep.fesam[clock] + refreshT[clock] / MASK_INTERVAL) / perStep.sam[clock];
    console.log(`  Fisher-ESAM/SAM steady      ${(perStep.fesam[clock] / perStep.sam[clock]).toFixed(3)}; amortised T_m=${MASK_INTERVAL} ${fesamAmortised.toFixed(3)}`);
  }
  console.log(`peak tf.memory bytes per step: Adam ${mb(peakAdam)}, SAM ${mb(peakSam)}, FSAM ${mb(peakFsam)}`);
  console.log(`process peak RSS: ${mb(process.resourceUsage().maxRSS * 1024)}; tensors across an FSAM step: ${tensorsBefore} → ${tensorsAfter}`);

  adam.dispose();
  adamOne.dispose();
  sam.dispose();
  fsam.dispose();
  for (const o of [esam, esamFreeze, fesam]) o.dispose();
  for (const b of [batch, fisherBatch]) tf.dispose(Object.values(b));
  model.dispose();
}

await main();
