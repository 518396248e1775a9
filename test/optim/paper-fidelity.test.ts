/**
 * The optimizer details that follow the papers' reference code, checked against numbers computed by
 * hand: ASAM's T = |w| + η on weights only, GSAM's ρ schedule, L2 weight decay as torch.optim.Adam,
 * and the authors' maskable rule.
 */
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { SAM } from "../../lib/optim/sam.ts";
import { FisherSAM } from "../../lib/optim/fisher-sam.ts";
import { authorsMaskable, maskablePredicate } from "../../lib/optim/maskable.ts";
import { AdamW } from "../../lib/train/adamw.ts";
import { createOptimizer, setLearningRate } from "../../lib/train/optimizers.ts";

await tf.setBackend("cpu");

function close(actual: ArrayLike<number>, expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  expected.forEach((x, i) => assert.ok(Math.abs(actual[i] - x) <= tol, `${what}[${i}]: ${actual[i]} vs ${x}`));
}

/** L = ½(‖w‖² + ‖b‖²), so ∇L = (w, b); one SAM step with SGD(lr 1) leaves w − (w + e) = −e. */
function perturbationOfOneStep(make: (base: tf.Optimizer, loss: () => tf.Scalar) => SAM, w0: number[], b0: number[], scope: string): number[] {
  const w = tf.variable(tf.tensor1d(w0), true, `${scope}/layer.dense.weight`);
  const b = tf.variable(tf.tensor1d(b0), true, `${scope}/layer.dense.bias`);
  const loss = () => tf.tidy(() => tf.mul(0.5, tf.add(tf.sum(tf.square(w)), tf.sum(tf.square(b))))) as tf.Scalar;
  const opt = make(tf.train.sgd(1), loss);
  opt.minimize(loss, false, [w, b]);
  const e = [...w.dataSync(), ...b.dataSync()].map((x) => -x);
  opt.dispose();
  tf.dispose([w, b]);
  return e;
}

test("ASAM scales weights by T = |w| + η and leaves biases at T = 1 (official ASAM)", () => {
  // w = (1, −2), b = 0.5, η = 0.01, ρ = 0.1: T_w = (1.01, 2.01), T_b = 1.
  // T·g = (1.01, −4.02, 0.5); ‖T·g‖ = √(1.0201 + 16.1604 + 0.25) = √17.4305 = 4.174985.
  // e = ρ·T²·g/‖T·g‖ = 0.1·(1.0201, −8.0802, 0.5)/4.174985 = (0.0244336, −0.1935384, 0.0119761).
  const e = perturbationOfOneStep((base) => new SAM(base, { rho: 0.1, adaptive: true, eta: 0.01 }), [1, -2], [0.5], "asam");
  close(e, [0.0244336, -0.1935384, 0.0119761], 2e-6, "ASAM e");
});

test("GSAM's ρ follows the learning rate between ρ_min and ρ_max", () => {
  const w = tf.variable(tf.tensor1d([3, 4]), true, "gsamrho/layer.dense.weight");
  const built = createOptimizer("gsam", { lr: 1e-3, rho: 0.05, rhoMin: 0.005, gsamAlpha: 0 });
  const sam = built.optimizer as SAM;
  assert.equal(built.settings.rhoMin, 0.005);
  // ρ_t = 0.005 + (0.05 − 0.005)·(lr_t − 0)/(1e-3 − 0).
  setLearningRate(sam, 5e-4);
  assert.ok(Math.abs(sam.rho - 0.0275) < 1e-12, `ρ at half the peak LR: ${sam.rho}`);
  setLearningRate(sam, 0);
  assert.ok(Math.abs(sam.rho - 0.005) < 1e-12, `ρ at LR 0: ${sam.rho}`);
  setLearningRate(sam, 1e-3);
  assert.ok(Math.abs(sam.rho - 0.05) < 1e-12, `ρ at the peak: ${sam.rho}`);
  // The default ρ_min is ρ/10; without a schedule (sam) ρ stays put.
  const byDefault = createOptimizer("gsam", { lr: 2e-5, rho: 0.08 });
  assert.ok(Math.abs(Number(byDefault.settings.rhoMin) - 0.008) < 1e-15);
  setLearningRate(byDefault.optimizer, 1e-5);
  assert.ok(Math.abs((byDefault.optimizer as SAM).rho - 0.044) < 1e-12);
  const plain = createOptimizer("sam", { lr: 2e-5 });
  setLearningRate(plain.optimizer, 1e-6);
  assert.equal((plain.optimizer as SAM).rho, 0.05);
  [built, byDefault, plain].forEach((b) => b.optimizer.dispose());
  w.dispose();
});

