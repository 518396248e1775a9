/**
 * Downloads the official GLUE and SuperGLUE task files (the archives at dl.fbaipublicfiles.com
 * that `download_glue_data.py` and the SuperGLUE site use) into `<dir>/glue/<Task>/` and
 * `<dir>/superglue/<Task>/`, where {@link loadTask} finds them. Archives come through the lab's
 * resumable downloader (lib/download.ts: a `.part` file continued after an interruption, retries,
 * slow-server notices); extracted files are written atomically; a task whose train file is already
 * there is skipped unless `force` is set.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, normalize } from "node:path";
import { writeFileAtomic } from "../atomic-write.ts";
import { downloadFile, type TransferOptions } from "../download.ts";
import { resolveTaskFile } from "./readers.ts";
import { getTask, tasks, type TaskSpec } from "./tasks.ts";
import { readZip } from "./zip.ts";

/** The default download host (the one the GLUE and SuperGLUE scripts use). */
export const GLUE_ENDPOINT = "https://dl.fbaipublicfiles.com";

/** Options of {@link downloadGlue}; the waiting, retry and notice settings are {@link TransferOptions}. */
export interface DownloadGlueOptions extends TransferOptions {
  /** Root folder; files go to `<dir>/glue/<Task>/` and `<dir>/superglue/<Task>/`. Default `glue_data`. */
  dir?: string;
  /** Base URL replacing {@link GLUE_ENDPOINT} (a mirror, or a local test server). */
  endpoint?: string;
  /** Download again even when the task's files are present. */
  force?: boolean;
  /** Progress of each file: bytes received so far and the total when the server says it. */
  onProgress?: (event: { task: string; url: string; received: number; total?: number }) => void;
}

/** What {@link downloadGlue} did for one task. */
export interface GlueDownloadResult {
  /** Registry name of the task. */
  task: string;
  /** Folder holding the task's files. */
  dir: string;
  /** Files written (empty when skipped). */
  files: string[];
  /** True when the files were already there. */
  skipped: boolean;
}

/** Where a task's files come from. */
type Source =
  | { kind: "zip"; path: string; folder: string; benchmark: "glue" | "superglue" }
  | { kind: "mrpc" };

const sources: Record<string, Source> = {
  cola: { kind: "zip", path: "/glue/data/CoLA.zip", folder: "CoLA", benchmark: "glue" },
  sst2: { kind: "zip", path: "/glue/data/SST-2.zip", folder: "SST-2", benchmark: "glue" },
  mrpc: { kind: "mrpc" },
  stsb: { kind: "zip", path: "/glue/data/STS-B.zip", folder: "STS-B", benchmark: "glue" },
  qqp: { kind: "zip", path: "/glue/data/QQP-clean.zip", folder: "QQP", benchmark: "glue" },
  mnli: { kind: "zip", path: "/glue/data/MNLI.zip", folder: "MNLI", benchmark: "glue" },
  qnli: { kind: "zip", path: "/glue/data/QNLIv2.zip", folder: "QNLI", benchmark: "glue" },
  rte: { kind: "zip", path: "/glue/data/RTE.zip", folder: "RTE", benchmark: "glue" },
  wnli: { kind: "zip", path: "/glue/data/WNLI.zip", folder: "WNLI", benchmark: "glue" },
  boolq: { kind: "zip", path: "/glue/superglue/data/v2/BoolQ.zip", folder: "BoolQ", benchmark: "superglue" },
  cb: { kind: "zip", path: "/glue/superglue/data/v2/CB.zip", folder: "CB", benchmark: "superglue" },
  copa: { kind: "zip", path: "/glue/superglue/data/v2/COPA.zip", folder: "COPA", benchmark: "superglue" },
  "superglue-rte": { kind: "zip", path: "/glue/superglue/data/v2/RTE.zip", folder: "RTE", benchmark: "superglue" },
  wic: { kind: "zip", path: "/glue/superglue/data/v2/WiC.zip", folder: "WiC", benchmark: "superglue" },
};

/** MRPC comes as the SentEval files plus the GLUE dev-id list, split here as download_glue_data.py does. */
const MRPC_TRAIN = "/senteval/senteval_data/msr_paraphrase_train.txt";
const MRPC_DEV_IDS = "/glue/data/mrpc_dev_ids.tsv";

/**
 * Expands task names: registry names and aliases, `mnli-m`/`mnli-mm` (→ `mnli`), and the groups
 * `glue`, `superglue` and `all`.
 */
export function downloadableTasks(names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of names) {
    const name = raw.toLowerCase();
    const group = Object.keys(sources).filter((t) => (name === "all" ? true : name === "glue" || name === "superglue" ? tasks[t]!.benchmark === name : false));
    if (group.length > 0) group.forEach((t) => out.add(t));
    else {
      const task = getTask(raw).name.replace(/^mnli-m+$/, "mnli");
      if (!sources[task]) throw new Error(`download-glue: task '${raw}' has nothing to download`);
      out.add(task);
    }
  }
  return [...out];
}

