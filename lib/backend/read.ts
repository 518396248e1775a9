/**
 * Whether the active backend can read tensor values synchronously. On webgpu in Node it cannot
 * (`dataSync()` throws, see `webgpu-backend.ts`), so library code that needs a value on the host
 * either awaits `data()` or keeps the value on the device.
 */
import * as tf from "@tensorflow/tfjs";

/** True when `dataSync()`/`arraySync()` work on the active backend (every backend but webgpu). */
export function canReadSync(): boolean {
  return tf.getBackend() !== "webgpu";
}
