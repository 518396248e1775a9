/**
 * tfjs-backend-webgpu's `AddN` binds every input as one storage buffer of a single shader, so with
 * more inputs than the device allows per stage (WebGPU's default is 8, counting the output) the
 * shader is invalid and the result is garbage. This replacement sums at most
 * `maxStorageBuffersPerShaderStage − 1` inputs per shader and then sums the partial sums the same way.
 * (`Concat` and `Pack`, the other ops with any number of inputs, already split themselves.)
 */
import * as tf from "@tensorflow/tfjs";

/** The parts of the webgpu backend the replacement uses. */
interface WebgpuBackendLike {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: tf.DataId): boolean;
}

/** The original webgpu AddN, while the replacement is installed. */
let original: tf.KernelConfig | undefined;

/** The most inputs one AddN shader may read on `backend`'s device (one storage buffer is the output). */
export function maxAddNInputs(backend: WebgpuBackendLike): number {
  return Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
}

/** AddN in chunks of at most {@link maxAddNInputs} inputs, around the original kernel function. */
function chunkedAddN(kernel: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WebgpuBackendLike;
    const max = maxAddNInputs(backend);
    let terms = args.inputs as unknown as tf.TensorInfo[];
    const owned: tf.TensorInfo[] = [];
    try {
      while (terms.length > max) {
        const sums: tf.TensorInfo[] = [];
        for (let i = 0; i < terms.length; i += max) {
          const sum = kernel({ ...args, inputs: terms.slice(i, i + max) as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
          sums.push(sum);
          owned.push(sum);
        }
        terms = sums;
      }
      return kernel({ ...args, inputs: terms as unknown as tf.NamedTensorInfoMap });
    } finally {
      for (const t of owned) backend.disposeData(t.dataId);
    }
  };
}

/**
 * Replaces the webgpu `AddN` kernel by the chunked one. Idempotent.
 *
 * @throws Error when `@tensorflow/tfjs-backend-webgpu` has registered no AddN kernel.
 */
export function installWebgpuAddN(): void {
  if (original !== undefined) return;
  const config = tf.getKernel("AddN", "webgpu");
  if (config === undefined) throw new Error("no webgpu AddN kernel registered; import @tensorflow/tfjs-backend-webgpu first");
  original = config;
  tf.unregisterKernel("AddN", "webgpu");
  tf.registerKernel({ ...config, kernelFunc: chunkedAddN(config.kernelFunc) });
}

/** Restores tfjs's own webgpu `AddN` (tests use it to show the failure the replacement prevents). */
export function uninstallWebgpuAddN(): void {
  if (original === undefined) return;
  tf.unregisterKernel("AddN", "webgpu");
  tf.registerKernel(original);
  original = undefined;
}
