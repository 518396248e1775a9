/**
 * Seeded random token batches for the GPU kit: the timed steps and the probe need data of the
 * right shape, not text.
 */
import * as tf from "@tensorflow/tfjs";
import { mulberry32, randomInt } from "../lib/random.ts";
import type { EncodedBatch } from "../lib/types.ts";

/**
 * A batch of `batch` × `seq` random token ids in 1..vocab−1, segment 0 for the first half of each
 * sequence and 1 for the rest, and random 0/1 labels. With `padded`, every second sequence has its
 * last quarter masked out (attention mask 0, token id 0), so masking is exercised too.
 */
export function randomBatch(batch: number, seq: number, vocab: number, seed: number, padded = false): EncodedBatch {
  const random = mulberry32(seed);
  const ids = new Int32Array(batch * seq);
  const types = new Int32Array(batch * seq);
  const mask = new Int32Array(batch * seq);
  const labels = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const length = padded && b % 2 === 1 ? Math.max(1, seq - Math.floor(seq / 4)) : seq;
    for (let s = 0; s < seq; s++) {
      const i = b * seq + s;
      ids[i] = s < length ? 1 + randomInt(random, vocab - 1) : 0;
      types[i] = s < seq / 2 ? 0 : 1;
      mask[i] = s < length ? 1 : 0;
    }
    labels[b] = randomInt(random, 2);
  }
  return {
    inputIds: tf.tensor2d(ids, [batch, seq], "int32"),
    tokenTypeIds: tf.tensor2d(types, [batch, seq], "int32"),
    attentionMask: tf.tensor2d(mask, [batch, seq], "int32"),
    labels: tf.tensor1d(labels, "int32"),
  };
}

/** Sequence `i` of `batch` as a batch of one (new tensors; call inside a tidy or dispose them). */
export function exampleOf(batch: EncodedBatch, i: number): EncodedBatch {
  const row = (t: tf.Tensor2D) => tf.slice(t, [i, 0], [1, t.shape[1]]);
  return {
    inputIds: row(batch.inputIds),
    tokenTypeIds: row(batch.tokenTypeIds),
    attentionMask: row(batch.attentionMask),
    labels: tf.slice(batch.labels as tf.Tensor1D, [i], [1]),
  };
}

/** Frees the tensors of a batch. */
export function disposeBatch(batch: EncodedBatch): void {
  tf.dispose([batch.inputIds, batch.tokenTypeIds, batch.attentionMask, ...(batch.labels ? [batch.labels] : [])]);
}
