/**
 * Input history, persisted across kernel restarts in `<jupyter data dir>/fsam-lab/history.jsonl`: one
 * JSON line `{session, line, input, output}` per executed cell. Each kernel start is a new session.
 * Serves the three `history_request` kinds: tail, range and search (glob patterns, `unique`, `n`).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** One stored cell. */
export interface HistoryEntry {
  /** Kernel session number (1, 2, … over the kernel's lifetime on this machine). */
  session: number;
  /** Execution count within the session. */
  line: number;
  /** The cell's code. */
  input: string;
  /** `text/plain` of its result, or null. */
  output: string | null;
}

/** A history_request's content. */
export interface HistoryQuery {
  /** `tail`, `range` or `search`. */
  hist_access_type: string;
  /** Include outputs (entries become `[session, line, [input, output]]`). */
  output?: boolean;
  /** For range: the session (0 or negative: relative to the current one). */
  session?: number;
  /** For range: first line. */
  start?: number;
  /** For range: line after the last. */
  stop?: number;
  /** For tail and search: how many entries (the last ones). */
  n?: number;
  /** For search: glob pattern (`*`, `?`) matched against the whole input. */
  pattern?: string;
  /** For search: only the last occurrence of each input. */
  unique?: boolean;
}

/** Jupyter's data directory: `$JUPYTER_DATA_DIR`, else `~/.local/share/jupyter` (XDG_DATA_HOME honoured). */
export function jupyterDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  const xdg = process.env.XDG_DATA_HOME;
  return join(xdg && xdg !== "" ? xdg : join(homedir(), ".local", "share"), "jupyter");
}

/** Converts a glob pattern (`*`, `?`) to an anchored regular expression. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[\\s\\S]*").replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${body}$`);
}

/** The history store of one kernel process. */
export class History {
  readonly #file: string;
  readonly #entries: HistoryEntry[] = [];
  /** This kernel's session number. */
  readonly session: number;
  #writable = true;
  /** The file ends inside a torn line (a crash mid-write): the next entry starts on a new line. */
  #tornTail = false;

  /** @param file the JSON-lines file (created on first write). */
  constructor(file = join(jupyterDataDir(), "fsam-lab", "history.jsonl")) {
    this.#file = file;
    if (existsSync(file)) {
      const text = readFileSync(file, "utf8");
      this.#tornTail = text !== "" && !text.endsWith("\n");
      for (const line of text.split("\n")) {
        if (line.trim() === "") continue;
        try {
          const e = JSON.parse(line) as HistoryEntry;
          if (Number.isInteger(e.session) && Number.isInteger(e.line) && typeof e.input === "string") this.#entries.push(e);
        } catch {
          // A torn last line (a crash mid-write) is skipped.
        }
      }
    }
    this.session = this.#entries.reduce((m, e) => Math.max(m, e.session), 0) + 1;
  }

  /**
   * Records a cell. Appending one line with O_APPEND is a single write, so concurrent kernels never
   * interleave inside a line; a failed write (read-only data dir) disables persistence quietly.
   */
  add(line: number, input: string, output: string | null): void {
    const e: HistoryEntry = { session: this.session, line, input, output };
    this.#entries.push(e);
    if (!this.#writable) return;
    try {
      mkdirSync(dirname(this.#file), { recursive: true });
      appendFileSync(this.#file, (this.#tornTail ? "\n" : "") + JSON.stringify(e) + "\n", { flag: "a" });
      this.#tornTail = false;
    } catch {
      this.#writable = false;
    }
  }

  /** Answers a history request: `[session, line, input]` or `[session, line, [input, output]]` rows. */
  query(q: HistoryQuery): unknown[][] {
    let rows: HistoryEntry[];
    if (q.hist_access_type === "tail") {
      rows = this.#entries.slice(-Math.max(0, q.n ?? 10));
    } else if (q.hist_access_type === "range") {
      const s = q.session ?? 0;
      const session = s <= 0 ? this.session + s : s;
      const start = q.start ?? 1;
      const stop = q.stop ?? Infinity;
      rows = this.#entries.filter((e) => e.session === session && e.line >= start && e.line < stop);
    } else if (q.hist_access_type === "search") {
      const re = globToRegExp(q.pattern ?? "*");
      rows = this.#entries.filter((e) => re.test(e.input));
      if (q.unique) {
        const seen = new Set<string>();
        rows = rows.reverse().filter((e) => !seen.has(e.input) && seen.add(e.input) !== undefined).reverse();
      }
      if (q.n !== undefined && q.n !== null) rows = rows.slice(-q.n);
    } else {
      throw new Error(`hist_access_type must be tail, range or search, got ${JSON.stringify(q.hist_access_type)}`);
    }
    return rows.map((e) => [e.session, e.line, q.output ? [e.input, e.output] : e.input]);
  }
}
