import test, { before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { SAM } from "../../lib/optim/sam.ts";
import { assertClose, mlp0, mlpLossGrad, mlpProblem, q0, quadGrad, quadLoss, quadraticProblem, referenceStep } from "./reference.ts";

before(async () => {
  await tf.setBackend("cpu");
});

const variants = [
  { name: "SAM", opts: { rho: 0.3 }, ref: { rho: 0.3 } },
  { name: "ASAM", opts: { rho: 0.3, adaptive: true, eta: 0.01 }, ref: { rho: 0.3, adaptive: true, eta: 0.01 } },
  { name: "GSAM", opts: { rho: 0.3, gsamAlpha: 0.4 }, ref: { rho: 0.3, alpha: 0.4 } },
];

for (const { name, opts, ref } of variants) {
  test(`${name} step on a quadratic matches the float64 closed form`, () => {
    const p = quadraticProblem();
    const opt = new SAM(tf.train.sgd(0.1), opts);
    const cost = opt.minimize(p.f, true, p.vars) as tf.Scalar;
    assertClose([cost.dataSync()[0]], [quadLoss(q0)], 1e-6, "loss at w");
    cost.dispose();
    const expected = referenceStep(q0, quadGrad, { ...ref, lr: 0.1 });
    assertClose(p.read(), expected, 1e-6, `${name} weights`);
    // The update differs from plain SGD, so the test would catch a missing perturbation.
    const sgd = q0.map((x, i) => x - 0.1 * quadGrad(q0)[i]);
    assert.ok(Math.abs(p.read()[0] - sgd[0]) > 1e-3);
    opt.dispose();
    p.dispose();
  });
}

for (const { name, opts, ref } of variants) {
  test(`${name} step on a tiny MLP matches float64 backpropagation`, () => {
    const p = mlpProblem();
    const opt = new SAM(tf.train.sgd(0.5), opts);
    const cost = opt.minimize(p.f, true, p.vars) as tf.Scalar;
    assertClose([cost.dataSync()[0]], [mlpLossGrad(mlp0).loss], 1e-6, "loss at w");
    cost.dispose();
    const expected = referenceStep(mlp0, (w) => mlpLossGrad(w).grad, { ...ref, lr: 0.5 });
    assertClose(p.read(), expected, 2e-6, `${name} MLP weights`);
    opt.dispose();
    p.dispose();
  });
}

test("minimize without varList trains every trainable variable and returns null without returnCost", () => {
  const p = quadraticProblem();
  const frozen = tf.variable(tf.scalar(3), false);
  const opt = new SAM(tf.train.sgd(0.1), { rho: 0.3 });
  assert.equal(opt.minimize(p.f), null);
  assertClose(p.read(), referenceStep(q0, quadGrad, { rho: 0.3, lr: 0.1 }), 1e-6, "weights");
  assert.equal(frozen.dataSync()[0], 3);
  opt.dispose();
  frozen.dispose();
  p.dispose();
});

test("w is restored bit-exactly after the perturbed gradient", () => {
  const p = mlpProblem();
  const before = p.read();
  const opt = new SAM(tf.train.sgd(0), { rho: 0.5, adaptive: true, eta: 0.1 });
  for (let i = 0; i < 3; i++) opt.minimize(p.f, false, p.vars);
  assert.deepEqual(p.read(), before);
  opt.dispose();
  p.dispose();
});

test("rho = 0 is exactly the base optimizer", () => {
  const p = mlpProblem();
  const q = mlpProblem();
  const sam = new SAM(tf.train.adam(0.01), { rho: 0 });
  const adam = tf.train.adam(0.01);
  for (let i = 0; i < 3; i++) {
    sam.minimize(p.f, false, p.vars);
    adam.minimize(q.f, false, q.vars);
  }
  assert.deepEqual(p.read(), q.read());
  sam.dispose();
  adam.dispose();
  p.dispose();
  q.dispose();
});

for (const { name, opts } of variants) {
  test(`${name}: tensor count stays flat over 50 steps with an Adam base`, () => {
    const p = mlpProblem();
    const opt = new SAM(tf.train.adam(0.01), opts);
    opt.minimize(p.f, true, p.vars)?.dispose();
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 49; i++) opt.minimize(p.f, true, p.vars)?.dispose();
    assert.equal(tf.memory().numTensors, after1);
    const before = tf.memory().numTensors;
    opt.dispose();
    assert.ok(tf.memory().numTensors < before, "dispose frees the Adam moments");
    p.dispose();
  });
}

