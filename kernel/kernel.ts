/**
 * The FSAM Lab Jupyter kernel: protocol 5.3 on ZeroMQ. Shell, iopub and stdin live on the main thread;
 * heartbeat and control on a second thread (`control-worker.ts`) so that they answer while a cell runs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROTOCOL_VERSION, type ConnectionInfo, type Header, type Message } from "./wire.ts";
import { Transport, type RequestChannel } from "./transport.ts";
import { CellCompiler, PACKAGE_ROOT, type TypecheckMode } from "./compiler.ts";
import { CellRunner, cellFileName, type RunResult } from "./cell-runner.ts";
import { ModuleLoader } from "./module-loader.ts";
import { KeyboardInterrupt, currentCell, currentOrLatestCell, runInCell, type CellContext } from "./cell-context.ts";
import { OutputRouter } from "./output-router.ts";
import { PlotlyHtml, prepareToRender, toMimeBundle } from "./renderers.ts";
import { cellLeftovers, takeCensus } from "./tensor-census.ts";
import { preload, type Preloaded } from "./preload.ts";
import type { Log } from "./log.ts";
import { History } from "./history.ts";
import { CommRegistry } from "./comms.ts";
import { isComplete } from "./is-complete.ts";
import { parseHelpRequest } from "./help-request.ts";
import { TracebackMapper, type ErrorReport } from "./traceback.ts";
import { clearInterrupt, createInterruptState, signalArrived, signalPending, takeRequest } from "./interrupt-state.ts";
import { codePointsToUtf16, utf16ToCodePoints } from "./code-points.ts";
import { installExitGuard } from "./exit-guard.ts";

/** Version of the package, for the banner. */
const VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;

/** After an error with stop_on_error, how long the socket is read before queued requests are aborted (ms). */
const ABORT_GRACE_MS = 5;

/** Delay after start-up before the TypeScript program is built in the background (ms). */
const COMPILER_WARMUP_DELAY_MS = 1500;
/** How long the kernel waits for the SIGINT the control thread sent to arrive before it forgets it (ms). */
const SIGNAL_SETTLE_MS = 2000;

/** One running kernel. */
export class Kernel {
  readonly #transport: Transport;
  readonly #interruptState = createInterruptState();
  readonly #log: Log;
  readonly #output: OutputRouter;
  readonly #plotly = new PlotlyHtml();
  readonly #history = new History();
  readonly #comms: CommRegistry;
  readonly #traceback = new TracebackMapper();
  readonly #loader = new ModuleLoader(process.cwd(), PACKAGE_ROOT);
  readonly #runner = new CellRunner(this.#loader, this.#interruptState);
  #compiler: CellCompiler | undefined;
  #preloaded: Preloaded | undefined;
  /** Settles once preloading is done: requests wait for it. */
  readonly #ready: Promise<void>;
  #setReady!: () => void;
  #executionCount = 0;
  #running: CellContext | undefined;
  /** Execute requests handled before this time are aborted (stop_on_error after an error). */
  #abortUntil = 0;
  readonly #queue: { msg: Message; receivedAt: number; channel: RequestChannel }[] = [];
  #processing = false;
  #pendingInput: { resolve(s: string): void; reject(e: Error): void } | undefined;
  #closing: Promise<void> | undefined;
  /** Errors already reported by `#uncaught`. */
  readonly #reportedUncaught = new WeakSet<object>();

