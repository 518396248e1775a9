/**
 * Test helpers for the trainer: a tiny bag-of-ids classifier implementing SequenceModel, and a
 * synthetic task whose label is decided by which of two marker tokens appears more often.
 */
import * as tf from "@tensorflow/tfjs";
import type { EncodedBatch, LossReduction, SequenceModel } from "../../lib/types.ts";
import { mulberry32 } from "../../lib/random.ts";
import type { Scorer } from "../../lib/train/evaluate.ts";

let modelCounter = 0;

/** Logistic regression over the mean one-hot of the (unmasked) token ids. */
export class BagOfIdsClassifier implements SequenceModel {
  readonly variables: tf.Variable[];
  readonly numLabels: number;
  private readonly vocabSize: number;

  constructor(vocabSize: number, numLabels: number, seed: number) {
    this.vocabSize = vocabSize;
    this.numLabels = numLabels;
    const scope = `tiny${++modelCounter}`;
    const random = mulberry32(seed);
    const w = Float32Array.from({ length: vocabSize * numLabels }, () => (random() - 0.5) * 0.02);
    this.variables = [
      tf.variable(tf.tensor2d(w, [vocabSize, numLabels]), true, `${scope}/classifier.weight`),
      tf.variable(tf.zeros([numLabels]), true, `${scope}/classifier.bias`),
    ];
  }

  logits(batch: EncodedBatch): tf.Tensor2D {
    return tf.tidy(() => {
      const mask = tf.cast(batch.attentionMask, "float32");
      const oneHot = tf.mul(tf.oneHot(batch.inputIds, this.vocabSize), tf.expandDims(mask, 2));
      const bag = tf.div(tf.sum(oneHot, 1), tf.expandDims(tf.maximum(tf.sum(mask, 1), 1), 1));
      return tf.add(tf.matMul(bag as tf.Tensor2D, this.variables[0]), this.variables[1]) as tf.Tensor2D;
    });
  }

  loss(batch: EncodedBatch, options?: { training?: boolean; reduction?: "mean" }): tf.Scalar;
  loss(batch: EncodedBatch, options: { training?: boolean; reduction: "none" }): tf.Tensor1D;
  loss(batch: EncodedBatch, options: { training?: boolean; reduction?: LossReduction } = {}): tf.Scalar | tf.Tensor1D {
    if (!batch.labels) throw new Error("loss needs labels");
    const labels = batch.labels;
    const reduction = options.reduction === "none" ? tf.Reduction.NONE : tf.Reduction.SUM_BY_NONZERO_WEIGHTS;
    return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(labels, "int32"), this.numLabels), this.logits(batch), undefined, undefined, reduction)) as tf.Scalar | tf.Tensor1D;
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

/** One synthetic example as token ids (ids ≥ 4; 0 is padding) and its label. */
export interface SyntheticExample {
  ids: number[];
  label: number;
}

/**
 * `n` examples of 3–8 tokens from ids 2..vocabSize-1; label 1 when token 2 occurs more often than
 * token 3, with a fraction `noise` of labels flipped.
 */
export function syntheticExamples(n: number, vocabSize: number, seed: number, noise = 0): SyntheticExample[] {
  const random = mulberry32(seed);
  const out: SyntheticExample[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + Math.floor(random() * 6);
    const ids = Array.from({ length: len }, () => 2 + Math.floor(random() * (vocabSize - 2)));
    const c2 = ids.filter((t) => t === 2).length;
    const c3 = ids.filter((t) => t === 3).length;
    let label = c2 > c3 ? 1 : 0;
    if (random() < noise) label = 1 - label;
    out.push({ ids, label });
  }
  return out;
}

/** Pads the examples to the longest and builds one EncodedBatch. */
export function encodeSynthetic(examples: readonly SyntheticExample[]): EncodedBatch {
  const len = Math.max(...examples.map((e) => e.ids.length));
  const ids = examples.flatMap((e) => [...e.ids, ...new Array(len - e.ids.length).fill(0)]);
  const mask = examples.flatMap((e) => e.ids.map(() => 1).concat(new Array(len - e.ids.length).fill(0)));
  return {
    inputIds: tf.tensor2d(ids, [examples.length, len], "int32"),
    tokenTypeIds: tf.zeros([examples.length, len], "int32"),
    attentionMask: tf.tensor2d(mask, [examples.length, len], "int32"),
    labels: tf.tensor1d(examples.map((e) => e.label), "int32"),
  };
}

/** Lazily yields batches of `batchSize` in the order given by `order` (indices into examples). */
export function* syntheticBatches(
  examples: readonly SyntheticExample[],
  batchSize: number,
  order?: readonly number[],
): Generator<EncodedBatch> {
  const idx = order ?? examples.map((_, i) => i);
  for (let i = 0; i < idx.length; i += batchSize) {
    yield encodeSynthetic(idx.slice(i, i + batchSize).map((j) => examples[j]));
  }
}

/** Accuracy of predicted class ids, as a training loop's dev scorer. */
export const accuracy: Scorer = {
  metricName: "accuracy",
  score: (yTrue, yPred) => {
    const acc = yTrue.filter((y, i) => y === yPred[i]).length / yTrue.length;
    return { metric: acc, scores: { accuracy: acc } };
  },
};
