/**
 * Turns values into Jupyter MIME bundles: an object's own display method (Deno's
 * `Symbol.for("Jupyter.display")`, sync or async, or this kernel's `Symbol.for("Jupyter.mimebundle")`),
 * tfjs tensors, danfo DataFrame/Series, Plotly figures (any plain `{data: [], layout: {}}` object) and
 * everything else through `util.inspect`.
 */
import { inspect } from "node:util";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { MimeBundle } from "../lib/host.ts";
import { escapeHtml } from "../lib/html.ts";

/**
 * The symbol of Deno's kernel for objects that render themselves (`Deno.jupyter.$display`): a method
 * returning a MIME bundle or a Promise of one.
 */
export const DENO_DISPLAY_SYMBOL = Symbol.for("Jupyter.display");

/** This kernel's own symbol for the same (a method returning a MIME bundle), kept for existing code. */
export const MIMEBUNDLE_SYMBOL = Symbol.for("Jupyter.mimebundle");

/** The display-method symbols honoured, in order, with the names messages use. */
const DISPLAY_SYMBOLS: readonly [symbol, string][] = [
  [DENO_DISPLAY_SYMBOL, 'Symbol.for("Jupyter.display")'],
  [MIMEBUNDLE_SYMBOL, 'Symbol.for("Jupyter.mimebundle")'],
];

/** The Plotly MIME type JupyterLab renders natively. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** Largest tensor (element count) shown as an HTML table. */
const HTML_TABLE_MAX = 400;
/** Elements shown at each end of a long tensor axis. */
const EDGE_ITEMS = 3;
/** An axis longer than this is abbreviated with `…`. */
const SUMMARY_THRESHOLD = 8;
/** Rows of a DataFrame shown in HTML. */
const FRAME_ROWS = 20;

/** The subset of a tfjs tensor the renderer reads. */
interface TensorLike {
  shape: number[];
  dtype: string;
  size: number;
  isDisposed: boolean;
  arraySync(): unknown;
}

/** True for tfjs tensors (duck-typed so that any tfjs instance works). */
export function isTensor(v: unknown): v is TensorLike {
  const t = v as TensorLike;
  return (
    typeof v === "object" && v !== null && Array.isArray(t.shape) && typeof t.dtype === "string" &&
    typeof t.arraySync === "function" && typeof (v as { dataSync?: unknown }).dataSync === "function"
  );
}

/**
 * Reads a tensor's values asynchronously before it is rendered, so that a GPU backend (whose
 * tensors cannot be read synchronously in Node) has them on the host for {@link toMimeBundle}.
 * Does nothing for other values.
 */
export async function prepareToRender(value: unknown): Promise<void> {
  if (isTensor(value) && !value.isDisposed && typeof (value as { data?: unknown }).data === "function") {
    await (value as unknown as { data(): Promise<unknown> }).data();
  }
}

