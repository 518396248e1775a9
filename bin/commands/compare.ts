/**
 * `fsam-lab compare`: a sweep of optimizers × seeds, each run in its own `fsam-lab train` process
 * (resumable: finished runs are skipped), then a summary (mean ± std of the task metric per
 * optimizer), merged histories and an HTML figure of the curves.
 */
import { parseCommandFlags } from "../cli-support/parse-flags.ts";
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkOptimizerName, optimizerNames, type OptimizerName } from "../../lib/train/optimizer-names.ts";
import { runFlagSpec, runFlagsHelp, seedsFromFlags, trainOptionsFromFlags } from "../cli-support/run-flags.ts";
import { readResults, type RunRecord } from "../../lib/train/results-file.ts";
import { fsamPaperLearningRates } from "../../lib/train/presets.ts";
import type { CompareSummaryRow } from "../../lib/train/compare.ts";
import { historyCsv } from "../../lib/train/history.ts";
import { writeFileAtomic } from "../../lib/atomic-write.ts";
import { toHTML } from "../../lib/plot/figure.ts";

/** One line for `fsam-lab help`. */
export const summary = "compare optimizers over seeds: one train process per run, then mean ± std and curves";

const usage = `usage: fsam-lab compare --out DIR [--optimizers LIST] [--seeds N|LIST] [--jobs J] [options]
       fsam-lab compare --out DIR --print-commands [same options]
       fsam-lab compare --out DIR --collect

Runs every optimizer with every seed, each as its own \`fsam-lab train\` process writing
DIR/runs/<optimizer>-seed<S>.json (runs whose file already holds a finished run are skipped, so an
interrupted sweep resumes where it stopped), then writes:
  DIR/summary.json, DIR/summary.csv   mean ± std (n − 1) over seeds of the final dev metric per optimizer
  DIR/histories.csv                   every run's history (task, optimizer, seed, step, epoch, loss, lr, metric, …)
  DIR/curves.html                     dev metric and training loss per step, mean ± std bands (standalone Plotly)
and prints the summary table.

  --optimizers LIST        comma-separated, from ${optimizerNames.join(", ")} (default adam,sam,fsam)
  --seeds N|LIST           N seeds 1..N or a comma-separated list (default 1,2,3)
  --jobs J                 run up to J train processes at once on this machine (default 1)
  --out DIR                output folder (required)
  --print-commands         print one \`fsam-lab train\` command per run and exit (for a batch scheduler)
  --collect                only summarise the result files already in DIR/runs
  --backend B              passed to every run
${runFlagsHelp}

Sweeps over several machines: each run is one process and writes its own file, so any batch
scheduler can spread them. Print the job lines, run them anywhere that sees DIR (or copy the
runs/*.json files back), then collect:
  fsam-lab compare --out sweep --task rte --data ../shared/data/glue --low-resource 16 \\
      --optimizers adam,sam,fsam --seeds 5 --print-commands > jobs.txt
  parallel -j 4 < jobs.txt           # or: xargs -P 4 -I{} sh -c {} < jobs.txt, a SLURM array, …
  fsam-lab compare --out sweep --collect`;

/** The tasks that get `--preset fsam-paper` by default. */
const paperPresetTasks = Object.keys(fsamPaperLearningRates);

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

function runFile(dir: string, optimizer: string, seed: number): string {
  return join(dir, "runs", `${optimizer}-seed${seed}.json`);
}

function finished(path: string): boolean {
  if (!existsSync(path)) return false;
  try {
    const runs = readResults(path).runs;
    return runs.length > 0 && runs.every((r) => !r.interrupted);
  } catch {
    return false;
  }
}

/** The summary as an aligned text table. */
function formatSummary(rows: readonly CompareSummaryRow[]): string {
  const lines = [`optimizer  ${rows[0]?.metric ?? "metric"} (mean ± std)   best (mean ± std)   n   s/run   diverged`];
  for (const r of rows) {
    lines.push(
      `${r.optimizer.padEnd(9)}  ${r.mean.toFixed(4)} ± ${r.std.toFixed(4)}      ${r.bestMean.toFixed(4)} ± ${r.bestStd.toFixed(4)}   ${String(r.n).padStart(2)}  ${r.seconds.toFixed(1).padStart(5)}   ${r.diverged}`,
    );
  }
  return lines.join("\n");
}

