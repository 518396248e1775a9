// The analytic-gradient LayerNorm and GELU (lib/models/analytic-ops.ts) against tfjs's autodiff of the
// plain formulas (lib/models/ops.ts): values and gradients over odd shapes, the switch back to
// autodiff for double back-propagation, and no leaked tensors.
import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { analyticGelu, analyticGradientOpsActive, analyticLayerNorm, withAutodiffOps } from "../../lib/models/analytic-ops.ts";
import { activate, autodiffGelu, autodiffLayerNorm, layerNorm } from "../../lib/models/ops.ts";
import { withSecondOrderGradients } from "../../lib/inspect/second-order-gradients.ts";
import { initBackend } from "../../lib/backend.ts";

await tf.setBackend("cpu");

/** Asserts |a − b| ≤ tol·(1 + |b|) elementwise. */
function assertClose(actual: tf.Tensor, expected: tf.Tensor, tol: number, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  const b = expected.dataSync();
  for (let i = 0; i < b.length; i++) {
    assert.ok(Number.isFinite(a[i]), `${what}[${i}] is ${a[i]}`);
    assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

/** Value and gradients (w.r.t. every input, for the upstream gradient `dy`) of `f`. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const { value, grads } = tf.valueAndGrads(f)(inputs, dy);
  return [value, ...grads];
}

const LAYER_NORM_SHAPES: number[][] = [[3, 5, 7], [1, 1], [2, 9, 33], [4, 16], [6], [2, 1, 3, 5]];

test("analytic LayerNorm equals the autodiff one: value and gradients w.r.t. x, gamma, beta", () => {
  LAYER_NORM_SHAPES.forEach((shape, k) => {
    const width = shape[shape.length - 1];
    tf.tidy(() => {
      // Rows with a large common offset and unequal spreads (mean and variance both matter).
      const x = tf.add(tf.mul(tf.randomNormal(shape, 0, 1, "float32", k), tf.randomUniform(shape, 0.2, 3, "float32", k + 50)), 4);
      const gamma = tf.randomNormal([width], 1, 0.5, "float32", k + 100);
      const beta = tf.randomNormal([width], 0, 0.5, "float32", k + 200);
      const dy = tf.randomNormal(shape, 0, 1, "float32", k + 300);
      for (const eps of [1e-12, 1e-5, 0.5]) {
        const got = valueAndGrads((a, g, b) => analyticLayerNorm(a, g as tf.Tensor1D, b as tf.Tensor1D, eps), [x, gamma, beta], dy);
        const want = valueAndGrads((a, g, b) => autodiffLayerNorm(a, g as tf.Tensor1D, b as tf.Tensor1D, eps), [x, gamma, beta], dy);
        ["value", "dx", "dgamma", "dbeta"].forEach((what, i) => assertClose(got[i], want[i], 2e-5, `${JSON.stringify(shape)} eps ${eps} ${what}`));
      }
    });
  });
});

test("analytic LayerNorm: constant rows give beta and a finite gradient; wrong gamma/beta shapes are named", () => {
  tf.tidy(() => {
    const x = tf.fill([3, 4], 2.5);
    const gamma = tf.tensor1d([1, 2, 3, 4]);
    const beta = tf.tensor1d([0.5, -1, 0, 2]);
    const dy = tf.randomNormal([3, 4], 0, 1, "float32", 7);
    const got = valueAndGrads((a, g, b) => analyticLayerNorm(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5), [x, gamma, beta], dy);
    const want = valueAndGrads((a, g, b) => autodiffLayerNorm(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5), [x, gamma, beta], dy);
    assertClose(got[0], tf.tile(tf.reshape(beta, [1, 4]), [3, 1]), 0, "value");
    got.forEach((t, i) => assertClose(t, want[i], 2e-5, `output ${i}`));
    assert.throws(() => analyticLayerNorm(x, tf.ones([3]) as tf.Tensor1D, beta, 1e-5), /gamma and beta must have shape \[4\].*\[3\]/);
    assert.throws(() => analyticLayerNorm(x, gamma, tf.ones([4, 1]) as unknown as tf.Tensor1D, 1e-5), /got \[4\] and \[4,1\]/);
  });
});

test("analytic GELU equals the autodiff one: value and gradient, tails included", () => {
  const shapes: number[][] = [[3, 5, 7], [1, 1], [2, 9, 33], [17]];
  shapes.forEach((shape, k) => {
    tf.tidy(() => {
      const x = tf.mul(tf.randomNormal(shape, 0, 1, "float32", k + 400), 3);
      const dy = tf.randomNormal(shape, 0, 1, "float32", k + 500);
      const got = valueAndGrads((a) => analyticGelu(a), [x], dy);
      const want = valueAndGrads((a) => autodiffGelu(a), [x], dy);
      assertClose(got[0], want[0], 1e-6, `${JSON.stringify(shape)} value`);
      assertClose(got[1], want[1], 1e-5, `${JSON.stringify(shape)} dx`);
    });
  });
  tf.tidy(() => {
    const x = tf.tensor1d([-40, -8, -5.5, -1e-3, 0, 1e-3, 5.5, 8, 40]);
    const dy = tf.onesLike(x);
    const got = valueAndGrads((a) => analyticGelu(a), [x], dy);
    const want = valueAndGrads((a) => autodiffGelu(a), [x], dy);
    assertClose(got[0], want[0], 1e-6, "tail value");
    assertClose(got[1], want[1], 1e-6, "tail dx");
  });
});

test("ops use the analytic versions, except inside withAutodiffOps / withSecondOrderGradients (nested, restored on throw)", async () => {
  const x = tf.randomNormal([4, 6], 0, 1, "float32", 9);
  const gamma = tf.ones([6]) as tf.Tensor1D;
  const beta = tf.zeros([6]) as tf.Tensor1D;
  // The number of kernels one gradient of gelu(layerNorm(x)) runs (tf.profile reuses its result object).
  const gradient = () => tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(activate(layerNorm(a, gamma, beta, 1e-5), "gelu")))(x));
  const kernelCount = async (f: () => tf.Tensor) => (await tf.profile(f)).kernels.length;
  assert.equal(analyticGradientOpsActive(), true);
  const analytic = await kernelCount(gradient);
  const plain = await kernelCount(() => withAutodiffOps(gradient));
  assert.ok(analytic < plain, `analytic ${analytic} kernels, autodiff ${plain}`);
  const seen: boolean[] = [];
  withSecondOrderGradients(() => {
    seen.push(analyticGradientOpsActive());
    withAutodiffOps(() => seen.push(analyticGradientOpsActive()));
    seen.push(analyticGradientOpsActive());
  });
  assert.deepEqual(seen, [false, false, false]);
  assert.throws(() => withAutodiffOps(() => { throw new Error("boom"); }), /boom/);
  assert.equal(analyticGradientOpsActive(), true);
  tf.dispose([x, gamma, beta]);
});

test("nested tf.grad through ops' layerNorm and gelu equals the autodiff second derivative (the analytic ops step aside)", () => {
  tf.tidy(() => {
    const x = tf.randomNormal([3, 5, 7], 0.5, 1.5, "float32", 21);
    const v = tf.randomNormal([3, 5, 7], 0, 1, "float32", 22);
    const gamma = tf.randomNormal([7], 1, 0.3, "float32", 23) as tf.Tensor1D;
    const beta = tf.randomNormal([7], 0, 0.3, "float32", 24) as tf.Tensor1D;
    const weights = tf.randomNormal([3, 5, 7], 0, 1, "float32", 25);
    // H·v of L(x) = Σ w ⊙ gelu(layerNorm(x)), as the gradient of ⟨∇L(x), v⟩.
    const hvp = (ln: typeof layerNorm, gelu: (t: tf.Tensor) => tf.Tensor) => {
      const loss = (a: tf.Tensor) => tf.sum(tf.mul(gelu(ln(a, gamma, beta, 1e-5)), weights));
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.grad(loss)(a), v)))(x);
    };
    const want = hvp(autodiffLayerNorm, autodiffGelu);
    assertClose(hvp(layerNorm, (t) => activate(t, "gelu")), want, 1e-4, "H·v");
    // The analytic ops called directly cannot be differentiated twice: their saved tensors are not on
    // the tape, so here ∇L(x) does not even depend on x as far as tfjs can tell.
    assert.throws(() => hvp(analyticLayerNorm, analyticGelu), /Cannot compute gradient/);
  });
});

test("analytic ops leak no tensors over repeated gradient steps", () => {
  const x = tf.randomNormal([2, 5, 8], 0, 1, "float32", 11);
  const gamma = tf.variable(tf.randomNormal([8], 1, 0.2, "float32", 12));
  const beta = tf.variable(tf.zeros([8]));
  const step = () => {
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(analyticGelu(analyticLayerNorm(x, gamma as tf.Tensor1D, beta as tf.Tensor1D, 1e-5)))) as tf.Scalar,
      [gamma, beta],
    );
    tf.dispose([value, grads]);
  };
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, gamma, beta]);
});

test("on wasm too (its own Sigmoid, Erf, reductions): analytic GELU and LayerNorm match the autodiff ones", async () => {
  await initBackend({ backend: "wasm" });
  try {
    tf.tidy(() => {
      const x = tf.linspace(-12, 12, 4001);
      const dy = tf.onesLike(x);
      const got = valueAndGrads((a) => analyticGelu(a), [x], dy);
      const want = valueAndGrads((a) => autodiffGelu(a), [x], dy);
      assertClose(got[0], want[0], 1e-6, "wasm gelu value");
      assertClose(got[1], want[1], 1e-6, "wasm gelu dx");
      const rows = tf.add(tf.randomNormal([2, 9, 33], 0, 2, "float32", 31), 3);
      const gamma = tf.randomNormal([33], 1, 0.5, "float32", 32) as tf.Tensor1D;
      const beta = tf.randomNormal([33], 0, 0.5, "float32", 33) as tf.Tensor1D;
      const dRows = tf.randomNormal([2, 9, 33], 0, 1, "float32", 34);
      const ln = valueAndGrads((a, g, b) => analyticLayerNorm(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-12), [rows, gamma, beta], dRows);
      const lnWant = valueAndGrads((a, g, b) => autodiffLayerNorm(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-12), [rows, gamma, beta], dRows);
      ["value", "dx", "dgamma", "dbeta"].forEach((what, i) => assertClose(ln[i], lnWant[i], 2e-5, `wasm layerNorm ${what}`));
    });
  } finally {
    await tf.setBackend("cpu");
  }
});
