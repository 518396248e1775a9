/**
 * Float64 reference computations shared by the optimizer tests: hand-derived gradients of a
 * quadratic and a tiny MLP, and one SAM/ASAM/GSAM + SGD step written out in plain arithmetic.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";

/** A flat parameter vector. */
export type Vec = number[];
/** Inner product. */
export const dot = (a: Vec, b: Vec) => a.reduce((s, x, i) => s + x * b[i], 0);
/** Euclidean norm. */
export const norm = (a: Vec) => Math.sqrt(dot(a, a));
/** Element-wise sum. */
export const add = (a: Vec, b: Vec) => a.map((x, i) => x + b[i]);
/** Scalar multiple. */
export const scale = (a: Vec, s: number) => a.map((x) => x * s);

/** float64 reference of one SAM/ASAM/GSAM + SGD step for a loss with gradient `grad` on flat w. */
export function referenceStep(
  w: Vec,
  grad: (w: Vec) => Vec,
  o: { rho: number; lr: number; adaptive?: boolean; eta?: number; alpha?: number },
): Vec {
  const g = grad(w);
  let e: Vec;
  if (o.adaptive) {
    const t = w.map((x) => Math.abs(x) + (o.eta ?? 0));
    const tg = g.map((x, i) => x * t[i]);
    e = tg.map((x, i) => (o.rho * x * t[i]) / (norm(tg) + 1e-12));
  } else {
    e = scale(g, o.rho / (norm(g) + 1e-12));
  }
  let gp = grad(add(w, e));
  if (o.alpha) {
    const c = dot(g, gp) / dot(gp, gp);
    const orth = g.map((x, i) => x - c * gp[i]);
    gp = gp.map((x, i) => x - o.alpha! * orth[i]);
  }
  return w.map((x, i) => x - o.lr * gp[i]);
}

/** Asserts |actual − expected| ≤ tol·max(1, |expected|) element-wise. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= tol * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

// Quadratic over two variables: L = ½ Σ a_j w_j² + Σ b_j w_j (u has 3 entries, v has 2).
/** Quadratic curvatures a. */
export const qa = [1, 2, 0.5, 3, 1.5];
/** Quadratic linear terms b. */
export const qb = [0.3, -0.2, 0.1, 0.4, -0.5];
/** Quadratic starting point. */
export const q0 = [0.5, -1, 2, 0.25, -0.75];
/** Quadratic gradient a⊙w + b. */
export const quadGrad = (w: Vec) => w.map((x, i) => qa[i] * x + qb[i]);
/** Quadratic loss. */
export const quadLoss = (w: Vec) => w.reduce((s, x, i) => s + 0.5 * qa[i] * x * x + qb[i] * x, 0);

/** The quadratic as tfjs variables u (3) and v (2) with its loss closure. */
export function quadraticProblem() {
  const u = tf.variable(tf.tensor1d(q0.slice(0, 3)));
  const v = tf.variable(tf.tensor1d(q0.slice(3)));
  const a = tf.tensor1d(qa);
  const b = tf.tensor1d(qb);
  const f = () =>
    tf.tidy(() => {
      const w = tf.concat([u, v]);
      return tf.add(tf.sum(tf.mul(0.5, tf.mul(a, tf.square(w)))), tf.sum(tf.mul(b, w))) as tf.Scalar;
    });
  const read = () => [...u.dataSync(), ...v.dataSync()];
  const dispose = () => tf.dispose([u, v, a, b]);
  return { vars: [u, v], f, read, dispose };
}

// Tiny MLP: h = tanh(X W1 + b1), y = h W2 + b2, L = mean((y − t)²); X is 4×2, W1 2×3, W2 3×1.
/** MLP inputs. */
export const X = [[0.5, -1], [1.5, 0.2], [-0.3, 0.8], [1, 1]];
/** MLP targets. */
export const T = [0.2, -0.4, 1, 0.5];
/** MLP starting parameters, flat: W1 (row-major), b1, W2, b2. */
export const mlp0 = [0.1, -0.2, 0.3, 0.4, 0.5, -0.6, /* b1 */ 0.05, -0.05, 0.1, /* W2 */ 0.7, -0.3, 0.2, /* b2 */ 0.1];

/** Loss (mean over `rows`) and its gradient of the MLP in float64, by hand-written backpropagation. */
export function mlpLossGrad(p: Vec, rows: number[] = [0, 1, 2, 3]): { loss: number; grad: Vec } {
  const W1 = (i: number, j: number) => p[i * 3 + j];
  const b1 = (j: number) => p[6 + j];
  const W2 = (j: number) => p[9 + j];
  const b2 = p[12];
  const grad = new Array(13).fill(0);
  let loss = 0;
  const n = rows.length;
  rows.forEach((r) => {
    const x = X[r];
    const h = [0, 1, 2].map((j) => Math.tanh(x[0] * W1(0, j) + x[1] * W1(1, j) + b1(j)));
    const y = h.reduce((s, hj, j) => s + hj * W2(j), b2);
    loss += (y - T[r]) ** 2 / n;
    const dy = (2 * (y - T[r])) / n;
    for (let j = 0; j < 3; j++) {
      grad[9 + j] += dy * h[j];
      const dz = dy * W2(j) * (1 - h[j] * h[j]);
      grad[0 * 3 + j] += dz * x[0];
      grad[1 * 3 + j] += dz * x[1];
      grad[6 + j] += dz;
    }
    grad[12] += dy;
  });
  return { loss, grad };
}

/**
 * The MLP as tfjs variables with its full-batch loss `f`, the loss `exampleLoss(i)` of example i
 * alone, and the per-example losses `perExample(indices?)`.
 */
export function mlpProblem() {
  const W1 = tf.variable(tf.tensor2d(mlp0.slice(0, 6), [2, 3]));
  const b1 = tf.variable(tf.tensor1d(mlp0.slice(6, 9)));
  const W2 = tf.variable(tf.tensor2d(mlp0.slice(9, 12), [3, 1]));
  const b2 = tf.variable(tf.tensor1d(mlp0.slice(12)));
  const x = tf.tensor2d(X);
  const t = tf.tensor2d(T, [4, 1]);
  const lossOn = (xs: tf.Tensor2D, ts: tf.Tensor2D) =>
    tf.tidy(() => {
      const h = tf.tanh(tf.add(tf.matMul(xs, W1), b1));
      const y = tf.add(tf.matMul(h, W2), b2);
      return tf.mean(tf.square(tf.sub(y, ts))) as tf.Scalar;
    });
  const f = () => lossOn(x, t);
  const exampleLoss = (i: number) => tf.tidy(() => lossOn(tf.slice(x, [i, 0], [1, 2]), tf.slice(t, [i, 0], [1, 1])));
  /** Squared errors of the examples at `indices` (all four when absent), as ESAM takes them. */
  const perExample = (indices?: tf.Tensor1D) =>
    tf.tidy(() => {
      const xs = indices ? tf.gather(x, indices) : x;
      const ts = indices ? tf.gather(t, indices) : t;
      const h = tf.tanh(tf.add(tf.matMul(xs, W1), b1));
      return tf.reshape(tf.square(tf.sub(tf.add(tf.matMul(h, W2), b2), ts)), [-1]) as tf.Tensor1D;
    });
  const vars: tf.Variable[] = [W1, b1, W2, b2];
  const read = () => vars.flatMap((v) => [...v.dataSync()]);
  const dispose = () => tf.dispose([...vars, x, t]);
  return { vars, f, exampleLoss, perExample, read, dispose };
}
