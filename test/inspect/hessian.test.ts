import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { hessianEigen, hessianTrace, hessianTraceEstimate, topHessianEigenvalues, hessianDiagonal, sharpnessByBlock } from "../../lib/inspect/hessian.ts";
import { createHvp } from "../../lib/inspect/hvp.ts";
import { setHost } from "../../lib/host.ts";
import { EIGS, SPEC, coupledBlocks, namedVariables, quadraticLoss, relClose, withSpectrum } from "./quadratic.ts";

await tf.setBackend("cpu");


test("top-3 eigenvalues of a quadratic with known spectrum (double back-prop)", async () => {
  const vars = namedVariables(SPEC, 1, "eig");
  const loss = quadraticLoss(vars, withSpectrum(EIGS, 7));
  const res = await hessianEigen(loss, vars, { k: 3, seed: 3, tol: 1e-6, maxIter: 500 });
  assert.equal(res.method, "double-backprop");
  relClose(res.values[0], 9, 1e-3, "λ1");
  relClose(res.values[1], -4, 1e-3, "λ2 (dominant magnitude order)");
  relClose(res.values[2], 2.5, 1e-3, "λ3");
  assert.deepEqual(res.converged, [true, true, true]);
  res.residuals.forEach((r, i) => assert.ok(r < 1e-2, `residual ${i}: ${r}`));
  const early = await hessianEigen(loss, vars, { k: 1, seed: 3, tol: 1e-6, maxIter: 2 });
  assert.deepEqual([early.converged[0], early.iterations[0]], [false, 2]);
  assert.ok(early.residuals[0] > res.residuals[0], `2 iterations leave residual ${early.residuals[0]}`);
  const plain = await topHessianEigenvalues(loss, vars, { k: 1, seed: 3 });
  relClose(plain[0], 9, 1e-3, "λ1 with default tol");
});

test("finite-difference Hessian-vector products give the same eigenvalues and trace", async () => {
  const vars = namedVariables(SPEC, 2, "fd");
  const loss = quadraticLoss(vars, withSpectrum(EIGS, 8));
  const res = await hessianEigen(loss, vars, { k: 2, seed: 4, tol: 1e-6, maxIter: 500, method: "finite-difference" });
  assert.equal(res.method, "finite-difference");
  relClose(res.values[0], 9, 1e-3, "λ1");
  relClose(res.values[1], -4, 1e-3, "λ2");
});

test("Hutchinson trace: exact for a diagonal Hessian, within its standard error otherwise", async () => {
  const vars = namedVariables(SPEC, 3, "tr");
  const diag = EIGS.map((l, i) => EIGS.map((_, j) => (i === j ? l : 0)));
  const exact = EIGS.reduce((a, b) => a + b, 0);
  relClose(await hessianTrace(quadraticLoss(vars, diag), vars, { samples: 5, seed: 1 }), exact, 1e-3, "diagonal trace");
  const a = withSpectrum(EIGS, 9);
  const est = await hessianTraceEstimate(quadraticLoss(vars, a), vars, { samples: 100, seed: 2 });
  // Var(vᵀAv) = 2·Σ_{i≠j} A_ij² for Rademacher v.
  let off = 0;
  a.forEach((row, i) => row.forEach((x, j) => (off += i === j ? 0 : x * x)));
  const se = Math.sqrt((2 * off) / 100);
  assert.ok(Math.abs(est.trace - exact) < 4 * se, `trace ${est.trace} vs ${exact}, se ${se}`);
  assert.ok(Math.abs(est.stdError - se) < 0.5 * se, `estimated standard error ${est.stdError} vs ${se}`);
});

test("restricting vars to a block gives that block's Hessian eigenvalues and trace", async () => {
  const vars = namedVariables(SPEC, 4, "blk");
  const a = coupledBlocks();
  const loss = quadraticLoss(vars, a);
  const top1 = await topHessianEigenvalues(loss, vars.slice(0, 2), { k: 2, seed: 1, tol: 1e-7, maxIter: 500 });
  relClose(top1[0], 5, 1e-3, "block 1 λ1");
  relClose(top1[1], 3, 1e-3, "block 1 λ2");
  const top2 = await topHessianEigenvalues(loss, vars.slice(2), { k: 1, seed: 1, tol: 1e-7, maxIter: 500 });
  relClose(top2[0], 7, 1e-3, "block 2 λ1");
  const table = await sharpnessByBlock(loss, vars, { k: 1, traceSamples: 200, seed: 2, tol: 1e-7, maxIter: 500 });
  assert.deepEqual(table.rows.map((x) => x.block), ["layer.0.attention", "classifier"]);
  assert.deepEqual(table.rows.map((x) => x.size), [6, 3]);
  relClose(table.rows[0].topEigenvalue, 5, 1e-3, "table block 1");
  relClose(table.rows[1].topEigenvalue, 7, 1e-3, "table block 2");
  assert.ok(Math.abs(table.rows[1].trace - 8.3) < 1.5, `block 2 trace ${table.rows[1].trace} vs 8.3`);
  assert.deepEqual(table.table.shape, [2, 9]);
});

test("Hessian diagonal (Hutchinson) of a diagonal Hessian is exact", async () => {
  const vars = namedVariables(SPEC, 5, "diag");
  const diag = EIGS.map((l, i) => EIGS.map((_, j) => (i === j ? l : 0)));
  const d = await hessianDiagonal(quadraticLoss(vars, diag), vars, { samples: 3, seed: 1 });
  const flat = vars.flatMap((v) => [...d.get(v.name)!]);
  flat.forEach((x, i) => relClose(x, EIGS[i], 1e-4, `diag ${i}`));
});

