// Evaluation batches shortest first (lib/data/length-order.ts): the order itself, and that a BERT
// classifier's evaluation over it (evaluateModel, train()'s dev evaluations) gives the same
// per-example predictions and losses as the file order, with far less padding.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { Example } from "../../lib/types.ts";
import { BertTokenizer } from "../../lib/data/tokenizer.ts";
import { batches } from "../../lib/data/batches.ts";
import { sortByEncodedLength } from "../../lib/data/length-order.ts";
import { loadDefaultTask } from "../../lib/data/default-task.ts";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import { bertPresets } from "../../lib/models/config.ts";
import { predictBatches } from "../../lib/train/evaluate.ts";
import { evaluateModel } from "../../lib/train/train.ts";
import { sequenceModelEvaluator } from "../../lib/inspect/landscape.ts";

await tf.setBackend("cpu");

const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e"];
const tok = new BertTokenizer(vocab);
/** A small BERT classifier (2 layers, hidden 32) with a seeded initialisation. */
const smallBert = (vocabSize: number, seed: number) =>
  createBertClassifier({ ...bertPresets["bert-tiny"].config, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64, vocab_size: vocabSize }, { numLabels: 2, seed });
const words = (n: number) => "a b c d e a b c d e".split(" ").slice(0, n).join(" ");

test("sortByEncodedLength: the same examples, shortest first, stable on ties, lengths as truncated", () => {
  const examples: Example[] = [5, 1, 3, 1, 9, 3, 2].map((n, i) => ({ textA: words(n), label: i }));
  const sorted = sortByEncodedLength(examples, tok, 6);
  // Lengths with [CLS] … [SEP], cut at 6: 6 3 5 3 6 5 4 → labels by (length, position).
  assert.deepEqual(sorted.map((e) => e.label), [1, 3, 6, 2, 5, 0, 4]);
  for (const e of sorted) assert.ok(examples.includes(e), "holds the given example objects");
  assert.deepEqual(examples.map((e) => e.label), [0, 1, 2, 3, 4, 5, 6], "the input is not reordered");
  const pairs: Example[] = [{ textA: words(4), textB: words(4), label: 0 }, { textA: words(1), textB: words(2), label: 1 }];
  assert.deepEqual(sortByEncodedLength(pairs, tok, 32).map((e) => e.label), [1, 0], "pairs count both texts");
  assert.throws(() => sortByEncodedLength(examples, tok, 0), /maxLength/);
});

test("evaluation shortest first equals the file order per example (bert, padding masked) with fewer tokens", async () => {
  const task = loadDefaultTask();
  const dev = task.dev.slice(0, 48);
  const maxLength = 32;
  const model = smallBert(task.tokenizer.vocabSize, 3);
  try {
    const sorted = sortByEncodedLength(dev, task.tokenizer, maxLength);
    const tokens = (list: readonly Example[]) => {
      let n = 0;
      for (const b of batches(list, task.tokenizer, { batchSize: 16, maxLength, task: "default" })) {
        n += b.inputIds.size;
        tf.dispose(Object.values(b));
      }
      return n;
    };
    assert.ok(tokens(sorted) < tokens(dev), `sorted batches pad less: ${tokens(sorted)} vs ${tokens(dev)} tokens`);

    // Per-example losses and predictions in both orders, matched by example.
    const perExample = async (list: readonly Example[]) => {
      const out = new Map<Example, { prediction: number; loss: number }>();
      let k = 0;
      for (const b of batches(list, task.tokenizer, { batchSize: 16, maxLength, task: "default" })) {
        const losses = tf.tidy(() => model.loss(b, { training: false, reduction: "none" }));
        const lossValues = await losses.data();
        losses.dispose();
        const { predictions } = await predictBatches(model, [b]);
        predictions.forEach((p, j) => out.set(list[k + j], { prediction: p, loss: lossValues[j] }));
        k += predictions.length;
      }
      return out;
    };
    const inFileOrder = await perExample(dev);
    const shortestFirst = await perExample(sorted);
    for (const e of dev) {
      const a = inFileOrder.get(e)!;
      const b = shortestFirst.get(e)!;
      assert.equal(b.prediction, a.prediction);
      assert.ok(Math.abs(b.loss - a.loss) <= 1e-5 * Math.max(1, Math.abs(a.loss)), `loss ${b.loss} vs ${a.loss}`);
    }
    const meanLoss = dev.reduce((s, e) => s + inFileOrder.get(e)!.loss, 0) / dev.length;
    const accuracy = dev.filter((e) => inFileOrder.get(e)!.prediction === e.label).length / dev.length;
    const ev = await evaluateModel(model, dev, task.tokenizer, "default", { batchSize: 16, maxLength });
    assert.equal(ev.n, dev.length);
    assert.ok(Math.abs(ev.loss - meanLoss) <= 1e-5 * Math.max(1, meanLoss), `evaluateModel loss ${ev.loss} vs ${meanLoss}`);
    assert.equal(ev.scores.accuracy, accuracy);
  } finally {
    model.dispose();
  }
});

test("a landscape evaluator over shortest-first batches gives the file order's loss and accuracy", async () => {
  const task = loadDefaultTask();
  const dev = task.dev.slice(0, 48);
  const maxLength = 32;
  const model = smallBert(task.tokenizer.vocabSize, 4);
  const encode = (list: readonly Example[]) => [...batches(list, task.tokenizer, { batchSize: 16, maxLength, task: "default" })];
  const fileOrder = encode(dev);
  const shortestFirst = encode(sortByEncodedLength(dev, task.tokenizer, maxLength));
  try {
    const read = async (b: typeof fileOrder) => {
      const e = sequenceModelEvaluator(model, b)();
      const [loss, accuracy] = [(await e.loss.data())[0], (await e.accuracy!.data())[0]];
      tf.dispose([e.loss, e.accuracy!]);
      return { loss, accuracy };
    };
    const a = await read(fileOrder);
    const b = await read(shortestFirst);
    assert.ok(Math.abs(b.loss - a.loss) <= 1e-6 * Math.max(1, a.loss), `loss ${b.loss} vs ${a.loss}`);
    assert.equal(b.accuracy, a.accuracy);
  } finally {
    for (const b of [...fileOrder, ...shortestFirst]) tf.dispose(Object.values(b));
    model.dispose();
  }
});
