import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { FisherSAM } from "../../lib/optim/fisher-sam.ts";
import { fisherAtlas } from "../../lib/inspect/fisher-atlas.ts";
import { MaskChurnRecorder } from "../../lib/inspect/churn.ts";
import type { Landscape1D, Landscape2D } from "../../lib/inspect/landscape.ts";
import { keptFractionHeatmap, maskShareBars, fisherHistograms, churnCurves, criteriaOverlapBars } from "../../lib/plot/atlas.ts";
import { landscape1DFigure, landscapeContour, landscapeSurface } from "../../lib/plot/landscape.ts";
import { trainingCurves, meanStd } from "../../lib/plot/training.ts";
import { sharpnessBars } from "../../lib/plot/sharpness.ts";
import { toHTML, type Figure } from "../../lib/plot/figure.ts";
import { tinyModel, TINY_SPEC } from "../inspect/tiny-model.ts";

await tf.setBackend("cpu");

const axisTitle = (fig: Figure, name: string) => ((fig.layout[name] as { title: { text: string } }).title.text);

test("heatmap cells equal maskStats() kept fractions; share bars add to 100%; histograms show the threshold", async () => {
  const m = tinyModel("plotatlas", 1);
  const fsam = new FisherSAM(tf.train.sgd(0.1), { fisherLoss: m.sampleLoss, fisherSamples: 6, sparsity: 0.6, maskInterval: 1 });
  fsam.updateMask(m.vars);
  const stats = fsam.maskStats();
  const atlas = await fisherAtlas(fsam);
  const heat = keptFractionHeatmap(atlas);
  assert.equal(heat.data.length, 1);
  const h = heat.data[0] as { type: string; x: string[]; y: string[]; z: (number | null)[][] };
  assert.equal(h.type, "heatmap");
  assert.deepEqual(h.y, ["layer 0", "layer 1"]);
  h.y.forEach((_, li) =>
    h.x.forEach((comp, ci) => {
      // The heatmap covers the maskable variables (by default the authors' rule leaves biases out).
      const members = TINY_SPEC.filter(([, , l, c]) => l === li && c === comp)
        .map(([n]) => stats.variables.find((s) => s.name === `plotatlas/${n}`))
        .filter((s): s is NonNullable<typeof s> => s !== undefined);
      const expected = members.length ? (100 * members.reduce((a, s) => a + s.kept, 0)) / members.reduce((a, s) => a + s.size, 0) : null;
      if (expected === null) assert.equal(h.z[li][ci], null);
      else assert.ok(Math.abs(h.z[li][ci]! - expected) < 1e-9, `${li}/${comp}`);
    }),
  );
  assert.equal(axisTitle(heat, "xaxis"), "component");
  assert.equal(axisTitle(heat, "yaxis"), "encoder layer");

  const bars = maskShareBars(atlas);
  const barTraces = bars.data.filter((t) => t.type === "bar") as { y: number[]; x: string[] }[];
  const total = barTraces.reduce((s, t) => s + t.y.reduce((a, b) => a + b, 0), 0);
  assert.ok(Math.abs(total - 100) < 1e-9, `bars sum to ${total}`);
  assert.deepEqual(barTraces[0].x, ["embeddings", "layer 0", "layer 1", "classifier"]);
  // The embeddings and every bias are outside the mask: one "always perturbed" trace holds them.
  const always = bars.data.find((t) => t.name === "always perturbed (not maskable)") as { y: number[] };
  const perturbed = atlas.totalKept + atlas.alwaysPerturbedSize;
  const embeddings = m.vars[0].size;
  assert.ok(Math.abs(always.y[0] - (100 * embeddings) / perturbed) < 1e-9, `embeddings always perturbed: ${always.y[0]}`);
  const sizes = (bars.data.find((t) => t.type === "scatter") as { y: number[] }).y;
  assert.ok(Math.abs(sizes.reduce((a, b) => a + b, 0) - 100) < 1e-9);
  assert.equal(bars.layout.barmode, "stack");

  const hist = fisherHistograms(atlas);
  assert.equal(hist.data.length, atlas.histograms.length);
  assert.equal((hist.layout.xaxis as { type: string }).type, "log");
  assert.equal((hist.layout.shapes as { x0: number }[])[0].x0, stats.threshold);
  (hist.data as { y: number[] }[]).forEach((t, i) => {
    const { counts, zeros } = atlas.histograms[i];
    const zeroPercent = (100 * zeros) / (counts.reduce((a, b) => a + b, 0) + zeros);
    assert.ok(Math.abs(t.y.reduce((a, b) => a + b, 0) + zeroPercent - 100) < 1e-9);
  });
  assert.throws(() => fisherHistograms(atlas, { blocks: ["pooler"] }), /none of the blocks/);
  const zero = fisherHistograms({ ...atlas, threshold: 0 });
  assert.equal(zero.layout.shapes, undefined);
  assert.match((zero.layout.annotations as { text: string }[])[0].text, /threshold 0/);
  fsam.dispose();
});

test("churn and criteria figures have one trace per block / criterion", () => {
  const r = new MaskChurnRecorder();
  const mk = (a: number[], b: number[]) => new Map([["bert.encoder.layer.0.attention.self.query.weight", Uint8Array.from(a)], ["classifier.weight", Uint8Array.from(b)]]);
  r.record(0, mk([1, 0], [1, 0]));
  r.record(5, mk([1, 1], [0, 1]));
  r.record(10, mk([1, 1], [0, 1]));
  const fig = churnCurves(r.rows);
  assert.deepEqual(fig.data.map((t) => t.name), ["global", "layer.0.attention", "classifier"]);
  assert.deepEqual(fig.data[0].x, [5, 10]);
  assert.deepEqual(fig.data[0].y, [1 / 4, 1]);
  assert.equal(axisTitle(fig, "xaxis"), "training step");
  const crit = criteriaOverlapBars([
    { criterion: "magnitude", block: "global", size: 4, keptReference: 2, keptCriterion: 2, overlap: 0.5, jaccard: 1 / 3 },
    { criterion: "random", block: "global", size: 4, keptReference: 2, keptCriterion: 2, overlap: NaN, jaccard: 0 },
  ]);
  assert.deepEqual(crit.data.map((t) => t.y), [[50], [null]]);
});

