// Interleaved A/B of lib/models' analytic-gradient LayerNorm + GELU (lib/models/analytic-ops.ts) against
// tfjs's autodiff of the plain formulas (`withAutodiffOps`): one full Adam training step (forward,
// backward, update; dropout on) of bert-tiny and bert-mini at batch 32 × sequence 128 on wasm,
// after the two ops alone (forward + backward) at bert-mini's sizes.
// Calls alternate A, B, A, B, ... in one process so that machine load hits both alike; prints the
// median wall and process-CPU ms per call of each, the median per-pair ratio, and the kernel calls
// one step of each runs.
// Run: OPENBLAS_NUM_THREADS=1 npx tsx bench/ops-ab.ts [pairs] [presets...]   (default 6 timed pairs of steps, 3× that of the ops; bert-tiny bert-mini)
import * as tf from "@tensorflow/tfjs";
import { formatBackendInfo, initBackend } from "../lib/backend.ts";
import type { BertPresetName } from "../lib/models/config.ts";
import { withAutodiffOps } from "../lib/models/analytic-ops.ts";
import { activate, layerNorm } from "../lib/models/ops.ts";
import { bertAdamStep } from "./bert-step.ts";

const [pairsArg, ...presetArgs] = process.argv.slice(2);
const pairs = Number(pairsArg ?? 6);
if (!Number.isInteger(pairs) || pairs < 1) throw new Error(`pairs must be a positive integer, got "${pairsArg}"`);
const presets = (presetArgs.length > 0 ? presetArgs : ["bert-tiny", "bert-mini"]) as BertPresetName[];
const BATCH = 32;
const SEQ = 128;
const WARMUP_PAIRS = 2;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Runs `step` plainly (analytic ops) and under `withAutodiffOps`, alternating, `pairs` timed pairs
 * after the warm-up; prints medians (wall and process-CPU ms), the kernel calls of one call of each,
 * and the median per-pair ratio.
 */
async function ab(title: string, step: () => void, pairs: number): Promise<void> {
  const variants: [string, () => void][] = [
    ["analytic (analytic-ops)", step],
    ["autodiff (withAutodiffOps)", () => withAutodiffOps(step)],
  ];
  // Wall-clock and process-CPU ms per call, by variant.
  const wall: number[][] = variants.map(() => []);
  const cpu: number[][] = variants.map(() => []);
  for (let i = 0; i < WARMUP_PAIRS + pairs; i++) {
    // Alternate which variant goes first in a pair, so neither always follows the other.
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const v of order) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      variants[v][1]();
      const c = process.cpuUsage(c0);
      if (i < WARMUP_PAIRS) continue;
      wall[v].push(performance.now() - t0);
      cpu[v].push((c.user + c.system) / 1000);
    }
  }
  const counts: number[] = [];
  for (const [, f] of variants) counts.push((await tf.profile(f)).kernels.length);
  console.log(`${title}: ${pairs} interleaved pairs (after ${WARMUP_PAIRS} warm-up pairs), medians`);
  variants.forEach(([name], v) => {
    const all = wall[v].map((t) => t.toFixed(0)).join(" ");
    console.log(
      `  ${name.padEnd(28)} ${median(wall[v]).toFixed(1).padStart(7)} ms (cpu ${median(cpu[v]).toFixed(1).padStart(7)} ms)` +
        `  ${String(counts[v]).padStart(5)} kernel calls  wall [${all}]`,
    );
  });
  // Per-pair ratios: each pair ran back to back, so they cancel slow drifts in machine load.
  const ratio = (xs: number[][]) => median(xs[0].map((a, i) => a / xs[1][i]));
  const [rWall, rCpu] = [ratio(wall), ratio(cpu)];
  console.log(
    `  analytic / autodiff, median per pair: wall ${rWall.toFixed(3)} (${((1 - rWall) * 100).toFixed(1)} % less), ` +
      `cpu ${rCpu.toFixed(3)} (${((1 - rCpu) * 100).toFixed(1)} % less)`,
  );
}

/** Forward + backward of `f` on `inputs` for a random upstream gradient, values read back. */
function opStep(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): () => void {
  return () =>
    tf.tidy(() => {
      const grads = tf.grads(f)(inputs, tf.onesLike(f(...inputs)));
      grads.forEach((g) => g.dataSync());
    });
}

const info = await initBackend({ backend: "wasm" });
console.log(formatBackendInfo(info));
console.log(`batch ${BATCH} × seq ${SEQ}, OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS ?? "(unset)"}`);
// The ops alone at bert-mini's sizes (hidden 256, intermediate 1024), 4096 tokens.
const tokens = BATCH * SEQ;
const x = tf.randomNormal([tokens, 256], 0, 1, "float32", 1);
const gamma = tf.randomNormal([256], 1, 0.1, "float32", 2) as tf.Tensor1D;
const beta = tf.randomNormal([256], 0, 0.1, "float32", 3) as tf.Tensor1D;
const inner = tf.randomNormal([tokens, 1024], 0, 1, "float32", 4);
await ab(`layerNorm fwd+bwd [${tokens}, 256]`, opStep((a, g, b) => layerNorm(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-12), [x, gamma, beta]), 3 * pairs);
await ab(`gelu fwd+bwd [${tokens}, 1024]`, opStep((a) => activate(a, "gelu"), [inner]), 3 * pairs);
tf.dispose([x, gamma, beta, inner]);
for (const preset of presets) {
  const { step, dispose } = bertAdamStep(preset, BATCH, SEQ);
  await ab(`${preset} Adam training step (dropout on)`, step, pairs);
  dispose();
}
