// The tfjs BERT forward pass and losses, checked against an independent plain-JS float64
// implementation written here with explicit loops (1 layer, hidden 8, 2 heads).
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createBertClassifier, type BertForSequenceClassification } from "../../lib/models/classifier.ts";

await tf.setBackend("cpu");

const config = {
  vocab_size: 11,
  hidden_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 12,
  max_position_embeddings: 7,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
};

/** Deterministic pseudo-random numbers in [-1, 1) (an LCG), independent of tfjs. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** Gives every variable random values (LayerNorm weights around 1) and returns them as float64 arrays. */
function randomize(model: BertForSequenceClassification, seed: number): Map<string, { shape: number[]; v: number[] }> {
  const rand = lcg(seed);
  const out = new Map<string, { shape: number[]; v: number[] }>();
  for (const name of model.parameterNames()) {
    const variable = model.variable(name);
    const values = Array.from({ length: variable.size }, () => (name.endsWith("LayerNorm.weight") ? 1 + 0.5 * rand() : 0.7 * rand()));
    variable.assign(tf.tensor(Float32Array.from(values), variable.shape));
    // Keep the float32-rounded values, which is what tfjs computes with.
    out.set(name, { shape: variable.shape, v: Array.from(Float32Array.from(values)) });
  }
  return out;
}

/** erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit). */
function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

type Params = Map<string, { shape: number[]; v: number[] }>;

function row(p: Params, name: string, i: number): number[] {
  const { shape, v } = p.get(name)!;
  return v.slice(i * shape[1], (i + 1) * shape[1]);
}

/** y = W x + b with W [out, in] as Hugging Face stores it. */
function dense(p: Params, prefix: string, x: number[]): number[] {
  const { shape, v } = p.get(`${prefix}.weight`)!;
  const b = p.get(`${prefix}.bias`)!.v;
  const y: number[] = [];
  for (let o = 0; o < shape[0]; o++) {
    let s = b[o];
    for (let i = 0; i < shape[1]; i++) s += v[o * shape[1] + i] * x[i];
    y.push(s);
  }
  return y;
}

function layerNorm(p: Params, prefix: string, x: number[]): number[] {
  const g = p.get(`${prefix}.LayerNorm.weight`)!.v;
  const b = p.get(`${prefix}.LayerNorm.bias`)!.v;
  const mean = x.reduce((a, c) => a + c, 0) / x.length;
  const variance = x.reduce((a, c) => a + (c - mean) ** 2, 0) / x.length;
  return x.map((c, i) => ((c - mean) / Math.sqrt(variance + config.layer_norm_eps)) * g[i] + b[i]);
}

/** Logits of one sequence, by hand: embeddings, LN, 1 attention layer, FFN, pooler, classifier. */
function referenceLogits(p: Params, ids: number[], types: number[], mask: number[]): number[] {
  const H = config.hidden_size;
  const heads = config.num_attention_heads;
  const d = H / heads;
  const seq = ids.length;
  let hidden: number[][] = [];
  for (let t = 0; t < seq; t++) {
    const w = row(p, "bert.embeddings.word_embeddings.weight", ids[t]);
    const pos = row(p, "bert.embeddings.position_embeddings.weight", t);
    const ty = row(p, "bert.embeddings.token_type_embeddings.weight", types[t]);
    hidden.push(layerNorm(p, "bert.embeddings", w.map((x, i) => x + pos[i] + ty[i])));
  }
  const L = "bert.encoder.layer.0";
  const q = hidden.map((h) => dense(p, `${L}.attention.self.query`, h));
  const k = hidden.map((h) => dense(p, `${L}.attention.self.key`, h));
  const v = hidden.map((h) => dense(p, `${L}.attention.self.value`, h));
  const context: number[][] = hidden.map(() => new Array(H).fill(0));
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < seq; i++) {
      // Softmax over the attended (unmasked) keys only.
      const scores: number[] = [];
      for (let j = 0; j < seq; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += q[i][h * d + c] * k[j][h * d + c];
        scores.push(mask[j] ? s / Math.sqrt(d) : -Infinity);
      }
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const z = e.reduce((a, c) => a + c, 0);
      for (let j = 0; j < seq; j++) for (let c = 0; c < d; c++) context[i][h * d + c] += (e[j] / z) * v[j][h * d + c];
    }
  }
  const attention = hidden.map((h, t) => {
    const o = dense(p, `${L}.attention.output.dense`, context[t]);
    return layerNorm(p, `${L}.attention.output`, o.map((x, i) => x + h[i]));
  });
  hidden = attention.map((a) => {
    const inner = dense(p, `${L}.intermediate.dense`, a).map((x) => 0.5 * x * (1 + erf(x / Math.SQRT2)));
    const out = dense(p, `${L}.output.dense`, inner);
    return layerNorm(p, `${L}.output`, out.map((x, i) => x + a[i]));
  });
  const pooled = dense(p, "bert.pooler.dense", hidden[0]).map(Math.tanh);
  return dense(p, "classifier", pooled);
}

