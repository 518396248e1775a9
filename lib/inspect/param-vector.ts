/**
 * A point or direction in parameter space as a list of tensors, one per variable, and the vector
 * algebra the Hessian and landscape code needs (dot products, norms, axpy, Gram–Schmidt, flattening
 * to one 1-D tensor, random vectors, applying a point to the variables). Results that are tensors
 * are new; callers dispose them.
 */
import * as tf from "@tensorflow/tfjs";
import { gaussianArray, mixSeed, rademacherArray } from "../counter-random.ts";

/** One tensor per variable, same shapes and order as the variable list. */
export type ParamVector = tf.Tensor[];

/** Disposes every tensor of the vector. */
export function disposeVector(v: ParamVector): void {
  for (const t of v) t.dispose();
}

/** Σ_i ⟨a_i, b_i⟩ as a scalar tensor (call inside a tidy). */
function dotTensor(a: ParamVector, b: ParamVector): tf.Scalar {
  return tf.addN(a.map((t, i) => tf.sum(tf.mul(t, b[i])))) as tf.Scalar;
}

/** Zeros shaped like each tensor of `like` (new tensors). */
export function zerosLike(like: readonly tf.Tensor[]): ParamVector {
  return like.map((t) => tf.zerosLike(t));
}

/** Σ_i ⟨a_i, b_i⟩ as a number (read asynchronously, as every backend allows). */
export async function dot(a: ParamVector, b: ParamVector): Promise<number> {
  if (a.length !== b.length) throw new Error(`dot: vectors have ${a.length} and ${b.length} parts`);
  if (a.length === 0) return 0;
  const total = tf.tidy(() => dotTensor(a, b));
  try {
    return (await total.data())[0];
  } finally {
    total.dispose();
  }
}

/** The Euclidean norm over all parts. */
export async function norm(a: ParamVector): Promise<number> {
  return Math.sqrt(await dot(a, a));
}

/** α·a + β·b (new tensors). */
export function linearCombination(alpha: number, a: ParamVector, beta: number, b: ParamVector): ParamVector {
  return a.map((t, i) => tf.tidy(() => tf.add(tf.mul(t, alpha), tf.mul(b[i], beta))));
}

/** α·a (new tensors). */
export function scale(a: ParamVector, alpha: number): ParamVector {
  return a.map((t) => tf.mul(t, alpha));
}

/**
 * `w − Σ_j ⟨u_j, w⟩·u_j` over the orthonormal `basis` (classical Gram–Schmidt: all coefficients from
 * one read-back; apply it twice for full re-orthogonalisation); new tensors.
 */
export async function orthogonalize(w: ParamVector, basis: readonly ParamVector[]): Promise<ParamVector> {
  let out = w.map((t) => t.clone());
  if (basis.length === 0) return out;
  const stacked = tf.tidy(() => tf.stack(basis.map((u) => dotTensor(u, w))));
  const coefficients = await stacked.data();
  stacked.dispose();
  basis.forEach((u, j) => {
    if (coefficients[j] === 0) return;
    const next = linearCombination(1, out, -coefficients[j], u);
    disposeVector(out);
    out = next;
  });
  return out;
}

/** Flattens a parameter vector into one 1-D tensor (new). */
export function flatten(v: ParamVector): tf.Tensor1D {
  return tf.tidy(() => (v.length === 1 ? v[0].reshape([-1]).clone() : tf.concat(v.map((t) => t.reshape([-1]))))) as tf.Tensor1D;
}

/** Splits a flat 1-D tensor into tensors of the given shapes (new). */
export function unflatten(flat: tf.Tensor1D, shapes: readonly number[][]): ParamVector {
  const sizes = shapes.map(sizeOf);
  return tf.tidy(() => {
    const parts = shapes.length === 1 ? [flat] : tf.split(flat, sizes);
    return parts.map((p, i) => p.reshape(shapes[i]));
  });
}

/** Copies of the variables' current values. */
export function snapshot(vars: readonly tf.Variable[]): ParamVector {
  return vars.map((v) => v.clone());
}

/** Assigns `values[i]` to `vars[i]`. */
export function assignAll(vars: readonly tf.Variable[], values: ParamVector): void {
  vars.forEach((v, i) => v.assign(values[i]));
}

/** Assigns `base + Σ_k coefficients[k]·directions[k]` to the variables. */
export function assignOffset(
  vars: readonly tf.Variable[],
  base: ParamVector,
  directions: readonly ParamVector[],
  coefficients: readonly number[],
): void {
  vars.forEach((v, i) =>
    tf.tidy(() => {
      let x: tf.Tensor = base[i];
      directions.forEach((d, k) => {
        if (coefficients[k] !== 0) x = tf.add(x, tf.mul(d[i], coefficients[k]));
      });
      v.assign(x);
    }),
  );
}

/**
 * A per-call seed derived from a base seed and counters (SplitMix64 mixing, lib/counter-random.ts):
 * different base seeds or counters give unrelated seeds, so seeded runs are reproducible and their
 * random vectors independent.
 */
export function deriveSeed(seed: number, ...counters: number[]): number {
  return mixSeed(seed, ...counters);
}

/** A base seed: the given one, or a random one when it is undefined. */
export function resolveSeed(seed: number | undefined): number {
  if (seed === undefined) return Math.floor(Math.random() * 2147483647);
  if (!Number.isSafeInteger(seed)) throw new Error(`option seed must be an integer, got ${seed}`);
  return seed;
}

/**
 * A standard Gaussian vector shaped like `shapes`, seeded: part i is stream i of `seed` of the
 * counter-based generator (generated on the host and uploaded), so parts and seeds are independent.
 */
export function gaussianVector(shapes: readonly number[][], seed: number): ParamVector {
  return shapes.map((s, i) => tf.tensor(gaussianArray(sizeOf(s), seed, i), s, "float32"));
}

/** A Rademacher (±1 with equal probability) vector shaped like `shapes`, seeded as {@link gaussianVector}. */
export function rademacherVector(shapes: readonly number[][], seed: number): ParamVector {
  return shapes.map((s, i) => tf.tensor(rademacherArray(sizeOf(s), seed, i), s, "float32"));
}

/** Number of elements of a shape. */
function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The shapes of the variables. */
export function shapesOf(vars: readonly tf.Tensor[]): number[][] {
  return vars.map((v) => v.shape.slice());
}
