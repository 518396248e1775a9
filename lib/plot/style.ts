/**
 * Shared styling for the figure builders: the colour palette and title / axis helpers, so every
 * figure has the same look (titles left-aligned, axes titled with units).
 */

/** A categorical palette (Plotly's default colours), cycled by index. */
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** The palette colour for index i. */
export function colorAt(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/** `#rrggbb` with an alpha, as `rgba(r, g, b, a)`. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** A layout title object. */
export function title(text: string): Record<string, unknown> {
  return { text, x: 0.02, xanchor: "left" };
}

/** An axis with a title (and extra Plotly axis settings). */
export function axis(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: { text }, zeroline: false, ...extra };
}
