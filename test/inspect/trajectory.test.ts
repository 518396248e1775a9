import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { recordTrajectory, pcaDirections } from "../../lib/inspect/trajectory.ts";
import { directionNorm, snapshotWeights, type Direction, type WeightSnapshot } from "../../lib/inspect/directions.ts";
import { landscape2D, projectTrajectory } from "../../lib/inspect/landscape.ts";
import { saveDirections, loadDirections } from "../../lib/inspect/direction-file.ts";
import { train } from "../../lib/train/train.ts";
import { loadDefaultTask } from "../../lib/data/default-task.ts";
import { createBertClassifier } from "../../lib/models/classifier.ts";
import * as api from "../../lib/index.ts";
import { tinyModel } from "./tiny-model.ts";
import { randomOrthogonal } from "./quadratic.ts";

await tf.setBackend("cpu");

/** Two parameters, 12 + 5 = 17 numbers, with HF names. */
const SHAPES: [string, number[]][] = [["bert.encoder.layer.0.output.dense.weight", [3, 4]], ["classifier.bias", [5]]];
const P = 17;

/** A flat vector of P numbers as a WeightSnapshot with the SHAPES layout. */
function asSnapshot(flat: readonly number[]): WeightSnapshot {
  const out: WeightSnapshot = new Map();
  let offset = 0;
  for (const [name, shape] of SHAPES) {
    const size = shape.reduce((a, b) => a * b, 1);
    out.set(name, { shape: shape.slice(), data: Float32Array.from(flat.slice(offset, offset + size)) });
    offset += size;
  }
  return out;
}

/** A WeightSnapshot (or direction) flattened in the SHAPES layout. */
const flatten = (w: WeightSnapshot | Direction) => SHAPES.flatMap(([name]) => [...(w instanceof Map ? w : w.values).get(name)!.data]);
const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/** origin + Σ c_k u_k. */
const point = (origin: readonly number[], coords: readonly number[], basis: readonly number[][]) =>
  origin.map((o, i) => coords.reduce((s, c, k) => s + c * basis[k][i], o));

const ORIGIN = Array.from({ length: P }, (_, i) => Math.sin(i + 1));

test("pcaDirections: a trajectory on an ellipse in a known plane gives that plane's axes, a 0.9/0.1 split and the known coordinates", async () => {
  const [u1, u2] = randomOrthogonal(P, 11);
  // 8 points at angles π(t + ½)/4 on the ellipse 3 cos θ · u1 + sin θ · u2, then the origin itself (the final
  // weights). Σ cos θ sin θ = 0, Σ cos² θ = Σ sin² θ = 4: the Gram eigenvalues are 9·4 = 36 and 4.
  const coords = Array.from({ length: 8 }, (_, t) => {
    const th = (Math.PI * (t + 0.5)) / 4;
    return [3 * Math.cos(th), Math.sin(th)];
  });
  coords.push([0, 0]);
  const snapshots = coords.map((c) => asSnapshot(point(ORIGIN, c, [u1, u2])));
  const origin = asSnapshot(ORIGIN);
  const pca = await pcaDirections(snapshots, origin);
  assert.equal(pca.directions.length, 2);
  close(pca.explainedVarianceRatio[0], 0.9, 1e-5, "ratio 1");
  close(pca.explainedVarianceRatio[1], 0.1, 1e-5, "ratio 2");
  close(pca.eigenvalues[0], 36, 1e-4, "eigenvalue 1");
  close(pca.eigenvalues[1], 4, 1e-4, "eigenvalue 2");
  const [p1, p2] = pca.directions;
  assert.equal(p1.kind, "pca");
  assert.match(p1.label, /^PCA direction 1 \(90\.0 % of variance\)$/);
  assert.match(p2.label, /^PCA direction 2 \(10\.0 % of variance\)$/);
  assert.deepEqual([...p1.values.keys()], SHAPES.map(([n]) => n));
  assert.deepEqual(p1.values.get("bert.encoder.layer.0.output.dense.weight")!.shape, [3, 4]);
  close(directionNorm(p1), 1, 1e-6, "‖d1‖");
  close(directionNorm(p2), 1, 1e-6, "‖d2‖");
  close(dot(flatten(p1), flatten(p2)), 0, 1e-6, "d1 · d2");
  // Up to sign the axes are u1 and u2; the sign convention (the first snapshot has positive coordinates) fixes it.
  close(dot(flatten(p1), u1), 1, 1e-6, "d1 = u1");
  close(dot(flatten(p2), u2), 1, 1e-6, "d2 = u2");
  const path = await projectTrajectory(snapshots, origin, [p1, p2]);
  coords.forEach(([a, b], t) => {
    close(path.x[t], a, 1e-5, `α of snapshot ${t}`);
    close(path.y[t], b, 1e-5, `β of snapshot ${t}`);
  });
  // The origin may be given as variables.
  const vars = SHAPES.map(([name, shape], i) => tf.variable(tf.tensor(origin.get(name)!.data, shape), false, `pcaOrigin${i}/${name}`));
  try {
    const again = await pcaDirections(snapshots, vars, { components: 1 });
    assert.deepEqual(flatten(again.directions[0]), flatten(p1));
    assert.equal(again.directions.length, 1);
  } finally {
    tf.dispose(vars);
  }
});

