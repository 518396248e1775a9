/**
 * The FSAM Lab Jupyter kernel: protocol 5.3 on ZeroMQ. The kernel is a composition: the transport
 * (`transport.ts`: shell, iopub and stdin on the main thread; heartbeat and control on a second thread,
 * so that they answer while a cell runs), a table of request handlers (`handlers/`) run by the
 * dispatcher (`request-dispatch.ts`), and what is preloaded for cells (`preload.ts`).
 */
import { PACKAGE_ROOT } from "./compiler.ts";
import { CellRunner } from "./cell-runner.ts";
import { ModuleLoader } from "./module-loader.ts";
import { currentCell, currentOrLatestCell } from "./cell-context.ts";
import { OutputRouter } from "./output-router.ts";
import { PlotlyHtml } from "./renderers.ts";
import { preload, type Preloaded } from "./preload.ts";
import type { Log } from "./log.ts";
import { History } from "./history.ts";
import { CommRegistry } from "./comms.ts";
import { TracebackMapper } from "./traceback.ts";
import { createInterruptState, signalArrived, takeRequest } from "./interrupt-state.ts";
import { installExitGuard } from "./exit-guard.ts";
import { Transport } from "./transport.ts";
import { RequestDispatcher } from "./request-dispatch.ts";
import { LazyCompiler } from "./lazy-compiler.ts";
import { StdinPrompt } from "./stdin-prompt.ts";
import { reportUncaughtErrors } from "./uncaught.ts";
import type { ConnectionInfo } from "./wire.ts";
import { Executor } from "./handlers/execute.ts";
import { kernelInfoHandlers } from "./handlers/kernel-info.ts";
import { completeInspectHandlers } from "./handlers/complete-inspect.ts";
import { isCompleteHandlers } from "./handlers/is-complete.ts";
import { historyHandlers } from "./handlers/history.ts";
import { commHandlers, reportCommHandlerFailure } from "./handlers/comm.ts";
import { lifecycleHandlers } from "./handlers/lifecycle.ts";

/** Delay after start-up before the TypeScript program is built in the background (ms). */
const COMPILER_WARMUP_DELAY_MS = 1500;

/** One running kernel. */
export class Kernel {
  readonly #log: Log;
  readonly #transport: Transport;
  readonly #output: OutputRouter;
  readonly #interruptState = createInterruptState();
  readonly #plotly = new PlotlyHtml();
  readonly #history = new History();
  readonly #comms: CommRegistry;
  readonly #traceback = new TracebackMapper();
  readonly #loader = new ModuleLoader(process.cwd(), PACKAGE_ROOT);
  readonly #runner = new CellRunner(this.#loader, this.#interruptState);
  readonly #compiler: LazyCompiler;
  readonly #stdin: StdinPrompt;
  readonly #executor: Executor;
  readonly #dispatcher: RequestDispatcher;
  #preloaded: Preloaded | undefined;
  #closing: Promise<void> | undefined;

  /**
   * @param info the parsed connection file.
   * @param log where kernel diagnostics go.
   */
  constructor(info: ConnectionInfo, log: Log) {
    this.#log = log;
    this.#transport = new Transport(info, log);
    this.#output = new OutputRouter((msgType, content, parent, buffers) => this.#transport.publish(msgType, content, parent, buffers));
    this.#comms = new CommRegistry((msgType, content, buffers) => {
      const cell = currentOrLatestCell();
      this.#output.send(msgType, content, cell?.parent ?? {}, buffers);
    }, reportCommHandlerFailure(this.#output, this.#traceback, log));
    this.#compiler = new LazyCompiler(log);
    this.#stdin = new StdinPrompt(this.#transport, this.#output);
    this.#executor = new Executor({
      output: this.#output,
      compiler: this.#compiler,
      runner: this.#runner,
      loader: this.#loader,
      traceback: this.#traceback,
      history: this.#history,
      plotly: this.#plotly,
      interruptState: this.#interruptState,
      log,
      preloaded: () => this.#preloaded!,
    });
    const handlers = {
      ...kernelInfoHandlers(() => this.#preloaded!.backendLine),
      ...this.#executor.handlers,
      ...completeInspectHandlers(this.#compiler),
      ...isCompleteHandlers,
      ...historyHandlers(this.#history),
      ...commHandlers(this.#comms, this.#output),
      ...lifecycleHandlers(() => this.close(), () => this.#executor.interrupt()),
    };
    this.#dispatcher = new RequestDispatcher(handlers, this.#transport, this.#output, log);
  }

  /** Binds every socket, starts the control thread and begins serving. */
  async start(): Promise<void> {
    await this.#transport.start(this.#interruptState, {
      request: (msg, channel) => this.#dispatcher.receive(msg, channel),
      stdin: (msg) => this.#stdin.receive(msg),
      interrupted: (parent) => {
        if (takeRequest(this.#interruptState)) this.#executor.interrupt();
        this.#output.status("busy", parent);
        this.#output.status("idle", parent);
      },
    });
    this.#output.status("starting", {});
    // SIGINT (from Jupyter, or from the control thread for an interrupt_request) interrupts the running cell, if any.
    process.on("SIGINT", () => {
      if (signalArrived(this.#interruptState)) this.#executor.interrupt();
    });
    reportUncaughtErrors(this.#traceback, this.#output, this.#log);
    // process.exit() in a cell would abort node with open sockets: it throws there instead.
    installExitGuard(() => currentCell() !== undefined);
    this.#preloaded = await preload({
      log: this.#log,
      loader: this.#loader,
      output: this.#output,
      plotly: this.#plotly,
      comms: this.#comms,
      input: (prompt, password) => this.#stdin.ask(prompt, password),
    });
    this.#dispatcher.open();
    this.#output.captureStdio();
    // Build the compiler (a blocking second or more) once the client's start-up handshake is over,
    // before the first cell needs it; a cell arriving earlier builds it itself.
    setTimeout(() => {
      if (!this.#dispatcher.busy) this.#compiler.get();
    }, COMPILER_WARMUP_DELAY_MS);
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
    this.#compiler.close();
  }
}
