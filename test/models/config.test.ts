// BertConfig parsing/validation, presets, and the seeded initialisation.
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { bertPresets, parseBertConfig, readBertConfig, resolveBertConfig } from "../../lib/models/config.ts";
import { bertParameterSpecs } from "../../lib/models/bert.ts";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import { initialValue } from "../../lib/models/init.ts";

await tf.setBackend("cpu");

test("a Hugging Face config.json is parsed, with HF defaults for missing fields", () => {
  const c = parseBertConfig({
    architectures: ["BertForMaskedLM"],
    model_type: "bert",
    hidden_size: 128,
    num_attention_heads: 2,
    num_hidden_layers: 2,
    intermediate_size: 512,
    hidden_act: "gelu",
    attention_probs_dropout_prob: 0.1,
    layer_norm_eps: 1e-12,
    transformers_version: "4.40.0",
  });
  assert.equal(c.hidden_size, 128);
  assert.equal(c.num_hidden_layers, 2);
  assert.equal(c.vocab_size, 30522);
  assert.equal(c.max_position_embeddings, 512);
  assert.equal(c.type_vocab_size, 2);
  assert.equal(c.initializer_range, 0.02);
  assert.equal(c.hidden_dropout_prob, 0.1);
  assert.equal(c.classifier_dropout, null);
});

test("validation errors name the source and the field", () => {
  assert.throws(
    () => parseBertConfig({ hidden_size: 100, num_attention_heads: 3 }, "x/config.json"),
    /^Error: x\/config.json: hidden_size \(100\) must be divisible by num_attention_heads \(3\)$/,
  );
  assert.throws(() => parseBertConfig({ hidden_dropout_prob: 1.5 }), /hidden_dropout_prob must be a number in \[0, 1\), got 1.5/);
  assert.throws(() => parseBertConfig({ num_hidden_layers: 2.5 }), /num_hidden_layers must be an integer >= 0, got 2.5/);
  assert.throws(() => parseBertConfig({ vocab_size: "big" }), /vocab_size must be an integer >= 1, got "big"/);
  assert.throws(() => parseBertConfig({ hidden_act: "swish" }), /hidden_act must be one of gelu, gelu_new, gelu_pytorch_tanh, relu, got "swish"/);
  assert.throws(() => parseBertConfig({ layer_norm_eps: 0 }), /layer_norm_eps must be a finite number > 0/);
  assert.throws(() => parseBertConfig({ model_type: "gpt2" }), /model_type "gpt2" is not a BERT model/);
  for (const other of ["roberta", "distilbert", "albert", "electra", 7]) {
    assert.throws(() => parseBertConfig({ model_type: other }), /is not a BERT model: only model_type "bert" .* is supported/);
  }
  assert.throws(() => parseBertConfig({ position_embedding_type: "relative_key" }), /position_embedding_type must be "absolute"/);
  assert.throws(() => parseBertConfig([1]), /expected a JSON object, got an array/);
  assert.throws(() => resolveBertConfig("bert-huge" as "bert-tiny"), /unknown BERT preset "bert-huge"; known: bert-tiny, bert-mini/);
});

test("readBertConfig names the file on bad JSON", async () => {
  const dir = await mkdtemp(join(tmpdir(), "fsam-config-"));
  try {
    const path = join(dir, "config.json");
    await writeFile(path, "{ hidden_size: 1 ");
    await assert.rejects(readBertConfig(path), (err: Error) => err.message.startsWith(`${path}: invalid JSON`));
    await writeFile(path, JSON.stringify({ hidden_size: 64, num_attention_heads: 5 }));
    await assert.rejects(readBertConfig(path), new RegExp(`${path}: hidden_size \\(64\\) must be divisible`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("presets have the published shapes and hub ids", () => {
  const expected = {
    "bert-tiny": [2, 128, 2, "google/bert_uncased_L-2_H-128_A-2"],
    "bert-mini": [4, 256, 4, "google/bert_uncased_L-4_H-256_A-4"],
    "bert-small": [4, 512, 8, "google/bert_uncased_L-4_H-512_A-8"],
    "bert-medium": [8, 512, 8, "google/bert_uncased_L-8_H-512_A-8"],
    "bert-base": [12, 768, 12, "google-bert/bert-base-uncased"],
  } as const;
  for (const [name, [L, H, A, hubId]] of Object.entries(expected)) {
    const p = bertPresets[name as keyof typeof expected];
    assert.equal(p.config.num_hidden_layers, L, name);
    assert.equal(p.config.hidden_size, H, name);
    assert.equal(p.config.num_attention_heads, A, name);
    assert.equal(p.config.intermediate_size, 4 * H, name);
    assert.equal(p.config.vocab_size, 30522);
    assert.equal(p.config.max_position_embeddings, 512);
    assert.equal(p.config.type_vocab_size, 2);
    assert.equal(p.hubId, hubId);
  }
  // bert-base has 109,482,240 encoder parameters (the well-known 110M).
  const count = bertParameterSpecs(bertPresets["bert-base"].config).reduce((n, s) => n + s.shape.reduce((a, d) => a * d, 1), 0);
  assert.equal(count, 109_482_240);
});

test("initialisation: truncated normal(0.02), LayerNorm 1/0, biases 0, pad row 0, seeded by name", () => {
  const model = createBertClassifier(
    { vocab_size: 200, hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 128, pad_token_id: 3 },
    { seed: 11 },
  );
  try {
    for (const v of model.variables) {
      const data = v.dataSync();
      if (v.name.endsWith("LayerNorm.weight")) assert.ok(data.every((x) => x === 1), v.name);
      else if (v.name.endsWith(".bias")) assert.ok(data.every((x) => x === 0), v.name);
      else {
        const values = [...data].filter((_, i) => !(v.name.includes("word_embeddings") && Math.floor(i / 64) === 3));
        const mean = values.reduce((a, c) => a + c, 0) / values.length;
        const std = Math.sqrt(values.reduce((a, c) => a + (c - mean) ** 2, 0) / values.length);
        assert.ok(values.every((x) => Math.abs(x) <= 0.04 + 1e-7), `${v.name}: value beyond 2 std`);
        // A normal truncated at ±2σ has std 0.88σ.
        if (values.length > 1000) assert.ok(Math.abs(std - 0.88 * 0.02) < 0.0015, `${v.name}: std ${std}`);
      }
    }
    const word = model.variable("bert.embeddings.word_embeddings.weight").arraySync() as number[][];
    assert.ok(word[3].every((x) => x === 0), "padding row is zero");
    assert.ok(word[4].some((x) => x !== 0));
    // Values depend on (seed, name) only.
    const spec = bertParameterSpecs(model.config).find((s) => s.name === "bert.pooler.dense.weight")!;
    const again = initialValue(spec, 0.02, 11);
    assert.deepEqual(again.dataSync(), model.variable("bert.pooler.dense.weight").dataSync());
    const other = initialValue(spec, 0.02, 12);
    assert.notDeepEqual(other.dataSync(), again.dataSync());
    tf.dispose([again, other]);
  } finally {
    model.dispose();
  }
});
