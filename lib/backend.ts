/**
 * Picks the fastest tfjs backend available at run time and reports what it picked and why.
 *
 * Order: `tensorflow` (libtensorflow via `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node`)
 * → `webgpu` (`@tensorflow/tfjs-backend-webgpu` on Dawn's Node binding, only with a hardware GPU
 * adapter: software ones such as llvmpipe are skipped unless forced)
 * → `wasm` (XNNPACK; its slow transposed/batched matrix products are replaced, see
 * `lib/backend/wasm-matmul.ts`) → `cpu`. Each faster backend that could not be used is reported
 * with the reason. `FSAM_BACKEND=cpu|wasm|webgpu|tensorflow` (or `initBackend({backend})`) forces one.
 */
import * as tf from "@tensorflow/tfjs";
import { firstLine, type ProbeResult } from "./backend/probe.ts";
import { probeCpu } from "./backend/probe-cpu.ts";
import { probeTensorflow } from "./backend/probe-tensorflow.ts";
import { probeWasm } from "./backend/probe-wasm.ts";
import { probeWebgpu } from "./backend/probe-webgpu.ts";
import { formatWebgpuLimits, type WebgpuLimits } from "./backend/webgpu-adapter.ts";

/** A tfjs backend FSAM Lab knows how to load. */
export type BackendName = "tensorflow" | "webgpu" | "wasm" | "cpu";

/** Every {@link BackendName}, fastest first: the order in which {@link initBackend} tries them. */
export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow", "webgpu", "wasm", "cpu"];

/** A faster backend that was not used, and why. */
export interface SkippedBackend {
  /** The backend that was tried. */
  backend: BackendName;
  /** Why it could not be used, e.g. "no GPU adapter". */
  reason: string;
}

/** The backend in use and how it was chosen (shown in the kernel banner). */
export interface BackendInfo {
  /** The active tfjs backend. */
  backend: BackendName;
  /** The device doing the work: "CPU", "CPU (JavaScript)", or the GPU adapter's name. */
  device: string;
  /** True when the backend was forced by `FSAM_BACKEND` or `initBackend({backend})`. */
  forced: boolean;
  /** Every faster backend tried before this one, with the reason it was skipped (empty when forced). */
  skipped: SkippedBackend[];
  /** wasm only: whether the SIMD wasm binary is used. */
  simd?: boolean;
  /** wasm only: the number of threads XNNPACK uses. */
  threads?: number;
  /** wasm only: whether the fast kernels are installed (matmul, leading-axis sum, row gather, copy-free identity, fused SIMD AdamW/dropout/GELU). */
  fastKernels?: boolean;
  /** webgpu only: whether the adapter is a software (CPU) implementation such as llvmpipe. */
  softwareAdapter?: boolean;
  /** webgpu only: the device's limits that matter for training (storage buffers, sizes). */
  limits?: WebgpuLimits;
  /** wasm only: the native BLAS doing the matrix products (lib/backend/blas.ts), when one is loaded. */
  blas?: string;
  /** The tfjs version, e.g. "4.22.0". */
  tfjsVersion: string;
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Use exactly this backend (overrides `FSAM_BACKEND`); fail if it cannot load. */
  backend?: BackendName;
}

/** The probe that activates each backend; `forced` is true when the user asked for that backend. */
const PROBES: Record<BackendName, (forced: boolean) => Promise<ProbeResult>> = {
  tensorflow: probeTensorflow,
  webgpu: (forced) => probeWebgpu({ allowSoftware: forced }),
  wasm: probeWasm,
  cpu: probeCpu,
};

/** The info of the last successful {@link initBackend}. */
let current: BackendInfo | undefined;

/** The tail of the queue that serialises concurrent {@link initBackend} calls. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Checks that `value` names a backend.
 *
 * @param source how the value was given, for the error message (e.g. "FSAM_BACKEND").
 * @throws Error naming the source and value and listing the valid names.
 */
function parseBackendName(value: unknown, source: string): BackendName {
  const name = typeof value === "string" ? value.trim().toLowerCase() : value;
  if (typeof name === "string" && (BACKEND_NAMES as readonly string[]).includes(name)) {
    return name as BackendName;
  }
  throw new Error(
    `${source}=${JSON.stringify(value)} is not a backend; valid values: ${BACKEND_NAMES.join(", ")}`,
  );
}

