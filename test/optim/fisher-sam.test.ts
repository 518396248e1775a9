import test, { before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { FisherSAM, type MaskRefreshEvent } from "../../lib/optim/fisher-sam.ts";
import { computeFisher } from "../../lib/optim/fisher.ts";
import { SAM } from "../../lib/optim/sam.ts";
import { assertClose, dot, mlp0, mlpLossGrad, mlpProblem, norm, q0, qa, qb, quadGrad, quadraticProblem } from "./reference.ts";

before(async () => {
  await tf.setBackend("cpu");
});

const maxAbsDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));

test("sparsity 0 reproduces SAM (also with ASAM + GSAM) to 1e-6", () => {
  for (const samOpts of [{ rho: 0.2 }, { rho: 0.2, adaptive: true, eta: 0.01, gsamAlpha: 0.3 }]) {
    const p = mlpProblem();
    const q = mlpProblem();
    const fsam = new FisherSAM(tf.train.adam(0.05), { ...samOpts, sparsity: 0, maskInterval: 2, fisherSamples: 4, fisherLoss: p.exampleLoss });
    const sam = new SAM(tf.train.adam(0.05), samOpts);
    for (let i = 0; i < 5; i++) {
      const a = fsam.minimize(p.f, true, p.vars) as tf.Scalar;
      const b = sam.minimize(q.f, true, q.vars) as tf.Scalar;
      assert.ok(Math.abs(a.dataSync()[0] - b.dataSync()[0]) <= 1e-6);
      tf.dispose([a, b]);
    }
    assert.ok(maxAbsDiff(p.read(), q.read()) <= 1e-6);
    // And SAM really moved differently from the start point.
    assert.ok(maxAbsDiff(p.read(), mlp0) > 1e-2);
    fsam.dispose();
    sam.dispose();
    p.dispose();
    q.dispose();
  }
});

test("sparsity 1 reproduces the base optimizer (Adam) to 1e-6", () => {
  const p = mlpProblem();
  const q = mlpProblem();
  const r = mlpProblem();
  const fsam = new FisherSAM(tf.train.adam(0.05), { rho: 0.2, sparsity: 1, maskInterval: 2, fisherSamples: 4, fisherLoss: p.exampleLoss });
  const adam = tf.train.adam(0.05);
  const sam = new SAM(tf.train.adam(0.05), { rho: 0.2 });
  for (let i = 0; i < 5; i++) {
    fsam.minimize(p.f, false, p.vars);
    adam.minimize(q.f, false, q.vars);
    sam.minimize(r.f, false, r.vars);
  }
  assert.ok(maxAbsDiff(p.read(), q.read()) <= 1e-6);
  assert.ok(maxAbsDiff(p.read(), r.read()) > 1e-4, "SAM differs from Adam on this problem");
  fsam.dispose();
  adam.dispose();
  sam.dispose();
  tf.dispose([p, q, r].map((x) => x.vars));
});

test("per-sample Fisher is the mean of squared per-example gradients (linear model, analytic)", () => {
  const xs = [[1, 2, -1], [0.5, -1, 2], [-2, 0.3, 0.1], [1.5, 1, 1], [0, -0.5, 3]];
  const ts = [1, -1, 0.5, 2, 0];
  const w0 = [0.2, -0.3, 0.4];
  const b0 = 0.1;
  const w = tf.variable(tf.tensor2d(w0, [3, 1]));
  const b = tf.variable(tf.tensor1d([b0]));
  const x = tf.tensor2d(xs);
  const t = tf.tensor1d(ts);
  // loss_i = ½ (x_i·w + b − t_i)²  →  ∂/∂w = r_i x_i, ∂/∂b = r_i.
  const exampleLoss = (i: number) =>
    tf.tidy(() => {
      const y = tf.add(tf.matMul(tf.slice(x, [i, 0], [1, 3]), w), b).reshape([]);
      return tf.mul(0.5, tf.square(tf.sub(y, t.slice([i], [1]).reshape([])))) as tf.Scalar;
    });
  const residual = xs.map((xi, i) => xi.reduce((s, v, j) => s + v * w0[j], b0) - ts[i]);
  const n = xs.length;
  const expectedW = w0.map((_, j) => residual.reduce((s, r, i) => s + (r * xs[i][j]) ** 2, 0) / n);
  const expectedB = residual.reduce((s, r) => s + r * r, 0) / n;

  const unused = tf.variable(tf.tensor1d([5, 6]));
  const fisher = computeFisher(exampleLoss, [w, b, unused], n);
  assertClose(fisher.get(w.name) as Float32Array, expectedW, 1e-5, "F(w)");
  assertClose(fisher.get(b.name) as Float32Array, [expectedB], 1e-5, "F(b)");
  assert.deepEqual([...(fisher.get(unused.name) as Float32Array)], [0, 0], "a variable the loss ignores has zero Fisher");
  unused.dispose();

  const fsam = new FisherSAM(tf.train.sgd(0.1), { sparsity: 0.5, fisherSamples: n, fisherLoss: exampleLoss });
  fsam.updateMask([w, b]);
  assertClose(fsam.fisher.get(w.name) as Float32Array, expectedW, 1e-5, "fsam.fisher(w)");
  // Batch mode: the square of the gradient of one mini-batch loss (here the mean over all 5).
  const batchLoss = () => tf.tidy(() => tf.mean(tf.stack(xs.map((_, i) => exampleLoss(i)))) as tf.Scalar);
  const batch = new FisherSAM(tf.train.sgd(0.1), { fisherMode: "batch", fisherLoss: batchLoss });
  batch.updateMask([w, b]);
  const meanGradW = w0.map((_, j) => residual.reduce((s, r, i) => s + r * xs[i][j], 0) / n);
  const meanGradB = residual.reduce((s, r) => s + r, 0) / n;
  assertClose(batch.fisher.get(w.name) as Float32Array, meanGradW.map((g) => g * g), 1e-5, "batch F(w)");
  assertClose(batch.fisher.get(b.name) as Float32Array, [meanGradB ** 2], 1e-5, "batch F(b)");
  fsam.dispose();
  batch.dispose();
  tf.dispose([w, b, x, t]);
});

