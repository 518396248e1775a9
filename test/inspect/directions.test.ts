import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { randomDirection, samDirection, interpolationDirection, filterNormalize, directionNorm, snapshotWeights, eigenvectorDirections } from "../../lib/inspect/directions.ts";
import { saveDirections, loadDirections } from "../../lib/inspect/direction-file.ts";
import { tinyModel } from "./tiny-model.ts";
import { namedVariables, quadraticLoss, withSpectrum } from "./quadratic.ts";

await tf.setBackend("cpu");

const rowNorms = (data: Float32Array, rows: number, cols: number) =>
  Array.from({ length: rows }, (_, r) => Math.hypot(...data.subarray(r * cols, (r + 1) * cols)));

test("filter normalisation: each row of the direction has the norm of the weight row", async () => {
  const m = tinyModel("fn", 1);
  const d = await randomDirection(m.vars, { seed: 5 });
  assert.equal(d.seed, 5);
  for (const v of m.vars) {
    const entry = d.values.get(v.name.slice(3))!;
    const w = v.dataSync() as Float32Array;
    if (v.rank === 2) {
      const [r, c] = v.shape;
      const dn = rowNorms(entry.data, r, c);
      rowNorms(w, r, c).forEach((x, i) => assert.ok(Math.abs(dn[i] - x) < 1e-5 * Math.max(1, x), `${v.name} row ${i}: ${dn[i]} vs ${x}`));
    } else {
      assert.ok(entry.data.every((x) => x === 0), `${v.name} (bias/LayerNorm) is zeroed`);
    }
  }
  const copyBias = await randomDirection(m.vars, { seed: 5, biases: "weights" });
  assert.deepEqual([...copyBias.values.get("classifier.bias")!.data], [...m.vars[9].dataSync()]);
  // Columns as filters (filterAxis −1).
  const cols = filterNormalize({ shape: [2, 2], data: Float32Array.from([1, 0, 0, 1]) }, { shape: [2, 2], data: Float32Array.from([3, 0, 4, 2]) }, -1);
  assert.deepEqual([...cols], [5, 0, 0, 2]);
});

test("the same seed gives the same direction on another model with the same HF names", async () => {
  const a = tinyModel("seedA", 1);
  const b = tinyModel("seedB", 2);
  const da = await randomDirection(a.vars, { seed: 9, filterNormalize: false });
  const db = await randomDirection(b.vars, { seed: 9, filterNormalize: false });
  const dc = await randomDirection(b.vars, { seed: 10, filterNormalize: false });
  for (const [name, x] of da.values) assert.deepEqual([...x.data], [...db.values.get(name)!.data], name);
  assert.notDeepEqual([...da.values.get("classifier.weight")!.data], [...dc.values.get("classifier.weight")!.data]);
  const block = await randomDirection(a.vars, { seed: 9, block: "layer.0" });
  assert.deepEqual([...block.values.keys()].map((k) => k.split(".").slice(0, 4).join(".")).every((k) => k === "bert.encoder.layer.0"), true);
  await assert.rejects(async () => randomDirection(a.vars, { block: "pooler" }), /no variable matches/);
});

test("directions survive a safetensors round trip, written atomically", async () => {
  const m = tinyModel("io", 3);
  const dir = mkdtempSync(join(tmpdir(), "fsam-dirs-"));
  try {
    const d1 = await randomDirection(m.vars, { seed: 1 });
    const d2 = await samDirection(m.loss, m.vars, { rho: 0.1 });
    const path = join(dir, "dirs.safetensors");
    saveDirections(path, [d1, d2]);
    assert.deepEqual(readdirSync(dir), ["dirs.safetensors"]);
    const buf = readFileSync(path);
    const headerLength = Number(buf.readBigUInt64LE(0));
    assert.equal(headerLength % 8, 0);
    const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString());
    assert.deepEqual(header["d0/classifier.weight"].shape, [3, 4]);
    assert.equal(header["d0/classifier.weight"].dtype, "F32");
    const [l1, l2] = loadDirections(path);
    assert.equal(l1.seed, 1);
    assert.equal(l1.label, d1.label);
    assert.equal(l2.kind, "sam");
    for (const [a, b] of [[d1, l1], [d2, l2]])
      for (const [name, x] of a.values) assert.deepEqual([...b.values.get(name)!.data], [...x.data], name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SAM / FSAM directions equal ρ·g/‖g‖ (masked after the global norm) on a quadratic", async () => {
  const vars = namedVariables([["bert.encoder.layer.0.attention.self.query.weight", [2]], ["classifier.weight", [2]]], 4, "sam");
  const a = [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 3, 0], [0, 0, 0, 0.5]];
  const b = [0.1, -0.2, 0.3, 0.4];
  const loss = quadraticLoss(vars, a, b);
  const w = vars.flatMap((v) => [...v.dataSync()]);
  const g = w.map((x, i) => a[i][i] * x + b[i]);
  const gn = Math.hypot(...g);
  const sam = await samDirection(loss, vars, { rho: 0.2 });
  const flat = [...sam.values.values()].flatMap((x) => [...x.data]);
  flat.forEach((x, i) => assert.ok(Math.abs(x - (0.2 * g[i]) / gn) < 1e-6));
  assert.ok(Math.abs(directionNorm(sam) - 0.2) < 1e-6);
  const mask = new Map([[vars[0].name, Uint8Array.from([1, 0])], [vars[1].name, Uint8Array.from([0, 1])]]);
  const fsam = await samDirection(loss, vars, { rho: 0.2, mask });
  assert.equal(fsam.kind, "fsam");
  const ff = [...fsam.values.values()].flatMap((x) => [...x.data]);
  ff.forEach((x, i) => assert.ok(Math.abs(x - ([1, 0, 0, 1][i] * 0.2 * g[i]) / gn) < 1e-6));
});

test("interpolation direction is the difference of two models; eigenvector directions are unit", async () => {
  const a = tinyModel("ipA", 1);
  const b = tinyModel("ipB", 2);
  const d = await interpolationDirection(a.vars, b.vars);
  const sa = await snapshotWeights(a.vars);
  const sb = await snapshotWeights(b.vars);
  for (const [name, x] of d.values) x.data.forEach((v, i) => assert.equal(v, Math.fround(sb.get(name)!.data[i] - sa.get(name)!.data[i])));
  await assert.rejects(async () => interpolationDirection(a.vars, b.vars.slice(1)), /missing from the second/);
  const vars = namedVariables([["classifier.weight", [3]]], 5, "eigdir");
  const { directions, values } = await eigenvectorDirections(quadraticLoss(vars, withSpectrum([4, 1, 0.5], 2)), vars, { k: 2, seed: 1, tol: 1e-8, maxIter: 300 });
  assert.ok(Math.abs(values[0] - 4) < 1e-3);
  directions.forEach((x) => assert.ok(Math.abs(directionNorm(x) - 1) < 1e-4));
});