  /**
   * @param info the parsed connection file.
   * @param log where kernel diagnostics go.
   */
  constructor(info: ConnectionInfo, log: Log) {
    this.#log = log;
    this.#ready = new Promise<void>((resolve) => {
      this.#setReady = resolve;
    });
    this.#transport = new Transport(info, log);
    this.#output = new OutputRouter((msgType, content, parent, buffers) => this.#transport.publish(msgType, content, parent, buffers));
    this.#comms = new CommRegistry((msgType, content, buffers) => {
      const cell = currentOrLatestCell();
      this.#output.send(msgType, content, cell?.parent ?? {}, buffers);
    });
  }

  /** Binds every socket, starts the control thread and begins serving. */
  async start(): Promise<void> {
    await this.#transport.start(this.#interruptState, {
      request: (msg, channel) => this.#receive(msg, channel),
      stdin: (msg) => this.#inputReply(msg),
      interrupted: (parent) => {
        if (takeRequest(this.#interruptState) && this.#running) this.#runner.interrupt(this.#running);
        this.#status("busy", parent);
        this.#status("idle", parent);
      },
    });
    this.#status("starting", {});
    process.on("SIGINT", () => this.#onSignal());
    // The kernel owns fatal-error policy. Other code's `uncaughtException` listeners never run (the
    // capture callback replaces the event), and an error thrown from another `unhandledRejection`
    // listener lands in the capture callback too: the Emscripten glue of tfjs-backend-wasm rethrows
    // from both, which would otherwise end the process (and abort it, the control thread's zeromq
    // sockets being torn down while open) on the first unhandled rejection in a cell.
    process.setUncaughtExceptionCaptureCallback((err) => this.#uncaught(err));
    process.on("unhandledRejection", (err) => this.#uncaught(err));
    // process.exit() in a cell would abort node with open sockets: it throws there instead.
    installExitGuard(() => currentCell() !== undefined);
    this.#preloaded = await preload({
      log: this.#log,
      loader: this.#loader,
      output: this.#output,
      plotly: this.#plotly,
      comms: this.#comms,
      input: (prompt, password) => this.#input(prompt, password),
    });
    this.#setReady();
    this.#output.captureStdio();
    // Build the compiler (a blocking second or more) once the client's start-up handshake is over,
    // before the first cell needs it; a cell arriving earlier builds it itself.
    setTimeout(() => {
      if (!this.#processing) this.#getCompiler();
    }, COMPILER_WARMUP_DELAY_MS);
  }

  /** The compiler, built on first use (it takes a moment). */
  #getCompiler(): CellCompiler {
    if (!this.#compiler) {
      const t0 = performance.now();
      this.#compiler = new CellCompiler(process.cwd());
      this.#log(`compiler ready in ${Math.round(performance.now() - t0)} ms`);
    }
    return this.#compiler;
  }

  // --- sockets ---------------------------------------------------------------------------------

  #status(state: "starting" | "busy" | "idle", parent: Partial<Header>): void {
    this.#output.send("status", { execution_state: state }, parent);
  }

  #reply(req: Message, channel: RequestChannel, msgType: string, content: Record<string, unknown>): void {
    this.#transport.reply(req, channel, msgType, content);
  }

  /** Queues a shell request; control requests do not wait behind running cells. */
  #receive(msg: Message, channel: RequestChannel): void {
    if (channel === "control") {
      // Control requests do not wait behind running cells.
      void this.#ready.then(() => this.#dispatch(msg, channel, performance.now()));
      return;
    }
    this.#queue.push({ msg, receivedAt: performance.now(), channel });
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#processing) return;
    this.#processing = true;
    try {
      await this.#ready;
      while (this.#queue.length > 0) {
        const item = this.#queue.shift()!;
        await this.#dispatch(item.msg, item.channel, item.receivedAt);
      }
    } finally {
      this.#processing = false;
    }
  }

  async #dispatch(msg: Message, channel: RequestChannel, receivedAt: number): Promise<void> {
    const type = msg.header.msg_type;
    this.#status("busy", msg.header);
    try {
      switch (type) {
        case "kernel_info_request":
          this.#reply(msg, channel, "kernel_info_reply", this.#kernelInfo());
          break;
        case "execute_request":
          await this.#execute(msg, channel, receivedAt);
          break;
        case "complete_request":
          this.#reply(msg, channel, "complete_reply", this.#complete(msg.content));
          break;
        case "inspect_request":
          this.#reply(msg, channel, "inspect_reply", this.#inspect(msg.content));
          break;
        case "is_complete_request":
          this.#reply(msg, channel, "is_complete_reply", { ...isComplete(String(msg.content.code ?? "")) });
          break;
        case "history_request":
          this.#reply(msg, channel, "history_reply", { status: "ok", history: this.#history.query(msg.content as never) });
          break;
        case "comm_info_request":
          this.#reply(msg, channel, "comm_info_reply", { status: "ok", comms: this.#comms.info(msg.content.target_name as string | undefined) });
          break;
        case "comm_open":
          runInCell(this.#commContext(msg), () => {
            if (!this.#comms.handleOpen(String(msg.content.comm_id), String(msg.content.target_name), msg.content.data)) {
              this.#output.send("comm_close", { comm_id: msg.content.comm_id, data: {} }, msg.header);
            }
          });
          break;
        case "comm_msg":
          runInCell(this.#commContext(msg), () => this.#comms.handleMessage(String(msg.content.comm_id), msg.content.data, msg.buffers));
          break;
        case "comm_close":
          runInCell(this.#commContext(msg), () => this.#comms.handleClose(String(msg.content.comm_id), msg.content.data));
          break;
        case "shutdown_request":
          this.#reply(msg, channel, "shutdown_reply", { status: "ok", restart: msg.content.restart === true });
          this.#status("idle", msg.header);
          setTimeout(() => void this.close().then(() => process.exit(0)), 50);
          return;
        case "interrupt_request":
          // Sent on shell (the control thread answers the control channel's): no signal involved.
          if (this.#running) this.#runner.interrupt(this.#running);
          this.#reply(msg, channel, "interrupt_reply", { status: "ok" });
          break;
        default: {
          this.#log(`${channel}: unknown message type '${type}'`);
          if (type.endsWith("_request")) {
            const evalue = `unknown message type '${type}'`;
            this.#reply(msg, channel, type.replace(/_request$/, "_reply"), { status: "error", ename: "UnknownMessageType", evalue, traceback: [evalue] });
          }
        }
      }
    } catch (err) {
      const e = err as Error;
      this.#log(`${channel}: ${type} failed: ${e.stack ?? e.message}`);
      if (type.endsWith("_request")) {
        this.#reply(msg, channel, type.replace(/_request$/, "_reply"), { status: "error", ename: e.name ?? "Error", evalue: e.message ?? String(e), traceback: [String(e.stack ?? e)] });
      }
    }
    this.#status("idle", msg.header);
  }

  /** The context comm handlers run in: their output goes with the comm message. */
  #commContext(msg: Message): CellContext {
    return { parent: msg.header, identities: msg.identities, allowStdin: false, abort: new AbortController(), interrupted: false };
  }

  #kernelInfo(): Record<string, unknown> {
    const p = this.#preloaded!;
    return {
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "fsam-lab",
      implementation_version: VERSION,
      language_info: {
        name: "typescript",
        version: "5.0",
        mimetype: "text/typescript",
        file_extension: ".ts",
        codemirror_mode: "typescript",
        pygments_lexer: "typescript",
      },
      banner: `FSAM Lab ${VERSION} (TypeScript, node ${process.version})\n${p.backendLine}\nGlobals: tf, fsam, dfd, display, comms. Magic: %typecheck strict|warn|off.`,
      help_links: [
        { text: "FSAM paper (arXiv 2210.05497)", url: "https://arxiv.org/abs/2210.05497" },
        { text: "TensorFlow.js API", url: "https://js.tensorflow.org/api/latest/" },
        { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/intro.html" },
      ],
    };
  }

  // --- execution -------------------------------------------------------------------------------

  async #execute(msg: Message, channel: RequestChannel, receivedAt: number): Promise<void> {
    const c = msg.content;
    const code = typeof c.code === "string" ? c.code : "";
    const silent = c.silent === true;
    const storeHistory = !silent && c.store_history !== false;
    const stopOnError = c.stop_on_error !== false;
    if (receivedAt < this.#abortUntil) {
      this.#reply(msg, channel, "execute_reply", { status: "aborted", execution_count: this.#executionCount });
      return;
    }
    if (storeHistory) this.#executionCount++;
    const count = this.#executionCount;
    if (!silent) this.#output.send("execute_input", { code, execution_count: count }, msg.header);
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
    const before = takeCensus(this.#preloaded!.tf);
    try {
      const value = await runInCell(ctx, (): Promise<RunResult> | RunResult => {
        const help = parseHelpRequest(code);
        if (help !== undefined) {
          payload = this.#page(help);
          return { hasValue: false };
        }
        const source = this.#magics(code);
        return source.trim() === "" ? { hasValue: false } : this.#runSource(source, count);
      });
      if (value.hasValue && !silent) {
        await prepareToRender(value.value);
        const data = await toMimeBundle(value.value, this.#plotly);
        resultText = String(data["text/plain"] ?? "");
        this.#output.send("execute_result", { execution_count: count, data, metadata: {} }, msg.header);
      }
    } catch (err) {
      failure = err instanceof CompileError ? err.report : this.#traceback.report(err);
    } finally {
      this.#running = undefined;
      // A SIGINT sent for this cell may still be on the way: it must not reach the next one.
      await this.#settleInterrupt();
      this.#repairEngine(msg.header);
    }
    if (!failure) {
      const left = cellLeftovers(before, takeCensus(this.#preloaded!.tf));
      if (left.variables) this.#output.stream("stdout", left.variables, msg.header);
      if (left.leak) this.#output.stream("stderr", left.leak, msg.header);
    }
    if (storeHistory) this.#history.add(count, code, resultText);
    if (failure) {
      this.#output.send("error", { ...failure }, msg.header);
      if (stopOnError) {
        // Requests already sent (queued here or still in the socket buffer) are aborted.
        await new Promise((resolve) => setTimeout(resolve, ABORT_GRACE_MS));
        this.#abortUntil = performance.now();
      }
      this.#reply(msg, channel, "execute_reply", { status: "error", execution_count: count, ...failure });
      return;
    }
    this.#output.flush();
    const userExpressions = await runInCell(ctx, () => this.#userExpressions(c.user_expressions));
    this.#reply(msg, channel, "execute_reply", { status: "ok", execution_count: count, payload, user_expressions: userExpressions });
  }

  /** Applies `%typecheck` lines and returns the code without them. */
  #magics(code: string): string {
    const lines = code.split("\n");
    const kept: string[] = [];
    for (const line of lines) {
      const m = /^\s*%typecheck(?:\s+(\S+))?\s*$/.exec(line);
      if (!m) {
        kept.push(line);
        continue;
      }
      const mode = m[1];
      if (mode === undefined) {
        console.log(`type checking: ${this.#getCompiler().typecheck}`);
      } else if (mode === "strict" || mode === "warn" || mode === "off") {
        this.#getCompiler().typecheck = mode as TypecheckMode;
        console.log(`type checking: ${mode}`);
      } else {
        throw new CompileError({ ename: "UsageError", evalue: `%typecheck takes strict, warn or off, got '${mode}'`, traceback: [`UsageError: %typecheck takes strict, warn or off, got '${mode}'`] });
      }
      kept.push(""); // keep line numbers
    }
    return kept.join("\n");
  }

  /** Compiles and runs cell source; warnings go to stderr. */
  async #runSource(source: string, executionCount: number): Promise<RunResult> {
    const compiler = this.#getCompiler();
    compiler.notebookDir = process.cwd();
    this.#loader.notebookDir = process.cwd();
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
    this.#traceback.register(cellFileName(this.#runner.nextId), { executionCount, map });
    const result = await this.#runner.run(compiled, currentCell()!);
    compiler.commit(compiled);
    return result;
  }

  async #userExpressions(expressions: unknown): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    if (typeof expressions !== "object" || expressions === null) return out;
    const compiler = this.#getCompiler();
    for (const [name, expr] of Object.entries(expressions as Record<string, unknown>)) {
      try {
        const compiled = compiler.compile(String(expr));
        if ("errors" in compiled) throw new Error(compiled.errors.map((e) => e.message).join("; "));
        const r = await this.#runner.run(compiled, currentCell()!);
        if (r.hasValue) await prepareToRender(r.value);
        out[name] = { status: "ok", data: r.hasValue ? await toMimeBundle(r.value, this.#plotly) : { "text/plain": "undefined" }, metadata: {} };
      } catch (err) {
        out[name] = { status: "error", ...this.#traceback.report(err) };
      }
    }
    return out;
  }

  // --- completion and inspection ---------------------------------------------------------------

  #complete(content: Record<string, unknown>): Record<string, unknown> {
    const code = String(content.code ?? "");
    const cursor = codePointsToUtf16(code, Number(content.cursor_pos ?? [...code].length));
    const r = this.#getCompiler().complete(code, cursor);
    return {
      status: "ok",
      matches: r.candidates.map((c) => c.text),
      cursor_start: utf16ToCodePoints(code, r.start),
      cursor_end: utf16ToCodePoints(code, r.end),
      metadata: {
        _jupyter_types_experimental: r.candidates.map((c) => ({
          start: utf16ToCodePoints(code, r.start),
          end: utf16ToCodePoints(code, r.end),
          text: c.text,
          type: c.kind,
        })),
      },
    };
  }

  #inspect(content: Record<string, unknown>): Record<string, unknown> {
    const code = String(content.code ?? "");
    const cursor = codePointsToUtf16(code, Number(content.cursor_pos ?? [...code].length));
    const compiler = this.#getCompiler();
    const info = compiler.inspect(code, cursor) ?? (cursor > 0 ? compiler.inspect(code, cursor - 1) : undefined);
    if (!info) return { status: "ok", found: false, data: {}, metadata: {} };
    const plain = info.documentation ? `${info.signature}\n\n${info.documentation}` : info.signature;
    const markdown = "```typescript\n" + info.signature + "\n```" + (info.documentation ? `\n\n${info.documentation}` : "");
    return { status: "ok", found: true, data: { "text/plain": plain, "text/markdown": markdown }, metadata: {} };
  }

  /** A help request (`name?`): the name's documentation as a pager payload, or a line saying there is none. */
  #page(name: string): Record<string, unknown>[] {
    const found = this.#inspect({ code: name, cursor_pos: [...name].length });
    if (found.found !== true) {
      console.log(`no documentation found for '${name}'`);
      return [];
    }
    return [{ source: "page", data: found.data, start: 0 }];
  }

  // --- stdin, interrupts, errors ---------------------------------------------------------------

  /** A message on stdin: an input_reply answers the waiting prompt. */
  #inputReply(msg: Message): void {
    if (msg.header.msg_type === "input_reply" && this.#pendingInput) {
      const pending = this.#pendingInput;
      this.#pendingInput = undefined;
      pending.resolve(String(msg.content.value ?? ""));
    }
  }

  /** Asks the frontend for a line of input (the `prompt` global). */
  #input(prompt: string, password: boolean): Promise<string> {
    const cell = currentOrLatestCell();
    if (!cell || !cell.allowStdin) {
      return Promise.reject(new Error("prompt(): this frontend does not accept input (allow_stdin is false)"));
    }
    if (this.#pendingInput) return Promise.reject(new Error("prompt(): another prompt is already waiting for input"));
    this.#output.flush();
    return new Promise<string>((resolve, reject) => {
      this.#pendingInput = { resolve, reject };
      cell.abort.signal.addEventListener("abort", () => {
        if (this.#pendingInput?.resolve === resolve) this.#pendingInput = undefined;
        reject(new KeyboardInterrupt());
      }, { once: true });
      this.#transport.sendStdin("input_request", { prompt, password }, cell.parent, cell.identities);
    });
  }

  /** SIGINT (from Jupyter, or from the control thread for an interrupt_request): interrupts the running cell, if any. */
  #onSignal(): void {
    if (signalArrived(this.#interruptState) && this.#running) this.#runner.interrupt(this.#running);
  }

  /**
   * Between cells: drops an interrupt request nobody took up, and waits (at most SIGNAL_SETTLE_MS)
   * for a SIGINT the control thread sent to arrive, so that it cannot interrupt the next cell.
   */
  async #settleInterrupt(): Promise<void> {
    const deadline = performance.now() + SIGNAL_SETTLE_MS;
    while (signalPending(this.#interruptState) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    if (signalPending(this.#interruptState)) this.#log("an interrupt's SIGINT did not arrive in time; forgetting it");
    clearInterrupt(this.#interruptState);
  }

  /**
   * After a cell: a signal that stopped tfjs mid-operation leaves its engine half-way (open scopes, the
   * gradient tape on); the library puts it back together and the cell says so on stderr.
   */
  #repairEngine(parent: Partial<Header>): void {
    const fsam = this.#preloaded!.fsam;
    if (typeof fsam.resetEngineAfterAbort !== "function" || typeof fsam.describeEngineRepair !== "function") return;
    const repair = (fsam.resetEngineAfterAbort as () => unknown)();
    if (repair !== undefined) {
      this.#output.stream("stderr", `[fsam-lab] ${(fsam.describeEngineRepair as (r: unknown) => string)(repair)}\n`, parent);
    }
  }

  /** An uncaught error or unhandled rejection: an error output of the cell that caused it. */
  #uncaught(err: unknown): void {
    // A rejection rethrown by another library's listener arrives a second time: report it once.
    if (typeof err === "object" && err !== null) {
      if (this.#reportedUncaught.has(err)) return;
      this.#reportedUncaught.add(err);
    }
    const cell = currentOrLatestCell();
    const report = this.#traceback.report(err);
    if (!cell) {
      this.#log(`uncaught: ${report.traceback.join("\n")}`);
      return;
    }
    this.#output.send("error", { ...report }, cell.parent);
  }

  /**
   * Closes every socket and the control thread; the process may exit once this resolves. Calls after
   * the first (a SIGTERM during a shutdown_request, say) share its promise, so none resolves early.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    this.#output.releaseStdio();
    await this.#transport.close();
    this.#compiler?.close();
  }
}

/** A compile-time failure, already in report form. */
class CompileError extends Error {
  readonly report: ErrorReport;
  constructor(report: ErrorReport) {
    super(report.evalue);
    this.report = report;
  }
}
