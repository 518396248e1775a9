/**
 * Test helper: quadratic losses L(w) = ½ wᵀAw + bᵀw over HF-named variables, with matrices whose
 * spectrum is known by construction (A = Q·diag(λ)·Qᵀ with a seeded random orthogonal Q).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { mulberry32 as rng } from "../../lib/random.ts";

/** A seeded random n×n orthogonal matrix (Gram–Schmidt of a random matrix), rows are the vectors. */
export function randomOrthogonal(n: number, seed: number): number[][] {
  const r = rng(seed);
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    let v = Array.from({ length: n }, () => r() - 0.5);
    for (const u of rows) {
      const c = v.reduce((s, x, j) => s + x * u[j], 0);
      v = v.map((x, j) => x - c * u[j]);
    }
    const len = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    rows.push(v.map((x) => x / len));
  }
  return rows;
}

/** Qᵀ·diag(λ)·Q for the orthogonal rows Q: a symmetric matrix with eigenvalues λ. */
export function withSpectrum(eigenvalues: number[], seed: number): number[][] {
  const n = eigenvalues.length;
  const q = randomOrthogonal(n, seed);
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => eigenvalues.reduce((s, l, k) => s + l * q[k][i] * q[k][j], 0)),
  );
}

/** A quadratic loss over `vars` (flattened and concatenated in order) with Hessian `a`. */
export function quadraticLoss(vars: tf.Variable[], a: number[][], b?: number[]): () => tf.Scalar {
  const n = a.length;
  const A = tf.tensor2d(a.flat(), [n, n]);
  const B = tf.tensor2d(b ?? Array.from({ length: n }, (_, i) => 0.1 * (i + 1)), [n, 1]);
  return () =>
    tf.tidy(() => {
      const w = tf.concat(vars.map((v) => v.reshape([-1]))).reshape([n, 1]);
      return tf.add(tf.mul(0.5, tf.matMul(w, tf.matMul(A, w), true)), tf.matMul(w, B, true)).reshape([]) as tf.Scalar;
    });
}

/** Seeded variables with the given HF names and shapes (values in [−1, 1)). */
export function namedVariables(spec: [string, number[]][], seed: number, scope = ""): tf.Variable[] {
  const r = rng(seed);
  return spec.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    return tf.variable(tf.tensor(Array.from({ length: size }, () => 2 * r() - 1), shape), true, scope ? `${scope}/${name}` : name);
  });
}

/**
 * A 9×9 Hessian of two coupled blocks: block 1 (the first 6 parameters: query weight + bias) with
 * spectrum [5, 3, 2, 1, 0.5, 0.2], block 2 (the classifier's 3) with [7, 1, 0.3], and random
 * off-diagonal coupling — restricted to one block, the Hessian has exactly that block's spectrum.
 */
export function coupledBlocks(): number[][] {
  const a1 = withSpectrum([5, 3, 2, 1, 0.5, 0.2], 11);
  const a2 = withSpectrum([7, 1, 0.3], 12);
  const r = rng(5);
  const a = Array.from({ length: 9 }, () => new Array<number>(9).fill(0));
  for (let i = 0; i < 9; i++)
    for (let j = 0; j < 9; j++) {
      if (i < 6 && j < 6) a[i][j] = a1[i][j];
      else if (i >= 6 && j >= 6) a[i][j] = a2[i - 6][j - 6];
    }
  for (let i = 0; i < 6; i++)
    for (let j = 6; j < 9; j++) a[i][j] = a[j][i] = r() - 0.5;
  return a;
}

/** Three HF-named variables (a 2×2 query weight, its bias, a 3-entry classifier): 9 parameters. */
export const SPEC: [string, number[]][] = [
  ["bert.encoder.layer.0.attention.self.query.weight", [2, 2]],
  ["bert.encoder.layer.0.attention.self.query.bias", [2]],
  ["classifier.weight", [3]],
];

/** A 9-entry spectrum with a negative eigenvalue and a wide range of magnitudes, for SPEC's 9 parameters. */
export const EIGS = [9, -4, 2.5, 1.2, 0.8, 0.5, 0.1, 0.05, 0.01];

/** Asserts |actual − expected| ≤ rel·|expected|. */
export function relClose(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: got ${actual}, expected ${expected} (rel ${rel})`);
}
