import test, { before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { ESAM, FisherESAM, acceptsPerExampleLoss } from "../../lib/optim/esam.ts";
import { FisherSAM } from "../../lib/optim/fisher-sam.ts";
import { SAM } from "../../lib/optim/sam.ts";
import { mulberry32 } from "../../lib/random.ts";
import { fisherAtlas } from "../../lib/inspect/fisher-atlas.ts";
import { add, assertClose, mlp0, mlpLossGrad, mlpProblem, norm, scale, type Vec } from "./reference.ts";

before(async () => {
  await tf.setBackend("cpu");
});

/**
 * L = Σ_j ½ w_j² + b_j w_j over `shapes.length` variables, with w and b drawn from fixed seeds.
 * Its gradient is w + b, so one SGD step of rate 1 from w gives w' = −(e + b): the perturbation e
 * of every element can be read back from the weights as −w' − b.
 */
function unitQuadratic(shapes: number[][]) {
  const rw = mulberry32(11);
  const rb = mulberry32(12);
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const w0 = sizes.map((n) => Array.from({ length: n }, () => rw() * 2 - 1));
  const b = sizes.map((n) => Array.from({ length: n }, () => rb() * 2 - 1));
  const vars = shapes.map((s, k) => tf.variable(tf.tensor(w0[k], s)));
  const bs = shapes.map((s, k) => tf.tensor(b[k], s));
  const f = () =>
    tf.tidy(() => tf.addN(vars.map((v, k) => tf.sum(tf.add(tf.mul(0.5, tf.square(v)), tf.mul(bs[k], v))))) as tf.Scalar);
  const read = () => vars.map((v) => [...v.dataSync()]);
  /** The perturbation of the last SGD(1) step, per variable, read back from the weights. */
  const perturbation = () => read().map((w, k) => w.map((x, j) => -x - b[k][j]));
  const dispose = () => tf.dispose([...vars, ...bs]);
  return { vars, f, w0, b, read, perturbation, dispose };
}

const flat = (xs: number[][]) => xs.flat();

test("beta = 1 and gamma = 1 is SAM exactly (also with ASAM + GSAM), per-example losses to 1e-6", () => {
  for (const samOpts of [{ rho: 0.2 }, { rho: 0.2, adaptive: true, eta: 0.01, gsamAlpha: 0.3 }]) {
    const p = mlpProblem();
    const q = mlpProblem();
    const r = mlpProblem();
    const esam = new ESAM(tf.train.adam(0.05), { ...samOpts, beta: 1, gamma: 1 });
    const esamPerExample = new ESAM(tf.train.adam(0.05), { ...samOpts, beta: 1, gamma: 1 });
    const sam = new SAM(tf.train.adam(0.05), samOpts);
    for (let i = 0; i < 5; i++) {
      const a = esam.minimize(p.f, true, p.vars) as tf.Scalar;
      const b = sam.minimize(q.f, true, q.vars) as tf.Scalar;
      const c = esamPerExample.minimize(r.perExample, true, r.vars) as tf.Scalar;
      assert.equal(a.dataSync()[0], b.dataSync()[0]);
      assert.ok(Math.abs(c.dataSync()[0] - b.dataSync()[0]) <= 1e-6);
      tf.dispose([a, b, c]);
    }
    assert.deepEqual(p.read(), q.read());
    assertClose(r.read(), q.read(), 1e-6, "per-example ESAM vs SAM");
    assert.ok(Math.max(...p.read().map((x, i) => Math.abs(x - mlp0[i]))) > 1e-2, "the weights moved");
    for (const o of [esam, esamPerExample, sam]) o.dispose();
    for (const x of [p, q, r]) x.dispose();
  }
});

test("gamma < 1 takes the gradient at w + e over exactly the examples whose loss rose most (float64 reference)", () => {
  const rho = 0.5;
  const lr = 0.5;
  // float64: e from the full-batch gradient, the loss increase of each example, the top two.
  const g = mlpLossGrad(mlp0).grad;
  const e = scale(g, rho / (norm(g) + 1e-12));
  const we = add(mlp0, e);
  const rise = [0, 1, 2, 3].map((i) => mlpLossGrad(we, [i]).loss - mlpLossGrad(mlp0, [i]).loss);
  const order = [0, 1, 2, 3].sort((i, j) => rise[j] - rise[i]);
  assert.ok(rise[order[1]] - rise[order[2]] > 1e-3, `a clear top two: ${rise}`);
  const step = (rows: number[]): Vec => {
    const gp = mlpLossGrad(we, rows).grad;
    return mlp0.map((x, i) => x - lr * gp[i]);
  };
  const expected = step(order.slice(0, 2));
  const other = step(order.slice(2));

  const p = mlpProblem();
  const esam = new ESAM(tf.train.sgd(lr), { rho, beta: 1, gamma: 0.5 });
  const cost = esam.minimize(p.perExample, true, p.vars) as tf.Scalar;
  assertClose([cost.dataSync()[0]], [mlpLossGrad(mlp0).loss], 1e-6, "mean loss at w");
  assertClose(p.read(), expected, 2e-6, "weights after the SDS step");
  assert.ok(Math.max(...p.read().map((x, i) => Math.abs(x - other[i]))) > 1e-3, "another subset would give other weights");
  tf.dispose(cost);
  esam.dispose();
  p.dispose();
});

test("per-element SWP: a seeded run is reproducible, perturbs ~beta of the weights by rho/beta·g/‖g‖ (float64 reference)", () => {
  const beta = 0.3;
  const rho = 0.5;
  const run = (seed: number) => {
    const p = unitQuadratic([[40, 50]]);
    const esam = new ESAM(tf.train.sgd(1), { rho, beta, gamma: 1, seed });
    esam.minimize(p.f, false, p.vars);
    const out = { e: flat(p.perturbation()), stats: esam.weightSamplingStats, p };
    esam.dispose();
    return out;
  };
  const a = run(7);
  // The reference draws the same mulberry32 stream: element j is perturbed when draw j < beta.
  const g = add(flat(a.p.w0), flat(a.p.b));
  const random = mulberry32(7);
  const mask = g.map(() => random() < beta);
  const expected = g.map((x, j) => (mask[j] ? (rho / beta) * (x / (norm(g) + 1e-12)) : 0));
  assertClose(a.e, expected, 1e-5, "perturbation");
  const kept = mask.filter(Boolean).length;
  assert.deepEqual(a.stats, { perturbed: kept, total: 2000 });
  const sigma = Math.sqrt((beta * (1 - beta)) / 2000);
  assert.ok(Math.abs(kept / 2000 - beta) < 4 * sigma, `perturbed fraction ${kept / 2000}`);

  const again = run(7);
  assert.deepEqual(again.p.read(), a.p.read(), "same seed, same step");
  const other = run(8);
  assert.notDeepEqual(other.p.read(), a.p.read(), "another seed, another mask");
  for (const x of [a, again, other]) x.p.dispose();
});

test("freeze-tensors SWP: whole variables frozen with probability 1 − beta after each step, e always divided by beta", () => {
  const beta = 0.5;
  const rho = 0.5;
  const shapes = Array.from({ length: 8 }, () => [5]);
  const p = unitQuadratic(shapes);
  const esam = new ESAM(tf.train.sgd(1), { rho, beta, gamma: 1, seed: 3, weightSampling: "freeze-tensors" });
  const expectedE = (w: number[][], frozen: boolean[]) => {
    const g = w.map((wk, k) => wk.map((x, j) => x + p.b[k][j]));
    const n = norm(g.filter((_, k) => !frozen[k]).flat());
    return g.map((gk, k) => gk.map((x) => (frozen[k] ? 0 : (rho / beta) * (x / (n + 1e-12)))));
  };
  // Step 1: nothing frozen yet, but e is still divided by beta.
  esam.minimize(p.f, false, p.vars);
  assertClose(flat(p.perturbation()), flat(expectedE(p.w0, shapes.map(() => false))), 1e-5, "step 1");
  assert.deepEqual(esam.weightSamplingStats, { perturbed: 40, total: 40 });
  // Step 2: the variables frozen by the draw after step 1 (draw k ≥ beta freezes variable k).
  const random = mulberry32(3);
  const frozen = shapes.map(() => random() >= beta);
  assert.ok(frozen.includes(true) && frozen.includes(false), `seed 3 freezes some, not all: ${frozen}`);
  const w1 = p.read();
  esam.minimize(p.f, false, p.vars);
  assertClose(flat(p.perturbation()), flat(expectedE(w1, frozen)), 1e-5, "step 2");
  assert.deepEqual(esam.weightSamplingStats, { perturbed: 5 * frozen.filter((x) => !x).length, total: 40 });
  esam.dispose();
  p.dispose();
});

test("Fisher-ESAM with beta = 1 and gamma = 1 is FisherSAM exactly; with beta < 1 it perturbs mask ∩ SWP by rho/beta", async () => {
  const p = mlpProblem();
  const q = mlpProblem();
  const fisherOpts = { rho: 0.2, sparsity: 0.5, maskInterval: 2, fisherSamples: 4 };
  const fesam = new FisherESAM(tf.train.adam(0.05), { ...fisherOpts, beta: 1, gamma: 1, fisherLoss: p.exampleLoss });
  const fsam = new FisherSAM(tf.train.adam(0.05), { ...fisherOpts, fisherLoss: q.exampleLoss });
  for (let i = 0; i < 5; i++) {
    fesam.minimize(p.f, false, p.vars);
    fsam.minimize(q.f, false, q.vars);
  }
  assert.deepEqual(p.read(), q.read());
  assert.deepEqual([...fesam.maskData.values()], [...fsam.maskData.values()]);
  for (const o of [fesam, fsam]) o.dispose();
  for (const x of [p, q]) x.dispose();

  const beta = 0.5;
  const rho = 0.5;
  const u = unitQuadratic([[30, 20]]);
  // Batch-mode Fisher of the loss itself: the mask keeps the 40% of weights with the largest |g|.
  const f2 = new FisherESAM(tf.train.sgd(1), { rho, beta, gamma: 1, seed: 5, sparsity: 0.6, fisherMode: "batch", fisherLoss: u.f });
  f2.minimize(u.f, false, u.vars);
  const mask = [...(f2.maskData.get(u.vars[0].name) as Uint8Array)];
  assert.equal(mask.filter((x) => x === 1).length, 240);
  const g = add(flat(u.w0), flat(u.b));
  const random = mulberry32(5);
  const expected = g.map((x, j) => (random() < beta && mask[j] === 1 ? (rho / beta) * (x / (norm(g) + 1e-12)) : 0));
  assertClose(flat(u.perturbation()), expected, 1e-5, "Fisher-ESAM perturbation");
  // The Fisher atlas reads a Fisher-ESAM like a FisherSAM.
  const atlas = await fisherAtlas(f2);
  assert.equal(atlas.totalKept, 240);
  assert.equal(atlas.totalSize, 600);
  f2.dispose();
  u.dispose();
});

const leakCases: [string, () => tf.Optimizer, "perExample" | "f"][] = [
  ["ESAM per-element, gamma 0.5", () => new ESAM(tf.train.adam(0.01), { rho: 0.1, beta: 0.5, gamma: 0.5 }), "perExample"],
  ["ESAM freeze-tensors, gamma 0.5", () => new ESAM(tf.train.adam(0.01), { rho: 0.1, beta: 0.5, gamma: 0.5, weightSampling: "freeze-tensors" }), "perExample"],
  ["ESAM + GSAM on a scalar loss", () => new ESAM(tf.train.adam(0.01), { rho: 0.1, beta: 0.6, gamma: 1, gsamAlpha: 0.2 }), "f"],
];
for (const [name, make, lossKind] of leakCases) {
  test(`${name}: tensor count stays flat over 50 steps`, () => {
    const p = mlpProblem();
    const opt = make() as ESAM;
    const loss = lossKind === "f" ? p.f : p.perExample;
    opt.minimize(loss, true, p.vars)?.dispose();
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 49; i++) opt.minimize(loss, true, p.vars)?.dispose();
    assert.equal(tf.memory().numTensors, after1);
    opt.dispose();
    p.dispose();
  });
}

