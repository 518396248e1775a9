import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { hessianEigenvaluesLanczos, lanczos } from "../../lib/inspect/lanczos.ts";
import { gaussianSpectralDensity, hessianSpectralDensity } from "../../lib/inspect/spectral-density.ts";
import { createHvp } from "../../lib/inspect/hvp.ts";
import { hessianEigen } from "../../lib/inspect/hessian.ts";
import type { ParamVector } from "../../lib/inspect/param-vector.ts";
import { EIGS, SPEC, coupledBlocks, namedVariables, quadraticLoss, relClose, withSpectrum } from "./quadratic.ts";
import { mulberry32 as rng } from "../../lib/random.ts";

await tf.setBackend("cpu");

const ASCENDING = [...EIGS].sort((a, b) => a - b);
const TRACE = EIGS.reduce((a, b) => a + b, 0);

const diagonal = (values: number[]) => values.map((l, i) => values.map((_, j) => (i === j ? l : 0)));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const weightedMean = (nodes: number[], weights: number[]) => nodes.reduce((s, x, i) => s + x * weights[i], 0);

/** Trapezoidal integral of y over x. */
function integrate(x: number[], y: number[]): number {
  let s = 0;
  for (let i = 1; i < x.length; i++) s += 0.5 * (y[i] + y[i - 1]) * (x[i] - x[i - 1]);
  return s;
}

test("Lanczos with iterations ≥ dimension recovers every eigenvalue (diagonal and rotated Hessian)", async () => {
  const vars = namedVariables(SPEC, 1, "lzall");
  for (const [what, a] of [["diagonal", diagonal(EIGS)], ["rotated", withSpectrum(EIGS, 7)]] as const) {
    const hvp = await createHvp(quadraticLoss(vars, a), vars, { seed: 1 });
    assert.equal(hvp.method, "double-backprop");
    const res = await lanczos(hvp, vars, { iterations: 20, seed: 3 });
    assert.equal(res.iterations, 9, "capped at the dimension");
    assert.equal(res.stopReason, "dimension");
    assert.equal(res.aborted, false);
    assert.equal(res.alpha.length, 9);
    assert.equal(res.beta.length, 8);
    res.nodes.forEach((x, i) => relClose(x, ASCENDING[i], 1e-4, `${what} λ${i}`));
    relClose(sum(res.weights), 1, 1e-12, `${what} Σw`);
    res.weights.forEach((w) => assert.ok(w > 0));
    // Gauss quadrature of the first moment: Σ wθ = e₁ᵀTe₁ = α₁.
    relClose(weightedMean(res.nodes, res.weights), res.alpha[0], 1e-9, `${what} Σwθ = α₁`);
    if (what === "diagonal") {
      // A Rademacher start vector has v_i² = 1/n, so vᵀAv = tr(A)/n exactly for a diagonal A.
      relClose(weightedMean(res.nodes, res.weights), TRACE / 9, 1e-6, "Σwθ = tr/n");
    }
    const gaussian = await lanczos(hvp, vars, { iterations: 9, seed: 4, start: "gaussian" });
    gaussian.nodes.forEach((x, i) => relClose(x, ASCENDING[i], 1e-4, `${what} gaussian start λ${i}`));
  }
});

test("the quadrature's first moment equals vᵀAv/vᵀv for an explicit start vector", async () => {
  const vars = namedVariables(SPEC, 2, "lzstart");
  const a = withSpectrum(EIGS, 8);
  const v = Array.from({ length: 9 }, (_, i) => Math.sin(i + 1) + 0.3);
  const start: ParamVector = [tf.tensor(v.slice(0, 4), [2, 2]), tf.tensor(v.slice(4, 6), [2]), tf.tensor(v.slice(6), [3])];
  const vAv = sum(v.map((x, i) => x * sum(a[i].map((y, j) => y * v[j]))));
  const vv = sum(v.map((x) => x * x));
  const hvp = await createHvp(quadraticLoss(vars, a), vars, { seed: 1 });
  for (const iterations of [1, 3, 9]) {
    const res = await lanczos(hvp, vars, { iterations, startVector: start });
    assert.equal(res.iterations, iterations);
    relClose(sum(res.weights), 1, 1e-12, "Σw");
    relClose(weightedMean(res.nodes, res.weights), vAv / vv, 1e-5, `m=${iterations}: Σwθ = vᵀAv/vᵀv`);
  }
  start.forEach((t) => assert.equal(t.isDisposed, false, "the caller's start vector is not disposed"));
  start.forEach((t) => t.dispose());
});

