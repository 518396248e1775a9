// The per-cell line on what a cell left alive: tf.Variables (state a cell means to keep) are counted
// apart from stray tensors, so a cell that builds a model and trains it with FSAM is not flagged.
import test, { before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { cellLeftovers, takeCensus } from "../../kernel/tensor-census.ts";
import { FisherSAM } from "../../lib/optim/fisher-sam.ts";
import { mlpProblem } from "../optim/reference.ts";

before(async () => {
  await tf.setBackend("cpu");
});

test("variables are reported apart from stray tensors", () => {
  const before = takeCensus(tf);
  const kept = tf.tidy(() => [tf.variable(tf.zeros([2])), tf.variable(tf.ones([3]), false)]);
  let left = cellLeftovers(before, takeCensus(tf));
  assert.equal(left.variables, "[fsam-lab] this cell keeps 2 new tf.Variables (model or optimizer state)\n");
  assert.equal(left.leak, undefined);
  const stray = [tf.ones([2]), tf.zeros([1])];
  left = cellLeftovers(before, takeCensus(tf));
  assert.equal(left.leak, "[fsam-lab] this cell left 2 new tensors alive (not counting tf.Variables)\n");
  // Disposing variables while leaking a tensor still shows the leak.
  const mid = takeCensus(tf);
  tf.dispose([...kept, stray[1]]);
  const third = tf.ones([1]);
  left = cellLeftovers(mid, takeCensus(tf));
  assert.deepEqual(left, {});
  const leaked = tf.ones([1]);
  assert.equal(cellLeftovers(mid, takeCensus(tf)).leak, "[fsam-lab] this cell left 1 new tensor alive (not counting tf.Variables)\n");
  tf.dispose([stray[0], third, leaked]);
  assert.deepEqual(cellLeftovers(before, takeCensus(tf)), {});
});

test("training with FSAM + Adam leaves only variables: Adam's slots and the Fisher masks", () => {
  const p = mlpProblem();
  const before = takeCensus(tf);
  const fsam = new FisherSAM(tf.train.adam(0.05), { rho: 0.1, sparsity: 0.5, maskInterval: 2, fisherSamples: 4, fisherLoss: p.exampleLoss });
  for (let i = 0; i < 3; i++) fsam.minimize(p.f, false, p.vars);
  const after = takeCensus(tf);
  const left = cellLeftovers(before, after);
  assert.equal(left.leak, undefined, `stray tensors: ${after.tensors - before.tensors - (after.variables - before.variables)}`);
  // 2 Adam slots and one mask per model variable, and Adam's two running powers of beta
  assert.equal(after.variables - before.variables, 3 * p.vars.length + 2);
  assert.equal(fsam.mask.size, p.vars.length);
  for (const mask of fsam.mask.values()) assert.ok(mask instanceof tf.Variable && !mask.trainable);
  fsam.dispose();
  assert.deepEqual(cellLeftovers(before, takeCensus(tf)), {});
  p.dispose();
});
