import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { dropoutMask, dropoutMultiplier } from "../lib/models/dropout-mask.ts";
await initBackend({ backend: "wasm" });
for (const [n, rate, seed] of [[1, 0.1, 0], [7, 0.5, 3], [4096 * 128 + 3, 0.1, 123456], [33, 0.9, 2 ** 31 - 1]] as const) {
  const t = dropoutMask([n], rate, seed); const a = t.dataSync(); const b = dropoutMultiplier(n, rate, seed);
  let diff = 0; for (let i = 0; i < n; i++) if (a[i] !== b[i]) diff++;
  let kept = 0; for (let i = 0; i < n; i++) if (b[i] !== 0) kept++;
  console.log(n, rate, "diffs", diff, "kept frac", (kept / n).toFixed(4)); t.dispose();
}
const N = 4_700_000; let t0 = performance.now(); for (let r = 0; r < 5; r++) dropoutMask([N], 0.1, r).dispose(); console.log("simd ms", ((performance.now() - t0) / 5).toFixed(1));
t0 = performance.now(); for (let r = 0; r < 3; r++) dropoutMultiplier(N, 0.1, r); console.log("js ms", ((performance.now() - t0) / 3).toFixed(1));
