import test from "node:test";
import assert from "node:assert/strict";
import { spectralDensityFigure } from "../../lib/plot/spectrum.ts";
import { gaussianSpectralDensity } from "../../lib/inspect/spectral-density.ts";
import type { Figure } from "../../lib/plot/figure.ts";

const axisTitle = (fig: Figure, name: string) => (fig.layout[name] as { title: { text: string } }).title.text;
type Line = { type: string; mode: string; name: string; x: number[]; y: number[]; line: { color: string } };

test("spectralDensityFigure: density vs eigenvalue on a log axis, one line per block", () => {
  const attention = gaussianSpectralDensity([-0.5, 0.1, 4], [0.2, 0.7, 0.1], { gridPoints: 300 });
  const ffn = gaussianSpectralDensity([0, 0.2, 12], [0.5, 0.4, 0.1], { gridPoints: 400 });
  const fig = spectralDensityFigure([{ name: "layer.0.attention", result: attention }, { name: "layer.0.ffn", result: ffn }]);
  const lines = fig.data as Line[];
  assert.equal(lines.length, 2);
  assert.deepEqual(lines.map((l) => l.name), ["layer.0.attention", "layer.0.ffn"]);
  assert.ok(lines.every((l) => l.type === "scatter" && l.mode === "lines"));
  assert.notEqual(lines[0].line.color, lines[1].line.color);
  assert.deepEqual(lines[0].x, attention.grid);
  assert.equal(lines[1].y.length, 400);
  // PyHessian's plot adds 1e-7 so the underflowing tails stay on the log axis.
  lines[0].y.forEach((y, i) => assert.ok(Math.abs(y - (attention.density[i] + 1e-7)) < 1e-15));
  assert.ok(lines.every((l) => l.y.every((y) => y > 0)));
  assert.equal((fig.layout.yaxis as { type: string }).type, "log");
  assert.equal(axisTitle(fig, "xaxis"), "Hessian eigenvalue λ");
  assert.equal(axisTitle(fig, "yaxis"), "density (log scale)");
  assert.equal(fig.layout.showlegend, true);
  assert.match((fig.layout.title as { text: string }).text, /spectral density/);
});

test("spectralDensityFigure: a single result, a list of runs, linear scale and bad input", () => {
  const a = gaussianSpectralDensity([1, 2], [0.5, 0.5], { gridPoints: 50 });
  const single = spectralDensityFigure(a, { title: "classifier" });
  assert.equal(single.data.length, 1);
  assert.equal((single.data[0] as Line).name, "density");
  assert.equal(single.layout.showlegend, false);
  assert.equal((single.layout.title as { text: string }).text, "classifier");
  const runs = spectralDensityFigure([a, a], { logScale: false });
  assert.deepEqual((runs.data as Line[]).map((l) => l.name), ["run 1", "run 2"]);
  assert.deepEqual((runs.data[0] as Line).y, a.density);
  assert.equal((runs.layout.yaxis as { type?: string }).type, undefined);
  assert.equal(axisTitle(runs, "yaxis"), "density");
  assert.throws(() => spectralDensityFigure([{ name: "bad", result: { grid: [1, 2], density: [1] } }]), /bad is not a spectral density result/);
  assert.throws(() => spectralDensityFigure(a, { floor: -1 }), /option floor/);
});
