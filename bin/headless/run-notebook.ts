/**
 * Runs a notebook's code cells in order on the FSAM Lab kernel through {@link KernelClient} and
 * collects their outputs the way a notebook frontend does: streams are merged, `update_display_data`
 * replaces every output shown under its display id, `clear_output` (with `wait`) clears the cell.
 * Stops at the first error, like *Run All*.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Message } from "../../kernel/wire.ts";
import { KernelClient } from "./kernel-client.ts";

/** One output, in nbformat 4 shape. */
export type CellOutput =
  | { output_type: "stream"; name: string; text: string }
  | { output_type: "display_data"; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: "execute_result"; data: Record<string, unknown>; metadata: Record<string, unknown>; execution_count: number | null }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

/** A notebook cell after the run. */
export interface RunCell {
  /** `code` or `markdown` (raw cells are kept as markdown-less text). */
  cellType: string;
  /** The cell's source. */
  source: string;
  /** Outputs (code cells that ran). */
  outputs: CellOutput[];
  /** True when the cell did not run because an earlier cell failed. */
  skipped: boolean;
}

/** The result of {@link runNotebook}. */
export interface NotebookRun {
  /** The notebook's cells with their outputs. */
  cells: RunCell[];
  /** The first error, when a cell failed. */
  error?: { cell: number; ename: string; evalue: string };
  /** Wall-clock seconds of the whole run (kernel start included). */
  seconds: number;
}

/** Options of {@link runNotebook}. */
export interface RunNotebookOptions {
  /** Environment of the kernel (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Called with a one-line description of each output as it arrives (e.g. to show progress). */
  onOutput?: (cellIndex: number, text: string) => void;
}

/** The source of a notebook cell as one string (nbformat allows a list of lines). */
function sourceText(source: unknown): string {
  return Array.isArray(source) ? source.join("") : String(source ?? "");
}

/** Reads and checks an nbformat 4 notebook file. */
export function readNotebook(path: string): { cells: { cell_type: string; source: string }[] } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: not a readable notebook (${(err as Error).message})`);
  }
  const nb = json as { nbformat?: number; cells?: unknown };
  if (nb.nbformat !== 4 || !Array.isArray(nb.cells)) throw new Error(`${path}: not an nbformat 4 notebook (nbformat ${nb.nbformat})`);
  return { cells: (nb.cells as { cell_type: string; source: unknown }[]).map((c) => ({ cell_type: c.cell_type, source: sourceText(c.source) })) };
}

/** Plain text of a mimebundle, for the terminal. */
function plainText(data: Record<string, unknown>): string {
  const t = data["text/plain"];
  return Array.isArray(t) ? t.join("") : typeof t === "string" ? t : Object.keys(data).join(", ");
}

/** Applies one IOPub message to the outputs of the running cell (and of earlier cells, for updates). */
class OutputCollector {
  /** Outputs shown under each display id, wherever they are. */
  readonly #byDisplayId = new Map<string, { output: CellOutput & { data: Record<string, unknown> } }[]>();
  #clearPending = false;

  apply(outputs: CellOutput[], msg: Message): string | undefined {
    const c = msg.content as Record<string, unknown>;
    const type = msg.header.msg_type;
    const displayId = (c.transient as { display_id?: string } | undefined)?.display_id;
    if (type === "clear_output") {
      if (c.wait) this.#clearPending = true;
      else outputs.length = 0;
      return undefined;
    }
    if (type === "update_display_data") {
      for (const ref of this.#byDisplayId.get(displayId ?? "") ?? []) {
        ref.output.data = c.data as Record<string, unknown>;
      }
      return `(update) ${plainText(c.data as Record<string, unknown>)}`;
    }
    if (!["stream", "display_data", "execute_result", "error"].includes(type)) return undefined;
    if (this.#clearPending) {
      outputs.length = 0;
      this.#clearPending = false;
    }
    if (type === "stream") {
      const last = outputs[outputs.length - 1];
      if (last && last.output_type === "stream" && last.name === c.name) last.text += String(c.text);
      else outputs.push({ output_type: "stream", name: String(c.name), text: String(c.text) });
      return String(c.text).replace(/\n$/, "");
    }
    if (type === "error") {
      outputs.push({ output_type: "error", ename: String(c.ename), evalue: String(c.evalue), traceback: (c.traceback as string[]) ?? [] });
      return `${c.ename}: ${c.evalue}`;
    }
    const data = c.data as Record<string, unknown>;
    const metadata = (c.metadata as Record<string, unknown>) ?? {};
    const output: CellOutput & { data: Record<string, unknown> } =
      type === "execute_result"
        ? { output_type: "execute_result", data, metadata, execution_count: (c.execution_count as number) ?? null }
        : { output_type: "display_data", data, metadata };
    outputs.push(output);
    if (displayId) {
      const list = this.#byDisplayId.get(displayId) ?? [];
      list.push({ output });
      this.#byDisplayId.set(displayId, list);
    }
    return plainText(data);
  }
}

/** Runs every code cell of the notebook at `path` on a fresh FSAM Lab kernel started in its folder. */
export async function runNotebook(path: string, options: RunNotebookOptions = {}): Promise<NotebookRun> {
  const started = performance.now();
  const nb = readNotebook(path);
  const cells: RunCell[] = nb.cells.map((c) => ({ cellType: c.cell_type, source: c.source, outputs: [], skipped: false }));
  const kernel = await KernelClient.start({ cwd: dirname(resolve(path)), ...(options.env ? { env: options.env } : {}) });
  const collector = new OutputCollector();
  let error: NotebookRun["error"];
  try {
    for (const [index, cell] of cells.entries()) {
      if (cell.cellType !== "code" || cell.source.trim() === "") continue;
      if (error) {
        cell.skipped = true;
        continue;
      }
      const { reply } = await kernel.execute(cell.source, (msg) => {
        const text = collector.apply(cell.outputs, msg);
        if (text !== undefined) options.onOutput?.(index, text);
      });
      if (reply.status !== "ok") {
        error = { cell: index, ename: String(reply.ename ?? "Error"), evalue: String(reply.evalue ?? reply.status) };
      }
    }
  } finally {
    await kernel.close();
  }
  return { cells, ...(error ? { error } : {}), seconds: (performance.now() - started) / 1000 };
}
