/**
 * Training-curve figures: a per-step quantity (loss, metric, dev loss, learning rate …) of several
 * runs overlaid, and for groups of runs (e.g. one optimizer over several seeds) the mean with a
 * ± one-standard-deviation band.
 */
import { axis, colorAt, title, withAlpha } from "./style.ts";
import { type Figure, type PlotTrace } from "./figure.ts";

/** One training run: its rows (e.g. lib/train's history rows) and how to label and group it. */
export interface TrainingRun {
  /** Legend name of the run, e.g. `FSAM seed 1`. */
  name: string;
  /** Runs with the same group (e.g. `FSAM`) are summarised by mean ± std when `band` is on. */
  group?: string;
  /** Rows with a `step` and the plotted field; NaN values (e.g. steps without evaluation) are skipped. */
  rows: readonly Record<string, unknown>[];
}

/** Options of {@link trainingCurves}. */
export interface TrainingCurveOptions {
  /** The row field to plot (default `loss`). */
  y?: string;
  /** The row field on the x axis (default `step`). */
  x?: string;
  /** Axis title of y (default: the field name). */
  yTitle?: string;
  /** Axis title of x (default "optimisation step"). */
  xTitle?: string;
  /** Figure title. */
  title?: string;
  /**
   * Mean ± std band per group (default: on when some group has several runs). Individual runs are then
   * drawn thin, unless `showRuns` is false.
   */
  band?: boolean;
  /** Draw the individual runs too (default true). */
  showRuns?: boolean;
  /** Log-scale y axis. */
  logY?: boolean;
}

function points(run: TrainingRun, xKey: string, yKey: string): { x: number[]; y: number[] } {
  const x: number[] = [];
  const y: number[] = [];
  for (const r of run.rows) {
    const xv = r[xKey];
    const yv = r[yKey];
    if (typeof xv === "number" && typeof yv === "number" && Number.isFinite(xv) && Number.isFinite(yv)) {
      x.push(xv);
      y.push(yv);
    }
  }
  return { x, y };
}

/**
 * Mean and sample standard deviation over runs at every x value present in all of them, in
 * increasing x order.
 */
export function meanStd(series: readonly { x: number[]; y: number[] }[]): { x: number[]; mean: number[]; std: number[] } {
  if (series.length === 0) return { x: [], mean: [], std: [] };
  const maps = series.map((s) => new Map(s.x.map((x, i) => [x, s.y[i]])));
  const xs = [...maps[0].keys()].filter((x) => maps.every((m) => m.has(x))).sort((a, b) => a - b);
  const mean: number[] = [];
  const std: number[] = [];
  for (const x of xs) {
    const vals = maps.map((m) => m.get(x)!);
    const mu = vals.reduce((a, b) => a + b, 0) / vals.length;
    mean.push(mu);
    std.push(vals.length > 1 ? Math.sqrt(vals.reduce((a, b) => a + (b - mu) ** 2, 0) / (vals.length - 1)) : 0);
  }
  return { x: xs, mean, std };
}

/** Training curves of several runs, with mean ± std bands over the runs of each group. */
export function trainingCurves(runs: readonly TrainingRun[], options: TrainingCurveOptions = {}): Figure {
  if (runs.length === 0) throw new Error("trainingCurves: runs is empty");
  const yKey = options.y ?? "loss";
  const xKey = options.x ?? "step";
  const groups = new Map<string, TrainingRun[]>();
  for (const r of runs) {
    const g = r.group ?? r.name;
    groups.set(g, [...(groups.get(g) ?? []), r]);
  }
  const band = options.band ?? [...groups.values()].some((g) => g.length > 1);
  const showRuns = options.showRuns ?? true;
  const data: PlotTrace[] = [];
  [...groups.entries()].forEach(([group, members], gi) => {
    const color = colorAt(gi);
    const series = members.map((m) => points(m, xKey, yKey));
    if (showRuns || !band) {
      members.forEach((m, i) =>
        data.push({
          type: "scatter",
          mode: "lines",
          name: m.name,
          legendgroup: group,
          x: series[i].x,
          y: series[i].y,
          line: { color, width: band ? 1 : 2 },
          opacity: band ? 0.35 : 1,
          showlegend: !band,
        }),
      );
    }
    if (band) {
      const s = meanStd(series);
      data.push(
        { type: "scatter", mode: "lines", x: s.x, y: s.mean.map((m, i) => m + s.std[i]), line: { width: 0 }, legendgroup: group, showlegend: false, hoverinfo: "skip" },
        {
          type: "scatter",
          mode: "lines",
          x: s.x,
          y: s.mean.map((m, i) => m - s.std[i]),
          line: { width: 0 },
          fill: "tonexty",
          fillcolor: withAlpha(color, 0.2),
          legendgroup: group,
          showlegend: false,
          hoverinfo: "skip",
        },
        { type: "scatter", mode: "lines", name: `${group} (mean ± std, ${members.length} runs)`, legendgroup: group, x: s.x, y: s.mean, line: { color, width: 2.5 } },
      );
    }
  });
  return {
    data,
    layout: {
      title: title(options.title ?? `Training ${yKey}`),
      xaxis: axis(options.xTitle ?? (xKey === "step" ? "optimisation step" : xKey)),
      yaxis: axis(options.yTitle ?? yKey, options.logY ? { type: "log" } : {}),
    },
  };
}
