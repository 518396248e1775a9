/**
 * Does the embedded default task show a train/dev generalization gap, and do SAM and FSAM change
 * it? Trains a small randomly initialised BERT with each optimizer on the default task (same seed,
 * same schedule) and prints train accuracy (full training set, no dropout), dev accuracy, the gap
 * and the wall time of each run.
 *
 *   npx tsx bench/default-task-gap.ts [--optimizers adam,sam,fsam] [--epochs 10] [--seed 1]
 *     [--model bert-tiny | config.json] [--hidden 128] [--layers 2] [--lr 1e-3] [--batch-size 32]
 *     [--mask-interval 100] [--fisher-samples 128] [--rho 0.05]
 *
 * The model defaults to the bert-tiny shape (L2/H128/A2/I512) with the task's 316-token
 * vocabulary and 64 positions; `--hidden`/`--layers` shrink it.
 */
import { parseArgs } from "node:util";
import { initBackend } from "../lib/backend.ts";
import { loadDefaultTask } from "../lib/data/default-task.ts";
import { train, evaluateModel } from "../lib/train/train.ts";
import { checkOptimizerName } from "../lib/train/optimizer-names.ts";
import { numberFlag } from "../bin/cli-support/run-flags.ts";

const { values } = parseArgs({
  options: {
    optimizers: { type: "string", default: "adam,sam,fsam" },
    epochs: { type: "string", default: "10" },
    seed: { type: "string", default: "1" },
    hidden: { type: "string", default: "128" },
    layers: { type: "string", default: "2" },
    lr: { type: "string", default: "1e-3" },
    "batch-size": { type: "string", default: "32" },
    "mask-interval": { type: "string", default: "100" },
    "fisher-samples": { type: "string", default: "128" },
    rho: { type: "string" },
  },
});
const hidden = numberFlag("hidden", values.hidden, "integer") as number;
const layers = numberFlag("layers", values.layers, "integer") as number;
const model = {
  hidden_size: hidden,
  num_hidden_layers: layers,
  num_attention_heads: 2,
  intermediate_size: 4 * hidden,
  max_position_embeddings: 64,
};
const info = await initBackend();
const task = loadDefaultTask();
console.log(
  `backend ${info.backend} (${info.device}); default task: ${task.train.length} train / ${task.dev.length} dev; ` +
    `model L${layers}/H${hidden}/A2/I${4 * hidden}, vocab ${task.tokenizer.vocabSize}, random init; ` +
    `epochs ${values.epochs}, batch ${values["batch-size"]}, lr ${values.lr}, seed ${values.seed}`,
);
const rows: string[] = [];
for (const name of values.optimizers.split(",").map((s) => checkOptimizerName(s.trim()))) {
  const t0 = performance.now();
  const r = await train({
    data: { train: task.train, dev: task.dev, tokenizer: task.tokenizer },
    task: "default",
    model,
    optimizer: name,
    epochs: numberFlag("epochs", values.epochs, "integer"),
    batchSize: numberFlag("batch-size", values["batch-size"], "integer"),
    lr: numberFlag("lr", values.lr),
    seed: numberFlag("seed", values.seed, "integer"),
    maxLength: 32,
    evalAtEpochEnd: false,
    maskInterval: numberFlag("mask-interval", values["mask-interval"], "integer"),
    fisherSamples: numberFlag("fisher-samples", values["fisher-samples"], "integer"),
    ...(values.rho !== undefined ? { rho: numberFlag("rho", values.rho) } : {}),
    progress: "terminal",
  });
  const seconds = (performance.now() - t0) / 1000;
  const trainAcc = (await evaluateModel(r.model, task.train, task.tokenizer, "default", { maxLength: 32 })).metric;
  const devAcc = r.final.metric;
  rows.push(
    `${name.padEnd(6)} train acc ${trainAcc.toFixed(4)}  dev acc ${devAcc.toFixed(4)}  gap ${(trainAcc - devAcc).toFixed(4)}  ` +
      `steps ${r.rows.length}  train time ${seconds.toFixed(1)} s  (${(seconds / r.rows.length).toFixed(2)} s/step incl. final dev eval)`,
  );
  console.log(rows[rows.length - 1]);
  r.model.dispose();
}
console.log(`\nsummary\n${rows.join("\n")}`);
