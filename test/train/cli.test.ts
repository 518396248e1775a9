import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultTaskDir } from "../../lib/data/default-task.ts";
import { readResults } from "../../lib/train/results-file.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const cli = join(root, "bin", "fsam-lab.js");
const dir = mkdtempSync(join(tmpdir(), "fsam-train-cli-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// A small copy of the default task: 24 training and 24 dev examples, same vocabulary.
const data = join(dir, "data");
mkdirSync(data);
for (const [split, n] of [["train", 24], ["dev", 24]] as const) {
  const lines = readFileSync(join(defaultTaskDir, `${split}.tsv`), "utf8").split("\n");
  writeFileSync(join(data, `${split}.tsv`), lines.slice(0, n + 1).join("\n") + "\n");
}
copyFileSync(join(defaultTaskDir, "vocab.txt"), join(data, "vocab.txt"));
// A very small BERT config (random init), so that each step takes milliseconds.
const config = join(dir, "tiny-bert.json");
writeFileSync(config, JSON.stringify({ hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 64 }));
const common = ["--task", "default", "--data", data, "--model", config, "--max-steps", "3", "--batch-size", "8", "--max-length", "32", "--backend", "cpu", "--lr", "1e-3"];

function cliRun(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
}

test("fsam-lab train: two seeds, results JSON + history CSV, one stdout line per run", () => {
  const out = join(dir, "out", "r.json");
  const r = cliRun(["train", ...common, "--optimizer", "sam", "--seeds", "2", "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^sam\tseed 1\taccuracy \d\.\d{4}\tbest/);
  const file = readResults(out);
  assert.deepEqual(file.runs.map((x) => [x.optimizer, x.seed, x.rows.length, x.sizes.train]), [["sam", 1, 3, 24], ["sam", 2, 3, 24]]);
  assert.equal(file.backend?.backend, "cpu");
  assert.ok(Number.isNaN(file.runs[0].rows[0].metric)); // null in JSON, NaN again when read
  assert.equal(file.runs[0].final.metric, file.runs[0].rows[2].metric);
  const csv = readFileSync(join(dir, "out", "r.history.csv"), "utf8").trim().split("\n");
  assert.equal(csv.length, 1 + 6);
  assert.match(csv[0], /^task,optimizer,seed,step,epoch,loss,lr,metric,devLoss,time,maskRefresh$/);
  assert.match(r.stderr, /\[#+\.*\] 3\/3/); // the terminal progress bar
});

test("fsam-lab train --optimizer fesam --beta --gamma: the settings reach Fisher-ESAM and the results file", () => {
  const out = join(dir, "out", "fesam.json");
  const r = cliRun(["train", ...common, "--optimizer", "fesam", "--beta", "0.6", "--gamma", "0.25", "--weight-sampling", "freeze-tensors",
    "--fisher-samples", "4", "--mask-interval", "2", "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  const run = readResults(out).runs[0];
  assert.equal(run.optimizer, "fesam");
  assert.equal(run.rows.length, 3);
  assert.deepEqual([run.settings.beta, run.settings.gamma, run.settings.weightSampling, run.settings.sparsity], [0.6, 0.25, "freeze-tensors", 0.9]);
  assert.equal(run.maskRefreshes, 2); // steps 1 and 3 with maskInterval 2
  const bad = cliRun(["train", "--optimizer", "esam", "--gamma", "0"]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /option gamma \(the fraction of the batch selected\) must be a number in \(0, 1\], got 0/);
});

test("fsam-lab train: bad flags get a clear message and exit code 2", () => {
  const r = cliRun(["train", "--lr", "fast"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--lr: 'fast' is not a number/);
  const s = cliRun(["train", "--optimizer", "lion"]);
  assert.equal(s.status, 2);
  assert.match(s.stderr, /unknown name 'lion'/);
  const u = cliRun(["compare", "--no-such-flag"]);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /^compare: Unknown option '--no-such-flag'/);
  const p = cliRun(["train", "stray"]);
  assert.equal(p.status, 2);
  assert.match(p.stderr, /^train: unexpected argument 'stray'/);
  const h = cliRun(["train", "--help"]);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /--low-resource K/);
});

test("fsam-lab train --data names a missing folder", () => {
  const r = cliRun(["train", "--data", "/nonexistent-fsam-data"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--data: '\/nonexistent-fsam-data' is not a folder/);
});

test("install, uninstall and kernel take --help (exit 0, usage on stdout)", () => {
  for (const [cmd, usage] of [["install", /--prefix DIR/], ["uninstall", /--sys-prefix/], ["kernel", /-f <connection_file>/]] as const) {
    for (const flag of ["--help", "-h"]) {
      const h = cliRun([cmd, flag]);
      assert.equal(h.status, 0, `${cmd} ${flag}: ${h.stderr}`);
      assert.match(h.stdout, new RegExp(`^usage: fsam-lab ${cmd}`));
      assert.match(h.stdout, usage);
    }
  }
});

test("fsam-lab compare: one process per run, resumable, summary mean ± std; --print-commands for schedulers", () => {
  const out = join(dir, "sweep");
  const args = ["compare", ...common, "--optimizers", "adam,fsam", "--seeds", "1", "--fisher-samples", "4", "--mask-interval", "2", "--out", out];
  const printed = cliRun([...args, "--print-commands"]);
  assert.equal(printed.status, 0, printed.stderr);
  const commands = printed.stdout.trim().split("\n");
  assert.equal(commands.length, 2);
  assert.match(commands[1], /^fsam-lab train .*--optimizer fsam --seed 1 --out \S+fsam-seed1\.json$/);
  assert.doesNotMatch(commands[1], /--preset/, "the default task has no paper setup");
  // The paper's GLUE tasks run the paper's setup unless --preset says otherwise.
  const rte = cliRun(["compare", "--task", "rte", "--optimizers", "fsam", "--seeds", "1", "--out", out, "--print-commands"]);
  assert.match(rte.stdout, /--task rte .*--preset fsam-paper/);
  const none = cliRun(["compare", "--task", "rte", "--preset", "none", "--optimizers", "fsam", "--seeds", "1", "--out", out, "--print-commands"]);
  assert.doesNotMatch(none.stdout, /fsam-paper/);
  const r = cliRun(args);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
  assert.deepEqual(summary.rows.map((x: { optimizer: string; n: number }) => [x.optimizer, x.n]), [["adam", 1], ["fsam", 1]]);
  const fsamRun = readResults(join(out, "runs", "fsam-seed1.json")).runs[0];
  assert.equal(summary.rows[1].mean, fsamRun.final.metric);
  assert.equal(fsamRun.maskRefreshes, 2); // steps 1 and 3 with maskInterval 2
  assert.match(readFileSync(join(out, "curves.html"), "utf8"), /Plotly\.newPlot/);
  assert.match(r.stdout, /^optimizer .*\n^adam +0\.\d{4} ± 0\.0000 /m);
  const again = cliRun(args);
  assert.equal(again.status, 0);
  assert.match(again.stderr, /adam seed 1 already done/);
  assert.match(again.stderr, /fsam seed 1 already done/);
});
