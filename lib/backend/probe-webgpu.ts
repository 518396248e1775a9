/**
 * Probe for the `webgpu` backend: `@tensorflow/tfjs-backend-webgpu` running on the `webgpu` npm
 * package (Dawn's prebuilt Node binding, an optional dependency).
 *
 * The probe asks Dawn for an adapter first, under a timeout, so that a machine without a GPU (or
 * with a driver that never answers) is skipped quickly. Only when an adapter exists does it install
 * the WebGPU globals (`GPUBufferUsage`, … and `navigator.gpu`) that tfjs-backend-webgpu needs, import
 * that backend and activate it. (On a machine without Vulkan, Dawn itself prints a
 * "Couldn't load Vulkan" warning to stderr during the probe; the probe then reports "no GPU adapter".)
 */
import * as tf from "@tensorflow/tfjs";
import { firstLine, withTimeout, type ProbeResult } from "./probe.ts";

/** How long Dawn may take to answer `requestAdapter()` before the probe gives up. */
export const WEBGPU_ADAPTER_TIMEOUT_MS = 5000;

/** How long creating the tfjs webgpu backend (device, pipelines) may take. */
const WEBGPU_BACKEND_TIMEOUT_MS = 30000;

/** The adapter description fields a WebGPU implementation may report. */
interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}

/** The parts of a `GPUAdapter` the probe reads. */
interface AdapterLike {
  info?: AdapterInfoLike;
  requestAdapterInfo?: () => Promise<AdapterInfoLike>;
}

/** The parts of a `GPU` (navigator.gpu) the probe uses. */
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}

/** The exports of the `webgpu` npm package. */
interface DawnModule {
  create(options: string[]): GpuLike;
  globals: object;
}

/** A readable adapter name: its description, else vendor/architecture/device joined. */
function adapterName(info: AdapterInfoLike | undefined): string {
  if (info === undefined) return "GPU (adapter name unknown)";
  const description = info.description?.trim();
  if (description) return description;
  const parts = [info.vendor, info.architecture, info.device].filter((p) => p !== undefined && p !== "");
  return parts.length > 0 ? parts.join(" ") : "GPU (adapter name unknown)";
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
 * @param timeoutMs how long to wait for the adapter (default {@link WEBGPU_ADAPTER_TIMEOUT_MS}).
 * @throws Error saying why not: package missing, no adapter, timeout, or the backend failing to start.
 */
export async function probeWebgpu(timeoutMs = WEBGPU_ADAPTER_TIMEOUT_MS): Promise<ProbeResult> {
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

  Object.assign(globalThis, dawn.globals);
  installNavigatorGpu(gpu);
  try {
    await import("@tensorflow/tfjs-backend-webgpu");
  } catch (error) {
    throw new Error(`@tensorflow/tfjs-backend-webgpu did not load: ${firstLine(error)}`);
  }
  if (tf.findBackendFactory("webgpu") == null) {
    throw new Error("@tensorflow/tfjs-backend-webgpu registered no webgpu backend");
  }
  const ok = await withTimeout(
    tf.setBackend("webgpu"),
    WEBGPU_BACKEND_TIMEOUT_MS,
    `the webgpu backend did not start within ${WEBGPU_BACKEND_TIMEOUT_MS / 1000} s`,
  );
  if (!ok) throw new Error(`tf.setBackend("webgpu") failed on adapter ${adapterName(info)}`);
  return { device: adapterName(info) };
}