test("repeated eigenvalues: Lanczos breaks down on the invariant Krylov space with exact multiplicity weights", async () => {
  const vars = namedVariables(SPEC, 3, "lzrep");
  const eigs = [3, 3, 3, 1, 1, 2, 2, 2, 3];
  const res = await lanczos(await createHvp(quadraticLoss(vars, diagonal(eigs)), vars, { seed: 1 }), vars, { iterations: 9, seed: 5 });
  assert.equal(res.stopReason, "breakdown");
  assert.equal(res.iterations, 3);
  res.nodes.forEach((x, i) => relClose(x, [1, 2, 3][i], 1e-5, `node ${i}`));
  // Rademacher start: each eigenvalue carries (multiplicity)/n of the mass.
  res.weights.forEach((w, i) => relClose(w, [2 / 9, 3 / 9, 4 / 9][i], 1e-5, `weight ${i}`));
  assert.ok(res.residualNorm < 1e-4, `residual ${res.residualNorm}`);
});

test("top-k eigenvalues by Lanczos match the known spectrum and power iteration, in fewer products", async () => {
  const vars = namedVariables([["bert.encoder.layer.0.output.dense.weight", [6, 8]], ["bert.encoder.layer.0.output.dense.bias", [12]]], 4, "lztop");
  const r = rng(9);
  const eigs = [10, 7, -6, 5, ...Array.from({ length: 56 }, () => 1.5 * r() - 0.5)];
  const loss = quadraticLoss(vars, withSpectrum(eigs, 21));
  const top = await hessianEigenvaluesLanczos(loss, vars, { k: 3, iterations: 30, seed: 1 });
  assert.equal(top.iterations, 30);
  assert.equal(top.stopReason, "iterations");
  assert.equal(top.method, "double-backprop");
  [10, 7, 5].forEach((l, i) => relClose(top.values[i], l, 1e-4, `λ${i + 1}`));
  top.residuals.forEach((x, i) => assert.ok(x < 1e-2, `residual ${i}: ${x}`));
  assert.deepEqual(top.converged, top.residuals.map((x, i) => x <= 1e-3 * Math.abs(top.values[i])));
  const short = await hessianEigenvaluesLanczos(loss, vars, { k: 3, iterations: 4, seed: 1 });
  assert.ok(short.converged.includes(false), `4 steps: residuals ${short.residuals}`);
  const mag = await hessianEigenvaluesLanczos(loss, vars, { k: 3, iterations: 30, seed: 1, which: "magnitude" });
  [10, 7, -6].forEach((l, i) => relClose(mag.values[i], l, 1e-4, `|λ| order ${i + 1}`));
  const power = await hessianEigen(loss, vars, { k: 3, seed: 1, tol: 1e-6, maxIter: 1000 });
  mag.values.forEach((l, i) => relClose(l, power.values[i], 1e-3, `vs power iteration ${i + 1}`));
  assert.ok(sum(power.iterations) > top.iterations, `power iteration used ${sum(power.iterations)} products, Lanczos ${top.iterations}`);
  const one = await hessianEigenvaluesLanczos(loss, vars, { seed: 2 });
  assert.equal(one.values.length, 1);
  relClose(one.values[0], 10, 1e-4, "default k = 1");
});

test("finite-difference products give the same Lanczos eigenvalues", async () => {
  const vars = namedVariables(SPEC, 5, "lzfd");
  const res = await hessianEigenvaluesLanczos(quadraticLoss(vars, withSpectrum(EIGS, 9)), vars, { k: 9, iterations: 9, seed: 1, method: "finite-difference" });
  assert.equal(res.method, "finite-difference");
  [...ASCENDING].reverse().forEach((l, i) => assert.ok(Math.abs(res.values[i] - l) < 2e-2, `λ${i}: ${res.values[i]} vs ${l}`));
  relClose(res.values[0], 9, 1e-3, "λ1");
});

