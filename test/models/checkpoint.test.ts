// Hugging Face folder save/load: exact round trips, name mapping, and the load report.
import test from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import { loadPretrained, saveCheckpoint } from "../../lib/models/checkpoint.ts";
import { readSafetensorsFile, writeSafetensorsFile, type SafetensorsTensor } from "../../lib/models/safetensors.ts";
import { hfName } from "../../lib/names.ts";

await tf.setBackend("cpu");

const tiny = {
  vocab_size: 30,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 16,
  max_position_embeddings: 10,
  initializer_range: 0.3,
};

async function withDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "fsam-ckpt-"));
  try {
    await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("save → load round trip is bit-exact and writes a Hugging Face folder", () =>
  withDir(async (dir) => {
    const model = createBertClassifier(tiny, { numLabels: 3, seed: 9 });
    const vocab = Array.from({ length: 30 }, (_, i) => `tok${i}`);
    await saveCheckpoint(model, dir, { vocab });
    assert.deepEqual((await readdir(dir)).sort(), ["config.json", "model.safetensors", "vocab.txt"]);
    const config = JSON.parse(await readFile(join(dir, "config.json"), "utf8"));
    assert.equal(config.model_type, "bert");
    assert.deepEqual(config.architectures, ["BertForSequenceClassification"]);
    assert.equal(config.hidden_size, 8);
    assert.deepEqual(config.id2label, { 0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2" });
    assert.equal((await readFile(join(dir, "vocab.txt"), "utf8")).split("\n")[29], "tok29");
    const file = await readSafetensorsFile(join(dir, "model.safetensors"));
    assert.equal(file.metadata.format, "pt");
    assert.deepEqual(file.entries.get("bert.encoder.layer.1.intermediate.dense.weight")!.shape, [16, 8]);

    const logs: string[] = [];
    const loaded = await loadPretrained(dir, { log: (m) => logs.push(m), scope: "copy" });
    try {
      assert.equal(loaded.numLabels, 3, "numLabels taken from config.json");
      assert.deepEqual(loaded.checkpointReport, { missing: [], unexpected: [], mismatched: [], initialized: [] });
      assert.deepEqual(logs, []);
      assert.equal(loaded.variables.length, model.variables.length);
      for (const v of model.variables) {
        const w = loaded.variable(hfName(v.name));
        assert.equal(w.name, `copy/${hfName(v.name)}`);
        assert.deepEqual(new Uint32Array(w.dataSync().buffer), new Uint32Array(v.dataSync().buffer), v.name);
      }
    } finally {
      loaded.dispose();
      model.dispose();
    }
  }));

test("F16 checkpoints load to within half precision", () =>
  withDir(async (dir) => {
    const model = createBertClassifier(tiny, { numLabels: 2, seed: 1 });
    await saveCheckpoint(model, dir, { dtype: "F16" });
    const loaded = await loadPretrained(dir, { log: false });
    try {
      for (const v of model.variables) {
        const a = v.dataSync();
        const b = loaded.variable(v.name).dataSync();
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= Math.abs(a[i]) * 2 ** -11 + 2 ** -24, v.name);
      }
    } finally {
      loaded.dispose();
      model.dispose();
    }
  }));

test("a pretraining checkpoint: prefix-less and gamma/beta names, position_ids, cls heads, mismatches", () =>
  withDir(async (dir) => {
    // Build a BertForPreTraining-style file by hand from a model's values.
    const source = createBertClassifier(tiny, { numLabels: 2, seed: 21 });
    const tensors: SafetensorsTensor[] = [];
    for (const v of source.variables) {
      const name = v.name;
      if (name.startsWith("classifier.")) continue;
      let stored = name.replace(/^bert\./, "").replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(/LayerNorm\.bias$/, "LayerNorm.beta");
      if (name === "bert.pooler.dense.weight") {
        tensors.push({ name: stored, shape: [4, 8], data: new Float32Array(32) });
        continue;
      }
      if (name === "bert.pooler.dense.bias") stored = "bert.pooler.dense.bias";
      tensors.push({ name: stored, shape: v.shape, data: v.dataSync() as Float32Array });
    }
    tensors.push({ name: "embeddings.position_ids", shape: [1, 10], data: Float32Array.from({ length: 10 }, (_, i) => i) });
    tensors.push({ name: "cls.predictions.bias", shape: [30], data: new Float32Array(30) });
    tensors.push({ name: "cls.seq_relationship.weight", shape: [2, 8], data: new Float32Array(16) });
    tensors.push({ name: "encoder.layer.9.output.dense.weight", shape: [1], data: new Float32Array(1) });
    await writeSafetensorsFile(join(dir, "model.safetensors"), tensors);
    await writeFile(join(dir, "config.json"), JSON.stringify({ ...tiny, model_type: "bert", architectures: ["BertForPreTraining"] }));

    const logs: string[] = [];
    const model = await loadPretrained(dir, { numLabels: 4, seed: 5, log: (m) => logs.push(m) });
    try {
      const report = model.checkpointReport!;
      assert.deepEqual(report.missing, ["classifier.weight", "classifier.bias"]);
      assert.deepEqual(report.unexpected, ["cls.predictions.bias", "cls.seq_relationship.weight", "encoder.layer.9.output.dense.weight"]);
      assert.deepEqual(report.mismatched, [{ name: "bert.pooler.dense.weight", checkpointShape: [4, 8], modelShape: [8, 8] }]);
      assert.deepEqual(report.initialized, ["classifier.weight", "classifier.bias", "bert.pooler.dense.weight"]);
      assert.ok(logs.some((l) => l.includes("newly initialized: classifier.weight, classifier.bias")), logs.join("\n"));
      assert.ok(logs.some((l) => l.includes("were not used when initializing BertForSequenceClassification: cls.predictions.bias")));
      assert.ok(logs.some((l) => l.startsWith("bert.pooler.dense.weight is newly initialized because the shapes did not match")));
      assert.deepEqual(model.variable("classifier.weight").shape, [4, 8]);
      // Values under old names arrived; LayerNorm.gamma went to LayerNorm.weight.
      for (const name of ["bert.embeddings.LayerNorm.weight", "bert.encoder.layer.1.output.LayerNorm.bias", "bert.encoder.layer.0.attention.self.key.weight", "bert.pooler.dense.bias"]) {
        assert.deepEqual(model.variable(name).dataSync(), source.variable(name).dataSync(), name);
      }
      // Freshly initialised ones are not the checkpoint's zeros.
      assert.ok(model.variable("bert.pooler.dense.weight").dataSync().some((x) => x !== 0));
    } finally {
      model.dispose();
      source.dispose();
    }
  }));

test("missing weights file and bad config give clear errors", () =>
  withDir(async (dir) => {
    await writeFile(join(dir, "config.json"), JSON.stringify(tiny));
    await writeFile(join(dir, "tf_model.h5"), "x");
    await assert.rejects(loadPretrained(dir), /has no weights this lab reads \(model.safetensors, .*pytorch_model.bin.*\); found tf_model.h5/);
    await writeFile(join(dir, "pytorch_model.bin"), "x");
    await assert.rejects(loadPretrained(dir), /pytorch_model.bin: not a PyTorch checkpoint \(expected the zip archive torch.save writes\)/);
    await writeFile(join(dir, "config.json"), JSON.stringify({ ...tiny, num_attention_heads: 3 }));
    await assert.rejects(loadPretrained(dir), /config.json: hidden_size \(8\) must be divisible by num_attention_heads \(3\)/);
    await assert.rejects(loadPretrained(join(dir, "nowhere")), /cannot read .*nowhere.*config.json/);
    assert.equal(existsSync(join(dir, "model.safetensors")), false);
  }));

test("a checkpoint with NaN/Inf weights is refused, naming each tensor and its count; nothing leaks", () =>
  withDir(async (dir) => {
    const model = createBertClassifier(tiny, { numLabels: 2, seed: 3 });
    const w = model.variable("bert.pooler.dense.weight");
    const values = w.dataSync().slice();
    values[0] = Number.NaN;
    values[5] = Number.POSITIVE_INFINITY;
    w.assign(tf.tensor(values, w.shape));
    await saveCheckpoint(model, dir);
    model.dispose();
    const before = tf.memory().numTensors;
    await assert.rejects(loadPretrained(dir, { log: false }), /weight tensor\(s\) hold NaN or infinite values: bert\.pooler\.dense\.weight \(2 of 64\)$/);
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
  }));

test("a config of another model type (roberta) is refused before its weights load as a random BERT", () =>
  withDir(async (dir) => {
    const model = createBertClassifier(tiny, { numLabels: 2, seed: 3 });
    await saveCheckpoint(model, dir);
    model.dispose();
    await writeFile(join(dir, "config.json"), JSON.stringify({ ...tiny, model_type: "roberta" }));
    await assert.rejects(loadPretrained(dir), /config\.json: model_type "roberta" is not a BERT model: only model_type "bert"/);
  }));
