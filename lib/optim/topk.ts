/**
 * Global top-k selection over many typed arrays in O(n): the Fisher-mask threshold of FSAM.
 *
 * The selection is an exact radix select on the IEEE-754 bit patterns of the scores: a float32 maps
 * to a 32-bit key whose unsigned order equals the numeric order, so two 16-bit histogram passes find
 * the k-th largest key without sorting, and a third pass writes the masks. No copy of the scores is
 * made (the keys are read through `Uint32Array` views), so 10 M scores take a few hundred ms.
 */

/** The result of {@link topKMask}. */
export interface TopKMaskResult {
  /** Per-name 0/1 masks, the same length as the score arrays; 1 marks a kept entry. */
  masks: Map<string, Uint8Array>;
  /**
   * The smallest kept score (every entry with a larger score is kept). `Infinity` when nothing is
   * kept.
   */
  threshold: number;
  /** Number of kept entries, exactly `keepCount(keepFraction, n)`. */
  kept: number;
}

/**
 * The number of entries kept out of `n` for a keep fraction: `floor(keepFraction·n)`, where a
 * product within 1e-6 of an integer counts as that integer, so floating-point noise such as
 * `(1 − 0.9)·10 = 0.9999999999999998` still keeps 1 entry.
 */
export function keepCount(keepFraction: number, n: number): number {
  if (!(keepFraction >= 0 && keepFraction <= 1)) {
    throw new Error(`keepFraction must be in [0, 1], got ${keepFraction}`);
  }
  const exact = keepFraction * n;
  const nearest = Math.round(exact);
  const k = Math.abs(exact - nearest) < 1e-6 ? nearest : Math.floor(exact);
  return Math.min(n, Math.max(0, k));
}

/**
 * Order-preserving 32-bit key of a float32 bit pattern: larger floats get larger unsigned keys.
 * NaN maps to 0, below every number, so NaN scores are kept last.
 */
function sortKey(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return 0;
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

/** The float value of a key made by {@link sortKey} (never called for the NaN key). */
function keyValue(key: number): number {
  const bits = key & 0x80000000 ? key & 0x7fffffff : ~key;
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits >>> 0);
  return view.getFloat32(0);
}

/** Uint32 views on the bit patterns of float32 arrays (no copy). */
function bitViews(arrays: Float32Array[]): Uint32Array[] {
  return arrays.map((a) => new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/**
 * The k-th largest key over all arrays (1 ≤ k ≤ total length) and how many entries with exactly
 * that key belong to the top k (the rest of the top k have strictly larger keys).
 */
function kthLargestKey(views: Uint32Array[], k: number): { key: number; takeEqual: number } {
  const high = new Float64Array(65536);
  for (const view of views) {
    for (let i = 0; i < view.length; i++) high[sortKey(view[i]) >>> 16]++;
  }
  let above = 0;
  let hi = 65535;
  while (above + high[hi] < k) above += high[hi--];
  const low = new Float64Array(65536);
  for (const view of views) {
    for (let i = 0; i < view.length; i++) {
      const key = sortKey(view[i]);
      if (key >>> 16 === hi) low[key & 0xffff]++;
    }
  }
  let lo = 65535;
  while (above + low[lo] < k) above += low[lo--];
  return { key: ((hi << 16) | lo) >>> 0, takeEqual: k - above };
}

/**
 * The k-th largest value over all arrays together (1 ≤ k ≤ total length), in O(n).
 * NaN ranks below every number.
 */
export function kthLargest(arrays: Float32Array[], k: number): number {
  const n = arrays.reduce((s, a) => s + a.length, 0);
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new Error(`kthLargest: k must be an integer in [1, ${n}], got ${k}`);
  }
  const { key } = kthLargestKey(bitViews(arrays), k);
  return key === 0 ? NaN : keyValue(key);
}

/**
 * One global top-k over every score array together (never per array): keeps exactly
 * `k = keepCount(keepFraction, n)` entries, those with the largest scores, where n is the total
 * length. Ties at the threshold are broken by map order, then index. O(n) time, no sort.
 *
 * @param scores Per-name scores (e.g. Fisher information per parameter).
 * @param keepFraction Fraction of all entries to keep, in [0, 1] (FSAM: 1 − sparsity).
 */
export function topKMask(scores: Map<string, Float32Array>, keepFraction: number): TopKMaskResult {
  const arrays = [...scores.values()];
  const n = arrays.reduce((s, a) => s + a.length, 0);
  const k = keepCount(keepFraction, n);
  const masks = new Map<string, Uint8Array>();
  if (k === 0) {
    for (const [name, a] of scores) masks.set(name, new Uint8Array(a.length));
    return { masks, threshold: Infinity, kept: 0 };
  }
  const views = bitViews(arrays);
  const { key: threshold, takeEqual } = kthLargestKey(views, k);
  let equalLeft = takeEqual;
  let index = 0;
  for (const name of scores.keys()) {
    const view = views[index++];
    const mask = new Uint8Array(view.length);
    for (let i = 0; i < view.length; i++) {
      const key = sortKey(view[i]);
      if (key > threshold) mask[i] = 1;
      else if (key === threshold && equalLeft > 0) {
        mask[i] = 1;
        equalLeft--;
      }
    }
    masks.set(name, mask);
  }
  return { masks, threshold: threshold === 0 ? NaN : keyValue(threshold), kept: k };
}
