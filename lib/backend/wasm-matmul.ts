/**
 * Faster, correct matrix products for the tfjs wasm backend.
 *
 * tfjs-backend-wasm 4.22 sends a `BatchMatMul` / `_FusedMatMul` to XNNPACK only when neither
 * operand is transposed and both have a batch size of 1; every other call (any `transposeA` /
 * `transposeB`, any batched product) runs a naive blocked triple loop that is 10–20× slower.
 * Every dense-layer backward pass (`dW = xᵀ·dy`, `dx = dy·Wᵀ`) and every attention product hits it.
 * The naive loop of `_FusedMatMul` also adds the bias wrongly (row i > 0 gets the last bias entry).
 *
 * {@link patchWasmMatMul} re-registers both kernels for `wasm` with a kernel function that
 * 1. materialises a transposed operand with the wasm `Transpose` kernel (cheap, memory bound), or
 *    for a plain matrix product computes `(op(B)ᵀ·op(A)ᵀ)ᵀ` when that moves less data,
 * 2. folds the batch dimensions of `a` into its rows when `b` has a single batch
 *    (`[B, M, K]·[K, N]` is one `[B·M, K]·[K, N]` product), and
 * 3. otherwise runs one XNNPACK product per output batch entry on copied slices,
 * so that the original kernel runs on its XNNPACK path — except for tiny bias-free products, where
 * its naive loop is faster and correct. Results equal the plain product up to float32 summation
 * order; gradients are built from these same kernels. Every intermediate is freed with the
 * backend's `disposeData`.
 *
 * When a native BLAS is loaded (lib/backend/blas.ts, OpenBLAS through koffi), every float32 product
 * without an activation goes to it instead (lib/backend/blas-matmul.ts), transposes and batches included.
 */
import * as tf from "@tensorflow/tfjs";
import { sizeOf, view, wasmKernelPatch, type WasmBackendLike } from "./kernel-patch.ts";
import { activeBlas } from "./blas.ts";
import { blasHandles, blasMatMul } from "./blas-matmul.ts";

/** The wasm `BatchMatMul` / `_FusedMatMul` kernels described in this module's header (see {@link patchWasmMatMul}). */
export const wasmMatMulPatch = wasmKernelPatch("patchWasmMatMul", ["BatchMatMul", "_FusedMatMul"], (original) => fastKernel(original));

/**
 * Replaces the wasm backend's `BatchMatMul` and `_FusedMatMul` kernels with the fast path
 * described in this module's header. Idempotent: a second call changes nothing.
 * `initBackend` calls it when it picks wasm; it can be called before or after `tf.setBackend("wasm")`
 * (the original kernels' setup functions are kept).
 *
 * @returns `true` when the patch is in place afterwards.
 * @throws Error when `@tensorflow/tfjs-backend-wasm` has not been imported (no wasm kernels registered).
 */
export function patchWasmMatMul(): boolean {
  return wasmMatMulPatch.install();
}

/**
 * Restores the original wasm `BatchMatMul` and `_FusedMatMul` kernels (used by the benchmark to
 * measure before/after, and by tests). Does nothing when the patch is not installed.
 */
export function unpatchWasmMatMul(): void {
  wasmMatMulPatch.uninstall();
}

/** Whether {@link patchWasmMatMul} is currently installed. */
export function isWasmMatMulPatched(): boolean {
  return wasmMatMulPatch.installed();
}

