/**
 * The Fisher-mask atlas: where FSAM's global top-k Fisher mask lands, per variable and per block
 * (embeddings, each layer's attention / FFN / LayerNorms, pooler, classifier): parameter count, kept
 * count, kept fraction, share of the global mask, Fisher min / quartiles / mean / max; log-scale
 * Fisher histograms per block with the global threshold; and the layer × component kept-fraction grid
 * behind the heatmap. Built from a live {@link FisherSAM} or computed directly from any variables and
 * per-sample loss with lib/optim's `computeFisherAsync` and `topKMask`.
 */
import type * as tf from "@tensorflow/tfjs";
import type * as dfd from "danfojs-node";
import { newDataFrame } from "../danfo.ts";
import { computeFisherAsync } from "../optim/fisher.ts";
import { topKMask, kthLargest } from "../optim/topk.ts";
import { blockOf, groupByBlock, LAYER_COMPONENTS } from "./blocks.ts";
import { maskablePredicate, type MaskableRule } from "../optim/maskable.ts";
import { checkPositiveInt } from "../check.ts";

/** The mask state the atlas reads; a `FisherSAM` instance satisfies it. */
export interface FisherMaskState {
  /** Fisher scores per variable name. */
  readonly fisher: Map<string, Float32Array>;
  /** 0/1 mask per variable name. */
  readonly maskData: Map<string, Uint8Array>;
  /** The global threshold (smallest kept score). */
  readonly threshold: number;
  /** The optimizer step, when known. */
  readonly step?: number;
  /** Variables outside the mask (full perturbation at every step), name → size; a `FisherSAM` has it. */
  readonly alwaysPerturbed?: Map<string, number>;
}

/** Computes the Fisher and its mask directly (no optimizer needed). */
export interface FisherAtlasInput {
  /** Variables to score (all trainable). */
  vars: tf.Variable[];
  /** Loss of the i-th sample (or mini-batch), as FisherSAM's `fisherLoss`. */
  fisherLoss: (i: number) => tf.Scalar;
  /** Number of `fisherLoss` calls N averaged (FSAM's N_F). */
  samples: number;
  /** Fraction of parameters NOT kept (FSAM's sparsity s); the mask keeps floor((1 − s)·n). */
  sparsity: number;
  /** Which variables are maskable, as FisherSAM's option. Default `"authors"`. */
  maskable?: MaskableRule;
}

/** Fisher statistics of a set of scores. */
export interface FisherSummary {
  /** Smallest score. */
  fisherMin: number;
  /** First quartile (linear interpolation between order statistics). */
  fisherQ25: number;
  /** Median. */
  fisherMedian: number;
  /** Third quartile. */
  fisherQ75: number;
  /** Largest score. */
  fisherMax: number;
  /** Mean score. */
  fisherMean: number;
}

/** One variable of the atlas. */
export interface VariableAtlasRow extends FisherSummary {
  /** tfjs variable name. */
  name: string;
  /** Block id (blocks.ts). */
  block: string;
  /** Layer index or null. */
  layer: number | null;
  /** Component (heatmap column). */
  component: string;
  /** Number of parameters. */
  size: number;
  /** Parameters in the mask. */
  kept: number;
  /** kept / size. */
  keptFraction: number;
  /** kept / total kept over all variables (sums to 1). */
  maskShare: number;
}

/** One block of the atlas. */
export interface BlockAtlasRow extends FisherSummary {
  /** Block id. */
  block: string;
  /** Block kind. */
  group: string;
  /** Layer index or null. */
  layer: number | null;
  /** Number of parameters. */
  size: number;
  /** Parameters in the mask. */
  kept: number;
  /** kept / size. */
  keptFraction: number;
  /** kept / total kept (sums to 1 over blocks). */
  maskShare: number;
  /** size / total size: the share the block would get from a uniform mask. */
  sizeShare: number;
  /** Parameters of the block outside the mask: always perturbed (0 when every variable is maskable). */
  alwaysPerturbed: number;
  /** (kept + alwaysPerturbed) / (size + alwaysPerturbed): the fraction of the block that is perturbed. */
  perturbedFraction: number;
}

