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
  const z = identityRows(n);
  implicitQl(d, e, z, "symmetricTridiagonalEigen");
  const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => d[a] - d[b]);
  return {
    values: order.map((j) => d[j]),
    vectors: order.map((j) => Float64Array.from({ length: n }, (_, k) => z[k][j])),
  };
}

/** The n × n identity as rows of float64. */
function identityRows(n: number): Float64Array[] {
  return Array.from({ length: n }, (_, k) => {
    const row = new Float64Array(n);
    row[k] = 1;
    return row;
  });
}

/**
 * The implicit QL method with Wilkinson-type shifts (tql2 of EISPACK, in float64) on the symmetric
 * tridiagonal matrix with diagonal `d` and off-diagonal `e` (e[i] couples rows i and i + 1; e[n − 1]
 * is 0), in place: `d` becomes the eigenvalues (unsorted), and the plane rotations are applied to the
 * columns of `z` (z[k][j]: component k of vector j), so that z = I gives the tridiagonal's
 * eigenvectors and z = Q those of Q·T·Qᵀ. `who` names the caller in the error.
 */
function implicitQl(d: Float64Array, e: Float64Array, z: Float64Array[], who: string): void {
  const n = d.length;
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
        if (++iter > 100) throw new Error(`${who}: the QL iteration did not converge`);
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
}

/**
 * Householder reduction of the symmetric n × n matrix `a` (row-major; overwritten) to tridiagonal
 * T = Qᵀ·A·Q: returns T's diagonal `d`, its off-diagonal `e` (e[i] couples rows i and i + 1, e[n − 1]
 * = 0) and the orthogonal Q as rows (q[k][j]), the start of {@link implicitQl}'s vectors. Step k
 * reflects rows and columns k + 1 … n − 1 so that column k is zero below its subdiagonal.
 */
function householderTridiagonal(a: Float64Array, n: number): { d: Float64Array; e: Float64Array; q: Float64Array[] } {
  const q = identityRows(n);
  const v = new Float64Array(n);
  const w = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    // x = a[k+1:, k]; H = I − 2vvᵀ (unit v) maps x to alpha·e₁, alpha = −sign(x₀)‖x‖ (no cancellation).
    let tail = 0;
    for (let i = k + 2; i < n; i++) tail += a[i * n + k] * a[i * n + k];
    if (tail === 0) continue; // column k is already zero below its subdiagonal
    const x0 = a[(k + 1) * n + k];
    const alpha = x0 > 0 ? -Math.sqrt(tail + x0 * x0) : Math.sqrt(tail + x0 * x0);
    for (let i = k + 1; i < n; i++) v[i] = a[i * n + k];
    v[k + 1] -= alpha;
    const vNorm = Math.sqrt(tail + v[k + 1] * v[k + 1]);
    for (let i = k + 1; i < n; i++) v[i] /= vNorm;
    // A ← H·A·H on the trailing block: with p = A·v and K = vᵀp, A − 2(v·wᵀ + w·vᵀ) for w = p − K·v.
    let K = 0;
    for (let i = k + 1; i < n; i++) {
      let p = 0;
      for (let j = k + 1; j < n; j++) p += a[i * n + j] * v[j];
      w[i] = p;
      K += v[i] * p;
    }
    for (let i = k + 1; i < n; i++) w[i] -= K * v[i];
    for (let i = k + 1; i < n; i++) {
      for (let j = k + 1; j < n; j++) a[i * n + j] -= 2 * (v[i] * w[j] + w[i] * v[j]);
    }
    a[(k + 1) * n + k] = a[k * n + k + 1] = alpha;
    for (let i = k + 2; i < n; i++) a[i * n + k] = a[k * n + i] = 0;
    // Q ← Q·H.
    for (let r = 0; r < n; r++) {
      const row = q[r];
      let s = 0;
      for (let i = k + 1; i < n; i++) s += row[i] * v[i];
      if (s !== 0) for (let i = k + 1; i < n; i++) row[i] -= 2 * s * v[i];
    }
  }
  const d = Float64Array.from({ length: n }, (_, i) => a[i * n + i]);
  const e = Float64Array.from({ length: n }, (_, i) => (i < n - 1 ? a[i * n + i + 1] : 0));
  return { d, e, q };
}

/**
 * Eigen-decomposition of a symmetric n × n matrix (row-major, not modified) in float64: Householder
 * reduction to tridiagonal form, then the implicit QL method of {@link symmetricTridiagonalEigen}
 * (tred2 + tql2 of EISPACK; LAPACK's dsyev does the same). Returns the eigenvalues in decreasing order
 * and the matching unit eigenvectors (`vectors[j]` belongs to `values[j]`). O(n³), for small matrices
 * (n up to a few hundred).
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
  const { d, e, q } = householderTridiagonal(a, n);
  implicitQl(d, e, q, "symmetricEigen");
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y] - d[x]);
  return {
    values: order.map((i) => d[i]),
    vectors: order.map((i) => Float64Array.from({ length: n }, (_, r) => q[r][i])),
  };
}
