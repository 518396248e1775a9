/**
 * Matrix products of the wasm backend's `BatchMatMul` / `_FusedMatMul` computed by a native BLAS
 * (lib/backend/blas.ts) on the wasm heap: transposed operands are passed as transposes (no copy),
 * batched products are one `sgemm` per output batch entry at the entries' offsets (broadcast batch
 * dimensions map several entries to one operand slice), and a batch of left operands times one right
 * operand is a single tall product. A bias (a scalar or one row of n) is written into the output
 * first and accumulated with beta = 1. Activations and PReLU are not handled here
 * ({@link blasHandles} says when this path applies).
 */
import * as tf from "@tensorflow/tfjs";
import type { Blas } from "./blas.ts";
import { sizeOf, type WasmBackendLike } from "./kernel-patch.ts";

/** One product, with its shapes already checked by the matmul kernel. */
export interface BlasProduct {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  /** Rows of op(a), shared size, columns of op(b). */
  m: number;
  k: number;
  n: number;
  /** The broadcast batch shape of the output. */
  outBatch: number[];
  /** For each output batch entry, the batch entry of `a` / of `b` it reads. */
  aIndex: number[];
  bIndex: number[];
  bias?: tf.TensorInfo;
}

/**
 * Whether {@link blasMatMul} computes this call: float32 bias of one element or one row of `n`
 * (any leading 1s), no activation other than "linear", no PReLU weights.
 */
export function blasHandles(n: number, attrs: tf.NamedAttrMap, bias?: tf.TensorInfo, prelu?: tf.TensorInfo): boolean {
  const activation = attrs.activation as string | undefined;
  if (prelu !== undefined || (activation !== undefined && activation !== "linear")) return false;
  if (bias === undefined) return true;
  const size = sizeOf(bias.shape);
  return bias.dtype === "float32" && (size === 1 || (size === n && bias.shape[bias.shape.length - 1] === n));
}

/** Computes the product into a new `[...outBatch, m, n]` float32 tensor on the wasm heap. */
export function blasMatMul(blas: Blas, backend: WasmBackendLike, p: BlasProduct): tf.TensorInfo {
  const { m, k, n, outBatch, aIndex, bIndex, transposeA, transposeB } = p;
  const out = backend.makeOutput([...outBatch, m, n], "float32");
  // Views are taken after the output exists: allocating can grow (and move) the wasm heap.
  const a = backend.typedArrayFromHeap(p.a) as Float32Array;
  const b = backend.typedArrayFromHeap(p.b) as Float32Array;
  const c = backend.typedArrayFromHeap(out) as Float32Array;
  let beta = 0;
  if (p.bias !== undefined) {
    const bias = backend.typedArrayFromHeap(p.bias) as Float32Array;
    if (bias.length === 1) c.fill(bias[0]);
    else for (let row = 0; row < c.length; row += n) c.set(bias, row);
    beta = 1;
  }
  const lda = p.a.shape[p.a.shape.length - 1];
  const ldb = p.b.shape[p.b.shape.length - 1];
  const entries = aIndex.length;
  const aWhole = m * k;
  const bWhole = k * n;
  const sizeB = sizeOf(p.b.shape.slice(0, -2));
  if (!transposeA && sizeB === 1 && aIndex.every((ia, i) => ia === i)) {
    // [B, m, k]·[k, n]: one [B·m, k]·[k, n] product.
    blas.sgemm(false, transposeB, entries * m, n, k, a, lda, b, ldb, beta, c, n);
    return out;
  }
  for (let i = 0; i < entries; i++) {
    blas.sgemm(
      transposeA, transposeB, m, n, k,
      a.subarray(aIndex[i] * aWhole), lda, b.subarray(bIndex[i] * bWhole), ldb, beta, c.subarray(i * m * n), n,
    );
  }
  return out;
}