/** Formats one tensor element. */
function formatScalar(x: unknown, dtype: string): string {
  if (typeof x === "number") {
    if (dtype === "int32") return String(x);
    if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.`;
    const a = Math.abs(x);
    return a !== 0 && (a < 1e-4 || a >= 1e6) ? x.toExponential(4) : String(Number(x.toPrecision(6)));
  }
  if (typeof x === "string") return JSON.stringify(x);
  return String(x);
}

/** Nested-array preview with `…` for long axes, numpy style. */
function formatNested(a: unknown, dtype: string, indent: number): string {
  if (!Array.isArray(a)) return formatScalar(a, dtype);
  const n = a.length;
  const idx = n > SUMMARY_THRESHOLD ? [...Array(EDGE_ITEMS).keys(), -1, ...Array.from({ length: EDGE_ITEMS }, (_, i) => n - EDGE_ITEMS + i)] : [...Array(n).keys()];
  const parts = idx.map((i) => (i < 0 ? "…" : formatNested(a[i], dtype, indent + 1)));
  const nestedDepth = Array.isArray(a[0]) ? 1 : 0;
  if (nestedDepth === 0) return `[${parts.join(", ")}]`;
  return `[${parts.join(",\n" + " ".repeat(indent + 1))}]`;
}

/** `text/plain` of a tensor: dtype, shape and a value preview. */
export function tensorText(t: TensorLike): string {
  const head = `Tensor ${t.dtype} [${t.shape.join(", ")}]`;
  if (t.isDisposed) return `${head} (disposed)`;
  return `${head}\n${formatNested(t.arraySync(), t.dtype, 0)}`;
}

/** `text/html` table of a small 1-D or 2-D tensor (undefined for others). */
export function tensorHtml(t: TensorLike): string | undefined {
  if (t.isDisposed || t.size > HTML_TABLE_MAX || (t.shape.length !== 1 && t.shape.length !== 2)) return undefined;
  const rows = (t.shape.length === 1 ? [t.arraySync()] : t.arraySync()) as unknown[][];
  const body = rows
    .map((r) => `<tr>${r.map((x) => `<td>${escapeHtml(formatScalar(x, t.dtype))}</td>`).join("")}</tr>`)
    .join("");
  return `<table class="fsam-tensor"><caption>Tensor ${escapeHtml(t.dtype)} [${t.shape.join(", ")}]</caption>${body}</table>`;
}

/** The subset of danfo's DataFrame / Series the renderer reads. */
interface FrameLike {
  values: unknown[];
  index: (string | number)[];
  columns?: string[];
  shape: number[];
  toString(): string;
}

/** True for danfo DataFrame and Series. */
export function isDanfoFrame(v: unknown): v is FrameLike {
  if (typeof v !== "object" || v === null) return false;
  const name = v.constructor?.name;
  return (name === "DataFrame" || name === "Series") && Array.isArray((v as FrameLike).values) && Array.isArray((v as FrameLike).index);
}

/** Significant digits of non-integer numbers in DataFrame tables (as pandas shows about six). */
const FRAME_DIGITS = 6;

/** One table cell's text: non-integer numbers rounded to FRAME_DIGITS significant digits. */
export function frameCellText(x: unknown): string {
  if (typeof x === "number" && Number.isFinite(x) && !Number.isInteger(x)) return String(Number(x.toPrecision(FRAME_DIGITS)));
  return String(x);
}

/** `text/html` table of a DataFrame or Series (first rows only). */
export function frameHtml(f: FrameLike): string {
  const isSeries = f.columns === undefined || f.constructor.name === "Series";
  const columns = isSeries ? [String((f as { name?: unknown }).name ?? "")] : f.columns!.map(String);
  const rows = f.values.slice(0, FRAME_ROWS).map((r) => (isSeries ? [r] : (r as unknown[])));
  const head = `<tr><th></th>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr>`;
  const body = rows
    .map((r, i) => `<tr><th>${escapeHtml(String(f.index[i]))}</th>${r.map((x) => (typeof x === "number" ? `<td style="text-align:right">${frameCellText(x)}</td>` : `<td>${escapeHtml(frameCellText(x))}</td>`)).join("")}</tr>`)
    .join("");
  const more = f.values.length > FRAME_ROWS ? `<p>… ${f.values.length - FRAME_ROWS} more rows</p>` : "";
  return `<table class="fsam-frame"><thead>${head}</thead><tbody>${body}</tbody></table>${more}<p>${f.shape.join(" × ")}</p>`;
}

/** A Plotly figure: a plain object with a `data` array and a `layout` object. */
export interface PlotlyFigure {
  /** Traces. */
  data: unknown[];
  /** Layout. */
  layout: Record<string, unknown>;
  /** Optional plot config. */
  config?: Record<string, unknown>;
}

/** True for plain `{data: [], layout: {}}` objects. */
export function isPlotlyFigure(v: unknown): v is PlotlyFigure {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  const f = v as PlotlyFigure;
  return Array.isArray(f.data) && typeof f.layout === "object" && f.layout !== null && !Array.isArray(f.layout);
}

/**
 * Makes the `text/html` fallback of Plotly figures: the first figure of a kernel session carries the
 * plotly.js bundle (from the kernel's node_modules, loaded so that require.js in classic Notebook
 * does not capture it); later figures wait for `window.Plotly`.
 */
export class PlotlyHtml {
  #bundleSent = false;
  #bundle: string | undefined;

  /** The HTML for one figure. */
  html(fig: PlotlyFigure): string {
    const id = `fsam-plot-${randomUUID()}`;
    const spec = JSON.stringify({ data: fig.data, layout: fig.layout, config: { responsive: true, ...(fig.config ?? {}) } }).replace(/</g, "\\u003c");
    let loader = "";
    if (!this.#bundleSent) {
      this.#bundle ??= readFileSync(createRequire(import.meta.url).resolve("plotly.js-dist/plotly.js"), "utf8");
      // Shadow AMD/CommonJS globals so the UMD bundle sets window.Plotly even under require.js.
      loader = `<script>if(!window.Plotly){(function(define,module,exports){${this.#bundle.replace(/<\/script/gi, "<\\/script")}\n}).call(window);}</script>`;
      this.#bundleSent = true;
    }
    const draw =
      `<script>(function(){var s=${spec};var n=0;function go(){var el=document.getElementById(${JSON.stringify(id)});` +
      `if(window.Plotly&&el){window.Plotly.newPlot(el,s.data,s.layout,s.config);}` +
      `else if(n++<100){setTimeout(go,100);}else if(el){el.textContent="plotly.js is not loaded: run the first plotting cell of this notebook again";}}go();})();</script>`;
    return `<div id="${id}" class="fsam-plotly"></div>${loader}${draw}`;
  }

  /** Starts over (a restarted kernel sends the bundle again). */
  reset(): void {
    this.#bundleSent = false;
  }
}

/** Checks what a display method returned and adds `text/plain` when it lacks one. */
function customBundle(value: unknown, bundle: unknown, symbolName: string): MimeBundle {
  if (typeof bundle !== "object" || bundle === null || Array.isArray(bundle)) {
    throw new TypeError(`[${symbolName}]() must return an object of MIME type → data, got ${inspect(bundle)}`);
  }
  return { "text/plain": inspect(value), ...(bundle as MimeBundle) };
}

/**
 * Makes a MIME bundle for any value; `text/plain` is always present. A Promise of the bundle when the
 * value's display method returns one (Deno's kernel allows async display methods).
 */
export function toMimeBundle(value: unknown, plotly: PlotlyHtml): MimeBundle | Promise<MimeBundle> {
  if (typeof value === "object" && value !== null || typeof value === "function") {
    for (const [symbol, symbolName] of DISPLAY_SYMBOLS) {
      const method = (value as Record<symbol, unknown>)[symbol];
      if (typeof method !== "function") continue;
      const bundle: unknown = method.call(value);
      if (typeof (bundle as PromiseLike<unknown> | null)?.then === "function") {
        return Promise.resolve(bundle).then((resolved) => customBundle(value, resolved, symbolName));
      }
      return customBundle(value, bundle, symbolName);
    }
  }
  if (isTensor(value)) {
    const html = tensorHtml(value);
    return html ? { "text/plain": tensorText(value), "text/html": html } : { "text/plain": tensorText(value) };
  }
  if (isDanfoFrame(value)) {
    return { "text/plain": value.toString(), "text/html": frameHtml(value) };
  }
  if (isPlotlyFigure(value)) {
    const traces = value.data.length;
    return {
      "text/plain": `Plotly figure (${traces} trace${traces === 1 ? "" : "s"})`,
      [PLOTLY_MIME]: { data: value.data, layout: value.layout, ...(value.config ? { config: value.config } : {}) },
      "text/html": plotly.html(value),
    };
  }
  return { "text/plain": inspect(value, { depth: 4, maxArrayLength: 100, breakLength: 100 }) };
}
