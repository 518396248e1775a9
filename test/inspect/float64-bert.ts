/**
 * Test/bench helper: lib/models' BertForSequenceClassification loss (eval mode, cross-entropy)
 * re-implemented in plain JS over hyper-dual numbers (hyperdual.ts), and the float64 H·v of a
 * tfjs model's loss computed with it — the reference exact Hessian-vector products are checked
 * against. Written from the Hugging Face BERT definition, sharing no code with lib/models.
 */
import * as tf from "@tensorflow/tfjs";
import type { BertForSequenceClassification } from "../../lib/models/classifier.ts";
import type { EncodedBatch } from "../../lib/types.ts";
import {
  type HD,
  type Mat,
  add,
  erf,
  hd,
  layerNorm,
  linear,
  logSumExp,
  mul,
  scale,
  softmax,
  sub,
  sumOf,
  tanh,
  hyperDualHvp,
} from "./hyperdual.ts";

/** A batch as plain arrays: token ids, segment ids, 0/1 attention mask [batch][seq], class labels. */
export interface PlainBatch {
  inputIds: number[][];
  tokenTypeIds: number[][];
  attentionMask: number[][];
  labels: number[];
}

/** A BERT small enough for a full float64 H·v: two layers, hidden 8, two heads, no dropout. */
export const SMALL_BERT = {
  vocab_size: 12, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 16,
  max_position_embeddings: 6, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
};

/** Two sequences of 5 for {@link SMALL_BERT}, one padded, with two segments. */
export const SMALL_BATCH: PlainBatch = {
  inputIds: [[2, 5, 7, 1, 0], [3, 9, 11, 4, 6]],
  tokenTypeIds: [[0, 0, 1, 1, 0], [0, 0, 0, 1, 1]],
  attentionMask: [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]],
  labels: [0, 1],
};

/** The batch as int32 tensors (caller disposes). */
export function tensorBatch(batch: PlainBatch): EncodedBatch {
  return {
    inputIds: tf.tensor2d(batch.inputIds, undefined, "int32"),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, undefined, "int32"),
    attentionMask: tf.tensor2d(batch.attentionMask, undefined, "int32"),
    labels: tf.tensor1d(batch.labels, "int32"),
  };
}

/** The score tfjs and Hugging Face add at masked positions. */
const MASKED = -3.4028234663852886e38;

