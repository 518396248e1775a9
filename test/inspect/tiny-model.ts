/**
 * Test helper: a tiny classifier whose variables carry BERT-style HF names (embeddings, two encoder
 * layers' parts, LayerNorm, classifier), with per-sample and batch losses on a fixed data set.
 */
import * as tf from "@tensorflow/tfjs";
import { namedVariables } from "./quadratic.ts";

/** The HF names, shapes, and the (layer, component) each belongs to, written out by hand. */
export const TINY_SPEC: [string, number[], number | null, string][] = [
  ["bert.embeddings.word_embeddings.weight", [10, 4], null, "word"],
  ["bert.encoder.layer.0.attention.self.query.weight", [4, 4], 0, "query"],
  ["bert.encoder.layer.0.attention.self.query.bias", [4], 0, "query"],
  ["bert.encoder.layer.0.intermediate.dense.weight", [6, 4], 0, "intermediate"],
  ["bert.encoder.layer.0.intermediate.dense.bias", [6], 0, "intermediate"],
  ["bert.encoder.layer.0.output.dense.weight", [4, 6], 0, "output"],
  ["bert.encoder.layer.0.output.LayerNorm.weight", [4], 0, "output.LayerNorm"],
  ["bert.encoder.layer.1.attention.self.key.weight", [4, 4], 1, "key"],
  ["classifier.weight", [3, 4], null, "classifier"],
  ["classifier.bias", [3], null, "classifier"],
];

/** Token ids [12, 3] and labels [12] of the fixed data set. */
const IDS = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 0, 1], [2, 3, 4], [5, 6, 7], [8, 9, 0], [1, 3, 5], [2, 4, 6]];
const LABELS = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];

/** A tiny model under `scope`. */
export function tinyModel(scope: string, seed: number) {
  const vars = namedVariables(TINY_SPEC.map(([n, s]) => [n, s]), seed, scope);
  const [emb, wq, bq, wi, bi, wo, ln, wk, wc, bc] = vars;
  const logits = (ids: number[][]) =>
    tf.tidy(() => {
      const x = tf.mean(tf.gather(emb, tf.tensor2d(ids, undefined, "int32")), 1) as tf.Tensor2D;
      let h = tf.relu(tf.add(tf.matMul(x, wq, false, true), bq));
      const f = tf.matMul(tf.relu(tf.add(tf.matMul(h, wi, false, true), bi)), wo, false, true);
      h = tf.mul(tf.add(h, f), ln);
      h = tf.matMul(h, wk, false, true);
      return tf.add(tf.matMul(h, wc, false, true), bc) as tf.Tensor2D;
    });
  const lossOn = (rows: number[]) =>
    tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(rows.map((r) => LABELS[r]), "int32"), 3), logits(rows.map((r) => IDS[r]))) as tf.Scalar);
  const all = IDS.map((_, i) => i);
  return {
    vars,
    /** Loss of sample i (i mod 12). */
    sampleLoss: (i: number) => lossOn([i % IDS.length]),
    /** Mean loss over the 12 samples. */
    loss: () => lossOn(all),
    /** Loss and accuracy over the 12 samples. */
    evaluate: () =>
      tf.tidy(() => {
        const z = logits(IDS);
        const labels = tf.tensor1d(LABELS, "int32");
        return {
          loss: tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 3), z) as tf.Scalar,
          accuracy: tf.mean(tf.equal(tf.argMax(z, 1), labels).toFloat()) as tf.Scalar,
        };
      }),
  };
}
