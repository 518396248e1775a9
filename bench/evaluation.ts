// Benchmark of train()'s dev evaluation (lib/train/evaluate.ts, lib/data/length-order.ts): a
// bert-tiny classifier with the BERT vocabulary on a GLUE dev set, evaluated as before (file order,
// a second forward pass for the loss) and as now (shortest first, loss from the prediction logits),
// interleaved in one process; prints wall and CPU (user + sys) seconds per evaluation and the
// padded tokens of each order.
// Run: npx tsx bench/evaluation.ts [task=rte] [dataDir=/work/shared/data] [repeats=3]
import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { formatBackendInfo, initBackend } from "../lib/backend.ts";
import { BertTokenizer } from "../lib/data/tokenizer.ts";
import { loadTask } from "../lib/data/readers.ts";
import { batches } from "../lib/data/batches.ts";
import { sortByEncodedLength } from "../lib/data/length-order.ts";
import { createBertClassifier } from "../lib/models/classifier.ts";
import { bertPresets } from "../lib/models/config.ts";
import { predictBatches } from "../lib/train/evaluate.ts";
import type { Example, SequenceModel } from "../lib/types.ts";

const [task = "rte", dataDir = "/work/shared/data", repeatsArg = "3"] = process.argv.slice(2);
const repeats = Number(repeatsArg);
console.log(formatBackendInfo(await initBackend()));
const tokenizer = BertTokenizer.fromVocabFile(join(dataDir, "vocab", "bert-base-uncased-vocab.txt"));
const dev = loadTask(task, dataDir, "dev");
const model = createBertClassifier({ ...bertPresets["bert-tiny"].config, vocab_size: tokenizer.vocabSize }, { numLabels: 2, seed: 1 });
const options = { batchSize: 64, maxLength: 128, task };
/** The model without lossFromLogits: predictBatches then runs model.loss, a second forward pass. */
const twoPass: SequenceModel = { variables: model.variables, numLabels: model.numLabels, logits: (b, o) => model.logits(b, o), loss: ((b: never, o: never) => model.loss(b, o)) as SequenceModel["loss"], dispose: () => {} };
const sorted = sortByEncodedLength(dev, tokenizer, options.maxLength);
const tokens = (list: readonly Example[]) => {
  let n = 0;
  for (const b of batches(list, tokenizer, options)) {
    n += b.inputIds.size;
    tf.dispose(Object.values(b));
  }
  return n;
};
console.log(`${task} dev: ${dev.length} examples; padded tokens in batches of 64: file order ${tokens(dev)}, shortest first ${tokens(sorted)}`);
const variants: [string, () => Promise<unknown>][] = [
  ["before (file order, 2 passes)", () => predictBatches(twoPass, batches(dev, tokenizer, options))],
  ["now (shortest first, 1 pass)", () => predictBatches(model, batches(sortByEncodedLength(dev, tokenizer, options.maxLength), tokenizer, options))],
];
const totals = variants.map(() => ({ wall: 0, cpu: 0 }));
await variants[1][1](); // warm-up
for (let r = 0; r < repeats; r++) {
  for (const [i, [, run]] of variants.entries()) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run();
    const c = process.cpuUsage(c0);
    totals[i].wall += (performance.now() - t0) / 1000;
    totals[i].cpu += (c.user + c.system) / 1e6;
  }
}
variants.forEach(([name], i) => console.log(`${name}: ${(totals[i].wall / repeats).toFixed(2)} s wall, ${(totals[i].cpu / repeats).toFixed(2)} s CPU per evaluation`));
model.dispose();