test("auto method differentiates tanh's gradient exactly (second-order gradients swapped in)", async () => {
  const vars = namedVariables([["bert.pooler.dense.weight", [3, 3]]], 6, "tanh");
  const x = tf.tensor2d([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]]);
  const loss = () => tf.tidy(() => tf.sum(tf.square(tf.tanh(tf.matMul(x, vars[0])))) as tf.Scalar);
  const hvp = await createHvp(loss, vars, { seed: 1 });
  assert.equal(hvp.method, "double-backprop", hvp.fallbackReason);
  // Central differences of the closed-form gradient as an independent check of one column of H.
  const e = [tf.tensor2d([[1, 0, 0], [0, 0, 0], [0, 0, 0]])];
  const hv = await hvp.apply(e);
  const h = 1e-2;
  const X = [[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]];
  const W = vars[0].arraySync() as number[][];
  const grad = (w: number[][]) => {
    // dL/dW_ij = Σ_n 2·tanh(z_nj)·(1 − tanh²(z_nj))·x_ni, z = xW.
    const g = w.map((row) => row.map(() => 0));
    for (const xn of X)
      for (let j = 0; j < 3; j++) {
        const t = Math.tanh(xn.reduce((s, xi, i) => s + xi * w[i][j], 0));
        for (let i = 0; i < 3; i++) g[i][j] += 2 * t * (1 - t * t) * xn[i];
      }
    return g;
  };
  const wp = W.map((r, i) => r.map((v, j) => v + (i === 0 && j === 0 ? h : 0)));
  const wm = W.map((r, i) => r.map((v, j) => v - (i === 0 && j === 0 ? h : 0)));
  const gp = grad(wp), gm = grad(wm);
  const got = hv[0].arraySync() as number[][];
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) assert.ok(Math.abs(got[i][j] - (gp[i][j] - gm[i][j]) / (2 * h)) < 2e-3, `H[(0,0),(${i},${j})]`);
  hv[0].dispose();
  e[0].dispose();
});

test("auto method accepts double back-prop through softmax, whose stock tfjs second derivative is wrong", async () => {
  const vars = namedVariables([["classifier.weight", [3, 4]]], 7, "softmax");
  const x = tf.tensor2d([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6], [1, 0.2, 0.3]]);
  const loss = () => tf.tidy(() => tf.sum(tf.square(tf.softmax(tf.matMul(x, vars[0])))) as tf.Scalar);
  const hvp = await createHvp(loss, vars, { seed: 1 });
  assert.equal(hvp.method, "double-backprop", hvp.fallbackReason);
  assert.ok(hvp.probeError! < 1e-3, `probe error ${hvp.probeError}`);
});

test("eigen and trace leave no tensors behind and restore the variables", async () => {
  const vars = namedVariables(SPEC, 8, "leak");
  const before = vars.map((v) => [...v.dataSync()]);
  const loss = quadraticLoss(vars, withSpectrum(EIGS, 3));
  await hessianEigen(loss, vars, { k: 2, seed: 1, maxIter: 5, method: "finite-difference" });
  const n0 = tf.memory().numTensors;
  await hessianEigen(loss, vars, { k: 2, seed: 1, maxIter: 20 });
  await hessianEigen(loss, vars, { k: 2, seed: 1, maxIter: 20, method: "finite-difference" });
  await hessianTrace(loss, vars, { samples: 10, seed: 1 });
  await hessianDiagonal(loss, vars, { samples: 3, seed: 1 });
  assert.equal(tf.memory().numTensors, n0);
  vars.forEach((v, i) => assert.deepEqual([...v.dataSync()], before[i]));
});

test("an abort signal stops the power iteration early", async () => {
  const vars = namedVariables(SPEC, 9, "abort");
  const loss = quadraticLoss(vars, withSpectrum(EIGS, 3));
  const ctl = new AbortController();
  let calls = 0;
  const res = await hessianEigen(loss, vars, {
    k: 3, seed: 1, tol: 1e-12, maxIter: 1000, signal: ctl.signal,
    onProgress: () => { if (++calls === 5) ctl.abort(); },
  });
  assert.equal(res.aborted, true);
  assert.equal(res.values.length, 1);
  assert.equal(res.iterations[0], 5);
});

test("in a notebook host, progress is shown in one output updated in place, and the host's signal stops the loop", async () => {
  const vars = namedVariables(SPEC, 10, "host");
  const loss = quadraticLoss(vars, withSpectrum(EIGS, 3));
  const shown: { id: string; text: string; update: boolean }[] = [];
  const ctl = new AbortController();
  setHost({
    display: (b, o) => shown.push({ id: o!.displayId!, text: String(b["text/plain"]), update: false }),
    updateDisplay: (b, id) => shown.push({ id, text: String(b["text/plain"]), update: true }),
    abortSignal: () => ctl.signal,
  });
  try {
    await hessianTrace(loss, vars, { samples: 3, seed: 1 });
    assert.ok(shown.length >= 2, `${shown.length} displays`);
    assert.equal(shown[0].update, false);
    assert.match(shown[0].text, /^Hessian trace: 1\/3/);
    assert.match(shown.at(-1)!.text, /^Hessian trace: 3\/3 \(100%\)/);
    assert.ok(shown.every((s) => s.id === shown[0].id));
    ctl.abort();
    const res = await hessianTraceEstimate(loss, vars, { samples: 50, seed: 1 });
    assert.equal(res.aborted, true);
    assert.equal(res.samples, 1);
  } finally {
    setHost(undefined);
  }
});
