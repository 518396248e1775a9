/**
 * The Lanczos method for the Hessian (the Ritz values and Gauss-quadrature weights behind the
 * spectral density of spectral-density.ts) and the top-k Hessian eigenvalues from it.
 *
 * m steps of Lanczos from a unit start vector v reduce the Hessian H to an m×m symmetric tridiagonal
 * matrix T = VᵀHV (V: the orthonormal Lanczos vectors, v its first column). The eigenvalues θ_j of T
 * (Ritz values) approximate the extreme eigenvalues of H after a few dozen steps — usually in far
 * fewer Hessian-vector products than power iteration — and, with the squared first components
 * w_j = s_{1j}² of T's eigenvectors, form the m-node Gauss quadrature of the spectral measure of H
 * seen from v: Σ_j w_j f(θ_j) ≈ vᵀf(H)v.
 *
 * Restricting `vars` to one block (see blocks.ts) gives that block's Hessian and so the per-layer
 * spectrum. Conventions follow hessian.ts: options are validated with errors naming the option,
 * progress is reported and the loop stops early on the cell's (or the given) abort signal, runs are
 * reproducible from `seed`, and no tensors are left behind. The Lanczos vectors are kept as flat
 * float32 tensors on the backend's device (m of them: m·n floats), and the tridiagonal eigenproblem
 * is solved in float64 on the CPU (linalg.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { createHvp, type HessianVectorProduct, type HvpMethod, type HvpOptions } from "./hvp.ts";
import {
  type ParamVector,
  deriveSeed,
  disposeVector,
  dot,
  flatten,
  gaussianVector,
  norm,
  orthogonalize,
  rademacherVector,
  resolveSeed,
  shapesOf,
  unflatten,
} from "./param-vector.ts";
import { symmetricTridiagonalEigen } from "./linalg.ts";
import { progressCheckpoint, type LongRunOptions } from "./progress.ts";
import { checkPositiveInt } from "../check.ts";

/** Distribution of the random Lanczos start vector. */
export type LanczosStart = "rademacher" | "gaussian";

/** Options of {@link lanczos}. */
export interface LanczosOptions extends LongRunOptions {
  /** Lanczos steps m (default 30); capped at the number of parameters, where T is exact. */
  iterations?: number;
  /** Seed of the random start vector (random when undefined). */
  seed?: number;
  /** Distribution of the random start vector: `rademacher` (±1, default, as PyHessian) or `gaussian`. */
  start?: LanczosStart;
  /** An explicit start vector (shaped like `vars`; normalised here, not disposed); overrides `start`/`seed`. */
  startVector?: ParamVector;
  /**
   * Re-orthogonalise every new Lanczos vector against all previous ones (classical Gram–Schmidt,
   * applied twice; default true). Without it, float32 round-off soon destroys orthogonality and
   * converged Ritz values reappear as spurious copies ("ghost" eigenvalues). It keeps all m vectors
   * (m·n floats: 13 GB for bert-base at m = 30); without it only the last two are kept.
   */
  reorthogonalize?: boolean;
  /**
   * Stop when the new residual norm β falls below `breakdownTol` times the largest ‖Hv‖ seen so far
   * (default 1e-5): the Krylov space is then invariant to float32 accuracy, and its Ritz values are
   * eigenvalues of H. Set 0 to stop only on an exactly zero β.
   */
  breakdownTol?: number;
  /** Text of the progress phase (default `"Lanczos"`). */
  phase?: string;
}

/** Why {@link lanczos} stopped. */
export type LanczosStop = "iterations" | "dimension" | "breakdown" | "aborted";

