/**
 * Download progress shown in a notebook: one output per download, updated in place (at most every
 * 200 ms, and always when a file completes) through the host's display (lib/host.ts).
 */
import { host } from "../host.ts";
import type { DownloadProgress } from "../download.ts";
import { escapeHtml } from "../html.ts";

let counter = 0;

function formatMiB(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** The text of one progress line, e.g. `model.safetensors 12.0 MiB / 16.7 MiB (72%)`. */
export function formatDownloadProgress(p: DownloadProgress): string {
  if (p.total === undefined || p.total === 0) return `${p.file} ${formatMiB(p.bytes)}`;
  return `${p.file} ${formatMiB(p.bytes)} / ${formatMiB(p.total)} (${Math.floor((100 * p.bytes) / p.total)}%)`;
}

/**
 * A progress callback that shows `title` and the current file's progress in the notebook, or
 * undefined when the host cannot display rich output (terminal: the CLI draws its own bar).
 */
export function notebookDownloadProgress(title: string): ((p: DownloadProgress) => void) | undefined {
  const h = host();
  if (typeof h.display !== "function") return undefined;
  const displayId = `fsam-lab-download-${process.pid}-${++counter}`;
  let last = 0;
  let shown = false;
  return (p) => {
    const now = Date.now();
    const complete = p.total !== undefined && p.bytes >= p.total;
    if (shown && !complete && now - last < 200) return;
    last = now;
    const text = `${title}: ${formatDownloadProgress(p)}`;
    const fraction = p.total ? Math.min(1, p.bytes / p.total) : 0;
    const bundle = {
      "text/plain": text,
      "text/html": `<div><progress value="${fraction.toFixed(4)}" max="1" style="width:20em"></progress> <code>${escapeHtml(text)}</code></div>`,
    };
    if (!shown) h.display?.(bundle, { displayId });
    else h.updateDisplay?.(bundle, displayId);
    shown = true;
  };
}
