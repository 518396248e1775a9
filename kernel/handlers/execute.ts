/**
 * execute_request: runs a cell (help request, magics, compile, run), shows its value, reports errors,
 * tensors left alive and engine repairs, and keeps the execution count, stop_on_error aborts and the
 * interrupt handshake between cells.
 */
import type { CellRunner, RunResult } from "../cell-runner.ts";
import { cellFileName } from "../cell-runner.ts";
import { currentCell, runInCell, type CellContext } from "../cell-context.ts";
import { parseHelpRequest } from "../help-request.ts";
import type { History } from "../history.ts";
import { clearInterrupt, signalPending } from "../interrupt-state.ts";
import type { LazyCompiler } from "../lazy-compiler.ts";
import type { Log } from "../log.ts";
import { applyMagics } from "../magics.ts";
import type { ModuleLoader } from "../module-loader.ts";
import type { OutputRouter } from "../output-router.ts";
import type { Preloaded } from "../preload.ts";
import { prepareToRender, toMimeBundle, type PlotlyHtml } from "../renderers.ts";
import type { HandlerTable, Request } from "../request-dispatch.ts";
import { cellLeftovers, takeCensus } from "../tensor-census.ts";
import { CompileError, type ErrorReport, type TracebackMapper } from "../traceback.ts";
import type { Header } from "../wire.ts";
import { helpPage } from "./complete-inspect.ts";

/** After an error with stop_on_error, how long the socket is read before queued requests are aborted (ms). */
const ABORT_GRACE_MS = 5;
/** How long the kernel waits for the SIGINT the control thread sent to arrive before it forgets it (ms). */
const SIGNAL_SETTLE_MS = 2000;

/** What running cells needs from the kernel. */
export interface ExecuteServices {
  /** Where output goes. */
  output: OutputRouter;
  /** The cell compiler. */
  compiler: LazyCompiler;
  /** Runs compiled cells. */
  runner: CellRunner;
  /** Resolves imports in cells. */
  loader: ModuleLoader;
  /** Maps error frames to cell lines. */
  traceback: TracebackMapper;
  /** The persistent history. */
  history: History;
  /** The session's Plotly state. */
  plotly: PlotlyHtml;
  /** The interrupt state shared with the control thread. */
  interruptState: Int32Array;
  /** Where diagnostics go. */
  log: Log;
  /** The preloaded modules (available once requests are handled). */
  preloaded(): Preloaded;
}

/** Runs execute requests, one at a time. */
export class Executor {
  readonly #s: ExecuteServices;
  #executionCount = 0;
  #running: CellContext | undefined;
  /** Execute requests handled before this time are aborted (stop_on_error after an error). */
  #abortUntil = 0;

  /** @param services the parts of the kernel cells use. */
  constructor(services: ExecuteServices) {
    this.#s = services;
  }

