// An interrupt (SIGINT breaking code run with `breakOnSigint`, as the kernel's Stop button does) in the
// middle of tfjs work leaves the engine half-way; resetEngineAfterAbort must make it whole again.
import test, { after, before } from "node:test";
import assert from "node:assert/strict";
import vm from "node:vm";
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { describeEngineRepair, engineIsIdle, resetEngineAfterAbort } from "../../lib/engine-repair.ts";
import { SAM } from "../../lib/optim/sam.ts";

const ignoreSigint = () => undefined;
before(async () => {
  await tf.setBackend("cpu");
  process.on("SIGINT", ignoreSigint);
});
after(() => void process.off("SIGINT", ignoreSigint));

/**
 * Runs `loop` (code that never ends) under breakOnSigint; a worker thread sends SIGINT once the loop
 * has announced (by setting the shared flag through `started()`) that it is running.
 */
function interruptLoop(loop: string, globals: Record<string, unknown>): void {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData } = require("node:worker_threads");
     const flag = new Int32Array(workerData);
     Atomics.wait(flag, 0, 0);
     setTimeout(() => process.kill(process.pid, "SIGINT"), 150);`,
    { eval: true, workerData: flag.buffer },
  );
  const g = globalThis as Record<string, unknown>;
  Object.assign(g, globals, { started: () => { if (Atomics.exchange(flag, 0, 1) === 0) Atomics.notify(flag, 0); } });
  try {
    assert.throws(
      () => new vm.Script(loop).runInThisContext({ breakOnSigint: true }),
      (e: { code?: string }) => e.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED",
    );
  } finally {
    for (const k of [...Object.keys(globals), "started"]) delete g[k];
    void worker.terminate();
  }
}

function gradientWorks(): void {
  const g = tf.grad((x: tf.Tensor) => x.square().sum())(tf.tensor1d([1, 2]));
  assert.deepEqual(Array.from(g.dataSync()), [2, 4]);
  g.dispose();
}

test("an interrupt inside optimizer.minimize: the engine is repaired and training works again", () => {
  const m = tf.randomNormal([120, 120]);
  const v = tf.variable(tf.randomNormal([120, 120]), true, "repair_v");
  const opt = tf.train.adam(0.01);
  // Dirty engine state is the common case (almost all time is spent inside ops); retry otherwise.
  let repair;
  for (let attempt = 0; attempt < 5 && !repair; attempt++) {
    interruptLoop("for (;;) { started(); opt.minimize(() => tf.matMul(v, m).square().mean()); }", { tf, v, m, opt });
    repair = resetEngineAfterAbort();
  }
  assert.ok(repair, "the interrupt never landed inside a tfjs operation");
  assert.ok(repair.scopesClosed > 0 || repair.kernelDepth > 0 || repair.gradientDepth > 0);
  assert.ok(engineIsIdle());
  assert.match(describeEngineRepair(repair), /engine was restored/);
  assert.deepEqual(repair.brokenVariables, []);
  // The variable is intact and the next training step works, with a flat tensor count.
  assert.ok(!v.isDisposed && v.dataSync().every(Number.isFinite));
  gradientWorks();
  opt.minimize(() => tf.matMul(v, m).square().mean() as tf.Scalar); // creates Adam's slots if the first step never finished
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) opt.minimize(() => tf.matMul(v, m).square().mean() as tf.Scalar);
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  tf.dispose([m, v]);
});

test("an interrupt inside SAM's perturbed gradient: its weights are put back and SAM trains again", () => {
  const x = tf.randomNormal([64, 64]);
  const w = tf.variable(tf.randomNormal([64, 64], 0, 0.1), true, "repair_sam_w");
  const sam = new SAM(tf.train.sgd(0.01), { rho: 0.05 });
  const loss = () => tf.matMul(x, w).square().mean() as tf.Scalar;
  let repair;
  for (let attempt = 0; attempt < 10 && !(repair && repair.undone > 0); attempt++) {
    // A snapshot of w before each step: SAM must never leave w + e behind.
    interruptLoop("for (;;) { started(); globalThis.wBefore?.dispose(); globalThis.wBefore = tf.clone(w); sam.minimize(loss); }", { tf, w, sam, loss });
    repair = resetEngineAfterAbort();
    const wBefore = (globalThis as Record<string, unknown>).wBefore as tf.Tensor | undefined;
    if (repair && repair.undone > 0 && wBefore) {
      // Stopped between SAM's perturbation and the base step: w is back to its value before the step.
      assert.deepEqual(Array.from(w.dataSync()), Array.from(wBefore.dataSync()));
    }
  }
  assert.ok(repair && repair.undone > 0, "the interrupt never landed inside SAM's perturbed gradient");
  ((globalThis as Record<string, unknown>).wBefore as tf.Tensor).dispose();
  delete (globalThis as Record<string, unknown>).wBefore;
  assert.ok(engineIsIdle());
  assert.ok(!Object.hasOwn(tf.engine(), "keep") || tf.engine().keep === Object.getPrototypeOf(tf.engine()).keep);
  gradientWorks();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) sam.minimize(loss);
  assert.equal(tf.memory().numTensors, before);
  sam.dispose();
  tf.dispose([x, w]);
});

test("a whole engine needs no repair", () => {
  assert.equal(resetEngineAfterAbort(), undefined);
});
