/**
 * Error reports for Jupyter: `ename`, `evalue` and a traceback whose frames in cell code name the cell
 * (`In [3]`) and its line and column (through the compiler's source maps). Frames inside the kernel
 * and node internals are left out.
 */
import { inspect } from "node:util";
import { KERNEL_DIR } from "./compiler.ts";

/** The error fields of Jupyter error outputs and replies. */
export interface ErrorReport {
  /** Error class name. */
  ename: string;
  /** Error message. */
  evalue: string;
  /** Lines of the traceback. */
  traceback: string[];
}

/** What the traceback needs to know about a cell's code. */
interface CellCode {
  /** Execution count shown as `In [n]`. */
  executionCount: number;
  /** Maps generated line (1-based) and column (0-based) to the cell; undefined for wrapper code. */
  map(line: number, column: number): { line: number; column: number } | undefined;
}

/** Cells by the file name of their compiled code. */
export class TracebackMapper {
  readonly #cells = new Map<string, CellCode>();

  /** Registers the code of a cell under its file name. */
  register(fileName: string, cell: CellCode): void {
    this.#cells.set(fileName, cell);
  }

  /** Rewrites one stack line, or returns undefined to drop it. */
  #frame(line: string): string | undefined {
    const m = /^(\s*at (?:.*? \()?)([^()\s]+):(\d+):(\d+)(\)?)$/.exec(line);
    if (!m) return line;
    const [, head, file, l, c, tail] = m;
    const cell = this.#cells.get(file);
    if (cell) {
      const pos = cell.map(Number(l), Number(c) - 1);
      return pos ? `${head}In [${cell.executionCount}] line ${pos.line}:${pos.column + 1}${tail}` : undefined;
    }
    if (file.startsWith("node:") || file.startsWith(KERNEL_DIR) || file.startsWith("file://" + KERNEL_DIR)) return undefined;
    return line;
  }

  /** The report for anything thrown. */
  report(err: unknown): ErrorReport {
    if (!(err instanceof Error)) {
      return { ename: "Error", evalue: `uncaught ${inspect(err)}`, traceback: [`Uncaught ${inspect(err)}`] };
    }
    const ename = err.name || err.constructor?.name || "Error";
    const evalue = err.message;
    const all = (err.stack ?? `${ename}: ${evalue}`).split("\n");
    // node puts the source line and a caret before errors thrown by vm scripts: skip to the message.
    const start = all.findIndex((l) => l.startsWith(ename));
    const lines = start > 0 ? all.slice(start) : all;
    const firstFrame = lines.findIndex((l) => /^\s*at /.test(l));
    const head = firstFrame < 0 ? lines : lines.slice(0, firstFrame);
    const frames = firstFrame < 0 ? [] : lines.slice(firstFrame).map((l) => this.#frame(l)).filter((l): l is string => l !== undefined);
    return { ename, evalue, traceback: [...head, ...frames] };
  }
}

/** A failure found before the cell ran (a syntax or type error, a bad magic), already in report form. */
export class CompileError extends Error {
  /** The report to show. */
  readonly report: ErrorReport;

  /** @param report what the cell's error output says. */
  constructor(report: ErrorReport) {
    super(report.evalue);
    this.report = report;
  }
}