test("spectral density: weights sum to 1 per run, first moment = α₁ (= tr/n for a diagonal Hessian), density integrates to 1", async () => {
  const vars = namedVariables(SPEC, 6, "slq");
  const d = await hessianSpectralDensity(quadraticLoss(vars, diagonal(EIGS)), vars, { runs: 3, iterations: 9, seed: 1 });
  assert.equal(d.runs.length, 3);
  assert.equal(d.dimension, 9);
  assert.equal(d.aborted, false);
  for (const run of d.runs) {
    relClose(sum(run.weights), 1, 1e-12, "Σw per run");
    relClose(weightedMean(run.nodes, run.weights), run.alpha[0], 1e-9, "Σwθ = α₁");
    relClose(weightedMean(run.nodes, run.weights), TRACE / 9, 1e-6, "Σwθ = tr/n");
    run.nodes.forEach((x, i) => relClose(x, ASCENDING[i], 1e-4, `node ${i}`));
  }
  assert.equal(d.nodes.length, 27);
  relClose(sum(d.weights), 1, 1e-12, "Σw overall");
  assert.equal(d.grid.length, 1000);
  assert.equal(d.density.length, 1000);
  assert.ok(d.grid[0] < -4 && d.grid.at(-1)! > 9, `grid [${d.grid[0]}, ${d.grid.at(-1)}] covers the spectrum`);
  relClose(integrate(d.grid, d.density), 1, 1e-4, "∫φ");
  relClose(integrate(d.grid, d.density.map((y, i) => y * d.grid[i])), TRACE / 9, 1e-4, "∫tφ = tr/n");
  // Peaks at the eigenvalues, each with mass 1/n: φ(λ) ≈ (1/n)/(σ√2π) on an isolated eigenvalue.
  const nearest = (x: number) => d.grid.reduce((best, g, i) => (Math.abs(g - x) < Math.abs(d.grid[best] - x) ? i : best), 0);
  const peak = 1 / 9 / (d.sigma * Math.sqrt(2 * Math.PI));
  for (const l of [9, -4, 2.5, 1.2]) {
    const i = nearest(l);
    relClose(d.density[i], peak * Math.exp(-((d.grid[i] - l) ** 2) / (2 * d.sigma ** 2)), 1e-3, `φ near ${l}`);
  }
  assert.ok(d.density[nearest(6)] < 1e-10, `φ(6) = ${d.density[nearest(6)]} between eigenvalues`);

  const custom = await hessianSpectralDensity(quadraticLoss(vars, diagonal(EIGS)), vars, { iterations: 4, seed: 1, sigma: 0.3, gridPoints: 200 });
  assert.equal(custom.sigma, 0.3);
  assert.equal(custom.grid.length, 200);
  assert.equal(custom.runs[0].nodes.length, 4);
  relClose(integrate(custom.grid, custom.density), 1, 1e-4, "∫φ with 4 nodes and σ = 0.3");
});

test("spectral density of a rotated Hessian: the runs' first moments scatter around tr/n within their standard error", async () => {
  const vars = namedVariables(SPEC, 7, "slqrot");
  const a = withSpectrum(EIGS, 10);
  const d = await hessianSpectralDensity(quadraticLoss(vars, a), vars, { runs: 24, iterations: 9, seed: 2 });
  const moments = d.runs.map((r) => weightedMean(r.nodes, r.weights));
  d.runs.forEach((r, i) => relClose(moments[i], r.alpha[0], 1e-9, `run ${i}: Σwθ = α₁`));
  // Var(vᵀAv/n) = 2·Σ_{i≠j} A_ij² / n² for Rademacher v.
  let off = 0;
  a.forEach((row, i) => row.forEach((x, j) => (off += i === j ? 0 : x * x)));
  const se = Math.sqrt((2 * off) / 81 / 24);
  assert.ok(Math.abs(weightedMean(d.nodes, d.weights) - TRACE / 9) < 4 * se, `mean ${weightedMean(d.nodes, d.weights)} vs ${TRACE / 9} (se ${se})`);
  relClose(integrate(d.grid, d.density), 1, 1e-4, "∫φ");
});

