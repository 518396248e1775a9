import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { activate } from "../lib/models/ops.ts";
import { installFusedKernels, unregisterFusedKernels } from "../lib/backend/wasm-fused.ts";
await initBackend({ backend: "wasm" });
const x = tf.tensor(Float32Array.from({ length: 2000003 }, (_, i) => -12 + 24 * i / 2000003));
const f = (t: tf.Tensor) => tf.sum(tf.mul(activate(t, "gelu"), tf.sin(t)));
for (const on of [false, true, false, true]) {
  if (on) await installFusedKernels(); else unregisterFusedKernels();
  const t0 = performance.now();
  const y = activate(x, "gelu"); const g = tf.grad(f)(x);
  const yd = y.dataSync(), gd = g.dataSync();
  console.log(on ? "fused" : "chain", (performance.now() - t0).toFixed(0), "ms", yd[1000000], gd[1000000], yd[100], gd[100]);
  tf.dispose([y, g]);
}
