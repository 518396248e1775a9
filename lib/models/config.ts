/**
 * BERT configuration: the fields of a Hugging Face `config.json`, their validation, and the presets
 * for the compact BERT models people fine-tune (Turc et al., "Well-Read Students Learn Better").
 */
import { readFile } from "node:fs/promises";

/** Activation functions of the feed-forward block, by their Hugging Face `hidden_act` names. */
export type BertActivation = "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "relu";

/**
 * A BERT configuration with the Hugging Face `config.json` field names. Every field is validated by
 * {@link parseBertConfig}; fields a file leaves out take Hugging Face's `BertConfig` defaults.
 */
export interface BertConfig {
  /** Number of rows of the word-embedding table. */
  readonly vocab_size: number;
  /** Width of the hidden states (H). */
  readonly hidden_size: number;
  /** Number of encoder layers (L). */
  readonly num_hidden_layers: number;
  /** Number of attention heads (A); must divide `hidden_size`. */
  readonly num_attention_heads: number;
  /** Width of the feed-forward block (I). */
  readonly intermediate_size: number;
  /** Activation of the feed-forward block; "gelu" is the exact erf form. */
  readonly hidden_act: BertActivation;
  /** Dropout on embeddings and on each sub-layer output, in [0, 1). */
  readonly hidden_dropout_prob: number;
  /** Dropout on the attention probabilities, in [0, 1). */
  readonly attention_probs_dropout_prob: number;
  /** Longest sequence the position embeddings cover. */
  readonly max_position_embeddings: number;
  /** Number of segment (token type) ids. */
  readonly type_vocab_size: number;
  /** Standard deviation of the (truncated) normal initialisation of weights. */
  readonly initializer_range: number;
  /** Epsilon of every LayerNorm. */
  readonly layer_norm_eps: number;
  /** Id of the padding token; its word-embedding row starts at zero. */
  readonly pad_token_id: number;
  /** Dropout before the classifier; `null` means `hidden_dropout_prob`, as in Hugging Face. */
  readonly classifier_dropout: number | null;
}

/** Hugging Face `BertConfig` defaults (bert-base-uncased), used for fields a config leaves out. */
const defaults: BertConfig = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  classifier_dropout: null,
};

const activations: readonly BertActivation[] = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"];

/** Names of the preset configurations. */
export type BertPresetName = "bert-tiny" | "bert-mini" | "bert-small" | "bert-medium" | "bert-base";

/** A preset: the configuration and the Hugging Face hub id of the matching pretrained checkpoint. */
export interface BertPreset {
  /** Preset name, e.g. "bert-tiny". */
  readonly name: BertPresetName;
  /** Hub id of the pretrained (uncased) checkpoint with this shape. */
  readonly hubId: string;
  /** The configuration. */
  readonly config: BertConfig;
}

function preset(
  name: BertPresetName,
  hubId: string,
  layers: number,
  hidden: number,
  heads: number,
): BertPreset {
  const config = Object.freeze({
    ...defaults,
    num_hidden_layers: layers,
    hidden_size: hidden,
    num_attention_heads: heads,
    intermediate_size: 4 * hidden,
  });
  return Object.freeze({ name, hubId, config });
}

/**
 * Preset configurations: the compact Google BERT models (L layers, H hidden, A heads, I = 4H) and
 * bert-base. All use vocab 30522, 512 positions, 2 token types.
 */
export const bertPresets: Readonly<Record<BertPresetName, BertPreset>> = Object.freeze({
  "bert-tiny": preset("bert-tiny", "google/bert_uncased_L-2_H-128_A-2", 2, 128, 2),
  "bert-mini": preset("bert-mini", "google/bert_uncased_L-4_H-256_A-4", 4, 256, 4),
  "bert-small": preset("bert-small", "google/bert_uncased_L-4_H-512_A-8", 4, 512, 8),
  "bert-medium": preset("bert-medium", "google/bert_uncased_L-8_H-512_A-8", 8, 512, 8),
  "bert-base": preset("bert-base", "google-bert/bert-base-uncased", 12, 768, 12),
});

/** True when `name` is one of the {@link bertPresets}. */
export function isBertPresetName(name: string): name is BertPresetName {
  return Object.prototype.hasOwnProperty.call(bertPresets, name);
}

function fail(source: string, message: string): never {
  throw new Error(`${source}: ${message}`);
}