test("restricting vars to a block gives that block's eigenvalues (per-layer spectrum)", async () => {
  const vars = namedVariables(SPEC, 8, "lzblk");
  const a = coupledBlocks();
  const loss = quadraticLoss(vars, a);
  const b1 = await hessianSpectralDensity(loss, vars.slice(0, 2), { iterations: 30, seed: 1 });
  assert.equal(b1.dimension, 6);
  b1.nodes.forEach((x, i) => relClose(x, [0.2, 0.5, 1, 2, 3, 5][i], 1e-4, `block 1 node ${i}`));
  const b2 = await hessianSpectralDensity(loss, vars.slice(2), { iterations: 30, seed: 1 });
  b2.nodes.forEach((x, i) => relClose(x, [0.3, 1, 7][i], 1e-4, `block 2 node ${i}`));
  const top = await hessianEigenvaluesLanczos(loss, vars.slice(0, 2), { k: 2, seed: 1 });
  relClose(top.values[0], 5, 1e-4, "block 1 λ1");
  relClose(top.values[1], 3, 1e-4, "block 1 λ2");
});

test("invalid options are refused with the option's name", async () => {
  const vars = namedVariables(SPEC, 9, "lzbad");
  const loss = quadraticLoss(vars, diagonal(EIGS));
  const hvp = await createHvp(loss, vars, { seed: 1 });
  await assert.rejects(lanczos(hvp, vars, { iterations: 0 }), /option iterations must be a positive integer, got 0/);
  await assert.rejects(lanczos(hvp, vars, { iterations: 2.5 }), /option iterations/);
  await assert.rejects(lanczos(hvp, vars, { start: "uniform" as never }), /option start must be "rademacher" or "gaussian"/);
  await assert.rejects(lanczos(hvp, vars, { breakdownTol: -1 }), /option breakdownTol/);
  await assert.rejects(lanczos(hvp, vars, { reorthogonalize: "yes" as never }), /option reorthogonalize/);
  await assert.rejects(lanczos(hvp, vars, { seed: NaN }), /option seed/);
  await assert.rejects(lanczos(hvp, vars, { startVector: [tf.zeros([2, 2])] }), /option startVector must have one tensor per variable/);
  const zeros = vars.map((v) => tf.zerosLike(v));
  await assert.rejects(lanczos(hvp, vars, { startVector: zeros }), /option startVector must be a finite non-zero vector/);
  zeros.forEach((t) => t.dispose());
  await assert.rejects(lanczos(hvp, [], {}), /vars is empty/);
  await assert.rejects(hessianEigenvaluesLanczos(loss, vars, { k: 0 }), /option k must be a positive integer/);
  await assert.rejects(hessianEigenvaluesLanczos(loss, vars, { k: 10 }), /option k = 10 exceeds the number of parameters \(9\)/);
  await assert.rejects(hessianEigenvaluesLanczos(loss, vars, { k: 5, iterations: 3 }), /option k = 5 exceeds option iterations = 3/);
  await assert.rejects(hessianEigenvaluesLanczos(loss, vars, { which: "smallest" as never }), /option which/);
  await assert.rejects(hessianSpectralDensity(loss, vars, { runs: 0 }), /option runs must be a positive integer/);
  await assert.rejects(hessianSpectralDensity(loss, vars, { iterations: -3 }), /option iterations/);
  await assert.rejects(hessianSpectralDensity(loss, vars, { gridPoints: 1 }), /option gridPoints must be an integer ≥ 2, got 1/);
  await assert.rejects(hessianSpectralDensity(loss, vars, { sigma: 0 }), /option sigma must be a positive finite number, got 0/);
  await assert.rejects(hessianSpectralDensity(loss, vars, { sigma: Infinity }), /option sigma/);
  await assert.rejects(hessianSpectralDensity(loss, vars, { method: "exact" as never }), /option method/);
  assert.throws(() => gaussianSpectralDensity([1, 2], [1]), /2 nodes but 1 weights/);
});

