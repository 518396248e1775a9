/**
 * Renders a notebook run ({@link NotebookRun}) as one self-contained HTML page: Markdown cells as
 * text, code cells with their outputs, Plotly figures drawn by plotly.js-dist inlined once (the page
 * needs no network), HTML tables and progress displays as the kernel sent them, errors highlighted.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { escapeHtml } from "../../lib/html.ts";
import { markdownToHtml } from "./markdown.ts";
import type { CellOutput, NotebookRun } from "./run-notebook.ts";

/** The Plotly mime type. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** The plotly.js-dist bundle, safe to put inside a `<script>` element. */
function plotlyBundle(): string {
  const path = createRequire(import.meta.url).resolve("plotly.js-dist/plotly.js");
  return readFileSync(path, "utf8").replace(/<\/script/gi, "<\\/script");
}

/** JSON safe inside a `<script>` element (NaN and ±Infinity become null). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v))
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Removes ANSI colour codes (tracebacks). */
function stripAnsi(s: string): string {
  return s.replace(/\u001b\[[0-9;]*m/g, "");
}

/** Text of a mimebundle entry (nbformat allows a list of lines). */
function mimeText(value: unknown): string {
  return Array.isArray(value) ? value.join("") : typeof value === "string" ? value : JSON.stringify(value);
}

/** One output as HTML; `plotId` numbers the Plotly divs. */
function outputHtml(output: CellOutput, plotId: () => string): string {
  switch (output.output_type) {
    case "stream":
      return `<pre class="stream ${output.name}">${escapeHtml(output.text)}</pre>`;
    case "error":
      return `<pre class="error">${escapeHtml(stripAnsi(output.traceback.length > 0 ? output.traceback.join("\n") : `${output.ename}: ${output.evalue}`))}</pre>`;
    default: {
      const data = output.data;
      if (data[PLOTLY_MIME]) {
        const fig = data[PLOTLY_MIME] as { data?: unknown; layout?: unknown; config?: unknown };
        const id = plotId();
        return (
          `<div class="plotly-figure" id="${id}"></div>` +
          `<script>Plotly.newPlot(${scriptJson(id)}, ${scriptJson(fig.data ?? [])}, ${scriptJson(fig.layout ?? {})}, ` +
          `${scriptJson({ responsive: true, displaylogo: false, ...((fig.config as object) ?? {}) })});</script>`
        );
      }
      if (data["text/html"]) return `<div class="html">${mimeText(data["text/html"])}</div>`;
      if (data["text/markdown"]) return `<div class="markdown">${markdownToHtml(mimeText(data["text/markdown"]))}</div>`;
      if (data["image/svg+xml"]) return `<div class="svg">${mimeText(data["image/svg+xml"])}</div>`;
      if (data["image/png"]) return `<img alt="figure" src="data:image/png;base64,${mimeText(data["image/png"]).trim()}">`;
      return `<pre class="plain">${escapeHtml(mimeText(data["text/plain"] ?? ""))}</pre>`;
    }
  }
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.5; }
.cell { margin: 1.2em 0; }
.code pre.source { background: #f6f8fa; border-left: 3px solid #4c78a8; padding: .6em .8em; overflow-x: auto; font-size: 13px; }
.outputs { margin-left: 1em; }
pre { white-space: pre-wrap; font-size: 13px; }
pre.stderr { color: #8a6d00; }
pre.error { background: #fdecea; color: #a00; padding: .6em; }
table { border-collapse: collapse; font-size: 13px; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: right; }
.plotly-figure { width: 100%; min-height: 420px; }
.banner { background: #fff8e1; border: 1px solid #f0c36d; padding: .8em 1em; }
.skipped { color: #888; font-style: italic; }
`;

/**
 * The report page of a notebook run. `title` heads the page and `banner` (HTML) is shown above the
 * cells, e.g. how to install Jupyter.
 */
export function notebookReportHtml(run: NotebookRun, options: { title: string; banner?: string }): string {
  let plots = 0;
  const plotId = () => `plot-${++plots}`;
  const body = run.cells
    .map((cell, index) => {
      if (cell.cellType === "markdown") return `<div class="cell markdown">${markdownToHtml(cell.source)}</div>`;
      if (cell.cellType !== "code") return `<div class="cell raw"><pre>${escapeHtml(cell.source)}</pre></div>`;
      const outputs = cell.skipped
        ? `<p class="skipped">not run: an earlier cell failed</p>`
        : cell.outputs.map((o) => outputHtml(o, plotId)).join("\n");
      return `<div class="cell code" id="cell-${index}"><pre class="source"><code>${escapeHtml(cell.source)}</code></pre><div class="outputs">${outputs}</div></div>`;
    })
    .join("\n");
  const status = run.error
    ? `<p class="error">Stopped at cell ${run.error.cell}: ${escapeHtml(run.error.ename)}: ${escapeHtml(run.error.evalue)}</p>`
    : `<p>All cells ran in ${run.seconds.toFixed(1)} s.</p>`;
  return [
    "<!DOCTYPE html>",
    `<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(options.title)}</title>`,
    `<style>${STYLE}</style>`,
    `<script>${plotlyBundle()}</script></head><body>`,
    options.banner ? `<div class="banner">${options.banner}</div>` : "",
    status,
    body,
    "</body></html>",
  ].join("\n");
}
