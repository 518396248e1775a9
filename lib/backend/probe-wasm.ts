/**
 * Probe for the `wasm` backend (`@tensorflow/tfjs-backend-wasm`, XNNPACK compiled to WebAssembly).
 * On success it also installs {@link wasmMatMulPatch}, which makes transposed and batched matrix
 * products 10–30× faster on this backend and fixes its fused-bias bug, and {@link wasmSumPatch} /
 * {@link wasmGatherPatch}, which make sums over leading axes and row gathers about 10× faster, and
 * {@link wasmIdentityPatch} / {@link wasmSameDtypeCastPatch}, which stop copying every tensor saved
 * for the backward pass and every float32-to-float32 cast. Where
 * OpenBLAS and the koffi package are present, the matrix products run on OpenBLAS (lib/backend/blas.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { firstLine, type ProbeResult } from "./probe.ts";
import { wasmMatMulPatch } from "./wasm-matmul.ts";
import { wasmSumPatch } from "./wasm-sum.ts";
import { wasmGatherPatch } from "./wasm-gather.ts";
import { wasmIdentityPatch, wasmSameDtypeCastPatch } from "./wasm-identity.ts";
import { describeBlas, loadBlas } from "./blas.ts";
import { installWasmMemoryGuard } from "./wasm-memory-guard.ts";
import { installFusedKernels } from "./wasm-fused.ts";

/** Every kernel patch of the wasm backend, installed together. */
export const WASM_KERNEL_PATCHES = [wasmMatMulPatch, wasmSumPatch, wasmGatherPatch, wasmIdentityPatch, wasmSameDtypeCastPatch];

/** The parts of `@tensorflow/tfjs-backend-wasm` the probe reads. */
interface WasmModule {
  getThreadsCount(): number;
}

/**
 * Activates the `wasm` backend and patches its matrix-product kernels.
 *
 * @throws Error when the package or its .wasm binary cannot be loaded.
 */
export async function probeWasm(): Promise<ProbeResult> {
  let wasm: WasmModule;
  try {
    wasm = (await import("@tensorflow/tfjs-backend-wasm")) as unknown as WasmModule;
  } catch (error) {
    throw new Error(`@tensorflow/tfjs-backend-wasm did not load: ${firstLine(error)}`);
  }
  const patched = WASM_KERNEL_PATCHES.every((patch) => patch.install());
  if (!(await tf.setBackend("wasm"))) {
    throw new Error(`tf.setBackend("wasm") failed (the .wasm binary could not be instantiated)`);
  }
  const fastKernels = patched && (await installFusedKernels());
  // A tensor too big for wasm memory: a clear error, not a corrupted heap (see wasm-memory-guard.ts).
  installWasmMemoryGuard();
  const simd = (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) === true;
  const blas = loadBlas();
  return { device: "CPU", simd, threads: wasm.getThreadsCount(), fastKernels, ...(blas && { blas: describeBlas(blas) }) };
}
