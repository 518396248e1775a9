/**
 * Two fused wasm kernels for SAM's step over all parameters (lib/backend/wasm-simd.ts's SIMD code):
 * {@link SQUARED_NORM}, Σx² of a tensor in one read pass with float64 accumulation (tfjs squares into
 * a new tensor, then sums it with a scalar float32 loop), and {@link PERTURB}, the perturbed weights
 * w + (g·scale)·mask in one pass (tfjs: two or three passes and as many new tensors), bit-identical
 * to the op chain. Used through lib/backend/fused-ops.ts.
 */
import type * as tf from "@tensorflow/tfjs";
import { heapAddress, sizeOf, type WasmBackendLike } from "./kernel-patch.ts";
import type { SimdKernels } from "./wasm-simd.ts";

/** `runKernel(SQUARED_NORM, {x})` → a float32 scalar, Σx². */
export const SQUARED_NORM = "FsamSquaredNorm";
/** `runKernel(PERTURB, {w, g, scale[, mask]})` → w + (g·scale)·mask, `scale` a float32 scalar tensor. */
export const PERTURB = "FsamPerturb";

/** The {@link SQUARED_NORM} kernel function over `kernels`. */
export function squaredNormKernel(kernels: SimdKernels): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    const wasm = backend as unknown as WasmBackendLike;
    const out = wasm.makeOutput([], "float32");
    const sum = kernels.sumSquares(heapAddress(wasm, x), sizeOf(x.shape));
    (wasm.typedArrayFromHeap(out) as Float32Array)[0] = sum;
    return out;
  };
}

/** The {@link PERTURB} kernel function over `kernels`. */
export function perturbKernel(kernels: SimdKernels): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const { w, g, scale, mask } = inputs as Record<"w" | "g" | "scale", tf.TensorInfo> & { mask?: tf.TensorInfo };
    const wasm = backend as unknown as WasmBackendLike;
    const out = wasm.makeOutput(w.shape, "float32");
    const s = (wasm.typedArrayFromHeap(scale) as Float32Array)[0];
    kernels.perturb(heapAddress(wasm, w), heapAddress(wasm, g), mask ? heapAddress(wasm, mask) : 0, heapAddress(wasm, out), s, mask ? 1 : 0, sizeOf(w.shape));
    return out;
  };
}
