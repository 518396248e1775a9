/**
 * Seeded parameter initialisation as Hugging Face's BERT does it: weights from a normal
 * distribution with std `initializer_range` (truncated at two std, as the original TensorFlow BERT),
 * LayerNorm weights 1 and biases 0, all biases 0, the padding row of the word embeddings 0.
 * Each parameter's values depend only on the seed and its name, not on the order of creation.
 */
import * as tf from "@tensorflow/tfjs";

/** How a parameter starts. */
export type ParameterInit = "normal" | "ones" | "zeros";

/** A model parameter: its Hugging Face name, shape and initialisation. */
export interface ParameterSpec {
  /** Hugging Face parameter name, e.g. `bert.pooler.dense.weight`. */
  readonly name: string;
  /** Shape, in Hugging Face's layout (`[out, in]` for linear weights). */
  readonly shape: readonly number[];
  /** Initial distribution. */
  readonly init: ParameterInit;
  /** A row set to zero after a normal initialisation (the padding token's embedding). */
  readonly zeroRow?: number;
}

/** A 31-bit seed for one parameter, mixed from the model seed and the parameter name (FNV-1a). */
export function parameterSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  h = Math.imul(h, 0x01000193);
  h ^= Math.floor(seed / 2 ** 32) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & 0x7fffffff;
}

/** The initial value of a parameter, deterministic in (`seed`, `spec.name`). */
export function initialValue(spec: ParameterSpec, std: number, seed: number): tf.Tensor {
  const shape = [...spec.shape];
  switch (spec.init) {
    case "ones":
      return tf.ones(shape);
    case "zeros":
      return tf.zeros(shape);
    case "normal":
      return tf.tidy(() => {
        const value = tf.truncatedNormal(shape, 0, std, "float32", parameterSeed(seed, spec.name));
        if (spec.zeroRow === undefined) return value;
        const rowMask = tf.oneHot(tf.tensor1d([spec.zeroRow], "int32"), shape[0]).reshape([shape[0], 1]);
        return tf.mul(value, tf.sub(1, rowMask));
      });
  }
}
