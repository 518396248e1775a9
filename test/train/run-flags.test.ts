import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BertTokenizer } from "../../lib/data/tokenizer.ts";
import { trainOptionsFromFlags, seedsFromFlags, numberFlag } from "../../bin/cli-support/run-flags.ts";

test("command-line flags become train options; only the given ones are set", () => {
  const o = trainOptionsFromFlags({
    task: "rte", data: "../shared/data/glue", model: "bert-mini", epochs: "10", "batch-size": "16", lr: "2e-5",
    "max-length": "128", "low-resource": "32", patience: "3", rho: "0.1", "fisher-mode": "batch", "clip-norm": "0",
  });
  assert.deepEqual(o, {
    task: "rte", dataDir: "../shared/data/glue", model: "bert-mini", epochs: 10, batchSize: 16, lr: 2e-5, maxLength: 128,
    clipNorm: 0, rho: 0.1, fisherMode: "batch", lowResource: { perClass: 32 }, earlyStopping: { patience: 3 },
  });
  assert.deepEqual(trainOptionsFromFlags({}), {});
  assert.deepEqual(trainOptionsFromFlags({ beta: "0.6", gamma: "0.25", "weight-sampling": "freeze-tensors" }), {
    beta: 0.6, gamma: 0.25, weightSampling: "freeze-tensors",
  });
});

test("bad flag values name the flag and the value", () => {
  assert.throws(() => trainOptionsFromFlags({ epochs: "2.5" }), /--epochs: '2.5' is not an integer/);
  assert.throws(() => trainOptionsFromFlags({ lr: "" }), /--lr: '' is not a number/);
  assert.throws(() => trainOptionsFromFlags({ schedule: "cosine" }), /--schedule: 'cosine' is not one of linear, polynomial, constant/);
  assert.throws(() => trainOptionsFromFlags({ "low-resource": "8", "low-resource-total": "100" }), /only one of --low-resource and --low-resource-total/);
  assert.throws(() => trainOptionsFromFlags({ "weight-sampling": "per-layer" }), /--weight-sampling: 'per-layer' is not one of per-element, freeze-tensors/);
  assert.throws(() => trainOptionsFromFlags({ beta: "half" }), /--beta: 'half' is not a number/);
  assert.equal(numberFlag("x", undefined), undefined);
});

test("--vocab reads the tokenizer's vocab.txt; a missing file is named with its flag", () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-vocab-"));
  try {
    const file = join(dir, "vocab.txt");
    writeFileSync(file, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"].join("\n"));
    const o = trainOptionsFromFlags({ vocab: file });
    assert.ok(o.tokenizer instanceof BertTokenizer);
    assert.deepEqual(o.tokenizer.encode("hello world").inputIds, [2, 5, 6, 3]);
    assert.throws(() => trainOptionsFromFlags({ vocab: join(dir, "missing.txt") }), /--vocab: '.*missing\.txt' is not a file/);
    assert.throws(() => trainOptionsFromFlags({ vocab: dir }), /--vocab: '.*' is not a file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--seeds takes a count or a list; --seed one seed", () => {
  assert.deepEqual(seedsFromFlags(undefined, "3", [42]), [1, 2, 3]);
  assert.deepEqual(seedsFromFlags(undefined, "7,1,3", [42]), [7, 1, 3]);
  assert.deepEqual(seedsFromFlags("5", undefined, [42]), [5]);
  assert.deepEqual(seedsFromFlags(undefined, undefined, [42]), [42]);
  assert.throws(() => seedsFromFlags("1", "2", []), /only one of --seed and --seeds/);
  assert.throws(() => seedsFromFlags(undefined, "0", []), /--seeds: '0' must be a count >= 1/);
  assert.throws(() => seedsFromFlags(undefined, "1,x", []), /--seeds: 'x' is not a number/);
});
