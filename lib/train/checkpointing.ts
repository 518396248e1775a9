/**
 * Best-checkpoint saving. The whole checkpoint folder is replaced atomically: the model is written
 * into a fresh sibling folder, which is then renamed into place, so the folder always holds one
 * complete checkpoint (the previous best until the new one is complete).
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { SequenceModel } from "../types.ts";
import { saveCheckpoint } from "../models/checkpoint.ts";
import { BertForSequenceClassification } from "../models/classifier.ts";
import { escapeRegExp, removeStaleTemps, restoreSwappedFolder } from "../stale-temp.ts";

/** Writes a model's files into a folder (which exists and is empty). */
export type ModelSaver = (model: SequenceModel, dir: string) => Promise<void>;

/** What {@link saveBestCheckpoint} writes besides the model. */
export interface BestCheckpointOptions {
  /** Written as `trainer_state.json` (step, metric, task, optimizer, seed, …). */
  state: Record<string, unknown>;
  /** Vocabulary saved as `vocab.txt` with a BERT model (tokens in id order). */
  vocab?: readonly string[];
  /** Saver for models that are not BERT classifiers. Default: lib/models `saveCheckpoint`. */
  saveModel?: ModelSaver;
}

let counter = 0;

/**
 * Saves `model` as the checkpoint in `dir`, replacing what was there only once the new checkpoint
 * is complete: files go to `dir.tmp-*`, the old folder is moved aside, the new one renamed into
 * place, the old one removed. `trainer_state.json` records `state`.
 */
export async function saveBestCheckpoint(model: SequenceModel, dir: string, options: BestCheckpointOptions): Promise<void> {
  const target = resolve(dir);
  await mkdir(dirname(target), { recursive: true });
  // A save killed earlier: its swap is undone when it left no checkpoint, its leftovers removed.
  const base = basename(target);
  if (!existsSync(target)) restoreSwappedFolder(dirname(target), base, target);
  removeStaleTemps(dirname(target), new RegExp(`^\\.${escapeRegExp(base)}\\.(?:tmp|old)-(\\d+)-`));
  const tag = `${process.pid}-${Date.now()}-${++counter}`;
  const temp = join(dirname(target), `.${basename(target)}.tmp-${tag}`);
  const old = join(dirname(target), `.${basename(target)}.old-${tag}`);
  await mkdir(temp);
  try {
    if (options.saveModel) {
      await options.saveModel(model, temp);
    } else if (BertForSequenceClassification.prototype.isPrototypeOf(model)) {
      await saveCheckpoint(model as BertForSequenceClassification, temp, options.vocab ? { vocab: options.vocab } : {});
    } else {
      throw new Error("checkpointDir: the model is not a BERT classifier; pass saveModel to save it");
    }
    await writeFile(join(temp, "trainer_state.json"), `${JSON.stringify(options.state, null, 2)}\n`);
    const hadOld = existsSync(target);
    if (hadOld) await rename(target, old);
    await rename(temp, target);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}
