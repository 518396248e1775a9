// Evaluation runs one forward pass per batch: the loss comes from the logits that give the
// predictions (SequenceModel.lossFromLogits), bit-identical to model.loss.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { batches } from "../../lib/data/batches.ts";
import { loadDefaultTask } from "../../lib/data/default-task.ts";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import { bertPresets } from "../../lib/models/config.ts";
import { predictBatches } from "../../lib/train/evaluate.ts";

await tf.setBackend("cpu");

const task = loadDefaultTask();
const dev = task.dev.slice(0, 40);
const small = { ...bertPresets["bert-tiny"].config, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64, vocab_size: task.tokenizer.vocabSize };

for (const numLabels of [2, 1]) {
  test(`predictBatches: one forward pass per batch, loss bit-identical to model.loss (${numLabels === 1 ? "regression" : "classification"})`, async () => {
    const model = createBertClassifier(small, { numLabels, seed: 5 });
    const options = { batchSize: 16, maxLength: 32, ...(numLabels === 1 ? { regression: true } : { task: "default" }) };
    try {
      // The loss as model.loss computes it, example-weighted over the batches, in the same float64 sums.
      let expected = 0;
      for (const b of batches(dev, task.tokenizer, options)) {
        const l = model.loss(b, { training: false });
        expected += (await l.data())[0] * b.inputIds.shape[0];
        tf.dispose([l, ...Object.values(b)]);
      }
      expected /= dev.length;
      let forwardPasses = 0;
      const logits = model.logits.bind(model);
      model.logits = (batch, o) => {
        forwardPasses++;
        return logits(batch, o);
      };
      const before = tf.memory().numTensors;
      const out = await predictBatches(model, batches(dev, task.tokenizer, options));
      assert.equal(tf.memory().numTensors, before, "no tensor leaked");
      assert.equal(forwardPasses, 3, "one forward pass for each of the 3 batches");
      assert.equal(out.loss, expected);
      assert.equal(out.predictions.length, dev.length);
    } finally {
      model.dispose();
    }
  });
}