test("the mask keeps exactly floor((1−s)·n) entries, the largest-Fisher ones, over all variables", () => {
  const p = mlpProblem();
  // Independent per-example Fisher of the 13 MLP parameters in float64.
  const perExample = [0, 1, 2, 3].map((r) => mlpLossGrad(mlp0, [r]).grad);
  const expected = mlp0.map((_, j) => perExample.reduce((s, g) => s + g[j] ** 2, 0) / 4);
  const order = expected.map((f, j) => [f, j]).sort((a, b) => b[0] - a[0]);
  for (const sparsity of [0.9, 0.5, 0.3]) {
    const k = Math.floor((1 - sparsity) * 13 + 1e-9);
    const fsam = new FisherSAM(tf.train.sgd(0.1), { sparsity, fisherSamples: 4, fisherLoss: p.exampleLoss });
    fsam.updateMask(p.vars);
    const fisher = p.vars.flatMap((v) => [...(fsam.fisher.get(v.name) as Float32Array)]);
    assertClose(fisher, expected, 1e-5, "Fisher");
    const mask = p.vars.flatMap((v) => [...(fsam.maskData.get(v.name) as Uint8Array)]);
    assert.equal(mask.reduce((s, m) => s + m, 0), k);
    const keptIdx = mask.flatMap((m, j) => (m ? [j] : [])).sort((a, b) => a - b);
    assert.deepEqual(keptIdx, order.slice(0, k).map(([, j]) => j).sort((a, b) => a - b), `sparsity ${sparsity}`);
    assertClose([fsam.threshold], [order[k - 1][0]], 1e-5, "threshold");
    // The mask tensors hold the same 0/1 values with the variables' shapes.
    for (const v of p.vars) {
      const t = fsam.mask.get(v.name) as tf.Tensor;
      assert.deepEqual(t.shape, v.shape);
      assert.deepEqual([...t.dataSync()], [...(fsam.maskData.get(v.name) as Uint8Array)]);
    }
    const stats = fsam.maskStats();
    assert.equal(stats.totalSize, 13);
    assert.equal(stats.totalKept, k);
    assert.equal(stats.threshold, fsam.threshold);
    for (const s of stats.variables) {
      const f = [...(fsam.fisher.get(s.name) as Float32Array)].sort((a, b) => a - b);
      const m = fsam.maskData.get(s.name) as Uint8Array;
      const kept = m.reduce((a, x) => a + x, 0);
      const mid = f.length % 2 ? f[(f.length - 1) / 2] : (f[f.length / 2 - 1] + f[f.length / 2]) / 2;
      assert.deepEqual(
        [s.size, s.kept, s.keptFraction, s.fisherMin, s.fisherMedian, s.fisherMax],
        [f.length, kept, kept / f.length, f[0], mid, f[f.length - 1]],
      );
    }
    fsam.dispose();
  }
  p.dispose();
});