/** Mean cross-entropy of the classifier with weights `param(name)` (row-major, Hugging Face names). */
function bertLoss(model: BertForSequenceClassification, param: (name: string) => HD[], batch: PlainBatch): HD {
  const c = model.config;
  const H = c.hidden_size;
  const heads = c.num_attention_heads;
  const dh = H / heads;
  const matrix = (name: string, cols: number): Mat => {
    const flat = param(name);
    return Array.from({ length: flat.length / cols }, (_, r) => flat.slice(r * cols, (r + 1) * cols));
  };
  const dense = (x: Mat, prefix: string, inp: number) => linear(x, matrix(`${prefix}.weight`, inp), param(`${prefix}.bias`));
  const norm = (x: Mat, prefix: string) =>
    layerNorm(x, param(`${prefix}.LayerNorm.weight`), param(`${prefix}.LayerNorm.bias`), c.layer_norm_eps);
  const word = matrix("bert.embeddings.word_embeddings.weight", H);
  const pos = matrix("bert.embeddings.position_embeddings.weight", H);
  const type = matrix("bert.embeddings.token_type_embeddings.weight", H);
  const seq = batch.inputIds[0].length;
  let perExample: Mat[] = batch.inputIds.map((ids, b) =>
    norm(ids.map((id, s) => word[id].map((x, j) => add(add(x, type[batch.tokenTypeIds[b][s]][j]), pos[s][j]))), "bert.embeddings"),
  );
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    perExample = perExample.map((x, b) => {
      const q = dense(x, `${p}.attention.self.query`, H);
      const k = dense(x, `${p}.attention.self.key`, H);
      const v = dense(x, `${p}.attention.self.value`, H);
      const context: Mat = x.map(() => []);
      for (let h = 0; h < heads; h++) {
        const cols = (row: HD[]) => row.slice(h * dh, (h + 1) * dh);
        for (let i = 0; i < seq; i++) {
          const scores = k.map((kj, j) =>
            add(scale(sumOf(cols(q[i]).map((qi, t) => mul(qi, cols(kj)[t]))), 1 / Math.sqrt(dh)), hd(batch.attentionMask[b][j] ? 0 : MASKED)),
          );
          const probs = softmax(scores);
          for (let t = 0; t < dh; t++) context[i].push(sumOf(probs.map((pj, j) => mul(pj, v[j][h * dh + t]))));
        }
      }
      const attended = dense(context, `${p}.attention.output.dense`, H);
      const attentionOut = norm(attended.map((row, i) => row.map((a, j) => add(a, x[i][j]))), `${p}.attention.output`);
      const inner = dense(attentionOut, `${p}.intermediate.dense`, H).map((row) =>
        row.map((z) => mul(scale(z, 0.5), add(erf(scale(z, Math.SQRT1_2)), hd(1)))),
      );
      const ffn = dense(inner, `${p}.output.dense`, c.intermediate_size);
      return norm(ffn.map((row, i) => row.map((a, j) => add(a, attentionOut[i][j]))), `${p}.output`);
    });
  }
  const pooled = dense(perExample.map((x) => x[0]), "bert.pooler.dense", H).map((row) => row.map(tanh));
  const logits = dense(pooled, "classifier", H);
  const nll = logits.map((row, b) => sub(logSumExp(row), row[batch.labels[b]]));
  return scale(sumOf(nll), 1 / nll.length);
}

/** The model's weights flattened in `model.variables` order, and a lookup of one parameter's slice. */
function flatWeights(model: BertForSequenceClassification): { w: Float64Array; slice: (params: HD[], name: string) => HD[] } {
  const names = model.parameterNames();
  const offsets: number[] = [];
  let n = 0;
  for (const x of model.variables) {
    offsets.push(n);
    n += x.size;
  }
  const w = new Float64Array(n);
  model.variables.forEach((x, i) => w.set(x.dataSync(), offsets[i]));
  const slice = (params: HD[], name: string) => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`no parameter ${name}`);
    return params.slice(offsets[i], offsets[i] + model.variables[i].size);
  };
  return { w, slice };
}

function checkSupported(model: BertForSequenceClassification): void {
  if (model.config.hidden_act !== "gelu") throw new Error("float64 BERT reference: only hidden_act gelu is implemented");
  if (model.numLabels < 2) throw new Error("float64 BERT reference: only classification (numLabels >= 2) is implemented");
}

/**
 * The float64 H·v of `model`'s eval-mode loss on `batch` at its current weights (read from the
 * variables), `v` given flattened in `model.variables` order; one hyper-dual pass per weight.
 */
export function float64BertHvp(model: BertForSequenceClassification, batch: PlainBatch, v: Float64Array): Float64Array {
  checkSupported(model);
  const { w, slice } = flatWeights(model);
  return hyperDualHvp(w, v, (params) => bertLoss(model, (name) => slice(params, name), batch));
}

/**
 * The float64 uᵀ·H·v of `model`'s eval-mode loss on `batch` in a single hyper-dual pass (ε₁ seeded
 * with u, ε₂ with v, both flattened in `model.variables` order): affordable at bert-tiny size.
 */
export function float64BertBilinear(model: BertForSequenceClassification, batch: PlainBatch, u: Float64Array, v: Float64Array): number {
  checkSupported(model);
  const { w, slice } = flatWeights(model);
  const params: HD[] = Array.from(w, (a, i) => ({ a, b: u[i], c: v[i], d: 0 }));
  return bertLoss(model, (name) => slice(params, name), batch).d;
}
