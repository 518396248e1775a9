/**
 * Probe for the `webgpu` backend: `@tensorflow/tfjs-backend-webgpu` running on the `webgpu` npm
 * package (Dawn's prebuilt Node binding, an optional dependency).
 *
 * The probe asks Dawn for an adapter first, under a timeout, so that a machine without a GPU (or
 * with a driver that never answers) is skipped quickly. A software adapter (llvmpipe/lavapipe,
 * SwiftShader, a fallback or CPU adapter: slower than the wasm backend) is skipped too unless the
 * backend is forced. Only then does it install the WebGPU globals (`GPUBufferUsage`, … and
 * `navigator.gpu`) that tfjs-backend-webgpu needs, register FSAM Lab's webgpu backend (device with
 * the adapter's limits, errors thrown, see `webgpu-backend.ts`) and activate it. (On a machine
 * without Vulkan, Dawn itself prints a "Couldn't load Vulkan" warning to stderr during the probe;
 * the probe then reports "no GPU adapter".)
 */
import * as tf from "@tensorflow/tfjs";
import { firstLine, withTimeout, type ProbeResult } from "./probe.ts";
import { adapterName, softwareAdapterReason, webgpuLimits, type WebgpuLimits } from "./webgpu-adapter.ts";
import { registerWebgpuBackend, type GpuLike } from "./webgpu-backend.ts";

/** How long Dawn may take to answer `requestAdapter()` before the probe gives up. */
export const WEBGPU_ADAPTER_TIMEOUT_MS = 5000;

/** How long creating the tfjs webgpu backend (device, pipelines) may take. */
const WEBGPU_BACKEND_TIMEOUT_MS = 30000;

/** The exports of the `webgpu` npm package. */
interface DawnModule {
  create(options: string[]): GpuLike;
  globals: object;
}

/** Options of {@link probeWebgpu}. */
export interface ProbeWebgpuOptions {
  /** How long to wait for the adapter (default {@link WEBGPU_ADAPTER_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Use a software adapter too (true when the backend is forced); default false. */
  allowSoftware?: boolean;
}

/** Makes `gpu` reachable as `globalThis.navigator.gpu`, creating `navigator` when Node has none. */
function installNavigatorGpu(gpu: GpuLike): void {
  const global = globalThis as { navigator?: object };
  if (global.navigator === undefined) {
    Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true, writable: true });
  }
  Object.defineProperty(global.navigator, "gpu", { value: gpu, configurable: true, writable: true });
}

/**
 * Activates the `webgpu` backend when Dawn reports a GPU adapter.
 *
 * @throws Error saying why not: package missing, no adapter, a software adapter (unless
 *   `allowSoftware`), timeout, or the backend failing to start.
 */
export async function probeWebgpu(options: ProbeWebgpuOptions = {}): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? WEBGPU_ADAPTER_TIMEOUT_MS;
  let dawn: DawnModule;
  try {
    dawn = (await import("webgpu")) as unknown as DawnModule;
  } catch (error) {
    throw new Error(`the webgpu package (Dawn for Node) did not load: ${firstLine(error)}`);
  }
  const gpu = dawn.create([]);
  const adapter = await withTimeout(
    gpu.requestAdapter({ powerPreference: "high-performance" }),
    timeoutMs,
    `no answer from requestAdapter() within ${timeoutMs / 1000} s`,
  );
  if (adapter === null) throw new Error("no GPU adapter (Dawn found no usable Vulkan/Metal/D3D12 GPU)");
  const info = adapter.info ?? (await adapter.requestAdapterInfo?.());
  const software = softwareAdapterReason(adapter, info);
  if (software !== undefined && !options.allowSoftware) {
    throw new Error(`only a software adapter, ${adapterName(info)} (${software}; slower than wasm; FSAM_BACKEND=webgpu forces it)`);
  }

  Object.assign(globalThis, dawn.globals);
  installNavigatorGpu(gpu);
  try {
    await import("@tensorflow/tfjs-backend-webgpu");
  } catch (error) {
    throw new Error(`@tensorflow/tfjs-backend-webgpu did not load: ${firstLine(error)}`);
  }
  let limits: WebgpuLimits | undefined;
  await registerWebgpuBackend(gpu, (device) => {
    limits = webgpuLimits(device.limits);
  });
  const ok = await withTimeout(
    tf.setBackend("webgpu"),
    WEBGPU_BACKEND_TIMEOUT_MS,
    `the webgpu backend did not start within ${WEBGPU_BACKEND_TIMEOUT_MS / 1000} s`,
  );
  if (!ok) throw new Error(`tf.setBackend("webgpu") failed on adapter ${adapterName(info)}`);
  return { device: adapterName(info), softwareAdapter: software !== undefined, limits: limits ?? webgpuLimits(adapter.limits) };
}
