/**
 * A point or direction in parameter space as a list of tensors, one per variable, and the vector
 * algebra the Hessian and landscape code needs (dot products, norms, axpy, random vectors, applying
 * a point to the variables). Results that are tensors are new; callers dispose them.
 */
import * as tf from "@tensorflow/tfjs";

/** One tensor per variable, same shapes and order as the variable list. */
export type ParamVector = tf.Tensor[];

/** Disposes every tensor of the vector. */
export function disposeVector(v: ParamVector): void {
  for (const t of v) t.dispose();
}

/** Σ_i ⟨a_i, b_i⟩ as a number (read asynchronously, as every backend allows). */
export async function dot(a: ParamVector, b: ParamVector): Promise<number> {
  if (a.length !== b.length) throw new Error(`dot: vectors have ${a.length} and ${b.length} parts`);
  if (a.length === 0) return 0;
  const total = tf.tidy(() => tf.addN(a.map((t, i) => tf.sum(tf.mul(t, b[i])))));
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

/** A per-call seed derived from a base seed and a counter, so seeded runs are reproducible. */
export function deriveSeed(seed: number, ...counters: number[]): number {
  let h = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  for (const c of counters) h = (Math.imul(h ^ Math.floor(c), 0x85ebca6b) + 0x632be5ab) >>> 0;
  return h % 2147483647;
}

/** A base seed: the given one, or a random one when it is undefined. */
export function resolveSeed(seed: number | undefined): number {
  if (seed === undefined) return Math.floor(Math.random() * 2147483647);
  if (!Number.isFinite(seed)) throw new Error(`option seed must be a finite number, got ${seed}`);
  return seed;
}

/** A standard Gaussian vector shaped like `shapes`, seeded. */
export function gaussianVector(shapes: readonly number[][], seed: number): ParamVector {
  return shapes.map((s, i) => tf.randomNormal(s, 0, 1, "float32", deriveSeed(seed, i)));
}

/** A Rademacher (±1 with equal probability) vector shaped like `shapes`, seeded. */
export function rademacherVector(shapes: readonly number[][], seed: number): ParamVector {
  return shapes.map((s, i) =>
    tf.tidy(() => tf.sub(tf.mul(tf.greater(tf.randomUniform(s, 0, 1, "float32", deriveSeed(seed, i)), 0.5).toFloat(), 2), 1)),
  );
}

/** The shapes of the variables. */
export function shapesOf(vars: readonly tf.Tensor[]): number[][] {
  return vars.map((v) => v.shape.slice());
}
