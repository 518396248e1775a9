/**
 * Executes every tutorial notebook with `jupyter nbconvert --execute` on the FSAM Lab kernel
 * (kernelspec installed into a temp prefix, `FSAM_LAB_SMOKE=1`) and checks the saved outputs: no
 * errors, no type-check warnings, an output in every code cell, the DataFrame tables and Plotly
 * figures each notebook promises, and numbers cross-checked against values computed here.
 */
import test, { after, before } from "node:test";
import assert from "node:assert/strict";
import { skipWithoutTool } from "../required-tools.ts";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  JUPYTER, ROOT, figures, jupyterMissing, makeJupyterEnv, markdownOutputs, readCells, runCommand, settingsOf, tableRows, tables, text,
  type JupyterEnv, type NbCell,
} from "./jupyter-env.ts";

const NOTEBOOKS = ["01-quickstart", "02-fisher-mask-atlas", "03-sharpness-and-landscape", "04-glue-low-resource"];
const skip = skipWithoutTool(jupyterMissing());
let env: JupyterEnv | undefined;
const executed = new Map<string, { cells: NbCell[]; seconds: number; log: string }>();
const failures = new Map<string, string>();

before(async () => {
  if (skip) return;
  env = makeJupyterEnv({ installPrefix: true });
  const outDir = join(env.dir, "executed");
  const execute = async (name: string) => {
    const r = await runCommand(
      JUPYTER,
      ["nbconvert", "--execute", "--to", "notebook", "--output-dir", outDir, "--allow-errors",
        "--ExecutePreprocessor.kernel_name=fsam-lab", "--ExecutePreprocessor.timeout=300", `${name}.ipynb`],
      { cwd: join(ROOT, "notebooks"), env: env!.env, timeoutMs: 360_000 },
    );
    const file = join(outDir, `${name}.ipynb`);
    if (r.code !== 0 || !existsSync(file)) {
      // Kept per notebook, so one failure does not hide the other notebooks' results.
      failures.set(name, `nbconvert ${name} exited ${r.code} after ${r.seconds.toFixed(0)} s:\n${r.stderr.replace(/\s*File "[^\n]*\n[^\n]*\n/g, "\n").slice(-4000)}`);
      return;
    }
    executed.set(name, { cells: readCells(file), seconds: r.seconds, log: r.stderr });
    console.log(`# ${name}: executed in ${r.seconds.toFixed(1)} s`);
  };
  // Two at a time: kernel start-up and cell compilation overlap with the other notebook's training.
  await Promise.all([execute(NOTEBOOKS[0]).then(() => execute(NOTEBOOKS[2])), execute(NOTEBOOKS[1]).then(() => execute(NOTEBOOKS[3]))]);
});

after(() => env?.cleanup());

/** Common checks of an executed notebook; returns its cells. */
function checked(name: string): NbCell[] {
  const run = executed.get(name);
  assert.ok(run, failures.get(name) ?? `${name} was not executed`);
  const code = run.cells.filter((c) => c.cell_type === "code");
  for (const [i, cell] of code.entries()) {
    const outputs = cell.outputs ?? [];
    const errors = outputs.filter((o) => o.output_type === "error");
    assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), [], `${name} code cell ${i} raised:\n${text(cell.source)}`);
    assert.ok(outputs.length > 0, `${name} code cell ${i} shows nothing:\n${text(cell.source)}`);
    const warnings = outputs.filter((o) => o.output_type === "stream" && /warning: line \d+:\d+/.test(text(o.text)));
    assert.deepEqual(warnings.map((o) => text(o.text)), [], `${name} code cell ${i} has type-check warnings`);
  }
  const firstStdout = (code[0].outputs ?? []).filter((o) => o.name === "stdout").map((o) => text(o.text)).join("");
  assert.match(firstStdout, /FSAM_LAB_SMOKE=1: smoke-test settings/, `${name}: the smoke settings are not in effect`);
  return run.cells;
}

