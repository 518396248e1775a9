/**
 * Replacing kernels of the tfjs wasm backend with faster ones while keeping the originals (to call
 * them on the cases they handle well, and to restore them for benchmarks and tests).
 */
import * as tf from "@tensorflow/tfjs";

/** The parts of tfjs-backend-wasm's `BackendWasm` that patched kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** A set of wasm kernels replaced together. */
export interface WasmKernelPatch {
  /**
   * Installs the replacements. Idempotent: a second call changes nothing.
   *
   * @returns `true` when the patch is in place afterwards.
   * @throws Error when `@tensorflow/tfjs-backend-wasm` has not been imported (no wasm kernels registered).
   */
  install(): boolean;
  /** Restores the original kernels; does nothing when the patch is not installed. */
  uninstall(): void;
  /** Whether the patch is currently installed. */
  installed(): boolean;
}

/**
 * A patch of the named wasm kernels: each is re-registered with `wrap(original kernel function)`
 * (the original kernels' setup and dispose functions are kept, so it works before or after
 * `tf.setBackend("wasm")`).
 *
 * @param label name used in error messages (the public patch function).
 * @param kernelNames kernels replaced together.
 * @param wrap builds the replacement kernel function around the original one.
 */
export function wasmKernelPatch(label: string, kernelNames: readonly string[], wrap: (original: tf.KernelFunc) => tf.KernelFunc): WasmKernelPatch {
  const originals = new Map<string, tf.KernelConfig>();
  return {
    install() {
      if (originals.size > 0) return true;
      const found = kernelNames.map((name) => tf.getKernel(name, "wasm"));
      const missing = kernelNames.filter((_, i) => found[i] === undefined);
      if (missing.length > 0) {
        throw new Error(`${label}: no wasm kernel registered for ${missing.join(", ")}; import "@tensorflow/tfjs-backend-wasm" first`);
      }
      for (const config of found) {
        originals.set(config.kernelName, config);
        tf.unregisterKernel(config.kernelName, "wasm");
        tf.registerKernel({ ...config, kernelFunc: wrap(config.kernelFunc) });
      }
      return true;
    },
    uninstall() {
      for (const [name, config] of originals) {
        tf.unregisterKernel(name, "wasm");
        tf.registerKernel(config);
      }
      originals.clear();
    },
    installed: () => originals.size > 0,
  };
}

/** Product of a list of dimensions (1 for an empty list). */
export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

/** The byte address of `x`'s data on the wasm heap (what the SIMD kernels of lib/backend/wasm-simd.ts take). */
export function heapAddress(backend: WasmBackendLike, x: tf.TensorInfo): number {
  return backend.typedArrayFromHeap(x).byteOffset;
}

/** A view of `x`'s data with another shape of the same size (no copy, no reference count change). */
export function view(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: x.dataId, dtype: x.dtype, shape };
}
