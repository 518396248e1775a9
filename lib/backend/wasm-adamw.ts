/**
 * One AdamW update of a float32 variable in a single pass over the wasm heap. The op chain of
 * lib/train/adamw.ts runs 15 kernels per variable (mul, add, square, div, sqrt, sub …), each a full
 * pass that reads one or two arrays and writes a new one: 80 ms per bert-tiny step (4.4 M
 * parameters, most of them the word embeddings, whose dense gradient Adam updates like PyTorch).
 * {@link ADAMW_UPDATE} does the same float32 operations in the same order in one pass of SIMD code
 * (lib/backend/wasm-simd.ts), so its outputs are bit-identical to the op chain's (tested). (A
 * JavaScript loop with `Math.fround` after every operation gives the same bits too, but measured
 * 1.6× slower than the op chain.) Outputs are new buffers: tensors never change in place (a clone or
 * a held copy may share a variable's data, lib/backend/wasm-identity.ts).
 *
 * Registered for the wasm backend only (lib/backend/wasm-fused.ts; `initBackend` installs it);
 * `AdamW` runs it when the active backend has it and falls back to the op chain otherwise.
 */
import * as tf from "@tensorflow/tfjs";
import { heapAddress, sizeOf, type WasmBackendLike } from "./kernel-patch.ts";
import type { SimdKernels } from "./wasm-simd.ts";

/** The kernel's name: `tf.engine().runKernel(ADAMW_UPDATE, {w, g, m, v}, attrs)` → `[w, m, v]`. */
export const ADAMW_UPDATE = "FsamAdamWUpdate";

/**
 * The scalars of one update, as the op chain uses them (each is rounded to float32 first, as a
 * number operand of a tfjs op is):
 *   g ← g + l2·w;  m ← m·beta1 + g·oneMinusBeta1;  v ← v·beta2 + (g·g)·oneMinusBeta2;
 *   w ← w·decay − ((m ÷ c1) ÷ (√(v ÷ c2) + epsilon))·lr.
 * `l2` 0 skips the first line and `decay` 1 the multiplication (as the op chain does).
 */
export interface AdamWUpdateAttrs {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  c1: number;
  c2: number;
  epsilon: number;
  lr: number;
  decay: number;
  l2: number;
  [key: string]: number;
}

/** The kernel function over `kernels`: three new float32 outputs of `w`'s shape. */
export function adamWUpdate(kernels: SimdKernels): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { w, g, m, v } = inputs as Record<"w" | "g" | "m" | "v", tf.TensorInfo>;
    const a = attrs as unknown as AdamWUpdateAttrs;
    const wasm = backend as unknown as WasmBackendLike;
    const outputs = [w, m, v].map((x) => wasm.makeOutput(x.shape, "float32"));
    // Offsets are read after the outputs exist (allocating can grow the heap; offsets stay valid).
    const [pw, pg, pm, pv, pw1, pm1, pv1] = [w, g, m, v, ...outputs].map((x) => heapAddress(wasm, x));
    const flags = (a.decay !== 1 ? 1 : 0) | (a.l2 !== 0 ? 2 : 0);
    kernels.adamw(
      pw, pg, pm, pv, pw1, pm1, pv1,
      a.beta1, a.oneMinusBeta1, a.beta2, a.oneMinusBeta2, a.c1, a.c2, a.epsilon, a.lr, a.decay, a.l2, flags, sizeOf(w.shape),
    );
    return outputs;
  };
}