/** Parameters of a bert-tiny classifier (L2, H128, I512, 512 positions, 2 token types) with vocabulary V and 2 labels. */
function bertTinyParameters(vocab: number): number {
  const h = 128, i = 512, layers = 2;
  const embeddings = vocab * h + 512 * h + 2 * h + 2 * h;
  const layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h;
  return embeddings + layers * layer + (h * h + h) + (2 * h + 2);
}

const numbersIn = (s: string) => [...s.matchAll(/\d[\d,]*/g)].map((m) => Number(m[0].replace(/,/g, "")));

test("the committed notebooks are valid nbformat 4 with cleared outputs and the fsam-lab kernelspec", () => {
  for (const name of NOTEBOOKS) {
    const nb = JSON.parse(readFileSync(join(ROOT, "notebooks", `${name}.ipynb`), "utf8"));
    assert.equal(nb.nbformat, 4, name);
    assert.deepEqual(nb.metadata.kernelspec, { name: "fsam-lab", display_name: "FSAM Lab (TypeScript)", language: "typescript" }, name);
    const code = nb.cells.filter((c: NbCell) => c.cell_type === "code");
    assert.ok(code.length >= 5, `${name} has ${code.length} code cells`);
    for (const c of code) {
      assert.deepEqual(c.outputs, [], `${name}: outputs not cleared`);
      assert.equal(c.execution_count, null, `${name}: execution count not cleared`);
    }
    assert.match(text(code[0].source), /process\.env\.FSAM_LAB_SMOKE/, `${name}: the first code cell must read FSAM_LAB_SMOKE`);
    assert.ok(nb.cells.filter((c: NbCell) => c.cell_type === "markdown").length >= 4, `${name}: too little explanation`);
  }
});

test("01-quickstart: data, live training, comparison table and plots", { skip }, () => {
  const cells = checked("01-quickstart");
  const S = settingsOf(cells);
  const md = markdownOutputs(cells);
  const vocab = numbersIn(md.find((m) => m.includes("WordPiece"))!).at(-1)!;
  const params = bertTinyParameters(vocab);
  const modelLine = md.find((m) => m.includes("bert-tiny"))!;
  assert.ok(numbersIn(modelLine).includes(params), `model line ${modelLine} should state ${params} parameters`);
  assert.ok(numbersIn(modelLine).includes(Math.floor(0.1 * params)), "the mask size is 10 % of the parameters");
  // The live progress display ended on its last step: ceil(train / batch) · epochs.
  const steps = Math.ceil((S.trainSize as number) / (S.batchSize as number)) * (S.epochs as number);
  const progress = cells.flatMap((c) => c.outputs ?? []).map((o) => text(o.data?.["text/html"])).filter((h) => h.includes("fsam-train-progress"));
  assert.equal(progress.length, 5 * (S.seeds as number[]).length, "one progress display per run (FSAM, Adam, SAM, ESAM, Fisher-ESAM per seed)");
  for (const p of progress) assert.match(p, new RegExp(`step ${steps}/${steps}`));
  const frames = tables(cells);
  assert.ok(frames.length >= 3, `expected the examples, evaluation and comparison tables, got ${frames.length}`);
  const summary = tableRows(frames.at(-1)!);
  assert.deepEqual(summary.map((r) => r.optimizer), ["adam", "sam", "esam", "fesam", "fsam"]);
  for (const r of summary) {
    assert.equal(Number(r.n), (S.seeds as number[]).length);
    assert.ok(Number(r.mean) >= 0 && Number(r.mean) <= 1, `accuracy ${r.mean}`);
  }
  const figs = figures(cells);
  assert.equal(figs.length, 2);
  for (const f of figs) {
    const names = new Set(f.data.map((t) => String(t.name ?? t.legendgroup ?? "")));
    for (const o of ["adam", "sam", "esam", "fesam", "fsam"]) assert.ok([...names].some((n) => n.includes(o)), `figure lacks ${o}: ${[...names]}`);
  }
});