/** The result of {@link lanczos}. */
export interface LanczosResult {
  /** Diagonal of the tridiagonal matrix T: α_j = v_jᵀHv_j (length m). */
  alpha: number[];
  /** Off-diagonal of T: β_j = ‖residual‖ after step j (length m − 1). */
  beta: number[];
  /** Norm of the residual after the last step, β_m (≈0 at breakdown or when m is the dimension). */
  residualNorm: number;
  /** Ritz values: the eigenvalues of T, ascending (length m). */
  nodes: number[];
  /**
   * Quadrature weights: the squared first components of T's unit eigenvectors, in the order of
   * `nodes`; they sum to 1 and Σ w_j θ_j = α_1 = vᵀHv for the unit start vector v.
   */
  weights: number[];
  /**
   * Residual bound of each Ritz pair, β_m·|s_{mj}| = ‖H y_j − θ_j y_j‖ (in exact arithmetic; y_j the
   * Ritz vector): a small value means θ_j is within that distance of an eigenvalue of H.
   */
  residuals: number[];
  /** Lanczos steps taken, m. */
  iterations: number;
  /** Why the iteration stopped. */
  stopReason: LanczosStop;
  /** True when the abort signal stopped the iteration (the result covers the steps taken). */
  aborted: boolean;
}

/** The Ritz values, quadrature weights and residual bounds of the tridiagonal (alpha, beta). */
function ritz(alpha: number[], beta: number[], residualNorm: number): Pick<LanczosResult, "nodes" | "weights" | "residuals"> {
  const { values, vectors } = symmetricTridiagonalEigen(alpha, beta);
  const m = alpha.length;
  return {
    nodes: values,
    weights: vectors.map((s) => s[0] * s[0]),
    residuals: vectors.map((s) => Math.abs(residualNorm * s[m - 1])),
  };
}

/**
 * Lanczos tridiagonalisation of the Hessian behind `hvp` (e.g. {@link createHvp}; anything with an
 * `apply(v)` returning H·v as new tensors) over parameters shaped like `vars`, from a random unit start
 * vector (Rademacher by default, seeded) or `startVector`, with full re-orthogonalisation. Returns
 * the tridiagonal coefficients and the Ritz values/weights of T (see {@link LanczosResult}).
 *
 * Stops after `iterations` steps, at the dimension n (where T is similar to H), at breakdown (an
 * invariant Krylov space: then the Ritz values are exact eigenvalues, each repeated eigenvalue only
 * once — single-vector Lanczos cannot see multiplicities), or on the abort signal.
 */
