import test from "node:test";
import assert from "node:assert/strict";
import { historyCsv, historyColumns, evaluationRows, type HistoryRow } from "../../lib/train/history.ts";
import { historyFrame } from "../../lib/train/history-frame.ts";
import {
  TrainingProgress,
  renderProgressLine,
  renderProgressHtml,
  lossCurveSvg,
  formatDuration,
  rateAndEta,
  type ProgressState,
} from "../../lib/train/progress.ts";
import { setHost, type MimeBundle } from "../../lib/host.ts";

function row(step: number, metric = Number.NaN, maskRefresh = false): HistoryRow {
  return { step, epoch: step / 4, loss: 1 / step, lr: 1e-3, metric, devLoss: Number.isNaN(metric) ? NaN : 0.5, time: step * 0.1, maskRefresh };
}

test("history rows become a DataFrame with one column per field, in order", () => {
  const rows = [row(1, NaN, true), row(2), row(3, 0.75)];
  const df = historyFrame(rows);
  assert.deepEqual(df.columns, [...historyColumns]);
  assert.deepEqual(df.shape, [3, historyColumns.length]);
  assert.deepEqual(df["step"].values, [1, 2, 3]);
  assert.deepEqual(df["maskRefresh"].values, [true, false, false]);
  assert.equal(df["metric"].values[2], 0.75);
  assert.deepEqual(historyFrame([]).shape, [0, historyColumns.length]);
  assert.deepEqual(evaluationRows(rows).map((r) => r.step), [3]);
});

test("history CSV: extra columns first, NaN as empty cells, one line per row", () => {
  const csv = historyCsv([
    { extra: { optimizer: "fsam", seed: 1 }, rows: [row(1), row(2, 0.5)] },
    { extra: { optimizer: "adam", seed: 2 }, rows: [row(1)] },
  ]);
  const lines = csv.trimEnd().split("\n");
  assert.equal(lines.length, 4);
  assert.equal(lines[0], `optimizer,seed,${historyColumns.join(",")}`);
  assert.equal(lines[1], "fsam,1,1,0.25,1,0.001,,,0.1,false");
  assert.equal(lines[2], "fsam,1,2,0.5,0.5,0.001,0.5,0.5,0.2,false");
  assert.ok(lines[3].startsWith("adam,2,1,"));
});

function state(step: number, extra: Partial<ProgressState> = {}): ProgressState {
  return {
    title: "fsam · seed 1", step, totalSteps: 100, epoch: step / 50, epochs: 2, loss: 0.6931, lr: 2e-5,
    metricName: "accuracy", metric: 0.625, bestMetric: 0.7, elapsed: step / 4, losses: [1, 0.9, 0.8, 0.7], status: "running", ...extra,
  };
}

test("rate and ETA follow from steps and elapsed time", () => {
  const { stepsPerSecond, eta } = rateAndEta({ step: 40, totalSteps: 100, elapsed: 10 });
  assert.equal(stepsPerSecond, 4);
  assert.equal(eta, 15);
  assert.equal(formatDuration(15), "15s");
  assert.equal(formatDuration(125), "2m05s");
  assert.equal(formatDuration(3720), "1h02m");
});

test("terminal line shows bar, step/total, epoch, rate, loss, metric and ETA", () => {
  const line = renderProgressLine(state(40));
  assert.match(line, /\[########\.{12}\] 40\/100 ep 0\.80 4\.00 it\/s loss 0\.6931 accuracy 0\.6250 ETA 15s/);
  assert.ok(renderProgressLine(state(40), 30).length <= 30);
  assert.match(renderProgressLine(state(100, { status: "interrupted" }), 200), /interrupted 25s$/);
});

test("HTML view has a progress element, the numbers and an SVG curve of the losses", () => {
  const html = renderProgressHtml(state(40));
  assert.match(html, /<progress value="40" max="100"/);
  assert.match(html, /step 40\/100 · epoch 0\.80\/2/);
  assert.match(html, /loss 0\.6931/);
  assert.match(html, /accuracy 0\.6250 \(best 0\.7000\)/);
  assert.match(html, /ETA 15s/);
  const svg = lossCurveSvg([4, 3, 2, 1], 100, 40);
  const points = /points="([^"]+)"/.exec(svg)![1].split(" ");
  assert.equal(points.length, 4);
  // First (largest) loss is at the top (y = pad), last (smallest) at the bottom (y = height - pad).
  assert.equal(points[0], "3.0,3.0");
  assert.equal(points[3], "97.0,37.0");
  assert.equal(lossCurveSvg([1]), "");
  // 1000 losses are averaged down to at most `width` points.
  const many = /points="([^"]+)"/.exec(lossCurveSvg(Array.from({ length: 1000 }, (_, i) => i), 50, 20))![1];
  assert.equal(many.split(" ").length, 50);
});

test("in a notebook, one display is created and then updated in place", () => {
  const shown: { bundle: MimeBundle; id?: string }[] = [];
  const updated: { bundle: MimeBundle; id: string }[] = [];
  setHost({
    display: (bundle, options) => shown.push({ bundle, id: options?.displayId }),
    updateDisplay: (bundle, id) => updated.push({ bundle, id }),
  });
  try {
    const p = new TrainingProgress({ intervalMs: 0 });
    p.update(state(1));
    p.update(state(2));
    p.finish(state(3, { status: "done" }));
    assert.equal(shown.length, 1);
    assert.ok(shown[0].id);
    assert.equal(updated.length, 2);
    assert.ok(updated.every((u) => u.id === shown[0].id));
    assert.match(String(updated[1].bundle["text/html"]), /done in/);
    assert.match(String(updated[1].bundle["text/plain"]), /3\/100/);
  } finally {
    setHost(undefined);
  }
});

test("on a non-terminal stream, a line is printed every 5 % of the run and at the end", () => {
  const out: string[] = [];
  const p = new TrainingProgress({ mode: "terminal", stream: { write: (s: string) => out.push(s), isTTY: false } });
  for (let s = 1; s <= 100; s++) p.update(state(s));
  p.finish(state(100, { status: "done" }));
  // step 1 (the start), steps 5, 10, …, 100, and the final line.
  assert.equal(out.length, 22);
  assert.match(out[0], / 1\/100 /);
  assert.match(out[1], / 5\/100 /);
  assert.match(out[21], /done/);
  const tty: string[] = [];
  const q = new TrainingProgress({ mode: "terminal", intervalMs: 0, stream: { write: (s: string) => tty.push(s), isTTY: true } });
  q.update(state(1));
  q.finish(state(2, { status: "done" }));
  assert.ok(tty[0].startsWith("\r"));
  assert.equal(tty[tty.length - 1], "\n");
});
