/**
 * Test helpers: a throw-away Jupyter environment (data, config and runtime folders under a temp dir)
 * with the FSAM Lab kernelspec installed by `fsam-lab install --prefix`, running notebooks through
 * Debian's `jupyter nbconvert`, and reading the outputs of an executed notebook.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Debian's Jupyter command. */
export const JUPYTER = "/usr/bin/jupyter";

/** Why notebooks cannot be executed here, or undefined when they can. */
export function jupyterMissing(): string | undefined {
  if (!existsSync(JUPYTER)) return `${JUPYTER} is not installed (apt-get install jupyter-nbconvert jupyter-notebook)`;
  const r = spawnSync(JUPYTER, ["nbconvert", "--version"], { encoding: "utf8" });
  return r.status === 0 ? undefined : `jupyter nbconvert does not run: ${r.stderr}`;
}

/** A temporary Jupyter environment. */
export interface JupyterEnv {
  /** The temp folder holding everything. */
  dir: string;
  /** Environment for Jupyter and the kernel (`FSAM_LAB_SMOKE=1`, Jupyter paths in `dir`). */
  env: NodeJS.ProcessEnv;
  /** Removes the folder. */
  cleanup(): void;
}

/**
 * Creates the temp environment. With `installPrefix` the kernelspec is installed with
 * `fsam-lab install --prefix <dir>/prefix` and that prefix is put on `JUPYTER_PATH`.
 */
export function makeJupyterEnv(options: { installPrefix: boolean }): JupyterEnv {
  const dir = mkdtempSync(join(tmpdir(), "fsam-lab-jupyter-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FSAM_LAB_SMOKE: "1",
    JUPYTER_DATA_DIR: join(dir, "data"),
    JUPYTER_CONFIG_DIR: join(dir, "config"),
    JUPYTER_RUNTIME_DIR: join(dir, "runtime"),
    IPYTHONDIR: join(dir, "ipython"),
    JUPYTER_PLATFORM_DIRS: "0",
  };
  delete env.JUPYTER_PATH;
  if (options.installPrefix) {
    const prefix = join(dir, "prefix");
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "fsam-lab.js"), "install", "--prefix", prefix], { cwd: ROOT, env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`fsam-lab install --prefix failed (${r.status}): ${r.stderr}`);
    env.JUPYTER_PATH = join(prefix, "share", "jupyter");
  }
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a command; resolves with its exit code, output and wall time. */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** One output of an executed notebook (nbformat 4). */
export interface NbOutput {
  /** `stream`, `display_data`, `execute_result` or `error`. */
  output_type: string;
  /** Stream name. */
  name?: string;
  /** Stream text. */
  text?: string | string[];
  /** Mimebundle. */
  data?: Record<string, unknown>;
  /** Error name. */
  ename?: string;
  /** Error value. */
  evalue?: string;
}

/** A cell of an executed notebook. */
export interface NbCell {
  /** `code` or `markdown`. */
  cell_type: string;
  /** Source lines. */
  source: string | string[];
  /** Outputs (code cells). */
  outputs?: NbOutput[];
}

/** Reads a notebook's cells. */
export function readCells(path: string): NbCell[] {
  return (JSON.parse(readFileSync(path, "utf8")) as { cells: NbCell[] }).cells;
}

/** Joins nbformat multi-line strings. */
export function text(value: unknown): string {
  return Array.isArray(value) ? value.join("") : typeof value === "string" ? value : "";
}

/** The Plotly mime type. */
export const PLOTLY = "application/vnd.plotly.v1+json";

/** A Plotly figure from a bundle. */
export interface PlotlyFigure {
  /** Traces. */
  data: Record<string, unknown>[];
  /** Layout. */
  layout: Record<string, unknown>;
}

/** Every Plotly figure in the cells' outputs, in order. */
export function figures(cells: NbCell[]): PlotlyFigure[] {
  return cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.data?.[PLOTLY]).map((o) => o.data![PLOTLY] as PlotlyFigure));
}

/** Every DataFrame table (`text/html` with the kernel's `fsam-frame` table) in the outputs, in order. */
export function tables(cells: NbCell[]): string[] {
  return cells.flatMap((c) => (c.outputs ?? []).map((o) => text(o.data?.["text/html"])).filter((h) => h.includes('class="fsam-frame"')));
}

/** The rows of a kernel DataFrame table as records (cell text keyed by column header). */
export function tableRows(html: string): Record<string, string>[] {
  const cellsOf = (row: string, tag: string) => [...row.matchAll(new RegExp(`<${tag}(?:\\s[^>]*)?>(.*?)</${tag}>`, "g"))].map((m) => m[1]);
  const rows = [...html.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => m[1]);
  const header = cellsOf(rows[0], "th").slice(1);
  return rows.slice(1).map((r) => Object.fromEntries(header.map((h, i) => [h, cellsOf(r, "td")[i]])));
}

/** All Markdown the cells displayed. */
export function markdownOutputs(cells: NbCell[]): string[] {
  return cells.flatMap((c) => (c.outputs ?? []).map((o) => text(o.data?.["text/markdown"])).filter((m) => m !== ""));
}

/** Parses the settings object `S` the first code cell shows (util.inspect text of a flat object). */
export function settingsOf(cells: NbCell[]): Record<string, number | number[]> {
  const first = cells.find((c) => c.cell_type === "code")!;
  const shown = (first.outputs ?? []).find((o) => o.output_type === "execute_result");
  const plain = text(shown?.data?.["text/plain"]);
  const out: Record<string, number | number[]> = {};
  for (const m of plain.matchAll(/(\w+): (\[[^\]]*\]|[-\d.e]+|Infinity)/g)) {
    out[m[1]] = m[2].startsWith("[") ? (JSON.parse(m[2].replace(/\s/g, "")) as number[]) : Number(m[2]);
  }
  return out;
}