/** A variable outside the mask: it keeps its full perturbation at every step. */
export interface AlwaysPerturbedRow {
  /** tfjs variable name. */
  name: string;
  /** Block id (blocks.ts). */
  block: string;
  /** Layer index or null. */
  layer: number | null;
  /** Number of parameters. */
  size: number;
}

/** A histogram of a block's Fisher scores on log10-spaced bins shared by all blocks. */
export interface BlockHistogram {
  /** Block id. */
  block: string;
  /** Bin edges in Fisher units (bins + 1 values, log-spaced). */
  edges: number[];
  /** Scores per bin. */
  counts: number[];
  /** Scores equal to 0 (not representable on a log axis). */
  zeros: number;
}

/** The kept-fraction grid behind the layer × component heatmap. */
export interface KeptFractionGrid {
  /** Row labels: encoder layer indices. */
  layers: number[];
  /** Column labels: components present in the model (LAYER_COMPONENTS order). */
  components: string[];
  /** z[layer row][component column] = kept / size of that component's variables (NaN if absent). */
  keptFraction: number[][];
  /** Parameter counts per cell (0 if absent). */
  size: number[][];
}

/** The Fisher-mask atlas. */
export interface FisherAtlas {
  /** The global threshold (smallest kept score). */
  threshold: number;
  /** The optimizer step of the mask, when known. */
  step?: number;
  /** Parameters scored (the maskable ones). */
  totalSize: number;
  /** Parameters kept. */
  totalKept: number;
  /** Variables outside the mask, always perturbed (empty when every variable is maskable). */
  alwaysPerturbedRows: AlwaysPerturbedRow[];
  /** Their parameter count. */
  alwaysPerturbedSize: number;
  /** (totalKept + alwaysPerturbedSize) / (totalSize + alwaysPerturbedSize): the perturbed fraction of the model. */
  perturbedFraction: number;
  /** Per-variable rows, in variable order. */
  variableRows: VariableAtlasRow[];
  /** Per-block rows, in model order. */
  blockRows: BlockAtlasRow[];
  /** The per-variable table (DataFrame of `variableRows`). */
  variables: dfd.DataFrame;
  /** The per-block table (DataFrame of `blockRows`). */
  blocks: dfd.DataFrame;
  /** Log-binned Fisher histograms per block. */
  histograms: BlockHistogram[];
  /** The layer × component kept-fraction grid. */
  grid: KeptFractionGrid;
}

/** Options of {@link fisherAtlas}. */
export interface FisherAtlasOptions {
  /** Histogram bins (default 40). */
  bins?: number;
  /** `component` (default) or `layer` block granularity for the block table and histograms. */
  granularity?: "component" | "layer";
}

/** Min, quartiles, max and mean over several arrays together, in O(n) (no sort). */
export function fisherSummary(arrays: Float32Array[]): FisherSummary {
  const n = arrays.reduce((s, a) => s + a.length, 0);
  if (n === 0) return { fisherMin: NaN, fisherQ25: NaN, fisherMedian: NaN, fisherQ75: NaN, fisherMax: NaN, fisherMean: NaN };
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const a of arrays)
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (x < min) min = x;
      if (x > max) max = x;
      sum += x;
    }
  // The r-th smallest (0-based) is the (n − r)-th largest.
  const smallest = (r: number) => kthLargest(arrays, n - r);
  const quantile = (q: number) => {
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    const a = smallest(lo);
    return hi === lo ? a : a + (smallest(hi) - a) * (pos - lo);
  };
  return { fisherMin: min, fisherQ25: quantile(0.25), fisherMedian: quantile(0.5), fisherQ75: quantile(0.75), fisherMax: max, fisherMean: sum / n };
}

function countKept(mask: Uint8Array): number {
  let k = 0;
  for (let i = 0; i < mask.length; i++) k += mask[i];
  return k;
}

