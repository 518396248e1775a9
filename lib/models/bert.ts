/**
 * The BERT encoder (Devlin et al. 2019) as Hugging Face's `BertModel` computes it: word + position +
 * token-type embeddings, LayerNorm and dropout; N post-LayerNorm layers of multi-head
 * self-attention and a feed-forward block; a tanh pooler on the [CLS] position. Parameters are
 * looked up by their Hugging Face names, so the same code runs on any scope's variables.
 */
import * as tf from "@tensorflow/tfjs";
import type { BertConfig } from "./config.ts";
import type { ParameterSpec } from "./init.ts";
import { activate, additiveAttentionMask, dropout, embeddingLookup, layerNorm, linear } from "./ops.ts";

/** The encoder's parameters, in Hugging Face's order, named `bert.…` as in `BertFor*` models. */
export function bertParameterSpecs(config: BertConfig): ParameterSpec[] {
  const H = config.hidden_size;
  const I = config.intermediate_size;
  const specs: ParameterSpec[] = [];
  const layerNormSpecs = (prefix: string): void => {
    specs.push({ name: `${prefix}.LayerNorm.weight`, shape: [H], init: "ones" });
    specs.push({ name: `${prefix}.LayerNorm.bias`, shape: [H], init: "zeros" });
  };
  const linearSpecs = (prefix: string, out: number, inp: number): void => {
    specs.push({ name: `${prefix}.weight`, shape: [out, inp], init: "normal" });
    specs.push({ name: `${prefix}.bias`, shape: [out], init: "zeros" });
  };
  specs.push({
    name: "bert.embeddings.word_embeddings.weight",
    shape: [config.vocab_size, H],
    init: "normal",
    zeroRow: config.pad_token_id,
  });
  specs.push({ name: "bert.embeddings.position_embeddings.weight", shape: [config.max_position_embeddings, H], init: "normal" });
  specs.push({ name: "bert.embeddings.token_type_embeddings.weight", shape: [config.type_vocab_size, H], init: "normal" });
  layerNormSpecs("bert.embeddings");
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    linearSpecs(`${p}.attention.self.query`, H, H);
    linearSpecs(`${p}.attention.self.key`, H, H);
    linearSpecs(`${p}.attention.self.value`, H, H);
    linearSpecs(`${p}.attention.output.dense`, H, H);
    layerNormSpecs(`${p}.attention.output`);
    linearSpecs(`${p}.intermediate.dense`, I, H);
    linearSpecs(`${p}.output.dense`, H, I);
    layerNormSpecs(`${p}.output`);
  }
  linearSpecs("bert.pooler.dense", H, H);
  return specs;
}

/** Looks up a parameter by its Hugging Face name. */
export type ParameterLookup = (hfName: string) => tf.Tensor;

/** Encoder inputs: int32 `[batch, seq]` ids, segment ids and 0/1 attention mask. */
export interface BertInputs {
  /** Token ids. */
  inputIds: tf.Tensor2D;
  /** Segment ids. */
  tokenTypeIds: tf.Tensor2D;
  /** 1 for real tokens, 0 for padding. */
  attentionMask: tf.Tensor2D;
}

/** Encoder outputs. */
export interface BertOutputs {
  /** Last hidden states `[batch, seq, hidden]`. */
  sequenceOutput: tf.Tensor3D;
  /** tanh(dense(hidden state of [CLS])) `[batch, hidden]`. */
  pooledOutput: tf.Tensor2D;
}

function checkInputs(config: BertConfig, inputs: BertInputs): void {
  const [batch, seq] = inputs.inputIds.shape;
  for (const key of ["tokenTypeIds", "attentionMask"] as const) {
    const shape = inputs[key].shape;
    if (shape[0] !== batch || shape[1] !== seq) {
      throw new Error(`${key} has shape [${shape}], expected [${batch},${seq}] like inputIds`);
    }
  }
  if (seq > config.max_position_embeddings) {
    throw new Error(`sequence length ${seq} exceeds max_position_embeddings (${config.max_position_embeddings})`);
  }
}

