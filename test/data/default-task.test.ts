// The embedded default task: the committed files are exactly the generator's output, the labels
// follow the documented rule (checked by an independent parser of the sentences), the vocab
// covers every sentence, and a bag-of-n-grams logistic regression fits train but not dev.
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { Example } from "../../lib/types.ts";
import { DEFAULT_TASK_LEXICON, defaultTaskTsv, generateDefaultTask } from "../../lib/data/default-task-generator.ts";
import { defaultTaskDir, loadDefaultTask } from "../../lib/data/default-task.ts";
import { loadTask } from "../../lib/data/readers.ts";
import { run as generateCli } from "../../bin/commands/generate-default-task.ts";

const generated = generateDefaultTask();
const committed = loadDefaultTask();

test("committed data/default-task files are the generator's output, byte for byte", () => {
  assert.equal(readFileSync(join(defaultTaskDir, "train.tsv"), "utf8"), defaultTaskTsv(generated.train));
  assert.equal(readFileSync(join(defaultTaskDir, "dev.tsv"), "utf8"), defaultTaskTsv(generated.dev));
  assert.equal(readFileSync(join(defaultTaskDir, "vocab.txt"), "utf8"), generated.vocab.join("\n") + "\n");
  assert.deepEqual(committed.train, generated.train);
  assert.deepEqual(committed.dev, generated.dev);
  assert.equal(committed.task.name, "default");
  assert.deepEqual(generateDefaultTask({ seed: 5, trainSize: 20, devSize: 30 }), generateDefaultTask({ seed: 5, trainSize: 20, devSize: 30 }));
  assert.notDeepEqual(generateDefaultTask({ seed: 6, trainSize: 20, devSize: 30 }).train, generateDefaultTask({ seed: 5, trainSize: 20, devSize: 30 }).train);
});

test("sizes, balance, disjoint splits, and a vocab that covers everything", () => {
  const { train, dev, tokenizer } = committed;
  assert.equal(train.length, 512);
  assert.equal(dev.length, 2000);
  const positives = dev.filter((e) => e.label === 1).length / dev.length;
  assert.ok(positives > 0.4 && positives < 0.6, `dev positive share ${positives}`);
  const trainSet = new Set(train.map((e) => e.textA));
  assert.equal(trainSet.size, 512);
  assert.ok(dev.every((e) => !trainSet.has(e.textA)));
  const vocab = readFileSync(join(defaultTaskDir, "vocab.txt"), "utf8").split("\n").slice(0, -1);
  assert.equal(new Set(vocab).size, vocab.length);
  assert.equal(tokenizer.vocabSize, vocab.length);
  let continuations = 0;
  let longest = 0;
  for (const e of [...train, ...dev]) {
    const tokens = tokenizer.tokenize(e.textA);
    assert.ok(!tokens.includes("[UNK]"), e.textA);
    continuations += tokens.filter((t) => t.startsWith("##")).length;
    longest = Math.max(longest, tokens.length + 2);
  }
  assert.ok(continuations > 100, "plural nouns are split by WordPiece");
  assert.ok(longest <= 32, `longest sequence ${longest}`);
});

/**
 * The rule, read off the sentence: the last sentiment adjective decides, flipped when its clause
 * (the words since the previous adjective) holds a negation.
 */
function ruleLabel(sentence: string): number {
  const words = sentence.split(" ");
  const positive = new Set(DEFAULT_TASK_LEXICON.positive);
  const negative = new Set(DEFAULT_TASK_LEXICON.negative);
  const adjectives = words.map((w, i) => (positive.has(w) || negative.has(w) ? i : -1)).filter((i) => i >= 0);
  assert.ok(adjectives.length > 0, `no sentiment word in "${sentence}"`);
  const last = adjectives[adjectives.length - 1]!;
  const clause = words.slice(adjectives.length > 1 ? adjectives[adjectives.length - 2]! + 1 : 0, last);
  const negated = clause.some((w) => w === "not" || w === "never" || w === "hardly" || w.endsWith("n't"));
  const polarity = positive.has(words[last]!) ? 1 : 0;
  return negated ? 1 - polarity : polarity;
}

test("labels follow the rule: dev exactly, train up to its 8 % label noise", () => {
  const agree = (examples: Example[]) => examples.filter((e) => ruleLabel(e.textA) === e.label).length / examples.length;
  assert.equal(agree(committed.dev), 1);
  const trainAgreement = agree(committed.train);
  assert.ok(trainAgreement > 0.88 && trainAgreement < 0.97, `train agreement ${trainAgreement}`);
  const negations = committed.dev.filter((e) => /\b(not|never|hardly)\b|n't/.test(e.textA)).length / committed.dev.length;
  assert.ok(negations > 0.2, `negation share ${negations}`);
});

test("a bag-of-n-grams logistic regression fits train but generalizes poorly", () => {
  const { train, dev, tokenizer } = committed;
  const index = new Map<string, number>();
  const features = (e: Example, grow: boolean) => {
    const t = tokenizer.tokenize(e.textA);
    const keys = [...t, ...t.slice(1).map((w, i) => `${t[i]} ${w}`)];
    const out = new Set<number>();
    for (const k of keys) {
      if (grow && !index.has(k)) index.set(k, index.size);
      const j = index.get(k);
      if (j !== undefined) out.add(j);
    }
    return [...out];
  };
  const xTrain = train.map((e) => features(e, true));
  const xDev = dev.map((e) => features(e, false));
  const w = new Float64Array(index.size);
  let b = 0;
  for (let epoch = 0; epoch < 1500; epoch++) {
    const g = new Float64Array(index.size);
    let gb = 0;
    xTrain.forEach((x, i) => {
      let z = b;
      for (const j of x) z += w[j]!;
      const d = 1 / (1 + Math.exp(-z)) - train[i]!.label;
      for (const j of x) g[j]! += d;
      gb += d;
    });
    for (let j = 0; j < w.length; j++) w[j]! -= (2 * g[j]!) / xTrain.length;
    b -= (2 * gb) / xTrain.length;
  }
  const accuracy = (xs: number[][], examples: Example[]) =>
    xs.filter((x, i) => (x.reduce((z, j) => z + w[j]!, b) > 0 ? 1 : 0) === examples[i]!.label).length / xs.length;
  const trainAcc = accuracy(xTrain, train);
  const devAcc = accuracy(xDev, dev);
  assert.ok(trainAcc > 0.98, `train accuracy ${trainAcc}`);
  assert.ok(devAcc < 0.75 && devAcc > 0.5, `dev accuracy ${devAcc}`);
  assert.ok(trainAcc - devAcc > 0.25, `gap ${trainAcc - devAcc}`);
});

test("generate-default-task CLI writes a task loadTask can read", async () => {
  const out = mkdtempSync(join(tmpdir(), "fsam-default-"));
  const log = console.log;
  console.log = () => {};
  try {
    assert.equal(await generateCli(["--out", out, "--seed", "3", "--train", "40", "--dev", "60", "--noise", "0"]), 0);
    assert.equal(await generateCli(["--seed", "x"]), 2);
  } finally {
    console.log = log;
  }
  const train = loadTask("default", out, "train");
  assert.equal(train.length, 40);
  assert.equal(loadTask("default", out, "dev").length, 60);
  assert.ok(train.every((e) => ruleLabel(e.textA) === e.label), "no label noise with --noise 0");
});
