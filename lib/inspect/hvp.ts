/**
 * Hessian-vector products H·v of a scalar loss with respect to a list of variables.
 *
 * Two methods:
 * - `double-backprop`: the gradient of ⟨∇L, v⟩, i.e. tfjs gradients of gradients. Exact where it
 *   works, but in tfjs 4.22 the gradient functions of several kernels are not themselves
 *   differentiable: those that reuse the op's output (exp, tanh, sigmoid, logSoftmax and so softmax
 *   cross-entropy) either throw or silently lose a term, softmax's custom gradient gives wrong second
 *   derivatives without an error, and ScatterNd (the gradient of lib/models' embedding lookup) has no
 *   gradient at all. Matmul, add/mul, relu, erf (exact GELU), pow, rsqrt, moments (LayerNorm) and
 *   gather are fine. So BERT always ends up on finite differences; quadratics and ReLU/GELU MLPs with
 *   an MSE loss get exact products.
 * - `finite-difference`: the central difference (∇L(w + h·v̂) − ∇L(w − h·v̂)) / (2h) · ‖v‖ of
 *   gradients, with step h = `fdStep` (default 1e-3 · max(1, ‖w‖)); two gradient evaluations per product.
 *
 * `auto` (the default) tries double back-propagation on a seeded probe vector and keeps it only when it
 * runs and agrees with the finite difference to `probeTolerance`; otherwise it falls back to finite
 * differences and says why. Variables are always restored bit-exactly after a finite difference.
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
} from "./param-vector.ts";

/** How Hessian-vector products are computed. */
export type HvpMethod = "double-backprop" | "finite-difference";

/** Options of {@link createHvp}. */
export interface HvpOptions {
  /** `auto` (default): double back-propagation when it runs and is verified, else finite differences. */
  method?: HvpMethod | "auto";
  /** Norm of the finite-difference perturbation h; default 1e-3 · max(1, ‖w‖). */
  fdStep?: number;
  /** Largest relative disagreement between the two methods on the probe that `auto` accepts (1e-2). */
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

/** H·v by differentiating ⟨∇L, v⟩ (throws when tfjs cannot differentiate a gradient). */
export function doubleBackpropHvp(loss: () => tf.Scalar, vars: readonly tf.Variable[], v: ParamVector): ParamVector {
  try {
    return doubleBackpropHvpUnguarded(loss, vars, v);
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

/** H·v by a central difference of gradients with perturbation norm `step`; restores the variables. */
export async function finiteDifferenceHvp(
  loss: () => tf.Scalar,
  vars: readonly tf.Variable[],
  v: ParamVector,
  step: number,
): Promise<ParamVector> {
  const vNorm = await norm(v);
  if (vNorm === 0) return vars.map((x) => tf.zerosLike(x));
  const h = step / vNorm;
  const base = snapshot(vars);
  try {
    assignOffset(vars, base, [v], [h]);
    const plus = gradients(loss, vars);
    assignOffset(vars, base, [v], [-h]);
    const minus = gradients(loss, vars);
    const out = linearCombination(1 / (2 * h), plus, -1 / (2 * h), minus);
    disposeVector(plus);
    disposeVector(minus);
    return out;
  } finally {
    assignAll(vars, base);
    disposeVector(base);
  }
}

/** Default finite-difference step: 1e-3 · max(1, ‖w‖). */
async function defaultStep(vars: readonly tf.Variable[]): Promise<number> {
  return 1e-3 * Math.max(1, await norm(vars.slice()));
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
  if (options.fdStep !== undefined && !(options.fdStep > 0)) {
    throw new Error(`option fdStep must be a positive number, got ${options.fdStep}`);
  }
  const tolerance = options.probeTolerance ?? 1e-2;
  const fdStep = options.fdStep ?? (await defaultStep(vars));
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
      const fd = await finiteDifferenceHvp(loss, vars, probe, fdStep);
      const diff = linearCombination(1, exact, -1, fd);
      const fdNorm = await norm(fd);
      probeError = fdNorm === 0 && (await norm(exact)) === 0 ? 0 : (await norm(diff)) / Math.max(fdNorm, 1e-30);
      [diff, exact, fd].forEach(disposeVector);
      if (!(probeError <= tolerance)) {
        method = "finite-difference";
        fallbackReason = `double back-propagation disagrees with finite differences by ${probeError.toExponential(2)} (relative) on a probe vector: tfjs gradients of some kernel's gradient are incomplete`;
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
    async apply(v: ParamVector): Promise<ParamVector> {
      if (v.length !== vars.length) throw new Error(`hvp: vector has ${v.length} parts for ${vars.length} variables`);
      count++;
      return method === "double-backprop" ? doubleBackpropHvp(loss, vars, v) : finiteDifferenceHvp(loss, vars, v, fdStep);
    },
  };
}
