import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { compareMaskCriteria, maskOverlapByBlock } from "../../lib/inspect/criteria.ts";
import { namedVariables, quadraticLoss } from "./quadratic.ts";

await tf.setBackend("cpu");

const Q = "bert.encoder.layer.0.attention.self.query.weight";
const C = "classifier.weight";

test("overlap per block of hand-made masks", () => {
  const ref = new Map([[Q, Uint8Array.from([1, 1, 0, 0])], [C, Uint8Array.from([1, 0])]]);
  const other = new Map([[Q, Uint8Array.from([0, 1, 1, 0])], [C, Uint8Array.from([0, 1])]]);
  const rows = maskOverlapByBlock(ref, other, { criterion: "x" });
  assert.deepEqual(rows.map((r) => [r.block, r.size, r.keptReference, r.keptCriterion, r.overlap, r.jaccard]), [
    ["global", 6, 3, 3, 1 / 3, 1 / 5],
    ["layer.0.attention", 4, 2, 2, 1 / 2, 1 / 3],
    ["classifier", 2, 1, 1, 0, 0],
  ]);
});

test("criteria masks from hand-made scores: magnitude, gradient, Hessian diagonal, random", async () => {
  // Variables: query weight [2,2] = w0..w3, classifier weight [2] = w4, w5.
  const vars = namedVariables([[Q, [2, 2]], [C, [2]]], 1, "crit");
  vars[0].assign(tf.tensor2d([[0.1, -3], [2, 0.2]]));
  vars[1].assign(tf.tensor1d([-0.5, 1]));
  // L = ½ Σ h_i w_i² + Σ b_i w_i: diag H = h, ∇L = h⊙w + b.
  const h = [6, 1, 0.5, 7, 0.1, 3];
  const b = [0, 0, 0, 0, 0, 0];
  const loss = quadraticLoss(vars, h.map((x, i) => h.map((_, j) => (i === j ? x : 0))), b);
  const fisher = new Map([[vars[0].name, Float32Array.from([9, 8, 1, 2])], [vars[1].name, Float32Array.from([3, 0])]]);
  const res = await compareMaskCriteria(vars, { sparsity: 0.5, fisher, loss, seed: 3, hessianSamples: 2 });
  const flat = (k: string) => [...res.masks.get(k as never)!.values()].flatMap((x) => [...x]);
  assert.deepEqual(flat("fisher"), [1, 1, 0, 0, 1, 0]); // top 3 of 9,8,1,2,3,0
  assert.deepEqual(flat("magnitude"), [0, 1, 1, 0, 0, 1]); // |w| = .1,3,2,.2,.5,1
  assert.deepEqual(flat("gradient"), [0, 1, 0, 1, 0, 1]); // |h⊙w| = .6,3,1,1.4,.05,3
  assert.deepEqual(flat("hessian"), [1, 0, 0, 1, 0, 1]); // h
  assert.equal(flat("random").reduce((a, x) => a + x, 0), 3);
  const again = await compareMaskCriteria(vars, { sparsity: 0.5, fisher, criteria: ["random"], seed: 3 });
  assert.deepEqual([...again.masks.get("random")!.values()].flatMap((x) => [...x]), flat("random"));
  const mag = res.rows.filter((r) => r.criterion === "magnitude");
  assert.deepEqual(mag.map((r) => [r.block, r.overlap]), [["global", 1 / 3], ["layer.0.attention", 1 / 2], ["classifier", 0]]);
  assert.deepEqual(res.table.shape, [12, 7]);
  await assert.rejects(() => compareMaskCriteria(vars, { fisher, criteria: ["gradient"] }), /needs option loss/);
  const n0 = tf.memory().numTensors;
  await compareMaskCriteria(vars, { sparsity: 0.5, fisher, loss, seed: 4, hessianSamples: 2 });
  assert.equal(tf.memory().numTensors, n0);
});