/** The backend forced by the options or by `FSAM_BACKEND` (an empty variable forces nothing). */
function forcedBackend(options: InitBackendOptions): { name: BackendName; source: string } | undefined {
  if (options.backend !== undefined) {
    return { name: parseBackendName(options.backend, "initBackend option backend"), source: "initBackend" };
  }
  const env = process.env.FSAM_BACKEND;
  if (env === undefined || env.trim() === "") return undefined;
  return { name: parseBackendName(env, "FSAM_BACKEND"), source: "FSAM_BACKEND" };
}

/** Assembles a {@link BackendInfo} from a successful probe. */
function makeInfo(
  backend: BackendName,
  probe: ProbeResult,
  forced: boolean,
  skipped: SkippedBackend[],
): BackendInfo {
  return { backend, ...probe, forced, skipped, tfjsVersion: tf.version.tfjs };
}

/** Activates `forced`, or the first backend in {@link BACKEND_NAMES} order that loads. */
async function select(forced: { name: BackendName; source: string } | undefined): Promise<BackendInfo> {
  if (forced !== undefined) {
    try {
      return makeInfo(forced.name, await PROBES[forced.name](true), true, []);
    } catch (error) {
      const how =
        forced.source === "FSAM_BACKEND"
          ? `FSAM_BACKEND=${forced.name}`
          : `initBackend({backend: "${forced.name}"})`;
      throw new Error(`${how}: the ${forced.name} backend could not be loaded: ${firstLine(error)}`);
    }
  }
  const skipped: SkippedBackend[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      return makeInfo(name, await PROBES[name](false), false, skipped);
    } catch (error) {
      skipped.push({ backend: name, reason: firstLine(error) });
    }
  }
  const reasons = skipped.map((s) => `${s.backend}: ${s.reason}`).join("; ");
  throw new Error(`no tfjs backend could be loaded (${reasons})`);
}

/** One {@link initBackend} call, run after every earlier one has finished. */
async function initOnce(options: InitBackendOptions): Promise<BackendInfo> {
  const forced = forcedBackend(options);
  const stillActive = current !== undefined && tf.getBackend() === current.backend;
  if (stillActive && (options.backend === undefined || forced?.name === current?.backend)) {
    return current as BackendInfo;
  }
  current = await select(forced);
  return current;
}

/**
 * Activates the fastest available tfjs backend (or the forced one) and returns what was chosen.
 *
 * Idempotent: once a backend is active, a call without `options.backend` (or with the active one)
 * returns the same {@link BackendInfo} object without probing again; a call naming another backend
 * switches to it. If something else switched tfjs to another backend meanwhile, the selection runs
 * again. Concurrent calls are serialised. The webgpu probe gives up after 5 s without an adapter.
 *
 * @param options `backend` forces one backend; otherwise env `FSAM_BACKEND` does, if set.
 * @throws Error for an unknown backend name (listing the valid ones), or when the forced backend
 *   cannot load (naming it and the reason).
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const run = queue.then(() => initOnce(options));
  queue = run.catch(() => undefined);
  return run;
}

/** The info of the last successful {@link initBackend} call, or `undefined` before the first. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

/**
 * One or two human-readable lines for the kernel banner, e.g.
 * `tfjs 4.22.0 on wasm (CPU, SIMD, 1 thread, fast kernels)` and
 * `skipped tensorflow: @tensorflow/tfjs-node-gpu not installed; …; webgpu: no GPU adapter`; on webgpu
 * the first line names the adapter and its limits, e.g. `tfjs 4.22.0 on webgpu (NVIDIA H200,
 * 8 storage buffers/stage, 2 GiB binding, 4 GiB buffer, 48 KiB workgroup memory)`.
 */
export function formatBackendInfo(info: BackendInfo): string {
  const details = [info.device];
  if (info.simd !== undefined) details.push(info.simd ? "SIMD" : "no SIMD");
  if (info.threads !== undefined) details.push(`${info.threads} thread${info.threads === 1 ? "" : "s"}`);
  if (info.fastKernels) details.push("fast kernels");
  if (info.softwareAdapter) details.push("software adapter");
  if (info.limits !== undefined) details.push(formatWebgpuLimits(info.limits));
  if (info.blas) details.push(info.blas);
  if (info.forced) details.push("forced");
  const lines = [`tfjs ${info.tfjsVersion} on ${info.backend} (${details.join(", ")})`];
  if (info.skipped.length > 0) {
    lines.push(`skipped ${info.skipped.map((s) => `${s.backend}: ${s.reason}`).join("; ")}`);
  }
  return lines.join("\n");
}
