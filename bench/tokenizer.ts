/**
 * Tokenizer throughput: encodes SST-2 train sentences (or the default task's, when the GLUE data
 * is absent) with a fresh BertTokenizer (cold word cache) and again (warm cache), reporting
 * sentences/s and tokens/s. Usage: `npx tsx bench/tokenizer.ts [count]`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadTask } from "../lib/data/readers.ts";
import { BertTokenizer } from "../lib/data/tokenizer.ts";
import { defaultTaskDir } from "../lib/data/default-task.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const shared = join(root, "..", "shared", "data");
const count = Number(process.argv[2] ?? 10000);
const haveGlue = existsSync(join(shared, "glue", "SST-2", "train.tsv")) && existsSync(join(shared, "vocab", "bert-base-uncased-vocab.txt"));
const sentences = (haveGlue ? loadTask("sst2", shared, "train") : [...loadTask("default", defaultTaskDir, "train"), ...loadTask("default", defaultTaskDir, "dev")])
  .slice(0, count)
  .map((e) => e.textA);
const vocab = haveGlue ? join(shared, "vocab", "bert-base-uncased-vocab.txt") : join(defaultTaskDir, "vocab.txt");

const loadStart = performance.now();
const tokenizer = BertTokenizer.fromVocabFile(vocab);
const loadMs = performance.now() - loadStart;
console.log(`data: ${haveGlue ? "SST-2 train" : "default task"}, ${sentences.length} sentences; vocab ${tokenizer.vocabSize} tokens loaded in ${loadMs.toFixed(0)} ms`);
for (const pass of ["cold cache", "warm cache"]) {
  const t0 = performance.now();
  let tokens = 0;
  for (const s of sentences) tokens += tokenizer.encode(s).inputIds.length;
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `${pass}: ${seconds.toFixed(3)} s, ${(sentences.length / seconds).toFixed(0)} sentences/s, ${(tokens / seconds).toFixed(0)} tokens/s (${tokens} tokens)`,
  );
}