export async function lanczos(
  hvp: Pick<HessianVectorProduct, "apply">,
  vars: readonly tf.Tensor[],
  options: LanczosOptions = {},
): Promise<LanczosResult> {
  const iterations = options.iterations ?? 30;
  checkPositiveInt("option iterations", iterations);
  const start = options.start ?? "rademacher";
  if (start !== "rademacher" && start !== "gaussian") {
    throw new Error(`option start must be "rademacher" or "gaussian", got ${JSON.stringify(start)}`);
  }
  const reorthogonalize = options.reorthogonalize ?? true;
  if (typeof reorthogonalize !== "boolean") throw new Error(`option reorthogonalize must be a boolean, got ${String(reorthogonalize)}`);
  const breakdownTol = options.breakdownTol ?? 1e-5;
  if (typeof breakdownTol !== "number" || !Number.isFinite(breakdownTol) || breakdownTol < 0) {
    throw new Error(`option breakdownTol must be a non-negative finite number, got ${String(breakdownTol)}`);
  }
  if (vars.length === 0) throw new Error("lanczos: vars is empty; pass the variables to differentiate");
  const shapes = shapesOf(vars);
  const dimension = vars.reduce((n, v) => n + v.size, 0);
  if (options.startVector) {
    const sv = options.startVector;
    if (sv.length !== vars.length || sv.some((t, i) => t.size !== vars[i].size)) {
      throw new Error("option startVector must have one tensor per variable, with the variables' sizes");
    }
  }
  const seed = options.startVector ? 0 : resolveSeed(options.seed);
  const m = Math.min(iterations, dimension);
  const phase = options.phase ?? "Lanczos";

  let v = await (async () => {
    const raw = options.startVector ?? (start === "gaussian" ? gaussianVector(shapes, seed) : rademacherVector(shapes, seed));
    const flat = flatten(raw);
    if (!options.startVector) disposeVector(raw);
    const n0 = await norm([flat]);
    if (!(n0 > 0) || !Number.isFinite(n0)) {
      flat.dispose();
      throw new Error(`option startVector must be a finite non-zero vector (its norm is ${n0})`);
    }
    const unit = tf.tidy(() => tf.div(flat, n0)) as tf.Tensor1D;
    flat.dispose();
    return unit;
  })();

  const basis: tf.Tensor1D[] = [v];
  const alpha: number[] = [];
  const beta: number[] = [];
  let residualNorm = 0;
  let scale = 0;
  let stopReason: LanczosStop = m < iterations ? "dimension" : "iterations";
  let aborted = false;
  try {
    for (let i = 0; i < m; i++) {
      const parts = unflatten(v, shapes);
      let hvParts: ParamVector;
      try {
        hvParts = await hvp.apply(parts);
      } finally {
        disposeVector(parts);
      }
      const hv = flatten(hvParts);
      disposeVector(hvParts);
      const a = await dot([hv], [v]);
      if (!Number.isFinite(a)) {
        hv.dispose();
        throw new Error(`lanczos: the Hessian-vector product is not finite at step ${i + 1} (vᵀHv = ${a})`);
      }
      scale = Math.max(scale, await norm([hv]));
      alpha.push(a);
      const prev = i > 0 ? basis[basis.length - 2] : undefined;
      const prevBeta = i > 0 ? beta[i - 1] : 0;
      let w = tf.tidy(() => {
        let r: tf.Tensor = tf.sub(hv, tf.mul(v, a));
        if (prev) r = tf.sub(r, tf.mul(prev, prevBeta));
        return r;
      }) as tf.Tensor1D;
      hv.dispose();
      if (reorthogonalize) {
        for (let pass = 0; pass < 2; pass++) {
          const [next] = await orthogonalize([w], basis.map((u) => [u]));
          w.dispose();
          w = next as tf.Tensor1D;
        }
      }
      const b = await norm([w]);
      residualNorm = b;
      const last = i === m - 1;
      const broke = !last && !(b > breakdownTol * scale);
      if (last || broke) {
        w.dispose();
        if (broke) stopReason = "breakdown";
      } else {
        beta.push(b);
        v = tf.tidy(() => tf.div(w, b)) as tf.Tensor1D;
        w.dispose();
        basis.push(v);
        // Without re-orthogonalisation only the last two vectors are needed (memory 3n, not m·n).
        if (!reorthogonalize && basis.length > 2) for (const old of basis.splice(0, basis.length - 2)) old.dispose();
      }
      if (await progressCheckpoint(options, { phase, done: i + 1, total: m })) {
        if (!last && !broke) {
          // The step's new vector is not used: T stays (i + 1)×(i + 1) with residual β.
          beta.pop();
          basis.pop()!.dispose();
        }
        aborted = true;
        stopReason = "aborted";
        break;
      }
      if (broke) break;
    }
  } finally {
    for (const u of basis) u.dispose();
  }
  return { alpha, beta, residualNorm, ...ritz(alpha, beta, residualNorm), iterations: alpha.length, stopReason, aborted };
}

/** Options of {@link hessianEigenvaluesLanczos}. */
export interface LanczosEigenOptions extends HvpOptions, LongRunOptions {
  /** Number of eigenvalues (default 1). */
  k?: number;
  /** Lanczos steps (default 30; capped at the number of parameters). */
  iterations?: number;
  /** Seed of the start vector (and of the `auto` method probe). */
  seed?: number;
  /** `largest` (default): the k algebraically largest eigenvalues; `magnitude`: the k largest in |λ|. */
  which?: "largest" | "magnitude";
  /** Start vector distribution (default `rademacher`). */
  start?: LanczosStart;
  /** Full re-orthogonalisation (default true). */
  reorthogonalize?: boolean;
  /** Breakdown tolerance (see {@link LanczosOptions.breakdownTol}). */
  breakdownTol?: number;
  /** A Ritz value counts as converged when its residual bound is at most `tol`·|θ| (default 1e-3). */
  tol?: number;
}