test("Fisher-ESAM: tensor count stays flat over 50 steps with mask refreshes", () => {
  const p = mlpProblem();
  const opt = new FisherESAM(tf.train.adam(0.01), { rho: 0.1, beta: 0.5, gamma: 0.5, sparsity: 0.5, maskInterval: 10, fisherSamples: 4, fisherLoss: p.exampleLoss });
  opt.minimize(p.perExample, true, p.vars)?.dispose();
  const after1 = tf.memory().numTensors;
  for (let i = 0; i < 49; i++) opt.minimize(p.perExample, true, p.vars)?.dispose();
  assert.equal(tf.memory().numTensors, after1);
  opt.dispose();
  p.dispose();
});

test("invalid beta, gamma, seed or sampling mode give errors naming the option; a scalar loss cannot select examples", () => {
  const sgd = tf.train.sgd(0.1);
  assert.throws(() => new ESAM(sgd, { beta: 0 }), /ESAM: option beta \(the fraction of weights perturbed\) must be a number in \(0, 1\], got 0/);
  assert.throws(() => new ESAM(sgd, { beta: 1.5 }), /beta.*1\.5/);
  assert.throws(() => new ESAM(sgd, { beta: Number.NaN }), /beta.*NaN/);
  assert.throws(() => new ESAM(sgd, { gamma: -0.5 }), /option gamma \(the fraction of the batch selected\).*-0\.5/);
  assert.throws(() => new ESAM(sgd, { gamma: "half" as unknown as number }), /gamma.*half/);
  assert.throws(() => new ESAM(sgd, { seed: 1.5 }), /seed must be an integer, got 1\.5/);
  assert.throws(() => new ESAM(sgd, { weightSampling: "per-layer" as never }), /weightSampling.*per-layer/);
  assert.throws(() => new ESAM(sgd, { rho: -1 }), /rho.*-1/);
  assert.throws(() => new ESAM(sgd, { betta: 0.5 } as never), /unknown option betta/);
  assert.throws(() => new FisherESAM(sgd, { gamma: 2 } as never), /FisherESAM: option gamma.*2/);
  assert.throws(() => new FisherESAM(sgd, { beta: 0.5 }), /fisherLoss is required/);

  const p = mlpProblem();
  const esam = new ESAM(tf.train.sgd(0.1), { gamma: 0.5 });
  const before = tf.memory().numTensors;
  assert.throws(() => esam.minimize(p.f, false, p.vars), /data selection \(gamma 0\.5 < 1\) needs per-example losses/);
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(p.read(), [...Float32Array.from(mlp0)], "no step taken");
  esam.dispose();
  p.dispose();
});

test("ESAM getConfig round-trips through tf.serialization; the trainer recognises both classes", () => {
  const opt = new ESAM(tf.train.adam(0.003), { rho: 0.07, beta: 0.4, gamma: 0.25, seed: 9, weightSampling: "freeze-tensors" });
  const config = opt.getConfig();
  assert.equal(config.beta, 0.4);
  assert.equal(config.weightSampling, "freeze-tensors");
  const rebuilt = ESAM.fromConfig(ESAM, config) as ESAM;
  assert.deepEqual(rebuilt.getConfig(), config);
  assert.equal(opt.getClassName(), "ESAM");
  assert.ok(acceptsPerExampleLoss(opt));
  assert.ok(!acceptsPerExampleLoss(new SAM(tf.train.sgd(0.1))));
  const p = mlpProblem();
  const fesam = new FisherESAM(tf.train.sgd(0.1), { fisherLoss: p.exampleLoss });
  assert.ok(acceptsPerExampleLoss(fesam));
  assert.equal(fesam.getClassName(), "FisherESAM");
  for (const o of [opt, rebuilt, fesam]) o.dispose();
  p.dispose();
});
