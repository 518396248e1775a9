// Interleaved A/B of lib/models' analytic-gradient LayerNorm + GELU (lib/models/fused-ops.ts) against
// tfjs's autodiff of the plain formulas (`withAutodiffOps`): one full Adam training step (forward,
// backward, update; dropout on) of bert-tiny and bert-mini at batch 32 × sequence 128 on wasm.
// Steps alternate A, B, A, B, ... in one process so that machine load hits both alike; prints the
// median ms per step of each and their ratio, plus the kernel calls one step of each runs.
// Run: OPENBLAS_NUM_THREADS=1 npx tsx bench/ops-ab.ts [pairs] [presets...]   (default 6 timed pairs, bert-tiny bert-mini)
import * as tf from "@tensorflow/tfjs";
import { formatBackendInfo, initBackend } from "../lib/backend.ts";
import type { BertPresetName } from "../lib/models/config.ts";
import { withAutodiffOps } from "../lib/models/fused-ops.ts";
import { bertAdamStep } from "./bert-step.ts";

const [pairsArg, ...presetArgs] = process.argv.slice(2);
const pairs = Number(pairsArg ?? 6);
if (!Number.isInteger(pairs) || pairs < 1) throw new Error(`pairs must be a positive integer, got "${pairsArg}"`);
const presets = (presetArgs.length > 0 ? presetArgs : ["bert-tiny", "bert-mini"]) as BertPresetName[];
const BATCH = 32;
const SEQ = 128;
const WARMUP_PAIRS = 2;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function abModel(preset: BertPresetName): Promise<void> {
  const { step, dispose } = bertAdamStep(preset, BATCH, SEQ);
  const variants: [string, () => void][] = [
    ["analytic (fused-ops)", step],
    ["autodiff (withAutodiffOps)", () => withAutodiffOps(step)],
  ];
  const times: number[][] = variants.map(() => []);
  for (let i = 0; i < WARMUP_PAIRS + pairs; i++) {
    // Alternate which variant goes first in a pair, so neither always follows the other.
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const v of order) {
      const t0 = performance.now();
      variants[v][1]();
      if (i >= WARMUP_PAIRS) times[v].push(performance.now() - t0);
    }
  }
  const counts: number[] = [];
  for (const [, f] of variants) counts.push((await tf.profile(f)).kernels.length);
  const [a, b] = times.map(median);
  console.log(`${preset}: median of ${pairs} interleaved steps each (after ${WARMUP_PAIRS} warm-up pairs)`);
  variants.forEach(([name], v) => {
    const all = times[v].map((t) => t.toFixed(0)).join(" ");
    console.log(`  ${name.padEnd(28)} ${median(times[v]).toFixed(1).padStart(7)} ms/step  ${String(counts[v]).padStart(5)} kernel calls  [${all}]`);
  });
  console.log(`  analytic / autodiff = ${(a / b).toFixed(3)} (${((1 - a / b) * 100).toFixed(1)} % less time per step)`);
  dispose();
}

const info = await initBackend({ backend: "wasm" });
console.log(formatBackendInfo(info));
console.log(`batch ${BATCH} × seq ${SEQ}, Adam step, training mode (dropout on); OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS ?? "(unset)"}`);
for (const preset of presets) await abModel(preset);