test("pcaDirections: a line through the origin has ratio 1 and one dimension; `center` finds a line that misses the origin", async () => {
  const [u, w] = randomOrthogonal(P, 5);
  const origin = asSnapshot(ORIGIN);
  const onLine = [2, 1.5, 1, 0.5, 0].map((s) => asSnapshot(point(ORIGIN, [s], [u])));
  const pca = await pcaDirections(onLine, origin, { components: 1 });
  close(pca.explainedVarianceRatio[0], 1, 1e-9, "ratio");
  close(dot(flatten(pca.directions[0]), u), 1, 1e-6, "d = u (sign: the start is at +2)");
  close((await projectTrajectory(onLine, origin, [pca.directions[0], { label: "w", kind: "custom", values: asSnapshot(w) }])).x[0], 2, 1e-5, "α of the start");
  await assert.rejects(async () => pcaDirections(onLine, origin), /spans only 1 dimension\(s\).*components ≤ 1/);
  // The line 2·w + s·u misses the origin: uncentred, w carries most of the second moment; centred, u alone.
  const offLine = [-1, -0.5, 0, 0.5, 1].map((s) => asSnapshot(point(ORIGIN, [2, s], [w, u])));
  const raw = await pcaDirections(offLine, origin);
  close(Math.abs(dot(flatten(raw.directions[0]), w)), 1, 1e-6, "uncentred: first direction is the offset");
  close(raw.explainedVarianceRatio[0], 20 / 22.5, 1e-6, "uncentred ratio: 5·4 / (5·4 + 2.5)");
  const centred = await pcaDirections(offLine, origin, { center: true, components: 1 });
  close(Math.abs(dot(flatten(centred.directions[0]), u)), 1, 1e-6, "centred: the line's direction");
  close(centred.explainedVarianceRatio[0], 1, 1e-9, "centred ratio");
});

