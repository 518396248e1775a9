/**
 * A faster `GatherV2` for the tfjs wasm backend. tfjs-backend-wasm 4.22 gathers element by element
 * through a generic strided loop: looking up 4096 token embeddings of width 128 takes 30 ms, even
 * from a 2-row table (BERT's token-type embeddings) — more than a whole dense layer. Gathering
 * whole rows (axis 0, no batch dimensions) is a sequence of contiguous copies; {@link wasmGatherPatch}
 * does exactly that on the wasm heap (about 0.5 ms there) and keeps the original kernel for every
 * other gather. Indices out of range are refused with the offending value, as tfjs's CPU backend does.
 */
import * as tf from "@tensorflow/tfjs";
import { sizeOf, wasmKernelPatch, type WasmBackendLike } from "./kernel-patch.ts";

/** Rows narrower than this are copied element by element (a subarray copy costs more). */
const MIN_ROW_FOR_BLOCK_COPY = 16;

/** The wasm `GatherV2` kernel described in this module's header; `initBackend` installs it with wasm. */
export const wasmGatherPatch = wasmKernelPatch("wasmGatherPatch", ["GatherV2"], (original) => fastGather(original));

/** Builds the patched kernel function around the original wasm `GatherV2`. */
function fastGather(original: tf.KernelFunc): tf.KernelFunc {
  return (params) => {
    const x = params.inputs.x as tf.TensorInfo;
    const indices = params.inputs.indices as tf.TensorInfo;
    const attrs = (params.attrs ?? {}) as { axis?: number; batchDims?: number };
    const rank = x.shape.length;
    const axis = (attrs.axis ?? 0) < 0 ? (attrs.axis ?? 0) + rank : attrs.axis ?? 0;
    if (
      axis !== 0 ||
      (attrs.batchDims ?? 0) !== 0 ||
      rank < 1 ||
      (x.dtype !== "float32" && x.dtype !== "int32") ||
      indices.dtype !== "int32"
    ) {
      return original(params);
    }
    const rowCount = x.shape[0];
    const row = sizeOf(x.shape.slice(1));
    const backend = params.backend as WasmBackendLike;
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    // Views are taken after the output exists: allocating can grow (and move) the wasm heap.
    const source = backend.typedArrayFromHeap(x);
    const ids = backend.typedArrayFromHeap(indices);
    const target = backend.typedArrayFromHeap(out);
    for (let i = 0; i < ids.length; i++) {
      const r = ids[i];
      if (!(r >= 0 && r < rowCount)) {
        backend.disposeData(out.dataId);
        throw new Error(`GatherV2: index ${r} (position ${i}) is not in [0, ${rowCount - 1}]`);
      }
      if (row >= MIN_ROW_FOR_BLOCK_COPY) {
        target.set(source.subarray(r * row, (r + 1) * row), i * row);
      } else {
        for (let j = 0; j < row; j++) target[i * row + j] = source[r * row + j];
      }
    }
    return out;
  };
}
