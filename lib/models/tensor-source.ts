/**
 * What every checkpoint reader gives (safetensors, PyTorch, sharded): named tensors with their
 * stored type and shape, each decoded to float32 on demand.
 */

/** One tensor's name, element type and shape. */
export interface TensorInfo {
  /** Name. */
  readonly name: string;
  /** Stored element type (safetensors' names: F32, F16, BF16, I64, …). */
  readonly dtype: string;
  /** Shape. */
  readonly shape: readonly number[];
}

/** Named tensors from a checkpoint, each decoded to float32 on demand. */
export interface TensorSource {
  /** Tensors by name, in file order. */
  readonly entries: ReadonlyMap<string, TensorInfo>;
  /** Decodes a tensor to a new row-major float32 array. */
  read(name: string): Float32Array;
}
