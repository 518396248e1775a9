/**
 * Hessian spectrum estimators (PyHessian-style) for any loss and any subset of variables: the top
 * eigenvalues by power iteration with deflation, the trace by Hutchinson's estimator with Rademacher
 * vectors, and the Hessian diagonal by the same estimator. Restricting `vars` to one block (see
 * blocks.ts) gives that block's Hessian (the per-layer sharpness view); {@link sharpnessByBlock}
 * tabulates it for every block.
 */
import * as tf from "@tensorflow/tfjs";
import type * as dfd from "danfojs-node";
import { newDataFrame } from "../danfo.ts";
import { createHvp, type HvpMethod, type HvpOptions } from "./hvp.ts";
import {
  type ParamVector,
  disposeVector,
  dot,
  gaussianVector,
  deriveSeed,
  norm,
  orthogonalize,
  rademacherVector,
  resolveSeed,
  scale,
  shapesOf,
  zerosLike,
} from "./param-vector.ts";
import { progressCheckpoint, type LongRunOptions } from "./progress.ts";
import { groupByBlock } from "./blocks.ts";
import { checkPositiveInt } from "../check.ts";

/** Options of {@link hessianEigen} / {@link topHessianEigenvalues}. */
export interface EigenOptions extends HvpOptions, LongRunOptions {
  /** Number of eigenvalues (default 1). */
  k?: number;
  /** Power iterations per eigenvalue at most (default 100). */
  maxIter?: number;
  /** Stop when the relative change of the eigenvalue estimate is below this (default 1e-3). */
  tol?: number;
  /** Seed of the start vectors (and of the `auto` method probe). */
  seed?: number;
  /** Also return the unit eigenvectors (default false). */
  returnVectors?: boolean;
}

/** The result of {@link hessianEigen}. */
export interface EigenResult {
  /** Eigenvalues, dominant (largest |λ|) first, as found by deflation. */
  values: number[];
  /** Unit eigenvectors (one tensor per variable), when `returnVectors` was set; caller disposes. */
  vectors?: ParamVector[];
  /** How the Hessian-vector products were computed. */
  method: HvpMethod;
  /** Why `auto` fell back to finite differences, when it did. */
  fallbackReason?: string;
  /** Power iterations used for each eigenvalue. */
  iterations: number[];
  /** Whether each eigenvalue met the tolerance before `maxIter`. */
  converged: boolean[];
  /**
   * Relative residual ‖H̃v − λv‖ / |λ| of each eigenvalue's last iterate (H̃: the Hessian deflated by
   * the eigenvectors found before it); small means v is close to an eigenvector, not only that λ
   * stopped changing.
   */
  residuals: number[];
  /** Estimated relative error of the finite-difference products, when they were used (hvp.ts). */
  hvpErrorEstimate?: number;
  /** True when the computation was interrupted (the values found so far are returned). */
  aborted: boolean;
}

/**
 * Top-k Hessian eigenvalues of `loss` w.r.t. `vars` by power iteration with deflation (each new
 * vector is kept orthogonal to the eigenvectors already found), as in PyHessian.
 */
export async function hessianEigen(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  options: EigenOptions = {},
): Promise<EigenResult> {
  const k = options.k ?? 1;
  const maxIter = options.maxIter ?? 100;
  const tol = options.tol ?? 1e-3;
  checkPositiveInt("option k", k);
  checkPositiveInt("option maxIter", maxIter);
  if (!(tol > 0)) throw new Error(`option tol must be positive, got ${tol}`);
  const total = vars.reduce((n, v) => n + v.size, 0);
  if (k > total) throw new Error(`option k = ${k} exceeds the number of parameters (${total})`);
  const seed = resolveSeed(options.seed);
  const hvp = await createHvp(loss, vars, { ...options, seed });
  const shapes = shapesOf(vars);
  const values: number[] = [];
  const vectors: ParamVector[] = [];
  const iterations: number[] = [];
  const converged: boolean[] = [];
  const residuals: number[] = [];
  let aborted = false;
  for (let j = 0; j < k && !aborted; j++) {
    const start = gaussianVector(shapes, deriveSeed(seed, 1000 + j));
    let v = await orthogonalize(start, vectors);
    disposeVector(start);
    const n0 = await norm(v);
    const unit = scale(v, 1 / n0);
    disposeVector(v);
    v = unit;
    let lambda = NaN;
    let residual = NaN;
    let done = false;
    let it = 0;
    while (it < maxIter && !done) {
      it++;
      const hv = await hvp.apply(v);
      const estimate = await dot(v, hv);
      const w = await orthogonalize(hv, vectors);
      disposeVector(hv);
      const wNorm = await norm(w);
      // v is a unit vector orthogonal to the deflation basis, so vᵀw = vᵀHv = estimate.
      residual = Math.sqrt(Math.max(0, wNorm * wNorm - estimate * estimate)) / Math.abs(estimate);
      if (wNorm === 0 || !Number.isFinite(wNorm)) {
        disposeVector(w);
        lambda = estimate;
        done = true;
        break;
      }
      disposeVector(v);
      v = scale(w, 1 / wNorm);
      disposeVector(w);
      if (Number.isFinite(lambda) && Math.abs(estimate - lambda) <= tol * (Math.abs(lambda) + 1e-12)) done = true;
      lambda = estimate;
      if (await progressCheckpoint(options, { phase: `Hessian eigenvalue ${j + 1}/${k}`, done: j * maxIter + it, total: k * maxIter })) {
        aborted = true;
        break;
      }
    }
    values.push(lambda);
    iterations.push(it);
    converged.push(done);
    residuals.push(residual);
    vectors.push(v);
  }
  const result: EigenResult = { values, method: hvp.method, iterations, converged, residuals, aborted };
  if (hvp.fallbackReason) result.fallbackReason = hvp.fallbackReason;
  if (hvp.errorEstimate !== undefined) result.hvpErrorEstimate = hvp.errorEstimate;
  if (options.returnVectors) result.vectors = vectors;
  else for (const v of vectors) disposeVector(v);
  return result;
}

