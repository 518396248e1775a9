import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { compare, meanAndStd } from "../../lib/train/compare.ts";
import { loadDefaultTask } from "../../lib/data/default-task.ts";

await tf.setBackend("cpu");

const full = loadDefaultTask();
const data = { train: full.train.slice(0, 32), dev: full.dev.slice(0, 32), tokenizer: full.tokenizer };
const tinyBert = { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 64 };

test("meanAndStd: sample standard deviation, NaN ignored, 0 for one value", () => {
  const { mean, std, n } = meanAndStd([1, 2, 3, 4, Number.NaN]);
  assert.equal(mean, 2.5);
  assert.ok(Math.abs(std - Math.sqrt(5 / 3)) < 1e-12);
  assert.equal(n, 4);
  assert.deepEqual(meanAndStd([7]), { mean: 7, std: 0, n: 1 });
});

test("compare: optimizers × seeds, a table of mean ± std, curves with bands, per-run histories", async () => {
  const seen: string[] = [];
  const before = tf.memory().numTensors;
  const r = await compare({
    data, model: tinyBert, optimizers: ["adam", "sam"], seeds: [1, 2], epochs: 2, batchSize: 8, maxLength: 32, lr: 1e-3, progress: "off",
    perOptimizer: { sam: { rho: 0.1 } },
    onRun: (run) => void seen.push(`${run.optimizer}/${run.seed}`),
  });
  assert.equal(tf.memory().numTensors, before, "models and optimizers of the runs are disposed");
  assert.deepEqual(seen, ["adam/1", "sam/1", "adam/2", "sam/2"]);
  assert.equal(r.runs.length, 4);
  assert.equal(r.metricName, "accuracy");
  assert.deepEqual(r.table.shape, [2, 9]);
  assert.deepEqual(r.table["optimizer"].values, ["adam", "sam"]);
  assert.deepEqual(r.table["diverged"].values, [0, 0]);
  for (const opt of ["adam", "sam"]) {
    const finals = r.runs.filter((x) => x.optimizer === opt).map((x) => x.final.metric);
    const mean = (finals[0] + finals[1]) / 2;
    const std = Math.abs(finals[0] - finals[1]) / Math.SQRT2;
    const row = r.summary.find((s) => s.optimizer === opt)!;
    assert.ok(Math.abs(row.mean - mean) < 1e-12 && Math.abs(row.std - std) < 1e-12, `${opt}: ${row.mean} ± ${row.std}`);
    assert.equal(row.n, 2);
  }
  assert.equal(r.runs.find((x) => x.optimizer === "sam")!.settings.rho, 0.1);
  // Same seed → same initial model and batch order: the first loss (at the unperturbed weights) agrees.
  for (const seed of [1, 2]) {
    const [a, s] = ["adam", "sam"].map((o) => r.runs.find((x) => x.optimizer === o && x.seed === seed)!.rows[0].loss);
    assert.equal(a, s);
  }
  // One band (upper, lower with fill, mean) per optimizer on top of the thin per-run lines.
  const filled = (r.figure.data as Record<string, unknown>[]).filter((t) => t.fill === "tonexty");
  assert.equal(filled.length, 2);
  const meanTrace = (r.figure.data as Record<string, unknown>[]).find((t) => String(t.name).startsWith("adam (mean"))!;
  const adamRuns = r.runs.filter((x) => x.optimizer === "adam");
  const lastStep = adamRuns[0].rows.length;
  const expected = adamRuns.map((x) => x.rows[lastStep - 1].metric).reduce((a, b) => a + b, 0) / 2;
  assert.equal((meanTrace.x as number[]).at(-1), lastStep);
  assert.ok(Math.abs((meanTrace.y as number[]).at(-1)! - expected) < 1e-12);
  assert.ok(r.lossFigure.data.length > 0);
});

test("compare: bad optimizer names and seeds are refused", async () => {
  await assert.rejects(compare({ data, optimizers: ["adam", "lion" as never] }), /unknown name 'lion'/);
  await assert.rejects(compare({ data, seeds: [] }), /seeds must be a non-empty list of integers/);
});
