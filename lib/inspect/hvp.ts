/**
 * Hessian-vector products H·v of a scalar loss with respect to a list of variables.
 *
 * Two methods:
 * - `double-backprop`: the gradient of ⟨∇L, v⟩, i.e. tfjs gradients of gradients (Pearlmutter's
 *   exact product, by reverse over reverse). tfjs 4.22's own gradients of exp, tanh, sigmoid and
 *   softmax cannot be differentiated again and ScatterNd / Equal have none, so the computation runs
 *   under {@link withSecondOrderGradients}, which swaps in twice-differentiable ones
 *   (second-order-gradients.ts). That covers every kernel of lib/models' BERT; what is still
 *   missing elsewhere (`tf.logSoftmax`, `tf.losses.softmaxCrossEntropy`: customGrad functions)
 *   either throws or is caught by `auto`'s probe.
 * - `finite-difference`: central differences D(h) of gradients along v̂ = v/‖v‖ with perturbation
 *   norm h = `fdStep`, relative to the weights: by default Richardson-extrapolated from the steps h and
 *   h/2 — (4·D(h/2) − D(h))/3, truncation error O(h⁴) instead of O(h²), four gradients per product —
 *   with h = 1e-2 · max(1, ‖w‖) over the variables passed, and the relative error estimate
 *   (4/3)‖D(h/2) − D(h)‖ / ‖H·v‖ reported as `errorEstimate`. That estimate covers both regimes
 *   float32 differences live in: where truncation dominates it is about the plain D(h)'s error (well
 *   above the extrapolated one); where rounding noise dominates (≈ 1/h) it is about the extrapolated
 *   error itself. `fdRichardson: false` gives the plain two-gradient D(h) with h = 1e-3 · max(1, ‖w‖)
 *   and no estimate. (bert-tiny, 40 Adam steps into training, relative error against exact products:
 *   plain 1.7e-4 at 1e-3·‖w‖; Richardson 5.8e-5 at 1e-2·‖w‖, estimated 6.4e-5; bench/hvp.ts.)
 *
 * `auto` (the default) tries double back-propagation on a seeded probe vector and keeps it only when it
 * runs and agrees with the finite difference (to `probeTolerance`, or twice the finite difference's own
 * error estimate when that is larger); otherwise it falls back to finite differences and says why.
 * Variables are always restored bit-exactly after a finite difference.
 */
import * as tf from "@tensorflow/tfjs";
import {
  type ParamVector,
  assignAll,
  assignOffset,
  disposeVector,
  gaussianVector,
  linearCombination,
  norm,
  resolveSeed,
  shapesOf,
  snapshot,
  zerosLike,
} from "./param-vector.ts";
import { withSecondOrderGradients } from "./second-order-gradients.ts";
import { checkPositiveNumber } from "../check.ts";

/** How Hessian-vector products are computed. */
export type HvpMethod = "double-backprop" | "finite-difference";

/** Options of {@link createHvp}. */
export interface HvpOptions {
  /** `auto` (default): double back-propagation when it runs and is verified, else finite differences. */
  method?: HvpMethod | "auto";
  /** Norm of the finite-difference perturbation h; default 1e-2 · max(1, ‖w‖) (1e-3 · … without Richardson). */
  fdStep?: number;
  /** Richardson-extrapolate finite differences from h and h/2 and estimate their error (default true). */
  fdRichardson?: boolean;
  /**
   * Largest relative disagreement between the two methods on the probe that `auto` accepts (1e-3,
   * or twice the finite difference's error estimate when that is larger).
   */
  probeTolerance?: number;
  /** Seed of the probe vector. */
  seed?: number;
}

/** A Hessian-vector product operator for one loss and variable list. */
export interface HessianVectorProduct {
  /** The method in use. */
  readonly method: HvpMethod;
  /** Why `auto` fell back to finite differences (undefined when it did not). */
  readonly fallbackReason?: string;
  /** Relative disagreement ‖H_dbp v − H_fd v‖ / ‖H_fd v‖ on the probe, when `auto` measured it. */
  readonly probeError?: number;
  /** The finite-difference step in use (perturbation norm). */
  readonly fdStep: number;
  /**
   * Largest estimated relative error ‖error‖ / ‖H·v‖ of the Richardson-extrapolated finite
   * differences computed so far (including `auto`'s probe); undefined for double back-propagation,
   * which is exact up to float32 rounding, and for plain differences, which give no estimate.
   */
  readonly errorEstimate?: number;
  /** Number of products computed so far. */
  readonly count: number;
  /** H·v as new tensors (caller disposes), one per variable. */
  apply(v: ParamVector): Promise<ParamVector>;
}

