/**
 * The `display` global of the kernel: rich output from cells (and, through the host, from the library).
 */
import type { MimeBundle } from "../lib/host.ts";

/** Options of a display call. */
export interface DisplayOptions {
  /** Names this output so `display.update(value, displayId)` can replace it later. */
  displayId?: string;
  /** Jupyter metadata sent with the output (e.g. image size). */
  metadata?: Record<string, unknown>;
}

/** Shows values in the running cell's output. */
export interface Display {
  /**
   * Shows any value with the best renderer (tensors, data frames, Plotly figures, objects with a
   * display method…). Returns a Promise when the value's display method is async: await it to see
   * the output before what follows and to catch its errors.
   */
  (value: unknown, options?: DisplayOptions): void | Promise<void>;
  /** Shows HTML. */
  html(html: string, options?: DisplayOptions): void;
  /** Shows Markdown. */
  markdown(markdown: string, options?: DisplayOptions): void;
  /** Shows an SVG image. */
  svg(svg: string, options?: DisplayOptions): void;
  /** Shows a PNG image (bytes, or base64 text). */
  png(png: Uint8Array | string, options?: DisplayOptions): void;
  /** Shows JSON in the frontend's JSON viewer. */
  json(value: unknown, options?: DisplayOptions): void;
  /** Shows a ready MIME bundle. */
  bundle(bundle: MimeBundle, options?: DisplayOptions): void;
  /** Replaces the output shown earlier with `displayId` (a Promise as for `display`). */
  update(value: unknown, displayId: string): void | Promise<void>;
  /** Clears the cell's output; with `wait`, only when the next output arrives (no flicker). */
  clear(options?: { wait?: boolean }): void;
}

/** Where `display` sends bundles (implemented by the kernel). */
export interface DisplaySink {
  /** Makes a bundle for any value (a Promise of one for an async display method). */
  render(value: unknown): MimeBundle | Promise<MimeBundle>;
  /** Sends display_data. */
  show(bundle: MimeBundle, options: DisplayOptions): void;
  /** Sends update_display_data. */
  update(bundle: MimeBundle, displayId: string): void;
  /** Sends clear_output. */
  clear(wait: boolean): void;
}

/** Sends `bundle` with `send`, once it is there when it is a Promise. */
function whenRendered(bundle: MimeBundle | Promise<MimeBundle>, send: (bundle: MimeBundle) => void): void | Promise<void> {
  if (bundle instanceof Promise) return bundle.then(send);
  send(bundle);
}

/** Builds the `display` function object on a sink. */
export function createDisplay(sink: DisplaySink): Display {
  const withText = (type: string, data: unknown, plain: string): MimeBundle => ({ "text/plain": plain, [type]: data });
  const display = ((value: unknown, options: DisplayOptions = {}) => whenRendered(sink.render(value), (b) => sink.show(b, options))) as Display;
  display.html = (html, options = {}) => sink.show(withText("text/html", String(html), "<HTML>"), options);
  display.markdown = (md, options = {}) => sink.show(withText("text/markdown", String(md), String(md)), options);
  display.svg = (svg, options = {}) => sink.show(withText("image/svg+xml", String(svg), "<SVG image>"), options);
  display.png = (png, options = {}) => {
    const b64 = typeof png === "string" ? png : Buffer.from(png).toString("base64");
    sink.show(withText("image/png", b64, "<PNG image>"), options);
  };
  display.json = (value, options = {}) => sink.show(withText("application/json", value, JSON.stringify(value, null, 2)), options);
  display.bundle = (bundle, options = {}) => sink.show({ "text/plain": "", ...bundle }, options);
  display.update = (value, displayId) => {
    if (typeof displayId !== "string" || displayId === "") {
      throw new TypeError(`display.update: displayId must be a non-empty string, got ${JSON.stringify(displayId)}`);
    }
    return whenRendered(sink.render(value), (b) => sink.update(b, displayId));
  };
  display.clear = (options = {}) => sink.clear(options.wait === true);
  return display;
}
