/**
 * Figures of loss landscapes: 1-D curves (several models or directions overlaid), 2-D contour maps and
 * 3-D surfaces, each optionally with a training trajectory projected onto the plane
 * (lib/inspect/landscape.ts `projectTrajectory`).
 */
import type { Landscape1D, Landscape2D } from "../inspect/landscape.ts";
import { axis, colorAt, title } from "./style.ts";
import { type Figure, type PlotTrace } from "./figure.ts";

/** Which grid to draw. */
export type LandscapeMetric = "loss" | "accuracy";

/** A projected trajectory: plane coordinates per snapshot, and optional labels (e.g. step numbers). */
export interface TrajectoryPath {
  /** α coordinates. */
  x: number[];
  /** β coordinates. */
  y: number[];
  /** Hover labels, e.g. `step 100`. */
  labels?: string[];
  /** Legend name (default "trajectory"). */
  name?: string;
}

const nullable = (values: readonly number[]) => values.map((v) => (Number.isFinite(v) ? v : null));

function metricGrid(l: Landscape2D, metric: LandscapeMetric): number[][] {
  if (metric === "accuracy") {
    if (!l.accuracy) throw new Error("the landscape has no accuracy grid: its evaluator returned no accuracy");
    return l.accuracy;
  }
  return l.loss;
}

const metricTitle = (metric: LandscapeMetric) => (metric === "loss" ? "eval loss (mean per example)" : "eval accuracy (fraction)");

/**
 * 1-D landscape curves, overlaid: pass several results (e.g. Adam, SAM and FSAM models along the same
 * saved direction), each with a legend name.
 */
export function landscape1DFigure(
  curves: Landscape1D | readonly { name: string; result: Landscape1D }[],
  options: { metric?: LandscapeMetric; title?: string; xTitle?: string } = {},
): Figure {
  const list = Array.isArray(curves) ? curves : [{ name: (curves as Landscape1D).label, result: curves as Landscape1D }];
  const metric = options.metric ?? "loss";
  const data = list.map(({ name, result }, i) => {
    const y = metric === "loss" ? result.loss : result.accuracy;
    if (!y) throw new Error(`landscape1DFigure: curve ${name} has no accuracy`);
    return { type: "scatter", mode: "lines", name, x: result.coordinates, y: nullable(y), line: { color: colorAt(i) } };
  });
  const labels = [...new Set(list.map((c) => c.result.label))];
  return {
    data,
    layout: {
      title: title(options.title ?? `1-D ${metric} landscape`),
      xaxis: axis(options.xTitle ?? (labels.length === 1 ? `α along ${labels[0]}` : "α (step along the direction)")),
      yaxis: axis(metricTitle(metric)),
    },
  };
}

/** Trajectory traces: a 2-D path (for contour plots), start and end marked. */
function trajectoryTrace2D(t: TrajectoryPath): PlotTrace {
  return {
    type: "scatter",
    mode: "lines+markers",
    name: t.name ?? "trajectory",
    x: t.x,
    y: t.y,
    text: t.labels,
    line: { color: "white", width: 2 },
    marker: { color: t.x.map((_, i) => i), colorscale: "Reds", size: 7, line: { color: "black", width: 1 } },
    hovertemplate: "%{text} (α=%{x:.3f}, β=%{y:.3f})<extra></extra>",
  };
}

/** Bilinear interpolation of a grid z[y][x] at (px, py), clamped to the grid. */
function bilinear(xs: readonly number[], ys: readonly number[], z: readonly number[][], px: number, py: number): number {
  const locate = (g: readonly number[], p: number) => {
    if (g.length === 1) return { i: 0, t: 0 };
    const q = Math.min(Math.max(p, g[0]), g[g.length - 1]);
    let i = 0;
    while (i < g.length - 2 && g[i + 1] < q) i++;
    return { i, t: (q - g[i]) / (g[i + 1] - g[i]) };
  };
  const a = locate(xs, px);
  const b = locate(ys, py);
  const at = (j: number, i: number) => z[Math.min(j, ys.length - 1)][Math.min(i, xs.length - 1)];
  const top = at(b.i, a.i) * (1 - a.t) + at(b.i, a.i + 1) * a.t;
  const bottom = at(b.i + 1, a.i) * (1 - a.t) + at(b.i + 1, a.i + 1) * a.t;
  return top * (1 - b.t) + bottom * b.t;
}

/** 2-D contour map of the landscape, with the projected trajectory on top when given. */
export function landscapeContour(
  landscape: Landscape2D,
  options: { metric?: LandscapeMetric; trajectory?: TrajectoryPath; title?: string; logScale?: boolean } = {},
): Figure {
  const metric = options.metric ?? "loss";
  const z = metricGrid(landscape, metric);
  const log = options.logScale ?? false;
  const data: PlotTrace[] = [
    {
      type: "contour",
      x: landscape.x,
      y: landscape.y,
      z: z.map((row) => nullable(row.map((v) => (log ? Math.log10(v) : v)))),
      colorscale: metric === "loss" ? "Viridis" : "RdBu",
      contours: { coloring: "heatmap", showlabels: true },
      colorbar: { title: { text: log ? `log10 ${metric}` : metric } },
      name: metric,
      hovertemplate: `α=%{x:.3f}, β=%{y:.3f}: ${log ? "log10 " : ""}${metric} %{z:.4g}<extra></extra>`,
    },
  ];
  if (options.trajectory) data.push(trajectoryTrace2D(options.trajectory));
  return {
    data,
    layout: {
      title: title(options.title ?? `2-D ${metric} landscape`),
      xaxis: axis(`α along ${landscape.xLabel}`),
      yaxis: axis(`β along ${landscape.yLabel}`, { scaleanchor: "x" }),
    },
  };
}

/** 3-D surface of the landscape; a trajectory is drawn on the surface (heights interpolated from the grid). */
export function landscapeSurface(
  landscape: Landscape2D,
  options: { metric?: LandscapeMetric; trajectory?: TrajectoryPath; title?: string } = {},
): Figure {
  const metric = options.metric ?? "loss";
  const z = metricGrid(landscape, metric);
  const data: PlotTrace[] = [
    {
      type: "surface",
      x: landscape.x,
      y: landscape.y,
      z: z.map(nullable),
      colorscale: metric === "loss" ? "Viridis" : "RdBu",
      colorbar: { title: { text: metric } },
      name: metric,
      contours: { z: { show: true, usecolormap: true, project: { z: true } } },
    },
  ];
  const t = options.trajectory;
  if (t) {
    data.push({
      type: "scatter3d",
      mode: "lines+markers",
      name: t.name ?? "trajectory",
      x: t.x,
      y: t.y,
      z: t.x.map((px, i) => bilinear(landscape.x, landscape.y, z, px, t.y[i])),
      text: t.labels,
      line: { color: "red", width: 5 },
      marker: { size: 3, color: "red" },
    });
  }
  return {
    data,
    layout: {
      title: title(options.title ?? `${metric} surface`),
      scene: {
        xaxis: axis(`α along ${landscape.xLabel}`),
        yaxis: axis(`β along ${landscape.yLabel}`),
        zaxis: axis(metricTitle(metric)),
      },
    },
  };
}
