import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createOptimizer, optimizerDefaults, setLearningRate } from "../../lib/train/optimizers.ts";
import { optimizerNames } from "../../lib/train/optimizer-names.ts";
import { AdamW } from "../../lib/train/adamw.ts";
import { GradientClipping } from "../../lib/train/clip.ts";
import { SAM } from "../../lib/optim/sam.ts";
import { FisherSAM } from "../../lib/optim/fisher-sam.ts";
import { ESAM, FisherESAM } from "../../lib/optim/esam.ts";

await tf.setBackend("cpu");

test("every optimizer name builds, with the paper defaults filled in", () => {
  const w = tf.variable(tf.tensor1d([1, 2]), true, "optnames/w");
  const fisherLoss = () => tf.sum(tf.square(w)) as tf.Scalar;
  for (const name of optimizerNames) {
    const built = createOptimizer(name, { lr: 1e-3, fisherLoss });
    assert.equal(built.name, name);
    assert.ok(tf.Optimizer.prototype.isPrototypeOf(built.optimizer), name);
    assert.equal(built.settings.lr, 1e-3);
    if (name.startsWith("f")) assert.ok(FisherSAM.prototype.isPrototypeOf(built.fisher!), name);
    built.optimizer.dispose();
  }
  w.dispose();
  assert.equal(optimizerDefaults("adam").beta2, 0.98);
  assert.equal(optimizerDefaults("adam").epsilon, 1e-6);
  assert.equal(optimizerDefaults("adamw").weightDecay, 0.01);
  assert.equal(optimizerDefaults("fsam").sparsity, 0.9);
  assert.equal(optimizerDefaults("fsam").maskInterval, 100);
  assert.equal(optimizerDefaults("sam").rho, 0.05);
});

test("adamw decays weights by 0.01 by default; adam does not", () => {
  const a = createOptimizer("adamw", { lr: 0.1 });
  assert.ok(AdamW.prototype.isPrototypeOf(a.optimizer));
  assert.equal((a.optimizer as AdamW).weightDecay, 0.01);
  assert.equal((a.optimizer as AdamW).beta2, 0.98);
  const b = createOptimizer("adam", { lr: 0.1 });
  assert.equal((b.optimizer as AdamW).weightDecay, 0);
});

test("SAM family wraps the base; options reach SAM; the learning rate reaches the base through clipping", () => {
  const built = createOptimizer("asam", { lr: 0.1, clipNorm: 1 });
  assert.ok(SAM.prototype.isPrototypeOf(built.optimizer));
  const sam = built.optimizer as SAM;
  assert.equal(sam.options.adaptive, true);
  assert.equal(sam.options.rho, 0.5);
  assert.equal(sam.options.eta, 0.01);
  assert.ok(GradientClipping.prototype.isPrototypeOf(sam.base));
  setLearningRate(sam, 0.025);
  assert.equal(((sam.base as GradientClipping).inner as AdamW).learningRate, 0.025);
  const g = createOptimizer("gsam", { rho: 0.1 });
  assert.equal((g.optimizer as SAM).options.gsamAlpha, 0.1);
  assert.equal((g.optimizer as SAM).options.rho, 0.1);
});

test("setLearningRate works on tfjs SGD and a SAM around it; a one-step update uses the new rate", () => {
  const w = tf.variable(tf.tensor1d([1]), true, "setlr/w");
  const built = createOptimizer("sgd", { lr: 1 });
  setLearningRate(built.optimizer, 0.25);
  built.optimizer.minimize(() => tf.sum(tf.mul(w, 2)) as tf.Scalar, false, [w]);
  assert.ok(Math.abs(w.dataSync()[0] - 0.5) < 1e-6);
  const sam = createOptimizer("sam", { base: "sgd", lr: 1, rho: 0 });
  setLearningRate(sam.optimizer, 0.125);
  sam.optimizer.minimize(() => tf.sum(tf.mul(w, 2)) as tf.Scalar, false, [w]);
  assert.ok(Math.abs(w.dataSync()[0] - 0.25) < 1e-6, `got ${w.dataSync()[0]}`);
  w.dispose();
});

test("esam and fesam build ESAM and Fisher-ESAM with beta, gamma and the seed; others ignore the seed", () => {
  const w = tf.variable(tf.tensor1d([1, 2]), true, "optesam/w");
  const fisherLoss = () => tf.sum(tf.square(w)) as tf.Scalar;
  const e = createOptimizer("esam", { lr: 1e-3, seed: 17, gamma: 0.25 });
  assert.ok(ESAM.prototype.isPrototypeOf(e.optimizer));
  assert.deepEqual((e.optimizer as ESAM).sampling, { beta: 0.5, gamma: 0.25, seed: 17, weightSampling: "per-element" });
  assert.equal(e.settings.rho, 0.05);
  assert.equal(e.settings.seed, 17);
  const f = createOptimizer("fesam", { lr: 1e-3, fisherLoss, beta: 0.7, weightSampling: "freeze-tensors" });
  assert.ok(FisherESAM.prototype.isPrototypeOf(f.optimizer));
  assert.equal(f.fisher, f.optimizer);
  assert.deepEqual((f.optimizer as FisherESAM).sampling, { beta: 0.7, gamma: 0.5, seed: 0, weightSampling: "freeze-tensors" });
  assert.equal((f.optimizer as FisherESAM).options.sparsity, 0.9);
  assert.equal((f.optimizer as FisherESAM).options.maskInterval, 100);
  assert.equal(createOptimizer("sam", { seed: 3 }).settings.seed, undefined);
  assert.throws(() => createOptimizer("esam", { beta: 0 }), /beta.*got 0/);
  assert.throws(() => createOptimizer("fesam"), /needs fisherLoss/);
  for (const o of [e, f]) o.optimizer.dispose();
  w.dispose();
});

test("bad names and values are refused with the option named", () => {
  assert.throws(() => createOptimizer("adagrad"), /unknown name 'adagrad'.*adam, adamw, sgd/);
  assert.throws(() => createOptimizer("fsam"), /needs fisherLoss/);
  assert.throws(() => createOptimizer("sgd", { weightDecay: 0.1 }), /weightDecay 0.1 is supported with adam\/adamw only/);
  assert.throws(() => createOptimizer("sam", { base: "rmsprop" as never }), /unknown base optimizer 'rmsprop'/);
  assert.throws(() => createOptimizer("adam", { clipNorm: -1 }), /clipNorm must be > 0, got -1/);
  assert.throws(() => createOptimizer("sam", { rho: -1 }), /rho/);
});