test("02-fisher-mask-atlas: atlas table, heatmap, shares, histograms, churn and criteria", { skip }, () => {
  const cells = checked("02-fisher-mask-atlas");
  const S = settingsOf(cells);
  const md = markdownOutputs(cells);
  const maskLine = md.find((m) => m.startsWith("Mask of step"))!;
  const [, kept, total] = numbersIn(maskLine);
  assert.equal(kept, Math.floor(0.1 * total), maskLine);
  const frames = tables(cells);
  assert.ok(frames.length >= 3, `atlas, churn and criteria tables expected, got ${frames.length}`);
  const blocks = tableRows(frames[0]);
  assert.ok(blocks.some((r) => Object.values(r).some((v) => /layer\.1/.test(String(v)))), "the atlas lists layer 1");
  // The authors' rule: the embeddings and every bias are outside the mask, always perturbed.
  assert.ok(md.some((m) => /^Outside the mask \(always perturbed\): \d+ variables/.test(m)), "the atlas reports what is outside the mask");
  const figs = figures(cells);
  assert.equal(figs.length, 6);
  const [heatmap, shares, histograms, churn, criteria, estimates] = figs;
  assert.ok(shares.data.some((t) => t.name === "always perturbed (not maskable)"), "the share bars draw the parameters outside the mask");
  const estimateOverlaps = estimates.data.flatMap((t) => (t.y as (number | null)[]).filter((v): v is number => v !== null));
  assert.ok(estimateOverlaps.length > 0 && estimateOverlaps.every((v) => v >= 0 && v <= 100 + 1e-9), "per-sample vs batch overlaps are percentages");
  const z = (heatmap.data[0].z as (number | null)[][]).flat().filter((v): v is number => v !== null);
  assert.ok(z.length > 0 && z.every((v) => v >= 0 && v <= 100), "kept fractions are percentages");
  const barTotal = shares.data.filter((t) => t.type === "bar").flatMap((t) => t.y as number[]).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(barTotal - 100) < 0.01, `the perturbed shares sum to ${barTotal} %, not 100 %`);
  assert.ok(histograms.data.length >= 2);
  const steps = Math.ceil((S.trainSize as number) / (S.batchSize as number)) * (S.epochs as number);
  const refreshes = Math.ceil(steps / (S.maskInterval as number));
  const globalChurn = churn.data.find((t) => String(t.name) === "global")!;
  assert.equal((globalChurn.y as number[]).length, refreshes - 1, "one churn point per refresh after the first");
  assert.ok((globalChurn.y as number[]).every((v) => v >= 0 && v <= 1));
  const overlaps = criteria.data.flatMap((t) => (t.y as (number | null)[]).filter((v): v is number => v !== null));
  assert.ok(overlaps.length > 0 && overlaps.every((v) => v >= 0 && v <= 100 + 1e-9), "overlaps are percentages");
  // A random mask of the same size keeps about (1 − s) = 10 % of the Fisher mask: hypergeometric, with a
  // standard deviation of sqrt(0.1 · 0.9 / kept) ≈ 0.13 points for bert-tiny.
  const random = criteria.data.find((t) => t.name === "random")!;
  const globalRandom = (random.y as number[])[(random.x as string[]).indexOf("global")];
  assert.ok(Math.abs(globalRandom - 10) < 1.5, `random criterion keeps ${globalRandom} % of the Fisher mask, expected about 10 %`);
  assert.match(text(cells.at(-1)!.outputs?.[0]?.data?.["text/plain"]), /live tensors: \d+/);
});

