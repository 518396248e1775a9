import test from "node:test";
import assert from "node:assert/strict";
import { symmetricEigen, symmetricTridiagonalEigen } from "../../lib/inspect/linalg.ts";
import { relClose, withSpectrum } from "./quadratic.ts";
import { mulberry32 as rng } from "../../lib/random.ts";

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test("symmetricTridiagonalEigen: T·z = λ·z, orthonormal vectors, ascending values, split matrices", () => {
  const r = rng(1);
  for (const [n, zeroAt] of [[1, -1], [2, -1], [12, -1], [12, 5], [30, 0]] as const) {
    const d = Array.from({ length: n }, () => 4 * r() - 2);
    const e = Array.from({ length: n - 1 }, (_, i) => (i === zeroAt ? 0 : 2 * r() - 1));
    const { values, vectors } = symmetricTridiagonalEigen(d, e);
    assert.equal(values.length, n);
    for (let j = 1; j < n; j++) assert.ok(values[j] >= values[j - 1], "ascending");
    vectors.forEach((z, j) => {
      for (let i = 0; i < n; i++) {
        const tz = d[i] * z[i] + (i > 0 ? e[i - 1] * z[i - 1] : 0) + (i < n - 1 ? e[i] * z[i + 1] : 0);
        assert.ok(Math.abs(tz - values[j] * z[i]) < 1e-12, `n=${n}: (T z_${j})_${i}`);
      }
      vectors.forEach((y, k) => {
        const dotp = z.reduce((s, x, i) => s + x * y[i], 0);
        assert.ok(Math.abs(dotp - (j === k ? 1 : 0)) < 1e-12, `n=${n}: z_${j}·z_${k} = ${dotp}`);
      });
    });
    relClose(sum(values), sum(d), 1e-12, `n=${n}: Σλ = tr T`);
  }
  assert.deepEqual(symmetricTridiagonalEigen([], []).values, []);
  assert.throws(() => symmetricTridiagonalEigen([1, 2], [1, 2]), /offDiagonal has 2 elements/);
  assert.throws(() => symmetricTridiagonalEigen([1, NaN], [1]), /diagonal\[1\] is NaN/);
});

test("symmetricEigen: eigenvalues of a matrix with a known spectrum, orthonormal eigenvectors, in decreasing order", () => {
  const spectrum = [5, 3, 1, 0.5, -2, 0];
  const n = spectrum.length;
  const a = withSpectrum(spectrum, 3);
  const { values, vectors } = symmetricEigen(a.flat(), n);
  [...spectrum].sort((x, y) => y - x).forEach((l, i) => close(values[i], l, 1e-10, `eigenvalue ${i}`));
  for (let j = 0; j < n; j++) {
    const v = [...vectors[j]];
    const av = a.map((row) => dot(row, v));
    av.forEach((x, i) => close(x, values[j] * v[i], 1e-10, `A v = λ v, vector ${j}`));
    for (let k = 0; k < n; k++) close(dot(v, [...vectors[k]]), j === k ? 1 : 0, 1e-10, `vᵀv ${j},${k}`);
  }
  assert.deepEqual(symmetricEigen([[7]].flat(), 1).values, [7]);
  const diag = symmetricEigen([1, 0, 0, 4], 2);
  assert.deepEqual(diag.values, [4, 1]);
  assert.deepEqual([...diag.vectors[0]].map(Math.abs), [0, 1]);
  assert.throws(() => symmetricEigen([1, 2, 3], 2), /expected an 2 × 2 matrix/);
  assert.throws(() => symmetricEigen([1, 2, 3, 4], 2), /not symmetric/);
});

test("symmetricEigen on a larger matrix with repeated eigenvalues (Householder reduction + QL): known spectrum, A·v = λ·v, orthonormal vectors", () => {
  const n = 40;
  const r = rng(5);
  const spectrum = Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 2 : 20 * r() - 10));
  const a = withSpectrum(spectrum, 11);
  const { values, vectors } = symmetricEigen(a.flat(), n);
  [...spectrum].sort((x, y) => y - x).forEach((l, i) => close(values[i], l, 1e-11, `eigenvalue ${i}`));
  vectors.forEach((z, j) => {
    const v = [...z];
    a.forEach((row, i) => close(dot(row, v), values[j] * v[i], 1e-11, `(A v_${j})_${i}`));
    vectors.forEach((y, k) => close(dot(v, [...y]), j === k ? 1 : 0, 1e-12, `v_${j}·v_${k}`));
  });
  assert.throws(() => symmetricEigen([1, NaN, NaN, 1], 2), /not symmetric/);
});