const ids = [
  [2, 5, 9, 3, 0, 0],
  [2, 7, 1, 3, 10, 3],
];
const types = [
  [0, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 1, 1],
];
const mask = [
  [1, 1, 1, 1, 0, 0],
  [1, 1, 1, 1, 1, 1],
];

function batch(labels?: tf.Tensor1D) {
  return {
    inputIds: tf.tensor2d(ids, undefined, "int32"),
    tokenTypeIds: tf.tensor2d(types, undefined, "int32"),
    attentionMask: tf.tensor2d(mask, undefined, "int32"),
    labels,
  };
}

test("forward pass matches a float64 reference implementation", () => {
  const model = createBertClassifier(config, { numLabels: 3, seed: 3 });
  try {
    const params = randomize(model, 12345);
    const got = model.logits(batch()).arraySync();
    for (let b = 0; b < ids.length; b++) {
      const want = referenceLogits(params, ids[b], types[b], mask[b]);
      for (let c = 0; c < 3; c++) {
        assert.ok(Math.abs(got[b][c] - want[c]) < 2e-5, `logit [${b}][${c}]: tfjs ${got[b][c]} vs reference ${want[c]}`);
      }
      // The logits must not be trivially small, or the comparison would prove little.
      assert.ok(Math.max(...want.map(Math.abs)) > 0.1, `reference logits too small: ${want}`);
    }
  } finally {
    model.dispose();
  }
});

test("cross-entropy loss matches the reference", () => {
  const model = createBertClassifier(config, { numLabels: 3, seed: 3 });
  try {
    const params = randomize(model, 999);
    const labels = [2, 0];
    const got = model.loss(batch(tf.tensor1d(labels, "int32"))).arraySync();
    let want = 0;
    for (let b = 0; b < ids.length; b++) {
      const logits = referenceLogits(params, ids[b], types[b], mask[b]);
      const max = Math.max(...logits);
      const logZ = max + Math.log(logits.reduce((a, c) => a + Math.exp(c - max), 0));
      want += (logZ - logits[labels[b]]) / ids.length;
    }
    assert.ok(Math.abs(got - want) < 2e-5, `loss ${got} vs reference ${want}`);
  } finally {
    model.dispose();
  }
});

test("regression (numLabels 1) uses mean squared error", () => {
  const model = createBertClassifier(config, { numLabels: 1, seed: 4 });
  try {
    const params = randomize(model, 4242);
    const targets = [0.75, -1.5];
    const got = model.loss(batch(tf.tensor1d(targets, "float32"))).arraySync();
    let want = 0;
    for (let b = 0; b < ids.length; b++) {
      const [y] = referenceLogits(params, ids[b], types[b], mask[b]);
      want += (y - targets[b]) ** 2 / ids.length;
    }
    assert.ok(Math.abs(got - want) < 2e-5, `MSE ${got} vs reference ${want}`);
  } finally {
    model.dispose();
  }
});