/**
 * The `k` dominant Hessian eigenvalues of `loss` w.r.t. `vars`, largest first (power iteration with
 * deflation; `maxIter` iterations and relative tolerance `tol` per eigenvalue). Restrict `vars` to a
 * block for that block's Hessian.
 */
export async function topHessianEigenvalues(
  loss: () => tf.Scalar,
  vars: tf.Variable[],
  options: { k?: number; maxIter?: number; tol?: number; seed?: number } & HvpOptions & LongRunOptions = {},
): Promise<number[]> {
  return (await hessianEigen(loss, vars, options)).values;
}

/** Options of {@link hessianTraceEstimate} / {@link hessianTrace}. */
export interface TraceOptions extends HvpOptions, LongRunOptions {
  /** Number of Rademacher probe vectors (default 100). */
  samples?: number;
  /** Seed of the probe vectors. */
  seed?: number;
}

/** The result of {@link hessianTraceEstimate}. */
export interface TraceResult {
  /** Hutchinson estimate of tr(H): the mean of vᵀHv over the samples. */
  trace: number;
  /** Standard error of the mean (0 with one sample). */
  stdError: number;
  /** Samples used (fewer than asked when interrupted). */
  samples: number;
  /** How the Hessian-vector products were computed. */
  method: HvpMethod;
  /** Why `auto` fell back to finite differences, when it did. */
  fallbackReason?: string;
  /** True when the computation was interrupted. */
  aborted: boolean;
}

/** Hutchinson's trace estimate with Rademacher vectors, with its standard error and method. */
export async function hessianTraceEstimate(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  options: TraceOptions = {},
): Promise<TraceResult> {
  const samples = options.samples ?? 100;
  checkPositiveInt("option samples", samples);
  const seed = resolveSeed(options.seed);
  const hvp = await createHvp(loss, vars, { ...options, seed });
  const shapes = shapesOf(vars);
  const draws: number[] = [];
  let aborted = false;
  for (let s = 0; s < samples; s++) {
    const v = rademacherVector(shapes, deriveSeed(seed, 2000 + s));
    const hv = await hvp.apply(v);
    draws.push(await dot(v, hv));
    disposeVector(v);
    disposeVector(hv);
    if (await progressCheckpoint(options, { phase: "Hessian trace", done: s + 1, total: samples })) {
      aborted = true;
      break;
    }
  }
  const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
  const variance = draws.length > 1 ? draws.reduce((a, b) => a + (b - mean) ** 2, 0) / (draws.length - 1) : 0;
  const result: TraceResult = {
    trace: mean,
    stdError: Math.sqrt(variance / draws.length),
    samples: draws.length,
    method: hvp.method,
    aborted,
  };
  if (hvp.fallbackReason) result.fallbackReason = hvp.fallbackReason;
  return result;
}

/** Hutchinson estimate of the Hessian trace of `loss` w.r.t. `vars` (Rademacher vectors). */
export async function hessianTrace(
  loss: () => tf.Scalar,
  vars: tf.Variable[],
  options: { samples?: number; seed?: number } & HvpOptions & LongRunOptions = {},
): Promise<number> {
  return (await hessianTraceEstimate(loss, vars, options)).trace;
}

/**
 * Hutchinson estimate of the Hessian diagonal, E[v ⊙ Hv] over Rademacher v, per variable name
 * (used by the mask-criteria comparison).
 */