test("pcaDirections rejects too few or identical snapshots, mismatched parameters and bad options", async () => {
  const origin = asSnapshot(ORIGIN);
  const a = asSnapshot(ORIGIN.map((x) => x + 1));
  const b = asSnapshot(ORIGIN.map((x, i) => x - (i % 3)));
  await assert.rejects(async () => pcaDirections([], origin), /at least 2 snapshots of the trajectory, got 0/);
  await assert.rejects(async () => pcaDirections([a], origin), /at least 2 snapshots of the trajectory, got 1/);
  await assert.rejects(async () => pcaDirections([a, asSnapshot(ORIGIN.map((x) => x + 1)), a], origin), /fewer than 2 distinct snapshots/);
  const missing: WeightSnapshot = new Map([...b].slice(0, 1));
  await assert.rejects(async () => pcaDirections([a, missing], origin), /snapshot 1 lacks parameter classifier\.bias/);
  const extra: WeightSnapshot = new Map([...b, ["pooler.dense.bias", { shape: [1], data: new Float32Array(1) }]]);
  await assert.rejects(async () => pcaDirections([a, extra], origin), /snapshot 1 has parameter pooler\.dense\.bias, which the origin lacks/);
  const reshaped: WeightSnapshot = new Map(b);
  reshaped.set("bert.encoder.layer.0.output.dense.weight", { shape: [4, 3], data: new Float32Array(12) });
  await assert.rejects(async () => pcaDirections([a, reshaped], origin), /has shape \[4,3\] in snapshot 1 but \[3,4\] in the origin/);
  for (const components of [0, 1.5, -1]) await assert.rejects(async () => pcaDirections([a, b], origin, { components }), /components must be a positive integer/);
  await assert.rejects(async () => pcaDirections([a, b], origin, { components: 3 }), /spans only 2 dimension/);
  await assert.rejects(async () => pcaDirections([origin, asSnapshot(ORIGIN)], origin), /fewer than 2 distinct/);
});

