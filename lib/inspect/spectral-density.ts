/**
 * The Hessian eigenvalue spectral density by stochastic Lanczos quadrature (SLQ; Ghorbani, Krishnan
 * & Xiao, ICML 2019; PyHessian's `density()`): m Lanczos steps (lanczos.ts) from a random unit
 * vector v give the m-node Gauss quadrature Σ_j w_j f(θ_j) ≈ vᵀf(H)v of the spectral measure of H
 * seen from v (nodes θ_j: the Ritz values; weights w_j: the squared first components of the
 * tridiagonal's eigenvectors). For a Rademacher (or Gaussian) v that is an unbiased estimate of
 * tr f(H)/n, so smoothing the nodes with a Gaussian kernel and averaging over a few runs estimates
 * the eigenvalue density φ(t) = (1/n) Σ_i δ(t − λ_i) of H. Restricting `vars` to one block (see
 * blocks.ts) gives that block's (per-layer) spectrum.
 */
import type * as tf from "@tensorflow/tfjs";
import { createHvp, type HvpMethod, type HvpOptions } from "./hvp.ts";
import { lanczos, type LanczosStart, type LanczosStop } from "./lanczos.ts";
import { deriveSeed, resolveSeed } from "./param-vector.ts";
import type { LongRunOptions } from "./progress.ts";
import { checkPositiveInt, checkPositiveNumber } from "../check.ts";

/** Options of {@link hessianSpectralDensity}. */
export interface SpectralDensityOptions extends HvpOptions, LongRunOptions {
  /** Independent Lanczos runs (random start vectors) averaged (default 1, as PyHessian). */
  runs?: number;
  /** Lanczos steps per run = quadrature nodes per run (default 30; capped at the number of parameters). */
  iterations?: number;
  /**
   * Standard deviation of the Gaussian kernel placed at every node. Default: PyHessian's width
   * √(1e-5·max(1, R)) (PyHessian calls the variance 1e-5·max(1, R) `sigma_squared`; R is the range
   * of the nodes), widened to at least 1.5 grid spacings so that every Gaussian is resolved by the
   * grid — then the density integrates to 1 on the grid without PyHessian's renormalisation.
   */
  sigma?: number;
  /** Number of grid points (default 1000). */
  gridPoints?: number;
  /** Seed of the start vectors (and of the `auto` method probe). */
  seed?: number;
  /** Start vector distribution (default `rademacher`). */
  start?: LanczosStart;
  /** Full re-orthogonalisation (default true). */
  reorthogonalize?: boolean;
  /** Breakdown tolerance (see {@link LanczosOptions.breakdownTol}). */
  breakdownTol?: number;
}

/** One Lanczos run of {@link hessianSpectralDensity}. */
export interface SpectralDensityRun {
  /** Ritz values, ascending. */
  nodes: number[];
  /** Their quadrature weights (sum 1). */
  weights: number[];
  /** The tridiagonal diagonal α (α_1 = vᵀHv/vᵀv for this run's start vector v). */
  alpha: number[];
  /** The tridiagonal off-diagonal β. */
  beta: number[];
  /** Why this run's Lanczos stopped. */
  stopReason: LanczosStop;
}

/** The result of {@link hessianSpectralDensity}. */
export interface SpectralDensityResult {
  /** All runs' nodes (concatenated in run order). */
  nodes: number[];
  /** Their weights divided by the number of runs (sum 1): the estimated spectral measure. */
  weights: number[];
  /** The eigenvalue grid, ascending and evenly spaced. */
  grid: number[];
  /** φ(t) = Σ_k weights_k · N(t; nodes_k, sigma²) on `grid` (integrates to ≈1). */
  density: number[];
  /** The Gaussian kernel's standard deviation. */
  sigma: number;
  /** The runs. */
  runs: SpectralDensityRun[];
  /** Number of parameters n (the density is of the n eigenvalues, each with mass 1/n). */
  dimension: number;
  /** How the Hessian-vector products were computed. */
  method: HvpMethod;
  /** Why `auto` fell back to finite differences, when it did. */
  fallbackReason?: string;
  /** True when the computation was interrupted (covers the runs and steps taken). */
  aborted: boolean;
}

/**
 * Smooths a discrete spectral measure (nodes with weights) into a density on an even grid: a sum of
 * Gaussians of standard deviation `sigma` (default as in {@link SpectralDensityOptions.sigma}). The
 * grid spans the nodes plus max(0.01, 5σ) on each side.
 */