/** The gradient of `loss` w.r.t. `vars` (zeros for variables the loss does not depend on). */
export function gradients(loss: () => tf.Scalar, vars: readonly tf.Variable[]): ParamVector {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(checkedLoss(loss), vars as tf.Variable[]);
    value.dispose();
    return vars.map((v) => (grads[v.name] ? grads[v.name] : tf.zerosLike(v)));
  });
}

/** Wraps a loss so a non-scalar result gets a clear error. */
function checkedLoss(loss: () => tf.Scalar): () => tf.Scalar {
  return () => {
    const value = loss();
    if (!(value instanceof tf.Tensor) || value.rank !== 0) {
      throw new Error(`loss must return a scalar tf.Tensor, got ${value instanceof tf.Tensor ? `shape [${value.shape}]` : typeof value}`);
    }
    return value;
  };
}

/**
 * When tfjs throws in the middle of back-propagation, its gradient tape keeps the tensors it saved
 * for the backward pass (they are exempt from `tidy`) and stays active. Frees them and closes the
 * tape, as a successful `gradients()` call would (tfjs 4.22 engine state).
 */
function releaseAbandonedTape(): void {
  type TapeNode = { saved?: tf.Tensor[] };
  const state = (tf.engine() as unknown as { state: { activeTape: TapeNode[] | null; gradientDepth: number } }).state;
  if (state.gradientDepth !== 0 || !state.activeTape) return;
  for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
  state.activeTape = null;
}

/**
 * H·v by differentiating ⟨∇L, v⟩, with the twice-differentiable gradients of
 * second-order-gradients.ts (throws when tfjs cannot differentiate a gradient).
 */
export function doubleBackpropHvp(loss: () => tf.Scalar, vars: readonly tf.Variable[], v: ParamVector): ParamVector {
  try {
    return withSecondOrderGradients(() => doubleBackpropHvpUnguarded(loss, vars, v));
  } catch (err) {
    releaseAbandonedTape();
    throw err;
  }
}

function doubleBackpropHvpUnguarded(loss: () => tf.Scalar, vars: readonly tf.Variable[], v: ParamVector): ParamVector {
  return tf.tidy(() => {
    const list = vars as tf.Variable[];
    const inner = checkedLoss(loss);
    const { value, grads } = tf.variableGrads(() => {
      const { value: l, grads: g } = tf.variableGrads(inner, list);
      l.dispose();
      const terms = list.filter((x) => g[x.name]).map((x) => tf.sum(tf.mul(g[x.name], v[list.indexOf(x)])));
      if (terms.length === 0) throw new Error("the loss does not depend on any of the variables");
      return tf.addN(terms) as tf.Scalar;
    }, list);
    value.dispose();
    return list.map((x) => (grads[x.name] ? grads[x.name] : tf.zerosLike(x)));
  });
}

/** (∇L(base + t·v) − ∇L(base − t·v)) / (2t), leaving the variables at base − t·v. */
function centralDifference(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  base: ParamVector,
  v: ParamVector,
  t: number,
): ParamVector {
  assignOffset(vars, base, [v], [t]);
  const plus = gradients(loss, vars);
  assignOffset(vars, base, [v], [-t]);
  const minus = gradients(loss, vars);
  const out = linearCombination(1 / (2 * t), plus, -1 / (2 * t), minus);
  disposeVector(plus);
  disposeVector(minus);
  return out;
}

/** Runs `fn` on a snapshot of the variables and restores them bit-exactly afterwards. */
function withRestoredVariables<T>(vars: readonly tf.Variable[], fn: (base: ParamVector) => T): T {
  const base = snapshot(vars);
  try {
    return fn(base);
  } finally {
    assignAll(vars, base);
    disposeVector(base);
  }
}

/** H·v by a central difference of gradients with perturbation norm `step`; restores the variables. */
export async function finiteDifferenceHvp(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  v: ParamVector,
  step: number,
): Promise<ParamVector> {
  const vNorm = await norm(v);
  if (vNorm === 0) return zerosLike(vars);
  return withRestoredVariables(vars, (base) => centralDifference(loss, vars, base, v, step / vNorm));
}

/** A finite-difference H·v with its estimated relative error. */
export interface EstimatedProduct {
  /** H·v, one tensor per variable (caller disposes). */
  product: ParamVector;
  /** Estimated ‖error‖ / ‖H·v‖ (0 when H·v and the estimate are both 0). */
  relativeError: number;
}

/**
 * H·v by Richardson extrapolation of central differences with perturbation norms `step` and
 * `step`/2: (4·D(h/2) − D(h))/3, whose O(h²) truncation error cancels. The relative error estimate is
 * (4/3)‖D(h/2) − D(h)‖ / ‖H·v‖: with truncation error c·h², D(h/2) − D(h) ≈ −¾c·h², so the estimate
 * is about D(h)'s own error, far above the extrapolated one; with independent rounding noise of norm
 * n/h in D(h) (so 2n/h in D(h/2)), the extrapolated error is ≈ 2.69·n/h and the estimate ≈ 2.98·n/h.
 * Four gradient evaluations; restores the variables.
 */
