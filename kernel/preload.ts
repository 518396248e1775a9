/**
 * What a kernel loads before its first cell: tfjs on the library's backend, the FSAM Lab library, and
 * the globals cells see (`tf`, `fsam`, `dfd`, `display`, `updateDisplay`, `clearOutput`, `comms`,
 * `prompt`, `abortSignal`), plus the library's display host.
 */
import { createRequire } from "node:module";
import { currentCell, currentOrLatestCell } from "./cell-context.ts";
import type { CommRegistry } from "./comms.ts";
import { createDisplay, type DisplaySink } from "./display-api.ts";
import type { Log } from "./log.ts";
import type { ModuleLoader } from "./module-loader.ts";
import type { OutputRouter } from "./output-router.ts";
import { toMimeBundle, type PlotlyHtml } from "./renderers.ts";
import type { CensusTf } from "./tensor-census.ts";
import type { MimeBundle } from "../lib/host.ts";

/** The preloaded modules. */
export interface Preloaded {
  /** The tfjs module the library uses. */
  tf: CensusTf & { getBackend(): string; version_core?: string; version?: Record<string, string> };
  /** The library namespace. */
  fsam: Record<string, unknown>;
  /** One line naming the backend and device. */
  backendLine: string;
  /** The library's tfjs engine repair (lib/engine-repair.ts); absent when the library failed to load. */
  engineRepair?: typeof import("../lib/engine-repair.ts");
}

/** The parts of the kernel the preloaded globals talk to. */
export interface PreloadServices {
  /** Where diagnostics go (a library that fails to load is logged). */
  log: Log;
  /** Resolves `import "fsam-lab"` and `import "@tensorflow/tfjs"` in cells to the preloaded modules. */
  loader: ModuleLoader;
  /** Where display output goes. */
  output: OutputRouter;
  /** The session's Plotly state (the first figure carries plotly.js). */
  plotly: PlotlyHtml;
  /** The kernel's comms, the `comms` global. */
  comms: CommRegistry;
  /** Asks the frontend for a line of input (the `prompt` global). */
  input(prompt: string, password: boolean): Promise<string>;
}

/** Loads tfjs on the library's backend, the library and the globals cells see. */
export async function preload(services: PreloadServices): Promise<Preloaded> {
  const tf = (await import("@tensorflow/tfjs")) as unknown as Preloaded["tf"];
  let fsam: Record<string, unknown>;
  let libraryError = "";
  let engineRepair: Preloaded["engineRepair"];
  try {
    fsam = (await import("../lib/index.ts")) as Record<string, unknown>;
    engineRepair = await import("../lib/engine-repair.ts");
  } catch (err) {
    // A broken library must not take the kernel down: cells still run, the banner says why.
    libraryError = (err as Error).message;
    services.log(`fsam-lab library failed to load: ${(err as Error).stack ?? libraryError}`);
    fsam = (await import("../lib/host.ts")) as Record<string, unknown>;
  }
  let backendLine = "";
  if (libraryError !== "") {
    backendLine = `tfjs backend ${tf.getBackend()} (fsam-lab library failed to load: ${libraryError})`;
  } else if (typeof fsam.initBackend === "function") {
    const info = await (fsam.initBackend as () => Promise<unknown>)();
    backendLine = typeof fsam.formatBackendInfo === "function" ? String((fsam.formatBackendInfo as (i: unknown) => string)(info)) : tf.getBackend();
  } else {
    backendLine = `tfjs backend ${tf.getBackend()}`;
  }
  services.loader.provide("fsam-lab", fsam);
  services.loader.provide("@tensorflow/tfjs", tf as unknown as object);
  const { output } = services;
  const sink: DisplaySink = {
    render: (value) => toMimeBundle(value, services.plotly),
    show: (bundle, options) => showBundle(output, bundle, options.displayId, options.metadata),
    update: (bundle, displayId) => updateBundle(output, bundle, displayId),
    clear: (wait) => output.send("clear_output", { wait }, currentOrLatestCell()?.parent ?? {}),
  };
  const display = createDisplay(sink);
  const g = globalThis as Record<string, unknown>;
  g.tf = tf;
  g.fsam = fsam;
  g.display = display;
  g.updateDisplay = display.update;
  g.clearOutput = display.clear;
  g.comms = services.comms;
  g.prompt = (message?: string, options?: { password?: boolean }) => services.input(message ?? "", options?.password === true);
  g.abortSignal = () => currentCell()?.abort.signal ?? new AbortController().signal;
  let dfd: unknown;
  Object.defineProperty(g, "dfd", {
    configurable: true,
    get: () => (dfd ??= createRequire(import.meta.url)("danfojs-node")),
  });
  const { setHost } = await import("../lib/host.ts");
  setHost({
    display: (bundle: MimeBundle, options?: { displayId?: string }) => showBundle(output, bundle, options?.displayId),
    updateDisplay: (bundle: MimeBundle, displayId: string) => updateBundle(output, bundle, displayId),
    abortSignal: () => currentCell()?.abort.signal,
  });
  return { tf, fsam, backendLine, engineRepair };
}

/** Shows a MIME bundle in the current (or latest) cell, optionally under a display id. */
function showBundle(output: OutputRouter, bundle: MimeBundle, displayId?: string, metadata: Record<string, unknown> = {}): void {
  const parent = currentOrLatestCell()?.parent ?? {};
  output.send("display_data", { data: bundle, metadata, transient: displayId ? { display_id: displayId } : {} }, parent);
}

/** Replaces the output shown under a display id. */
function updateBundle(output: OutputRouter, bundle: MimeBundle, displayId: string): void {
  const parent = currentOrLatestCell()?.parent ?? {};
  output.send("update_display_data", { data: bundle, metadata: {}, transient: { display_id: displayId } }, parent);
}
