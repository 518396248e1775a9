/**
 * The Plotly figure spec every builder in lib/plot returns, and {@link toHTML}, which writes a figure
 * as a standalone HTML page with plotly.js inlined (no network needed to open it).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { writeFileAtomic } from "../atomic-write.ts";
import { escapeHtml } from "../html.ts";

/** One Plotly trace (`{type, x, y, ...}`), as plain JSON. */
export type PlotTrace = Record<string, unknown>;

/** A Plotly figure: traces, layout and optional config. The kernel renders any object of this shape. */
export interface Figure {
  /** The traces. */
  data: PlotTrace[];
  /** The layout (title, axes, legend, shapes, annotations). */
  layout: Record<string, unknown>;
  /** Optional Plotly config (e.g. `{responsive: true}`). */
  config?: Record<string, unknown>;
}

let plotlySource: string | undefined;

/** The plotly.js-dist bundle's source (read once). */
function plotlyBundle(): string {
  if (plotlySource === undefined) {
    const path = createRequire(import.meta.url).resolve("plotly.js-dist/plotly.js");
    plotlySource = readFileSync(path, "utf8").replace(/<\/script/gi, "<\\/script");
  }
  return plotlySource;
}

/** JSON safe to embed in a `<script>` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v))
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * A standalone HTML page showing `fig` with plotly.js inlined (about 11 MB). When `path` is given
 * the page is also written there atomically. NaN and ±Infinity become null (gaps in Plotly).
 */
export function toHTML(fig: Figure, path?: string): string {
  if (!fig || !Array.isArray(fig.data) || typeof fig.layout !== "object" || fig.layout === null) {
    throw new Error("toHTML: fig must be a Plotly figure {data: object[], layout: object}");
  }
  const t = (fig.layout.title as { text?: string } | string | undefined) ?? "";
  const pageTitle = typeof t === "string" ? t : (t.text ?? "");
  const html = [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<title>${escapeHtml(pageTitle.replace(/<[^>]*>/g, "") || "FSAM Lab figure")}</title>`,
    `<script>${plotlyBundle()}</script>`,
    "</head>",
    '<body style="margin:0">',
    '<div id="fsam-lab-figure" style="width:100%;height:100vh"></div>',
    "<script>",
    `const figure = ${scriptJson(fig)};`,
    'Plotly.newPlot("fsam-lab-figure", figure.data, figure.layout, Object.assign({ responsive: true }, figure.config || {}));',
    "</script>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
  if (path !== undefined) writeFileAtomic(path, html);
  return html;
}
