/**
 * The embedded default task (`data/default-task/`, see data/README.md): what FSAM Lab trains on
 * when no GLUE data or checkpoint is around.
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { Example } from "../types.ts";
import { loadTask } from "./readers.ts";
import { getTask, type TaskSpec } from "./tasks.ts";
import { BertTokenizer } from "./tokenizer.ts";

/** Folder of the committed default task files. */
export const defaultTaskDir: string = fileURLToPath(new URL("../../data/default-task/", import.meta.url));

/** The default task's data, tokenizer and registry entry. */
export interface DefaultTask {
  /** 512 training examples (8 % label noise). */
  train: Example[];
  /** 2000 clean dev examples. */
  dev: Example[];
  /** WordPiece tokenizer over the task's own vocabulary (`vocab.txt`). */
  tokenizer: BertTokenizer;
  /** The registry entry (`tasks.default`). */
  task: TaskSpec;
}

/** Loads the embedded default task from `dir` (default: the committed `data/default-task`). */
export function loadDefaultTask(dir: string = defaultTaskDir): DefaultTask {
  return {
    train: loadTask("default", dir, "train"),
    dev: loadTask("default", dir, "dev"),
    tokenizer: BertTokenizer.fromVocabFile(join(dir, "vocab.txt")),
    task: getTask("default"),
  };
}