test("03-sharpness-and-landscape: spectra per block and landscapes on shared directions", { skip }, () => {
  const cells = checked("03-sharpness-and-landscape");
  const S = settingsOf(cells);
  const frames = tables(cells);
  assert.equal(frames.length, 6, "solutions, global spectrum, eigenvalue convergence, per-block, spectral density and 2-D summary tables");
  const spectrum = tableRows(frames[1]);
  assert.deepEqual(spectrum.map((r) => r.optimizer), ["Adam", "FSAM"]);
  for (const r of spectrum) assert.ok(Number.isFinite(Number(r.lambda1)) && Number.isFinite(Number(r.trace)));
  // BERT's Hessian-vector products are exact now: auto keeps double back-propagation.
  assert.deepEqual(spectrum.map((r) => r.method), ["double-backprop", "double-backprop"]);
  // One convergence row per eigenvalue, the same values as the spectrum table; an unconverged one used every iteration.
  const convergence = tableRows(frames[2]);
  assert.deepEqual(convergence.map((r) => `${r.optimizer} ${r.eigenvalue}`), ["Adam λ1", "Adam λ2", "FSAM λ1", "FSAM λ2"]);
  convergence.forEach((r, i) => {
    const lambda = spectrum[i >> 1][i % 2 === 0 ? "lambda1" : "lambda2"];
    assert.ok(Math.abs(Number(r.value) - Number(lambda)) <= 1e-6 * Math.abs(Number(lambda)), `${r.value} vs ${lambda}`);
    const iterations = Number(r.iterations);
    assert.ok(iterations >= 1 && iterations <= (S.maxIter as number), `iterations ${iterations}`);
    assert.ok(r.converged === "true" || (r.converged === "false" && iterations === S.maxIter), `converged ${r.converged} after ${iterations}`);
    assert.ok(Number(r.relativeResidual) >= 0, `residual ${r.relativeResidual}`);
  });
  const perBlock = tableRows(frames[3]);
  assert.equal(perBlock.filter((r) => r.optimizer === "Adam").length, perBlock.filter((r) => r.optimizer === "FSAM").length);
  for (const r of perBlock) assert.ok(["true", "false"].includes(r.converged) && Number(r.iterations) <= (S.maxIter as number), JSON.stringify(r));
  const slq = tableRows(frames[4]);
  assert.deepEqual(slq.map((r) => r.optimizer), ["Adam", "FSAM"]);
  for (const r of slq) {
    assert.ok(Number(r.smallestRitzValue) <= Number(r.largestRitzValue), "Ritz values in order");
    assert.ok(Number(r.lanczosSteps) >= 1 && Number(r.lanczosSteps) <= (S.lanczosSteps as number));
    assert.equal(Number(r.runs), S.slqRuns);
  }
  const figs = figures(cells);
  assert.equal(figs.length, 8);
  const [eigBars, traceBars, density, random1D, line, adamPlane, fsamPlane, pcaPlane] = figs;
  for (const f of [eigBars, traceBars, density, random1D]) assert.deepEqual(f.data.map((t) => t.name), ["Adam", "FSAM"]);
  for (const t of density.data) assert.ok((t.y as number[]).every((v) => v > 0), "a log-scale density is positive everywhere");
  const points = S.points1D as number;
  const grid = Array.from({ length: points }, (_, i) => -1 + (2 * i) / (points - 1));
  const xs = random1D.data[0].x as number[];
  grid.forEach((g, i) => assert.ok(Math.abs(xs[i] - g) < 1e-9));
  // The line from Adam to FSAM passes through both solutions: its values at 0 and 1 are the losses the
  // random-direction curves measured at their own α = 0.
  const at = (f: Record<string, unknown>, x: number) => (f.y as number[])[(f.x as number[]).findIndex((v) => Math.abs(v - x) < 1e-9)];
  assert.ok(Math.abs(at(line.data[0], 0) - at(random1D.data[0], 0)) < 1e-4, "loss of the Adam solution");
  assert.ok(Math.abs(at(line.data[0], 1) - at(random1D.data[1], 0)) < 1e-3, "loss of the FSAM solution");
  for (const [plane, curve] of [[adamPlane, random1D.data[0]], [fsamPlane, random1D.data[1]]] as const) {
    const t = plane.data[0];
    const z = t.z as number[][];
    assert.equal(z.length, S.points2D);
    const j = (t.y as number[]).findIndex((v) => Math.abs(v) < 1e-9);
    const i = (t.x as number[]).findIndex((v) => Math.abs(v) < 1e-9);
    assert.ok(Math.abs(z[j][i] - at(curve, 0)) < 1e-4, "the plane's centre is the solution");
  }
  assert.deepEqual(adamPlane.data[0].x, fsamPlane.data[0].x);
  // The FSAM trajectory on its PCA plane: one snapshot at step 0, every trajectoryEvery steps and at the last step;
  // it ends at the plane's centre (the final weights), which has the FSAM solution's loss, and the grid covers it.
  const steps = Math.ceil((S.trainSize as number) / (S.batchSize as number)) * (S.epochs as number);
  const every = S.trajectoryEvery as number;
  const recorded = [...new Set([0, ...Array.from({ length: Math.floor(steps / every) }, (_, k) => (k + 1) * every), steps])];
  assert.equal(pcaPlane.data.length, 2, "contour and trajectory");
  const [contour, path] = pcaPlane.data;
  assert.deepEqual(path.text, recorded.map((s) => `step ${s}`));
  const px = path.x as number[], py = path.y as number[];
  assert.ok(Math.abs(px.at(-1)!) < 1e-6 && Math.abs(py.at(-1)!) < 1e-6, `the path ends at (${px.at(-1)}, ${py.at(-1)})`);
  const gx = contour.x as number[], gy = contour.y as number[];
  for (let k = 0; k < px.length; k++) assert.ok(Math.abs(px[k]) <= gx.at(-1)! && Math.abs(py[k]) <= gy.at(-1)!, `point ${k} lies on the grid`);
  const cz = contour.z as number[][];
  const ci = gx.findIndex((v) => Math.abs(v) < 1e-12), cj = gy.findIndex((v) => Math.abs(v) < 1e-12);
  assert.ok(Math.abs(cz[cj][ci] - at(random1D.data[1], 0)) < 1e-4, "the PCA plane's centre is the FSAM solution");
  assert.match(text(pcaPlane.layout.xaxis && (pcaPlane.layout.xaxis as { title?: { text?: string } }).title?.text), /PCA direction 1 \(\d+\.\d % of variance\)/);
});