test("a step perturbs only the masked entries, with the norm of the full gradient (FSAM, Fisher-ASAM, Fisher-GSAM)", () => {
  for (const variant of [{}, { adaptive: true, eta: 0.05 }, { gsamAlpha: 0.5 }] as { adaptive?: boolean; eta?: number; gsamAlpha?: number }[]) {
    const p = quadraticProblem();
    // fisherLoss = the loss itself, so F = g², and the mask keeps the largest |g| entries.
    const fsam = new FisherSAM(tf.train.sgd(0.1), { ...variant, rho: 0.3, sparsity: 0.6, fisherSamples: 1, fisherLoss: () => p.f() });
    fsam.minimize(p.f, false, p.vars);
    const g = quadGrad(q0);
    const mask = p.vars.flatMap((v) => [...(fsam.maskData.get(v.name) as Uint8Array)]);
    const top2 = g.map((x, j) => [Math.abs(x), j]).sort((a, b) => b[0] - a[0]).slice(0, 2).map(([, j]) => j);
    assert.deepEqual(mask.flatMap((m, j) => (m ? [j] : [])), top2.sort((a, b) => a - b));
    // e as in SAM/ASAM over the full gradient, then masked.
    const t = q0.map((w) => (variant.adaptive ? Math.abs(w) + (variant.eta ?? 0) : 1));
    const tg = g.map((x, j) => t[j] * x);
    const e = g.map((x, j) => (mask[j] * 0.3 * t[j] * t[j] * x) / (norm(tg) + 1e-12));
    let gp = q0.map((w, j) => qa[j] * (w + e[j]) + qb[j]);
    if (variant.gsamAlpha) {
      const c = dot(g, gp) / dot(gp, gp);
      gp = gp.map((x, j) => x - variant.gsamAlpha! * (g[j] - c * x));
    }
    const expected = q0.map((w, j) => w - 0.1 * gp[j]);
    assertClose(p.read(), expected, 1e-6, `weights ${JSON.stringify(variant)}`);
    fsam.dispose();
    p.dispose();
  }
});

test("non-maskable variables keep their full perturbation", () => {
  const p = quadraticProblem();
  const [u, v] = p.vars;
  const fsam = new FisherSAM(tf.train.sgd(0.1), {
    rho: 0.3,
    sparsity: 1,
    fisherSamples: 1,
    fisherLoss: () => p.f(),
    maskable: (x) => x !== v,
  });
  fsam.minimize(p.f, false, p.vars);
  assert.deepEqual([...fsam.maskData.keys()], [u.name]);
  const g = quadGrad(q0);
  const e = g.map((x, j) => (j < 3 ? 0 : (0.3 * x) / (norm(g) + 1e-12)));
  const expected = q0.map((w, j) => w - 0.1 * (qa[j] * (w + e[j]) + qb[j]));
  assertClose(p.read(), expected, 1e-6, "weights");
  fsam.dispose();
  p.dispose();
});

test("the mask refreshes at steps 0, T_m, 2T_m with N_F Fisher calls each; updateMask forces one", () => {
  const p = mlpProblem();
  let calls = 0;
  const fisherLoss = (i: number) => {
    calls++;
    return p.exampleLoss(i % 4);
  };
  const fsam = new FisherSAM(tf.train.adam(0.01), { sparsity: 0.5, maskInterval: 3, fisherSamples: 6, fisherLoss });
  const events: MaskRefreshEvent[] = [];
  const unsubscribe = fsam.onMaskRefresh((e) => events.push(e));
  const callsAtStep: number[] = [];
  for (let t = 0; t < 8; t++) {
    assert.equal(fsam.step, t);
    fsam.minimize(p.f, false, p.vars);
    callsAtStep.push(calls);
  }
  assert.deepEqual(events.map((e) => e.step), [0, 3, 6]);
  assert.deepEqual(callsAtStep, [6, 6, 6, 12, 12, 12, 18, 18]);
  assert.equal(events[2].threshold, fsam.threshold);
  assert.equal(events[2].masks.get(p.vars[0].name), fsam.maskData.get(p.vars[0].name));
  fsam.updateMask();
  assert.deepEqual(events.map((e) => e.step), [0, 3, 6, 8]);
  assert.equal(calls, 24);
  unsubscribe();
  fsam.minimize(p.f, false, p.vars);
  assert.equal(events.length, 4);
  fsam.dispose();
  p.dispose();
});

test("FSAM (and Fisher-ASAM/GSAM): tensor count stays flat over 50 steps with mask refreshes", () => {
  for (const extra of [{}, { adaptive: true, eta: 0.01, gsamAlpha: 0.2 }]) {
    const p = mlpProblem();
    const fsam = new FisherSAM(tf.train.adam(0.01), { ...extra, sparsity: 0.5, maskInterval: 10, fisherSamples: 4, fisherLoss: p.exampleLoss });
    fsam.minimize(p.f, true, p.vars)?.dispose();
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 49; i++) fsam.minimize(p.f, true, p.vars)?.dispose();
    assert.equal(tf.memory().numTensors, after1);
    fsam.dispose();
    p.dispose();
  }
});

