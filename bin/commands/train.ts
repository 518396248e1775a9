/**
 * `fsam-lab train`: headless fine-tuning with the library's trainer; progress on stderr, one line
 * per run on stdout, results JSON + history CSV written atomically after every run.
 */
import { parseCommandFlags } from "../cli-support/parse-flags.ts";
import { join } from "node:path";
import { existsSync, statSync } from "node:fs";
import type { BackendName } from "../../lib/backend.ts";
import { checkOptimizerName, optimizerNames } from "../../lib/train/optimizer-names.ts";
import { runFlagSpec, runFlagsHelp, seedsFromFlags, trainOptionsFromFlags } from "../cli-support/run-flags.ts";
import type { ResultsFile } from "../../lib/train/results-file.ts";

/** One line for `fsam-lab help`. */
export const summary = "fine-tune a model on a task with adam/sam/fsam/…, headless; writes results JSON + CSV";

const usage = `usage: fsam-lab train [--optimizer O] [--seed S | --seeds N|LIST] [options] [--out results.json]

Trains one model per seed with the same trainer as fsam.train() in a notebook. Progress goes to
stderr, one summary line per run to stdout. With --out, the results (settings, scores, histories)
are written to the JSON file and the histories to <name>.history.csv next to it, atomically, after
every run. Ctrl-C stops after the current step and still writes what was done (exit code 130).

  --optimizer O            ${optimizerNames.join(" | ")} (default adam)
  --seed S                 one run with seed S (default 42)
  --seeds N|LIST           N runs with seeds 1..N, or the listed seeds (e.g. 1,2,3), one after another
  --out FILE               results JSON (the CSV goes next to it)
  --checkpoint-dir DIR     save the best model of each run to DIR/seed-S (Hugging Face folder)
  --backend B              tensorflow | webgpu | wasm | cpu (default: fastest available; or $FSAM_BACKEND)
${runFlagsHelp}

Sweeps: each run is one process, so a sweep over optimizers and seeds spreads over machines with
any batch scheduler: give every job one optimizer and one seed and its own --out file, e.g.
  for o in adam sam fsam; do for s in 1 2 3; do
    echo "fsam-lab train --task rte --data ../shared/data/glue --low-resource 16 --optimizer $o --seed $s --out sweep/runs/$o-seed$s.json"
  done; done | parallel -j 2        # or xargs -P, a SLURM array, …
then summarise with: fsam-lab compare --collect --out sweep
(fsam-lab compare --print-commands prints exactly these job lines.)

Example:
  fsam-lab train --task rte --optimizer fsam --model ./bert-mini --data ../shared/data/glue \\
    --low-resource 32 --seeds 3 --epochs 10 --batch-size 16 --lr 2e-5 --out results/rte-fsam.json`;

/** Runs the command; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandFlags("train", argv, {
    ...runFlagSpec,
    optimizer: { type: "string" },
    seed: { type: "string" },
    seeds: { type: "string" },
    out: { type: "string" },
    "checkpoint-dir": { type: "string" },
    backend: { type: "string" },
  } as const, usage);
  if ("exitCode" in parsed) return parsed.exitCode;
  const { values } = parsed;
  let options;
  let seeds: number[];
  let optimizer;
  try {
    options = trainOptionsFromFlags(values);
    if (values.data !== undefined && !(existsSync(values.data) && statSync(values.data).isDirectory())) {
      throw new Error(`--data: '${values.data}' is not a folder (it should hold the task's train/dev files)`);
    }
    seeds = seedsFromFlags(values.seed, values.seeds, [42]);
    optimizer = checkOptimizerName(values.optimizer ?? "adam");
    if (values.out !== undefined && !values.out.endsWith(".json")) throw new Error(`--out: '${values.out}' must end with .json`);
  } catch (err) {
    console.error(`train: ${(err as Error).message}`);
    return 2;
  }
  // tfjs and the trainer load only now, so that \`fsam-lab help\` stays fast.
  const { initBackend } = await import("../../lib/backend.ts");
  const { train } = await import("../../lib/train/train.ts");
  const { historyCsvPath, runRecord, writeResults } = await import("../../lib/train/results-file.ts");
  const info = await initBackend(values.backend ? { backend: values.backend as BackendName } : {});
  console.error(`fsam-lab train: backend ${info.backend} (${info.device}), optimizer ${optimizer}, seeds ${seeds.join(",")}`);

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    console.error("\nfsam-lab train: interrupted — stopping after the current step (Ctrl-C again to quit now)");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  const file: ResultsFile = {
    version: 1,
    createdAt: new Date().toISOString(),
    command: ["fsam-lab", "train", ...argv],
    backend: { backend: info.backend, device: info.device },
    runs: [],
  };
  try {
    for (const seed of seeds) {
      const result = await train({
        ...options,
        optimizer,
        seed,
        signal: controller.signal,
        progress: "terminal",
        ...(values["checkpoint-dir"] ? { checkpointDir: join(values["checkpoint-dir"], `seed-${seed}`) } : {}),
      });
      result.model.dispose();
      file.runs.push(runRecord(result, seed));
      const f = result.final;
      console.log(
        `${optimizer}\tseed ${seed}\t${result.metricName} ${f.metric.toFixed(4)}\tbest ${result.best.metric.toFixed(4)} @ step ${result.best.step}` +
          `\tdev loss ${f.loss.toFixed(4)}\ttrain loss ${f.trainLoss.toFixed(4)}\t${result.seconds.toFixed(1)} s${result.interrupted ? "\tINTERRUPTED" : ""}${result.diverged ? `\tDIVERGED at step ${result.diverged.step}` : ""}`,
      );
      if (values.out) writeResults(values.out, file);
      if (result.interrupted) break;
    }
  } catch (err) {
    console.error(`train: ${(err as Error).message}`);
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
  }
  if (values.out) console.error(`fsam-lab train: wrote ${values.out} and ${historyCsvPath(values.out)}`);
  return controller.signal.aborted ? 130 : 0;
}