  /** The execute_request handler. */
  get handlers(): HandlerTable {
    return { execute_request: (req) => this.#execute(req) };
  }

  /** Interrupts the running cell, if any. */
  interrupt(): void {
    if (this.#running) this.#s.runner.interrupt(this.#running);
  }

  async #execute(req: Request): Promise<void> {
    const { msg } = req;
    const { output } = this.#s;
    const c = msg.content;
    const code = typeof c.code === "string" ? c.code : "";
    const silent = c.silent === true;
    const storeHistory = !silent && c.store_history !== false;
    const stopOnError = c.stop_on_error !== false;
    if (req.receivedAt < this.#abortUntil) {
      req.reply({ status: "aborted", execution_count: this.#executionCount });
      return;
    }
    if (storeHistory) this.#executionCount++;
    const count = this.#executionCount;
    if (!silent) output.send("execute_input", { code, execution_count: count }, msg.header);
    const ctx: CellContext = {
      parent: msg.header,
      identities: msg.identities,
      allowStdin: c.allow_stdin === true,
      abort: new AbortController(),
      interrupted: false,
    };
    // An interrupt that came while the kernel was idle must not reach this cell.
    await this.#settleInterrupt();
    this.#running = ctx;
    let resultText: string | null = null;
    let failure: ErrorReport | undefined;
    let payload: Record<string, unknown>[] = [];
    const before = takeCensus(this.#s.preloaded().tf);
    try {
      const value = await runInCell(ctx, (): Promise<RunResult> | RunResult => {
        const help = parseHelpRequest(code);
        if (help !== undefined) {
          payload = helpPage(this.#s.compiler, help);
          return { hasValue: false };
        }
        const source = applyMagics(code, this.#s.compiler);
        return source.trim() === "" ? { hasValue: false } : this.#runSource(source, count);
      });
      if (value.hasValue && !silent) {
        await prepareToRender(value.value);
        const data = await toMimeBundle(value.value, this.#s.plotly);
        resultText = String(data["text/plain"] ?? "");
        output.send("execute_result", { execution_count: count, data, metadata: {} }, msg.header);
      }
    } catch (err) {
      failure = err instanceof CompileError ? err.report : this.#s.traceback.report(err);
    } finally {
      this.#running = undefined;
      // A SIGINT sent for this cell may still be on the way: it must not reach the next one.
      await this.#settleInterrupt();
      this.#repairEngine(msg.header);
    }
    if (!failure) {
      const left = cellLeftovers(before, takeCensus(this.#s.preloaded().tf));
      if (left.variables) output.stream("stdout", left.variables, msg.header);
      if (left.leak) output.stream("stderr", left.leak, msg.header);
    }
    if (storeHistory) this.#s.history.add(count, code, resultText);
    if (failure) {
      output.send("error", { ...failure }, msg.header);
      if (stopOnError) {
        // Requests already sent (queued here or still in the socket buffer) are aborted.
        await new Promise((resolve) => setTimeout(resolve, ABORT_GRACE_MS));
        this.#abortUntil = performance.now();
      }
      req.reply({ status: "error", execution_count: count, ...failure });
      return;
    }
    output.flush();
    const userExpressions = await runInCell(ctx, () => this.#userExpressions(c.user_expressions));
    req.reply({ status: "ok", execution_count: count, payload, user_expressions: userExpressions });
  }

  /** Compiles and runs cell source; warnings go to stderr. */
  async #runSource(source: string, executionCount: number): Promise<RunResult> {
    const compiler = this.#s.compiler.get();
    compiler.notebookDir = process.cwd();
    this.#s.loader.notebookDir = process.cwd();
    const compiled = compiler.compile(source);
    if ("errors" in compiled) {
      const first = compiled.errors[0];
      const syntax = compiled.errors.some((e) => e.code < 2000);
      const lines = compiled.errors.map((e) => `In [${executionCount}] line ${e.line + 1}:${e.character + 1} - ${e.message} (TS${e.code})`);
      throw new CompileError({ ename: syntax ? "SyntaxError" : "TypeError", evalue: first ? first.message : "compilation failed", traceback: lines });
    }
    if (compiled.warnings.length > 0) {
      const text = compiled.warnings.map((w) => `warning: line ${w.line + 1}:${w.character + 1} - ${w.message} (TS${w.code})\n`).join("");
      process.stderr.write(text);
    }
    const jsLines = compiled.js.split("\n").length;
    // Lines past the cell's code belong to the kernel's wrapper: those frames are left out.
    const map = (line: number, column: number) => (line > jsLines ? undefined : compiled.mapPosition(line, column));
    this.#s.traceback.register(cellFileName(this.#s.runner.nextId), { executionCount, map });
    const result = await this.#s.runner.run(compiled, currentCell()!);
    compiler.commit(compiled);
    return result;
  }

  async #userExpressions(expressions: unknown): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    if (typeof expressions !== "object" || expressions === null) return out;
    const compiler = this.#s.compiler.get();
    for (const [name, expr] of Object.entries(expressions as Record<string, unknown>)) {
      try {
        const compiled = compiler.compile(String(expr));
        if ("errors" in compiled) throw new Error(compiled.errors.map((e) => e.message).join("; "));
        const r = await this.#s.runner.run(compiled, currentCell()!);
        if (r.hasValue) await prepareToRender(r.value);
        out[name] = { status: "ok", data: r.hasValue ? await toMimeBundle(r.value, this.#s.plotly) : { "text/plain": "undefined" }, metadata: {} };
      } catch (err) {
        out[name] = { status: "error", ...this.#s.traceback.report(err) };
      }
    }
    return out;
  }

  /**
   * Between cells: drops an interrupt request nobody took up, and waits (at most SIGNAL_SETTLE_MS)
   * for a SIGINT the control thread sent to arrive, so that it cannot interrupt the next cell.
   */
  async #settleInterrupt(): Promise<void> {
    const state = this.#s.interruptState;
    const deadline = performance.now() + SIGNAL_SETTLE_MS;
    while (signalPending(state) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    if (signalPending(state)) this.#s.log("an interrupt's SIGINT did not arrive in time; forgetting it");
    clearInterrupt(state);
  }

  /**
   * After a cell: a signal that stopped tfjs mid-operation leaves its engine half-way (open scopes, the
   * gradient tape on); the library puts it back together and the cell says so on stderr.
   */
  #repairEngine(parent: Partial<Header>): void {
    const engineRepair = this.#s.preloaded().engineRepair;
    if (engineRepair === undefined) return;
    const repair = engineRepair.resetEngineAfterAbort();
    if (repair !== undefined) {
      this.#s.output.stream("stderr", `[fsam-lab] ${engineRepair.describeEngineRepair(repair)}\n`, parent);
    }
  }
}