export function gaussianSpectralDensity(
  nodes: readonly number[],
  weights: readonly number[],
  options: { sigma?: number; gridPoints?: number } = {},
): { grid: number[]; density: number[]; sigma: number } {
  const gridPoints = options.gridPoints ?? 1000;
  if (typeof gridPoints !== "number" || !Number.isInteger(gridPoints) || gridPoints < 2) {
    throw new Error(`option gridPoints must be an integer ≥ 2, got ${String(gridPoints)}`);
  }
  if (options.sigma !== undefined) checkPositiveNumber("option sigma", options.sigma);
  if (nodes.length !== weights.length) throw new Error(`gaussianSpectralDensity: ${nodes.length} nodes but ${weights.length} weights`);
  if (nodes.length === 0) throw new Error("gaussianSpectralDensity: no nodes");
  const lo = Math.min(...nodes);
  const hi = Math.max(...nodes);
  const range = hi - lo;
  const sigma = options.sigma ?? Math.max(Math.sqrt(1e-5 * Math.max(1, range)), (1.5 * range) / (gridPoints - 1));
  const margin = Math.max(0.01, 5 * sigma);
  const start = lo - margin;
  const step = (range + 2 * margin) / (gridPoints - 1);
  const grid = Array.from({ length: gridPoints }, (_, i) => start + i * step);
  const norm = 1 / (sigma * Math.sqrt(2 * Math.PI));
  const cutoff = 40 * sigma; // exp(−800) underflows: skip the far tails.
  const density = grid.map((x) => {
    let s = 0;
    for (let k = 0; k < nodes.length; k++) {
      const d = x - nodes[k];
      if (Math.abs(d) < cutoff) s += weights[k] * Math.exp((-d * d) / (2 * sigma * sigma));
    }
    return s * norm;
  });
  return { grid, density, sigma };
}

/**
 * The Hessian eigenvalue spectral density of `loss` w.r.t. `vars` by stochastic Lanczos quadrature
 * (Ghorbani et al. 2019; PyHessian `density()`): per run, `iterations` Lanczos steps from a random
 * start vector give nodes (Ritz values) and weights (squared first eigenvector components of T); the
 * runs' measures are averaged and smoothed by Gaussians on a grid. Restrict `vars` to one block for
 * that block's (per-layer) spectrum. Costs `runs · iterations` Hessian-vector products.
 */
export async function hessianSpectralDensity(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  options: SpectralDensityOptions = {},
): Promise<SpectralDensityResult> {
  const runs = options.runs ?? 1;
  checkPositiveInt("option runs", runs);
  const iterations = options.iterations ?? 30;
  checkPositiveInt("option iterations", iterations);
  const gridPoints = options.gridPoints ?? 1000;
  if (typeof gridPoints !== "number" || !Number.isInteger(gridPoints) || gridPoints < 2) {
    throw new Error(`option gridPoints must be an integer ≥ 2, got ${String(gridPoints)}`);
  }
  if (options.sigma !== undefined) checkPositiveNumber("option sigma", options.sigma);
  if (vars.length === 0) throw new Error("hessianSpectralDensity: vars is empty; pass the variables to differentiate");
  const seed = resolveSeed(options.seed);
  const hvp = await createHvp(loss, vars, { ...options, seed });
  const out: SpectralDensityRun[] = [];
  let aborted = false;
  for (let r = 0; r < runs && !aborted; r++) {
    const res = await lanczos(hvp, vars, {
      iterations,
      seed: deriveSeed(seed, 4000 + r),
      start: options.start,
      reorthogonalize: options.reorthogonalize,
      breakdownTol: options.breakdownTol,
      signal: options.signal,
      onProgress: options.onProgress,
      phase: runs > 1 ? `Hessian spectral density (Lanczos run ${r + 1}/${runs})` : "Hessian spectral density (Lanczos)",
    });
    out.push({ nodes: res.nodes, weights: res.weights, alpha: res.alpha, beta: res.beta, stopReason: res.stopReason });
    aborted = res.aborted;
  }
  const nodes = out.flatMap((r) => r.nodes);
  const weights = out.flatMap((r) => r.weights.map((w) => w / out.length));
  const { grid, density, sigma } = gaussianSpectralDensity(nodes, weights, { sigma: options.sigma, gridPoints });
  const result: SpectralDensityResult = {
    nodes,
    weights,
    grid,
    density,
    sigma,
    runs: out,
    dimension: vars.reduce((n, v) => n + v.size, 0),
    method: hvp.method,
    aborted,
  };
  if (hvp.fallbackReason) result.fallbackReason = hvp.fallbackReason;
  return result;
}