test("model.fit with FisherSAM trains, reports the loss at w, and keeps the tensor count flat", async () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [3], units: 8, activation: "tanh", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }), tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })],
  });
  const x = Array.from({ length: 16 }, (_, i) => [Math.sin(i * 1.7), Math.cos(i * 2.3), Math.sin(i * 0.7 + 1)]);
  const xs = tf.tensor2d(x);
  const ys = tf.tensor2d(x.map(([a, b, c]) => [a - 0.5 * b + 0.3 * c * c]));
  const fisherLoss = (i: number) =>
    tf.tidy(() => tf.losses.meanSquaredError(ys.slice([i, 0], [1, 1]), model.apply(xs.slice([i, 0], [1, 3])) as tf.Tensor) as tf.Scalar);
  const fsam = new FisherSAM(tf.train.adam(0.05), { rho: 0.05, sparsity: 0.7, maskInterval: 5, fisherSamples: 16, fisherLoss });
  model.compile({ optimizer: fsam, loss: "meanSquaredError", metrics: ["mae"] });
  const reported: number[] = [];
  const counts: number[] = [];
  for (let epoch = 0; epoch < 40; epoch++) {
    const [loss, mae] = model.evaluate(xs, ys, { batchSize: 16 }) as tf.Scalar[];
    const atW = [loss.dataSync()[0], mae.dataSync()[0]];
    tf.dispose([loss, mae]);
    const history = await model.fit(xs, ys, { batchSize: 16, epochs: 1, shuffle: false, verbose: 0 });
    const fitLoss = history.history.loss[0] as number;
    const fitMae = history.history.mae[0] as number;
    assert.ok(Math.abs(fitLoss - atW[0]) <= 1e-5 * Math.max(1, atW[0]), `epoch ${epoch}: fit loss ${fitLoss} vs loss at w ${atW[0]}`);
    assert.ok(Math.abs(fitMae - atW[1]) <= 1e-5 * Math.max(1, atW[1]), `epoch ${epoch}: fit mae ${fitMae} vs mae at w ${atW[1]}`);
    reported.push(fitLoss);
    counts.push(tf.memory().numTensors);
  }
  console.log(`model.fit + FisherSAM: loss ${reported[0].toFixed(4)} -> ${reported[39].toFixed(4)} in 40 steps`);
  assert.ok(reported[39] < 0.5 * reported[0], `loss fell from ${reported[0]} to ${reported[39]}`);
  assert.deepEqual(new Set(counts.slice(1)).size, 1, `tensor counts ${counts.join(",")}`);
  assert.equal(fsam.step, 40);
  assert.ok(fsam.maskStats().totalKept > 0);
  model.dispose();
  fsam.dispose();
  tf.dispose([xs, ys]);
});

test("FisherSAM rejects invalid options, naming option and value", () => {
  const sgd = tf.train.sgd(0.1);
  const fisherLoss = () => tf.scalar(0);
  assert.throws(() => new FisherSAM(sgd, { fisherLoss, rho: -1 }), /rho.*-1/);
  assert.throws(() => new FisherSAM(sgd, { fisherLoss, sparsity: 1.5 }), /sparsity.*1\.5/);
  assert.throws(() => new FisherSAM(sgd, { fisherLoss, sparsity: -0.1 }), /sparsity.*-0\.1/);
  assert.throws(() => new FisherSAM(sgd, { fisherLoss, maskInterval: 0 }), /maskInterval.*\b0\b/);
  assert.throws(() => new FisherSAM(sgd, { fisherLoss, maskInterval: 2.5 }), /maskInterval.*2\.5/);
  assert.throws(() => new FisherSAM(sgd, { fisherLoss, fisherSamples: 0 }), /fisherSamples.*\b0\b/);
  assert.throws(() => new FisherSAM(sgd, { fisherLoss, gsamAlpha: -0.2 }), /gsamAlpha.*-0\.2/);
  assert.throws(() => new FisherSAM(sgd, { fisherLoss, eta: -3 }), /eta.*-3/);
  assert.throws(() => new FisherSAM(sgd, { fisherLoss, fisherMode: "exact" as never }), /fisherMode.*exact/);
  assert.throws(() => new FisherSAM(sgd, {}), /fisherLoss is required.*undefined/);
  assert.throws(() => new FisherSAM(sgd, { fisherLoss, sparsty: 0.5 } as never), /unknown option sparsty/);
  const w = tf.variable(tf.tensor1d([1, 2]));
  const bad = new FisherSAM(sgd, { fisherLoss: () => tf.mul(w, 2) as unknown as tf.Scalar });
  assert.throws(() => bad.updateMask([w]), /fisherLoss\(0\) must return a scalar.*shape \[2\]/);
  const f = () => tf.sum(w) as tf.Scalar;
  assert.throws(() => bad.minimize(f, false, [w]), /fisherLoss\(0\) must return a scalar/);
  bad.dispose();
  w.dispose();
});
