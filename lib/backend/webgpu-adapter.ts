/**
 * What FSAM Lab reads from a WebGPU adapter: its name, whether it is a software (CPU) implementation,
 * and the limits that matter for training, which the device is created with.
 */

/** The adapter description fields a WebGPU implementation may report (`GPUAdapterInfo`). */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** Set by implementations that mark a fallback (software) adapter on its info. */
  isFallbackAdapter?: boolean;
  /** Non-standard adapter type some implementations report ("cpu", "integrated gpu", …). */
  adapterType?: string;
  /** Non-standard spelling of the adapter type. */
  type?: string;
}

/** The parts of a `GPUAdapter` FSAM Lab reads. */
export interface AdapterLike {
  info?: AdapterInfoLike;
  requestAdapterInfo?: () => Promise<AdapterInfoLike>;
  /** Older spelling of the fallback flag, on the adapter itself. */
  isFallbackAdapter?: boolean;
  limits: Record<string, number>;
  features: { has(name: string): boolean };
  requestDevice(descriptor?: object): Promise<unknown>;
}

/**
 * The adapter limits requested for the device (WebGPU creates a device with its small defaults
 * otherwise, e.g. 8 storage buffers per shader stage and 128 MiB buffers): the adapter's own value
 * of each.
 */
export const REQUESTED_LIMITS = [
  "maxStorageBuffersPerShaderStage",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxUniformBufferBindingSize",
] as const;

/** The device limits the banner shows. */
export interface WebgpuLimits {
  /** Storage buffers one compute shader may bind (inputs + output of one op). */
  maxStorageBuffersPerShaderStage: number;
  /** Largest storage buffer binding, bytes. */
  maxStorageBufferBindingSize: number;
  /** Largest buffer, bytes. */
  maxBufferSize: number;
  /** Workgroup (shared) memory per workgroup, bytes. */
  maxComputeWorkgroupStorageSize: number;
}

/** A readable adapter name: its description, else vendor/architecture/device joined. */
export function adapterName(info: AdapterInfoLike | undefined): string {
  if (info === undefined) return "GPU (adapter name unknown)";
  const description = info.description?.trim();
  if (description) return description;
  const parts = [info.vendor, info.architecture, info.device].filter((p) => p !== undefined && p !== "");
  return parts.length > 0 ? parts.join(" ") : "GPU (adapter name unknown)";
}

/** Names of software rasterisers that expose a WebGPU/Vulkan adapter running on the CPU. */
const SOFTWARE_NAMES = /\b(llvmpipe|lavapipe|swiftshader|softpipe|basic render driver)\b/i;

/**
 * Why an adapter is a software (CPU) implementation, or `undefined` for a real GPU: the fallback
 * flag, a CPU adapter type, or the name of a known software rasteriser (llvmpipe/lavapipe,
 * SwiftShader, …) in its description, device or architecture.
 */
export function softwareAdapterReason(adapter: Pick<AdapterLike, "isFallbackAdapter">, info: AdapterInfoLike | undefined): string | undefined {
  if (info?.isFallbackAdapter === true || adapter.isFallbackAdapter === true) return "it is a fallback (software) adapter";
  const type = (info?.adapterType ?? info?.type ?? "").toLowerCase();
  if (type === "cpu") return "its adapter type is CPU";
  const names = [info?.description, info?.device, info?.architecture, info?.vendor].filter((s): s is string => typeof s === "string");
  const match = names.map((s) => SOFTWARE_NAMES.exec(s)).find((m) => m !== null);
  if (match) return `${match[1]} is a software rasteriser`;
  if ((info?.architecture ?? "").toLowerCase() === "software") return "its architecture is software";
  return undefined;
}

/** The adapter's value of every {@link REQUESTED_LIMITS} entry it reports. */
export function requiredLimits(adapter: Pick<AdapterLike, "limits">): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) {
    const value = adapter.limits[name];
    if (typeof value === "number") out[name] = value;
  }
  return out;
}

/** The {@link WebgpuLimits} of a device's (or adapter's) `limits`. */
export function webgpuLimits(limits: Record<string, number>): WebgpuLimits {
  return {
    maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxBufferSize: limits.maxBufferSize,
    maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
  };
}

/** A byte count in the largest binary unit that keeps it ≥ 1, e.g. "128 MiB", "4 GiB", "32 KiB". */
function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

/** The banner's summary of the limits, e.g. "16 storage buffers/stage, 128 MiB binding, 4 GiB buffer, 32 KiB workgroup memory". */
export function formatWebgpuLimits(limits: WebgpuLimits): string {
  return [
    `${limits.maxStorageBuffersPerShaderStage} storage buffers/stage`,
    `${bytes(limits.maxStorageBufferBindingSize)} binding`,
    `${bytes(limits.maxBufferSize)} buffer`,
    `${bytes(limits.maxComputeWorkgroupStorageSize)} workgroup memory`,
  ].join(", ");
}