export async function richardsonHvp(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  v: ParamVector,
  step: number,
): Promise<EstimatedProduct> {
  const vNorm = await norm(v);
  if (vNorm === 0) return { product: zerosLike(vars), relativeError: 0 };
  const [coarse, fine] = withRestoredVariables(vars, (base) => [
    centralDifference(loss, vars, base, v, step / vNorm),
    centralDifference(loss, vars, base, v, step / (2 * vNorm)),
  ]);
  const product = linearCombination(4 / 3, fine, -1 / 3, coarse);
  const change = linearCombination(1, fine, -1, coarse);
  const size = await norm(product);
  const error = (4 / 3) * (await norm(change));
  [coarse, fine, change].forEach(disposeVector);
  return { product, relativeError: error === 0 ? 0 : error / size };
}

/** Default finite-difference step: 1e-2 · max(1, ‖w‖) for Richardson, 1e-3 · max(1, ‖w‖) for plain differences. */
async function defaultStep(vars: readonly tf.Variable[], richardson: boolean): Promise<number> {
  return (richardson ? 1e-2 : 1e-3) * Math.max(1, await norm(vars.slice()));
}

/** Builds a Hessian-vector product operator, choosing the method as described in the module doc. */
export async function createHvp(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  options: HvpOptions = {},
): Promise<HessianVectorProduct> {
  if (vars.length === 0) throw new Error("createHvp: vars is empty; pass the variables to differentiate");
  const requested = options.method ?? "auto";
  if (!["auto", "double-backprop", "finite-difference"].includes(requested)) {
    throw new Error(`option method must be "auto", "double-backprop" or "finite-difference", got ${JSON.stringify(requested)}`);
  }
  if (options.fdStep !== undefined) checkPositiveNumber("option fdStep", options.fdStep);
  if (options.fdRichardson !== undefined && typeof options.fdRichardson !== "boolean") {
    throw new Error(`option fdRichardson must be a boolean, got ${JSON.stringify(options.fdRichardson)}`);
  }
  const tolerance = options.probeTolerance ?? 1e-3;
  const richardson = options.fdRichardson ?? true;
  const fdStep = options.fdStep ?? (await defaultStep(vars, richardson));
  let errorEstimate: number | undefined;
  const finiteDifference = async (v: ParamVector): Promise<ParamVector> => {
    if (!richardson) return finiteDifferenceHvp(loss, vars, v, fdStep);
    const { product, relativeError } = await richardsonHvp(loss, vars, v, fdStep);
    errorEstimate = Math.max(errorEstimate ?? 0, relativeError);
    return product;
  };
  let method: HvpMethod = requested === "auto" ? "double-backprop" : requested;
  let fallbackReason: string | undefined;
  let probeError: number | undefined;
  if (requested === "auto") {
    const probe = gaussianVector(shapesOf(vars), resolveSeed(options.seed));
    let exact: ParamVector | undefined;
    try {
      exact = doubleBackpropHvp(loss, vars, probe);
    } catch (err) {
      method = "finite-difference";
      fallbackReason = `tfjs cannot differentiate the gradient: ${(err as Error).message}`;
    }
    if (exact) {
      const fd = await finiteDifference(probe);
      const diff = linearCombination(1, exact, -1, fd);
      const fdNorm = await norm(fd);
      probeError = fdNorm === 0 && (await norm(exact)) === 0 ? 0 : (await norm(diff)) / Math.max(fdNorm, 1e-30);
      [diff, exact, fd].forEach(disposeVector);
      const accepted = Math.max(tolerance, 2 * (errorEstimate ?? 0));
      if (!(probeError <= accepted)) {
        method = "finite-difference";
        fallbackReason = `double back-propagation disagrees with finite differences by ${probeError.toExponential(2)} (relative) on a probe vector: tfjs gradients of some kernel's gradient are incomplete`;
      } else {
        errorEstimate = undefined;
      }
    }
    disposeVector(probe);
  }
  let count = 0;
  return {
    method,
    fallbackReason,
    probeError,
    fdStep,
    get count() {
      return count;
    },
    get errorEstimate() {
      return errorEstimate;
    },
    async apply(v: ParamVector): Promise<ParamVector> {
      if (v.length !== vars.length) throw new Error(`hvp: vector has ${v.length} parts for ${vars.length} variables`);
      count++;
      return method === "double-backprop" ? doubleBackpropHvp(loss, vars, v) : finiteDifference(v);
    },
  };
}
