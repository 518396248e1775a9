/**
 * Figure of the Hessian eigenvalue spectral density (lib/inspect/spectral-density.ts `hessianSpectralDensity`):
 * density against eigenvalue on a log-scale y axis, as PyHessian plots it, with several blocks or
 * models overlaid.
 */
import type { SpectralDensityResult } from "../inspect/spectral-density.ts";
import { axis, colorAt, title } from "./style.ts";
import { type Figure } from "./figure.ts";

/** One named density curve of {@link spectralDensityFigure}. */
export interface NamedSpectralDensity {
  /** Legend entry, e.g. a block id (`layer.0.attention`) or a model name. */
  name: string;
  /** The density (only `grid` and `density` are read). */
  result: Pick<SpectralDensityResult, "grid" | "density">;
}

/** Options of {@link spectralDensityFigure}. */
export interface SpectralDensityFigureOptions {
  /** Log-scale density axis (default true, as PyHessian). */
  logScale?: boolean;
  /**
   * Added to the density before plotting on a log scale (default 1e-7, as PyHessian's plot), so the
   * Gaussian tails that underflow to 0 do not leave gaps. Ignored on a linear axis.
   */
  floor?: number;
  /** Figure title. */
  title?: string;
}

/**
 * Density vs eigenvalue, one line per result: pass one result, a list of results (named `run 1`,
 * `run 2`, …) or `{name, result}` pairs (e.g. one per block from `groupByBlock`).
 */
export function spectralDensityFigure(
  results: Pick<SpectralDensityResult, "grid" | "density"> | readonly (Pick<SpectralDensityResult, "grid" | "density"> | NamedSpectralDensity)[],
  options: SpectralDensityFigureOptions = {},
): Figure {
  const list = Array.isArray(results) ? results : [results as Pick<SpectralDensityResult, "grid" | "density">];
  const named: NamedSpectralDensity[] = list.map((r, i) =>
    "result" in r ? r : { name: list.length === 1 ? "density" : `run ${i + 1}`, result: r },
  );
  for (const { name, result } of named) {
    if (!result || !Array.isArray(result.grid) || !Array.isArray(result.density) || result.grid.length !== result.density.length) {
      throw new Error(`spectralDensityFigure: ${name} is not a spectral density result ({grid, density} of equal length)`);
    }
  }
  const logScale = options.logScale ?? true;
  const floor = options.floor ?? 1e-7;
  if (!(floor >= 0) || !Number.isFinite(floor)) throw new Error(`option floor must be a non-negative finite number, got ${floor}`);
  return {
    data: named.map(({ name, result }, i) => ({
      type: "scatter",
      mode: "lines",
      name,
      x: result.grid,
      y: result.density.map((d) => (logScale ? d + floor : d)),
      line: { color: colorAt(i), width: 1.5 },
    })),
    layout: {
      title: title(options.title ?? "Hessian eigenvalue spectral density (stochastic Lanczos quadrature)"),
      xaxis: axis("Hessian eigenvalue λ"),
      yaxis: axis(logScale ? "density (log scale)" : "density", logScale ? { type: "log", exponentformat: "power" } : {}),
      showlegend: named.length > 1,
    },
  };
}