const l2d: Landscape2D = {
  xLabel: "d1",
  yLabel: "d2",
  x: [-1, 0, 1],
  y: [-1, 0, 1],
  loss: [[3, 2, 3], [2, 1, 2], [3, 2, 5]],
  accuracy: [[0.5, 0.6, 0.5], [0.6, 0.9, 0.6], [0.5, 0.6, 0.4]],
  msPerPoint: 1,
  aborted: false,
};

test("landscape figures: curves overlaid, contour with trajectory, surface heights on the grid", () => {
  const c = (label: string, loss: number[]): Landscape1D => ({ label, coordinates: [-1, 0, 1], loss, msPerPoint: 1, aborted: false });
  const one = landscape1DFigure([{ name: "Adam", result: c("random", [2, 1, 2]) }, { name: "FSAM", result: c("random", [1.5, 1, NaN]) }]);
  assert.deepEqual(one.data.map((t) => t.name), ["Adam", "FSAM"]);
  assert.deepEqual(one.data[1].y, [1.5, 1, null]);
  assert.equal(axisTitle(one, "xaxis"), "α along random");
  assert.throws(() => landscape1DFigure(c("x", [1, 2, 3]), { metric: "accuracy" }), /no accuracy/);

  const traj = { x: [1, 0.5, 0], y: [1, 0, 0], labels: ["step 0", "step 50", "step 100"] };
  const contour = landscapeContour(l2d, { trajectory: traj });
  assert.deepEqual(contour.data.map((t) => t.type), ["contour", "scatter"]);
  assert.deepEqual(contour.data[0].z, l2d.loss);
  assert.equal(axisTitle(contour, "yaxis"), "β along d2");
  const acc = landscapeContour(l2d, { metric: "accuracy" });
  assert.deepEqual(acc.data[0].z, l2d.accuracy);

  const surf = landscapeSurface(l2d, { trajectory: traj });
  assert.deepEqual(surf.data.map((t) => t.type), ["surface", "scatter3d"]);
  // Heights: grid values at grid points, the bilinear mean between them.
  assert.deepEqual(surf.data[1].z, [5, (1 + 2) / 2, 1]);
  const scene = surf.layout.scene as Record<string, { title: { text: string } }>;
  assert.match(scene.zaxis.title.text, /loss/);
});

test("training curves: runs overlaid and mean ± std bands over seeds", () => {
  const run = (name: string, group: string, losses: number[]) => ({ name, group, rows: losses.map((loss, i) => ({ step: i + 1, loss, metric: i === 2 ? 0.8 : NaN })) });
  const fig = trainingCurves([run("SAM s1", "SAM", [3, 2, 1]), run("SAM s2", "SAM", [5, 2, 3]), run("Adam s1", "Adam", [4, 3, 2])]);
  const mean = fig.data.find((t) => t.name === "SAM (mean ± std, 2 runs)")!;
  assert.deepEqual(mean.y, [4, 2, 2]);
  const upper = fig.data[fig.data.indexOf(mean) - 2].y as number[];
  assert.ok(Math.abs(upper[0] - (4 + Math.SQRT2)) < 1e-12); // std of {3, 5} = √2
  assert.equal(fig.data.filter((t) => t.fill === "tonexty").length, 2);
  const metric = trainingCurves([run("a", "a", [1, 2, 3])], { y: "metric", yTitle: "accuracy" });
  assert.deepEqual(metric.data[0].x, [3]);
  assert.equal(axisTitle(metric, "yaxis"), "accuracy");
  assert.deepEqual(meanStd([{ x: [1, 2], y: [1, 3] }, { x: [2, 3], y: [5, 0] }]), { x: [2], mean: [4], std: [Math.SQRT2] });
  const sharp = sharpnessBars([{ name: "Adam", rows: [{ block: "classifier", size: 3, topEigenvalue: 2, eigenConverged: true, eigenIterations: 4, eigenResidual: 1e-4, trace: 5, tracePerParameter: 5 / 3, method: "double-backprop" }] }], { quantity: "trace" });
  assert.deepEqual(sharp.data[0].y, [5]);
});

test("toHTML writes a standalone page with the plotly bundle and the figure JSON", () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-html-"));
  try {
    const fig: Figure = { data: [{ type: "scatter", x: [1, 2], y: [3, NaN] }], layout: { title: { text: "a </script> title" } } };
    const path = join(dir, "fig.html");
    const html = toHTML(fig, path);
    assert.deepEqual(readdirSync(dir), ["fig.html"]);
    const file = readFileSync(path, "utf8");
    assert.equal(file, html);
    const bundle = readFileSync(createRequire(import.meta.url).resolve("plotly.js-dist/plotly.js"), "utf8");
    assert.ok(file.includes(bundle.slice(0, 2000)), "inlines plotly.js");
    assert.ok(file.length > bundle.length);
    const json = /const figure = (.*);\n/.exec(file)![1];
    assert.deepEqual(JSON.parse(json), { data: [{ type: "scatter", x: [1, 2], y: [3, null] }], layout: { title: { text: "a </script> title" } } });
    assert.equal(file.split("</script>").length - 1, 2, "the title cannot close the script element");
    assert.throws(() => toHTML({ data: "x" } as never), /Plotly figure/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
