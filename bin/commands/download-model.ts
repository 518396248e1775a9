/**
 * `fsam-lab download-model <hf-id | preset> [--cache DIR] [--endpoint URL] [--revision REV] [--force]`:
 * downloads a BERT checkpoint (config.json, model.safetensors or pytorch_model.bin, sharded too, and
 * vocab.txt) from the Hugging Face hub into the local cache, with a progress bar, and prints the
 * local folder.
 */
import { parseCommandFlags } from "../cli-support/parse-flags.ts";
import { bertPresets, isBertPresetName } from "../../lib/models/config.ts";
import { downloadModel } from "../../lib/models/hub.ts";
import type { DownloadProgress } from "../../lib/download.ts";

/** One line for `fsam-lab help`. */
export const summary = "download a BERT checkpoint from the Hugging Face hub into the local cache";

const usage = `usage: fsam-lab download-model <hf-id | preset> [--cache DIR] [--endpoint URL] [--revision REV] [--force]

  <hf-id>          a hub model id, e.g. google/bert_uncased_L-2_H-128_A-2
  <preset>         one of ${Object.keys(bertPresets).join(", ")} (its hub id)
  --cache DIR      folder holding model folders (default $FSAM_LAB_CACHE/models or ~/.cache/fsam-lab/models)
  --endpoint URL   hub address (default $HF_ENDPOINT or https://huggingface.co)
  --revision REV   branch, tag or commit (default main)
  --force          download again even if cached

Prints the local model folder on stdout.`;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/** A progress reporter: a redrawn bar on a terminal, one line per finished file otherwise. */
function progressPrinter(): { update(p: DownloadProgress): void; finish(): void } {
  const tty = process.stderr.isTTY === true;
  let lastFile = "";
  let lastDraw = 0;
  let last: DownloadProgress | undefined;
  const line = (p: DownloadProgress): string => {
    if (p.total === undefined || p.total === 0) return `${p.file} ${formatBytes(p.bytes)}`;
    const fraction = Math.min(1, p.bytes / p.total);
    const width = 30;
    const filled = Math.round(fraction * width);
    return `${p.file.padEnd(18)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(p.bytes)}/${formatBytes(p.total)}`;
  };
  const done = (): void => {
    if (last === undefined) return;
    process.stderr.write(tty ? `\r${line(last)}\n` : `${line(last)}\n`);
  };
  return {
    update(p) {
      if (p.file !== lastFile) {
        done();
        lastFile = p.file;
      }
      last = p;
      const now = Date.now();
      if (tty && now - lastDraw > 100) {
        lastDraw = now;
        process.stderr.write(`\r${line(p)}`);
      }
    },
    finish: done,
  };
}

/** Runs the command; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandFlags("download-model", argv, {
    cache: { type: "string" },
    endpoint: { type: "string" },
    revision: { type: "string" },
    force: { type: "boolean" },
  } as const, usage, true);
  if ("exitCode" in parsed) return parsed.exitCode;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    console.error(`download-model: expected one model id, got ${positionals.length}\n${usage}`);
    return 2;
  }
  const name = positionals[0];
  const hfId = isBertPresetName(name) ? bertPresets[name].hubId : name;
  const progress = progressPrinter();
  try {
    const result = await downloadModel(hfId, {
      cacheDir: values.cache,
      endpoint: values.endpoint,
      revision: values.revision,
      force: values.force,
      onProgress: (p) => progress.update(p),
    });
    progress.finish();
    if (result.cached) console.error(`${hfId}: already in the cache`);
    for (const file of result.absent) console.error(`note: ${hfId} has no ${file}`);
    console.log(result.dir);
    return 0;
  } catch (err) {
    progress.finish();
    console.error(`download-model: ${(err as Error).message}`);
    return 1;
  }
}
