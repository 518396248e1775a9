/**
 * Figures of the Fisher-mask atlas: the layer × component kept-fraction heatmap, stacked bars of each
 * layer's share of the global mask, log-scale Fisher histograms per block with the global threshold,
 * mask-churn curves and the mask-criterion overlap chart.
 */
import type { FisherAtlas, KeptFractionGrid } from "../inspect/fisher-atlas.ts";
import type { ChurnRow } from "../inspect/churn.ts";
import type { OverlapRow } from "../inspect/criteria.ts";
import { blockOf, blockOrder } from "../inspect/blocks.ts";
import { axis, colorAt, title } from "./style.ts";
import { type Figure } from "./figure.ts";

/** Layer × component heatmap of the kept fraction (%), one cell per component of each encoder layer. */
export function keptFractionHeatmap(source: FisherAtlas | KeptFractionGrid, options: { title?: string } = {}): Figure {
  const grid = "grid" in source ? source.grid : source;
  const z = grid.keptFraction.map((row) => row.map((x) => (Number.isNaN(x) ? null : 100 * x)));
  const text = grid.keptFraction.map((row, i) =>
    row.map((x, j) => (Number.isNaN(x) ? "" : `${(100 * x).toFixed(1)}% of ${grid.size[i][j].toLocaleString("en-US")}`)),
  );
  return {
    data: [
      {
        type: "heatmap",
        x: grid.components,
        y: grid.layers.map((l) => `layer ${l}`),
        z,
        text,
        zmin: 0,
        zmax: 100,
        colorscale: "Viridis",
        colorbar: { title: { text: "kept (%)" } },
        hovertemplate: "%{y}, %{x}: %{text}<extra></extra>",
      },
    ],
    layout: {
      title: title(options.title ?? "Fisher mask: kept fraction per layer and component"),
      xaxis: axis("component"),
      yaxis: axis("encoder layer", { autorange: "reversed" }),
    },
  };
}

const GROUP_ORDER = ["embeddings", "attention", "ffn", "layernorm", "pooler", "classifier", "other"];

/**
 * Stacked bars: for each layer-level position (embeddings, layer 0 … L−1, pooler, classifier) the share
 * of the perturbed parameters (%) held by its attention, FFN and LayerNorm parts of the Fisher mask,
 * and — hatched grey, "always perturbed" — by its variables outside the mask (not maskable, full
 * perturbation at every step); markers show each position's share of all parameters (what a uniform
 * random mask would give). When every variable is maskable, the bars are the shares of the mask.
 */
export function maskShareBars(atlas: FisherAtlas, options: { title?: string } = {}): Figure {
  const position = (name: string) => {
    const info = blockOf(name);
    return info.layer === null ? info.block : `layer ${info.layer}`;
  };
  const names = [...atlas.variableRows.map((r) => r.name), ...atlas.alwaysPerturbedRows.map((r) => r.name)];
  const positions = [...new Set(names.map(position))].sort(
    (a, b) => blockOrder(a.startsWith("layer ") ? `layer.${a.slice(6)}.attention` : a) - blockOrder(b.startsWith("layer ") ? `layer.${b.slice(6)}.attention` : b),
  );
  const perturbed = Math.max(1, atlas.totalKept + atlas.alwaysPerturbedSize);
  const share = new Map<string, number>();
  const size = new Map<string, number>();
  const always = new Map<string, number>();
  for (const r of atlas.variableRows) {
    const key = `${position(r.name)}|${blockOf(r.name).group}`;
    share.set(key, (share.get(key) ?? 0) + r.kept / perturbed);
    size.set(position(r.name), (size.get(position(r.name)) ?? 0) + r.size);
  }
  for (const r of atlas.alwaysPerturbedRows) {
    always.set(position(r.name), (always.get(position(r.name)) ?? 0) + r.size / perturbed);
    size.set(position(r.name), (size.get(position(r.name)) ?? 0) + r.size);
  }
  const groups = GROUP_ORDER.filter((g) => positions.some((p) => share.has(`${p}|${g}`)));
  const data: Record<string, unknown>[] = groups.map((g) => ({
    type: "bar",
    name: g,
    x: positions,
    y: positions.map((p) => 100 * (share.get(`${p}|${g}`) ?? 0)),
    marker: { color: colorAt(GROUP_ORDER.indexOf(g)) },
    hovertemplate: `%{x} ${g}: %{y:.2f}% of the perturbed parameters<extra></extra>`,
  }));
  if (always.size > 0) {
    data.push({
      type: "bar",
      name: "always perturbed (not maskable)",
      x: positions,
      y: positions.map((p) => 100 * (always.get(p) ?? 0)),
      marker: { color: "lightgrey", pattern: { shape: "/" } },
      hovertemplate: "%{x}: %{y:.2f}% of the perturbed parameters, outside the mask<extra></extra>",
    });
  }
  const allSize = Math.max(1, atlas.totalSize + atlas.alwaysPerturbedSize);
  data.push({
    type: "scatter",
    mode: "markers",
    name: "share of parameters",
    x: positions,
    y: positions.map((p) => (100 * (size.get(p) ?? 0)) / allSize),
    marker: { color: "black", symbol: "line-ew-open", size: 18 },
    hovertemplate: "%{x}: %{y:.2f}% of parameters<extra></extra>",
  });
  const kept = `${atlas.totalKept.toLocaleString("en-US")} of ${atlas.totalSize.toLocaleString("en-US")} maskable parameters kept`;
  const outside = atlas.alwaysPerturbedSize > 0 ? ` + ${atlas.alwaysPerturbedSize.toLocaleString("en-US")} always perturbed` : "";
  return {
    data,
    layout: {
      title: title(options.title ?? `Where the perturbation goes per layer (${kept}${outside})`),
      barmode: "stack",
      xaxis: axis("block"),
      yaxis: axis("share of the perturbed parameters (%)", { rangemode: "tozero" }),
    },
  };
}

