// Benchmark of the wasm kernel patches (lib/backend/wasm-matmul.ts, wasm-sum.ts, wasm-gather.ts,
// wasm-identity.ts):
// median ms of the original tfjs-backend-wasm kernels ("before") vs the patched ones ("after") on
// the same tensors, on the shapes of a BERT-tiny training step (batch 32 × sequence 128). Where
// OpenBLAS is loaded (lib/backend/blas.ts) "after" is measured with it on and off (products and
// leading-axis sums), at its default thread count.
// Run: npx tsx bench/wasm-kernels.ts [runs]   (default 7 timed runs after one warm-up per case)
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { wasmMatMulPatch } from "../lib/backend/wasm-matmul.ts";
import { wasmSumPatch } from "../lib/backend/wasm-sum.ts";
import { wasmGatherPatch } from "../lib/backend/wasm-gather.ts";
import { wasmIdentityPatch } from "../lib/backend/wasm-identity.ts";
import { describeBlas, loadBlas, setBlasEnabled } from "../lib/backend/blas.ts";

/** Each patch, to compare its kernels with the originals. */
const patches = { matmul: wasmMatMulPatch, sum: wasmSumPatch, gather: wasmGatherPatch, identity: wasmIdentityPatch };

const runs = Number(process.argv[2] ?? 7);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a positive integer, got "${process.argv[2]}"`);

/** One benchmark case: `make` creates the inputs, `step` does the timed work and returns outputs. */
interface Case {
  name: string;
  /** The patch the case measures (default matmul). */
  patch?: keyof typeof patches;
  make: () => tf.Tensor[];
  step: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
}

/** Median wall-clock ms of `step` (including reading every output back) over `runs` runs. */
function medianMs(c: Case, xs: tf.Tensor[]): number {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const out = tf.tidy(() => {
      const r = c.step(...xs);
      return Array.isArray(r) ? r : [r];
    });
    for (const t of out) t.dataSync();
    const ms = performance.now() - t0;
    tf.dispose(out);
    if (i > 0) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const normal = (shape: number[]) => () => tf.randomNormal(shape, 0, 1, "float32", 1);
const tokens = 32 * 128; // BERT-tiny batch 32 × sequence 128

const cases: Case[] = [
  { name: "128x4096 · 4096x512 plain", make: () => [normal([128, 4096])(), normal([4096, 512])()], step: (a, b) => tf.matMul(a, b) },
  { name: "128x4096 · 4096x512 transA", make: () => [normal([4096, 128])(), normal([4096, 512])()], step: (a, b) => tf.matMul(a, b, true, false) },
  { name: "128x4096 · 4096x512 transB", make: () => [normal([128, 4096])(), normal([512, 4096])()], step: (a, b) => tf.matMul(a, b, false, true) },
  { name: "128x4096 · 4096x512 both", make: () => [normal([4096, 128])(), normal([512, 4096])()], step: (a, b) => tf.matMul(a, b, true, true) },
  {
    name: "dense 128→512 fwd+bwd [4096,128]",
    make: () => [normal([tokens, 128])(), normal([128, 512])(), normal([tokens, 512])()],
    step: (x, w, dy) => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q))([x, w], dy),
  },
  {
    name: "dense 512→128 fwd+bwd [4096,512]",
    make: () => [normal([tokens, 512])(), normal([512, 128])(), normal([tokens, 128])()],
    step: (x, w, dy) => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.matMul(p, q))([x, w], dy),
  },
  {
    name: "fused dense+bias 128→512 fwd+bwd",
    make: () => [normal([tokens, 128])(), normal([128, 512])(), normal([512])(), normal([tokens, 512])()],
    step: (x, w, b, dy) =>
      tf.grads((p: tf.Tensor, q: tf.Tensor, c: tf.Tensor) => tf.fused.matMul({ a: p, b: q, bias: c }))([x, w, b], dy),
  },
  {
    name: "attention QKᵀ [64,128,64] fwd+bwd",
    make: () => [normal([64, 128, 64])(), normal([64, 128, 64])(), normal([64, 128, 128])()],
    step: (q, k, dy) => tf.grads((p: tf.Tensor, r: tf.Tensor) => tf.matMul(p, r, false, true))([q, k], dy),
  },
  {
    name: "dense on 3-D [32,128,128]·[128,512]",
    make: () => [normal([32, 128, 128])(), normal([128, 512])()],
    step: (x, w) => tf.matMul(x, w),
  },
  { name: "bias grad: sum [4096,128] over rows", patch: "sum", make: () => [normal([tokens, 128])()], step: (x) => tf.sum(x, 0) },
  { name: "bias grad: sum [4096,512] over rows", patch: "sum", make: () => [normal([tokens, 512])()], step: (x) => tf.sum(x, 0) },
  {
    name: "embedding lookup [30522,128] × 4096",
    patch: "gather",
    make: () => [normal([30522, 128])(), tf.randomUniform([tokens], 0, 30522, "int32", 2)],
    step: (table, ids) => tf.gather(table, ids),
  },
  {
    name: "token types [2,128] × 4096",
    patch: "gather",
    make: () => [normal([2, 128])(), tf.zeros([tokens], "int32")],
    step: (table, ids) => tf.gather(table, ids),
  },
  {
    name: "20 clones of a [4096,512] activation",
    patch: "identity",
    make: () => [normal([tokens, 512])()],
    step: (x) => Array.from({ length: 20 }, () => tf.clone(x)),
  },
];

await tf.setBackend("wasm");
const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
const blas = loadBlas();
console.log(`tfjs ${tf.version.tfjs} wasm backend (SIMD ${simd}), ${blas ? `OpenBLAS ${describeBlas(blas)}` : "no OpenBLAS"}, median of ${runs} runs, ms`);
console.log(
  `${"case".padEnd(38)} ${"before".padStart(9)} ${"after".padStart(9)} ${"speed-up".padStart(9)}` +
    (blas ? ` ${"OpenBLAS".padStart(9)} ${"speed-up".padStart(9)}` : ""),
);
for (const c of cases) {
  const xs = c.make();
  const patch = patches[c.patch ?? "matmul"];
  patch.uninstall();
  const before = medianMs(c, xs);
  patch.install();
  setBlasEnabled(false);
  const after = medianMs(c, xs);
  setBlasEnabled(true);
  const usesBlas = (c.patch ?? "matmul") === "matmul" || c.patch === "sum";
  const withBlas = blas && usesBlas ? medianMs(c, xs) : undefined;
  tf.dispose(xs);
  console.log(
    `${c.name.padEnd(38)} ${before.toFixed(1).padStart(9)} ${after.toFixed(1).padStart(9)} ${(before / after).toFixed(1).padStart(8)}×` +
      (withBlas !== undefined ? ` ${withBlas.toFixed(1).padStart(9)} ${(before / withBlas).toFixed(1).padStart(8)}×` : ""),
  );
}
