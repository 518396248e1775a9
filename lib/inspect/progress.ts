/**
 * Progress, cancellation and cooperative yielding for long inspection loops (eigenvalues, traces,
 * landscapes). Every loop calls {@link progressCheckpoint} once per unit of work: it reports
 * progress, lets the event loop (and so the kernel) run, and tells the loop whether the user
 * interrupted the cell. Without an `onProgress` callback, progress is shown in the notebook (one
 * output updated in place per phase) when the host has rich display, and nowhere on a terminal.
 */
import { currentAbortSignal, hasRichDisplay, host } from "../host.ts";
import { escapeHtml } from "../html.ts";

/** One progress report of a long computation. */
export interface ProgressEvent {
  /** What is being computed, e.g. `"eigenvalue 2/3"` or `"landscape 2-D"`. */
  phase: string;
  /** Units of work finished so far (iterations, samples, grid points). */
  done: number;
  /** Units of work planned (an upper bound for iterative methods that may stop early). */
  total: number;
}

/** Receives progress reports. */
export type ProgressCallback = (event: ProgressEvent) => void;

/** Options shared by the long-running inspection functions. */
export interface LongRunOptions {
  /** Called after each unit of work. */
  onProgress?: ProgressCallback;
  /** Stops the computation early when it fires; defaults to the running cell's signal (lib/host.ts). */
  signal?: AbortSignal;
}

/** Resolves on the next turn of the event loop so that I/O (kernel messages, interrupts) is served. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Reports progress, yields to the event loop and returns true when the computation should stop
 * (the given signal, or else the host's abort signal, has fired).
 */
export async function progressCheckpoint(options: LongRunOptions, event: ProgressEvent): Promise<boolean> {
  if (options.onProgress) options.onProgress(event);
  else if (hasRichDisplay()) notebookProgress(event);
  await yieldToEventLoop();
  return isAborted(options);
}

/** True when the computation's signal (or the host's, when none is given) has fired. */
export function isAborted(options: LongRunOptions): boolean {
  const signal = options.signal ?? currentAbortSignal();
  return signal?.aborted === true;
}

let displayCounter = 0;
let shown: { phase: string; displayId: string; start: number; lastUpdate: number } | undefined;

/**
 * Shows `event` in the notebook: a new output per phase, updated in place at most every 250 ms and
 * on the last unit of work.
 */
export function notebookProgress(event: ProgressEvent): void {
  const h = host();
  const now = performance.now();
  const fresh = !shown || shown.phase !== event.phase || event.done <= 1;
  if (!fresh && now - shown!.lastUpdate < 250 && event.done < event.total) return;
  if (fresh) shown = { phase: event.phase, displayId: `fsam-inspect-${process.pid}-${++displayCounter}`, start: now, lastUpdate: now };
  const state = shown!;
  state.lastUpdate = now;
  const pct = event.total > 0 ? Math.min(100, (100 * event.done) / event.total) : 0;
  const seconds = ((now - state.start) / 1000).toFixed(1);
  const text = `${event.phase}: ${event.done}/${event.total} (${pct.toFixed(0)}%), ${seconds} s`;
  const bundle = {
    "text/plain": text,
    "text/html": `<div style="font-family:monospace">${escapeHtml(event.phase)} <progress value="${event.done}" max="${event.total}"></progress> ${event.done}/${event.total} · ${seconds} s</div>`,
  };
  if (fresh || !h.updateDisplay) h.display?.(bundle, { displayId: state.displayId });
  else h.updateDisplay(bundle, state.displayId);
}
