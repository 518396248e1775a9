import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { FisherSAM } from "../../lib/optim/fisher-sam.ts";
import { MaskChurnRecorder, maskJaccard } from "../../lib/inspect/churn.ts";
import { tinyModel } from "./tiny-model.ts";

await tf.setBackend("cpu");

const Q = "bert.encoder.layer.0.attention.self.query.weight";
const C = "classifier.weight";
const m = (q: number[], c: number[]) => new Map([[Q, Uint8Array.from(q)], [C, Uint8Array.from(c)]]);

test("Jaccard of hand-made masks, globally and per variable subset", () => {
  const a = m([1, 1, 0, 0], [1, 0]);
  const b = m([1, 0, 1, 0], [1, 0]);
  assert.equal(maskJaccard(a, b), 2 / 4); // ∩ = {q0, c0}, ∪ = {q0, q1, q2, c0}
  assert.equal(maskJaccard(a, b, [Q]), 1 / 3);
  assert.equal(maskJaccard(a, b, [C]), 1);
  assert.equal(maskJaccard(m([0, 0, 0, 0], [0, 0]), m([0, 0, 0, 0], [0, 0])), 1);
  assert.throws(() => maskJaccard(a, new Map([[Q, Uint8Array.from([1, 0, 1, 0])]])), /missing/);
});

test("the recorder writes global and per-block rows from the second mask on", () => {
  const r = new MaskChurnRecorder();
  r.record(0, m([1, 1, 0, 0], [1, 0]));
  assert.equal(r.rows.length, 0);
  const second = m([1, 0, 1, 0], [1, 0]);
  r.record(10, second);
  second.get(Q)!.fill(0); // the recorder keeps its own copy
  r.record(20, m([1, 0, 1, 1], [0, 1]));
  const at10 = r.rows.filter((x) => x.step === 10);
  assert.deepEqual(at10.map((x) => [x.block, x.jaccard, x.kept, x.size]), [
    ["global", 0.5, 3, 6],
    ["layer.0.attention", 1 / 3, 2, 4],
    ["classifier", 1, 1, 2],
  ]);
  const at20 = r.rows.filter((x) => x.step === 20);
  assert.deepEqual(at20.map((x) => [x.block, x.previousStep, x.jaccard]), [
    ["global", 10, 2 / 5], // prev {q0,q2,c0}, new {q0,q2,q3,c1}
    ["layer.0.attention", 10, 2 / 3],
    ["classifier", 10, 0],
  ]);
  assert.deepEqual(r.toDataFrame().shape, [6, 6]);
  r.reset();
  assert.equal(r.rows.length, 0);
});

test("attached to a FisherSAM it records each refresh's churn", () => {
  const model = tinyModel("churn", 4);
  const fsam = new FisherSAM(tf.train.sgd(0.5), { fisherLoss: model.sampleLoss, fisherSamples: 4, sparsity: 0.8, maskInterval: 1, rho: 0.05 });
  const r = new MaskChurnRecorder();
  const seen: Map<string, Uint8Array>[] = [];
  const off1 = r.attach(fsam);
  const off2 = fsam.onMaskRefresh((e) => seen.push(new Map([...e.masks].map(([k, v]) => [k, v.slice()]))));
  for (let s = 0; s < 3; s++) fsam.minimize(model.loss, false, model.vars);
  off1();
  off2();
  assert.equal(seen.length, 3);
  const globals = r.rows.filter((x) => x.block === "global");
  assert.equal(globals.length, 2);
  globals.forEach((g, i) => assert.equal(g.jaccard, maskJaccard(seen[i], seen[i + 1])));
  fsam.dispose();
});
