/**
 * Dense linear algebra in float64 on the host for the small symmetric eigenproblems of lib/inspect:
 * the m×m Lanczos tridiagonal (lanczos.ts) and the T×T Gram matrix of a trajectory's PCA
 * (trajectory.ts).
 */

/** Eigen-decomposition of a symmetric tridiagonal matrix. */
export interface TridiagonalEigen {
  /** Eigenvalues, ascending. */
  values: number[];
  /** Unit eigenvectors: `vectors[j]` belongs to `values[j]`. */
  vectors: Float64Array[];
}

/**
 * Eigenvalues and eigenvectors of the symmetric tridiagonal matrix with diagonal `diagonal` (length m)
 * and off-diagonal `offDiagonal` (length m − 1; element i couples rows i and i + 1), by the implicit
 * QL method with Wilkinson-type shifts (tql2 of EISPACK, in float64). O(m²) per sweep plus O(m³) for
 * the vectors, fine for the m ≤ a few hundred of Lanczos.
 */
export function symmetricTridiagonalEigen(diagonal: ArrayLike<number>, offDiagonal: ArrayLike<number>): TridiagonalEigen {
  const n = diagonal.length;
  if (offDiagonal.length !== Math.max(0, n - 1)) {
    throw new Error(`symmetricTridiagonalEigen: offDiagonal has ${offDiagonal.length} elements for a ${n}×${n} matrix (expected ${Math.max(0, n - 1)})`);
  }
  for (let i = 0; i < n; i++) if (!Number.isFinite(diagonal[i])) throw new Error(`symmetricTridiagonalEigen: diagonal[${i}] is ${diagonal[i]}`);
  for (let i = 0; i < n - 1; i++) if (!Number.isFinite(offDiagonal[i])) throw new Error(`symmetricTridiagonalEigen: offDiagonal[${i}] is ${offDiagonal[i]}`);
  const d = Float64Array.from(diagonal);
  const e = new Float64Array(n);
  for (let i = 0; i < n - 1; i++) e[i] = offDiagonal[i];
  // z[k][j]: component k of eigenvector j (columns are the vectors), starting from the identity.
  const z = Array.from({ length: n }, (_, k) => {
    const row = new Float64Array(n);
    row[k] = 1;
    return row;
  });
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m === n) m = n - 1; // e[n - 1] is 0, so this only guards against round-off in tst1.
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100) throw new Error("symmetricTridiagonalEigen: the QL iteration did not converge");
        // Implicit shift from the leading 2×2 block.
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        // Implicit QL transformation (plane rotations from the bottom up).
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (let k = 0; k < n; k++) {
            const row = z[k];
            h = row[i + 1];
            row[i + 1] = s * row[i] + c * h;
            row[i] = c * row[i] - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => d[a] - d[b]);
  return {
    values: order.map((j) => d[j]),
    vectors: order.map((j) => Float64Array.from({ length: n }, (_, k) => z[k][j])),
  };
}

/**
 * Eigen-decomposition of a symmetric n × n matrix (row-major, not modified) by cyclic Jacobi
 * rotations in float64. Returns the eigenvalues in decreasing order and the matching unit
 * eigenvectors (`vectors[j]` belongs to `values[j]`). For small matrices (n up to a few hundred).
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): { values: number[]; vectors: Float64Array[] } {
  if (!Number.isInteger(n) || n < 1 || matrix.length !== n * n) throw new Error(`symmetricEigen: expected an ${n} × ${n} matrix, got ${matrix.length} entries`);
  const a = Float64Array.from(matrix);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const x = a[i * n + j], y = a[j * n + i];
      if (!(Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y)))) throw new Error(`symmetricEigen: the matrix is not symmetric at (${i}, ${j}): ${x} vs ${y}`);
      a[i * n + j] = a[j * n + i] = (x + y) / 2;
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p], aqq = a[q * n + q];
        // Rotation angle zeroing a[p][q] (Rutishauser's stable formulas).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cos = 1 / Math.sqrt(t * t + 1);
        const sin = t * cos;
        for (let r = 0; r < n; r++) {
          const arp = a[r * n + p], arq = a[r * n + q];
          a[r * n + p] = cos * arp - sin * arq;
          a[r * n + q] = sin * arp + cos * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = a[p * n + r], aqr = a[q * n + r];
          a[p * n + r] = cos * apr - sin * aqr;
          a[q * n + r] = sin * apr + cos * aqr;
        }
        a[p * n + q] = a[q * n + p] = 0;
        for (let r = 0; r < n; r++) {
          const vrp = v[r * n + p], vrq = v[r * n + q];
          v[r * n + p] = cos * vrp - sin * vrq;
          v[r * n + q] = sin * vrp + cos * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y] - a[x * n + x]);
  return {
    values: order.map((i) => a[i * n + i]),
    vectors: order.map((i) => Float64Array.from({ length: n }, (_, r) => v[r * n + i])),
  };
}
