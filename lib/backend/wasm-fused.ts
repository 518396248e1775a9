/**
 * The fused kernels of the wasm backend (lib/backend/wasm-simd.ts's SIMD code behind tfjs kernel
 * names): registered together on the backend's memory, removed together, and looked up by the
 * library code that uses them when the active backend has them (other backends keep their op chains).
 */
import * as tf from "@tensorflow/tfjs";
import { ADAMW_UPDATE, adamWUpdate } from "./wasm-adamw.ts";
import { DROPOUT_MASK, dropoutMaskKernel } from "./wasm-dropout-mask.ts";
import { PERTURB, perturbKernel, SQUARED_NORM, squaredNormKernel } from "./wasm-sam-kernels.ts";
import { GELU, GELU_GRAD, geluGradKernel, geluKernel, registerGeluGradients } from "./wasm-gelu.ts";
import { instantiateSimdKernels, wasmBackendMemory, type SimdKernels } from "./wasm-simd.ts";

/** Kernel name → builder of its kernel function over the SIMD kernels. */
const FUSED: [string, (kernels: SimdKernels) => tf.KernelFunc][] = [
  [ADAMW_UPDATE, adamWUpdate],
  [DROPOUT_MASK, dropoutMaskKernel],
  [SQUARED_NORM, squaredNormKernel],
  [PERTURB, perturbKernel],
  [GELU, geluKernel],
  [GELU_GRAD, geluGradKernel],
];

/** Registers every fused kernel for the wasm backend on `kernels`, replacing earlier registrations. */
export function registerFusedKernels(kernels: SimdKernels): void {
  unregisterFusedKernels();
  for (const [kernelName, build] of FUSED) tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: build(kernels) });
  registerGeluGradients();
}

/**
 * Binds the SIMD kernels to the active wasm backend's memory and registers the fused kernels;
 * `false` (the op chains stay) when that fails.
 */
export async function installFusedKernels(): Promise<boolean> {
  try {
    registerFusedKernels(await instantiateSimdKernels(wasmBackendMemory()));
    return true;
  } catch {
    return false;
  }
}

/** Removes the fused kernels (for benchmarks and tests comparing them with the op chains). */
export function unregisterFusedKernels(): void {
  for (const [kernelName] of FUSED) if (tf.getKernel(kernelName, "wasm") !== undefined) tf.unregisterKernel(kernelName, "wasm");
}

/** Whether the active backend runs the fused kernel `kernelName`. */
export function hasFusedKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}
