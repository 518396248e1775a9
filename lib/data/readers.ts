/**
 * Readers that turn task files (GLUE TSVs, SuperGLUE JSONL, Hugging Face exports) into
 * `Example[]`. The file's layout is recognised from its header (or, for headerless GLUE files,
 * from its field count and first label); a file that matches none of the task's layouts is
 * refused, naming the task it looks like when it matches another one. Malformed rows are errors
 * that name the file and line.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Example } from "../types.ts";
import { parseTsv, stripBom, type TsvRecord } from "./tsv.ts";
import { getTask, tasks, type Row, type TaskFormat, type TaskSpec } from "./tasks.ts";

/** Options of {@link loadTask} and {@link readTaskFile}. */
export interface ReadOptions {
  /**
   * What to do with a malformed row (wrong field count, bad label, invalid JSON): `"error"` (the
   * default) throws with file and line; `"skip"` leaves the row out and reports it to `onSkip`.
   */
  malformed?: "error" | "skip";
  /** Called with a `file:line: problem` message for every skipped row. */
  onSkip?: (message: string) => void;
}

/** One parsed row before conversion: named fields plus the line it came from. */
interface SourceRow {
  row: Row;
  line: number;
}

/**
 * Reads the examples of one split of a task. `pathOrDir` may be the file itself, the task's folder
 * (e.g. `glue/RTE`), or a benchmark root holding the task folder (`glue/`, or its parent with
 * `glue/` and `superglue/` inside). `split` is `train`, `dev` (aliases `validation`, `val`),
 * `test`, or a task-specific name such as MNLI's `dev_matched`.
 */
export function loadTask(taskName: string, pathOrDir: string, split = "train", options: ReadOptions = {}): Example[] {
  const task = getTask(taskName);
  return readTaskFile(task, resolveTaskFile(task, pathOrDir, split), options);
}

/** Finds the file holding `split` of `task` under `pathOrDir` (see {@link loadTask}). */
export function resolveTaskFile(task: TaskSpec, pathOrDir: string, split: string): string {
  if (!existsSync(pathOrDir)) throw new Error(`${task.displayName}: ${pathOrDir} does not exist`);
  if (statSync(pathOrDir).isFile()) return pathOrDir;
  const splitKey = ["validation", "val"].includes(split) ? "dev" : split.replace(/^validation_/, "dev_");
  const names = task.splits[splitKey];
  if (!names) throw new Error(`${task.displayName} has no split '${split}'. Splits: ${Object.keys(task.splits).join(", ")}`);
  const benchmarkDirs = task.benchmark === "default" ? ["", "data"] : ["", task.benchmark];
  const folders = [pathOrDir];
  for (const b of benchmarkDirs) for (const d of task.directories) folders.push(join(pathOrDir, b, d));
  for (const folder of folders) {
    for (const name of names) {
      const file = join(folder, name);
      if (existsSync(file) && statSync(file).isFile()) return file;
    }
  }
  throw new Error(
    `${task.displayName}: no ${split} file (${names.join(", ")}) in ${pathOrDir} or its ${task.directories[0]} folder` +
      (task.benchmark === "glue" ? `. Download it with: fsam-lab download-glue ${task.name} --dir ${pathOrDir}` : ""),
  );
}