test("SAM rejects invalid options, naming option and value", () => {
  const sgd = tf.train.sgd(0.1);
  assert.throws(() => new SAM(sgd, { rho: -0.1 }), /rho.*-0\.1/);
  assert.throws(() => new SAM(sgd, { eta: -1 }), /eta.*-1/);
  assert.throws(() => new SAM(sgd, { gsamAlpha: -0.5 }), /gsamAlpha.*-0\.5/);
  assert.throws(() => new SAM(sgd, { eps: Number.NaN }), /eps.*NaN/);
  assert.throws(() => new SAM(sgd, { adaptive: "yes" as unknown as boolean }), /adaptive.*yes/);
  assert.throws(() => new SAM(sgd, { rh0: 0.1 } as never), /unknown option rh0/);
  assert.throws(() => new SAM({} as tf.Optimizer), /base must be a tf.Optimizer/);
});

test("getConfig round-trips through tf.serialization", () => {
  const opt = new SAM(tf.train.adam(0.003), { rho: 0.07, adaptive: true, eta: 0.01 });
  const config = opt.getConfig();
  const rebuilt = SAM.fromConfig(SAM, config) as SAM;
  assert.deepEqual(rebuilt.getConfig(), config);
  assert.equal((config.base as { className: string }).className, "Adam");
  assert.equal(opt.getClassName(), "SAM");
  opt.dispose();
  rebuilt.dispose();
});

test("getWeights/setWeights carry the base optimizer's state to a resumed SAM", async () => {
  const p = mlpProblem();
  const q = mlpProblem();
  const a = new SAM(tf.train.adam(0.05), { rho: 0.2 });
  for (let i = 0; i < 3; i++) a.minimize(p.f, false, p.vars);
  const weights = await a.getWeights();
  // Adam's step count, then its first and second moments per variable.
  assert.deepEqual(weights.map((w) => w.name), ["iter", ...p.vars.map((v) => `${v.name}/m`), ...p.vars.map((v) => `${v.name}/v`)]);
  p.vars.forEach((v, i) => q.vars[i].assign(v));
  const b = new SAM(tf.train.adam(0.05), { rho: 0.2 });
  b.minimize(q.f, false, q.vars); // creates Adam's slots, then overwritten below
  p.vars.forEach((v, i) => q.vars[i].assign(v));
  await b.setWeights(weights);
  a.minimize(p.f, false, p.vars);
  b.minimize(q.f, false, q.vars);
  assert.deepEqual(q.read(), p.read());
  a.dispose();
  b.dispose();
  p.dispose();
  q.dispose();
});

test("trainOnBatch with SAM and a metric reports loss and metric at w, tensor count flat", async () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [2], units: 1, kernelInitializer: "ones", biasInitializer: "zeros" })],
  });
  model.compile({ optimizer: new SAM(tf.train.sgd(0.1), { rho: 0.1 }), loss: "meanSquaredError", metrics: ["mae"] });
  const xs = tf.tensor2d([[1, 2], [0, -1], [3, 1]]);
  const ys = tf.tensor2d([[1], [0], [2]]);
  const counts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const [loss, mae] = model.evaluate(xs, ys) as tf.Scalar[];
    const atW = [loss.dataSync()[0], mae.dataSync()[0]];
    tf.dispose([loss, mae]);
    const out = (await model.trainOnBatch(xs, ys)) as number[];
    assertClose(out.slice(0, 2), atW, 1e-6, `step ${i}`);
    counts.push(tf.memory().numTensors);
  }
  assert.equal(new Set(counts.slice(1)).size, 1, `tensor counts ${counts.join(",")}`);
  model.dispose();
  tf.dispose([xs, ys]);
});

test("minimize with returnCost: the cost is NaN at the step whose gradient is not finite, else exactly the loss", () => {
  const w = tf.variable(tf.tensor1d([1, 2]), true, "sam_nonfinite_w");
  const infiniteGradient = tf.customGrad((x) => ({ value: tf.clone(x as tf.Tensor), gradFunc: (dy: tf.Tensor) => tf.mul(dy, Infinity) }));
  const sam = new SAM(tf.train.sgd(0.1), { rho: 0.05 });
  const fine = sam.minimize(() => w.square().sum() as tf.Scalar, true) as tf.Scalar;
  assert.equal(fine.dataSync()[0], 5);
  const bad = sam.minimize(() => infiniteGradient(w.square().sum()) as tf.Scalar, true) as tf.Scalar;
  assert.ok(Number.isNaN(bad.dataSync()[0]));
  tf.dispose([fine, bad, w]);
  sam.dispose();
});