async function collect(dir: string): Promise<number> {
  const runsDir = join(dir, "runs");
  const files = existsSync(runsDir) ? readdirSync(runsDir).filter((f) => f.endsWith(".json")).sort() : [];
  const records: RunRecord[] = files.flatMap((f) => readResults(join(runsDir, f)).runs);
  if (records.length === 0) {
    console.error(`compare: no results in ${runsDir}`);
    return 1;
  }
  const tasks = new Set(records.map((r) => r.task));
  if (tasks.size > 1) console.error(`compare: warning — the runs mix tasks: ${[...tasks].join(", ")}`);
  const metricName = records[0].metricName;
  // The summary code pulls in danfojs and tfjs; loaded only when needed, so \`fsam-lab help\` stays fast.
  const { comparisonOf } = await import("../../lib/train/compare.ts");
  const { summary: rows, figure, lossFigure } = comparisonOf(records, metricName);
  writeFileAtomic(join(dir, "summary.json"), `${JSON.stringify({ task: [...tasks].join(","), metricName, rows }, null, 2)}\n`);
  const header = ["optimizer", "metric", "mean", "std", "n", "bestMean", "bestStd", "seconds", "diverged"] as const;
  writeFileAtomic(join(dir, "summary.csv"), [header.join(","), ...rows.map((r) => header.map((h) => r[h]).join(","))].join("\n") + "\n");
  writeFileAtomic(join(dir, "histories.csv"), historyCsv(records.map((r) => ({ extra: { task: r.task, optimizer: r.optimizer, seed: r.seed }, rows: r.rows }))));
  toHTML(figure, join(dir, "curves.html"));
  toHTML(lossFigure, join(dir, "loss-curves.html"));
  console.log(formatSummary(rows));
  console.error(`fsam-lab compare: ${records.length} runs; wrote summary.json, summary.csv, histories.csv, curves.html, loss-curves.html in ${dir}`);
  return 0;
}

/** Runs the command; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandFlags("compare", argv, {
    ...runFlagSpec,
    optimizers: { type: "string" },
    seeds: { type: "string" },
    jobs: { type: "string" },
    out: { type: "string" },
    "print-commands": { type: "boolean" },
    collect: { type: "boolean" },
    backend: { type: "string" },
  } as const, usage);
  if ("exitCode" in parsed) return parsed.exitCode;
  const { values } = parsed;
  if (!values.out) {
    console.error(`compare: --out DIR is required\n\n${usage}`);
    return 2;
  }
  const dir = values.out;
  if (values.collect) return collect(dir);

  let optimizers: OptimizerName[];
  let seeds: number[];
  let jobs: number;
  try {
    trainOptionsFromFlags(values); // validates the shared flags before any process starts
    optimizers = (values.optimizers ?? "adam,sam,fsam").split(",").map((s) => checkOptimizerName(s.trim()));
    seeds = seedsFromFlags(undefined, values.seeds, [1, 2, 3]);
    jobs = Number(values.jobs ?? "1");
    if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs: '${values.jobs}' must be a positive integer`);
  } catch (err) {
    console.error(`compare: ${(err as Error).message}`);
    return 2;
  }
  const shared: string[] = [];
  for (const key of [...Object.keys(runFlagSpec), "backend"]) {
    const v = (values as Record<string, unknown>)[key];
    if (typeof v === "string") shared.push(`--${key}`, v);
  }
  // As compare() does: the paper's GLUE tasks run the paper's setup unless --preset says otherwise.
  if (values.preset === undefined && values.task !== undefined && paperPresetTasks.includes(values.task)) shared.push("--preset", "fsam-paper");
  const planned = seeds.flatMap((seed) => optimizers.map((optimizer) => ({ optimizer, seed, out: runFile(dir, optimizer, seed) })));
  const argsOf = (p: (typeof planned)[number]) => ["train", ...shared, "--optimizer", p.optimizer, "--seed", String(p.seed), "--out", p.out];
  if (values["print-commands"]) {
    for (const p of planned) console.log(["fsam-lab", ...argsOf(p)].map(shellQuote).join(" "));
    return 0;
  }

  const entry = fileURLToPath(new URL("../fsam-lab.js", import.meta.url));
  const todo = planned.filter((p) => {
    if (finished(p.out)) {
      console.error(`fsam-lab compare: ${p.optimizer} seed ${p.seed} already done (${p.out}), skipped`);
      return false;
    }
    return true;
  });
  let interrupted = false;
  let failed = 0;
  const onSigint = () => {
    interrupted = true; // the children get the same SIGINT from the terminal and stop after their step
  };
  process.on("SIGINT", onSigint);
  const runOne = (p: (typeof planned)[number]) =>
    new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [entry, ...argsOf(p)], { stdio: ["ignore", "inherit", "inherit"] });
      child.on("exit", (code) => {
        if (code === 130) interrupted = true;
        else if (code !== 0) {
          failed += 1;
          console.error(`fsam-lab compare: ${p.optimizer} seed ${p.seed} failed (exit ${code})`);
        }
        resolve();
      });
    });
  const queue = [...todo];
  await Promise.all(
    Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      while (queue.length > 0 && !interrupted) await runOne(queue.shift()!);
    }),
  );
  process.off("SIGINT", onSigint);
  const code = await collect(dir);
  if (interrupted) return 130;
  return failed > 0 ? 1 : code;
}
