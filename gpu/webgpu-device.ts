/**
 * The WebGPU side of the kit's first part: what adapter Dawn gives, its limits next to the limits
 * of the device tfjs created, and a log of every uncaptured WebGPU error on that device (validation
 * and out-of-memory errors that would otherwise only print and leave wrong results behind).
 */
import * as tf from "@tensorflow/tfjs";
import { REQUESTED_LIMITS } from "../lib/backend/webgpu-adapter.ts";

/**
 * The limits that decide whether tfjs's programs fit: those the library requests for its device
 * (storage bindings, buffer sizes, workgroups), and the number of bind groups.
 */
export const RELEVANT_LIMITS = [...REQUESTED_LIMITS, "maxBindGroups"] as const;

/** What the kit reports about the adapter and the device. */
export interface AdapterReport {
  /** Adapter description fields (empty strings where Dawn reports none). */
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True when the adapter says it is a fallback (software) adapter. */
  isFallbackAdapter: boolean | undefined;
  /** The adapter's features. */
  features: string[];
  /** Every limit of the adapter. */
  adapterLimits: Record<string, number>;
  /** Every limit of the device tfjs created (what tfjs's programs actually get). */
  deviceLimits: Record<string, number>;
}

/** The parts of a GPUDevice the kit uses. */
interface DeviceLike {
  limits: object;
  addEventListener(type: "uncapturederror", listener: (event: { error: { message: string; constructor: { name: string } } }) => void): void;
}

/** Copies a GPUSupportedLimits (getters on its prototype) into a plain object. */
function limitsOf(limits: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key in limits) {
    const value = (limits as Record<string, unknown>)[key];
    if (typeof value === "number") out[key] = value;
  }
  return out;
}

/** The GPUDevice of the active webgpu backend; throws when webgpu is not the active backend. */
export function webgpuDevice(): DeviceLike {
  if (tf.getBackend() !== "webgpu") throw new Error(`the active backend is ${tf.getBackend()}, not webgpu`);
  const device = (tf.backend() as unknown as { device?: DeviceLike }).device;
  if (device === undefined) throw new Error("the webgpu backend exposes no device");
  return device;
}

/**
 * Describes the adapter (asked for again through `navigator.gpu`, as tfjs does) and the device of
 * the active webgpu backend.
 */
export async function describeWebgpu(): Promise<AdapterReport> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(o: object): Promise<unknown> } } }).navigator?.gpu;
  if (gpu === undefined) throw new Error("navigator.gpu is not installed");
  const adapter = (await gpu.requestAdapter({ powerPreference: "high-performance" })) as {
    info?: Record<string, unknown>;
    isFallbackAdapter?: boolean;
    features: Iterable<string>;
    limits: object;
  } | null;
  if (adapter === null) throw new Error("requestAdapter() returned no adapter");
  const info = adapter.info ?? {};
  const text = (key: string) => (typeof info[key] === "string" ? (info[key] as string) : "");
  const fallback = adapter.isFallbackAdapter ?? (info.isFallbackAdapter as boolean | undefined);
  return {
    vendor: text("vendor"),
    architecture: text("architecture"),
    device: text("device"),
    description: text("description"),
    isFallbackAdapter: fallback,
    features: [...adapter.features].sort(),
    adapterLimits: limitsOf(adapter.limits),
    deviceLimits: limitsOf(webgpuDevice().limits),
  };
}

/** The lines the check prints for an {@link AdapterReport}. */
export function formatAdapterReport(report: AdapterReport): string[] {
  const name = [report.vendor, report.architecture, report.device].filter((s) => s !== "").join(" / ");
  const lines = [
    `adapter: ${report.description || "(no description)"}${name ? ` [${name}]` : ""}, fallback adapter: ${report.isFallbackAdapter ?? "not reported"}`,
    `features: ${report.features.join(", ") || "(none)"}`,
    "limits (device tfjs created / adapter maximum):",
  ];
  for (const key of RELEVANT_LIMITS) {
    const device = report.deviceLimits[key];
    const adapter = report.adapterLimits[key];
    const flag = device !== undefined && adapter !== undefined && device < adapter ? "  (below the adapter's)" : "";
    lines.push(`  ${key.padEnd(36)} ${String(device ?? "?").padStart(12)} / ${String(adapter ?? "?").padEnd(12)}${flag}`);
  }
  return lines;
}

/**
 * Counts the uncaptured WebGPU errors of one device and keeps the first few distinct messages.
 * Listening does not change how the library handles errors; it only makes them visible.
 */
export class WebgpuErrorLog {
  /** Errors seen so far. */
  count = 0;
  /** Distinct messages (first two lines), in order of appearance, with how often each came. */
  readonly messages = new Map<string, number>();
  /** How many distinct messages are kept. */
  static readonly KEEP = 10;

  /** Starts listening on `device`. */
  attach(device: DeviceLike): void {
    device.addEventListener("uncapturederror", (event) => {
      this.count++;
      const message = `${event.error.constructor.name}: ${event.error.message.split("\n").slice(0, 2).join(" | ")}`;
      const seen = this.messages.get(message);
      if (seen !== undefined) this.messages.set(message, seen + 1);
      else if (this.messages.size < WebgpuErrorLog.KEEP) this.messages.set(message, 1);
    });
  }

  /** The distinct messages with their counts, for the JSON summary. */
  toJSON(): { count: number; messages: { message: string; count: number }[] } {
    return { count: this.count, messages: [...this.messages].map(([message, count]) => ({ message, count })) };
  }
}

/**
 * Waits until the errors of the work submitted so far have reached the listener: Dawn delivers
 * them asynchronously, so a count read right after a step can miss that step's errors.
 */
export async function settleErrors(): Promise<void> {
  const device = webgpuDevice() as unknown as { queue?: { onSubmittedWorkDone?: () => Promise<void> } };
  await device.queue?.onSubmittedWorkDone?.();
  await new Promise((resolve) => setTimeout(resolve, 50));
}