/** The permutation that swaps the last two axes of a rank-r tensor. */
function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** Numpy-style broadcast of two batch shapes, or `undefined` when they do not broadcast. */
function broadcastBatch(a: readonly number[], b: readonly number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** For each flat index of `outBatch`, the flat index into a (broadcast) `batch` shape. */
function batchIndexMap(batch: readonly number[], outBatch: readonly number[]): number[] {
  const total = sizeOf(outBatch);
  const offset = outBatch.length - batch.length;
  const map: number[] = new Array(total);
  for (let flat = 0; flat < total; flat++) {
    let rest = flat;
    let index = 0;
    let stride = 1;
    for (let axis = outBatch.length - 1; axis >= 0; axis--) {
      const coord = rest % outBatch[axis];
      rest = Math.floor(rest / outBatch[axis]);
      const ownAxis = axis - offset;
      if (ownAxis >= 0) {
        const dim = batch[ownAxis];
        if (dim !== 1) index += coord * stride;
        stride *= dim;
      }
    }
    map[flat] = index;
  }
  return map;
}

/** A new tensor holding rows `[index·rows, (index+1)·rows)` of a float32 tensor, shaped [1, rows, cols]. */
function copySlice(
  backend: WasmBackendLike,
  source: tf.TensorInfo,
  index: number,
  rows: number,
  cols: number,
): tf.TensorInfo {
  const slice = backend.makeOutput([1, rows, cols], "float32");
  const size = rows * cols;
  const from = backend.typedArrayFromHeap(source);
  backend.typedArrayFromHeap(slice).set(from.subarray(index * size, (index + 1) * size));
  return slice;
}

/**
 * Products below this many multiply-adds per batch entry stay on the original kernel when that is
 * correct (no bias): XNNPACK's per-call set-up (~30 µs) outweighs its speed there (measured on
 * 64 batches of s×s×s: break-even near s = 24).
 */
const SMALL_PRODUCT_MACS = 16384;

/** Everything one patched call needs: the backend, the original kernel and its fixed inputs. */
interface Call {
  backend: WasmBackendLike;
  rawBackend: {};
  original: tf.KernelFunc;
  inputs: tf.NamedTensorInfoMap;
  attrs: tf.NamedAttrMap;
  /** Intermediates to free when the call ends (successfully or not). */
  temporaries: tf.TensorInfo[];
}

/** Materialises `x` with its last two axes swapped, using the wasm Transpose kernel. */
function transposed(call: Call, x: tf.TensorInfo): tf.TensorInfo {
  const out = tf.getKernel("Transpose", "wasm").kernelFunc({
    inputs: { x },
    backend: call.rawBackend,
    attrs: { perm: swapLastTwo(x.shape.length) },
  }) as tf.TensorInfo;
  call.temporaries.push(out);
  return out;
}

/** Runs the original kernel on its fast path: plain [1, rows, k]·[1, k, n] operands. */
function plainProduct(call: Call, x: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo {
  return call.original({
    inputs: { ...call.inputs, a: x, b: y },
    backend: call.rawBackend,
    attrs: { ...call.attrs, transposeA: false, transposeB: false },
  }) as tf.TensorInfo;
}

/**
 * One product per output batch entry on copied [m, k] and [k, n] slices (broadcast batch
 * dimensions map several entries to one slice), written into one [...outBatch, m, n] output.
 */
function perBatchProduct(
  call: Call,
  left: tf.TensorInfo,
  right: tf.TensorInfo,
  outBatch: number[],
): tf.TensorInfo {
  const { backend } = call;
  const [m, k] = left.shape.slice(-2);
  const n = right.shape[right.shape.length - 1];
  const batchA = left.shape.slice(0, -2);
  const aIndex = batchIndexMap(batchA, outBatch);
  const bIndex = batchIndexMap(right.shape.slice(0, -2), outBatch);
  const aWhole = sizeOf(batchA) === 1;
  const out = backend.makeOutput([...outBatch, m, n], "float32");
  const size = m * n;
  try {
    for (let i = 0; i < aIndex.length; i++) {
      const step: tf.TensorInfo[] = [];
      try {
        const x = aWhole ? view(left, [1, m, k]) : copySlice(backend, left, aIndex[i], m, k);
        if (!aWhole) step.push(x);
        const y = copySlice(backend, right, bIndex[i], k, n);
        step.push(y);
        const product = plainProduct(call, x, y);
        step.push(product);
        const result = backend.typedArrayFromHeap(product).subarray(0, size);
        backend.typedArrayFromHeap(out).set(result, i * size);
      } finally {
        for (const t of step) backend.disposeData(t.dataId);
      }
    }
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  }
  return out;
}

/** Builds the patched kernel function around an original wasm (fused) matmul kernel function. */
function fastKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (params) => {
    const inputs = params.inputs;
    const attrs = params.attrs ?? {};
    const a = inputs.a as tf.TensorInfo;
    const b = inputs.b as tf.TensorInfo;
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    const { bias, preluActivationWeights: prelu } = inputs;
    if (
      a.dtype !== "float32" ||
      b.dtype !== "float32" ||
      a.shape.length < 2 ||
      b.shape.length < 2 ||
      sizeOf(a.shape) === 0 ||
      sizeOf(b.shape) === 0 ||
      (prelu !== undefined && prelu.shape.length > 1)
    ) {
      return original(params);
    }
    const [ra, ca] = a.shape.slice(-2);
    const [rb, cb] = b.shape.slice(-2);
    const [m, k] = transposeA ? [ca, ra] : [ra, ca];
    const [kb, n] = transposeB ? [cb, rb] : [rb, cb];
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const outBatch = broadcastBatch(batchA, batchB);
    // Mismatched shapes: the original kernel throws tfjs's own error message.
    if (k !== kb || outBatch === undefined) return original(params);
    const blas = activeBlas();
    if (blas !== undefined && blasHandles(n, attrs, bias, prelu)) {
      const aIndex = batchIndexMap(batchA, outBatch);
      const bIndex = batchIndexMap(batchB, outBatch);
      const product = { a, b, transposeA, transposeB, m, k, n, outBatch, aIndex, bIndex, bias };
      return blasMatMul(blas, params.backend as WasmBackendLike, product);
    }
    const outShape = [...outBatch, m, n];
    const plainAlready = !transposeA && !transposeB && sizeOf(batchA) === 1 && sizeOf(batchB) === 1;
    // The original kernel is fast here, or small enough that its naive loop wins (its naive loop
    // is only wrong when a bias is added).
    if (plainAlready || (m * k * n < SMALL_PRODUCT_MACS && bias === undefined)) return original(params);

    const call: Call = {
      backend: params.backend as WasmBackendLike,
      rawBackend: params.backend,
      original,
      inputs,
      attrs,
      temporaries: [],
    };
    try {
      // (op(A)·op(B)) = (op(B)ᵀ·op(A)ᵀ)ᵀ moves less data when B is the transposed one and m is
      // small: it packs an [k, m] right operand instead of transposing and packing a [k, n] one.
      // Only for matrices (no batch) and without a bias/PReLU, which act on the columns.
      const swapCost = (transposeB ? 0 : n * k) + (transposeA ? 0 : m * k) + k * m + m * n;
      const directCost = (transposeA ? m * k : 0) + (transposeB ? n * k : 0) + k * n;
      const canSwap = sizeOf(batchA) === 1 && sizeOf(batchB) === 1 && bias === undefined && prelu === undefined;
      if (canSwap && swapCost < directCost) {
        const rows = transposeB ? b : transposed(call, b);
        const cols = transposeA ? a : transposed(call, a);
        const productT = plainProduct(call, view(rows, [1, n, k]), view(cols, [1, k, m]));
        call.temporaries.push(productT);
        const product = tf.getKernel("Transpose", "wasm").kernelFunc({
          inputs: { x: productT },
          backend: call.rawBackend,
          attrs: { perm: [0, 2, 1] },
        }) as tf.TensorInfo;
        return view(product, outShape);
      }
      const left = transposeA ? transposed(call, a) : a;
      const right = transposeB ? transposed(call, b) : b;
      if (sizeOf(batchB) === 1) {
        const product = plainProduct(call, view(left, [1, sizeOf(batchA) * m, k]), view(right, [1, k, n]));
        return view(product, outShape);
      }
      return view(perBatchProduct(call, left, right, outBatch), outShape);
    } finally {
      for (const t of call.temporaries) call.backend.disposeData(t.dataId);
    }
  };
}