/** Reads the mask state from a FisherSAM-like object, or computes Fisher and mask from the input. */
async function maskState(source: FisherMaskState | FisherAtlasInput): Promise<FisherMaskState> {
  if ("maskData" in source) {
    if (source.maskData.size === 0) throw new Error("fisherAtlas: the optimizer has no mask yet; call `await fsam.updateMaskAsync(vars)` or take a step first");
    return source;
  }
  const { vars, fisherLoss, samples, sparsity } = source;
  if (!(sparsity >= 0 && sparsity <= 1)) throw new Error(`fisherAtlas: option sparsity must be in [0, 1], got ${sparsity}`);
  if (typeof fisherLoss !== "function") throw new Error("fisherAtlas: option fisherLoss must be a function (i) => tf.Scalar");
  const maskable = maskablePredicate(source.maskable ?? "authors", "fisherAtlas");
  const fisher = await computeFisherAsync(fisherLoss, vars.filter(maskable), samples);
  const { masks, threshold } = topKMask(fisher, 1 - sparsity);
  const alwaysPerturbed = new Map(vars.filter((v) => !maskable(v)).map((v) => [v.name, v.size]));
  return { fisher, maskData: masks, threshold, alwaysPerturbed };
}

/** Log10-spaced bin edges spanning the positive scores of all arrays. */
function logEdges(arrays: Float32Array[], bins: number): number[] {
  let lo = Infinity;
  let hi = 0;
  for (const a of arrays)
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (x > 0 && x < lo) lo = x;
      if (x > hi) hi = x;
    }
  if (!Number.isFinite(lo)) return [];
  const l0 = Math.log10(lo);
  const l1 = Math.log10(hi) === l0 ? l0 + 1 : Math.log10(hi);
  return Array.from({ length: bins + 1 }, (_, i) => 10 ** (l0 + ((l1 - l0) * i) / bins));
}

/** Histogram of positive scores on the given log edges; zeros (and negatives) counted apart. */
function logHistogram(arrays: Float32Array[], edges: number[]): { counts: number[]; zeros: number } {
  const bins = edges.length - 1;
  const counts = new Array<number>(Math.max(bins, 0)).fill(0);
  let zeros = 0;
  if (bins <= 0) return { counts, zeros: arrays.reduce((s, a) => s + a.length, 0) };
  const l0 = Math.log10(edges[0]);
  const width = (Math.log10(edges[bins]) - l0) / bins;
  for (const a of arrays)
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (!(x > 0)) {
        zeros++;
        continue;
      }
      const b = Math.min(bins - 1, Math.max(0, Math.floor((Math.log10(x) - l0) / width)));
      counts[b]++;
    }
  return { counts, zeros };
}

/** The layer × component kept-fraction grid from per-variable rows. */
export function keptFractionGrid(rows: readonly Pick<VariableAtlasRow, "name" | "size" | "kept">[]): KeptFractionGrid {
  const cells = new Map<string, { size: number; kept: number }>();
  const layers = new Set<number>();
  const present = new Set<string>();
  for (const r of rows) {
    const info = blockOf(r.name);
    if (info.layer === null) continue;
    layers.add(info.layer);
    present.add(info.component);
    const key = `${info.layer}|${info.component}`;
    const c = cells.get(key) ?? { size: 0, kept: 0 };
    c.size += r.size;
    c.kept += r.kept;
    cells.set(key, c);
  }
  const layerList = [...layers].sort((a, b) => a - b);
  const components = [
    ...LAYER_COMPONENTS.filter((c) => present.has(c)),
    ...[...present].filter((c) => !LAYER_COMPONENTS.includes(c)).sort(),
  ];
  const keptFraction = layerList.map((l) => components.map((c) => {
    const cell = cells.get(`${l}|${c}`);
    return cell && cell.size > 0 ? cell.kept / cell.size : NaN;
  }));
  const size = layerList.map((l) => components.map((c) => cells.get(`${l}|${c}`)?.size ?? 0));
  return { layers: layerList, components, keptFraction, size };
}

/**
 * Builds the Fisher-mask atlas from a `FisherSAM` (its current mask and Fisher scores) or from
 * `{vars, fisherLoss, samples, sparsity, maskable}` (Fisher computed here with lib/optim's
 * `computeFisherAsync`, read with `await data()`, so it works on webgpu; the mask with its global `topKMask`). Variables outside the mask (the `maskable`
 * rule; by default names containing `bias` or `embed`) are listed as always perturbed: they appear
 * in the block rows' `alwaysPerturbed` and `perturbedFraction`, not in the Fisher statistics.
 */
