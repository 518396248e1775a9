/**
 * A faster `Sum` for the tfjs wasm backend. tfjs-backend-wasm 4.22 reduces over any axis but the
 * innermost by first transposing the input with its slow `Transpose` kernel: summing a [4096, 128]
 * matrix over its rows (every bias and LayerNorm gradient of a BERT step) takes 5 ms, and a
 * [4096, 512] one 20 ms, 10–30× the time of an innermost-axis sum. {@link wasmSumPatch} sums float32
 * inputs over leading axes directly on the wasm heap instead: eight rows at a time into float64
 * column accumulators (0.6 / 4 ms, and more accurate than float32 accumulation). Every other sum
 * keeps the original kernel. (A product with a row of ones through XNNPACK looks faster in isolation,
 * but re-packs the summed matrix as weights on every call, which makes it slower inside training.)
 * With a native BLAS loaded (lib/backend/blas.ts) the sum is that product, a row of ones times the
 * matrix, on the BLAS, which packs nothing here: ~10× faster than the column loop.
 */
import * as tf from "@tensorflow/tfjs";
import { sizeOf, wasmKernelPatch, type WasmBackendLike } from "./kernel-patch.ts";
import { activeBlas } from "./blas.ts";

/** Below this many summed elements the original kernel's transpose costs little. */
const MIN_ELEMENTS = 4096;

/** The wasm `Sum` kernel described in this module's header; `initBackend` installs it with wasm. */
export const wasmSumPatch = wasmKernelPatch("wasmSumPatch", ["Sum"], (original) => fastSum(original));

/**
 * The number of leading axes `axis` reduces, when it names exactly the first k < rank axes (in any
 * order, negative allowed); otherwise undefined.
 */
export function leadingReduction(axis: number | number[] | undefined, rank: number): number | undefined {
  if (axis === undefined) return undefined;
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= rank || axes.some((a, i) => a !== i)) return undefined;
  return axes.length;
}

/** Builds the patched kernel function around the original wasm `Sum`. */
function fastSum(original: tf.KernelFunc): tf.KernelFunc {
  return (params) => {
    const x = params.inputs.x as tf.TensorInfo;
    const attrs = (params.attrs ?? {}) as { axis?: number | number[]; keepDims?: boolean };
    const leading = x.dtype === "float32" ? leadingReduction(attrs.axis, x.shape.length) : undefined;
    if (leading === undefined || sizeOf(x.shape) < MIN_ELEMENTS) return original(params);
    const rows = sizeOf(x.shape.slice(0, leading));
    const cols = sizeOf(x.shape.slice(leading));
    const backend = params.backend as WasmBackendLike;
    const outShape = attrs.keepDims ? x.shape.map((d, i) => (i < leading ? 1 : d)) : x.shape.slice(leading);
    const out = backend.makeOutput(outShape, "float32");
    // Views are taken after the output exists: allocating can grow (and move) the wasm heap.
    const values = backend.typedArrayFromHeap(x) as Float32Array;
    const sums = backend.typedArrayFromHeap(out) as Float32Array;
    const blas = activeBlas();
    if (blas !== undefined) blas.sgemm(false, false, 1, cols, rows, onesRow(rows), rows, values, cols, 0, sums, cols);
    else columnSums(values, rows, cols, sums);
    return out;
  };
}

let ones = new Float32Array(0);

/** A row of at least `n` ones (grown and kept between calls). */
function onesRow(n: number): Float32Array {
  if (ones.length < n) ones = new Float32Array(n).fill(1);
  return ones;
}

/** `out[c] = Σ_r x[r·cols + c]`, eight rows per pass, accumulated in float64. */
export function columnSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  const acc = new Float64Array(cols);
  const c2 = 2 * cols, c3 = 3 * cols, c4 = 4 * cols, c5 = 5 * cols, c6 = 6 * cols, c7 = 7 * cols;
  let r = 0;
  for (; r + 7 < rows; r += 8) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const i = base + c;
      acc[c] += x[i] + x[i + cols] + x[i + c2] + x[i + c3] + x[i + c4] + x[i + c5] + x[i + c6] + x[i + c7];
    }
  }
  for (; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += x[base + c];
  }
  for (let c = 0; c < cols; c++) out[c] = acc[c];
}