function integerField(
  json: Record<string, unknown>,
  key: keyof BertConfig,
  min: number,
  source: string,
): number {
  const value = json[key] ?? defaults[key];
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    fail(source, `${key} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function probabilityField(json: Record<string, unknown>, key: keyof BertConfig, source: string): number {
  const value = json[key] ?? defaults[key];
  if (typeof value !== "number" || !(value >= 0 && value < 1)) {
    fail(source, `${key} must be a number in [0, 1), got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveField(json: Record<string, unknown>, key: keyof BertConfig, source: string): number {
  const value = json[key] ?? defaults[key];
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    fail(source, `${key} must be a finite number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Validates a parsed Hugging Face `config.json` (or any object with some of its fields) and returns
 * a complete {@link BertConfig}; missing fields take Hugging Face's defaults, unknown fields are
 * ignored. Errors name the source and the field, e.g. `config.json: hidden_size (100) must be
 * divisible by num_attention_heads (3)`.
 */
export function parseBertConfig(json: unknown, source = "BERT config"): BertConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    fail(source, `expected a JSON object, got ${Array.isArray(json) ? "an array" : typeof json}`);
  }
  const o = json as Record<string, unknown>;
  // Only "bert" itself: roberta, distilbert, albert, electra, … name their weights and embeddings
  // differently, and would load as a randomly initialised BERT.
  if (o.model_type !== undefined && o.model_type !== "bert") {
    fail(source, `model_type ${JSON.stringify(o.model_type)} is not a BERT model: only model_type "bert" (BertModel, BertForSequenceClassification, …) is supported`);
  }
  if (o.position_embedding_type !== undefined && o.position_embedding_type !== "absolute") {
    fail(source, `position_embedding_type must be "absolute", got ${JSON.stringify(o.position_embedding_type)}`);
  }
  const hiddenAct = o.hidden_act ?? defaults.hidden_act;
  if (typeof hiddenAct !== "string" || !(activations as readonly string[]).includes(hiddenAct)) {
    fail(source, `hidden_act must be one of ${activations.join(", ")}, got ${JSON.stringify(hiddenAct)}`);
  }
  const classifierDropout = o.classifier_dropout ?? null;
  if (classifierDropout !== null) probabilityField(o, "classifier_dropout", source);
  const config: BertConfig = {
    vocab_size: integerField(o, "vocab_size", 1, source),
    hidden_size: integerField(o, "hidden_size", 1, source),
    num_hidden_layers: integerField(o, "num_hidden_layers", 0, source),
    num_attention_heads: integerField(o, "num_attention_heads", 1, source),
    intermediate_size: integerField(o, "intermediate_size", 1, source),
    hidden_act: hiddenAct as BertActivation,
    hidden_dropout_prob: probabilityField(o, "hidden_dropout_prob", source),
    attention_probs_dropout_prob: probabilityField(o, "attention_probs_dropout_prob", source),
    max_position_embeddings: integerField(o, "max_position_embeddings", 1, source),
    type_vocab_size: integerField(o, "type_vocab_size", 1, source),
    initializer_range: positiveField(o, "initializer_range", source),
    layer_norm_eps: positiveField(o, "layer_norm_eps", source),
    pad_token_id: integerField(o, "pad_token_id", 0, source),
    classifier_dropout: classifierDropout as number | null,
  };
  if (config.hidden_size % config.num_attention_heads !== 0) {
    fail(
      source,
      `hidden_size (${config.hidden_size}) must be divisible by num_attention_heads (${config.num_attention_heads})`,
    );
  }
  if (config.pad_token_id >= config.vocab_size) {
    fail(source, `pad_token_id (${config.pad_token_id}) must be < vocab_size (${config.vocab_size})`);
  }
  return Object.freeze(config);
}

/** Reads and validates a `config.json` file; errors name the file. */
export async function readBertConfig(path: string): Promise<BertConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read BERT config ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  return parseBertConfig(json, path);
}

/**
 * Resolves a preset name, a complete config, or a partial one (any subset of the `config.json`
 * fields, the rest taking Hugging Face defaults) into a validated {@link BertConfig}.
 */
export function resolveBertConfig(config: BertPresetName | Partial<BertConfig>): BertConfig {
  if (typeof config === "string") {
    if (!isBertPresetName(config)) {
      throw new Error(`unknown BERT preset "${config}"; known: ${Object.keys(bertPresets).join(", ")}`);
    }
    return bertPresets[config].config;
  }
  return parseBertConfig(config);
}

/**
 * The `config.json` object Hugging Face writes for a `BertForSequenceClassification` with this
 * configuration and `numLabels` outputs (label names LABEL_0…, regression when `numLabels` is 1).
 */
export function bertConfigJson(config: BertConfig, numLabels: number): Record<string, unknown> {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < numLabels; i++) {
    id2label[String(i)] = `LABEL_${i}`;
    label2id[`LABEL_${i}`] = i;
  }
  return {
    architectures: ["BertForSequenceClassification"],
    model_type: "bert",
    ...config,
    position_embedding_type: "absolute",
    id2label,
    label2id,
    ...(numLabels === 1 ? { problem_type: "regression" } : {}),
  };
}

/** The number of labels a `config.json` declares (`id2label` or `num_labels`), if any. */
export function configNumLabels(json: unknown): number | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const o = json as Record<string, unknown>;
  if (typeof o.num_labels === "number") return o.num_labels;
  if (typeof o.id2label === "object" && o.id2label !== null) return Object.keys(o.id2label).length;
  return undefined;
}