test("Lanczos, top-k and the density leave no tensors behind and restore the variables", async () => {
  const vars = namedVariables(SPEC, 10, "lzleak");
  const before = vars.map((v) => [...v.dataSync()]);
  const loss = quadraticLoss(vars, withSpectrum(EIGS, 3));
  const hvp = await createHvp(loss, vars, { seed: 1 });
  await lanczos(hvp, vars, { iterations: 3, seed: 1 });
  const n0 = tf.memory().numTensors;
  await lanczos(hvp, vars, { iterations: 9, seed: 1 });
  await lanczos(hvp, vars, { iterations: 5, seed: 1, reorthogonalize: false, start: "gaussian" });
  await lanczos(await createHvp(loss, vars.slice(2), { seed: 1 }), vars.slice(2), { iterations: 5, seed: 1 });
  await hessianEigenvaluesLanczos(loss, vars, { k: 2, iterations: 6, seed: 1 });
  await hessianEigenvaluesLanczos(loss, vars, { k: 2, iterations: 6, seed: 1, method: "finite-difference" });
  await hessianSpectralDensity(loss, vars, { runs: 2, iterations: 5, seed: 1 });
  await hessianSpectralDensity(loss, vars, { runs: 3, iterations: 5, seed: 1, signal: AbortSignal.abort() });
  await hessianSpectralDensity(quadraticLoss(vars, diagonal([3, 3, 3, 1, 1, 2, 2, 2, 3])), vars, { iterations: 9, seed: 1 }).catch(() => undefined);
  // A product that fails half-way leaves nothing behind either.
  let calls = 0;
  const failing = { apply: async (v: ParamVector) => { if (++calls === 3) throw new Error("boom"); return hvp.apply(v); } };
  await assert.rejects(lanczos(failing, vars, { iterations: 6, seed: 1 }), /boom/);
  assert.equal(tf.memory().numTensors - n0, 2, "only the diagonal quadratic's two constant tensors remain");
  vars.forEach((v, i) => assert.deepEqual([...v.dataSync()], before[i]));
});

test("an abort signal stops Lanczos and the density early, keeping the steps taken", async () => {
  const vars = namedVariables(SPEC, 11, "lzabort");
  const loss = quadraticLoss(vars, withSpectrum(EIGS, 3));
  const hvp = await createHvp(loss, vars, { seed: 1 });
  let ctl = new AbortController();
  let calls = 0;
  const phases: string[] = [];
  const res = await lanczos(hvp, vars, {
    iterations: 9, seed: 1, signal: ctl.signal,
    onProgress: (e) => { phases.push(`${e.phase} ${e.done}/${e.total}`); if (++calls === 3) ctl.abort(); },
  });
  assert.deepEqual(phases, ["Lanczos 1/9", "Lanczos 2/9", "Lanczos 3/9"]);
  assert.equal(res.aborted, true);
  assert.equal(res.stopReason, "aborted");
  assert.equal(res.iterations, 3);
  assert.equal(res.alpha.length, 3);
  assert.equal(res.beta.length, 2);
  assert.equal(res.nodes.length, 3);
  relClose(sum(res.weights), 1, 1e-12, "Σw of the partial quadrature");

  ctl = new AbortController();
  calls = 0;
  const d = await hessianSpectralDensity(loss, vars, {
    runs: 3, iterations: 5, seed: 1, signal: ctl.signal,
    onProgress: () => { if (++calls === 7) ctl.abort(); },
  });
  assert.equal(d.aborted, true);
  assert.equal(calls, 7);
  assert.deepEqual(d.runs.map((r) => r.nodes.length), [5, 2]);
  assert.deepEqual(d.runs.map((r) => r.stopReason), ["iterations", "aborted"]);
  relClose(sum(d.weights), 1, 1e-12, "Σw");

  const eig = await hessianEigenvaluesLanczos(loss, vars, { k: 2, iterations: 9, seed: 1, signal: AbortSignal.abort() });
  assert.equal(eig.aborted, true);
  assert.equal(eig.iterations, 1);
  assert.equal(eig.values.length, 1, "one Ritz value after one step");
});

test("the library exports the Lanczos functions and the spectrum figure", async () => {
  const lib = (await import("../../lib/index.ts")) as Record<string, unknown>;
  for (const name of ["hessianEigenvaluesLanczos", "hessianSpectralDensity", "gaussianSpectralDensity", "spectralDensityFigure"]) {
    assert.equal(typeof lib[name], "function", `fsam-lab exports ${name}`);
  }
});

test("without re-orthogonalisation (two vectors kept) the first steps match the re-orthogonalised ones", async () => {
  const vars = namedVariables(SPEC, 10, "lznoreorth");
  const hvp = await createHvp(quadraticLoss(vars, withSpectrum(EIGS, 5)), vars, { seed: 1 });
  const full = await lanczos(hvp, vars, { iterations: 4, seed: 3 });
  const lean = await lanczos(hvp, vars, { iterations: 4, seed: 3, reorthogonalize: false });
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(full.alpha[i] - lean.alpha[i]) < 1e-4 * Math.max(1, Math.abs(full.alpha[i])), `alpha ${i}`);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(full.beta[i] - lean.beta[i]) < 1e-4 * Math.max(1, full.beta[i]), `beta ${i}`);
});