/** Downloads the files of `taskNames` (see the module comment). */
export async function downloadGlue(taskNames: readonly string[], options: DownloadGlueOptions = {}): Promise<GlueDownloadResult[]> {
  const dir = options.dir ?? "glue_data";
  const endpoint = (options.endpoint ?? GLUE_ENDPOINT).replace(/\/+$/, "");
  const results: GlueDownloadResult[] = [];
  for (const name of downloadableTasks(taskNames)) {
    const task = getTask(name);
    const source = sources[name]!;
    const benchmark = source.kind === "mrpc" ? "glue" : source.benchmark;
    const taskDir = join(dir, benchmark, source.kind === "mrpc" ? "MRPC" : source.folder);
    if (!options.force && hasTrainFile(task, taskDir)) {
      results.push({ task: name, dir: taskDir, files: [], skipped: true });
      continue;
    }
    const fetchFile = (path: string) => fetchToFile(`${endpoint}${path}`, join(dir, ".downloads", path.split("/").pop()!), name, options);
    let files: string[];
    if (source.kind === "zip") {
      const archive = await fetchFile(source.path);
      files = extractTaskFolder(archive, source.folder, join(dir, benchmark));
      rmSync(archive, { force: true });
    } else {
      const trainFile = await fetchFile(MRPC_TRAIN);
      const idsFile = await fetchFile(MRPC_DEV_IDS);
      files = splitMrpc(trainFile, idsFile, taskDir);
      rmSync(trainFile, { force: true });
      rmSync(idsFile, { force: true });
    }
    results.push({ task: name, dir: taskDir, files, skipped: false });
  }
  return results;
}

/** True when the task's train file is already in `taskDir`. */
function hasTrainFile(task: TaskSpec, taskDir: string): boolean {
  try {
    return existsSync(taskDir) && existsSync(resolveTaskFile(task, taskDir, "train"));
  } catch {
    return false;
  }
}

/** Fetches `url` into `dest` with the shared downloader; network failures get an "offline?" hint. */
async function fetchToFile(url: string, dest: string, task: string, options: DownloadGlueOptions): Promise<string> {
  await downloadFile(url, dest, {
    ...options,
    file: url.split("/").pop()!,
    hint: `are you offline? Without a network, copy the task files by hand into ${options.dir ?? "glue_data"}/glue/<Task>/ or superglue/<Task>/`,
    onProgress: options.onProgress && (({ bytes, total }) => options.onProgress!({ task, url, received: bytes, total })),
  });
  return dest;
}

/** Writes the archive's `<folder>/…` files under `root` (atomically); other entries are ignored. */
function extractTaskFolder(archive: string, folder: string, root: string): string[] {
  const written: string[] = [];
  for (const entry of readZip(readFileSync(archive), archive)) {
    if (!entry.name.startsWith(`${folder}/`)) continue;
    const rel = normalize(entry.name);
    if (rel.startsWith("..") || rel.startsWith("/")) throw new Error(`${archive}: unsafe path ${entry.name}`);
    const target = join(root, rel);
    writeFileAtomic(target, entry.read());
    written.push(target);
  }
  if (written.length === 0) throw new Error(`${archive}: no files under ${folder}/ in the archive`);
  return written;
}

/** Splits the SentEval MRPC train file into GLUE train.tsv/dev.tsv by the dev id pairs. */
function splitMrpc(trainFile: string, idsFile: string, taskDir: string): string[] {
  const devIds = new Set(
    readFileSync(idsFile, "utf8").split("\n").map((l) => l.replace(/\r$/, "").split("\t")).filter((f) => f.length >= 2).map((f) => `${f[0]}\t${f[1]}`),
  );
  const lines = readFileSync(trainFile, "utf8").replace(/^\uFEFF/, "").split("\n").map((l) => l.replace(/\r$/, ""));
  const header = lines[0]!;
  if (!header.startsWith("Quality\t#1 ID\t#2 ID")) throw new Error(`${trainFile}: unexpected MRPC header ${JSON.stringify(header.slice(0, 60))}`);
  const train = [header];
  const dev = [header];
  lines.slice(1).forEach((line, i) => {
    if (line === "") return;
    const f = line.split("\t");
    if (f.length !== 5) throw new Error(`${trainFile}:${i + 2}: expected 5 tab-separated fields, found ${f.length}`);
    (devIds.has(`${f[1]}\t${f[2]}`) ? dev : train).push(line);
  });
  const files = [join(taskDir, "train.tsv"), join(taskDir, "dev.tsv")];
  writeFileAtomic(files[0]!, train.join("\n") + "\n");
  writeFileAtomic(files[1]!, dev.join("\n") + "\n");
  return files;
}