test("04-glue-low-resource: finds the data, says what it runs, compares the optimizers", { skip }, () => {
  const cells = checked("04-glue-low-resource");
  const S = settingsOf(cells);
  const hasRte = existsSync(join(ROOT, "..", "shared", "data", "glue", "RTE", "train.tsv"));
  const mode = cells.flatMap((c) => c.outputs ?? []).map((o) => text(o.data?.["text/plain"])).find((t) => /^'(real|random-init|default-task)'$/.test(t));
  const expected = process.env.FSAM_LAB_MODEL ? "real" : hasRte ? "random-init" : "default-task";
  if (!process.env.FSAM_LAB_MODEL && !existsSync(join(process.env.HOME ?? "", ".cache", "fsam-lab", "models"))) {
    assert.equal(mode, `'${expected}'`);
  }
  const md = markdownOutputs(cells).join("\n");
  if (mode === "'random-init'") assert.match(md, /no pretrained checkpoint/);
  if (mode === "'default-task'") assert.match(md, /No .* data/);
  const frames = tables(cells);
  const summary = tableRows(frames.at(-2)!);
  assert.deepEqual(summary.map((r) => r.optimizer), ["adam", "sam", "fsam"]);
  const perSeed = tableRows(frames.at(-1)!);
  assert.equal(perSeed.length, 3 * (S.seeds as number[]).length);
  assert.equal(figures(cells).length, 1);
});
