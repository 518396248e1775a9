/**
 * `fsam-lab generate-default-task [--seed N] [--train N] [--dev N] [--noise P] [--out DIR]`:
 * regenerates the embedded default task files (defaults reproduce the committed ones).
 */
import { DEFAULT_TASK_OPTIONS, writeDefaultTask } from "../../lib/data/default-task-generator.ts";
import { defaultTaskDir } from "../../lib/data/default-task.ts";

/** One line for `fsam-lab help`. */
export const summary = "regenerate the embedded default task (data/default-task) from its seed";

/** Parses the options and writes the files; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const options = { ...DEFAULT_TASK_OPTIONS };
  let out = defaultTaskDir;
  const numeric: Record<string, keyof typeof options> = { "--seed": "seed", "--train": "trainSize", "--dev": "devSize", "--noise": "labelNoise" };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (flag === "--help" || flag === "-h") {
      console.log("usage: fsam-lab generate-default-task [--seed N] [--train N] [--dev N] [--noise P] [--out DIR]");
      return 0;
    }
    if (value === undefined) {
      console.error(`generate-default-task: ${flag} needs a value`);
      return 2;
    }
    if (flag === "--out") out = value;
    else if (numeric[flag]) {
      const n = Number(value);
      if (!Number.isFinite(n)) {
        console.error(`generate-default-task: ${flag} must be a number, got '${value}'`);
        return 2;
      }
      options[numeric[flag]] = n;
    } else {
      console.error(`generate-default-task: unknown option '${flag}'`);
      return 2;
    }
    i++;
  }
  const task = writeDefaultTask(out, options);
  console.log(`wrote ${task.train.length} train and ${task.dev.length} dev examples and a ${task.vocab.length}-token vocab to ${out}`);
  return 0;
}
