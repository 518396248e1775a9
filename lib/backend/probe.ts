/**
 * What a backend probe reports, and the helpers the probes share.
 *
 * A probe tries to make one tfjs backend the active one. It resolves with a {@link ProbeResult} when
 * that backend is active afterwards, and throws an Error whose message is the human-readable reason
 * when it is not (that message becomes a `skipped` entry of `BackendInfo`).
 */

import type { WebgpuLimits } from "./webgpu-adapter.ts";

/** What a successful probe knows about the backend it activated. */
export interface ProbeResult {
  /** The device doing the work, e.g. "CPU", or the GPU adapter's name. */
  device: string;
  /** wasm only: whether the SIMD build of the wasm binary is used. */
  simd?: boolean;
  /** wasm only: the number of threads XNNPACK uses. */
  threads?: number;
  /** wasm only: whether the faster kernels (matmul, leading-axis sum, row gather, copy-free identity) are installed. */
  fastKernels?: boolean;
  /** webgpu only: whether the adapter is a software (CPU) implementation such as llvmpipe. */
  softwareAdapter?: boolean;
  /** webgpu only: the device's limits that matter for training. */
  limits?: WebgpuLimits;
  /** wasm only: the native BLAS doing the matrix products (e.g. "OpenBLAS 0.3.21 Zen, 2 threads"), when one is loaded. */
  blas?: string;
}

/**
 * Resolves like `promise`, or rejects with `Error(message)` after `ms` milliseconds. The timer does
 * not keep the process alive.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The first line of an error's message (module loaders append long stacks and require chains). */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].trim();
}