/**
 * Fisher-score histograms (log-spaced bins, log x axis) per block, with the global top-k threshold as
 * a vertical line. `blocks` picks which blocks to draw (default all).
 */
export function fisherHistograms(atlas: FisherAtlas, options: { blocks?: string[]; title?: string; normalize?: boolean } = {}): Figure {
  const hists = options.blocks ? atlas.histograms.filter((h) => options.blocks!.includes(h.block)) : atlas.histograms;
  if (options.blocks && hists.length === 0) throw new Error(`fisherHistograms: none of the blocks ${options.blocks.join(", ")} is in the atlas`);
  const normalize = options.normalize ?? true;
  const data = hists.map((h, i) => {
    const total = h.counts.reduce((a, b) => a + b, 0) + h.zeros;
    const centers = h.counts.map((_, b) => Math.sqrt(h.edges[b] * h.edges[b + 1]));
    return {
      type: "scatter",
      mode: "lines",
      line: { shape: "hvh", color: colorAt(i) },
      name: h.zeros > 0 ? `${h.block} (+${h.zeros} at F = 0)` : h.block,
      x: centers,
      y: h.counts.map((c) => (normalize ? (100 * c) / Math.max(1, total) : c)),
      hovertemplate: `${h.block}: F≈%{x:.3g}: %{y}<extra></extra>`,
    };
  });
  const layout: Record<string, unknown> = {
    title: title(options.title ?? "Fisher information per block (global top-k threshold dashed)"),
    xaxis: axis("Fisher information (squared gradient, log scale)", { type: "log" }),
    yaxis: axis(normalize ? "parameters in bin (% of block)" : "parameters in bin"),
  };
  if (Number.isFinite(atlas.threshold) && atlas.threshold > 0) {
    layout.shapes = [{ type: "line", xref: "x", yref: "paper", x0: atlas.threshold, x1: atlas.threshold, y0: 0, y1: 1, line: { dash: "dash", color: "black" } }];
    layout.annotations = [{ x: Math.log10(atlas.threshold), xref: "x", yref: "paper", y: 1, yanchor: "bottom", text: `threshold ${atlas.threshold.toExponential(2)}`, showarrow: false }];
  } else {
    const why = atlas.threshold === 0 ? "threshold 0: every nonzero score is kept (plus some zeros)" : "no parameter kept";
    layout.annotations = [{ xref: "paper", yref: "paper", x: 1, y: 1, xanchor: "right", yanchor: "bottom", text: why, showarrow: false }];
  }
  return { data, layout };
}

/** Mask churn over training: Jaccard overlap of consecutive masks per refresh, global and per block. */
export function churnCurves(rows: readonly ChurnRow[], options: { blocks?: string[]; title?: string } = {}): Figure {
  const blocks = [...new Set(rows.map((r) => r.block))].filter((b) => !options.blocks || b === "global" || options.blocks.includes(b));
  const data = blocks.map((b, i) => {
    const mine = rows.filter((r) => r.block === b);
    return {
      type: "scatter",
      mode: "lines+markers",
      name: b,
      x: mine.map((r) => r.step),
      y: mine.map((r) => r.jaccard),
      line: b === "global" ? { color: "black", width: 3 } : { color: colorAt(i) },
      hovertemplate: `${b} step %{x}: Jaccard %{y:.3f}<extra></extra>`,
    };
  });
  return {
    data,
    layout: {
      title: title(options.title ?? "Fisher mask churn: overlap with the previous mask"),
      xaxis: axis("training step"),
      yaxis: axis("Jaccard overlap |A∩B| / |A∪B|", { range: [0, 1.02] }),
    },
  };
}

/** Grouped bars: per block, the fraction of the Fisher mask each other criterion also keeps. */
export function criteriaOverlapBars(rows: readonly OverlapRow[], options: { title?: string } = {}): Figure {
  const criteria = [...new Set(rows.map((r) => r.criterion))];
  const blocks = [...new Set(rows.map((r) => r.block))];
  return {
    data: criteria.map((c, i) => ({
      type: "bar",
      name: c,
      x: blocks,
      y: blocks.map((b) => {
        const r = rows.find((x) => x.criterion === c && x.block === b);
        return r && !Number.isNaN(r.overlap) ? 100 * r.overlap : null;
      }),
      marker: { color: colorAt(i) },
      hovertemplate: `${c}, %{x}: %{y:.1f}% of the Fisher mask<extra></extra>`,
    })),
    layout: {
      title: title(options.title ?? "Agreement of mask criteria with the Fisher mask (same sparsity)"),
      barmode: "group",
      xaxis: axis("block"),
      yaxis: axis("Fisher-kept parameters also kept (%)", { range: [0, 100] }),
    },
  };
}
