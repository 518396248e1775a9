import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { makeSchedule, learningRateAt } from "../../lib/train/schedule.ts";
import { AdamW, decayedByDefault } from "../../lib/train/adamw.ts";
import { clipByGlobalNorm, globalNorm, GradientClipping } from "../../lib/train/clip.ts";

await tf.setBackend("cpu");

test("linear schedule: 6 % warm-up then linear decay to 0 (HF get_linear_schedule_with_warmup)", () => {
  const s = makeSchedule("linear", 1e-3, 100, 0.06);
  assert.equal(s.warmupSteps, 6);
  assert.equal(learningRateAt(s, 0), 0);
  assert.ok(Math.abs(learningRateAt(s, 3) - 0.5e-3) < 1e-15);
  assert.ok(Math.abs(learningRateAt(s, 6) - 1e-3) < 1e-15);
  // (100 - 53) / (100 - 6) of the peak
  assert.ok(Math.abs(learningRateAt(s, 53) - (1e-3 * 47) / 94) < 1e-15);
  assert.equal(learningRateAt(s, 100), 0);
});

test("polynomial schedule with power 2 ends at endLr; constant stays at peak", () => {
  const p = makeSchedule({ kind: "polynomial", power: 2, endLr: 1e-5 }, 1e-3, 50, 0.1);
  assert.equal(p.warmupSteps, 5);
  const step = 20;
  const expected = (1e-3 - 1e-5) * ((50 - step) / 45) ** 2 + 1e-5;
  assert.ok(Math.abs(learningRateAt(p, step) - expected) < 1e-15);
  assert.equal(learningRateAt(p, 50), 1e-5);
  const c = makeSchedule("constant", 2e-5, 10, 0);
  assert.equal(learningRateAt(c, 0), 2e-5);
  assert.equal(learningRateAt(c, 9), 2e-5);
});

test("schedule rejects bad options, naming them", () => {
  assert.throws(() => makeSchedule("cosine" as never, 1e-3, 10, 0), /unknown kind 'cosine'/);
  assert.throws(() => makeSchedule("linear", -1, 10, 0), /lr must be a positive finite number, got -1/);
  assert.throws(() => makeSchedule("linear", 1e-3, 10, 1.5), /warmupRatio must be in \[0, 1\], got 1.5/);
});

test("AdamW matches two hand-computed steps, decaying weights but not biases", () => {
  const w = tf.variable(tf.tensor1d([1.0, -2.0]), true, "adamwtest/dense.weight");
  const b = tf.variable(tf.tensor1d([0.5]), true, "adamwtest/dense.bias");
  const opt = new AdamW({ learningRate: 0.1, weightDecay: 0.01 });
  const grads = [
    { w: [0.2, -0.4], b: [0.3] },
    { w: [-0.1, 0.05], b: [0.6] },
  ];
  // Independent float64 reference (torch.optim.AdamW semantics).
  const ref = { w: [1.0, -2.0], b: [0.5] };
  const m = { w: [0, 0], b: [0] };
  const v = { w: [0, 0], b: [0] };
  const [b1, b2, eps, lr, wd] = [0.9, 0.98, 1e-6, 0.1, 0.01];
  grads.forEach((g, t) => {
    for (const k of ["w", "b"] as const) {
      for (let i = 0; i < ref[k].length; i++) {
        m[k][i] = b1 * m[k][i] + (1 - b1) * g[k][i];
        v[k][i] = b2 * v[k][i] + (1 - b2) * g[k][i] ** 2;
        const mh = m[k][i] / (1 - b1 ** (t + 1));
        const vh = v[k][i] / (1 - b2 ** (t + 1));
        if (k === "w") ref[k][i] *= 1 - lr * wd;
        ref[k][i] -= (lr * mh) / (Math.sqrt(vh) + eps);
      }
    }
    const gw = tf.tensor1d(g.w);
    const gb = tf.tensor1d(g.b);
    opt.applyGradients({ [w.name]: gw, [b.name]: gb });
    tf.dispose([gw, gb]);
  });
  const wOut = w.dataSync();
  const bOut = b.dataSync();
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(wOut[i] - ref.w[i]) < 1e-6, `w[${i}] ${wOut[i]} vs ${ref.w[i]}`);
  assert.ok(Math.abs(bOut[0] - ref.b[0]) < 1e-6, `b ${bOut[0]} vs ${ref.b[0]}`);
  assert.equal(opt.step, 2);
  opt.dispose();
  tf.dispose([w, b]);
});

test("decayedByDefault excludes biases and LayerNorm weights, as HF's no_decay list", () => {
  assert.equal(decayedByDefault("bert.encoder.layer.0.attention.self.query.weight"), true);
  assert.equal(decayedByDefault("s/bert.encoder.layer.0.attention.self.query.bias"), false);
  assert.equal(decayedByDefault("bert.embeddings.LayerNorm.weight"), false);
  assert.equal(decayedByDefault("bert.embeddings.LayerNorm.gamma"), false);
  assert.equal(decayedByDefault("classifier.weight"), true);
});

test("AdamW tensor count is flat over steps", () => {
  const w = tf.variable(tf.randomNormal([4, 3], 0, 1, "float32", 1), true, "adamwflat/w.weight");
  const opt = new AdamW({ learningRate: 0.01, weightDecay: 0.1 });
  const step = () => opt.minimize(() => tf.sum(tf.square(w)), false, [w]);
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) step();
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  w.dispose();
});

test("global-norm clipping scales by maxNorm / norm and leaves small gradients alone", async () => {
  const a = tf.tensor1d([3, 0]);
  const b = tf.tensor2d([[0, 4]]);
  assert.ok(Math.abs((await globalNorm({ a, b })) - 5) < 1e-6);
  const { grads, norm } = await clipByGlobalNorm({ a, b }, 1);
  assert.ok(Math.abs(norm - 5) < 1e-6);
  const scale = 1 / (5 + 1e-6);
  assert.deepEqual(
    Array.from(grads.a.dataSync()).map((x) => +x.toFixed(6)),
    [+(3 * scale).toFixed(6), 0],
  );
  assert.ok(Math.abs(grads.b.dataSync()[1] - 4 * scale) < 1e-6);
  tf.dispose(Object.values(grads));
  const big = await clipByGlobalNorm({ a, b }, 10);
  assert.deepEqual(Array.from(big.grads.a.dataSync()), [3, 0]);
  tf.dispose(Object.values(big.grads));
  tf.dispose([a, b]);
  await assert.rejects(clipByGlobalNorm({}, 0), /clipNorm must be > 0, got 0/);
});

test("GradientClipping hands clipped gradients to the inner optimizer", () => {
  const w = tf.variable(tf.tensor1d([0, 0]), true, "cliptest/w");
  const opt = new GradientClipping(tf.train.sgd(1), 1);
  const g = tf.tensor1d([6, 8]);
  opt.applyGradients({ [w.name]: g });
  const out = w.dataSync();
  assert.ok(Math.abs(out[0] + 0.6) < 1e-5 && Math.abs(out[1] + 0.8) < 1e-5, `got ${Array.from(out)}`);
  assert.ok(Math.abs(opt.lastNorm - 10) < 1e-5);
  tf.dispose([g, w]);
  opt.dispose();
});
