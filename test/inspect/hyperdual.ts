/**
 * Test/bench helper: an independent float64 reference for Hessian-vector products, in plain JS.
 *
 * Hyper-dual numbers a + b·ε₁ + c·ε₂ + d·ε₁ε₂ (ε₁² = ε₂² = 0) carry first and mixed second
 * derivatives through every arithmetic step exactly — no step size, no truncation error, only
 * float64 rounding. Seeding ε₁ with the unit vector e_i and ε₂ with v, the ε₁ε₂ part of a scalar
 * f(w) is e_iᵀ·H·v; one pass per weight gives H·v in full. Nothing here shares code with tfjs.
 */

/** A hyper-dual number a + b·ε₁ + c·ε₂ + d·ε₁ε₂. */
export interface HD {
  a: number;
  b: number;
  c: number;
  d: number;
}

/** A constant (no derivative parts). */
export const hd = (a: number): HD => ({ a, b: 0, c: 0, d: 0 });
/** x + y. */
export const add = (x: HD, y: HD): HD => ({ a: x.a + y.a, b: x.b + y.b, c: x.c + y.c, d: x.d + y.d });
/** x − y. */
export const sub = (x: HD, y: HD): HD => ({ a: x.a - y.a, b: x.b - y.b, c: x.c - y.c, d: x.d - y.d });
/** x · k for a plain number k. */
export const scale = (x: HD, k: number): HD => ({ a: x.a * k, b: x.b * k, c: x.c * k, d: x.d * k });
/** x · y. */
export const mul = (x: HD, y: HD): HD => ({
  a: x.a * y.a,
  b: x.a * y.b + x.b * y.a,
  c: x.a * y.c + x.c * y.a,
  d: x.a * y.d + x.b * y.c + x.c * y.b + x.d * y.a,
});
/** f(x) from f(a), f′(a), f″(a). */
function chain(x: HD, f: number, f1: number, f2: number): HD {
  return { a: f, b: f1 * x.b, c: f1 * x.c, d: f1 * x.d + f2 * x.b * x.c };
}
/** eˣ. */
export const exp = (x: HD): HD => {
  const e = Math.exp(x.a);
  return chain(x, e, e, e);
};
/** ln x. */
export const log = (x: HD): HD => chain(x, Math.log(x.a), 1 / x.a, -1 / (x.a * x.a));
/** tanh x. */
export const tanh = (x: HD): HD => {
  const t = Math.tanh(x.a);
  const d1 = 1 - t * t;
  return chain(x, t, d1, -2 * t * d1);
};
/** 1 / (1 + e⁻ˣ). */
export const sigmoid = (x: HD): HD => {
  const s = 1 / (1 + Math.exp(-x.a));
  const d1 = s * (1 - s);
  return chain(x, s, d1, d1 * (1 - 2 * s));
};
/** x^(−1/2). */
export const rsqrt = (x: HD): HD => {
  const r = 1 / Math.sqrt(x.a);
  return chain(x, r, -0.5 * r / x.a, 0.75 * r / (x.a * x.a));
};

/** erf in float64: 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3···(2n+1)), a series of positive terms. */
export function erfNumber(x: number): number {
  if (Math.abs(x) > 6) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}
/** erf x. */
export const erf = (x: HD): HD => {
  const d1 = (2 / Math.sqrt(Math.PI)) * Math.exp(-x.a * x.a);
  return chain(x, erfNumber(x.a), d1, -2 * x.a * d1);
};

/** A row-major matrix of hyper-dual numbers. */
export type Mat = HD[][];

/** Σ of a list. */
export const sumOf = (xs: HD[]): HD => xs.reduce(add, hd(0));

/** x·Wᵀ + b with W [out, in] (Hugging Face's linear layout). */
export function linear(x: Mat, w: Mat, b?: HD[]): Mat {
  return x.map((row) => w.map((wr, o) => { const s = sumOf(row.map((xi, i) => mul(xi, wr[i]))); return b ? add(s, b[o]) : s; }));
}

/** Row-wise LayerNorm with biased variance. */
export function layerNorm(x: Mat, gamma: HD[], beta: HD[], eps: number): Mat {
  return x.map((row) => {
    const mean = scale(sumOf(row), 1 / row.length);
    const dev = row.map((xi) => sub(xi, mean));
    const variance = scale(sumOf(dev.map((d) => mul(d, d))), 1 / row.length);
    const r = rsqrt(add(variance, hd(eps)));
    return dev.map((d, i) => add(mul(mul(d, r), gamma[i]), beta[i]));
  });
}

/** log Σ eˣ of a row, shifted by the row's largest value (a constant: the result does not depend on it). */
export function logSumExp(row: HD[]): HD {
  const m = Math.max(...row.map((x) => x.a));
  return add(log(sumOf(row.map((x) => exp(sub(x, hd(m)))))), hd(m));
}

/** Softmax of a row. */
export function softmax(row: HD[]): HD[] {
  const lse = logSumExp(row);
  return row.map((x) => exp(sub(x, lse)));
}

/**
 * H·v of `loss(w)` at the point `w` (flattened weights) by one hyper-dual pass per weight: the
 * ε₁ε₂ part of loss(w + ε₁·e_i + ε₂·v) is (H·v)_i.
 */
export function hyperDualHvp(w: ArrayLike<number>, v: ArrayLike<number>, loss: (w: HD[]) => HD): Float64Array {
  const params: HD[] = Array.from(w, (a, i) => ({ a, b: 0, c: v[i], d: 0 }));
  const out = new Float64Array(params.length);
  for (let i = 0; i < params.length; i++) {
    params[i].b = 1;
    out[i] = loss(params).d;
    params[i].b = 0;
  }
  return out;
}

/** ‖a − ref‖ / ‖ref‖ in float64. */
export function relativeError(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0;
  let r = 0;
  for (let i = 0; i < ref.length; i++) {
    d += (a[i] - ref[i]) ** 2;
    r += ref[i] ** 2;
  }
  return Math.sqrt(d / r);
}
