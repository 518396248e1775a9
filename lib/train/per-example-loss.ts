/**
 * A model's per-example losses on one mini-batch in the form ESAM's `minimize` takes: the losses of
 * the whole batch, or of the examples at given positions (their rows gathered into a smaller batch,
 * so that the gradient over a selection costs a pass over the selection only).
 */
import * as tf from "@tensorflow/tfjs";
import type { EncodedBatch, SequenceModel } from "../types.ts";
import type { PerExampleLoss } from "../optim/esam.ts";

/** The rows `indices` of every tensor of `batch` (the caller disposes them, e.g. inside tf.tidy). */
export function gatherBatch(batch: EncodedBatch, indices: tf.Tensor1D): EncodedBatch {
  return {
    inputIds: tf.gather(batch.inputIds, indices),
    tokenTypeIds: tf.gather(batch.tokenTypeIds, indices),
    attentionMask: tf.gather(batch.attentionMask, indices),
    ...(batch.labels ? { labels: tf.gather(batch.labels, indices) } : {}),
  };
}

/**
 * `model`'s per-example losses on `batch` (`loss(…, {reduction: "none"})`), restricted to the
 * examples at `indices` when given.
 */
export function perExampleLoss(model: SequenceModel, batch: EncodedBatch, options: { training?: boolean } = {}): PerExampleLoss {
  return (indices) =>
    tf.tidy(() => model.loss(indices ? gatherBatch(batch, indices) : batch, { ...options, reduction: "none" }));
}