/** Reads one task file, recognising its layout (see the module comment). */
export function readTaskFile(task: TaskSpec, path: string, options: ReadOptions = {}): Example[] {
  let text: string;
  try {
    text = stripBom(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${task.displayName}: cannot read ${path}: ${(err as Error).message}`);
  }
  const isJsonl = /\.jsonl?$/i.test(path) || /^\s*\{/.test(text);
  const { format, rows } = isJsonl ? jsonlRows(task, text, path, options) : tsvRows(task, text, path, options);
  const examples: Example[] = [];
  for (const source of rows) {
    try {
      examples.push(toExample(task, format, source.row));
    } catch (err) {
      const message = `${path}:${source.line}: ${(err as Error).message}`;
      if (options.malformed === "skip") options.onSkip?.(message);
      else throw new Error(message);
    }
  }
  // A file with no rows (a header line only, or every row skipped as malformed) is a mistake, never
  // an empty split: training or evaluating on nothing would report a metric of nothing.
  if (examples.length === 0) {
    const skipped = rows.length > 0 ? `all ${rows.length} rows were malformed` : `it has ${isJsonl ? "no rows" : "a header line but no rows"}`;
    throw new Error(`${path}: no ${task.displayName} examples: ${skipped}`);
  }
  return examples;
}

/** Converts one named row to an example. */
function toExample(task: TaskSpec, format: TaskFormat, row: Row): Example {
  const texts = format.texts ? format.texts(row) : { textA: field(row, format.textA!), textB: format.textB ? field(row, format.textB) : undefined };
  const example: Example = { textA: texts.textA, label: parseLabel(task, format, row[format.label]) };
  if (texts.textB !== undefined) example.textB = texts.textB;
  if (format.idx !== undefined && row[format.idx] !== undefined) {
    const idx = Number(row[format.idx]);
    if (!Number.isInteger(idx)) throw new Error(`${format.idx} ${JSON.stringify(row[format.idx])} is not an integer`);
    example.idx = idx;
  }
  return example;
}

/** A text field of a row; JSON values must be strings. */
function field(row: Row, key: string): string {
  const value = row[key];
  if (typeof value !== "string") throw new Error(`field '${key}' should be a string, got ${JSON.stringify(value)}`);
  return value;
}

/** Parses a label value according to the format's encoding. */
function parseLabel(task: TaskSpec, format: TaskFormat, value: unknown): number {
  const shown = JSON.stringify(value);
  if (format.labels === "score") {
    const score = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
    if (!Number.isFinite(score)) throw new Error(`label ${shown} is not a number (${task.displayName} is a regression task)`);
    return score;
  }
  const expected = `expected ${format.labels === "names" ? "" : `an id 0..${task.numLabels - 1}${format.labels === "either" ? " or " : ""}`}${format.labels === "ids" ? "" : `one of ${task.labelNames.join(", ")}`}`;
  if (format.labels !== "names") {
    if (typeof value === "boolean" && task.numLabels === 2) return value ? 1 : 0;
    const id = typeof value === "number" ? value : typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (Number.isInteger(id) && id >= 0 && id < task.numLabels) return id;
    if (format.labels === "ids") throw new Error(`label ${shown} is not valid for ${task.displayName}: ${expected}`);
  }
  if (typeof value === "string") {
    const wanted = value.trim().toLowerCase();
    const id = task.labelNames.findIndex((n) => n.toLowerCase() === wanted);
    if (id >= 0) return id;
  }
  throw new Error(`label ${shown} is not valid for ${task.displayName}: ${expected}`);
}

/** True when `names` fits a header format: every required column, nothing unknown, no repeats. */
function headerMatches(format: TaskFormat, names: readonly string[], allowExtra: boolean): boolean {
  if (!format.hasHeader) return false;
  const set = new Set(names);
  if (!allowExtra && set.size !== names.length) return false;
  if (!format.columns.every((c) => set.has(c))) return false;
  if (allowExtra) return true;
  const known = new Set([...format.columns, ...(format.optionalColumns ?? [])]);
  return names.every((n) => known.has(n));
}

/** True when a headerless format fits a first record: field count and a parsable label. */
function headerlessMatches(task: TaskSpec, format: TaskFormat, fields: readonly string[]): boolean {
  if (format.hasHeader || fields.length !== format.columns.length) return false;
  const row = Object.fromEntries(format.columns.map((c, i) => [c, fields[i]]));
  try {
    parseLabel(task, format, row[format.label]);
    return true;
  } catch {
    return false;
  }
}

/** Names of other tasks whose formats fit the file's first record (for "wrong task" messages). */
function lookalikes(task: TaskSpec, first: readonly string[], jsonKeys: boolean): string[] {
  const out = new Set<string>();
  for (const other of Object.values(tasks)) {
    if (other.name === task.name) continue;
    if (other.formats.some((f) => headerMatches(f, first, jsonKeys) || (!jsonKeys && headerlessMatches(other, f, first)))) out.add(other.displayName);
  }
  return [...out];
}

/** The "this is not a <task> file" error. */
function wrongFileError(task: TaskSpec, path: string, what: string, first: readonly string[], jsonKeys: boolean): Error {
  const expected = task.formats.map((f) => `${f.hasHeader ? "columns" : "headerless"} [${f.columns.join(", ")}] (${f.name})`).join("; or ");
  const like = lookalikes(task, first, jsonKeys);
  return new Error(
    `${path} is not a ${task.displayName} file: its ${what} [${first.map((f) => JSON.stringify(f.length > 40 ? f.slice(0, 40) + "…" : f)).join(", ")}]; ` +
      `expected ${expected}` + (like.length > 0 ? `. It looks like a ${like.join(" or ")} file.` : ""),
  );
}

/** Parses a TSV file into named rows, after recognising its format. */
function tsvRows(task: TaskSpec, text: string, path: string, options: ReadOptions): { format: TaskFormat; rows: SourceRow[] } {
  const firstLine = text.slice(0, text.indexOf("\n") >= 0 ? text.indexOf("\n") : text.length).replace(/\r$/, "");
  if (firstLine.trim() === "") throw new Error(`${path}: the file is empty or starts with a blank line; expected a ${task.displayName} file`);
  const firstFields = firstLine.split("\t");
  const header = firstFields.map((f) => f.trim());
  const format = task.formats.find((f) => headerMatches(f, header, false)) ?? task.formats.find((f) => headerlessMatches(task, f, firstFields));
  if (!format) throw wrongFileError(task, path, "first line is", header, false);
  const records: TsvRecord[] = parseTsv(text, format.quoting, path);
  const columns = format.hasHeader ? header : format.columns;
  const rows: SourceRow[] = [];
  for (const record of format.hasHeader ? records.slice(1) : records) {
    if (record.fields.length !== columns.length) {
      const message = `${path}:${record.line}: expected ${columns.length} tab-separated fields (${columns.join(", ")}), found ${record.fields.length}`;
      if (options.malformed === "skip") {
        options.onSkip?.(message);
        continue;
      }
      throw new Error(message);
    }
    rows.push({ row: Object.fromEntries(columns.map((c, i) => [c, record.fields[i]])), line: record.line });
  }
  return { format, rows };
}

/** Parses a JSONL file into rows, after recognising its format from the first object's keys. */
function jsonlRows(task: TaskSpec, text: string, path: string, options: ReadOptions): { format: TaskFormat; rows: SourceRow[] } {
  const rows: SourceRow[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      const message = `${path}:${i + 1}: invalid JSON: ${(err as Error).message}`;
      if (options.malformed === "skip") {
        options.onSkip?.(message);
        continue;
      }
      throw new Error(message);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      const message = `${path}:${i + 1}: expected a JSON object, got ${line.slice(0, 40)}`;
      if (options.malformed === "skip") {
        options.onSkip?.(message);
        continue;
      }
      throw new Error(message);
    }
    rows.push({ row: value as Row, line: i + 1 });
  }
  if (rows.length === 0) throw new Error(`${path}: no JSON rows; expected a ${task.displayName} file`);
  const keys = Object.keys(rows[0]!.row);
  const present = (f: TaskFormat) => [...f.columns, ...(f.optionalColumns ?? []), ...(f.idx ? [f.idx] : [])].filter((c) => keys.includes(c)).length;
  const format = task.formats.filter((f) => headerMatches(f, keys, true)).sort((a, b) => present(b) - present(a))[0];
  if (!format) throw wrongFileError(task, path, "first object has the keys", keys, true);
  const kept: SourceRow[] = [];
  for (const r of rows) {
    const missing = format.columns.filter((c) => !(c in r.row));
    if (missing.length === 0) {
      kept.push(r);
      continue;
    }
    const message = `${path}:${r.line}: missing key(s) ${missing.join(", ")}`;
    if (options.malformed === "skip") options.onSkip?.(message);
    else throw new Error(message);
  }
  return { format, rows: kept };
}