test("PCA directions of a model's trajectory work with landscape2D and survive a safetensors round trip", async () => {
  const m = tinyModel("pcaModel", 2);
  const final = await snapshotWeights(m.vars);
  // Snapshots final + small deterministic displacements of every parameter.
  const snapshots = [3, 2, 1].map((s) => {
    const snap: WeightSnapshot = new Map();
    for (const [name, { shape, data }] of final) snap.set(name, { shape, data: data.map((x, i) => x + 0.05 * s * Math.cos(i * s + name.length)) });
    return snap;
  });
  snapshots.push(final);
  const pca = await pcaDirections(snapshots, m.vars);
  const before = tf.memory().numTensors;
  const plane = await landscape2D(m.vars, m.evaluate, [pca.directions[0], pca.directions[1]], { points: 3, range: [-0.1, 0.1] });
  assert.equal(tf.memory().numTensors, before);
  const r = m.evaluate();
  close(plane.loss[1][1], r.loss.dataSync()[0], 1e-6, "centre of the plane = the final weights");
  tf.dispose([r.loss, r.accuracy]);
  assert.equal(plane.xLabel, pca.directions[0].label);
  const dir = mkdtempSync(join(tmpdir(), "fsam-pca-"));
  try {
    const path = join(dir, "pca.safetensors");
    saveDirections(path, pca.directions);
    const loaded = loadDirections(path);
    assert.deepEqual(loaded.map((d) => [d.label, d.kind]), pca.directions.map((d) => [d.label, d.kind]));
    for (const [i, d] of pca.directions.entries())
      for (const [name, x] of d.values) assert.deepEqual([...loaded[i].values.get(name)!.data], [...x.data], name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(api.pcaDirections, pcaDirections);
  assert.equal(api.recordTrajectory, recordTrajectory);
});

test("recordTrajectory records the start and every N-th step of a training loop, as host copies, creating no tensors", async () => {
  const m = tinyModel("recorder", 4);
  const initial = m.vars.map((v) => [...v.dataSync()]);
  const startTensors = tf.memory().numTensors;
  const rec = await recordTrajectory(m.vars, { every: 10 });
  assert.equal(tf.memory().numTensors, startTensors);
  assert.deepEqual(rec.steps, [0]);
  assert.equal(rec.every, 10);
  const counts: number[] = [];
  // A fake training loop: each step adds 0.01 to every weight, then calls onStep like train() does.
  const onStep = rec.onStep;
  for (let step = 1; step <= 25; step++) {
    for (const v of m.vars) {
      const next = tf.add(v, 0.01);
      v.assign(next);
      next.dispose();
    }
    counts.push(tf.memory().numTensors);
    await onStep({ step });
    counts.push(tf.memory().numTensors);
  }
  assert.equal(new Set(counts).size, 1, `tensor counts: ${counts.join(",")}`);
  assert.deepEqual(rec.steps, [0, 10, 20]);
  await rec.snapshot(25);
  await rec.snapshot(25); // the same step again replaces the last snapshot
  assert.deepEqual(rec.steps, [0, 10, 20, 25]);
  assert.equal(rec.snapshots.length, 4);
  assert.equal(tf.memory().numTensors, counts[0]);
  rec.steps.forEach((step, k) => {
    const snap = rec.snapshots[k];
    assert.equal(snap.size, m.vars.length);
    m.vars.forEach((v, i) => {
      const got = snap.get(v.name.slice("recorder/".length))!;
      assert.ok(got.data instanceof Float32Array);
      assert.deepEqual(got.shape, v.shape);
      got.data.forEach((x, j) => close(x, initial[i][j] + 0.01 * step, 1e-5, `${v.name}[${j}] at step ${step}`));
    });
  });
  // The snapshots are copies: changing the variables leaves them alone.
  const kept = [...rec.snapshots[3].get("classifier.bias")!.data];
  tf.tidy(() => m.vars[9].assign(tf.zerosLike(m.vars[9])));
  assert.deepEqual([...rec.snapshots[3].get("classifier.bias")!.data], kept);
  // Without the start, and every step.
  const each = await recordTrajectory(m.vars, { every: 1, includeStart: false });
  assert.deepEqual(each.steps, []);
  await each.onStep({ step: 1 });
  await each.snapshot(2);
  await each.onStep({ step: 2 }); // the step just recorded by hand is not recorded twice
  assert.deepEqual(each.steps, [1, 2]);
  tf.dispose(m.vars);
});

test("recordTrajectory rejects bad options and rows", async () => {
  const m = tinyModel("recorderBad", 1);
  for (const every of [0, -1, 1.5, NaN, "3" as unknown as number]) {
    await assert.rejects(async () => recordTrajectory(m.vars, { every }), /option every must be a positive integer/);
  }
  await assert.rejects(async () => recordTrajectory([]), /vars is empty/);
  const rec = await recordTrajectory(m.vars);
  await assert.rejects(async () => rec.onStep({} as { step: number }), /integer step/);
  await assert.rejects(async () => rec.snapshot(-1), /non-negative integer/);
  tf.dispose(m.vars);
});

test("recordTrajectory on a real train() run: snapshots at the right steps, flat tensor count, PCA path ends at the solution", async () => {
  const full = loadDefaultTask();
  const data = { train: full.train.slice(0, 48), dev: full.dev.slice(0, 16), tokenizer: full.tokenizer };
  const config = { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 64, vocab_size: full.tokenizer.vocabSize };
  const model = createBertClassifier(config, { numLabels: 2, seed: 3 });
  const rec = await recordTrajectory(model.variables, { every: 2 });
  const counts: number[] = [];
  const r = await train({
    data, model, batchSize: 8, maxLength: 32, epochs: 1, lr: 1e-2, optimizer: "sam", progress: "off", seed: 3,
    onStep: async (row) => {
      await rec.onStep(row);
      counts.push(tf.memory().numTensors);
    },
  });
  assert.equal(r.rows.length, 6);
  assert.deepEqual(rec.steps, [0, 2, 4, 6]);
  assert.equal(new Set(counts.slice(1)).size, 1, `tensor counts per step: ${counts.join(",")}`);
  const final = await snapshotWeights(model.variables);
  for (const [name, x] of final) assert.deepEqual(rec.snapshots[3].get(name)!.data, x.data, name);
  const pca = await pcaDirections(rec.snapshots, model.variables);
  const path = await projectTrajectory(rec.snapshots, model.variables, [pca.directions[0], pca.directions[1]]);
  assert.equal(path.x.length, 4);
  close(path.x[3], 0, 1e-9, "α of the final weights");
  close(path.y[3], 0, 1e-9, "β of the final weights");
  assert.ok(path.x[0] > 0, "the start has a positive first coordinate");
  assert.ok(pca.explainedVarianceRatio[0] >= pca.explainedVarianceRatio[1] && pca.explainedVarianceRatio[0] + pca.explainedVarianceRatio[1] <= 1 + 1e-9);
  model.dispose();
});