test("the scheduled ρ_t is the radius of the step", () => {
  // g = w = (3, 4), ‖g‖ = 5; ρ_t = 0.0275 → e = 0.0275·(0.6, 0.8) = (0.0165, 0.022).
  const e = perturbationOfOneStep(
    (base) => {
      const sam = new SAM(base, { rho: 0.05, rhoSchedule: { rhoMin: 0.005, lrMax: 1e-3 } });
      sam.followLearningRate(5e-4);
      return sam;
    },
    [3, 4],
    [],
    "gsamstep",
  );
  close(e, [0.0165, 0.022], 1e-6, "e at ρ_t");
  assert.throws(() => new SAM(tf.train.sgd(1), { rho: 0.05, rhoSchedule: { rhoMin: 0.1, lrMax: 1 } }), /rhoMin must be in \[0, rho/);
});

test("L2 weight decay adds λ·w to the gradient (torch.optim.Adam), decoupled decay shrinks w", () => {
  // One step, w = 2, loss −0.1·w so g = −0.1, λ = 0.1, lr = 0.01, β = (0.9, 0.98), ε = 1e-6.
  // L2: g' = −0.1 + 0.1·2 = 0.1; m̂ = 0.1, v̂ = 0.01; w = 2 − 0.01·0.1/(0.1 + 1e-6) = 1.9900001.
  // Decoupled: w = 2·(1 − 0.001) − 0.01·(−0.1)/(0.1 + 1e-6) = 1.998 + 0.0099999 = 2.0079999.
  const run = (mode: "l2" | "decoupled") => {
    const w = tf.variable(tf.scalar(2), true, `wd-${mode}/layer.dense.weight`);
    const opt = new AdamW({ learningRate: 0.01, weightDecay: 0.1, weightDecayMode: mode });
    opt.minimize(() => tf.mul(-0.1, w) as tf.Scalar, false, [w]);
    const x = w.dataSync()[0];
    opt.dispose();
    w.dispose();
    return x;
  };
  assert.ok(Math.abs(run("l2") - 1.9900001) < 1e-6, `L2: ${run("l2")}`);
  assert.ok(Math.abs(run("decoupled") - 2.0079999) < 1e-6, `decoupled: ${run("decoupled")}`);
  assert.throws(() => new AdamW({ weightDecayMode: "other" as never }), /weightDecayMode must be/);
  // createOptimizer's "l2" decays every parameter, biases and LayerNorm included.
  const b = tf.variable(tf.scalar(2), true, "wd-bias/layer.output.LayerNorm.bias");
  const built = createOptimizer("adam", { lr: 0.01, weightDecay: 0.1, weightDecayMode: "l2" });
  built.optimizer.minimize(() => tf.mul(-0.1, b) as tf.Scalar, false, [b]);
  assert.ok(Math.abs(b.dataSync()[0] - 1.9900001) < 1e-6, `bias decayed as L2: ${b.dataSync()[0]}`);
  assert.equal(built.settings.weightDecayMode, "l2");
  built.optimizer.dispose();
  b.dispose();
});

test("the authors' maskable rule: names with 'bias' or 'embed' are not maskable", () => {
  const v = (name: string) => ({ name });
  for (const name of [
    "bert.embeddings.word_embeddings.weight",
    "bert.embeddings.position_embeddings.weight",
    "bert.embeddings.token_type_embeddings.weight",
    "bert.embeddings.LayerNorm.weight",
    "bert.embeddings.LayerNorm.bias",
    "bert.encoder.layer.0.attention.self.query.bias",
    "bert.encoder.layer.0.output.LayerNorm.bias",
    "bert.pooler.dense.bias",
    "classifier.bias",
  ]) {
    assert.equal(authorsMaskable(v(`scope/${name}`)), false, name);
  }
  for (const name of [
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.1.output.LayerNorm.weight",
    "bert.encoder.layer.0.intermediate.dense.weight",
    "bert.pooler.dense.weight",
    "classifier.weight",
  ]) {
    assert.equal(authorsMaskable(v(`scope/${name}`)), true, name);
  }
  // The scope is not part of the rule.
  assert.equal(authorsMaskable(v("embedded-bias-model/classifier.weight")), true);
  assert.throws(() => maskablePredicate("some" as never), /maskable must be "authors", "all" or a function/);
});

test("FisherSAM: by default biases and embeddings keep their full perturbation; 'all' masks them", () => {
  // g = w; with sparsity 1 every maskable parameter is masked out, so only non-maskable ones move.
  const make = (maskable?: "all") => (base: tf.Optimizer, loss: () => tf.Scalar) =>
    new FisherSAM(base, { rho: 0.1, sparsity: 1, fisherLoss: loss, ...(maskable ? { maskable } : {}) }) as SAM;
  // ‖g‖ = ‖(3, 0, 4)‖ = 5 over every variable; the bias keeps e = 0.1·4/5 = 0.08, the weight gets 0.
  const authors = perturbationOfOneStep(make(), [3, 0], [4], "fsam-authors");
  close(authors, [0, 0, 0.08], 1e-6, "authors' rule");
  const all = perturbationOfOneStep(make("all"), [3, 0], [4], "fsam-all");
  close(all, [0, 0, 0], 1e-7, "all maskable");
  const w = tf.variable(tf.tensor1d([1]), true, "fsam-info/bert.embeddings.word_embeddings.weight");
  const u = tf.variable(tf.tensor1d([1, 2]), true, "fsam-info/classifier.weight");
  const fsam = new FisherSAM(tf.train.sgd(0.1), { fisherLoss: () => tf.tidy(() => tf.add(tf.sum(w), tf.sum(u))) as tf.Scalar });
  fsam.updateMask([w, u]);
  assert.deepEqual([...fsam.alwaysPerturbed], [[w.name, 1]]);
  assert.deepEqual([...fsam.maskData.keys()], [u.name]);
  assert.equal(fsam.getConfig().maskableRule, "authors");
  fsam.dispose();
  tf.dispose([w, u]);
});
