/**
 * FSAM Lab's `webgpu` backend: tfjs-backend-webgpu's `WebGPUBackend` on a device created with the
 * adapter's own limits (not WebGPU's small defaults), with three changes for Node:
 *
 * - every WebGPU error event (validation, out of memory, device lost) is thrown as a
 *   {@link WebGPUError} at the next op or read, naming the tfjs program involved;
 * - a synchronous read (`dataSync()`, `arraySync()`, `bufferSync()`) of a value that is only on the
 *   GPU throws a clear error saying to use `await t.data()` / `await t.array()` (tfjs-backend-webgpu
 *   reads synchronously through an `OffscreenCanvas`, which Node does not have);
 * - `AddN` sums its inputs in chunks that fit the device (see `webgpu-addn.ts`).
 */
import * as tf from "@tensorflow/tfjs";
import { requiredLimits, type AdapterInfoLike, type AdapterLike } from "./webgpu-adapter.ts";
import { installWebgpuAddN } from "./webgpu-addn.ts";
import { WebgpuErrorLog, type ErrorSourceDevice } from "./webgpu-errors.ts";

/** The message of a synchronous read of GPU data. */
export const SYNC_READ_MESSAGE =
  "dataSync()/arraySync()/bufferSync() cannot read a tensor from the GPU on the webgpu backend in Node: " +
  "use `await t.data()` or `await t.array()` instead";

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` the subclass uses. */
interface WebgpuBackendBase extends tf.KernelBackend {
  device: { limits: Record<string, number>; destroy(): void } & ErrorSourceDevice;
  tensorMap: { get(dataId: object): { values?: unknown; dtype: string } | undefined; has(dataId: object): boolean };
  runWebGPUProgram(program: { constructor: { name: string } }, ...rest: unknown[]): tf.TensorInfo;
  readSync(dataId: object): tf.backend_util.BackendValues;
  read(dataId: object): Promise<tf.backend_util.BackendValues>;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** The constructor exported by `@tensorflow/tfjs-backend-webgpu`. */
type WebgpuBackendClass = new (device: unknown, adapterInfo?: AdapterInfoLike) => WebgpuBackendBase;

/** What {@link registerWebgpuBackend} learns when the backend is created. */
export interface WebgpuDeviceInfo {
  /** The device's limits (as granted). */
  limits: Record<string, number>;
}

/** The error log of the active webgpu backend's device. */
let activeLog: WebgpuErrorLog | undefined;

/**
 * Throws the WebGPU errors collected since the last check, if any (a no-op on other backends).
 * The backend already does this before every op and after every read; call it to check at a
 * point of your own, e.g. after the last op of a step.
 *
 * @param where what is about to happen, for the message.
 */
export function throwPendingWebgpuErrors(where = "this check"): void {
  activeLog?.throwPending(where);
}

/**
 * Keeps an error of a read nobody awaits (e.g. a statistic read in the background) so that the next
 * op or read throws it instead of it being lost.
 */
export function reportWebgpuError(error: unknown): void {
  activeLog?.record(error instanceof Error ? error.message : String(error));
}

/** The webgpu backend class with error checks and the sync-read guard, around tfjs's class. */
function fsamBackendClass(Base: WebgpuBackendClass): new (device: unknown, info: AdapterInfoLike | undefined, log: WebgpuErrorLog) => WebgpuBackendBase {
  class FsamWebgpuBackend extends Base {
    private readonly errors: WebgpuErrorLog;

    constructor(device: unknown, info: AdapterInfoLike | undefined, log: WebgpuErrorLog) {
      super(device, info);
      this.errors = log;
    }

    /**
     * Throws the collected errors, if any, after submitting the commands already recorded (so that
     * the errors those commands cause are reported now, with the others, not at a later op).
     */
    private checkErrors(where: string): void {
      if (!this.errors.hasPending) return;
      try {
        this.endComputePassEncoder();
        this.submitQueue();
      } catch (error) {
        this.errors.record(`submitting the recorded commands failed: ${(error as Error).message}`);
      }
      this.errors.throwPending(where);
    }

    override runWebGPUProgram(program: { constructor: { name: string } }, ...rest: unknown[]): tf.TensorInfo {
      this.checkErrors(`running ${program.constructor.name}`);
      return super.runWebGPUProgram(program, ...rest);
    }

    override readSync(dataId: object): tf.backend_util.BackendValues {
      const data = this.tensorMap.get(dataId);
      if (data !== undefined && data.values == null && data.dtype !== "string") throw new Error(SYNC_READ_MESSAGE);
      return super.readSync(dataId);
    }

    override async read(dataId: object): Promise<tf.backend_util.BackendValues> {
      this.checkErrors("reading a tensor");
      const values = await super.read(dataId);
      this.checkErrors("returning a tensor's values");
      return values;
    }

    override dispose(): void {
      this.errors.dispose();
      super.dispose();
    }
  }
  return FsamWebgpuBackend as never;
}

/** The parts of a `GPU` (navigator.gpu) the backend uses. */
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}

/**
 * Registers FSAM Lab's `webgpu` backend factory (replacing the one tfjs-backend-webgpu registered
 * on import), and installs the chunked AddN. Call after the WebGPU globals exist.
 *
 * @param gpu the WebGPU entry point whose high-performance adapter gets the device.
 * @param onCreate receives the device's limits when tfjs creates the backend.
 */
export async function registerWebgpuBackend(gpu: GpuLike, onCreate: (device: WebgpuDeviceInfo) => void): Promise<void> {
  const module = (await import("@tensorflow/tfjs-backend-webgpu")) as unknown as { WebGPUBackend: WebgpuBackendClass };
  const Backend = fsamBackendClass(module.WebGPUBackend);
  installWebgpuAddN();
  if (tf.findBackendFactory("webgpu") != null) tf.removeBackend("webgpu");
  tf.registerBackend(
    "webgpu",
    async () => {
      const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
      if (adapter === null) throw new Error("no GPU adapter");
      const info = adapter.info ?? (await adapter.requestAdapterInfo?.());
      const requiredFeatures = ["timestamp-query"].filter((f) => adapter.features.has(f));
      const device = (await adapter.requestDevice({ requiredFeatures, requiredLimits: requiredLimits(adapter) })) as WebgpuBackendBase["device"];
      const log = new WebgpuErrorLog(device);
      activeLog = log;
      onCreate({ limits: { ...requiredLimits({ limits: device.limits }) } });
      return new Backend(device, info, log);
    },
    3,
  );
}
