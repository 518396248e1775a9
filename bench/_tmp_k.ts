import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { dropoutMask } from "../lib/models/dropout-mask.ts";
import { GELU } from "../lib/backend/wasm-gelu.ts";
await initBackend({ backend: "wasm" });
const x = tf.randomNormal([4096, 512]);
for (let r = 0; r < 12; r++) {
  let t0 = performance.now(); const m = dropoutMask([32, 2, 128, 128], 0.1, r); const a = performance.now() - t0;
  t0 = performance.now(); const y = tf.engine().runKernel(GELU, { x }) as tf.Tensor; const b = performance.now() - t0;
  t0 = performance.now(); const z = tf.mul(x, 0.5); const c = performance.now() - t0;
  console.log(`dropout 1M ${a.toFixed(1)} ms, gelu 2M ${b.toFixed(1)} ms, mul 2M ${c.toFixed(1)} ms`);
  tf.dispose([m, y, z]);
}
