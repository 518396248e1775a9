/**
 * The dropout multiplier of lib/models/dropout-mask.ts computed on the wasm heap by the SIMD kernel
 * `dropout_mask` (lib/backend/wasm-simd.ts), four hashed counters at a time: registered as the tfjs
 * kernel {@link DROPOUT_MASK} for the wasm backend (lib/backend/wasm-fused.ts).
 */
import type * as tf from "@tensorflow/tfjs";
import { heapAddress, sizeOf, type WasmBackendLike } from "./kernel-patch.ts";
import type { SimdKernels } from "./wasm-simd.ts";

/** The kernel's name: `tf.engine().runKernel(DROPOUT_MASK, {}, attrs)` → the float32 multiplier. */
export const DROPOUT_MASK = "FsamDropoutMask";

/** A dropout call's mask: output shape, hash keys (int32 bit patterns), keep threshold (unsigned bits in an int32) and scale. */
export interface DropoutMaskAttrs {
  shape: number[];
  k1: number;
  k2: number;
  threshold: number;
  scale: number;
}

/** The kernel function over `kernels`. */
export function dropoutMaskKernel(kernels: SimdKernels): tf.KernelFunc {
  return ({ backend, attrs }) => {
    const { shape, k1, k2, threshold, scale } = attrs as unknown as DropoutMaskAttrs;
    const wasm = backend as unknown as WasmBackendLike;
    const out = wasm.makeOutput(shape, "float32");
    kernels.dropoutMask(heapAddress(wasm, out), k1, k2, threshold, scale, sizeOf(shape));
    return out;
  };
}