export async function hessianDiagonal(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  options: TraceOptions = {},
): Promise<Map<string, Float32Array>> {
  const samples = options.samples ?? 100;
  checkPositiveInt("option samples", samples);
  const seed = resolveSeed(options.seed);
  const hvp = await createHvp(loss, vars, { ...options, seed });
  const shapes = shapesOf(vars);
  let sum: ParamVector = zerosLike(vars);
  let done = 0;
  for (let s = 0; s < samples; s++) {
    const v = rademacherVector(shapes, deriveSeed(seed, 3000 + s));
    const hv = await hvp.apply(v);
    const next = sum.map((t, i) => tf.tidy(() => tf.add(t, tf.mul(v[i], hv[i]))));
    disposeVector(sum);
    disposeVector(v);
    disposeVector(hv);
    sum = next;
    done++;
    if (await progressCheckpoint(options, { phase: "Hessian diagonal", done, total: samples })) break;
  }
  const out = new Map<string, Float32Array>();
  const data = await Promise.all(sum.map((t) => t.data() as Promise<Float32Array>));
  vars.forEach((v, i) => out.set(v.name, data[i].map((x) => x / done)));
  disposeVector(sum);
  return out;
}

/** Options of {@link sharpnessByBlock}. */
export interface BlockSharpnessOptions extends HvpOptions, LongRunOptions {
  /** Eigenvalues per block (default 1; 0 skips them). */
  k?: number;
  /** Power iterations per eigenvalue (default 100). */
  maxIter?: number;
  /** Eigenvalue tolerance (default 1e-3). */
  tol?: number;
  /** Hutchinson samples per block (default 50; 0 skips the trace). */
  traceSamples?: number;
  /** Seed. */
  seed?: number;
  /** `component` (attention/FFN/LayerNorm per layer, default) or `layer` (one block per layer). */
  granularity?: "component" | "layer";
}

/** One row of {@link sharpnessByBlock}. */
export interface BlockSharpnessRow {
  /** Block id (blocks.ts). */
  block: string;
  /** Parameters in the block. */
  size: number;
  /** Dominant eigenvalue of the block's Hessian (NaN when `k` is 0). */
  topEigenvalue: number;
  /** Whether the power iteration for it met `tol` before `maxIter` (false when `k` is 0). */
  eigenConverged: boolean;
  /** Power iterations it used (0 when `k` is 0). */
  eigenIterations: number;
  /** Its relative residual ‖Hv − λv‖ / |λ| (NaN when `k` is 0). */
  eigenResidual: number;
  /** Hutchinson trace of the block's Hessian (NaN when `traceSamples` is 0). */
  trace: number;
  /** Trace divided by the block size (mean curvature per parameter). */
  tracePerParameter: number;
  /** Hessian-vector method used for the block. */
  method: HvpMethod;
}

/**
 * Per-block sharpness: for each block, the top eigenvalue(s) and the trace of the Hessian restricted
 * to that block's variables (all other variables held fixed). Returns the rows and a DataFrame.
 */
export async function sharpnessByBlock(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  options: BlockSharpnessOptions = {},
): Promise<{ rows: BlockSharpnessRow[]; table: dfd.DataFrame; aborted: boolean }> {
  const k = options.k ?? 1;
  const traceSamples = options.traceSamples ?? 50;
  const groups = groupByBlock(vars.map((v) => v.name), { granularity: options.granularity });
  const rows: BlockSharpnessRow[] = [];
  let aborted = false;
  let b = 0;
  for (const [block, names] of groups) {
    const blockVars = vars.filter((v) => names.includes(v.name));
    const size = blockVars.reduce((n, v) => n + v.size, 0);
    const phase = (p: string) => ({
      ...options,
      onProgress: options.onProgress && ((e: { done: number; total: number }) => options.onProgress!({ phase: `${block}: ${p}`, done: e.done, total: e.total })),
    });
    let topEigenvalue = NaN;
    let eigenConverged = false;
    let eigenIterations = 0;
    let eigenResidual = NaN;
    let trace = NaN;
    let method: HvpMethod = "double-backprop";
    if (k > 0) {
      const eig = await hessianEigen(loss, blockVars, { ...phase("eigenvalue"), k: Math.min(k, size), seed: options.seed === undefined ? undefined : deriveSeed(options.seed, b) });
      topEigenvalue = eig.values[0];
      eigenConverged = eig.converged[0];
      eigenIterations = eig.iterations[0];
      eigenResidual = eig.residuals[0];
      method = eig.method;
      aborted = eig.aborted;
    }
    if (traceSamples > 0 && !aborted) {
      const tr = await hessianTraceEstimate(loss, blockVars, { ...phase("trace"), samples: traceSamples, seed: options.seed === undefined ? undefined : deriveSeed(options.seed, b, 1) });
      trace = tr.trace;
      method = tr.method;
      aborted = tr.aborted;
    }
    rows.push({ block, size, topEigenvalue, eigenConverged, eigenIterations, eigenResidual, trace, tracePerParameter: trace / size, method });
    b++;
    if (aborted) break;
  }
  return { rows, table: newDataFrame(rows as unknown as Record<string, unknown>[]), aborted };
}
