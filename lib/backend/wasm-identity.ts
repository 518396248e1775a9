/**
 * A copy-free `Identity` for the tfjs wasm backend. The tfjs engine clones every tensor it saves for
 * the backward pass with the `Identity` kernel, and tfjs-backend-wasm 4.22 copies the data each time:
 * about 270 copies (52 ms) per BERT-tiny training step. Tensors are immutable (a variable's `assign`
 * switches to new data; no kernel writes into its inputs), so a clone can share its source's data,
 * as tfjs's CPU backend and the wasm `Reshape` kernel already do: {@link wasmIdentityPatch} returns
 * the same data with its reference count raised. String tensors keep the original kernel.
 */
import * as tf from "@tensorflow/tfjs";
import { wasmKernelPatch } from "./kernel-patch.ts";

/** The reference counting of tfjs-backend-wasm's `BackendWasm`. */
interface RefCounting {
  incRef(dataId: tf.DataId): void;
}

/** The copy-free wasm `Identity` kernel described in this module's header; `initBackend` installs it with wasm. */
export const wasmIdentityPatch = wasmKernelPatch("wasmIdentityPatch", ["Identity"], (original) => (params) => {
  const x = params.inputs.x as tf.TensorInfo;
  if (x.dtype === "string") return original(params);
  (params.backend as RefCounting).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
});

/**
 * A copy-free `Cast` to the tensor's own dtype for the wasm backend (tfjs-backend-wasm 4.22 copies;
 * `tf.moments`, hence every LayerNorm, casts its float32 input to float32: 25 copies of [4096, 128]
 * per BERT-tiny training step). Casts to another dtype keep the original kernel.
 */
export const wasmSameDtypeCastPatch = wasmKernelPatch("wasmSameDtypeCastPatch", ["Cast"], (original) => (params) => {
  const x = params.inputs.x as tf.TensorInfo;
  if (x.dtype === "string" || (params.attrs as { dtype?: tf.DataType }).dtype !== x.dtype) return original(params);
  (params.backend as RefCounting).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
});
