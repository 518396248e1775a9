/**
 * The bridge between the library and whatever hosts it (the FSAM Lab kernel, a terminal, a test).
 *
 * The library never imports Jupyter code. A host that can show rich output or interrupt work installs
 * a {@link Host} on `globalThis[Symbol.for("fsam-lab.host")]`; library code asks {@link host} for it
 * and falls back to plain terminal behaviour when nothing is installed.
 */

/** A MIME bundle: MIME type → data (string for text types, JSON-able object for JSON types). */
export type MimeBundle = Record<string, unknown>;

/** What a host (e.g. the Jupyter kernel) offers to library code. Every member is optional. */
export interface Host {
  /** Shows a MIME bundle in the current output area; with `displayId` it can be updated later. */
  display?(bundle: MimeBundle, options?: { displayId?: string }): void;
  /** Replaces the content of the output shown earlier with this `displayId`. */
  updateDisplay?(bundle: MimeBundle, displayId: string): void;
  /**
   * The signal of the running cell: it fires when the user interrupts. Long loops check it after each
   * step and stop with their state intact.
   */
  abortSignal?(): AbortSignal | undefined;
}

const HOST_KEY = Symbol.for("fsam-lab.host");

/** Returns the installed host, or an empty one (terminal behaviour) when none is installed. */
export function host(): Host {
  return ((globalThis as Record<symbol, unknown>)[HOST_KEY] as Host | undefined) ?? {};
}

/** Installs (or, with `undefined`, removes) the host. Called by the kernel at start-up. */
export function setHost(h: Host | undefined): void {
  (globalThis as Record<symbol, unknown>)[HOST_KEY] = h;
}

/** True when the host shows rich output (a notebook), false on a terminal. */
export function hasRichDisplay(): boolean {
  return typeof host().display === "function";
}

/** The abort signal of the running cell, if the host provides one. */
export function currentAbortSignal(): AbortSignal | undefined {
  return host().abortSignal?.();
}
