/**
 * Types shared by the models, data, training and inspection modules.
 */
import type * as tf from "@tensorflow/tfjs";

/** One tokenized mini-batch as the models consume it. All id tensors are int32 `[batch, seqLen]`. */
export interface EncodedBatch {
  /** Token ids. */
  inputIds: tf.Tensor2D;
  /** Segment ids: 0 for the first text, 1 for the second. */
  tokenTypeIds: tf.Tensor2D;
  /** 1 for a real token, 0 for padding. */
  attentionMask: tf.Tensor2D;
  /** Class ids (int32) for classification, targets (float32) for regression (`numLabels` 1). */
  labels?: tf.Tensor1D;
}

/** One example of a text classification or regression task. */
export interface Example {
  /** The first (or only) text. */
  textA: string;
  /** The second text of a pair task. */
  textB?: string;
  /** Class id (0..numLabels-1) or, for regression, the target value. */
  label: number;
  /** The example's index in its source file, when the file has one. */
  idx?: number;
}

/** How {@link SequenceModel.loss} reduces the per-example losses: their mean, or none (all of them). */
export type LossReduction = "mean" | "none";

/** A model that maps an encoded batch to logits and a training loss (e.g. BERT with a task head). */
export interface SequenceModel {
  /** Trainable variables; each tfjs name ends with the Hugging Face parameter name (see names.ts). */
  readonly variables: tf.Variable[];
  /** Number of outputs of the head: classes, or 1 for regression. */
  readonly numLabels: number;
  /** Logits `[batch, numLabels]`. Dropout is active only when `training` is true. */
  logits(batch: EncodedBatch, options?: { training?: boolean }): tf.Tensor2D;
  /** Mean loss over the batch: cross-entropy, or MSE when `numLabels` is 1. Needs `batch.labels`. */
  loss(batch: EncodedBatch, options?: { training?: boolean; reduction?: "mean" }): tf.Scalar;
  /**
   * With `reduction: "none"`: the per-example losses `[batch]` (cross-entropy, or squared error when
   * `numLabels` is 1), whose mean is the `"mean"` loss (ESAM's data selection needs them).
   */
  loss(batch: EncodedBatch, options: { training?: boolean; reduction: "none" }): tf.Tensor1D;
  /**
   * Optional: the mean `loss` computed from logits this model already gave for the batch (no
   * second forward pass); evaluation uses it when present.
   */
  lossFromLogits?(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar;
  /** Frees the model's variables. */
  dispose(): void;
}