export async function fisherAtlas(source: FisherMaskState | FisherAtlasInput, options: FisherAtlasOptions = {}): Promise<FisherAtlas> {
  const bins = options.bins ?? 40;
  checkPositiveInt("fisherAtlas: option bins", bins);
  const state = await maskState(source);
  const names = [...state.maskData.keys()];
  for (const name of names) {
    const f = state.fisher.get(name);
    if (!f) throw new Error(`fisherAtlas: no Fisher scores for masked variable ${name}`);
    if (f.length !== state.maskData.get(name)!.length) throw new Error(`fisherAtlas: ${name} has ${f.length} scores for ${state.maskData.get(name)!.length} mask entries`);
  }
  const kept = new Map(names.map((n) => [n, countKept(state.maskData.get(n)!)]));
  const totalSize = names.reduce((s, n) => s + state.maskData.get(n)!.length, 0);
  const totalKept = names.reduce((s, n) => s + kept.get(n)!, 0);
  const share = (k: number) => (totalKept === 0 ? 0 : k / totalKept);
  const variableRows: VariableAtlasRow[] = names.map((name) => {
    const info = blockOf(name);
    const size = state.maskData.get(name)!.length;
    const k = kept.get(name)!;
    return {
      name,
      block: info.block,
      layer: info.layer,
      component: info.component,
      size,
      kept: k,
      keptFraction: size === 0 ? 0 : k / size,
      maskShare: share(k),
      ...fisherSummary([state.fisher.get(name)!]),
    };
  });
  const unmasked = state.alwaysPerturbed ?? new Map<string, number>();
  const alwaysPerturbedRows: AlwaysPerturbedRow[] = [...unmasked].map(([name, size]) => {
    const info = blockOf(name);
    return { name, block: info.block, layer: info.layer, size };
  });
  const alwaysPerturbedSize = alwaysPerturbedRows.reduce((s, r) => s + r.size, 0);
  const groups = groupByBlock([...names, ...unmasked.keys()], { granularity: options.granularity });
  const allScores = names.map((n) => state.fisher.get(n)!);
  const edges = logEdges(allScores, bins);
  const blockRows: BlockAtlasRow[] = [];
  const histograms: BlockHistogram[] = [];
  for (const [block, all] of groups) {
    const info = blockOf(all[0]);
    const members = all.filter((n) => state.maskData.has(n));
    const always = all.reduce((s, n) => s + (unmasked.get(n) ?? 0), 0);
    const size = members.reduce((s, n) => s + state.maskData.get(n)!.length, 0);
    const k = members.reduce((s, n) => s + kept.get(n)!, 0);
    const scores = members.map((n) => state.fisher.get(n)!);
    blockRows.push({
      block,
      group: /^layer\.\d+$/.test(block) ? "layer" : info.group,
      layer: info.layer,
      size,
      kept: k,
      keptFraction: size === 0 ? 0 : k / size,
      maskShare: share(k),
      sizeShare: totalSize === 0 ? 0 : size / totalSize,
      alwaysPerturbed: always,
      perturbedFraction: size + always === 0 ? 0 : (k + always) / (size + always),
      ...fisherSummary(scores),
    });
    if (members.length > 0) histograms.push({ block, edges, ...logHistogram(scores, edges) });
  }
  const atlas: FisherAtlas = {
    threshold: state.threshold,
    totalSize,
    totalKept,
    alwaysPerturbedRows,
    alwaysPerturbedSize,
    perturbedFraction: totalSize + alwaysPerturbedSize === 0 ? 0 : (totalKept + alwaysPerturbedSize) / (totalSize + alwaysPerturbedSize),
    variableRows,
    blockRows,
    variables: toFrame(variableRows),
    blocks: toFrame(blockRows),
    histograms,
    grid: keptFractionGrid(variableRows),
  };
  if (state.step !== undefined) atlas.step = state.step;
  return atlas;
}

/** A DataFrame from plain rows (danfojs wants the rows as records). */
function toFrame(rows: object[]): dfd.DataFrame {
  return newDataFrame(rows as Record<string, unknown>[]);
}