/**
 * Runs the encoder. `nextDropoutSeed` is given only in training: each dropout draws its seed from
 * it; without it no dropout is applied. Call inside `tf.tidy` (or a gradient function).
 */
export function bertEncode(
  config: BertConfig,
  param: ParameterLookup,
  inputs: BertInputs,
  nextDropoutSeed?: () => number,
): BertOutputs {
  checkInputs(config, inputs);
  const [batch, seq] = inputs.inputIds.shape;
  const H = config.hidden_size;
  const heads = config.num_attention_heads;
  const headSize = H / heads;
  const eps = config.layer_norm_eps;
  const drop = <T extends tf.Tensor>(x: T, rate: number): T =>
    nextDropoutSeed ? dropout(x, rate, nextDropoutSeed()) : x;
  const w2 = (name: string) => param(name) as tf.Tensor2D;
  const w1 = (name: string) => param(name) as tf.Tensor1D;
  const dense = (x: tf.Tensor2D, prefix: string) => linear(x, w2(`${prefix}.weight`), w1(`${prefix}.bias`));
  const norm = (x: tf.Tensor2D, prefix: string) =>
    layerNorm(x, w1(`${prefix}.LayerNorm.weight`), w1(`${prefix}.LayerNorm.bias`), eps);

  // Embeddings, as [batch·seq, H] rows.
  const words = embeddingLookup(w2("bert.embeddings.word_embeddings.weight"), tf.reshape(inputs.inputIds, [-1]));
  const types = embeddingLookup(
    w2("bert.embeddings.token_type_embeddings.weight"),
    tf.reshape(inputs.tokenTypeIds, [-1]),
  );
  const positions = tf.slice(w2("bert.embeddings.position_embeddings.weight"), [0, 0], [seq, H]);
  const summed = tf.add(tf.reshape(tf.add(words, types), [batch, seq, H]), positions);
  let hidden = drop(norm(tf.reshape(summed, [batch * seq, H]), "bert.embeddings"), config.hidden_dropout_prob);

  const maskScores = additiveAttentionMask(inputs.attentionMask);
  const scale = 1 / Math.sqrt(headSize);
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    // Self-attention: q, k, v as [batch, heads, seq, headSize]; scores = (q·scale)·kᵀ as one transposed
    // product (no transposed copy of k), the scale on q (4× fewer elements than the scores at seq 128;
    // the same bits when 1/√headSize is a power of two, as for head size 64).
    const split = (x: tf.Tensor2D) => tf.transpose(tf.reshape(x, [batch, seq, heads, headSize]), [0, 2, 1, 3]);
    const q = split(dense(hidden, `${p}.attention.self.query`));
    const k = split(dense(hidden, `${p}.attention.self.key`));
    const v = split(dense(hidden, `${p}.attention.self.value`));
    const scores = tf.add(tf.matMul(tf.mul(q, scale), k, false, true), maskScores);
    const probs = drop(tf.softmax(scores), config.attention_probs_dropout_prob);
    const context = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [batch * seq, H]) as tf.Tensor2D;
    const attended = drop(dense(context, `${p}.attention.output.dense`), config.hidden_dropout_prob);
    const attentionOut = norm(tf.add(attended, hidden), `${p}.attention.output`);
    // Feed-forward.
    const inner = activate(dense(attentionOut, `${p}.intermediate.dense`), config.hidden_act);
    const ffn = drop(dense(inner, `${p}.output.dense`), config.hidden_dropout_prob);
    hidden = norm(tf.add(ffn, attentionOut), `${p}.output`);
  }
  const sequenceOutput = tf.reshape(hidden, [batch, seq, H]) as tf.Tensor3D;
  const cls = tf.reshape(tf.slice(sequenceOutput, [0, 0, 0], [batch, 1, H]), [batch, H]) as tf.Tensor2D;
  const pooledOutput = tf.tanh(dense(cls, "bert.pooler.dense"));
  return { sequenceOutput, pooledOutput };
}