/** The result of {@link hessianEigenvaluesLanczos}. */
export interface LanczosEigenResult {
  /** The top-k Ritz values, largest (or largest in magnitude) first. */
  values: number[];
  /** Their residual bounds ‖Hy − θy‖ (small: converged). */
  residuals: number[];
  /** Whether each residual bound is at most `tol`·|θ|. */
  converged: boolean[];
  /** Estimated relative error of the finite-difference products, when they were used (hvp.ts). */
  hvpErrorEstimate?: number;
  /** Lanczos steps taken (Hessian-vector products, besides the `auto` probe). */
  iterations: number;
  /** Why Lanczos stopped. */
  stopReason: LanczosStop;
  /** How the Hessian-vector products were computed. */
  method: HvpMethod;
  /** Why `auto` fell back to finite differences, when it did. */
  fallbackReason?: string;
  /** True when the computation was interrupted (the Ritz values of the steps taken are returned). */
  aborted: boolean;
}

/**
 * The top-k Hessian eigenvalues of `loss` w.r.t. `vars` from the Ritz values of `iterations` Lanczos
 * steps — a faster alternative to power iteration ({@link hessianEigen}): the extreme eigenvalues
 * converge after a few dozen Hessian-vector products for all k at once. Fewer than k values come back
 * when the Krylov space is exhausted first (breakdown: repeated eigenvalues are found once). Restrict
 * `vars` to a block for that block's Hessian.
 */
export async function hessianEigenvaluesLanczos(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  options: LanczosEigenOptions = {},
): Promise<LanczosEigenResult> {
  const k = options.k ?? 1;
  checkPositiveInt("option k", k);
  const iterations = options.iterations ?? Math.max(30, k);
  checkPositiveInt("option iterations", iterations);
  const which = options.which ?? "largest";
  if (which !== "largest" && which !== "magnitude") throw new Error(`option which must be "largest" or "magnitude", got ${JSON.stringify(which)}`);
  const total = vars.reduce((n, v) => n + v.size, 0);
  if (k > total) throw new Error(`option k = ${k} exceeds the number of parameters (${total})`);
  if (k > iterations) throw new Error(`option k = ${k} exceeds option iterations = ${iterations}: Lanczos gives at most one value per step`);
  const tol = options.tol ?? 1e-3;
  if (!(tol > 0)) throw new Error(`option tol must be positive, got ${tol}`);
  const seed = resolveSeed(options.seed);
  const hvp = await createHvp(loss, vars, { ...options, seed });
  const res = await lanczos(hvp, vars, {
    iterations,
    seed: deriveSeed(seed, 5000),
    start: options.start,
    reorthogonalize: options.reorthogonalize,
    breakdownTol: options.breakdownTol,
    signal: options.signal,
    onProgress: options.onProgress,
    phase: "Hessian eigenvalues (Lanczos)",
  });
  const key = which === "largest" ? (j: number) => res.nodes[j] : (j: number) => Math.abs(res.nodes[j]);
  const order = res.nodes.map((_, j) => j).sort((a, b) => key(b) - key(a)).slice(0, k);
  const result: LanczosEigenResult = {
    values: order.map((j) => res.nodes[j]),
    residuals: order.map((j) => res.residuals[j]),
    converged: order.map((j) => res.residuals[j] <= tol * Math.abs(res.nodes[j])),
    iterations: res.iterations,
    stopReason: res.stopReason,
    method: hvp.method,
    aborted: res.aborted,
  };
  if (hvp.fallbackReason) result.fallbackReason = hvp.fallbackReason;
  if (hvp.errorEstimate !== undefined) result.hvpErrorEstimate = hvp.errorEstimate;
  return result;
}
