/**
 * Evaluation of a sequence model on encoded batches with a task's official metric.
 */
import * as tf from "@tensorflow/tfjs";
import type { EncodedBatch, SequenceModel } from "../types.ts";

/** Scores predictions against labels: the headline metric plus every metric the task reports. */
export interface Scorer {
  /** Name of the headline metric, e.g. `accuracy`, `matthews`, `acc_and_f1`. */
  metricName: string;
  /** Scores `yPred` (class ids, or values for regression) against `yTrue`. */
  score(yTrue: number[], yPred: number[]): { metric: number; scores: Record<string, number> };
}

/** The result of an evaluation. */
export interface Evaluation {
  /** The headline metric. */
  metric: number;
  /** Its name. */
  metricName: string;
  /** Every metric the task reports (e.g. accuracy and F1 for MRPC). */
  scores: Record<string, number>;
  /** Mean loss over the examples. */
  loss: number;
  /** Number of examples. */
  n: number;
}

/**
 * Runs the model (no dropout) over the batches: predictions (arg-max class, or the value for a
 * one-output regression head), the labels, and the example-weighted mean loss (from the same
 * forward pass when the model has `lossFromLogits`). Disposes the batches.
 */
export async function predictBatches(
  model: SequenceModel,
  batches: Iterable<EncodedBatch>,
): Promise<{ predictions: number[]; labels: number[]; loss: number }> {
  const predictions: number[] = [];
  const labels: number[] = [];
  let lossSum = 0;
  for (const batch of batches) {
    try {
      const [pred, loss] = tf.tidy(() => {
        const logits = model.logits(batch, { training: false });
        const p = model.numLabels === 1 ? tf.reshape(logits, [-1]) : tf.argMax(logits, 1);
        const { labels } = batch;
        // One forward pass: the loss from the same logits when the model can (see SequenceModel).
        const l = !labels ? tf.scalar(Number.NaN) : model.lossFromLogits ? model.lossFromLogits(logits, labels) : model.loss(batch, { training: false });
        return [p, l];
      });
      const n = pred.shape[0];
      const [p, l] = await Promise.all([pred.data(), loss.data()]);
      predictions.push(...p);
      lossSum += l[0] * n;
      tf.dispose([pred, loss]);
      if (batch.labels) labels.push(...(await batch.labels.data()));
    } finally {
      tf.dispose([batch.inputIds, batch.tokenTypeIds, batch.attentionMask, ...(batch.labels ? [batch.labels] : [])]);
    }
  }
  return { predictions, labels, loss: predictions.length ? lossSum / predictions.length : Number.NaN };
}

/** Evaluates the model on the batches with the scorer (the labels come from the batches). */
export async function evaluateBatches(model: SequenceModel, batches: Iterable<EncodedBatch>, scorer: Scorer): Promise<Evaluation> {
  const { predictions, labels, loss } = await predictBatches(model, batches);
  if (labels.length !== predictions.length) {
    throw new Error(`evaluate: ${predictions.length} predictions but ${labels.length} labels (unlabelled batches?)`);
  }
  const { metric, scores } = scorer.score(labels, predictions);
  return { metric, metricName: scorer.metricName, scores, loss, n: predictions.length };
}
