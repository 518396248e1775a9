// Shared by the step benchmarks: one Adam training step of a BERT classifier on a random batch.
import * as tf from "@tensorflow/tfjs";
import { createBertClassifier } from "../lib/models/classifier.ts";
import type { BertPresetName } from "../lib/models/config.ts";
import { AdamW } from "../lib/train/adamw.ts";

/** A training step to time and the function that frees its model, batch and optimizer. */
export interface BertAdamStep {
  /** One Adam step (forward, backward, update; dropout on), waiting for the loss value. */
  step: () => void;
  dispose: () => void;
}

/**
 * A seeded `preset` classifier (2 labels), a random batch of `batch` × `seq` tokens with every
 * position attended (the worst case for attention), and the trainer's AdamW (lr 1e-5, weight decay
 * 0.01; its update is one fused kernel on wasm).
 */
export function bertAdamStep(preset: BertPresetName, batch: number, seq: number): BertAdamStep {
  const model = createBertClassifier(preset, { numLabels: 2, seed: 0 });
  const inputs = tf.tidy(() => ({
    inputIds: tf.randomUniform([batch, seq], 0, model.config.vocab_size, "int32", 1) as tf.Tensor2D,
    tokenTypeIds: tf.zeros([batch, seq], "int32") as tf.Tensor2D,
    attentionMask: tf.ones([batch, seq], "int32") as tf.Tensor2D,
    labels: tf.randomUniform([batch], 0, 2, "int32", 2) as tf.Tensor1D,
  }));
  const adam = new AdamW({ learningRate: 1e-5, weightDecay: 0.01 });
  return {
    step: () => {
      const cost = adam.minimize(() => model.loss(inputs, { training: true }), true, model.variables) as tf.Scalar;
      cost.dataSync();
      cost.dispose();
    },
    dispose: () => {
      tf.dispose([inputs.inputIds, inputs.tokenTypeIds, inputs.attentionMask, inputs.labels]);
      adam.dispose();
      model.dispose();
    },
  };
}
