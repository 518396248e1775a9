import test from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { FisherSAM } from "../../lib/optim/fisher-sam.ts";
import { fisherAtlas, fisherSummary } from "../../lib/inspect/fisher-atlas.ts";
import { blockOf, groupByBlock, selectBlock } from "../../lib/inspect/blocks.ts";
import { tinyModel, TINY_SPEC } from "./tiny-model.ts";

await tf.setBackend("cpu");

function close(a: number, b: number, tol: number, what: string) {
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

test("blocks: HF names map to the hand-written layer and component", () => {
  for (const [name, , layer, component] of TINY_SPEC) {
    const info = blockOf(`scope/${name}`);
    assert.equal(info.layer, layer, name);
    if (layer !== null) assert.equal(info.component, component, name);
  }
  assert.equal(blockOf("bert.encoder.layer.3.attention.output.dense.weight").block, "layer.3.attention");
  assert.equal(blockOf("bert.encoder.layer.3.attention.output.LayerNorm.bias").block, "layer.3.layernorm");
  assert.equal(blockOf("bert.encoder.layer.3.output.dense.bias").block, "layer.3.ffn");
  assert.equal(blockOf("bert.pooler.dense.weight").block, "pooler");
  assert.equal(blockOf("bert.embeddings.LayerNorm.weight").block, "embeddings");
  assert.equal(blockOf("something.else").block, "other");
  assert.deepEqual(
    [...groupByBlock(["classifier.weight", "bert.encoder.layer.10.intermediate.dense.weight", "bert.encoder.layer.2.attention.self.key.weight", "bert.embeddings.word_embeddings.weight"]).keys()],
    ["embeddings", "layer.2.attention", "layer.10.ffn", "classifier"],
  );
  const vars = TINY_SPEC.map(([name]) => ({ name: `s/${name}` }));
  assert.deepEqual(selectBlock(vars, "layer.0.attention").map((v) => v.name), ["s/bert.encoder.layer.0.attention.self.query.weight", "s/bert.encoder.layer.0.attention.self.query.bias"]);
  assert.equal(selectBlock(vars, "layer.0").length, 6);
  assert.equal(selectBlock(vars, "classifier.bias").length, 1);
  assert.throws(() => selectBlock(vars, "pooler"), /no variable in block "pooler"; blocks are: embeddings, layer.0.attention/);
});

test("atlas from a FisherSAM matches maskStats(), kept counts and shares add up", async () => {
  const m = tinyModel("atlas", 1);
  const fsam = new FisherSAM(tf.train.sgd(0.1), { fisherLoss: m.sampleLoss, fisherSamples: 12, sparsity: 0.7, maskInterval: 1, maskable: "all" });
  fsam.updateMask(m.vars);
  const stats = fsam.maskStats();
  const atlas = await fisherAtlas(fsam, { bins: 20 });
  const n = m.vars.reduce((s, v) => s + v.size, 0);
  assert.equal(atlas.totalSize, n);
  assert.equal(atlas.totalKept, Math.floor(0.3 * n));
  assert.equal(atlas.threshold, stats.threshold);
  assert.equal(atlas.variableRows.length, stats.variables.length);
  for (const s of stats.variables) {
    const r = atlas.variableRows.find((x) => x.name === s.name)!;
    assert.equal(r.size, s.size);
    assert.equal(r.kept, s.kept);
    assert.equal(r.keptFraction, s.keptFraction);
    assert.equal(r.fisherMin, s.fisherMin);
    assert.equal(r.fisherMax, s.fisherMax);
    close(r.fisherMedian, s.fisherMedian, 1e-6, `median ${s.name}`);
    assert.equal(r.maskShare, s.kept / stats.totalKept);
  }
  close(atlas.variableRows.reduce((a, r) => a + r.maskShare, 0), 1, 1e-12, "variable shares");
  close(atlas.blockRows.reduce((a, r) => a + r.maskShare, 0), 1, 1e-12, "block shares");
  assert.equal(atlas.blockRows.reduce((a, r) => a + r.kept, 0), stats.totalKept);
  assert.equal(atlas.blockRows.reduce((a, r) => a + r.size, 0), n);
  // Block kept counts from maskStats grouped by hand-written (layer, component) → block.
  for (const row of atlas.blockRows) {
    const members = stats.variables.filter((s) => blockOf(s.name).block === row.block);
    assert.equal(row.kept, members.reduce((a, s) => a + s.kept, 0), row.block);
  }
  // Quartiles against a sort.
  const emb = [...fsam.fisher.get("atlas/bert.embeddings.word_embeddings.weight")!].sort((a, b) => a - b);
  const q = (p: number) => { const pos = p * (emb.length - 1); const lo = Math.floor(pos); return emb[lo] + (emb[Math.ceil(pos)] - emb[lo]) * (pos - lo); };
  const er = atlas.variableRows[0];
  close(er.fisherQ25, q(0.25), 1e-6, "q25");
  close(er.fisherQ75, q(0.75), 1e-6, "q75");
  close(er.fisherMean, emb.reduce((a, b) => a + b, 0) / emb.length, 1e-6, "mean");
  // Histograms count every score once.
  for (const h of atlas.histograms) {
    const row = atlas.blockRows.find((r) => r.block === h.block)!;
    assert.equal(h.counts.reduce((a, b) => a + b, 0) + h.zeros, row.size, h.block);
    assert.equal(h.edges.length, 21);
  }
  assert.deepEqual(atlas.blocks.shape, [atlas.blockRows.length, Object.keys(atlas.blockRows[0]).length]);
  assert.deepEqual(atlas.variables.shape[0], m.vars.length);
  fsam.dispose();
});

test("the kept-fraction grid equals maskStats() aggregated by hand-written layer/component", async () => {
  const m = tinyModel("grid", 2);
  const fsam = new FisherSAM(tf.train.sgd(0.1), { fisherLoss: m.sampleLoss, fisherSamples: 6, sparsity: 0.5, maskInterval: 1, maskable: "all" });
  fsam.updateMask(m.vars);
  const stats = fsam.maskStats();
  const { grid } = await fisherAtlas(fsam);
  assert.deepEqual(grid.layers, [0, 1]);
  assert.deepEqual(grid.components, ["query", "key", "intermediate", "output", "output.LayerNorm"]);
  for (const [li, layer] of grid.layers.entries())
    for (const [ci, comp] of grid.components.entries()) {
      const members = TINY_SPEC.filter(([, , l, c]) => l === layer && c === comp).map(([name]) => stats.variables.find((s) => s.name === `grid/${name}`)!);
      if (members.length === 0) assert.ok(Number.isNaN(grid.keptFraction[li][ci]));
      else close(grid.keptFraction[li][ci], members.reduce((a, s) => a + s.kept, 0) / members.reduce((a, s) => a + s.size, 0), 1e-12, `${layer}/${comp}`);
    }
  fsam.dispose();
});

test("atlas computed directly from vars + fisherLoss equals the FisherSAM one", async () => {
  const m = tinyModel("direct", 3);
  const fsam = new FisherSAM(tf.train.sgd(0.1), { fisherLoss: m.sampleLoss, fisherSamples: 12, sparsity: 0.8, maskInterval: 1 });
  fsam.updateMask(m.vars);
  const a = await fisherAtlas(fsam);
  const b = await fisherAtlas({ vars: m.vars, fisherLoss: m.sampleLoss, samples: 12, sparsity: 0.8 });
  assert.deepEqual(b.variableRows.map((r) => r.kept), a.variableRows.map((r) => r.kept));
  assert.equal(b.threshold, a.threshold);
  await assert.rejects(async () => fisherAtlas({ vars: m.vars, fisherLoss: m.sampleLoss, samples: 12, sparsity: 1.5 }), /sparsity/);
  fsam.dispose();
});

test("atlas under the authors' rule: embeddings and biases are always perturbed, by block", async () => {
  const m = tinyModel("authors", 4);
  const fsam = new FisherSAM(tf.train.sgd(0.1), { fisherLoss: m.sampleLoss, fisherSamples: 6, sparsity: 0.9, maskInterval: 1 });
  fsam.updateMask(m.vars);
  const a = await fisherAtlas(fsam);
  const outside = m.vars.filter((v) => /bias|embed/.test(v.name.slice(v.name.indexOf("/") + 1)));
  assert.deepEqual(a.alwaysPerturbedRows.map((r) => r.name), outside.map((v) => v.name));
  const outsideSize = outside.reduce((s, v) => s + v.size, 0);
  const n = m.vars.reduce((s, v) => s + v.size, 0);
  assert.equal(a.alwaysPerturbedSize, outsideSize);
  assert.equal(a.totalSize, n - outsideSize);
  assert.equal(a.totalKept, Math.floor(0.1 * (n - outsideSize)));
  close(a.perturbedFraction, (a.totalKept + outsideSize) / n, 1e-12, "perturbed fraction");
  const emb = a.blockRows.find((r) => r.block === "embeddings")!;
  assert.deepEqual([emb.size, emb.kept, emb.alwaysPerturbed, emb.perturbedFraction], [0, 0, 40, 1]);
  assert.ok(!a.histograms.some((h) => h.block === "embeddings"), "no Fisher histogram for a block outside the mask");
  const cls = a.blockRows.find((r) => r.block === "classifier")!;
  assert.equal(cls.alwaysPerturbed, 3);
  close(cls.perturbedFraction, (cls.kept + 3) / 15, 1e-12, "classifier perturbed fraction");
  // The direct atlas applies the same default rule.
  const direct = await fisherAtlas({ vars: m.vars, fisherLoss: m.sampleLoss, samples: 6, sparsity: 0.9 });
  assert.deepEqual(direct.alwaysPerturbedRows, a.alwaysPerturbedRows);
  assert.equal((await fisherAtlas({ vars: m.vars, fisherLoss: m.sampleLoss, samples: 6, sparsity: 0.9, maskable: "all" })).alwaysPerturbedSize, 0);
  fsam.dispose();
});

test("fisherSummary on a hand-made array", () => {
  const s = fisherSummary([new Float32Array([4, 1, 3]), new Float32Array([2, 5])]);
  assert.deepEqual([s.fisherMin, s.fisherQ25, s.fisherMedian, s.fisherQ75, s.fisherMax, s.fisherMean], [1, 2, 3, 4, 5, 3]);
});
