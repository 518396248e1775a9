/**
 * Dropout masks from a counter-based hash: the multiplier of element i for a call's seed is
 * `keep(i) ? 1/(1−rate) : 0` with `keep(i) = hash32(hash32(i ⊕ k1) ⊕ k2) < ⌊(1−rate)·2³²⌋`, where
 * the keys k1, k2 are hashes of the seed ({@link dropoutKeys}; `hash32` in lib/random.ts). Each
 * element is drawn independently of the others, so the mask is computed four elements at a time by
 * SIMD code on the wasm backend (lib/backend/wasm-dropout-mask.ts: ~1 ns per element, against ~10 ns
 * for the sequential Alea generator `tf.dropout` uses, which was ~8 % of a bert-tiny training step)
 * and by {@link dropoutMultiplier} in JavaScript elsewhere: the same values on every backend (tested).
 * A kept element's multiplier is float32(1 / float32(1 − rate)), as in `tf.dropout`; the keep
 * probability is exact to 2⁻³².
 */
import * as tf from "@tensorflow/tfjs";
import { DROPOUT_MASK, type DropoutMaskAttrs } from "../backend/wasm-dropout-mask.ts";
import { hasFusedKernel } from "../backend/wasm-fused.ts";
import { hash32 } from "../random.ts";

/** The keys, threshold and scale of a dropout call (see the module comment). */
export function dropoutKeys(rate: number, seed: number): Omit<DropoutMaskAttrs, "shape"> {
  if (!(rate > 0 && rate < 1)) throw new Error(`dropout rate must be in (0, 1), got ${rate}`);
  const keep = Math.fround(1 - rate);
  return {
    k1: hash32(seed ^ 0x243f6a88) | 0,
    k2: hash32(seed ^ 0x85a308d3) | 0,
    threshold: Math.min(2 ** 32 - 1, Math.floor((1 - rate) * 2 ** 32)) | 0,
    scale: Math.fround(1 / keep),
  };
}

/** `size` values of the dropout multiplier for `rate` in (0, 1) and an integer seed (module comment), in JavaScript. */
export function dropoutMultiplier(size: number, rate: number, seed: number): Float32Array {
  const { k1, k2, threshold, scale } = dropoutKeys(rate, seed);
  const limit = threshold >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) if (hash32(hash32(i ^ k1) ^ k2) < limit) out[i] = scale;
  return out;
}

/** The dropout multiplier as a float32 tensor of `shape`: the fused kernel where the backend has it, JavaScript otherwise. */
export function dropoutMask(shape: number[], rate: number, seed: number): tf.Tensor {
  const keys = dropoutKeys(rate, seed);
  if (hasFusedKernel(DROPOUT_MASK)) {
    const attrs: DropoutMaskAttrs = { ...keys, shape };
    return tf.engine().runKernel(DROPOUT_MASK, {}, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  return tf.tensor(dropoutMultiplier(tf.util.sizeFromShape(shape), rate, seed), shape, "float32");
}
